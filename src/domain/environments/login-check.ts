/**
 * The login check berth installs on its droplets: sshd asks berth, at every login, which
 * keys may log in, so a key added in berth works at the next login and a deleted one no
 * longer does. This module holds what the user_data puts on the droplet for it (an sshd
 * drop-in, the command sshd runs, its settings and the droplet's credential), as plain
 * values; cloud-init.ts places them.
 *
 * The command runs as `berth-keys`, an unprivileged system user that exists only for it.
 * It asks berth's droplet API with the droplet's credential (read by curl from a file
 * only that user can read, never on a command line, which anything on the droplet can
 * see), with a short total timeout so sshd never waits long on berth. A good answer is
 * kept in a cache only that user (and root) can read; when berth cannot be reached the
 * cache answers while it is younger than the grace period, and past it nothing does
 * (fail closed). When berth refuses the credential (revoked, unknown) the cache is
 * dropped at once. The create-time `authorized_keys` files are switched off
 * (`AuthorizedKeysFile none`), or a deleted key would still open the droplet through
 * them; the first boot seeds the cache with those keys instead, so a droplet that cannot
 * reach berth at its first login still admits its owner for the grace period.
 */

/** The unprivileged user sshd runs the command as. */
export const LOGIN_CHECK_USER = 'berth-keys';
export const LOGIN_CHECK_COMMAND = '/usr/local/sbin/berth-authorized-keys';
/** sshd reads the first value it meets, drop-ins in name order before sshd_config: this one is first. */
export const LOGIN_CHECK_DROP_IN = '/etc/ssh/sshd_config.d/10-berth-login-check.conf';
export const LOGIN_CHECK_SETTINGS = '/etc/berth/login-check.conf';
/** The curl header line carrying the credential; readable by `berth-keys` only. */
export const LOGIN_CHECK_CREDENTIAL = '/etc/berth/droplet-credential';
/** The operator's fallback keys a deploy used, if it used them: always admitted, like a break-glass. */
export const LOGIN_CHECK_FALLBACK_KEYS = '/etc/berth/fallback-keys';
export const LOGIN_CHECK_CACHE_DIR = '/var/lib/berth-keys';
export const LOGIN_CHECK_CACHE = `${LOGIN_CHECK_CACHE_DIR}/authorized_keys`;
/** The droplet API's path for a droplet's login keys. */
export const AUTHORIZED_KEYS_PATH = '/droplet/v1/authorized-keys';

/** The longest the command waits for berth, in seconds: sshd waits for the command. */
export const LOGIN_CHECK_TIMEOUT_SECONDS = 3;

export interface LoginCheckOptions {
  /** berth's droplet API as droplets reach it, without a trailing slash. */
  url: string;
  /** The droplet's credential (the bearer token). */
  credential: string;
  /** How long the last good answer stands in for berth when berth cannot be reached. */
  graceSeconds: number;
  /** The logins berth answers for (root and the agent's user); any other gets nothing. */
  logins: string[];
  /** The deploy fell back to the operator's keys: keep them, they are the operator's. */
  usedFallbackKeys: boolean;
}

const URL_TEXT = /^https?:\/\/[A-Za-z0-9.[\]:-]+(\/[A-Za-z0-9._~/-]*)?$/;
const CREDENTIAL_TEXT = /^[A-Za-z0-9_-]{16,200}$/;
const LOGIN_TEXT = /^[a-z_][a-z0-9_-]{0,31}$/;

export function checkLoginCheckOptions(o: LoginCheckOptions): void {
  if (!URL_TEXT.test(o.url)) throw new TypeError(`"${o.url}" is not a URL the login check can use`);
  if (!CREDENTIAL_TEXT.test(o.credential)) throw new TypeError('the droplet credential is malformed');
  if (!Number.isInteger(o.graceSeconds) || o.graceSeconds < 0) {
    throw new TypeError('the grace period must be a whole number of seconds, 0 or more');
  }
  for (const login of o.logins) {
    if (!LOGIN_TEXT.test(login)) throw new TypeError(`"${login}" is not a valid login`);
  }
}

export const loginCheckDropIn = (): string =>
  [
    '# berth: keys are checked against berth at each login; the files are not read.',
    'AuthorizedKeysFile none',
    `AuthorizedKeysCommand ${LOGIN_CHECK_COMMAND} %u`,
    `AuthorizedKeysCommandUser ${LOGIN_CHECK_USER}`,
    '',
  ].join('\n');

export const loginCheckSettings = (o: LoginCheckOptions): string =>
  [
    '# berth login check settings (the command sources this file).',
    `BERTH_URL='${o.url}'`,
    `BERTH_GRACE_SECONDS=${o.graceSeconds}`,
    `BERTH_TIMEOUT_SECONDS=${LOGIN_CHECK_TIMEOUT_SECONDS}`,
    '',
  ].join('\n');

export const loginCheckCredential = (o: LoginCheckOptions): string =>
  `Authorization: Bearer ${o.credential}\n`;

/**
 * The command. POSIX sh plus curl (on DigitalOcean's images and in the emulator's), GNU
 * `stat` for the cache's age. Its output is what sshd takes as authorized_keys; it always
 * exits 0, so an empty output (nobody) is the only refusal sshd sees.
 */
export const loginCheckScript = (o: LoginCheckOptions): string => `#!/bin/sh
# berth: sshd's AuthorizedKeysCommand, run as ${LOGIN_CHECK_USER}. Prints the keys that may
# log in as $1: berth's answer, else (berth unreachable) the last good answer while it is
# younger than the grace period, else nothing. Never waits on berth longer than the timeout.
umask 077
case "\${1:-}" in
${o.logins.map((l) => `  ${l}) ;;`).join('\n')}
  *) exit 0 ;;
esac
. ${LOGIN_CHECK_SETTINGS}
[ -r ${LOGIN_CHECK_FALLBACK_KEYS} ] && cat ${LOGIN_CHECK_FALLBACK_KEYS}
cache=${LOGIN_CHECK_CACHE}
answer=${LOGIN_CHECK_CACHE_DIR}/answer.$$
trap 'rm -f "$answer"' EXIT
code=$(curl --silent --proto =http,https --max-time "$BERTH_TIMEOUT_SECONDS" \\
  --connect-timeout "$BERTH_TIMEOUT_SECONDS" -H @${LOGIN_CHECK_CREDENTIAL} \\
  --output "$answer" --write-out '%{http_code}' "$BERTH_URL${AUTHORIZED_KEYS_PATH}?user=$1")
case "$code" in
  200)
    mv -f "$answer" "$cache" && cat "$cache"
    exit 0 ;;
  401|403)
    # berth refuses this droplet: what it said before must not let anyone in later.
    rm -f "$cache"
    exit 0 ;;
esac
[ -f "$cache" ] || exit 0
age=$(( $(date +%s) - $(stat -c %Y "$cache") ))
[ "$age" -le "$BERTH_GRACE_SECONDS" ] && cat "$cache"
exit 0
`;
