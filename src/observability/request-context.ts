/**
 * The request a log line belongs to. The HTTP layer runs each request inside a scope
 * (AsyncLocalStorage), and a logger made by `withRequestIds` adds that scope's id to every
 * line written while the request is being served, whichever service writes it, so an
 * operator can follow one request through berth with one search. Once the response is
 * sent the scope closes: work the request started and that outlives it (a deploy's
 * background half, a connection opened for it) stops claiming its id rather than carrying
 * it into unrelated lines for the rest of the process's life.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { type Logger, pino } from 'pino';

interface Scope {
  readonly requestId: string;
  open: boolean;
}

export class RequestContext {
  private readonly storage = new AsyncLocalStorage<Scope>();

  /** Runs `fn` as part of request `requestId`; the scope closes when `fn` settles. */
  async run<T>(requestId: string, fn: () => Promise<T>): Promise<T> {
    const scope: Scope = { requestId, open: true };
    try {
      return await this.storage.run(scope, fn);
    } finally {
      scope.open = false;
    }
  }

  /** The id of the request being served here, if any. */
  requestId(): string | undefined {
    const scope = this.storage.getStore();
    return scope?.open ? scope.requestId : undefined;
  }
}

type LogFormatter = (object: Record<string, unknown>) => Record<string, unknown>;

/**
 * A logger that writes what `logger` writes, plus the current request's id on every line
 * written inside a request. A `requestId` the caller logs explicitly wins. A child's log
 * formatter replaces its parent's in pino, so the parent's (berth's redaction) is called
 * from this one.
 */
export function withRequestIds(logger: Logger, context: RequestContext): Logger {
  const formatters = (logger as unknown as Record<symbol, { log?: LogFormatter } | undefined>)[
    pino.symbols.formattersSym
  ];
  const parent = formatters?.log;
  return logger.child(
    {},
    {
      formatters: {
        log(object) {
          const requestId = context.requestId();
          const line = requestId === undefined || 'requestId' in object ? object : { requestId, ...object };
          return parent ? parent(line as Record<string, unknown>) : line;
        },
      },
    },
  );
}
