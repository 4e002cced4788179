//! Raw file -> resolved [`Config`]: defaults, ranges, cross-checks. Collects every problem.

use super::error::{join, ConfigErrors};
use super::raw::{self, RawChild, RawConnection, RawDaemon, RawDuration, RawMss, RawRoot, StrList};
use super::{
    duration, profile, secret, Child, ChildLifetime, Config, Connection, DaemonConfig, DpdAction,
    Identity, Lifetime, Mode, MssClamp, Prefix, Psk, Retransmit, StartAction,
    DEFAULT_CONTROL_SOCKET, DEFAULT_REPLY_SPIN, MAX_REPLY_SPIN, MAX_TUN_QUEUES,
};
use crate::dataplane::codel::CodelParams;
use crate::platform::realtime;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) const MTU_RANGE: std::ops::RangeInclusive<i64> = 576..=9000;
/// Azure VPN Gateway accepts a DPD timeout of 9 to 3600 seconds.
pub(crate) const DPD_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 9..=3600;
const DEFAULT_PROFILE: &str = "azure-default";
const IFNAMSIZ: usize = 15;

pub(crate) fn config(text: &str, base_dir: &Path) -> Result<Config, ConfigErrors> {
    let mut errs = ConfigErrors::default();
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            // Our own message: toml's Display quotes the source line, which may hold the PSK.
            let at = e
                .span()
                .map(|s| line_col(text, s.start))
                .map(|(l, c)| format!(" at line {l}, column {c}"));
            errs.push(
                "",
                format!(
                    "TOML syntax error{}: {}",
                    at.unwrap_or_default(),
                    e.message().trim()
                ),
            );
            return Err(errs);
        }
    };
    let root: RawRoot = raw::deserialize_table(table, "", &mut errs);
    let daemon = daemon(root.daemon.unwrap_or_default(), &mut errs);
    let mut warnings = Vec::new();
    let mut connections = Vec::new();
    match root.connections {
        Some(conns) if !conns.is_empty() => {
            for (index, (name, value)) in conns.into_iter().enumerate() {
                let path = join("connections", &name);
                match value {
                    toml::Value::Table(t) => {
                        if let Some(c) =
                            connection(&name, index, t, &path, base_dir, &mut errs, &mut warnings)
                        {
                            connections.push(c);
                        }
                    }
                    other => {
                        errs.push(
                            &path,
                            format!("must be a table ([{path}]), not a {}", other.type_str()),
                        );
                        raw::wipe(Some(other));
                    }
                }
            }
        }
        _ => errs.push(
            "connections",
            "no connections configured: add a [connections.NAME] section with remote_addrs, psk \
             and at least one [connections.NAME.children.CHILD]",
        ),
    }
    cross_checks(&connections, &mut errs);
    if errs.is_empty() {
        Ok(Config {
            daemon,
            connections,
            warnings,
        })
    } else {
        Err(errs)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

fn daemon(table: toml::Table, errs: &mut ConfigErrors) -> DaemonConfig {
    let raw: RawDaemon = raw::deserialize_table(table, "daemon", errs);
    let metrics_listen = raw.metrics_listen.and_then(|s| match s.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            errs.push(
                "daemon.metrics_listen",
                format!("`{s}` is not an address and port: write it like \"127.0.0.1:9814\""),
            );
            None
        }
    });
    let control_socket = PathBuf::from(
        raw.control_socket
            .unwrap_or_else(|| DEFAULT_CONTROL_SOCKET.into()),
    );
    if !control_socket.is_absolute() {
        errs.push(
            "daemon.control_socket",
            format!(
                "`{}` is relative: use an absolute path such as {DEFAULT_CONTROL_SOCKET}",
                control_socket.display()
            ),
        );
    }
    let log_level = raw.log_level.unwrap_or_else(|| "info".into());
    if !log_level.split(',').all(valid_directive) {
        errs.push(
            "daemon.log_level",
            format!("`{log_level}` is not a log level: use error, warn, info, debug or trace (or a filter like gateway=debug,info)"),
        );
    }
    let mut c = Ctx {
        errs,
        path: "daemon".into(),
    };
    let dflt = CodelParams::RFC8289;
    let target = c.duration("aqm_target", raw.aqm_target, dflt.target);
    let interval = c.duration("aqm_interval", raw.aqm_interval, dflt.interval);
    if !target.is_zero() && interval <= target {
        c.err(
            "aqm_interval",
            format!(
                "{} is not longer than aqm_target ({}): the interval should be about a \
                 round-trip time, 10-20 times the target (default 100ms with 5ms)",
                duration::format(interval),
                duration::format(target)
            ),
        );
    }
    let aqm = (!target.is_zero()).then_some(CodelParams { target, interval });
    let tun_queues = match raw.tun_queues {
        None => None,
        Some(n) if (1..=MAX_TUN_QUEUES as i64).contains(&n) => usize::try_from(n).ok(),
        Some(n) => {
            c.err(
                "tun_queues",
                format!(
                    "{n} is out of range: use 1 to {MAX_TUN_QUEUES} (one outbound worker per queue), \
                     or leave it out for the default (a latency queue plus half the vCPUs)"
                ),
            );
            None
        }
    };
    let reply_spin = c.duration("reply_spin", raw.reply_spin, DEFAULT_REPLY_SPIN);
    if reply_spin > MAX_REPLY_SPIN {
        c.err(
            "reply_spin",
            format!(
                "{} is too long: use at most {} (about one round trip through the tunnel), \
                 or 0s to let the inbound worker always sleep",
                duration::format(reply_spin),
                duration::format(MAX_REPLY_SPIN)
            ),
        );
    }
    let max = i64::from(realtime::MAX_PRIORITY);
    let realtime_priority = match raw.realtime_priority {
        None => realtime::DEFAULT_PRIORITY,
        Some(n) if (0..=max).contains(&n) => u8::try_from(n).unwrap_or(realtime::DEFAULT_PRIORITY),
        Some(n) => {
            c.err(
                "realtime_priority",
                format!(
                    "{n} is out of range: use 1 to {max} (the SCHED_FIFO priority of the \
                     fast-path workers while the gateway is loaded; {} by default), or 0 to \
                     leave them at SCHED_OTHER",
                    realtime::DEFAULT_PRIORITY
                ),
            );
            realtime::DEFAULT_PRIORITY
        }
    };
    let aead_backend = match raw.aead_backend.as_deref() {
        None | Some("auto") => None,
        Some(name) => match name.parse::<esp::GcmBackend>() {
            Ok(b) => Some(b),
            Err(_) => {
                c.err(
                    "aead_backend",
                    format!(
                        "`{name}` is not an AES-GCM backend: use \"auto\" (the default: the \
                         faster on this CPU, measured at start), \"ring\" or \"aws-lc-rs\""
                    ),
                );
                None
            }
        },
    };
    DaemonConfig {
        control_socket,
        metrics_listen,
        log_level,
        aqm,
        tun_queues,
        reply_spin: reply_spin.min(MAX_REPLY_SPIN),
        realtime_priority,
        realtime_priority_set: raw.realtime_priority.is_some(),
        aead_backend,
    }
}

