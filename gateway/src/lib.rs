//! ipsecgw: the gateway daemon and CLI. The only crate in the workspace that does I/O.

pub mod daemon;
pub mod config;
pub mod io;
pub mod dataplane;
pub mod control;
pub mod status;
pub mod metrics;
pub mod cli;
