/**
 * The droplet's `user_data`: a minimal, idempotent shell script that cloud-init runs at
 * first boot to prepare the agent's tool environment. It creates a non-root user for the
 * agent with the same authorized keys DigitalOcean gave root (copied on the droplet, so
 * the script itself carries no key at all), and optionally installs Docker. It never
 * holds a private key or the DigitalOcean token: it is readable from the droplet's
 * metadata service by anything running on it.
 */

export interface CloudInitOptions {
  /** The agent's login; a POSIX user name. */
  agentUser: string;
  installDocker: boolean;
}

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
/** DigitalOcean's limit on user_data. */
export const USER_DATA_LIMIT = 64 * 1024;

export function buildCloudInit(options: CloudInitOptions): string {
  if (!USER_NAME.test(options.agentUser)) {
    throw new TypeError(`"${options.agentUser}" is not a valid user name for the agent`);
  }
  const user = options.agentUser;
  const lines = [
    '#!/bin/sh',
    '# berth tool environment bootstrap. Safe to run again: every step checks first.',
    'set -eu',
    `id -u ${user} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash ${user}`,
    `install -d -m 700 -o ${user} -g ${user} /home/${user}/.ssh`,
    '# The keys DigitalOcean installed for root at creation: the owner’s keys, nothing else.',
    `install -m 600 -o ${user} -g ${user} /root/.ssh/authorized_keys /home/${user}/.ssh/authorized_keys`,
  ];
  if (options.installDocker) {
    lines.push(
      'if ! command -v docker >/dev/null 2>&1; then',
      '  export DEBIAN_FRONTEND=noninteractive',
      '  apt-get update -q && apt-get install -y -q docker.io',
      'fi',
      `usermod -aG docker ${user}`,
    );
  }
  lines.push('touch /var/lib/berth-bootstrap-done', '');
  return lines.join('\n');
}