fn valid_directive(d: &str) -> bool {
    let level = d
        .rsplit('=')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        level.as_str(),
        "error" | "warn" | "info" | "debug" | "trace" | "off"
    )
}

/// Wraps the mutable state threaded through one connection's checks.
struct Ctx<'a> {
    errs: &'a mut ConfigErrors,
    path: String,
}

impl Ctx<'_> {
    fn err(&mut self, key: &str, msg: impl Into<String>) {
        self.errs.push(join(&self.path, key), msg);
    }
    fn duration(&mut self, key: &str, v: Option<RawDuration>, default: Duration) -> Duration {
        match v {
            None => default,
            Some(RawDuration::Secs(s)) if s >= 0.0 && s.is_finite() && s < 3.2e8 => {
                Duration::from_secs_f64(s)
            }
            Some(RawDuration::Secs(s)) => {
                self.err(key, format!("{s} is not a valid number of seconds"));
                default
            }
            Some(RawDuration::Text(t)) => duration::parse(&t).unwrap_or_else(|e| {
                self.err(key, e);
                default
            }),
        }
    }
    fn choice<T: Copy>(
        &mut self,
        key: &str,
        v: Option<String>,
        default: T,
        options: &[(&str, T)],
    ) -> T {
        let Some(v) = v else { return default };
        match options
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(v.trim()))
        {
            Some((_, t)) => *t,
            None => {
                let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                self.err(key, format!("`{v}` is not one of {}", names.join(", ")));
                default
            }
        }
    }
    fn addrs(&mut self, key: &str, v: Option<StrList>) -> Vec<IpAddr> {
        let mut out = Vec::new();
        for (i, s) in v.map(|l| l.0).unwrap_or_default().into_iter().enumerate() {
            match s.trim().parse::<IpAddr>() {
                Ok(a) => out.push(a),
                Err(_) => self.err(
                    &format!("{key}[{i}]"),
                    format!("`{s}` is not an IP address (hostnames are not resolved): write it like 203.0.113.20"),
                ),
            }
        }
        out
    }
    fn int(
        &mut self,
        key: &str,
        v: Option<i64>,
        default: i64,
        range: std::ops::RangeInclusive<i64>,
        fix: &str,
    ) -> i64 {
        match v {
            None => default,
            Some(n) if range.contains(&n) => n,
            Some(n) => {
                self.err(
                    key,
                    format!("{n} out of range {}..={}{fix}", range.start(), range.end()),
                );
                default
            }
        }
    }
}

