#!/usr/bin/env bash
# Boot test of the EC2 appliance image: boots it under QEMU with a NoCloud seed (cloud-init
# user-data writes /etc/ipsecgw/ipsecgw.toml, exactly as EC2 user-data would), its NIC a tap
# device inside a network namespace created here, where strongSwan (charon + kernel-libipsec)
# plays the Azure VPN Gateway with Azure's default policy. Passes when the VM reports, on its
# serial console, ipsecgw.service active, the tunnel ESTABLISHED in `ipsecgw status`, and a
# ping through the tunnel; and when the namespace can ping the VM's inside address back.
#
# Usage (root): appliance/test-boot.sh [--skip-if-slow]
#   --skip-if-slow / IPSECGW_BOOT_TEST=auto  skip (exit 0) unless running under KVM
#   IPSECGW_BOOT_ACCEL=kvm                   use KVM if it works (default: TCG)
#   IPSECGW_BOOT_TEST=0                      skip (exit 0)
#   IPSECGW_IMAGE=FILE                       boot this raw image instead of building one
#   IPSECGW_BOOT_TIMEOUT=SECONDS             give up after this long (default 900)
# Everything (namespace, tap, charon, qemu) is torn down on exit, also on failure.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
mode="${IPSECGW_BOOT_TEST:-1}"
[ "${1:-}" = "--skip-if-slow" ] && mode=auto
log() { echo "test-boot: $(date +%T) $*" >&2; }

if [ "$mode" = 0 ]; then log "skipped (IPSECGW_BOOT_TEST=0)"; exit 0; fi
# TCG unless IPSECGW_BOOT_ACCEL=kvm and a KVM guest really runs (SeaBIOS prints its banner).
kvm=0
if [ "${IPSECGW_BOOT_ACCEL:-tcg}" = kvm ] && [ -w /dev/kvm ] && command -v qemu-system-x86_64 >/dev/null; then
  probe="$(timeout 5 qemu-system-x86_64 -accel kvm -M pc -display none -monitor none -nodefaults \
    -debugcon stdio -global isa-debugcon.iobase=0x402 2>/dev/null || true)"
  case "$probe" in *SeaBIOS*) kvm=1 ;; esac
