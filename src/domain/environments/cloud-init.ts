/**
 * The droplet's `user_data`: a `#cloud-config` that cloud-init applies at first boot to
 * prepare the agent's tool environment. It makes the agent's login cloud-init's default
 * user, which is the user cloud-init gives the droplet's create-time public keys (the
 * owner's, from the metadata service) in its network stage, before sshd starts, so the
 * agent can log in as soon as the droplet answers. Root keeps the same keys, as on any
 * DigitalOcean droplet. Passwords are off, by an sshd drop-in written before sshd starts
 * (cloud-init's `ssh_pwauth` would restart sshd in the config stage, refusing logins
 * for a moment after the droplet is up). It optionally installs Docker. It never holds
 * key material or the DigitalOcean token: anything on the droplet can read user_data from
 * the metadata service.
 */
import { stringify } from 'yaml';
import {
  checkLoginCheckOptions,
  LOGIN_CHECK_CACHE,
  LOGIN_CHECK_CACHE_DIR,
  LOGIN_CHECK_COMMAND,
  LOGIN_CHECK_CREDENTIAL,
  LOGIN_CHECK_DROP_IN,
  LOGIN_CHECK_FALLBACK_KEYS,
  LOGIN_CHECK_SETTINGS,
  LOGIN_CHECK_USER,
  type LoginCheckOptions,
  loginCheckCredential,
  loginCheckDropIn,
  loginCheckScript,
  loginCheckSettings,
} from './login-check.ts';

export interface CloudInitOptions {
  /** The agent's login; a POSIX user name. */
  agentUser: string;
  installDocker: boolean;
  /**
   * Logins checked against berth at each login (login-check.ts). Without it the droplet
   * keeps the create-time keys for its life ("fixed" access).
   */
  loginCheck?: Omit<LoginCheckOptions, 'logins'>;
}

/** The login berth's droplets give the agent (and the `ssh` command names). */
export const AGENT_USER = 'agent';

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
/** DigitalOcean's limit on user_data. */
export const USER_DATA_LIMIT = 64 * 1024;
/** sshd settings berth's droplets run with; sshd reads the first value it meets, drop-ins first. */
export const SSHD_DROP_IN = {
  path: '/etc/ssh/sshd_config.d/50-berth.conf',
  content: 'PasswordAuthentication no\nKbdInteractiveAuthentication no\n',
} as const;
/** Written last, so its presence says the bootstrap ran to the end. */
export const BOOTSTRAP_DONE_FILE = '/var/lib/berth-bootstrap-done';

export function buildCloudInit(options: CloudInitOptions): string {
  if (!USER_NAME.test(options.agentUser)) {
    throw new TypeError(`"${options.agentUser}" is not a valid user name for the agent`);
  }
  const docker = options.installDocker;
  const check = options.loginCheck ? { ...options.loginCheck, logins: ['root', options.agentUser] } : null;
  if (check) checkLoginCheckOptions(check);
  const config: Record<string, unknown> = {
    system_info: {
      // Every field is given: an image's own default user (sudo rights, extra groups)
      // would otherwise be merged in underneath.
      default_user: {
        name: options.agentUser,
        gecos: 'berth agent',
        shell: '/bin/bash',
        lock_passwd: true,
        sudo: false,
        groups: docker ? ['docker'] : [],
      },
    },
    users: ['default'],
    // Root keeps the owner's keys (DigitalOcean's own behaviour), without the
    // "log in as the default user instead" command some images put in front of them.
    disable_root: false,
    ...(check ? { bootcmd: loginCheckUser() } : {}),
    write_files: [
      { path: SSHD_DROP_IN.path, content: SSHD_DROP_IN.content, permissions: '0644' },
      ...(check ? loginCheckFiles(check) : []),
    ],
    ...(docker ? { groups: ['docker'], package_update: true, packages: ['docker.io'] } : {}),
    runcmd: [...(check ? loginCheckSeed(check) : []), ['touch', BOOTSTRAP_DONE_FILE]],
  };
  return `#cloud-config\n# berth tool environment bootstrap, applied once by cloud-init at first boot.\n${stringify(config)}`;
}

/**
 * bootcmd runs first in cloud-init's init stage, before write_files (which gives the
 * credential to this user) and before sshd starts; it runs at every boot, so both
 * commands are idempotent.
 */
function loginCheckUser(): string[][] {
  return [
    [
      'sh',
      '-c',
      `getent passwd ${LOGIN_CHECK_USER} >/dev/null || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ${LOGIN_CHECK_USER}`,
    ],
    ['install', '-d', '-o', LOGIN_CHECK_USER, '-g', LOGIN_CHECK_USER, '-m', '0700', LOGIN_CHECK_CACHE_DIR],
  ];
}

/** Written in the init stage, so sshd's first start already checks logins against berth. */
function loginCheckFiles(check: LoginCheckOptions): Record<string, string>[] {
  return [
    { path: LOGIN_CHECK_DROP_IN, content: loginCheckDropIn(), permissions: '0644' },
    { path: LOGIN_CHECK_SETTINGS, content: loginCheckSettings(check), permissions: '0644' },
    { path: LOGIN_CHECK_COMMAND, content: loginCheckScript(check), permissions: '0755' },
    {
      path: LOGIN_CHECK_CREDENTIAL,
      content: loginCheckCredential(check),
      owner: `${LOGIN_CHECK_USER}:${LOGIN_CHECK_USER}`,
      permissions: '0400',
    },
  ];
}

/**
 * The cache starts as the create-time keys (root's, which cloud-init installed from the
 * metadata in the init stage), so a first login while berth is unreachable still works
 * for the grace period; it is seeded only once, never over a newer answer. A deploy that
 * used the operator's fallback keys keeps them in their own file, always admitted.
 */
function loginCheckSeed(check: LoginCheckOptions): string[][] {
  const seed = `[ -e ${LOGIN_CHECK_CACHE} ] || install -o ${LOGIN_CHECK_USER} -g ${LOGIN_CHECK_USER} -m 0600 /root/.ssh/authorized_keys ${LOGIN_CHECK_CACHE}`;
  const fallback = `install -m 0644 /root/.ssh/authorized_keys ${LOGIN_CHECK_FALLBACK_KEYS}`;
  return [['sh', '-c', seed], ...(check.usedFallbackKeys ? [['sh', '-c', fallback]] : [])];
}
