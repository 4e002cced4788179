//! Codec tests: golden bytes built from the RFC figures, property round trips, hostile shapes.

pub(crate) mod golden;
mod hostile;
mod roundtrip;
pub(crate) mod strategies;
