/**
 * A small, honest stand-in for DigitalOcean's SSH key registry, for the onboarding tests:
 * keys are unique by fingerprint as on DigitalOcean (registering one again returns the
 * existing key, as the real client's ensureSshKey does after a 422 "already in use"),
 * and every call and every creation is counted, with its priority, so a test can prove
 * a key was registered once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Priority, SshKeyRegistry } from '../../src/services/key-registration.ts';

export interface RegistryCall {
  fingerprint: string;
  priority: Priority | undefined;
}

export class FakeKeyRegistry implements SshKeyRegistry {
  readonly calls: RegistryCall[] = [];
  readonly created: RegistryCall[] = [];
  private readonly keys = new Map<string, number>();
  private nextId = 1000;
  /** When set, every call fails with what it returns. */
  failWith: (() => Error) | null = null;

  private readonly latencyMs: number;

  constructor(latencyMs = 0) {
    this.latencyMs = latencyMs;
  }

  async ensureSshKey(
    key: { name: string; publicKey: string; fingerprintMd5: string },
    options?: { priority?: Priority },
  ) {
    const call = { fingerprint: key.fingerprintMd5, priority: options?.priority };
    this.calls.push(call);
    if (this.latencyMs) await sleep(this.latencyMs);
    if (this.failWith) throw this.failWith();
    let id = this.keys.get(key.fingerprintMd5);
    if (id === undefined) {
      id = this.nextId++;
      this.keys.set(key.fingerprintMd5, id);
      this.created.push(call);
    }
    return { id, fingerprint: key.fingerprintMd5 };
  }

  callsFor(fingerprint: string): RegistryCall[] {
    return this.calls.filter((c) => c.fingerprint === fingerprint);
  }

  createdFor(fingerprint: string): RegistryCall[] {
    return this.created.filter((c) => c.fingerprint === fingerprint);
  }
}
