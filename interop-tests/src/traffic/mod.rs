//! Traffic through the tunnel: ping, SHA-256-checked TCP transfers, iperf3.

mod iperf;
mod ping;
pub mod report;
mod xfer;

pub use iperf::{iperf3, IperfOpts, IperfResult};
pub use ping::{ping, wait_for_ping, PingOpts, PingResult};
pub use xfer::{tcp_transfer, xfer_bin, TransferResult};
