/**
 * `berth vault rotate` through a serving embedded berth. PGlite's data directory is one
 * process's, so while berth serves, the command cannot open the database; it asks that
 * berth (the lock's holder, found through the address it records in the data directory)
 * to run the rotation on its internal API, and reads back the same progress and result
 * the rotation service gives when the command runs it itself.
 */
import { ConflictError, UnavailableError } from '../domain/errors.ts';
import { readInternalAddress } from '../http/internal-address.ts';
import { INTERNAL_SECRET_HEADER } from '../http/internal-app.ts';
import { RotationLine } from '../http/internal-vault.ts';
import type { RotationProgress, RotationResult } from '../services/vault-rotation.ts';

export interface RemoteRotation {
  dataDir: string;
  /** The pid in the data directory's lock: the berth to ask. */
  holderPid: number;
  /** BERTH_INTERNAL_API_SECRET as this command was given it. */
  secret: string | undefined;
  /** The newest key in this command's keyring, which the serving berth must have too. */
  keyId: string;
  batchSize: number;
  onProgress: (progress: RotationProgress) => void;
  fetch?: typeof fetch;
}

export async function rotateThroughServingBerth(options: RemoteRotation): Promise<RotationResult> {
  const holder = `berth (pid ${options.holderPid})`;
  const address = readInternalAddress(options.dataDir);
  if (address?.pid !== options.holderPid) {
    throw new UnavailableError(
      `The data directory ${options.dataDir} is in use by ${holder}, which serves no internal API to rotate through: ` +
        'it is another berth command, or berth serving without BERTH_INTERNAL_API_SECRET. ' +
        'Let it finish, or set BERTH_INTERNAL_API_SECRET and restart berth, then run this again.',
    );
  }
  if (!options.secret) {
    throw new UnavailableError(
      `${holder} is serving ${options.dataDir}: give this command its BERTH_INTERNAL_API_SECRET to rotate through it.`,
    );
  }
  const response = await (options.fetch ?? fetch)(`${address.url}/internal/vault/rotate`, {
    method: 'POST',
    headers: { [INTERNAL_SECRET_HEADER]: options.secret, 'content-type': 'application/json' },
    body: JSON.stringify({ batch_size: options.batchSize, key_id: options.keyId }),
  }).catch((error: Error & { cause?: { code?: string } }) => {
    throw new UnavailableError(
      error.cause?.code === 'ECONNREFUSED'
        ? staleRecordMessage(options.dataDir, options.holderPid, address.url)
        : `${holder} did not answer at ${address.url}: ${error.message}`,
    );
  });
  if (response.status === 401) {
    throw new UnavailableError(
      `${holder} refused this command's BERTH_INTERNAL_API_SECRET: give it berth's.`,
    );
  }
  if (!response.ok || !response.body) {
    const detail = ((await response.json().catch(() => ({}))) as { detail?: string }).detail;
    const message = `${holder} refused the rotation (${response.status}): ${detail ?? response.statusText}`;
    throw response.status === 409 ? new ConflictError(message) : new UnavailableError(message);
  }
  const stopped = `${holder} stopped answering before the rotation ended. Run this again: it resumes where it stopped.`;
  try {
    for await (const line of lines(response.body)) {
      const parsed = RotationLine.parse(JSON.parse(line));
      if (parsed.type === 'progress') {
        const { type: _, ...progress } = parsed;
        options.onProgress(progress);
      } else if (parsed.type === 'result') {
        return { rewrapped: parsed.rewrapped, keyId: parsed.key_id, failed: parsed.failed };
      } else {
        throw new UnavailableError(`${holder} could not finish the rotation: ${parsed.message}`);
      }
    }
  } catch (error) {
    // A connection cut half-way (berth stopped or crashed) is a rotation to resume, not a bug.
    if (error instanceof UnavailableError) throw error;
    throw new UnavailableError(`${stopped} (${(error as Error).message})`);
  }
  throw new UnavailableError(stopped);
}

/**
 * Nothing listens where the lock's holder recorded its internal API. A serving berth
 * listens there, and a new holder removes an older holder's record, so most likely that
 * berth is starting or stopping. Where the lock cannot tell a killed berth's pid, since
 * given to another program, from a live berth (no start time in it: an older lock, or no
 * /proc), it may also be stale: say what to check, and what to remove then.
 */
function staleRecordMessage(dataDir: string, pid: number, url: string): string {
  return (
    `Nothing answers at ${url}, where the berth holding ${dataDir} (pid ${pid}) said its internal API listens. ` +
    'It may be starting or stopping: wait a moment and run this again. ' +
    `If pid ${pid} is not a berth serving this directory at all, no berth holds it: remove berth.lock and ` +
    'internal-api.json from the directory and run this again.'
  );
}

/** The body's lines, as they arrive. */
async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { done, value } = await reader.read();
    buffered += decoder.decode(value, { stream: !done });
    const complete = buffered.split('\n');
    buffered = complete.pop() ?? '';
    for (const line of complete) if (line.trim()) yield line;
    if (done) return;
  }
}
