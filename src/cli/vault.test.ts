import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import type { Config } from '../config/config.ts';
import { vaultCommand } from './vault.ts';

/** Runs `berth vault rotate …` with a configuration that records whether it was read. */
async function rotate(args: string[]) {
  let opened = false;
  const vault = vaultCommand((): Config => {
    opened = true;
    throw new Error('this test has no database');
  });
  let errors = '';
  for (const command of [vault, ...vault.commands]) {
    command.exitOverride().configureOutput({
      writeErr: (text) => {
        errors += text;
      },
      writeOut: () => {},
    });
  }
  const outcome = await vault.parseAsync(['rotate', ...args], { from: 'user' }).then(
    () => null,
    (error: Error) => error,
  );
  return { outcome, errors, opened };
}

describe('berth vault rotate', () => {
  it.each([['0'], ['-5'], ['1.5'], ['abc'], ['12abc'], ['10001']])(
    'refuses --batch-size %s with a clear message, before it opens anything',
    async (value) => {
      const { outcome, errors, opened } = await rotate([`--batch-size=${value}`]);
      expect(outcome).toBeInstanceOf(CommanderError);
      expect((outcome as CommanderError).code).toBe('commander.invalidArgument');
      expect(errors).toContain(`option '--batch-size <n>' argument '${value}' is invalid`);
      expect(errors).toContain('It must be a whole number from 1 to 10000.');
      expect(opened).toBe(false);
    },
  );

  it('takes a whole --batch-size and goes on to open the vault', async () => {
    const { outcome, errors, opened } = await rotate(['--batch-size', '50']);
    expect(errors).toBe('');
    expect(opened).toBe(true);
    expect(outcome?.message).toBe('this test has no database');
  });
});
