//! IKEv2 (RFC 7296) as a sans-IO state machine.
//!
//! Bytes and the current time go in; datagrams to send, the next timer deadline and events
//! come out. No sockets, no clock reads, no ambient randomness.

pub mod crypto;
pub mod proposal;
pub mod wire;
