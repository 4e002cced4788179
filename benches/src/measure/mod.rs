//! The measurements: iperf3 (TCP and UDP), SMB transfers, ping latency, CPU accounting,
//! where UDP datagrams were lost.

pub mod cpu;
pub mod hops;
pub mod iperf;
pub mod ping;
pub mod placement;
pub mod smb;
pub mod udp_arrivals;
