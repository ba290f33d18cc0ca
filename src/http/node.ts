/**
 * berth on Node: the steps every request passes through read its headers from Node's
 * parsed request and hand the headers every answer carries to berth's own Node response
 * class, rather than going through the fetch API (@hono/node-server puts Node's request
 * and response in the context's env as `incoming` and `outgoing`). Through the fetch
 * API, reading a header re-validates a value Node's parser has already checked, and
 * writing one re-sorts a `Headers` object; set one by one on Node's response, each header
 * costs a validation, a lower-casing and a slot in a dictionary that writeHead then walks.
 * On one machine, the steps that do these cost an authenticated read a third of its rate
 * (docs/performance.md, "API throughput"). Without Node (tests calling `app.request`)
 * each step falls back to the fetch API, with the same result.
 */
import {
  type IncomingMessage,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import type { Context } from 'hono';

/**
 * The response class berth's listeners give Node (http.createServer's `ServerResponse`
 * option). The request id and the default headers are handed to it before the route
 * runs, and writeHead writes them in the same list as the answer's own headers, in one
 * pass. An answer's own value of any of them wins, as does a value set with setHeader.
 */
export class BerthResponse<
  Request extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Request> {
  /** Sent as `x-request-id`. */
  requestId: string | undefined = undefined;
  /** Sent too: names (lower case) and values, alternating. */
  defaults: readonly string[] | undefined = undefined;

  override writeHead(
    statusCode: number,
    reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
    headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): this {
    const reason = typeof reasonOrHeaders === 'string' ? reasonOrHeaders : undefined;
    const given = reason === undefined ? (reasonOrHeaders as typeof headers) : headers;
    // Nothing handed over, or a list Node refuses (an odd length): Node's own writeHead.
    if (
      (this.requestId === undefined && this.defaults === undefined) ||
      (Array.isArray(given) && given.length % 2 !== 0)
    ) {
      return reason === undefined
        ? super.writeHead(statusCode, given)
        : super.writeHead(statusCode, reason, given);
    }
    const lines: OutgoingHttpHeader[] = [];
    const own: string[] = [];
    if (Array.isArray(given)) {
      for (let i = 0; i < given.length; i += 2) {
        lines.push(given[i] as OutgoingHttpHeader, given[i + 1] as OutgoingHttpHeader);
        own.push(String(given[i]).toLowerCase());
      }
    } else if (given) {
      for (const name of Object.keys(given)) {
        const value = given[name];
        if (value === undefined) continue;
        lines.push(name, value);
        own.push(name.toLowerCase());
      }
    }
    if (this.requestId !== undefined && !own.includes('x-request-id') && !this.hasHeader('x-request-id')) {
      lines.push('x-request-id', this.requestId);
    }
    const defaults = this.defaults ?? [];
    for (let i = 0; i + 1 < defaults.length; i += 2) {
      const name = defaults[i] as string;
      if (!own.includes(name) && !this.hasHeader(name)) lines.push(name, defaults[i + 1] as string);
    }
    return reason === undefined
      ? super.writeHead(statusCode, lines)
      : super.writeHead(statusCode, reason, lines);
  }
}

/** berth's Node response under this request, while its headers can still be set. */
export function berthResponse(c: { env: unknown }): BerthResponse | null {
  const outgoing = (c.env as { outgoing?: unknown } | undefined)?.outgoing;
  return outgoing instanceof BerthResponse && !outgoing.headersSent ? outgoing : null;
}

/**
 * A request header by its lower-case name. Node has already joined repeated fields as
 * the fetch API would (`a, b`), and refused any value with a control character.
 */
export function requestHeader(c: Context, name: Lowercase<string>): string | undefined {
  const headers = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.headers;
  if (headers === undefined) return c.req.header(name);
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}
