#!/usr/bin/env bash
# Boot test of the EC2 appliance image: boots it under QEMU with a NoCloud seed (cloud-init
# user-data writes /etc/ipsecgw/ipsecgw.toml, exactly as EC2 user-data would), its NIC a tap
# device inside a network namespace created here, where strongSwan (charon + kernel-libipsec)
# plays the Azure VPN Gateway with Azure's default policy. The VM runs the packaged unit as
# shipped (Type=notify, WatchdogSec=30s). A reporter in the VM (lib/boot-test-reporter.sh)
# prints what it sees on the serial console; this script asserts, from those lines:
#   - ipsecgw.service active (Type=notify: systemd got READY=1), Type=notify and a non-zero
#     WatchdogUSec in `systemctl show`, StatusText "1/1 tunnels established...";
#   - local_addrs/local_id = "auto" resolved through IMDSv2 (a fake one in the namespace:
#     token PUT, then GETs carrying it) to the private address and the "Elastic IP";
#   - the tunnel ESTABLISHED in `ipsecgw status` and a ping through it, both ways;
#   - the Prometheus endpoint (metrics_listen) reports the tunnel up and the pings counted;
#   - journal entries with the TUNNEL= field, /etc/ipsecgw 0700 and the config 0600,
#     ip_forward=1, rp_filter=2, fib_multipath_hash_policy=1;
#   - `systemctl reload ipsecgw` keeps the IKE SA (same SPIs) and the unit active;
#   - WATCHDOG=1 reaches systemd (its WatchdogTimestamp advances), no restart until then;
#   - after `kill -9` of the main PID systemd restarts it (NRestarts >= 1) and the tunnel is
#     ESTABLISHED again with a ping across.
# All in one boot. The PASS line carries the timings and the raw image's size.
#
# Usage (root): appliance/test-boot.sh [--skip-if-slow]
#   --skip-if-slow / IPSECGW_BOOT_TEST=auto  skip (exit 0) unless KVM works
#   IPSECGW_BOOT_ACCEL=auto|kvm|tcg          auto (default): KVM when a KVM guest really boots,
#                                            else TCG; kvm: fail without KVM; tcg: never KVM
#   IPSECGW_KVM_PROBE_TIMEOUT=SECONDS        how long the KVM probe boot may take (default 20)
#   IPSECGW_BOOT_TEST=0                      skip (exit 0)
#   IPSECGW_IMAGE=FILE                       boot this raw image instead of building one
#   IPSECGW_BOOT_TIMEOUT=SECONDS             give up after this long (default 900)
#   CARGO_TARGET_DIR                         the .deb, image and logs go to $CARGO_TARGET_DIR/appliance
#                                            (default target/appliance)
# Everything (namespace, tap, charon, qemu) is torn down on exit, also on failure.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
mode="${IPSECGW_BOOT_TEST:-1}"
[ "${1:-}" = "--skip-if-slow" ] && mode=auto
log() { echo "test-boot: $(date +%T) $*" >&2; }

if [ "$mode" = 0 ]; then log "skipped (IPSECGW_BOOT_TEST=0)"; exit 0; fi
# KVM only when a KVM guest really runs: /dev/kvm can exist where nested virtualisation does
# not work (e.g. a guest whose firmware runs but that hangs at the boot sector). Two probes: a
# cheap one here (SeaBIOS prints its banner on the debug console), and once the image exists,
# booting it until GRUB or the kernel speaks on the serial console (kvm_boots below).
accel_want="${IPSECGW_BOOT_ACCEL:-auto}"
kvm=0
if [ "$accel_want" != tcg ] && [ -w /dev/kvm ] && command -v qemu-system-x86_64 >/dev/null; then
  probe="$(timeout 5 qemu-system-x86_64 -accel kvm -M pc -display none -monitor none -nodefaults \
    -debugcon stdio -global isa-debugcon.iobase=0x402 2>/dev/null || true)"
  case "$probe" in *SeaBIOS*) kvm=1 ;; esac
