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

export interface CloudInitOptions {
  /** The agent's login; a POSIX user name. */
  agentUser: string;
  installDocker: boolean;
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
    write_files: [{ path: SSHD_DROP_IN.path, content: SSHD_DROP_IN.content, permissions: '0644' }],
    ...(docker ? { groups: ['docker'], package_update: true, packages: ['docker.io'] } : {}),
    runcmd: [['touch', BOOTSTRAP_DONE_FILE]],
  };
  return `#cloud-config\n# berth tool environment bootstrap, applied once by cloud-init at first boot.\n${stringify(config)}`;
}
