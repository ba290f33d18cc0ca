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
 * each step falls back to the fetch API, with the same result. The same response class
 * decides, as each answer's head goes out, what becomes of a request body the answer
 * leaves unread (unread-body.ts).
 */
import {
  type IncomingMessage,
  type OutgoingHttpHeader,
  type OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';
import type { Context } from 'hono';
import { dropUnreadBody, unreadBody } from './unread-body.ts';

/**
 * The response class berth's listeners give Node (http.createServer's `ServerResponse`
 * option). The request id and the default headers are handed to it before the route
 * runs, and writeHead writes them in the same list as the answer's own headers, in one
 * pass. An answer's own value of any of them wins, as does a value set with setHeader.
 * Before the head goes out, it settles a request body the answer leaves unread.
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
    // An answer given before the request's body was read decides what becomes of the
    // rest, and of the connection, while a `Connection: close` can still be said.
    const unread = unreadBody(this.req);
    if (unread === 'close') this.shouldKeepAlive = false;
    this.#writeHead(statusCode, reasonOrHeaders, headers);
    if (unread !== undefined) dropUnreadBody(this.req, unread);
    return this;
  }

  #writeHead(
    statusCode: number,
    reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
    headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): void {
    // Node's own reading of its arguments: headers come second when no message is given.
    const reason = typeof reasonOrHeaders === 'string' ? reasonOrHeaders : undefined;
    const given = reason === undefined ? (headers ?? (reasonOrHeaders as typeof headers)) : headers;
    const lines = this.requestId === undefined && this.defaults === undefined ? null : ownLines(given);
    // Nothing handed over, or headers Node refuses (a list of odd length): Node's writeHead.
    if (lines === null) {
      if (reason === undefined) super.writeHead(statusCode, given);
      else super.writeHead(statusCode, reason, given);
      return;
    }
    const own = new Set<string>();
    for (let i = 0; i < lines.length; i += 2) own.add(String(lines[i]).toLowerCase());
    if (this.requestId !== undefined && !own.has('x-request-id') && !this.hasHeader('x-request-id')) {
      lines.push('x-request-id', this.requestId);
    }
    const defaults = this.defaults ?? [];
    for (let i = 0; i + 1 < defaults.length; i += 2) {
      const name = defaults[i] as string;
      if (!own.has(name) && !this.hasHeader(name)) lines.push(name, defaults[i + 1] as string);
    }
    if (reason === undefined) super.writeHead(statusCode, lines);
    else super.writeHead(statusCode, reason, lines);
  }
}

/**
 * The answer's own headers as a flat list of names and values, in every form Node's
 * writeHead takes (an object, a flat list, a list of pairs); null for a flat list of odd
 * length, which Node refuses. Values go through as they are, so Node validates them.
 */
function ownLines(
  given: OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined,
): OutgoingHttpHeader[] | null {
  // An undefined value stays in, typed as a header, so that Node refuses it as it would.
  const lines: OutgoingHttpHeader[] = [];
  if (Array.isArray(given)) {
    if (given.length > 0 && Array.isArray(given[0])) {
      for (const pair of given as unknown as OutgoingHttpHeader[][]) {
        lines.push(pair[0] as OutgoingHttpHeader, pair[1] as OutgoingHttpHeader);
      }
    } else if (given.length % 2 !== 0) {
      return null;
    } else {
      lines.push(...given);
    }
  } else if (given) {
    for (const name of Object.keys(given)) lines.push(name, given[name] as OutgoingHttpHeader);
  }
  return lines;
}

/** berth's Node response under this request, while its headers can still be set. */
export function berthResponse(c: { env: unknown }): BerthResponse | null {
  const outgoing = (c.env as { outgoing?: unknown } | undefined)?.outgoing;
  return outgoing instanceof BerthResponse && !outgoing.headersSent ? outgoing : null;
}

/**
 * A request header by its lower-case name, as the fetch API gives it: repeated lines
 * joined with ", ". Read from Node's raw lines, not its `headers` object, which keeps only
 * the first line of some fields (two Authorization lines must stay two, which the bearer
 * pattern refuses, not become the first). Node's parser has already trimmed each value
 * and refused any with a control character.
 */
export function requestHeader(c: Context, name: Lowercase<string>): string | undefined {
  const raw = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.rawHeaders;
  if (raw === undefined) return c.req.header(name);
  let value: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const field = raw[i] as string;
    if (field.length !== name.length || field.toLowerCase() !== name) continue;
    value = value === undefined ? raw[i + 1] : `${value}, ${raw[i + 1]}`;
  }
  return value;
}
