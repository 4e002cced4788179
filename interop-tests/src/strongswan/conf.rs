//! strongswan.conf generation (explicit plugin list, kernel-libipsec, file logging).

use std::path::Path;

use super::swanconn::SwanConn;

/// charon's per-subsystem log levels (-1..4). Level 4 on `ike` logs the IKE key material
/// (SKEYSEED, SK_*), on `chd` the CHILD_SA keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLevels {
    pub default: i8,
    pub ike: i8,
    pub cfg: i8,
    pub chd: i8,
    pub net: i8,
    pub enc: i8,
    pub knl: i8,
}

impl Default for LogLevels {
    fn default() -> LogLevels {
        LogLevels {
            default: 1,
            ike: 2,
            cfg: 2,
            chd: 2,
            net: 1,
            enc: 1,
            knl: 1,
        }
    }
}

impl LogLevels {
    /// Logs key material and message contents (for fixtures and decryption).
    pub fn keys() -> LogLevels {
        LogLevels {
            ike: 4,
            chd: 4,
            enc: 2,
            net: 2,
            ..LogLevels::default()
        }
    }
}

/// Everything one charon instance needs.
#[derive(Debug, Clone)]
pub struct CharonConfig {
    pub log: LogLevels,
    /// Connections loaded with `swanctl --load-all` once the daemon is up.
    pub conns: Vec<SwanConn>,
    /// Extra lines inside the `charon { }` section (e.g. `retransmit_timeout = 2`).
    pub extra: String,
}

impl CharonConfig {
    pub fn new(conns: Vec<SwanConn>) -> CharonConfig {
        CharonConfig {
            log: LogLevels::default(),
            conns,
            extra: String::new(),
        }
    }

    pub fn with_log(mut self, log: LogLevels) -> CharonConfig {
        self.log = log;
        self
    }
}

/// Plugins loaded, in this order: nothing that would touch kernel XFRM.
pub const PLUGINS: &str = "random nonce openssl gmp pem pkcs1 x509 pubkey kdf \
                           kernel-libipsec kernel-netlink socket-default vici";

/// strongswan.conf text for an instance whose private run dir is `run_dir` (bind-mounted on
/// /run inside its mount namespace), logging to `log_path`.
pub fn strongswan_conf(cfg: &CharonConfig, run_dir: &Path, log_path: &Path) -> String {
    let l = cfg.log;
    format!(
        "charon {{\n\
         \tload = {PLUGINS}\n\
         \t# kernel-libipsec routes live in table 220: consult it after main (see the harness docs)\n\
         \trouting_table_prio = 40000\n\
         \tinstall_virtual_ip = no\n\
         \tport = 500\n\
         \tport_nat_t = 4500\n\
         {extra}\n\
         \tplugins {{\n\
         \t\tvici {{\n\t\t\tsocket = unix://{run}/charon.vici\n\t\t}}\n\
         \t}}\n\
         \tsyslog {{\n\t\t# no syslog loggers\n\t}}\n\
         \tfilelog {{\n\
         \t\tmain {{\n\
         \t\t\tpath = {log}\n\
         \t\t\ttime_format = %T\n\
         \t\t\tappend = no\n\
         \t\t\tflush_line = yes\n\
         \t\t\tdefault = {d}\n\
         \t\t\tike = {ike}\n\t\t\tcfg = {c}\n\t\t\tchd = {chd}\n\t\t\tnet = {net}\n\
         \t\t\tenc = {enc}\n\t\t\tknl = {knl}\n\
         \t\t}}\n\
         \t}}\n\
         }}\n\
         swanctl {{\n\tload = pem pkcs1 x509 pubkey\n}}\n",
        extra = cfg.extra,
        run = run_dir.display(),
        log = log_path.display(),
        d = l.default,
        ike = l.ike,
        c = l.cfg,
        chd = l.chd,
        net = l.net,
        enc = l.enc,
        knl = l.knl,
    )
}