fi
no_kvm() {
  if [ "$accel_want" = kvm ]; then log "IPSECGW_BOOT_ACCEL=kvm but KVM does not work here: $1"; exit 1; fi
  if [ "$mode" = auto ]; then log "skipped: --skip-if-slow and KVM does not work here ($1)"; exit 0; fi
  log "TCG: KVM does not work here ($1)"
}
[ "$kvm" = 1 ] || no_kvm "no /dev/kvm, or no KVM guest starts"
if [ "$(id -u)" -ne 0 ]; then log "must run as root"; exit 1; fi

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v genisoimage >/dev/null || need+=(genisoimage)
command -v python3 >/dev/null || need+=(python3)
[ -x /usr/lib/ipsec/charon ] || need+=(strongswan-charon libcharon-extra-plugins libstrongswan-standard-plugins libstrongswan-extra-plugins)
command -v swanctl >/dev/null || need+=(strongswan-swanctl)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Outputs (and the build's cargo target dir) follow CARGO_TARGET_DIR, made absolute.
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;; esac
  export CARGO_TARGET_DIR
fi
out="${CARGO_TARGET_DIR:-$root/target}/appliance"

t_start=$(date +%s)
image="${IPSECGW_IMAGE:-}"
if [ -z "$image" ]; then
  log "building the image (cached base)"
  image="$(IPSECGW_NO_VMDK=1 "$here/build-image.sh" | tail -n1)"
fi
image="$(realpath "$image")"
t_built=$(date +%s)
log "image $image ready after $((t_built - t_start)) s"

# Per-run names and scratch space.
id="$$-$RANDOM"
ns="ipsecgw-boot-$id"
tap="tapgw0"
work="$(mktemp -d /tmp/ipsecgw-boot.XXXXXX)"
chmod 700 "$work"
console="$work/console.log"
qemu_pid=""
charon_pid=""
imds_pid=""
cleanup() {
  local rc=$? p
  for p in "$qemu_pid" "$charon_pid" "$imds_pid"; do
    if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi
  done
  sleep 1
  for p in "$qemu_pid" "$charon_pid" "$imds_pid"; do
    if [ -n "$p" ]; then kill -9 "$p" 2>/dev/null || true; fi
  done
  ip netns del "$ns" 2>/dev/null || true
  mkdir -p "$out"
  [ -f "$console" ] && cp "$console" "$out/boot-test-console.log"
  [ -f "$work/charon.log" ] && cp "$work/charon.log" "$out/boot-test-charon.log"
  [ -f "$work/imds.log" ] && cp "$work/imds.log" "$out/boot-test-imds.log"
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# kvm_boots IMAGE: boots IMAGE (throw-away overlay) under KVM for up to
# IPSECGW_KVM_PROBE_TIMEOUT seconds (default 20); true once GRUB or the kernel prints on the
# serial console (under a working KVM that takes 1-3 s).
kvm_boots() {
  local dir="$work/kvm-probe" ok=1 i
  mkdir "$dir"
  qemu-img create -q -f qcow2 -b "$1" -F raw "$dir/disk.qcow2"
  : > "$dir/serial"
  qemu-system-x86_64 -accel kvm -m 512 -display none -monitor none -no-reboot \
    -serial "file:$dir/serial" -drive "file=$dir/disk.qcow2,if=virtio,format=qcow2" -nic none \
    >/dev/null 2>&1 &
  qemu_pid=$!
  for ((i = 0; i < ${IPSECGW_KVM_PROBE_TIMEOUT:-20} * 2; i++)); do
    if grep -qa 'GRUB\|Linux version' "$dir/serial"; then ok=0; break; fi
    kill -0 "$qemu_pid" 2>/dev/null || break
    sleep 0.5
  done
  kill "$qemu_pid" 2>/dev/null || true
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=""
  rm -rf "$dir"
  return "$ok"
}
if [ "$kvm" = 1 ]; then
  t_probe=$(date +%s)
  if kvm_boots "$image"; then
    log "KVM works (the image reached GRUB in $(( $(date +%s) - t_probe )) s)"
  else
    kvm=0
    no_kvm "the KVM guest printed nothing on its serial console in ${IPSECGW_KVM_PROBE_TIMEOUT:-20} s"
  fi
fi

# Addresses: TEST-NET-3 underlay (the VM plays the EC2 instance, private address 203.0.113.10;
# strongSwan the Azure gateway, 203.0.113.20); 10.0.0.0/16 behind the VM (10.0.0.1 on its lo),
# 10.1.0.0/16 behind Azure (10.1.0.1 on the namespace's lo). The instance's "Elastic IP",
# 198.51.100.10, is only an identity here: the fake IMDS hands it out as public-ipv4, the VM's
# config says local_id = "auto", and strongSwan (like Azure's local network gateway) expects it.
vm_ip=203.0.113.10
vm_eip=198.51.100.10
az_ip=203.0.113.20
imds_ip=169.254.169.254
psk="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
mac="52:54:00:$(printf '%02x:%02x:%02x' $((RANDOM % 256)) $((RANDOM % 256)) $((RANDOM % 256)))"

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev "$tap" mode tap
ip -n "$ns" addr add "$az_ip/24" dev "$tap"
ip -n "$ns" link set "$tap" up
ip -n "$ns" addr add 10.1.0.1/32 dev lo
ip -n "$ns" addr add "$imds_ip/32" dev lo

# The instance metadata service (IMDSv2, tokens required), reached by the VM through a route
# via the namespace (network-config below), as on EC2.
ip netns exec "$ns" python3 "$here/lib/fake-imds.py" "$imds_ip" 80 "$vm_ip" "$vm_eip" "$work/imds.log" \
  >"$work/imds.out" 2>&1 &
imds_pid=$!

# strongSwan as Azure's default route-based S2S policy.
mkdir -p "$work/run"
cat > "$work/strongswan.conf" <<CONF
charon {
  load = random nonce openssl gmp pem pkcs1 x509 pubkey kdf kernel-libipsec kernel-netlink socket-default vici
  routing_table_prio = 40000
  install_virtual_ip = no
  port = 500
  port_nat_t = 4500
  plugins {
    vici {
      socket = unix://$work/run/charon.vici
    }
  }
  syslog {
  }
  filelog {
    main {
      path = $work/charon.log
      time_format = %T
      append = no
      flush_line = yes
      default = 1
      ike = 2
    }
  }
}
swanctl {
  load = pem pkcs1 x509 pubkey
}
CONF
cat > "$work/swanctl.conf" <<CONF
connections {
  azure {
    version = 2
    local_addrs = $az_ip
    remote_addrs = $vm_ip
    proposals = aes256-sha256-modp1024, aes256-sha1-modp1024, aes128-sha1-modp1024, aes128-sha256-modp1024
    rekey_time = 28800s
    dpd_delay = 10s
    mobike = no
    encap = yes
    local {
      auth = psk
      id = $az_ip
    }
    remote {
      auth = psk
      id = $vm_eip
    }
    children {
      vnet {
        local_ts = 0.0.0.0/0
        remote_ts = 0.0.0.0/0
        esp_proposals = aes256gcm16, aes256-sha1, aes256-sha256, aes128-sha1
        life_time = 27000s
        rekey_time = 25000s
        dpd_action = clear
        start_action = none
      }
    }
  }
}
secrets {
  ike-azure {
    id-1 = $az_ip
    id-2 = $vm_eip
    secret = "$psk"
  }
}
CONF
# shellcheck disable=SC2016 # $1 belongs to the inner sh
STRONGSWAN_CONF="$work/strongswan.conf" ip netns exec "$ns" unshare -m --propagation private \
  sh -c 'mount --bind "$1" /run && exec /usr/lib/ipsec/charon' sh "$work/run" \
  >"$work/charon.out" 2>&1 &
charon_pid=$!
for _ in $(seq 1 50); do [ -S "$work/run/charon.vici" ] && break; sleep 0.2; done
swanctl --load-all --file "$work/swanctl.conf" --uri "unix://$work/run/charon.vici" >"$work/swanctl.out" 2>&1 \
  || { cat "$work/swanctl.out" >&2; exit 1; }
for _ in $(seq 1 25); do ip -n "$ns" link show ipsec0 >/dev/null 2>&1 && break; sleep 0.2; done
ip -n "$ns" route add 10.0.0.0/16 dev ipsec0
log "strongSwan (pid $charon_pid) listening on $az_ip in namespace $ns"

# The NoCloud seed: what an operator would put in EC2 user-data, plus a reporter that prints
# the results on the serial console.
mkdir -p "$work/seed"
cat > "$work/seed/meta-data" <<META
instance-id: ipsecgw-boot-$id
local-hostname: ipsecgw-boot
META
cat > "$work/seed/network-config" <<NET
version: 2
ethernets:
  uplink:
    match:
      macaddress: "$mac"
    addresses: [ $vm_ip/24 ]
    routes:
      - to: $imds_ip/32
        via: $az_ip
NET
# The seed's user-data: the #cloud-config an operator would give EC2, plus the reporter.
{
  cat <<UD
#cloud-config
write_files:
  - path: /etc/ipsecgw/ipsecgw.toml
    owner: root:root
    permissions: '0600'
    content: |
      [daemon]
      control_socket = "/run/ipsecgw/control.sock"
      metrics_listen = "127.0.0.1:9814"
      log_level = "info"
      [connections.azure]
      remote_addrs = ["$az_ip"]
      local_addrs = ["auto"]
      local_id = "auto"
      psk = "$psk"
      profile = "azure-default"
      mode = "both"
      start_action = "start"
      dpd_delay = "10s"
      dpd_timeout = "45s"
      mtu = 1400
      mss_clamp = 1350
      tun_name = "ipsecgw0"
      [connections.azure.children.vnet]
      local_ts = ["10.0.0.0/16"]
      remote_ts = ["10.1.0.0/16"]
  - path: /usr/local/sbin/ipsecgw-boot-report
    permissions: '0755'
    content: |
UD
  sed 's/^/      /' "$here/lib/boot-test-reporter.sh"
  cat <<'UD'
runcmd:
  - [ systemd-run, --unit=ipsecgw-boot-report, /usr/local/sbin/ipsecgw-boot-report ]
UD
} > "$work/seed/user-data"
genisoimage -quiet -output "$work/seed.iso" -volid cidata -joliet -rock \
  "$work/seed/user-data" "$work/seed/meta-data" "$work/seed/network-config"
qemu-img create -q -f qcow2 -b "$image" -F raw "$work/disk.qcow2"

accel=tcg
[ "$kvm" = 1 ] && accel=kvm
: > "$console"
ip netns exec "$ns" qemu-system-x86_64 -accel "$accel" -m 1024 -smp 2 \
  -display none -monitor none -serial "file:$console" -no-reboot \
  -drive "file=$work/disk.qcow2,if=virtio,format=qcow2" \
  -drive "file=$work/seed.iso,media=cdrom,format=raw,readonly=on" \
  -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
  -device "virtio-net-pci,netdev=n0,mac=$mac" \
  >"$work/qemu.out" 2>&1 &
qemu_pid=$!
t_boot=$(date +%s)
log "booting (qemu pid $qemu_pid, $accel); serial console -> $out/boot-test-console.log"

timeout="${IPSECGW_BOOT_TIMEOUT:-900}"
seen_login="" seen_active="" seen_ping="" seen_reload="" seen_restart=""
while :; do
  now=$(date +%s)
  if ! kill -0 "$qemu_pid" 2>/dev/null; then log "qemu exited"; cat "$work/qemu.out" >&2; break; fi
  if [ -z "$seen_login" ] && grep -qa 'Reached target.*Multi-User\|login:' "$console"; then
    seen_login=$now; log "systemd reached multi-user after $((now - t_boot)) s"
  fi
  if [ -z "$seen_active" ] && grep -qa 'IPSECGW-TEST ACTIVE' "$console"; then
    seen_active=$now; log "ipsecgw active and tunnel ESTABLISHED after $((now - t_boot)) s"
  fi
  if [ -z "$seen_ping" ] && grep -qa 'IPSECGW-TEST PING-OK' "$console"; then
    seen_ping=$now; log "ping through the tunnel after $((now - t_boot)) s"
  fi
  if [ -z "$seen_reload" ] && grep -qa 'IPSECGW-TEST RELOAD-PING' "$console"; then
    seen_reload=$now; log "reload checked after $((now - t_boot)) s"
  fi
  if [ -z "$seen_restart" ] && grep -qa 'IPSECGW-TEST RESTARTED' "$console"; then
    seen_restart=$now; log "restarted after kill -9 and ESTABLISHED again after $((now - t_boot)) s"
  fi
  grep -qa 'IPSECGW-TEST DONE' "$console" && break
  if [ $((now - t_boot)) -ge "$timeout" ]; then log "timed out after $timeout s"; break; fi
  sleep 3
done

# The value of the reporter's last "IPSECGW-TEST KEY value" line ("" if none).
field() {
  tr -d '\r' < "$console" | sed -n "s/^.*IPSECGW-TEST $1\\( \\|$\\)//p" | tail -n1
}
fail=0
check() { # check DESCRIPTION VALUE COMMAND...: passes when COMMAND succeeds
  local what="$1" value="$2"
  shift 2
  if "$@"; then
    log "ok: $what ($value)"
  else
    log "FAIL: $what (got '$value')"
    fail=1
  fi
}
seen() { grep -qa "IPSECGW-TEST $1" "$console"; }
tr -d '\r' < "$console" | sed -n '/IPSECGW-TEST BEGIN-STATUS/,/IPSECGW-TEST DONE/p' >&2 || true

# 1. First boot.
check "ipsecgw active with the tunnel ESTABLISHED" "$(field ACTIVE)" seen 'ACTIVE '
v="$(field LOCAL-ENDPOINT)"
check "local_id/local_addrs \"auto\" from IMDS: identity $vm_eip, bound to $vm_ip" "$v" \
  eval 'case "$v" in "'"'"'$vm_eip'"'"' @ $vm_ip:"*) true ;; *) false ;; esac'
imds="$(tr '\n' ';' < "$work/imds.log" 2>/dev/null || true)"
check "IMDSv2 session: token PUT, then GETs with the token only" "$imds" \
  eval 'case "$imds" in "PUT /latest/api/token ttl="*) true ;; *) false ;; esac &&
    grep -q "^GET /latest/meta-data/local-ipv4 token=ok 200" "$work/imds.log" &&
    grep -q "^GET /latest/meta-data/public-ipv4 token=ok 200" "$work/imds.log" &&
    ! grep -q " 40[01]$" "$work/imds.log"'
check "ping from the VM through the tunnel" "$(field PING-OK)" seen 'PING-OK'
v="$(field UNIT-TYPE)"; check "unit Type=notify" "$v" test "$v" = notify
v="$(field WATCHDOG-USEC)"
check "unit WatchdogUSec non-zero" "$v" eval '[ -n "$v" ] && [ "$v" != 0 ] && [ "$v" != infinity ]'
v="$(field ACTIVE-STATE)"; check "ActiveState" "$v" test "$v" = active
v="$(field STATUSTEXT)"
check "StatusText reports the tunnel established" "$v" eval 'case "$v" in "1/1 tunnels established"*) true ;; *) false ;; esac'
v="$(field JOURNAL-FIELDS)"
check "journal entries with the TUNNEL= field" "$v" eval '[ "${v:-0}" -gt 0 ] 2>/dev/null'
v="$(field CONFIG-MODE)"; v="${v% }"
check "/etc/ipsecgw 0700, ipsecgw.toml 0600, root-owned" "$v" test "$v" = "700 root 600 root"
v="$(field SYSCTL)"; v="${v% }"
check "ip_forward rp_filter fib_multipath_hash_policy" "$v" test "$v" = "1 2 1"
v="$(field METRIC-UP)"; check "Prometheus ipsecgw_tunnel_up{tunnel=\"azure\"}" "$v" test "$v" = 1
v="$(field METRIC-PACKETS-IN)"
check "Prometheus ipsecgw_packets_total{direction=\"in\"} counts the pings" "$v" eval '[ "${v:-0}" -gt 0 ] 2>/dev/null'
log "systemd-analyze security: $(field SECURITY)"
v="$(field WORKERS)"
check "the unit lets the fast-path workers use SCHED_FIFO (CAP_SYS_NICE, RestrictRealtime=no)" "$v" \
  eval 'case "$v" in "workers: SCHED_FIFO 10 while loaded"*) true ;; *) false ;; esac'

# 2. Reload.
before="$(field RELOAD-BEFORE)" after="$(field RELOAD-AFTER)"
v="$(field RELOAD-RC)"; check "systemctl reload ipsecgw exit status" "$v" test "$v" = 0
v="$(field RELOAD-STATE)"; check "active after the reload" "$v" test "$v" = active
check "IKE SA kept across the reload" "$before -> $after" \
  eval '[ "$before" = "$after" ] && case "$after" in "azure: ESTABLISHED, IKEv2, "*) true ;; *) false ;; esac'
check "ping through the tunnel after the reload" "$(field RELOAD-PING-OK)" seen 'RELOAD-PING-OK'

# 3. Watchdog.
v="$(field WATCHDOG-TS)"
read -r wd1 wd2 <<< "${v:-x x}"
check "WATCHDOG=1 reaches systemd (WatchdogTimestampMonotonic advances)" "$v" \
  eval '[ "$wd1" -gt 0 ] 2>/dev/null && [ "$wd2" -gt "$wd1" ] 2>/dev/null'
v="$(field NRESTARTS-BEFORE-KILL)"; check "no restart before the kill" "$v" test "$v" = 0

# 4. kill -9 and Restart=on-failure.
killed="$(field KILLED)"; killed="${killed%% *}"
restarted="$(field RESTARTED)"
new_pid="$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<< "$restarted")"
nrestarts="$(sed -n 's/.*nrestarts=\([0-9]*\).*/\1/p' <<< "$restarted")"
check "systemd restarted the killed daemon (new PID, NRestarts >= 1, active, ESTABLISHED)" \
  "killed ${killed:-?}, $restarted" \
  eval '[ -n "$new_pid" ] && [ "$new_pid" != "$killed" ] && [ "${nrestarts:-0}" -ge 1 ] && case "$restarted" in *state=active*) true ;; *) false ;; esac'
check "ping through the tunnel after the restart" "$(field RESTART-PING-OK)" seen 'RESTART-PING-OK'

# The other direction, from the Azure side (after the restart, so through the new SAs).
if ip netns exec "$ns" ping -c 3 -i 0.5 -W 3 -I 10.1.0.1 10.0.0.1 >/dev/null; then
  log "ok: ping from the Azure side to the VM's inside address"
else
  log "FAIL: no ping from the namespace to the VM's inside address"; fail=1
fi
swanctl --list-sas --uri "unix://$work/run/charon.vici" >&2 || true
if [ "$fail" != 0 ]; then
  log "last console lines:"; tail -n 60 "$console" | tr -d '\r' >&2
  log "charon log tail:"; tail -n 20 "$work/charon.log" >&2 || true
  exit 1
fi
raw_bytes="$(stat -c %s "$image")"
alloc_bytes="$(( $(stat -c %b "$image") * $(stat -c %B "$image") ))"
since() { if [ -n "$1" ]; then echo "$(($1 - t_boot)) s"; else echo "?"; fi; }
log "PASS ($accel): build/cache $((t_built - t_start)) s; after power-on: multi-user $(since "$seen_login"), established $(since "$seen_active"), ping $(since "$seen_ping"), reload checked $(since "$seen_reload"), restarted after kill -9 $(since "$seen_restart"); total $(( $(date +%s) - t_start )) s; raw image $(numfmt --to=iec "$raw_bytes") virtual, $(numfmt --to=iec "$alloc_bytes") allocated ($image)"
