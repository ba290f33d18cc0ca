import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from './progress.ts';

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & Partial<NodeJS.WriteStream>;
  // What cli-progress calls on a terminal; the callback comes last whatever the arity.
  const moved = (...args: unknown[]) => {
    const callback = args.at(-1);
    if (typeof callback === 'function') callback();
    return true;
  };
  Object.assign(stream, { isTTY, columns: 80, cursorTo: moved, clearLine: moved, moveCursor: moved });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

describe('progress for long commands', () => {
  it('writes plain lines when the output is not a terminal: the start, the end, at most one a second between', () => {
    const { stream, text } = fakeStream(false);
    const progress = createProgress('re-wrapping under k2', stream);
    progress.update(0, 400);
    progress.update(200, 400);
    progress.update(400, 400);
    progress.update(400, 400);
    progress.stop();
    expect(text()).toBe('re-wrapping under k2: 0/400\nre-wrapping under k2: 400/400\n');
  });

  it('draws a bar, with no plain lines, on a terminal', () => {
    const { stream, text } = fakeStream(true);
    const progress = createProgress('reconciling', stream);
    progress.update(0, 10);
    progress.update(10, 10);
    progress.stop();
    expect(text()).toMatch(/reconciling \[[^\]]+\] 10\/10/);
    expect(text()).not.toContain('reconciling: ');
  });
});