fn connection(
    name: &str,
    index: usize,
    table: toml::Table,
    path: &str,
    base_dir: &Path,
    errs: &mut ConfigErrors,
    warnings: &mut Vec<String>,
) -> Option<Connection> {
    let before = errs.len();
    check_name(name, path, errs);
    let mut raw: RawConnection = raw::deserialize_table(table, path, errs);
    let mut c = Ctx {
        errs,
        path: path.to_string(),
    };

    let remote_addrs = c.addrs("remote_addrs", raw.remote_addrs.take());
    if remote_addrs.is_empty()
        && raw.remote_addrs.is_none()
        && !c
            .errs
            .iter()
            .any(|e| e.path.starts_with(&join(path, "remote_addrs")))
    {
        c.err("remote_addrs", "missing: set the Azure VPN Gateway's public IP, e.g. remote_addrs = [\"203.0.113.20\"]");
    }
    let (local_addrs, local_addrs_auto) = local_addrs(&mut c, raw.local_addrs.take());

    let mut local_id_auto = false;
    let local_id = match raw.local_id.take() {
        Some(s) if s.trim().eq_ignore_ascii_case(AUTO) => {
            local_id_auto = true;
            Identity::Addr(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        }
        None if local_addrs_auto => {
            c.err(
                "local_id",
                "missing: with local_addrs = [\"auto\"] write local_id = \"auto\" (the Elastic IP, \
                 from the EC2 metadata service) or the public address the peer sees",
            );
            Identity::Fqdn(String::new())
        }
        Some(s) => Identity::parse(&s).unwrap_or_else(|e| {
            c.err("local_id", e);
            Identity::Fqdn(String::new())
        }),
        None => match local_addrs.first() {
            Some(a) => {
                if is_private(a) {
                    warnings.push(format!(
                        "{path}.local_id: defaults to the private address {a}; behind NAT (EC2 1:1 NAT) the \
                         peer expects the public address: set local_id to the Elastic IP"
                    ));
                }
                Identity::Addr(*a)
            }
            None => {
                c.err(
                    "local_id",
                    "missing and local_addrs is empty, so there is no default: set local_id to the public \
                     address the peer sees (the Elastic IP on EC2)",
                );
                Identity::Fqdn(String::new())
            }
        },
    };
    let remote_id = match raw.remote_id.take() {
        Some(s) => Identity::parse(&s).unwrap_or_else(|e| {
            c.err("remote_id", e);
            Identity::Fqdn(String::new())
        }),
        None => remote_addrs
            .first()
            .map(|a| Identity::Addr(*a))
            .unwrap_or(Identity::Fqdn(String::new())),
    };

    let psk = psk(
        &mut c,
        raw.psk.take(),
        raw.psk_file.take(),
        base_dir,
        warnings,
    );

    let (proposals, default_esp, profile_name) =
        ike_proposals(&mut c, raw.profile.take(), raw.proposals.take());

    let mode = c.choice(
        "mode",
        raw.mode.take(),
        Mode::Both,
        &[
            ("both", Mode::Both),
            ("initiator", Mode::Initiator),
            ("responder", Mode::Responder),
        ],
    );
    let start_action = c.choice(
        "start_action",
        raw.start_action.take(),
        if mode == Mode::Responder {
            StartAction::Add
        } else {
            StartAction::Start
        },
        &[
            ("start", StartAction::Start),
            ("add", StartAction::Add),
            ("none", StartAction::Add),
        ],
    );
    if mode == Mode::Responder && start_action == StartAction::Start {
        c.err("start_action", "\"start\" contradicts mode = \"responder\" (we never initiate): use start_action = \"add\"");
    }

    let rekey_time = c.duration(
        "rekey_time",
        raw.rekey_time.take(),
        Duration::from_secs(4 * 3600),
    );
    let over_time = c.duration("over_time", raw.over_time.take(), rekey_time / 10);
    let rand_time = c.duration("rand_time", raw.rand_time.take(), over_time);
    if rekey_time < Duration::from_secs(10) && rekey_time != Duration::ZERO {
        c.err(
            "rekey_time",
            format!(
                "{} is too short: at least 10s so a rekey can finish across clouds (Azure's IKE SA lifetime is 8h; production values are hours, e.g. \"4h\")",
                duration::format(rekey_time)
            ),
        );
    }
    if rand_time >= rekey_time && rekey_time != Duration::ZERO {
        c.err(
            "rand_time",
            format!(
                "{} must be less than rekey_time {}: lower rand_time",
                duration::format(rand_time),
                duration::format(rekey_time)
            ),
        );
    }

    let dpd_delay = c.duration("dpd_delay", raw.dpd_delay.take(), Duration::from_secs(10));
    let rekey_grace = c.duration(
        "rekey_grace",
        raw.rekey_grace.take(),
        Duration::from_secs(5),
    );
    if rekey_grace > Duration::from_secs(300) {
        c.err(
            "rekey_grace",
            format!(
                "{} is too long: an old SA kept that long only widens the replay window; use a few seconds, e.g. \"5s\"",
                duration::format(rekey_grace)
            ),
        );
    }
    let dpd_timeout = c.duration(
        "dpd_timeout",
        raw.dpd_timeout.take(),
        Duration::from_secs(45),
    );
    if !DPD_TIMEOUT_RANGE.contains(&dpd_timeout.as_secs()) || dpd_timeout.subsec_nanos() != 0 {
        c.err(
            "dpd_timeout",
            format!(
                "{} out of range: Azure's DPD timeout range is 9-3600 s (its default is 45s): use e.g. \"45s\"",
                duration::format(dpd_timeout)
            ),
        );
    } else if dpd_timeout < dpd_delay {
        c.err(
            "dpd_timeout",
            format!(
                "{} is shorter than dpd_delay {}: the peer could never answer in time; raise dpd_timeout or lower dpd_delay",
                duration::format(dpd_timeout),
                duration::format(dpd_delay)
            ),
        );
    }
    let dpd_action = c.choice(
        "dpd_action",
        raw.dpd_action.take(),
        DpdAction::Restart,
        &[
            ("restart", DpdAction::Restart),
            ("clear", DpdAction::Clear),
            ("none", DpdAction::None),
        ],
    );

    let rt = c.duration(
        "retransmit_timeout",
        raw.retransmit_timeout.take(),
        Duration::from_secs(4),
    );
    if rt < Duration::from_millis(100) || rt > Duration::from_secs(60) {
        c.err(
            "retransmit_timeout",
            format!("{} out of range 100ms..=60s", duration::format(rt)),
        );
    }
    let base = raw.retransmit_base.take().unwrap_or(1.8);
    if !(1.0..=4.0).contains(&base) {
        c.err(
            "retransmit_base",
            format!("{base} out of range 1.0..=4.0 (strongSwan's default is 1.8)"),
        );
    }
    let tries = c.int(
        "retransmit_tries",
        raw.retransmit_tries.take(),
        5,
        1..=20,
        " (strongSwan's default is 5)",
    ) as u32;
    let retransmit = Retransmit {
        timeout: rt,
        base,
        tries,
    };
    let ha_group = raw.ha_group.take().filter(|g| !g.trim().is_empty());
    let ha_mode = match raw.ha_mode.take() {
        None => crate::daemon::ha::HaMode::default(),
        Some(m) => match crate::daemon::ha::HaMode::parse(&m) {
            Some(mode) => mode,
            None => {
                c.err(
                    "ha_mode",
                    format!("`{m}` is not one of \"ecmp\", \"active-standby\""),
                );
                crate::daemon::ha::HaMode::default()
            }
        },
    };
    let ha_priority = c.int("ha_priority", raw.ha_priority.take(), 100, 0..=65535, "") as u32;

    let mtu = c.int(
        "mtu",
        raw.mtu.take(),
        1400,
        MTU_RANGE,
        " (Azure recommends 1400)",
    ) as u16;
    let mss_clamp = match raw.mss_clamp.take() {
        None => MssClamp::Auto,
        Some(RawMss::Text(t)) if t.eq_ignore_ascii_case("auto") => MssClamp::Auto,
        Some(RawMss::Text(t)) if t.eq_ignore_ascii_case("off") => MssClamp::Off,
        Some(RawMss::Text(t)) => match t.trim().parse::<i64>() {
            Ok(n) => fixed_mss(&mut c, n, mtu),
            Err(_) => {
                c.err(
                    "mss_clamp",
                    format!("`{t}` is not \"auto\", \"off\" or a number"),
                );
                MssClamp::Auto
            }
        },
        Some(RawMss::Num(n)) => fixed_mss(&mut c, n, mtu),
    };
    let tun_name = raw
        .tun_name
        .take()
        .unwrap_or_else(|| format!("ipsecgw{index}"));
    if tun_name.is_empty()
        || tun_name.len() > IFNAMSIZ
        || !tun_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        c.err(
            "tun_name",
            format!("`{tun_name}` is not a valid interface name: 1-15 characters of letters, digits, - _ ."),
        );
    }

    let mut children = Vec::new();
    match raw.children.take() {
        Some(t) if !t.is_empty() => {
            for (cname, value) in t {
                let cpath = join(&join(path, "children"), &cname);
                match value {
                    toml::Value::Table(ct) => {
                        children.push(child(&cname, ct, &cpath, &default_esp, c.errs))
                    }
                    other => c.errs.push(
                        &cpath,
                        format!("must be a table ([{cpath}]), not a {}", other.type_str()),
                    ),
                }
            }
        }
        _ => c.err(
            "children",
            format!(
                "no children: add a [{path}.children.NAME] section with local_ts and remote_ts"
            ),
        ),
    }

    if errs_since(c.errs, before) {
        return None;
    }
    Some(Connection {
        name: name.to_string(),
        remote_addrs,
        local_addrs,
        local_addrs_auto,
        local_id,
        local_id_auto,
        remote_id,
        psk: psk?,
        profile: profile_name,
        proposals,
        mode,
        start_action,
        encap: raw.encap.unwrap_or(false),
        lifetime: Lifetime {
            rekey_time,
            over_time,
            rand_time,
        },
        dpd_delay,
        rekey_grace,
        ha_group,
        ha_mode,
        ha_priority,
        dpd_timeout,
        dpd_action,
        retransmit,
        mtu,
        mss_clamp,
        tun_name,
        children,
    })
}

