/**
 * Builds onboarding as berth's composition root does, on a test database and a fake
 * DigitalOcean registry: the SSH key service, the key registrar, the job queue with the
 * onboard-user job, and the onboarding service. Several harnesses on one database stand
 * for several berth processes.
 */
import { sql } from 'drizzle-orm';
import { generateKeyPair } from '../../src/domain/sshkeys/generate.ts';
import { createKeyring, generateMasterKey } from '../../src/domain/vault/keyring.ts';
import type { JobDefinition } from '../../src/jobs/definition.ts';
import { onboardUserJob } from '../../src/jobs/onboard-user.ts';
import type { JobQueue, JobQueueOptions } from '../../src/jobs/queue.ts';
import { KeyRegistrar, type SshKeyRegistry } from '../../src/services/key-registration.ts';
import { UserOnboardingService } from '../../src/services/onboarding-service.ts';
import { SshKeyService } from '../../src/services/ssh-key-service.ts';
import { DbSecretStore, EncryptedSecretStore } from '../../src/store/secrets.ts';
import { silent, testQueue } from '../jobs/helpers.ts';
import type { TestDatabase } from '../support/db.ts';

const keyring = createKeyring([generateMasterKey('test-onboarding')]);

export interface Onboarding {
  sshKeys: SshKeyService;
  registrar: KeyRegistrar;
  queue: JobQueue;
  service: UserOnboardingService;
}

export function buildOnboarding(
  t: TestDatabase,
  registry: SshKeyRegistry,
  options: { queue?: Partial<JobQueueOptions>; job?: Partial<JobDefinition> } = {},
): Onboarding {
  const sshKeys = new SshKeyService({
    authz: t.authz,
    secrets: new EncryptedSecretStore(new DbSecretStore(), keyring),
    keygen: { generate: async (o) => generateKeyPair(o) },
  });
  const registrar = new KeyRegistrar({ authz: t.authz, registry });
  const queue = testQueue(t.engine, options.queue);
  const service = new UserOnboardingService({ authz: t.authz, sshKeys, registrar, queue, logger: silent });
  queue.define({ ...onboardUserJob(service), ...options.job });
  return { sshKeys, registrar, queue, service };
}

const rowsOf = <T>(result: unknown) => (result as { rows: T[] }).rows;

/** Every SSH key of the user, as the database holds them (not through the services). */
export async function keyRows(t: TestDatabase, userId: string) {
  return rowsOf<{
    id: string;
    is_default: boolean;
    fingerprint_md5: string;
    digitalocean_key_id: number | null;
  }>(
    await t.authz.asService('test: read keys', (tx) =>
      tx.execute(
        sql`select id, is_default, fingerprint_md5, digitalocean_key_id from user_ssh_keys where user_id = ${userId}`,
      ),
    ),
  );
}

/** The onboard-user jobs pg-boss holds for the user, whatever their state. */
export async function onboardingJobs(t: TestDatabase, userId: string) {
  return rowsOf<{ id: string; state: string }>(
    // pg-boss's tables belong to the session role, not the application roles.
    await t.db.execute(
      sql`select id, state from pgboss.job where name = 'onboard-user' and data->>'userId' = ${userId}`,
    ),
  );
}
