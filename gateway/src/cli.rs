//! The `ipsecgw` command line (clap derive). `main.rs` calls [`main_with`] with the daemon's
//! entry point.

use crate::config::{self, Config, DEFAULT_CONTROL_SOCKET};
use crate::control::{self, ControlError, Request, Response};
use crate::status;
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The daemon's entry point: runs until stopped; an error ends the process with status 1.
pub type RunFn = fn(Config, PathBuf) -> Result<(), Box<dyn std::error::Error>>;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: invalid configuration, or the daemon reported a failure.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: bad command line (clap's own).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the control socket could not be reached.
pub const EXIT_NO_DAEMON: u8 = 3;

const AFTER_HELP: &str = "\
Exit status:
  0  success
  1  invalid configuration, or the daemon reported an error
  2  bad command line
  3  cannot reach the daemon's control socket

Files:
  /etc/ipsecgw/ipsecgw.toml      configuration (see configs/ for annotated examples)
  /run/ipsecgw/control.sock      control socket (root only)

Examples:
  ipsecgw check-config /etc/ipsecgw/ipsecgw.toml
  ipsecgw run --config /etc/ipsecgw/ipsecgw.toml
  ipsecgw status
  ipsecgw initiate azure";

/// ipsecgw: a userspace IKEv2/IPsec site-to-site VPN gateway.
#[derive(Debug, Parser)]
#[command(
    name = "ipsecgw",
    version,
    about = "ipsecgw: userspace IKEv2/IPsec site-to-site VPN gateway",
    long_about = "ipsecgw: a userspace IKEv2/IPsec site-to-site VPN gateway (PSK authentication, \
                  ESP in UDP). The configuration is a TOML file nested like strongSwan's \
                  swanctl.conf. `run` starts the daemon; the other commands talk to a running \
                  daemon over its control socket, except `check-config`, which only reads the file.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway daemon.
    #[command(
        long_about = "Run the gateway daemon: bring up every connection (those with \
                            start_action = \"start\" initiate at once, those with \"add\" wait for \
                            the peer), answer the peer, and \
                            serve the control socket and, if configured, Prometheus metrics. \
                            ipsecgw never forks; run it under systemd with Type=notify (it sends READY, RELOADING, STOPPING, WATCHDOG and a STATUS line). It needs \
                            CAP_NET_ADMIN (TUN devices, routes) and UDP ports 500 and 4500. \
                            SIGHUP or `ipsecgw reload` re-reads the configuration."
    )]
    Run(RunArgs),
    /// Validate a configuration file and print it with all defaults filled in.
    #[command(
        long_about = "Validate a configuration file without starting anything. On success \
                            print the resolved configuration (defaults filled in, profiles \
                            expanded to strongSwan proposal names, the PSK shown as <redacted>) \
                            and exit 0. Otherwise print every problem, one per line, naming the \
                            key, the bad value and the fix, and exit 1. Warnings (e.g. a psk_file \
                            readable by others) go to stderr and do not fail the check. When a \
                            connection sets `profile` (the Azure side's policy) and also lists \
                            its own proposals or esp_proposals, they are checked against the \
                            profile: proposals that can never match, and a PFS mismatch (the \
                            tunnel comes up, then dies at the first rekey), are warned about."
    )]
    CheckConfig(CheckArgs),
    /// Show the daemon and every tunnel: state, SAs, algorithms, counters, errors.
    #[command(
        long_about = "Show the daemon and every tunnel, in the style of `swanctl \
                            --list-sas`: state, addresses and identities (with [NAT] where a NAT \
                            was detected), the IKE SA's SPIs, algorithms and rekey time, each \
                            CHILD_SA's SPIs, algorithms, traffic selectors and counters, drops by \
                            reason, and the last error (with the peer's proposals after a \
                            proposal mismatch)."
    )]
    Status(StatusArgs),
    /// Bring a connection up now.
    #[command(
        long_about = "Bring a connection up now (start IKE_SA_INIT). Returns once the \
                            daemon has accepted the request; watch `ipsecgw status` for the result."
    )]
    Initiate(NameArgs),
    /// Take a connection down (delete its IKE SA and CHILD_SAs).
    #[command(
        long_about = "Take a connection down: delete its CHILD_SAs and IKE SA (informing \
                            the peer). It stays down until `ipsecgw initiate NAME`, a reload, or \
                            the peer initiates (when mode allows responding)."
    )]
    Terminate(NameArgs),
    /// Re-read the configuration file and apply the changes.
    #[command(
        long_about = "Re-read the configuration file the daemon was started with and apply \
                            the changes: added connections come up, removed ones go down, changed \
                            ones are restarted. An invalid file is rejected as a whole and the \
                            running configuration stays in force."
    )]
    Reload(ReloadArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file.
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "/etc/ipsecgw/ipsecgw.toml"
    )]
    pub config: PathBuf,
    /// Log for a terminal: coloured, human-readable lines on stderr. Without it, plain lines
    /// without colours (for journald). ipsecgw never forks either way.
    #[arg(short, long)]
    pub foreground: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Configuration file to check.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the result as JSON on stdout: {"valid":true,"warnings":[..],"config":{..}} or
    /// {"valid":false,"errors":[{"path":..,"message":..}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SocketArgs {
    /// The daemon's control socket (`[daemon] control_socket` in its configuration).
    #[arg(long, value_name = "PATH", env = "IPSECGW_SOCKET", default_value = DEFAULT_CONTROL_SOCKET)]
    pub socket: PathBuf,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the full status as JSON (stable field names, for scripts and monitoring).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub socket: SocketArgs,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// Connection name, as in [connections.NAME].
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Print the outcome as JSON on stdout: {"ok":true,"message":".."} or
    /// {"ok":false,"error":".."} (the exit status is the same as without --json).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub socket: SocketArgs,
}