fi
if [ "$mode" = auto ] && [ "$kvm" = 0 ]; then
  log "skipped: --skip-if-slow and no KVM (IPSECGW_BOOT_ACCEL=kvm); a TCG boot takes minutes"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then log "must run as root"; exit 1; fi

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v genisoimage >/dev/null || need+=(genisoimage)
[ -x /usr/lib/ipsec/charon ] || need+=(strongswan-charon libcharon-extra-plugins libstrongswan-standard-plugins libstrongswan-extra-plugins)
command -v swanctl >/dev/null || need+=(strongswan-swanctl)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

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
cleanup() {
  local rc=$?
  if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; fi
  if [ -n "$charon_pid" ]; then kill "$charon_pid" 2>/dev/null || true; fi
  sleep 1
  if [ -n "$qemu_pid" ]; then kill -9 "$qemu_pid" 2>/dev/null || true; fi
  if [ -n "$charon_pid" ]; then kill -9 "$charon_pid" 2>/dev/null || true; fi
  ip netns del "$ns" 2>/dev/null || true
  mkdir -p "$root/target/appliance"
  [ -f "$console" ] && cp "$console" "$root/target/appliance/boot-test-console.log"
  [ -f "$work/charon.log" ] && cp "$work/charon.log" "$root/target/appliance/boot-test-charon.log"
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT INT TERM

# Addresses: TEST-NET-3 underlay (the VM plays the EC2 instance, 203.0.113.10; strongSwan the
# Azure gateway, 203.0.113.20); 10.0.0.0/16 behind the VM (10.0.0.1 on its lo), 10.1.0.0/16
# behind Azure (10.1.0.1 on the namespace's lo).
vm_ip=203.0.113.10
az_ip=203.0.113.20
psk="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
mac="52:54:00:$(printf '%02x:%02x:%02x' $((RANDOM % 256)) $((RANDOM % 256)) $((RANDOM % 256)))"

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev "$tap" mode tap
ip -n "$ns" addr add "$az_ip/24" dev "$tap"
ip -n "$ns" link set "$tap" up
ip -n "$ns" addr add 10.1.0.1/32 dev lo

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
      id = $vm_ip
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
    id-2 = $vm_ip
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
NET
# A daemon without sd_notify support yet would never say READY under Type=notify: test it
# as Type=exec then (and say so), so this test becomes strict as soon as it does.
deb="${IPSECGW_DEB:-}"
[ -n "$deb" ] || deb="$(find "$root/target/appliance" -maxdepth 1 -name 'ipsecgw_*_amd64.deb' -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n1 | cut -d' ' -f2-)"
notify_dropin=""
if [ -n "$deb" ] && ! dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/ipsecgw | grep -qa 'READY=1'; then
  log "WARNING: this ipsecgw binary never sends READY=1 (daemon does not call platform::sd_notify yet): testing with a Type=exec drop-in"
  notify_dropin=1
fi
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
      log_level = "info"
      [connections.azure]
      remote_addrs = ["$az_ip"]
      local_addrs = ["$vm_ip"]
      local_id = "$vm_ip"
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
      #!/bin/sh
      # Reports to the serial console until the tunnel carries a ping (or 10 minutes).
      exec >/dev/ttyS0 2>&1
      ip addr add 10.0.0.1/32 dev lo 2>/dev/null || true
      echo "IPSECGW-TEST REPORTER-START uptime=\$(cut -d' ' -f1 /proc/uptime)"
      n=0
      while [ \$n -lt 300 ]; do
        n=\$((n + 1))
        st=\$(systemctl is-active ipsecgw)
        if [ "\$st" = active ] && ipsecgw status 2>/dev/null | grep -q '^azure: ESTABLISHED'; then
          echo "IPSECGW-TEST ACTIVE uptime=\$(cut -d' ' -f1 /proc/uptime)"
          echo "IPSECGW-TEST BEGIN-STATUS"
          ipsecgw status
          echo "IPSECGW-TEST END-STATUS"
          echo "IPSECGW-TEST STATUSTEXT \$(systemctl show -p StatusText --value ipsecgw)"
          if ping -c 5 -i 0.5 -W 3 -I 10.0.0.1 10.1.0.1; then
            echo "IPSECGW-TEST PING-OK uptime=\$(cut -d' ' -f1 /proc/uptime)"
          else
            echo "IPSECGW-TEST PING-FAIL"
          fi
          ipsecgw status | sed -n '/vnet:/,\$p'
          echo "IPSECGW-TEST JOURNAL-FIELDS \$(journalctl -u ipsecgw -o export | grep -c '^TUNNEL=')"
          echo "IPSECGW-TEST SECURITY \$(systemd-analyze security ipsecgw.service 2>/dev/null | tail -n1)"
          echo "IPSECGW-TEST CONFIG-MODE \$(stat -c '%a %U' /etc/ipsecgw /etc/ipsecgw/ipsecgw.toml | tr '\n' ' ')"
          echo "IPSECGW-TEST SYSCTL \$(sysctl -n net.ipv4.ip_forward net.ipv4.conf.all.rp_filter | tr '\n' ' ')"
          echo "IPSECGW-TEST DONE"
          exit 0
        fi
        if [ \$((n % 10)) -eq 1 ]; then echo "IPSECGW-TEST WAITING active=\$st"; fi
        if [ \$((n % 30)) -eq 0 ]; then journalctl -u ipsecgw --no-pager -n 5; fi
        sleep 2
      done
      echo "IPSECGW-TEST TIMEOUT"
      systemctl status ipsecgw --no-pager
      journalctl -u ipsecgw --no-pager | tail -n 40
      echo "IPSECGW-TEST DONE"
UD
  if [ -n "$notify_dropin" ]; then
    # bootcmd runs before write_files, early enough to reach the first start.
    cat <<'UD'
bootcmd:
  - [ mkdir, -p, /etc/systemd/system/ipsecgw.service.d ]
  - [ sh, -c, 'printf "[Service]\nType=exec\nWatchdogSec=0\n" > /etc/systemd/system/ipsecgw.service.d/90-boot-test-no-notify.conf' ]
  - [ systemctl, daemon-reload ]
UD
  fi
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
log "booting (qemu pid $qemu_pid, $accel); serial console -> target/appliance/boot-test-console.log"

timeout="${IPSECGW_BOOT_TIMEOUT:-900}"
seen_login="" seen_active="" seen_ping=""
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
  grep -qa 'IPSECGW-TEST DONE' "$console" && break
  if [ $((now - t_boot)) -ge "$timeout" ]; then log "timed out after $timeout s"; break; fi
  sleep 3
done

fail=0
tr -d '\r' < "$console" | sed -n '/IPSECGW-TEST BEGIN-STATUS/,/IPSECGW-TEST DONE/p' >&2 || true
grep -qa 'IPSECGW-TEST ACTIVE' "$console" || { log "FAIL: ipsecgw never active with an ESTABLISHED tunnel"; fail=1; }
grep -qa 'IPSECGW-TEST PING-OK' "$console" || { log "FAIL: no ping from the VM through the tunnel"; fail=1; }
if [ "$fail" = 0 ]; then
  if ip netns exec "$ns" ping -c 3 -i 0.5 -W 3 -I 10.1.0.1 10.0.0.1 >/dev/null; then
    log "ping from the Azure side to the VM's inside address: ok"
  else
    log "FAIL: no ping from the namespace to the VM's inside address"; fail=1
  fi
  swanctl --list-sas --uri "unix://$work/run/charon.vici" >&2 || true
fi
if [ "$fail" != 0 ]; then
  log "last console lines:"; tail -n 60 "$console" | tr -d '\r' >&2
  log "charon log tail:"; tail -n 20 "$work/charon.log" >&2 || true
  exit 1
fi
log "PASS: build/cache $((t_built - t_start)) s, multi-user ${seen_login:+$((seen_login - t_boot)) s}, established $((seen_active - t_boot)) s, ping $((seen_ping - t_boot)) s after power-on ($accel)"
