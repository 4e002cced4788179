//! Per-packet transforms of the fast path that do not belong to ESP itself.

pub mod aqm;
pub mod checksum;
pub mod codel;
pub mod flow_queue;
pub mod gso_split;
pub mod icmp_ptb;
pub mod inner_shape;
pub mod mss_clamp;
