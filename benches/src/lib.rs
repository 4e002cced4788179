//! End-to-end benchmark harness (issue 8): the same Azure lab topology as the interop tests
//! (VPC host, gateway behind an EC2-style 1:1 NAT, Azure-side gateway, VNet host), one tunnel
//! kind at a time, measured with iperf3, ping, smbclient and /proc CPU counters.
//!
//! The driver is `src/bin/bench.rs`, started by `scripts/bench.sh`.

pub mod allowed_cc;
pub mod config;
pub mod crypto;
pub mod machine;
pub mod measure;
pub mod report;
pub mod signals;
pub mod suite;
pub mod tunnels;

pub use interop_tests::{Error, Result};