/// The keyword that asks for the EC2 metadata service (`local_id`, `local_addrs`).
const AUTO: &str = "auto";

/// `local_addrs`: IP addresses, or `["auto"]` alone (resolved from IMDS by the daemon).
fn local_addrs(c: &mut Ctx, v: Option<StrList>) -> (Vec<IpAddr>, bool) {
    let Some(list) = v else {
        return (Vec::new(), false);
    };
    let autos = list
        .0
        .iter()
        .filter(|s| s.trim().eq_ignore_ascii_case(AUTO))
        .count();
    if autos == 0 {
        return (c.addrs("local_addrs", Some(list)), false);
    }
    if list.0.len() > 1 {
        c.err(
            "local_addrs",
            "\"auto\" must be the only entry: write local_addrs = [\"auto\"] or list addresses",
        );
    }
    (Vec::new(), true)
}

fn errs_since(errs: &ConfigErrors, before: usize) -> bool {
    errs.len() > before
}

fn check_name(name: &str, path: &str, errs: &mut ConfigErrors) {
    if name.is_empty()
        || name.len() > 32
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        errs.push(
            path,
            format!("name `{name}` is not valid: use 1-32 letters, digits, - or _"),
        );
    }
}

fn is_private(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00 || v6.is_loopback(),
    }
}

