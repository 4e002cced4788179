#!/usr/bin/env bash
# Builds the ipsecgw EC2 appliance: a bootable Debian 12 (bookworm) disk image, BIOS/MBR with
# GRUB, linux-image-cloud-amd64 (ENA, NVMe, Xen drivers), cloud-init, chrony, OpenSSH and the
# ipsecgw package, from Debian's own packages (mmdebstrap). One command, as root:
#
#   appliance/build-image.sh            -> target/appliance/ipsecgw-debian12-amd64.{raw,vmdk}
#
# The VMDK (streamOptimized) is what `aws ec2 import-snapshot` takes (docs/aws-import.md).
# Environment:
#   IPSECGW_DEB=FILE            use this .deb instead of building one (appliance/build-deb.sh)
#   IPSECGW_APPLIANCE_CACHE=DIR cache (default /var/cache/ipsecgw-appliance): the mmdebstrap
#                               tarball, keyed on the package list and options
#   IPSECGW_IMAGE_OUT=DIR       output directory (default $CARGO_TARGET_DIR/appliance, or
#                               target/appliance without CARGO_TARGET_DIR)
#   IPSECGW_IMAGE_REFRESH=1     rebuild the cached base tarball (e.g. for security updates)
#   IPSECGW_NO_VMDK=1           skip the VMDK (the boot test only needs the raw image)
#   DEBIAN_MIRROR=URL           default http://deb.debian.org/debian
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${IPSECGW_APPLIANCE_CACHE:-/var/cache/ipsecgw-appliance}"
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;; esac
  export CARGO_TARGET_DIR
