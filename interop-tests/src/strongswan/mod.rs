//! strongSwan (charon with kernel-libipsec) as the interop peer, run inside a namespace.

mod charon;
mod conf;
mod sas;
mod swanconn;

pub use charon::{log_tail, Charon, CHARON_BIN, IPSEC_TUN, SWANCTL_BIN};
pub use conf::{strongswan_conf, CharonConfig, LogLevels};
pub use sas::SaSummary;
pub use swanconn::{swanctl_conf, StartAction, SwanConn};