fn fixed_mss(c: &mut Ctx<'_>, n: i64, mtu: u16) -> MssClamp {
    let max = i64::from(mtu) - 40;
    if (536..=max).contains(&n) {
        MssClamp::Fixed(n as u16)
    } else {
        c.err(
            "mss_clamp",
            format!("{n} out of range 536..={max} (mtu {mtu} - 40): or use \"auto\""),
        );
        MssClamp::Auto
    }
}

fn psk(
    c: &mut Ctx<'_>,
    inline: Option<raw::RawSecret>,
    file: Option<String>,
    base_dir: &Path,
    warnings: &mut Vec<String>,
) -> Option<Psk> {
    let text: zeroize::Zeroizing<String> = match (inline, file) {
        (Some(_), Some(_)) => {
            c.err(
                "psk",
                "psk and psk_file both set: keep one (psk_file keeps the key out of this file)",
            );
            return None;
        }
        (None, None) => {
            c.err(
                "psk",
                "missing: set psk_file = \"/etc/ipsecgw/NAME.psk\" (mode 0600) or psk = \"...\"",
            );
            return None;
        }
        (Some(s), None) => zeroize::Zeroizing::new(s.0.clone()),
        (None, Some(f)) => {
            let p = base_dir.join(&f);
            match read_small_file(&p, PSK_FILE_MAX) {
                Ok(s) => {
                    check_file_mode(&p, &c.path, warnings);
                    let s = zeroize::Zeroizing::new(s);
                    zeroize::Zeroizing::new(s.trim_end_matches(['\n', '\r']).to_string())
                }
                Err(e) => {
                    c.err("psk_file", format!("cannot read `{}`: {e}", p.display()));
                    return None;
                }
            }
        }
    };
    if text.is_empty() {
        c.err(
            "psk",
            "is empty: Azure requires 1-128 printable ASCII characters; use a long random key",
        );
        return None;
    }
    if text.len() > 128 {
        c.err(
            "psk",
            format!(
                "is {} characters long: Azure accepts at most 128",
                text.len()
            ),
        );
        return None;
    }
    if !text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        c.err(
            "psk",
            "contains characters other than printable ASCII, which Azure does not accept",
        );
        return None;
    }
    match secret::decode(&text) {
        Ok(p) => {
            if p.len() < 16 {
                warnings.push(format!(
                    "{}.psk: only {} bytes; use at least 32 random characters",
                    c.path,
                    p.len()
                ));
            }
            Some(p)
        }
        Err(e) => {
            c.err("psk", e);
            None
        }
    }
}

