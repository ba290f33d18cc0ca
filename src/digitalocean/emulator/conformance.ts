/**
 * Optional conformance checking: when the emulator is given a spec validator, every
 * `/v2` request it receives and every answer it sends is checked against DigitalOcean's
 * OpenAPI description, and each departure is recorded. Tests assert the record is
 * empty, which catches a client sending a malformed request and the emulator drifting
 * from the real API alike. Nothing is refused on account of it: the emulator answers
 * the way DigitalOcean would, and the record says what was wrong.
 */
import type { MiddlewareHandler } from 'hono';
import type { SpecError, SpecValidator } from '../spec/validator.ts';
import type { EmulatorEnv } from './http.ts';

export interface ConformanceViolation {
  /** Whether the client's request or the emulator's answer departed from the description. */
  phase: 'request' | 'response';
  method: string;
  path: string;
  status?: number;
  requestId: string | undefined;
  errors: SpecError[];
}

export function conformanceMiddleware(
  validator: SpecValidator,
  record: (violation: ConformanceViolation) => void,
): MiddlewareHandler<EmulatorEnv> {
  return async (c, next) => {
    const method = c.req.method;
    const path = c.req.path;
    const text = await c.req.raw.clone().text();
    const body = parseBody(text);
    const query: Record<string, string | string[]> = {};
    for (const [key, values] of Object.entries(c.req.queries())) {
      query[key] = values.length === 1 ? values[0]! : values;
    }
    const requestErrors =
      body === INVALID
        ? [{ location: 'request.body', message: 'is not valid JSON' }]
        : validator.validateRequest({ method, path, query, headers: c.req.header(), body });
    const requestId = c.get('requestId');
    // Recorded before the request is handled, because a fault may mean it never is.
    if (requestErrors.length) record({ phase: 'request', method, path, requestId, errors: requestErrors });

    await next();

    const status = c.res.status;
    const responseText = await c.res.clone().text();
    const responseBody = parseBody(responseText);
    const responseErrors =
      responseBody === INVALID
        ? [{ location: 'response.body', message: 'is not valid JSON' }]
        : validator.validateResponse({
            method,
            path,
            status,
            headers: Object.fromEntries(c.res.headers),
            body: responseBody,
          });
    if (responseErrors.length)
      record({ phase: 'response', method, path, status, requestId, errors: responseErrors });
  };
}

const INVALID = Symbol('invalid JSON');

function parseBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return INVALID;
  }
}
