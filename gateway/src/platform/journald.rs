//! Logging straight to the systemd journal with structured fields.
//!
//! Under systemd the daemon's stderr already goes to the journal, but only as flat text. With
//! [`init`] every `tracing` field becomes a journal field of the same name in upper case
//! (`tunnel = "azure"` -> `TUNNEL=azure`, `spi_in` -> `SPI_IN`, `error` -> `ERROR`), the level
//! becomes `PRIORITY`, and `SYSLOG_IDENTIFIER=ipsecgw`, so operators can filter:
//!
//! ```text
//! journalctl -u ipsecgw TUNNEL=azure            # one tunnel
//! journalctl -u ipsecgw -p warning              # warnings and errors only
//! journalctl -u ipsecgw SPI_IN=c1234567 -o verbose
//! ```
//!
//! [`init`] only switches to the journal when stderr *is* the journal (systemd sets
//! `JOURNAL_STREAM` to stderr's device:inode, see systemd.exec(5)); in a terminal, a container
//! or a test it returns `false` and the caller installs the usual fmt subscriber.

use std::os::unix::fs::MetadataExt;

/// Whether stderr is connected to the journal (`JOURNAL_STREAM` matches fd 2).
pub fn stderr_is_journal() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    match std::fs::metadata("/proc/self/fd/2") {
        Ok(m) => m.dev() == dev && m.ino() == ino,
        Err(_) => false,
    }
}

/// Installs a journald subscriber filtered by `RUST_LOG` or else `level` (like
/// `cli::init_logging`) when stderr is the journal. Returns `false` (and installs nothing)
/// otherwise, or when the journal socket cannot be opened.
pub fn init(level: &str) -> bool {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    if !stderr_is_journal() {
        return false;
    }
    let layer = match tracing_journald::layer() {
        Ok(l) => l
            .with_field_prefix(None)
            .with_syslog_identifier("ipsecgw".into()),
        Err(_) => return false,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init()
        .is_ok()
}