/// A PSK file is a few dozen bytes (Azure allows 128 characters): anything larger is a
/// mistake (a wrong path such as a device or a log file), refused before it is read whole.
const PSK_FILE_MAX: u64 = 4096;

/// Reads at most `max` bytes of `path` as UTF-8; a longer file is an error naming the limit.
fn read_small_file(path: &std::path::Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(path)?
        .take(max.saturating_add(1))
        .read_to_string(&mut s)?;
    if s.len() as u64 > max {
        zeroize::Zeroize::zeroize(&mut s);
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max} bytes: a PSK file holds only the key"),
        ));
    }
    Ok(s)
}

#[cfg(unix)]
fn check_file_mode(p: &Path, path: &str, warnings: &mut Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(p) {
        let mode = m.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            warnings.push(format!(
                "{path}.psk_file: `{}` is readable by group/other (mode {mode:04o}): chmod 600 it",
                p.display()
            ));
        }
    }
}

#[cfg(not(unix))]
fn check_file_mode(_: &Path, _: &str, _: &mut Vec<String>) {}

type IkeList = Vec<ikev2::proposal::IkeProposalSpec>;
type EspList = Vec<ikev2::proposal::EspProposalSpec>;

/// IKE proposals and the ESP default for children, from `proposals` or `profile`.
fn ike_proposals(
    c: &mut Ctx<'_>,
    profile_name: Option<String>,
    list: Option<StrList>,
) -> (IkeList, EspList, Option<String>) {
    let explicit = list.is_some();
    let name = profile_name
        .clone()
        .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
    let (preset_ike, preset_esp) = match profile::resolve(&name) {
        Ok(p) => p,
        Err(e) => {
            c.err("profile", e);
            (Vec::new(), Vec::new())
        }
    };
    let used_profile = if explicit && profile_name.is_none() {
        None
    } else {
        Some(name)
    };
    let ike = match list {
        Some(l) => {
            let mut out = Vec::new();
            if l.0.is_empty() {
                c.err("proposals", "is empty: remove it to use the profile, or list proposals like \"aes256gcm16-prfsha384-ecp384\"");
            }
            for (i, s) in l.0.iter().enumerate() {
                match ikev2::proposal::parse_ike(s) {
                    Ok(p) => out.push(p),
                    Err(e) => c.err(&format!("proposals[{i}]"), e.to_string()),
                }
            }
            out
        }
        None => preset_ike,
    };
    (ike, preset_esp, used_profile)
}

