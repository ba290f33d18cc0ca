/**
 * Chooses which DigitalOcean berth talks to. With DIGITALOCEAN_TOKEN (or a token stored in
 * the vault) it is the real API; with neither, berth starts its local emulator in-process
 * and points the same client at it, so `npm start` works on a machine with no account.
 * The emulator is a development and test tool: its droplets are real isolated hosts
 * (cloud-init, sshd) where the machine allows it (root on Linux), else SSH servers on
 * loopback addresses, and its state lives only as long as the process.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../observability/logger.ts';
import {
  DIGITALOCEAN_API_URL,
  DigitalOceanClient,
  type RateBudget,
  type TokenProvider,
  type TransportObserver,
} from './client/index.ts';
import { ensureRangeStaysLocal, MACHINE_ADDRESS } from './emulator/host/network.ts';
import { createEmulator, type Emulator, parseHostsSetting } from './emulator/index.ts';

export interface DigitalOceanSetupOptions {
  /** DIGITALOCEAN_TOKEN, or a provider that reads the vault. Absent: the emulator. */
  token: TokenProvider | null;
  apiUrl: string | undefined;
  rateBudget: RateBudget;
  logger: Logger;
  emulator: { activeAfterMs?: number; sshPort: number; port: number };
  /** Told of every DigitalOcean request (metrics). */
  observer?: TransportObserver;
}

export interface DigitalOceanSetup {
  client: DigitalOceanClient;
  /** Set when berth runs its local DigitalOcean. */
  emulator: Emulator | null;
  /** Where users SSH to a droplet: 22, or the emulator's port for light droplets. */
  sshPort: number;
  /**
   * Whether droplets run their user_data (DigitalOcean's do, as do the emulator's real
   * hosts); light droplets do not, so only root exists on them.
   */
  runsUserData: boolean;
  /**
   * The address droplets reach this machine at, when berth runs the emulator with real
   * hosts (berth's droplet API listens there); null otherwise.
   */
  machineAddress: string | null;
  close(): Promise<void>;
}

export async function setupDigitalOcean(options: DigitalOceanSetupOptions): Promise<DigitalOceanSetup> {
  const logger = {
    debug: (fields: Record<string, unknown>, message: string) => options.logger.debug(fields, message),
    warn: (fields: Record<string, unknown>, message: string) => options.logger.warn(fields, message),
  };
  if (options.token) {
    const client = new DigitalOceanClient({
      baseUrl: options.apiUrl ?? DIGITALOCEAN_API_URL,
      token: options.token,
      rateBudget: options.rateBudget,
      logger,
      observer: options.observer,
    });
    return {
      client,
      emulator: null,
      sshPort: 22,
      runsUserData: true,
      machineAddress: null,
      close: async () => {},
    };
  }
  const token = randomBytes(24).toString('hex');
  const emulator = createEmulator({
    token,
    sshPort: options.emulator.sshPort,
    // Real hosts where the machine allows; BERTH_EMULATOR_HOSTS=light keeps the light ones.
    hosts: parseHostsSetting(process.env.BERTH_EMULATOR_HOSTS) ?? 'auto',
    onNotice: (line) => options.logger.info({ component: 'do-emulator' }, line),
    ...(options.emulator.activeAfterMs !== undefined
      ? { activeAfterMs: options.emulator.activeAfterMs }
      : {}),
    onError: (message) => options.logger.warn({ component: 'do-emulator' }, message),
  });
  const listening = await emulator.listen(options.emulator.port, '127.0.0.1');
  options.logger.warn(
    { url: listening.url, sshPort: emulator.sshPort, droplets: emulator.hosts.kind },
    'no DIGITALOCEAN_TOKEN: using the local DigitalOcean emulator (development only; its droplets vanish when berth stops)',
  );
  const client = new DigitalOceanClient({
    baseUrl: options.apiUrl ?? listening.url,
    token: () => token,
    rateBudget: options.rateBudget,
    logger,
    observer: options.observer,
  });
  // Real hosts reach the machine at one address, which must exist before berth listens on it.
  const real = emulator.hosts.kind === 'real';
  if (real) await ensureRangeStaysLocal();
  return {
    client,
    emulator,
    sshPort: emulator.sshPort,
    runsUserData: real,
    machineAddress: real ? MACHINE_ADDRESS : null,
    close: () => emulator.close(),
  };
}