fi
out="${IPSECGW_IMAGE_OUT:-${CARGO_TARGET_DIR:-$root/target}/appliance}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
name="ipsecgw-debian12-amd64"
log() { echo "build-image: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (mmdebstrap root mode, chroot, device nodes)"
  exit 1
fi
mkdir -p "$cache" "$out"

# Host tools (Debian package names).
need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v sfdisk >/dev/null || need+=(fdisk)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v python3 >/dev/null || need+=(python3)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The package (built unless given).
deb="${IPSECGW_DEB:-}"
if [ -z "$deb" ]; then
  deb="$("$here/build-deb.sh")"
fi
[ -f "$deb" ] || { log "no package at $deb"; exit 1; }

# The base system: Debian packages only, no recommends. Cached: the key covers everything that
# goes into the tarball.
packages=(
  systemd-sysv systemd-resolved udev dbus kmod
  linux-image-cloud-amd64 initramfs-tools grub-pc
  cloud-init cloud-guest-utils
  chrony openssh-server sudo
  iproute2 iputils-ping procps less ca-certificates
)
# The hooks' "$1" (the chroot) is expanded by mmdebstrap, not here.
# shellcheck disable=SC2016
mm_opts=(
  --variant=apt
  --aptopt='APT::Install-Recommends "false"'
  --aptopt='APT::Install-Suggests "false"'
  --aptopt='Acquire::Languages "none"'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-include=/usr/share/doc/ipsecgw/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/man/??/*'
  --dpkgopt='path-exclude=/usr/share/man/??_*/*'
  # GRUB goes into the image file below (lib/grub-embed.py); on the instance, upgrades of
  # grub-pc must not ask for a disk either (update-grub still runs after kernel upgrades).
  --essential-hook='mkdir -p "$1/var/cache/debconf"'
  --customize-hook='echo "grub-pc grub-pc/install_devices_empty boolean true" | chroot "$1" debconf-set-selections'
  --customize-hook='echo "grub-pc grub-pc/install_devices multiselect" | chroot "$1" debconf-set-selections'
)
sources=(
  "deb $mirror bookworm main"
  "deb $mirror bookworm-updates main"
  "deb $security_mirror bookworm-security main"
)
key="$(printf '%s\n' "v1" "${packages[@]}" "${mm_opts[@]}" "${sources[@]}" | sha256sum | cut -c1-16)"
tarball="$cache/bookworm-base-$key.tar"
if [ -n "${IPSECGW_IMAGE_REFRESH:-}" ]; then rm -f "$tarball"; fi
if [ ! -f "$tarball" ]; then
  log "mmdebstrap bookworm (${#packages[@]} packages) -> $tarball"
  t0=$(date +%s)
  mmdebstrap --mode=root --format=tar "${mm_opts[@]}" \
    --include="$(IFS=,; echo "${packages[*]}")" \
    bookworm "$tarball.tmp" "${sources[@]}"
  mv "$tarball.tmp" "$tarball"
  log "base tarball built in $(( $(date +%s) - t0 )) s ($(du -h "$tarball" | cut -f1))"
else
  log "using cached base $tarball"
fi

# Work area, removed on exit (also on failure).
work="$(mktemp -d "$out/build.XXXXXX")"
mounted=()
cleanup() {
  local m
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
rootfs="$work/rootfs"
mkdir "$rootfs"
tar -C "$rootfs" --numeric-owner -xpf "$tarball"

in_root() { chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
mount -t proc proc "$rootfs/proc"; mounted+=("$rootfs/proc")

# ipsecgw.
cp "$deb" "$rootfs/tmp/ipsecgw.deb"
in_root dpkg -i /tmp/ipsecgw.deb >/dev/null
rm -f "$rootfs/tmp/ipsecgw.deb"
in_root ipsecgw --version >&2

uuid="$(cat /proc/sys/kernel/random/uuid)"
kver="$(find "$rootfs/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)"
cmdline="console=tty0 console=ttyS0,115200n8 nvme_core.io_timeout=4294967295"

# Identity: empty machine-id (systemd makes one on first boot), no SSH host keys (cloud-init
# makes them), the hostname from cloud-init.
: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id" "$rootfs"/etc/ssh/ssh_host_*
echo ipsecgw > "$rootfs/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$rootfs/etc/hosts"
printf 'UUID=%s\t/\text4\trw,discard,errors=remount-ro\t0\t1\n' "$uuid" > "$rootfs/etc/fstab"

# Network: systemd-networkd (cloud-init renders to it when ifupdown/netplan are absent).
in_root systemctl enable systemd-networkd.service systemd-resolved.service >/dev/null 2>&1
ln -sf ../run/systemd/resolve/stub-resolv.conf "$rootfs/etc/resolv.conf"

# cloud-init: only NoCloud (tests) and EC2; user-data writes /etc/ipsecgw/ipsecgw.toml.
cat > "$rootfs/etc/cloud/cloud.cfg.d/90-ipsecgw.cfg" <<'CFG'
# ipsecgw appliance: EC2 (IMDSv2) or a NoCloud seed; nothing else is probed.
datasource_list: [ NoCloud, Ec2, None ]
# C.UTF-8 is built into glibc: nothing to generate at first boot.
locale: C.UTF-8
datasource:
  Ec2:
    strict_id: false
    timeout: 5
    max_wait: 60
CFG

# chrony: the Amazon Time Sync Service first (link-local, on every instance).
mkdir -p "$rootfs/etc/chrony/sources.d"
echo 'server 169.254.169.123 prefer iburst minpoll 4 maxpoll 4' > "$rootfs/etc/chrony/sources.d/aws.sources"

# GRUB: configuration for this image, and the same settings for update-grub after kernel
# upgrades on the instance.
cat > "$rootfs/etc/default/grub" <<GRUBDEF
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR="Debian"
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="$cmdline"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
GRUB_DISABLE_OS_PROBER=true
GRUBDEF
mkdir -p "$rootfs/boot/grub/i386-pc"
cp "$rootfs"/usr/lib/grub/i386-pc/*.mod "$rootfs"/usr/lib/grub/i386-pc/*.lst "$rootfs/boot/grub/i386-pc/"
cat > "$rootfs/boot/grub/grub.cfg" <<GRUBCFG
# Written by appliance/build-image.sh; update-grub replaces it after a kernel upgrade.
set default=0
set timeout=1
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
insmod part_msdos
insmod ext2
search --no-floppy --fs-uuid --set=root $uuid
menuentry 'Debian GNU/Linux 12 (ipsecgw appliance)' {
    linux /boot/vmlinuz-$kver root=UUID=$uuid ro $cmdline
    initrd /boot/initrd.img-$kver
}
GRUBCFG
in_root grub-mkimage -O i386-pc -o /tmp/core.img -p '(hd0,msdos1)/boot/grub' \
  biosdisk part_msdos ext2 search search_fs_uuid normal configfile linux echo test serial terminal gzio
mv "$rootfs/tmp/core.img" "$work/core.img"
cp "$rootfs/usr/lib/grub/i386-pc/boot.img" "$work/boot.img"

# Slim down: nothing here is needed at run time.
umount "$rootfs/proc"; mounted=()
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/tmp/* "$rootfs"/var/tmp/* \
  "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old
# dpkg must not keep its own copy of the options mmdebstrap used for the build host.
rm -f "$rootfs/etc/apt/apt.conf.d/99mmdebstrap"

# Filesystem and disk: one ext4 partition from 1 MiB, GRUB's core.img in the gap before it.
used_mb="$(du -sm --apparent-size "$rootfs" | cut -f1)"
disk_gib=$(( (used_mb * 13 / 10 + 256 + 1023) / 1024 ))
[ "$disk_gib" -ge 2 ] || disk_gib=2
raw="$out/$name.raw"
rm -f "$raw" "$raw.tmp"
truncate -s "${disk_gib}G" "$raw.tmp"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$raw.tmp"
part_bytes=$(( disk_gib * 1024 * 1024 * 1024 - 1024 * 1024 ))
truncate -s "$part_bytes" "$work/root.ext4"
mkfs.ext4 -q -F -L rootfs -U "$uuid" -O ^orphan_file -d "$rootfs" "$work/root.ext4" 2>/dev/null \
  || mkfs.ext4 -q -F -L rootfs -U "$uuid" -d "$rootfs" "$work/root.ext4"
dd if="$work/root.ext4" of="$raw.tmp" bs=1M seek=1 conv=notrunc,sparse status=none
python3 "$here/lib/grub-embed.py" "$raw.tmp" "$work/boot.img" "$work/core.img" >&2
mv "$raw.tmp" "$raw"
log "raw: $raw (${disk_gib} GiB virtual, $(du -h "$raw" | cut -f1) allocated, root fs ${used_mb} MB used)"

if [ -z "${IPSECGW_NO_VMDK:-}" ]; then
  vmdk="$out/$name.vmdk"
  qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$raw" "$vmdk.tmp"
  mv "$vmdk.tmp" "$vmdk"
  log "vmdk: $vmdk ($(du -h "$vmdk" | cut -f1))"
fi
echo "$raw"