fn child(
    name: &str,
    table: toml::Table,
    path: &str,
    default_esp: &EspList,
    errs: &mut ConfigErrors,
) -> Child {
    check_name(name, path, errs);
    let mut raw: RawChild = raw::deserialize_table(table, path, errs);
    let mut c = Ctx {
        errs,
        path: path.to_string(),
    };
    let local_ts = selectors(&mut c, "local_ts", raw.local_ts.take());
    let remote_ts = selectors(&mut c, "remote_ts", raw.remote_ts.take());
    let esp_proposals = match raw.esp_proposals.take() {
        Some(l) => {
            if l.0.is_empty() {
                c.err("esp_proposals", "is empty: remove it to use the profile, or list proposals like \"aes256gcm16\"");
            }
            let mut out = Vec::new();
            for (i, s) in l.0.iter().enumerate() {
                match ikev2::proposal::parse_esp(s) {
                    Ok(p) => out.push(p),
                    Err(e) => c.err(&format!("esp_proposals[{i}]"), e.to_string()),
                }
            }
            out
        }
        None => default_esp.clone(),
    };
    let rekey_time = c.duration(
        "rekey_time",
        raw.rekey_time.take(),
        Duration::from_secs(3600),
    );
    let life_time = c.duration("life_time", raw.life_time.take(), rekey_time.mul_f64(1.1));
    // swanctl: life_time - rekey_time, capped at a tenth of rekey_time so a long life_time
    // does not randomize the rekey away.
    let rand_time = c.duration(
        "rand_time",
        raw.rand_time.take(),
        life_time.saturating_sub(rekey_time).min(rekey_time / 10),
    );
    if rekey_time < Duration::from_secs(10) && rekey_time != Duration::ZERO {
        c.err(
            "rekey_time",
            format!(
                "{} is too short: at least 10s so a rekey can finish across clouds (production values are an hour or more, e.g. \"1h\")",
                duration::format(rekey_time)
            ),
        );
    }
    if life_time <= rekey_time && rekey_time != Duration::ZERO {
        c.err(
            "life_time",
            format!(
                "{} must be greater than rekey_time {}: the SA would expire before it is rekeyed",
                duration::format(life_time),
                duration::format(rekey_time)
            ),
        );
    }
    if rand_time >= rekey_time && rekey_time != Duration::ZERO {
        c.err(
            "rand_time",
            format!(
                "{} must be less than rekey_time {}",
                duration::format(rand_time),
                duration::format(rekey_time)
            ),
        );
    }
    let life_bytes = raw.life_bytes.take().and_then(|n| {
        if n >= 1024 * 1024 {
            Some(n as u64)
        } else {
            c.err(
                "life_bytes",
                format!(
                    "{n} is too small: at least 1048576 (1 MiB); Azure's default is 102400000 KB"
                ),
            );
            None
        }
    });
    let life_packets = raw.life_packets.take().and_then(|n| {
        if n >= 1000 {
            Some(n as u64)
        } else {
            c.err("life_packets", format!("{n} is too small: at least 1000"));
            None
        }
    });
    let replay_window = c.int(
        "replay_window",
        raw.replay_window.take(),
        // The inbound worker lets small datagrams overtake up to ~3000 waiting ones
        // (daemon::fast_path); the window must cover that reordering.
        4096,
        0..=65536,
        " (0 turns replay protection off)",
    ) as u32;
    if let Some(sa) = raw.start_action.take() {
        c.err(
            "start_action",
            format!(
                "`{sa}`: ipsecgw sets start_action per connection: move it to the [{}] section",
                path.rsplit_once(".children.").map_or(path, |p| p.0)
            ),
        );
    }
    Child {
        name: name.to_string(),
        local_ts,
        remote_ts,
        esp_proposals,
        lifetime: ChildLifetime {
            rekey_time,
            life_time,
            rand_time,
            life_bytes,
            life_packets,
        },
        replay_window,
    }
}

