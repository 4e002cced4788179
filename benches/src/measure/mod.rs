//! The measurements: iperf3 (TCP and UDP), SMB transfers, ping latency, CPU accounting.

pub mod cpu;
pub mod iperf;
pub mod ping;
pub mod placement;
pub mod smb;
