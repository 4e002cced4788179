//! `ipsecgw`: see `ipsecgw --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    gateway::cli::main_with(gateway::daemon::run)
}
