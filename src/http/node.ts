/**
 * The Node request and response under a Hono context, when Node serves it
 * (@hono/node-server puts them in the context's env as `incoming` and `outgoing`), for
 * the steps every request passes through. Through the fetch API, reading a header
 * re-validates and normalises a value Node's parser has already checked, and writing
 * one re-sorts a `Headers` object; on Node the same reads and writes cost a fraction of
 * that (docs/performance.md, "API throughput"). Without Node (tests calling
 * `app.request`) each helper falls back to the fetch API, with the same result.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';

interface NodeEnv {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

/** The Node response under this request, while its headers can still be set. */
export function nodeResponse(c: { env: unknown }): ServerResponse | null {
  const outgoing = (c.env as NodeEnv | undefined)?.outgoing;
  return outgoing && typeof outgoing.setHeader === 'function' && !outgoing.headersSent ? outgoing : null;
}

/**
 * A request header by its lower-case name. Node has already joined repeated fields as
 * the fetch API would (`a, b`), and refused any value with a control character.
 */
export function requestHeader(c: Context, name: Lowercase<string>): string | undefined {
  const headers = (c.env as NodeEnv | undefined)?.incoming?.headers;
  if (headers === undefined) return c.req.header(name);
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}
