//! ipsecgw: the gateway daemon and CLI. The only crate in the workspace that does I/O.

pub mod daemon;
