//! ipsecgw: the gateway daemon and CLI. The only crate in the workspace that does I/O.

pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod dataplane;
pub mod io;
pub mod metrics;
pub mod platform;
pub mod status;