#[derive(Debug, Args)]
pub struct ReloadArgs {
    /// Print the outcome as JSON on stdout: {"ok":true,"message":".."} or
    /// {"ok":false,"error":".."} (the exit status is the same as without --json).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub socket: SocketArgs,
}

/// Parses the process arguments and runs the command; `run` is the daemon's entry point.
pub fn main_with(run: RunFn) -> ExitCode {
    let cli = Cli::parse();
    let code = execute(cli, run, &mut std::io::stdout(), &mut std::io::stderr());
    ExitCode::from(code)
}

/// Runs one parsed command, writing to `out` / `err`; returns the exit status.
pub fn execute(cli: Cli, run: RunFn, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match cli.command {
        Command::Run(a) => run_daemon(a, run, err),
        Command::CheckConfig(a) => check_config(&a.file, a.json, out, err),
        Command::Status(a) => {
            let json = a.json;
            control_call(
                &a.socket.socket,
                &Request::Status,
                json,
                out,
                err,
                |resp, out| match resp {
                    Response::Status(s) => {
                        let text = if json {
                            status::render_json(&s) + "\n"
                        } else {
                            status::render_text(&s)
                        };
                        let _ = out.write_all(text.as_bytes());
                        true
                    }
                    other => unexpected(other, out),
                },
            )
        }
        Command::Initiate(a) => simple(
            &a.socket.socket,
            &Request::Initiate { name: a.name },
            a.json,
            out,
            err,
        ),
        Command::Terminate(a) => simple(
            &a.socket.socket,
            &Request::Terminate { name: a.name },
            a.json,
            out,
            err,
        ),
        Command::Reload(a) => simple(&a.socket.socket, &Request::Reload, a.json, out, err),
    }
}

fn run_daemon(a: RunArgs, run: RunFn, err: &mut dyn Write) -> u8 {
    let cfg = match config::load(&a.config) {
        Ok(c) => c,
        Err(errs) => {
            for e in errs.iter() {
                let _ = writeln!(err, "error: {e}");
            }
            let _ = writeln!(
                err,
                "{}: {} error(s); not starting",
                a.config.display(),
                errs.len()
            );
            return EXIT_FAILED;
        }
    };
    let mut cfg = cfg;
    init_logging(&cfg.daemon.log_level, a.foreground);
    // `local_id = "auto"` / `local_addrs = ["auto"]`: ask the EC2 metadata service (IMDSv2).
    match crate::platform::imds::resolve_config(&mut cfg, std::time::Duration::from_secs(30)) {
        Ok(notes) => {
            for n in notes {
                tracing::info!("{n}");
            }
        }
        Err(e) => {
            tracing::error!("{e}");
            let _ = writeln!(err, "ipsecgw: {e}");
            return EXIT_FAILED;
        }
    }
    for w in cfg.warnings.iter().chain(&cfg.policy_warnings()) {
        tracing::warn!("{w}");
    }
    match run(cfg, a.config) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            tracing::error!("{e}");
            let _ = writeln!(err, "ipsecgw: {e}");
            EXIT_FAILED
        }
    }
}