fn selectors(c: &mut Ctx<'_>, key: &str, v: Option<StrList>) -> Vec<Prefix> {
    let Some(list) = v else {
        c.err(
            key,
            format!("missing: list the subnets, e.g. {key} = [\"10.0.0.0/16\"]"),
        );
        return Vec::new();
    };
    if list.0.is_empty() {
        c.err(
            key,
            format!("is empty: list the subnets, e.g. {key} = [\"10.0.0.0/16\"]"),
        );
    }
    let mut out = Vec::new();
    for (i, s) in list.0.iter().enumerate() {
        match Prefix::parse(s) {
            Ok(p) => out.push(p),
            Err(e) => c.err(&format!("{key}[{i}]"), e),
        }
    }
    out
}

fn cross_checks(conns: &[Connection], errs: &mut ConfigErrors) {
    // Connections reaching the same remote prefixes share one route: they must say how
    // (one ha_group, one ha_mode), or the last one up would silently take the route.
    for (i, a) in conns.iter().enumerate() {
        for b in &conns[i + 1..] {
            let overlap = a.children.iter().flat_map(|c| &c.remote_ts).any(|x| {
                b.children
                    .iter()
                    .flat_map(|c| &c.remote_ts)
                    .any(|y| x.overlaps(y))
            });
            if !overlap {
                continue;
            }
            let path = join(&join("connections", &b.name), "ha_group");
            match (&a.ha_group, &b.ha_group) {
                (Some(ga), Some(gb)) if ga == gb => {
                    if a.ha_mode != b.ha_mode {
                        errs.push(
                            join(&join("connections", &b.name), "ha_mode"),
                            format!(
                                "`{}` differs from connection `{}` (`{}`) in ha_group `{ga}`: use one mode per group",
                                b.ha_mode.as_str(),
                                a.name,
                                a.ha_mode.as_str()
                            ),
                        );
                    }
                }
                _ => errs.push(
                    path,
                    format!(
                        "its remote_ts overlap connection `{}`'s: give both the same ha_group (e.g. ha_group = \"azure\", ha_mode = \"ecmp\" for Azure active-active)",
                        a.name
                    ),
                ),
            }
        }
    }
    let mut tun: BTreeMap<&str, &str> = BTreeMap::new();
    let mut remotes: BTreeMap<(IpAddr, Option<IpAddr>), &str> = BTreeMap::new();
    for c in conns {
        if let Some(other) = tun.insert(&c.tun_name, &c.name) {
            errs.push(
                join(&join("connections", &c.name), "tun_name"),
                format!("`{}` is also used by connection `{other}`: give each connection its own tun_name", c.tun_name),
            );
        }
        let local = c.local_addrs.first().copied();
        if let Some(r) = c.remote_addrs.first() {
            if let Some(other) = remotes.insert((*r, local), &c.name) {
                errs.push(
                    join(&join("connections", &c.name), "remote_addrs"),
                    format!("{r} is also the peer of connection `{other}` from the same local address: merge them into one connection with several children"),
                );
            }
        }
        for (i, a) in c.children.iter().enumerate() {
            for b in &c.children[i + 1..] {
                let clash = a
                    .remote_ts
                    .iter()
                    .any(|x| b.remote_ts.iter().any(|y| x.overlaps(y)))
                    && a.local_ts
                        .iter()
                        .any(|x| b.local_ts.iter().any(|y| x.overlaps(y)));
                if clash {
                    errs.push(
                        join(&join(&join("connections", &c.name), "children"), &b.name),
                        format!("traffic selectors overlap child `{}`: each packet must map to one CHILD_SA", a.name),
                    );
                }
            }
        }
    }
}
