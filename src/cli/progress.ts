/**
 * Progress for long commands: a bar on a terminal, plain lines otherwise (CI logs, pipes,
 * files), so the output is readable wherever it goes.
 */
import { Presets, SingleBar } from 'cli-progress';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export function createProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total}`, stream }, Presets.shades_classic);
    let started = false;
    return {
      update(done, total) {
        if (!started) {
          bar.start(total, done);
          started = true;
        }
        bar.setTotal(total);
        bar.update(done);
      },
      stop: () => bar.stop(),
    };
  }
  let lastPrinted = -1;
  let lastAt = 0;
  return {
    update(done, total) {
      const now = Date.now();
      // A line at the start, at the end, and at most once a second in between.
      if (done === lastPrinted || (done !== total && done !== 0 && now - lastAt < 1000)) return;
      lastPrinted = done;
      lastAt = now;
      stream.write(`${label}: ${done}/${total}\n`);
    },
    stop() {},
  };
}