/// Installs the tracing subscriber: `RUST_LOG` if set, else the configured level.
pub fn init_logging(level: &str, terminal: bool) {
    // Under systemd with stderr connected to the journal: native journald records, with the
    // tunnel name and SPIs as fields (TUNNEL=, SPI_IN=, ...).
    if !terminal && crate::platform::journald::init(level) {
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if terminal {
        builder.with_ansi(true).try_init()
    } else {
        // journald adds its own timestamps.
        builder.with_ansi(false).without_time().try_init()
    };
}

fn check_config(file: &Path, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match config::load(file) {
        Ok(cfg) => {
            // Findings against the Azure policy `profile` names come after the file's own.
            let warnings: Vec<String> = cfg
                .warnings
                .iter()
                .cloned()
                .chain(cfg.policy_warnings())
                .collect();
            if json {
                let v = serde_json::json!({ "valid": true, "warnings": warnings, "config": cfg.to_json() });
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("json"));
            } else {
                for w in &warnings {
                    let _ = writeln!(err, "warning: {w}");
                }
                let _ = write!(out, "{cfg}");
                let _ = writeln!(err, "{}: OK", file.display());
            }
            EXIT_OK
        }
        Err(errs) => {
            if json {
                let list: Vec<_> = errs
                    .iter()
                    .map(|e| serde_json::json!({ "path": e.path, "message": e.message }))
                    .collect();
                let v = serde_json::json!({ "valid": false, "errors": list });
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("json"));
            } else {
                for e in errs.iter() {
                    let _ = writeln!(err, "error: {e}");
                }
                let _ = writeln!(err, "{}: {} error(s)", file.display(), errs.len());
            }
            EXIT_FAILED
        }
    }
}

fn simple(
    socket: &Path,
    req: &Request,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    control_call(socket, req, json, out, err, |resp, out| match resp {
        Response::Ok { message } => {
            if json {
                let v = serde_json::json!({ "ok": true, "message": message });
                let _ = writeln!(out, "{v}");
            } else {
                let _ = writeln!(out, "{message}");
            }
            true
        }
        other => unexpected(other, out),
    })
}

/// A failure in `--json` mode: `{"ok":false,"error":..}` on stdout.
fn json_error(out: &mut dyn Write, message: &str) {
    let v = serde_json::json!({ "ok": false, "error": message });
    let _ = writeln!(out, "{v}");
}

fn unexpected(resp: Response, out: &mut dyn Write) -> bool {
    let _ = writeln!(out, "{}", serde_json::to_string(&resp).unwrap_or_default());
    true
}

/// Sends `req`; errors from the daemon go to `err` (to `out` as JSON with `json`) with
/// status 1, connection problems with 3.
fn control_call(
    socket: &Path,
    req: &Request,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
    on_success: impl FnOnce(Response, &mut dyn Write) -> bool,
) -> u8 {
    let fail = |out: &mut dyn Write, err: &mut dyn Write, message: &str| {
        if json {
            json_error(out, message);
        } else {
            let _ = writeln!(err, "ipsecgw: {message}");
        }
    };
    match control::request(socket, req) {
        Ok(Response::Error { message }) => {
            fail(out, err, &message);
            EXIT_FAILED
        }
        Ok(resp) => {
            if on_success(resp, out) {
                EXIT_OK
            } else {
                EXIT_FAILED
            }
        }
        Err(e @ ControlError::Connect { .. }) => {
            fail(out, err, &e.to_string());
            EXIT_NO_DAEMON
        }
        Err(e) => {
            fail(out, err, &e.to_string());
            EXIT_FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_subcommands() {
        let c =
            Cli::try_parse_from(["ipsecgw", "run", "--config", "/x.toml", "--foreground"]).unwrap();
        assert!(matches!(
            c.command,
            Command::Run(RunArgs {
                foreground: true,
                ..
            })
        ));
        let c =
            Cli::try_parse_from(["ipsecgw", "initiate", "azure", "--socket", "/tmp/s"]).unwrap();
        match c.command {
            Command::Initiate(a) => {
                assert_eq!(a.name, "azure");
                assert_eq!(a.socket.socket, Path::new("/tmp/s"));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["ipsecgw", "initiate"]).is_err());
    }
}
