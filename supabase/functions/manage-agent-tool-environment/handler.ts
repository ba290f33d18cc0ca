/**
 * The edge function's request handling, apart from `Deno.serve` so it can be reasoned
 * about alone. One agent per request, named by `agentId` (JSON body or query):
 *
 * - `POST` deploys the agent's tool environment (`action: "teardown"` or `"status"` in the
 *   body does the other two, for clients that can only POST);
 * - `DELETE` tears it down; `GET` reads it.
 *
 * It verifies the caller's token, checks that the caller owns the agent by asking berth's
 * public API with the caller's own token (so ownership is decided by berth's row-level
 * security, and the function needs no database credentials), then calls berth's internal
 * API with the user's id and passes berth's answer through: status, body and the headers
 * a client acts on. Errors are RFC 9457 problem+json, like berth's own.
 */
import { bearerToken, TokenRejected, type Verify } from './auth.ts';

export interface EdgeConfig {
  /** berth's public API, for the ownership check. */
  berthUrl: string;
  /** berth's internal API. */
  internalUrl: string;
  internalSecret: string;
  /** Origins allowed to call from a browser; `*` by default, as bearer tokens are not ambient. */
  allowedOrigin: string;
  verify: Verify;
  fetch?: typeof fetch;
}

type Action = 'deploy' | 'teardown' | 'status';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PASSED_HEADERS = ['content-type', 'retry-after', 'cache-control'];

export function createHandler(config: EdgeConfig): (request: Request) => Promise<Response> {
  const send = config.fetch ?? fetch;
  const cors = {
    'access-control-allow-origin': config.allowedOrigin,
    'access-control-allow-headers': 'authorization, x-client-info, apikey, content-type, x-request-id',
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    'access-control-expose-headers': 'x-request-id, retry-after',
  };
  const problem = (requestId: string, status: number, kind: string, title: string, detail: string) =>
    new Response(
      JSON.stringify({
        type: `https://berth.dev/problems/${kind}`,
        title,
        status,
        detail,
        request_id: requestId,
        code: kind.replaceAll('-', '_'),
      }),
      { status, headers: { ...cors, 'content-type': 'application/problem+json', 'x-request-id': requestId } },
    );
  const passThrough = async (requestId: string, res: Response) => {
    const headers: Record<string, string> = { ...cors, 'x-request-id': requestId };
    for (const name of PASSED_HEADERS) {
      const value = res.headers.get(name);
      if (value) headers[name] = value;
    }
    return new Response(res.status === 204 ? null : await res.text(), { status: res.status, headers });
  };

  return async (request) => {
    const requestId = validRequestId(request.headers.get('x-request-id')) ?? crypto.randomUUID();
    if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: cors });
    const token = bearerToken(request.headers.get('authorization'));
    if (!token)
      return problem(requestId, 401, 'unauthorized', 'Authentication required', 'Send your access token.');
    let userId: string;
    try {
      ({ userId } = await config.verify(token));
    } catch (error) {
      if (error instanceof TokenRejected) {
        return problem(requestId, 401, 'unauthorized', 'Authentication required', error.message);
      }
      return problem(
        requestId,
        503,
        'unavailable',
        'Temporarily unavailable',
        'The signing keys could not be fetched.',
      );
    }
    const parsed = await readRequest(request);
    if (typeof parsed === 'string')
      return problem(requestId, 400, 'invalid-input', 'The request is not valid', parsed);
    const { agentId, action } = parsed;

    try {
      // Ownership: berth answers 404 for an agent that is not the caller's.
      const owned = await send(`${config.berthUrl}/api/agents/${agentId}`, {
        headers: { authorization: `Bearer ${token}`, 'x-request-id': requestId },
      });
      if (owned.status !== 200) return passThrough(requestId, owned);
      await owned.body?.cancel();

      const base = `${config.internalUrl}/internal/agents/${agentId}`;
      const headers = {
        'x-internal-api-secret': config.internalSecret,
        'x-request-id': requestId,
        'content-type': 'application/json',
      };
      const body = JSON.stringify({ userId });
      const res =
        action === 'deploy'
          ? await send(`${base}/ensure-tool-environment`, { method: 'POST', headers, body })
          : action === 'teardown'
            ? await send(`${base}/tool-environment`, { method: 'DELETE', headers, body })
            : await send(`${base}/tool-environment?userId=${userId}`, { headers });
      // A refused secret is this function's misconfiguration, not the caller's token.
      if (res.status === 401) {
        await res.body?.cancel();
        return problem(
          requestId,
          502,
          'upstream-error',
          'Bad gateway',
          'berth refused the edge function’s secret.',
        );
      }
      return passThrough(requestId, res);
    } catch {
      return problem(requestId, 502, 'upstream-error', 'Bad gateway', 'berth could not be reached.');
    }
  };
}

async function readRequest(request: Request): Promise<{ agentId: string; action: Action } | string> {
  const url = new URL(request.url);
  let body: Record<string, unknown> = {};
  if (request.method === 'POST' || request.method === 'DELETE') {
    const text = await request.text();
    if (text.trim()) {
      try {
        const value = JSON.parse(text);
        if (value && typeof value === 'object' && !Array.isArray(value)) body = value;
        else return 'The body must be a JSON object.';
      } catch {
        return 'The body is not valid JSON.';
      }
    }
  } else if (request.method !== 'GET') {
    return `${request.method} is not supported: use POST, DELETE or GET.`;
  }
  const agentId = body.agentId ?? url.searchParams.get('agentId');
  if (typeof agentId !== 'string' || !UUID.test(agentId)) return 'agentId: an agent id (a UUID) is required.';
  const byMethod: Record<string, Action> = { POST: 'deploy', DELETE: 'teardown', GET: 'status' };
  const action = (request.method === 'POST' ? (body.action ?? 'deploy') : byMethod[request.method]) as Action;
  if (!['deploy', 'teardown', 'status'].includes(action)) return 'action: one of deploy, teardown, status.';
  return { agentId: agentId.toLowerCase(), action };
}

function validRequestId(value: string | null): string | null {
  return value && /^[\w\-=]{1,128}$/.test(value) ? value : null;
}
