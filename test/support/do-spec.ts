/**
 * Test helpers for anything that talks to the DigitalOcean emulator: one spec validator
 * per test file (parsing the 81k-line description takes about two seconds), an
 * emulator with conformance checking switched on plus a small `api()` that drives it
 * in-process and returns status, headers and parsed body, and real key pairs made
 * with ssh-keygen.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createEmulator,
  type Emulator,
  type EmulatorOptions,
} from '../../src/digitalocean/emulator/index.ts';
import { createSpecValidator, type SpecValidator } from '../../src/digitalocean/spec/validator.ts';

let validator: SpecValidator | undefined;

/** The spec validator shared by the tests of one file. */
export function doSpec(): SpecValidator {
  validator ??= createSpecValidator();
  return validator;
}

export const TEST_TOKEN = 'test-token-0123456789';

export interface ApiResult {
  status: number;
  headers: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON.
  body: any;
}

export interface TestEmulator {
  emulator: Emulator;
  api(method: string, path: string, options?: { body?: unknown; token?: string | null }): Promise<ApiResult>;
  /** Conformance departures of the emulator's answers (requests a test sends invalid on purpose are excluded). */
  responseViolations(): ReturnType<Emulator['violations']>;
  /** Conformance departures of the test's own requests. */
  requestViolations(): ReturnType<Emulator['violations']>;
}

/** An emulator with conformance checking and no SSH servers unless `ssh` is overridden. */
export function testEmulator(options: Partial<EmulatorOptions> = {}): TestEmulator {
  const emulator = createEmulator({
    token: TEST_TOKEN,
    activeAfterMs: 0,
    sshPort: 0,
    ssh: { enabled: false },
    conformance: doSpec(),
    env: {},
    ...options,
  });
  return {
    emulator,
    async api(method, path, { body, token = TEST_TOKEN } = {}) {
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await emulator.app.request(`http://emulator.test${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return {
        status: res.status,
        headers: Object.fromEntries(res.headers),
        body: text ? JSON.parse(text) : undefined,
      };
    },
    responseViolations: () => emulator.violations().filter((v) => v.phase === 'response'),
    requestViolations: () => emulator.violations().filter((v) => v.phase === 'request'),
  };
}

/** Makes an ed25519 key pair with Debian's ssh-keygen in `dir`; returns the private key path and public key line. */
export function sshKeygen(dir: string, name: string): { privatePath: string; publicKey: string } {
  const privatePath = join(dir, name);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    `${name}@berth-test`,
    '-f',
    privatePath,
  ]);
  return { privatePath, publicKey: readFileSync(`${privatePath}.pub`, 'utf8').trim() };
}
