/**
 * What a real-host droplet runs as its PID 1, and the "image" settings it boots with.
 *
 * The script is started by `unshare` in fresh mount, PID, UTS and IPC namespaces (inside
 * the droplet's network namespace). It builds the droplet's root: one overlayfs whose
 * lower layer is the machine's `/` (never written) and whose upper layer is the droplet's
 * own directory, plus its own `/root` and `/home`, a tmpfs `/tmp`, `/run` and `/dev`, a
 * `/proc` of its PID namespace and a `/sys` of its network namespace in which DMI says
 * what a DigitalOcean droplet's firmware says (vendor `DigitalOcean`, serial = droplet
 * id), which is how cloud-init recognises the platform. It then pivots into that root,
 * so nothing of the machine's mounts is left reachable, and boots as DigitalOcean's
 * Debian image does without systemd: cloud-init's local and network stages, sshd (the
 * image orders ssh.service after cloud-init's network stage), then the config and final
 * stages. It stays as the namespace's init, reaping orphans, until it is killed, which
 * ends every process of the droplet.
 */

/** Lines the script writes to the console, which the runtime watches for. */
export const CONSOLE_MARKS = {
  sshdStarted: 'emulator: sshd started',
  sshdFailed: 'emulator: sshd exited',
  finished: 'emulator: boot finished',
} as const;

export const BOOT_SCRIPT = `
set -eu
S="$DROPLET_STATE"
R="$S/merged"
log() { echo "emulator: $*"; }
mount -t overlay overlay -o "lowerdir=/,upperdir=$S/upper,workdir=$S/work" "$R"
mount --bind "$S/root" "$R/root"
mount --bind "$S/home" "$R/home"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$R/run"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$S/sys-lower"
mount -t overlay overlay -o "lowerdir=$S/sys-lower,upperdir=$S/sys-upper,workdir=$S/sys-work" "$R/sys"
mount -t tmpfs -o mode=755,nosuid tmpfs "$R/dev"
for n in null zero full random urandom tty; do
  touch "$R/dev/$n"
  mount --bind "/dev/$n" "$R/dev/$n"
done
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$R/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
ln -s pts/ptmx "$R/dev/ptmx"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
touch "$R/dev/console"
mount --bind "$S/console.log" "$R/dev/console"
hostname "$DROPLET_HOSTNAME"
cd "$R"
pivot_root . .
umount -l .
cd /
# A fresh image has no host keys (the first boot makes them) and is not a container.
if [ "$DROPLET_FIRST_BOOT" = 1 ]; then rm -f /.dockerenv /etc/ssh/ssh_host_*; fi
mkdir -p /run/sshd
set +e
for stage in "init --local" "init"; do
  log "cloud-init $stage"
  cloud-init $stage || log "cloud-init $stage exited $?"
done
[ -e /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A
if /usr/sbin/sshd -E /var/log/sshd.log; then log "sshd started"; else log "sshd exited $?"; fi
for stage in "modules --mode config" "modules --mode final"; do
  log "cloud-init $stage"
  cloud-init $stage || log "cloud-init $stage exited $?"
done
log "boot finished"
while :; do
  sleep 3600 &
  wait $! || :
done
`;

/**
 * The image's own cloud-init settings, as DigitalOcean's images carry them in
 * /etc/cloud/cloud.cfg.d: the DigitalOcean datasource (then None), root logins allowed
 * with the create-time keys, no default user. `use_ip4LL` is off because the emulator
 * routes the metadata address itself; cloud-init's link-local setup would flush eth0's
 * address when it is done. The locale is C.UTF-8, which glibc has built in, since the
 * machine's file system (the image) has no other locale generated. The root is an
 * overlay, so there is no partition to grow.
 */
export const IMAGE_CLOUD_CONFIG = `# The emulator's DigitalOcean image settings.
datasource_list: [DigitalOcean, None]
datasource:
  DigitalOcean:
    use_ip4LL: false
    retries: 5
    timeout: 2
    wait_retry: 1
disable_root: false
users: []
locale: C.UTF-8
# The root is an overlay of the machine's file system: nothing to grow or resize.
growpart:
  mode: 'off'
resize_rootfs: false
`;
