/**
 * What becomes of a request body that an answer leaves unread. berth answers some
 * requests before it has read their body: a 413 from the declared length or from a
 * chunked body that grew past the limit, a 415, a 401 or a 429 ahead of the route. Node
 * can read the connection's next request only once the rest of the body is off the wire,
 * and a server must not say `keep-alive` of a connection it then closes: a client that
 * believes it (undici, Node's fetch) sends its next request there and loses it. Every
 * answer's head passes through berth's Node response (node.ts), which asks this module
 * first; there the request and its socket are known. What it does (docs/decisions.md,
 * "HTTP connections"):
 *
 * - The whole request has arrived: what is left unread is dropped, and the connection
 *   stays open. Node drops a body nobody touched itself; one taken by a web stream that
 *   stopped reading would hold the request, and the socket behind it, paused.
 * - A body of at most KEEP_LIMIT_BYTES is still arriving: the connection stays open, and
 *   the rest is read and dropped as it comes. A client that has not sent it within
 *   DISCARD_TIMEOUT_MS is cut off (only a client stalled in the middle of its own request).
 * - A longer body, or a chunked one, is still arriving: the answer says
 *   `Connection: close`. Once it is flushed berth closes its sending half and keeps
 *   dropping what the client still sends, so that the client reads the answer and not a
 *   reset (a lingering close), then closes the connection when the client does, after
 *   LINGER_LIMIT_BYTES more or after DISCARD_TIMEOUT_MS, whichever comes first.
 */
import type { IncomingMessage } from 'node:http';

/** A body declared at most this long is read to its end after an early answer. */
export const KEEP_LIMIT_BYTES = 64 * 1024;
/** After `Connection: close`, how much more of a body berth drops before it closes anyway. */
export const LINGER_LIMIT_BYTES = 1024 * 1024;
/**
 * How long the rest of an unread body may take, counted from the answer's head, which
 * suits the answers that leave one: short refusals, flushed at once.
 */
export const DISCARD_TIMEOUT_MS = 5_000;

/** What an answer written now leaves behind: nothing, a body to drop, or a connection to keep or close. */
export type UnreadBody = undefined | 'drop' | 'keep' | 'close';

/**
 * Decided as the answer's head is written, so that a `close` can still be said. Cheap on
 * the normal path: a request read to its end, or one without a body, costs a property
 * read or two (a bodiless request still being parsed, the header lines as well).
 */
export function unreadBody(req: IncomingMessage): UnreadBody {
  if (req.complete) {
    // Untouched, Node drops the buffered rest itself once the answer has gone.
    return req.readableEnded || req.readableFlowing === null ? undefined : 'drop';
  }
  // Not yet complete: either Node has yet to parse a request it already holds (an answer
  // given at once, before the parser's current turn ends), or the body is still to come.
  if (req.destroyed) return undefined;
  const declared = declaredLength(req.rawHeaders);
  if (declared === 0) return undefined;
  return declared <= KEEP_LIMIT_BYTES ? 'keep' : 'close';
}

/** Carries out `unreadBody`'s answer once the head is written (`close` is said by then). */
export function dropUnreadBody(req: IncomingMessage, what: Exclude<UnreadBody, undefined>): void {
  // As Node's own IncomingMessage._dump: whoever took the body will not read the rest, so
  // their listeners go (a web stream's would pause the request at every chunk), and the
  // body flows to nowhere.
  req.removeAllListeners('data');
  if (what === 'keep') awaitTheRest(req);
  else if (what === 'close') lingerThenClose(req);
  req.resume();
}

function awaitTheRest(req: IncomingMessage): void {
  const socket = req.socket;
  const timer = setTimeout(() => {
    if (!req.complete) socket.destroy();
  }, DISCARD_TIMEOUT_MS);
  timer.unref();
  req.once('end', () => clearTimeout(timer));
}

function lingerThenClose(req: IncomingMessage): void {
  const socket = req.socket;
  const close = () => socket.destroy();
  const timer = setTimeout(close, DISCARD_TIMEOUT_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_LIMIT_BYTES) close();
  });
  // After a `Connection: close` answer Node calls destroySoon, which closes the socket
  // as soon as the answer is flushed, with the client's bytes still unread: the system
  // then sends the client a reset, which can make it lose the answer. Only the sending
  // half is closed; the socket goes when the client closes its own, or at the bounds.
  socket.destroySoon = () => {
    socket.end();
  };
}

/**
 * The body the request's header lines announce: 0 for none, the Content-Length, or
 * Infinity for a chunked body (or a length Node let through that is no safe integer).
 */
function declaredLength(raw: string[]): number {
  let length = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return Number.POSITIVE_INFINITY;
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      const value = Number(raw[i + 1]);
      length = Number.isSafeInteger(value) && value >= 0 ? value : Number.POSITIVE_INFINITY;
    }
  }
  return length;
}
