/**
 * Listening: binds a Hono application (or any fetch handler) to a port and host, and
 * reports the URL it is reachable at. The port may be 0 (tests), in which case the URL
 * names the port the system chose.
 */
import { type ServerType, serve } from '@hono/node-server';
import { BerthResponse } from './node.ts';

export type FetchHandler = (request: Request, env: unknown) => Response | Promise<Response>;

export interface Listener {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function listen(
  fetch: FetchHandler,
  options: { port: number; host: string },
): Promise<Listener> {
  const server = await new Promise<ServerType>((resolve, reject) => {
    // berth's response class writes the headers every answer carries in one pass, and
    // settles a request body its answer leaves unread (node.ts, unread-body.ts). The
    // adapter's own clean-up of such bodies is off: it gives one half a second after the
    // answer, which a web stream that took the body and stopped reading makes it miss,
    // then closes the connection it had said stays open, even one that has since served
    // another request.
    const serverOptions = { ServerResponse: BerthResponse };
    const s = serve(
      { fetch, port: options.port, hostname: options.host, serverOptions, autoCleanupIncoming: false },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections would hold close() open until they time out.
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}
