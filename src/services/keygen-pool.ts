/**
 * Runs SSH key generation off the event loop. An RSA-4096 key takes OpenSSL seconds of CPU,
 * and a server that generated one inline would stall every other request meanwhile, so RSA
 * and ECDSA keys are made on a small pool of worker threads. Ed25519 keys take about 40 µs,
 * less than a round trip to a worker, so they are made inline.
 *
 * berth runs TypeScript as it is. Where Node strips types itself (22.18+, 24) a worker
 * does too; where tsx's loader does it, a worker does not inherit the loader hooks of its
 * parent, so each worker starts from a tiny JavaScript bootstrap that registers tsx when
 * Node cannot strip types, and then imports the key generator. Workers start on first use
 * and, while idle, do not keep the process alive; close() terminates them.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BerthError, type ErrorCode, InvalidInputError, UnavailableError } from '../domain/errors.ts';
import {
  type GeneratedKeyPair,
  type GenerateKeyPairOptions,
  generateKeyPair,
} from '../domain/sshkeys/index.ts';

export interface KeygenPoolOptions {
  /** Most worker threads at once; defaults to one less than the CPUs, at least one. */
  size?: number;
}

interface Task {
  options: GenerateKeyPairOptions;
  resolve: (pair: GeneratedKeyPair) => void;
  reject: (error: Error) => void;
}

type Reply = { ok: true; pair: GeneratedKeyPair } | { ok: false; message: string; code?: string };

// The worker's entry point, in plain JavaScript so that it runs before anything can load
// TypeScript. Both module locations arrive as absolute URLs through workerData; tsx's only
// when the worker needs it (see \`needsTsx\`).
const BOOTSTRAP = `
import { parentPort, workerData } from 'node:worker_threads';
if (workerData.tsxApi) {
  const { register } = await import(workerData.tsxApi);
  register();
}
const { generateKeyPair } = await import(workerData.generator);
parentPort.on('message', (options) => {
  try {
    parentPort.postMessage({ ok: true, pair: generateKeyPair(options) });
  } catch (error) {
    parentPort.postMessage({ ok: false, message: String(error?.message ?? error), code: error?.code });
  }
});
`;
const BOOTSTRAP_URL = new URL(`data:text/javascript,${encodeURIComponent(BOOTSTRAP)}`);

/**
 * Whether a worker must register tsx to import TypeScript: on a Node that does not strip
 * types, and for files inside node_modules, which Node refuses to strip (as bin/berth.js).
 */
function needsTsx(): boolean {
  return (
    !(process.features as { typescript?: string | false }).typescript ||
    import.meta.url.includes('/node_modules/')
  );
}

export class KeygenPool {
  private readonly size: number;
  private readonly workerData = {
    tsxApi: needsTsx() ? import.meta.resolve('tsx/esm/api') : null,
    generator: new URL('../domain/sshkeys/generate.ts', import.meta.url).href,
  };
  private readonly busy = new Map<Worker, Task>();
  private readonly idle: Worker[] = [];
  private readonly queue: Task[] = [];
  private closed = false;

  constructor(options: KeygenPoolOptions = {}) {
    const size = options.size ?? Math.max(1, availableParallelism() - 1);
    if (!Number.isInteger(size) || size < 1)
      throw new InvalidInputError('The key generator pool needs at least one worker.');
    this.size = size;
  }

  /** Worker threads currently running, busy or idle. */
  get workerCount(): number {
    return this.busy.size + this.idle.length;
  }

  /** Generates a key pair: Ed25519 inline, RSA and ECDSA on a worker thread. */
  generate(options: GenerateKeyPairOptions): Promise<GeneratedKeyPair> {
    if (this.closed) return Promise.reject(new UnavailableError('The key generator has been shut down.'));
    if ((options.algorithm ?? 'ed25519') === 'ed25519') {
      return new Promise((resolve) => resolve(generateKeyPair(options)));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ options, resolve, reject });
      this.dispatch();
    });
  }

  /** Refuses new work, fails queued and running work, and terminates every worker. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new UnavailableError('The key generator has been shut down.');
    for (const task of this.queue.splice(0)) task.reject(error);
    for (const task of this.busy.values()) task.reject(error);
    const workers = [...this.busy.keys(), ...this.idle.splice(0)];
    this.busy.clear();
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.workerCount < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const task = this.queue.shift()!;
      this.busy.set(worker, task);
      // A busy worker keeps the process alive until its caller has the key.
      worker.ref();
      worker.postMessage(task.options);
    }
  }

  private spawn(): Worker {
    const worker = new Worker(BOOTSTRAP_URL, { workerData: this.workerData, execArgv: [] });
    worker.on('message', (reply: Reply) => this.settle(worker, reply));
    // An uncaught error ends the worker; its task fails and 'exit' cleans up after it.
    worker.on('error', (error) => this.fail(worker, error));
    worker.on('exit', (code) => {
      this.fail(worker, new Error(`The key generator worker stopped unexpectedly (exit code ${code}).`));
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      if (!this.closed) this.dispatch();
    });
    return worker;
  }

  private settle(worker: Worker, reply: Reply): void {
    const task = this.busy.get(worker);
    if (!task) return;
    this.busy.delete(worker);
    if (reply.ok) task.resolve(reply.pair);
    else task.reject(reviveError(reply.message, reply.code));
    worker.unref();
    this.idle.push(worker);
    this.dispatch();
  }

  private fail(worker: Worker, error: Error): void {
    const task = this.busy.get(worker);
    if (!task) return;
    this.busy.delete(worker);
    task.reject(error);
  }
}

/** Errors cross the thread boundary as plain data; the one callers act on keeps its class. */
function reviveError(message: string, code: string | undefined): Error {
  if (code === 'invalid_input') return new InvalidInputError(message);
  if (code) return new BerthError(code as ErrorCode, message);
  return new Error(message);
}

export function createKeygenPool(options: KeygenPoolOptions = {}): KeygenPool {
  return new KeygenPool(options);
}
