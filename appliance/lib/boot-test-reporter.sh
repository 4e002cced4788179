#!/bin/sh
# Runs inside the appliance VM that appliance/test-boot.sh boots (cloud-init's runcmd starts it
# from the NoCloud seed). It only observes and exercises the packaged ipsecgw.service and
# prints "IPSECGW-TEST KEY value" lines on the serial console; every verdict is made on the
# host, from those lines. One boot covers, in order:
#   1. first boot: unit active (Type=notify: only READY=1 gets it there), tunnel ESTABLISHED,
#      StatusText, unit properties, journald fields, config modes, sysctls, a ping across;
#   2. `systemctl reload ipsecgw`: the IKE SA (its SPIs) survives, the unit is active again;
#   3. the watchdog: with no reload or restart in between, only WATCHDOG=1 moves systemd's
#      WatchdogTimestamp;
#   4. `kill -9` of the main PID: Restart=on-failure brings it back, the tunnel comes up again
#      and carries a ping.
exec >/dev/ttyS0 2>&1

say() { echo "IPSECGW-TEST $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
prop() { systemctl show -p "$1" --value ipsecgw.service; }
# The first line of the tunnel in `ipsecgw status`: state and IKE SPIs.
ike_line() { ipsecgw status 2>/dev/null | grep '^azure: ' | head -n1; }
established() {
  [ "$(systemctl is-active ipsecgw)" = active ] && ike_line | grep -q '^azure: ESTABLISHED'
}
ping_vnet() { ping -c 5 -i 0.5 -W 3 -I 10.0.0.1 10.1.0.1 >/dev/null; }
# One series of the daemon's Prometheus endpoint (metrics_listen in the seed's config), e.g.
# metric 'ipsecgw_tunnel_up{tunnel="azure"}'; bash for /dev/tcp (the image has no curl).
metric() {
  # shellcheck disable=SC2016 # $1 belongs to the inner bash
  timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9814 || exit 1
    printf "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n" >&3
    tr -d "\r" <&3 | grep -F "$1 " | cut -d" " -f2' sh "$1" 2>/dev/null
}
dump() {
  systemctl status ipsecgw --no-pager
  journalctl -u ipsecgw --no-pager | tail -n 40
}

# The VPC side of the tunnel: an address inside local_ts.
ip addr add 10.0.0.1/32 dev lo 2>/dev/null || true
say "REPORTER-START uptime=$(uptime_s)"

# 1. First boot.
n=0
while ! established; do
  n=$((n + 1))
  if [ "$n" -gt 300 ]; then
    say TIMEOUT
    dump
    say DONE
    exit 0
  fi
  if [ $((n % 10)) -eq 1 ]; then say "WAITING active=$(systemctl is-active ipsecgw)"; fi
  if [ $((n % 30)) -eq 0 ]; then journalctl -u ipsecgw --no-pager -n 5; fi
  sleep 2
done
say "ACTIVE uptime=$(uptime_s)"
say BEGIN-STATUS
ipsecgw status
say END-STATUS
# "'IDENTITY' @ ADDRESS:PORT": with local_id/local_addrs = "auto", what IMDS said.
say "LOCAL-ENDPOINT $(ipsecgw status | sed -n 's/^  local  //p' | head -n1)"
# STATUS= is sent from the daemon's main loop when the summary changes: allow it a moment.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  case "$(prop StatusText)" in "1/1 tunnels established"*) break ;; esac
  sleep 1
done
say "STATUSTEXT $(prop StatusText)"
say "UNIT-TYPE $(prop Type)"
say "WATCHDOG-USEC $(prop WatchdogUSec)"
say "ACTIVE-STATE $(prop ActiveState)"
if ping_vnet; then say "PING-OK uptime=$(uptime_s)"; else say PING-FAIL; fi
ipsecgw status | sed -n '/vnet:/,$p'
sleep 2 # the metrics follow the daemon's snapshot, taken every second
say "METRIC-UP $(metric 'ipsecgw_tunnel_up{tunnel="azure"}')"
say "METRIC-PACKETS-IN $(metric 'ipsecgw_packets_total{tunnel="azure",direction="in"}')"
say "JOURNAL-FIELDS $(journalctl -u ipsecgw -o export | grep -c '^TUNNEL=')"
say "SECURITY $(systemd-analyze security ipsecgw.service 2>/dev/null | tail -n1)"
# The daemon tries SCHED_FIFO at start (realtime_priority, 10 by default): "refused" here
# means the unit lacks CAP_SYS_NICE or still has RestrictRealtime=yes.
say "WORKERS $(ipsecgw status | grep '^workers: ' | head -n1)"
say "CONFIG-MODE $(stat -c '%a %U' /etc/ipsecgw /etc/ipsecgw/ipsecgw.toml | tr '\n' ' ')"
say "SYSCTL $(sysctl -n net.ipv4.ip_forward net.ipv4.conf.all.rp_filter net.ipv4.fib_multipath_hash_policy | tr '\n' ' ')"

# 2. Reload with the same file: the tunnel is unchanged, so its SAs must stay.
say "RELOAD-BEFORE $(ike_line)"
if systemctl reload ipsecgw; then say "RELOAD-RC 0"; else say "RELOAD-RC $?"; fi
say "RELOAD-STATE $(prop ActiveState)"
sleep 3
say "RELOAD-AFTER $(ike_line)"
if ping_vnet; then say "RELOAD-PING-OK uptime=$(uptime_s)"; else say RELOAD-PING-FAIL; fi

# 3. Watchdog: the daemon pings every WatchdogSec/2 (15 s); nothing else touches the
# timestamp between these two samples.
wd1="$(prop WatchdogTimestampMonotonic)"
sleep 17
wd2="$(prop WatchdogTimestampMonotonic)"
say "WATCHDOG-TS $wd1 $wd2"
say "NRESTARTS-BEFORE-KILL $(prop NRestarts)"

# 4. Crash: SIGKILL the main process; Restart=on-failure (RestartSec=5s) starts it again.
pid="$(prop MainPID)"
kill -9 "$pid"
say "KILLED $pid uptime=$(uptime_s)"
n=0
while :; do
  now="$(prop MainPID)"
  if [ "$now" != 0 ] && [ "$now" != "$pid" ] && established; then
    say "RESTARTED pid=$now nrestarts=$(prop NRestarts) state=$(prop ActiveState) uptime=$(uptime_s)"
    break
  fi
  n=$((n + 1))
  if [ "$n" -gt 60 ]; then
    say RESTART-TIMEOUT
    dump
    say DONE
    exit 0
  fi
  sleep 2
done
ipsecgw status
if ping_vnet; then say "RESTART-PING-OK uptime=$(uptime_s)"; else say RESTART-PING-FAIL; fi
say DONE
