//! ESP data plane (RFC 4303, RFC 4106, RFC 3602/2404/4868, RFC 3948), without I/O.
//!
//! * [`OutboundSa::encapsulate`] turns an inner IPv4/IPv6 packet into a tunnel-mode ESP packet
//!   in place: the caller leaves [`Suite::headroom`] bytes in front of the packet and
//!   [`Suite::max_tailroom`] (or exactly [`Suite::tailroom`]) bytes behind it
//!   ([`MAX_HEADROOM`]/[`MAX_TAILROOM`] fit every suite). The result is the ESP part only:
//!   what goes into a UDP 4500 datagram or after an outer IP header ([`outer_headers`]).
//! * [`InboundSa::decapsulate`] verifies and decrypts an ESP packet in place and returns the
//!   inner packet's range in the same buffer, or a typed [`DecapError`] counted per kind in
//!   [`InboundStats`].
//! * [`Suite`] is named by IANA transform ids ([`Suite::from_transforms`]); insecure
//!   algorithms are refused with advice. Keys come from one KEYMAT slice in RFC 7296 section
//!   2.17 order ([`Suite::key_material_len`]).
//! * [`classify_udp_4500`] demultiplexes IKE, NAT-keepalives and ESP on port 4500.
//!
//! # Concurrency design
//! Both SA types are `Send + Sync` and used through `&self` by several fast-path workers;
//! there is no lock and no heap allocation per packet (a test with a counting global
//! allocator checks the latter).
//!
//! * Outbound: sequence numbers come from one `AtomicU64::fetch_add`, so concurrent workers
//!   never reuse one (the AES-GCM IV is the sequence number, so reuse would be fatal). The
//!   counter never wraps: past the soft limit (15/16 of the space, or a soft lifetime) the
//!   SA raises a one-shot `rekey_signal` and `rekey_requested()`; past the hard limit it
//!   refuses with [`EncapError::SequenceExhausted`] / [`EncapError::Expired`]. A worker
//!   encapsulating a batch (the segments of one TUN read) takes its numbers as one block
//!   ([`OutboundSa::batch`], one `fetch_add` for the batch); numbers it leaves unused are
//!   never sent, a gap the receiver takes as loss.
//! * Usage counters (packets and bytes, for lifetimes and statistics) are atomics written
//!   once per batch: workers count into a [`Tally`] ([`OutboundSa::encapsulate_batched`],
//!   [`InboundSa::decapsulate_tallied`]) checked against the limits together with what is
//!   committed, and commit it to the SA after the batch. With several workers a hard limit
//!   may be passed by what the others have not yet committed (at most a batch each).
//! * Inbound: the anti-replay window ([`ReplayWindow`]) is a ring of `AtomicU64` words, each
//!   holding a 16-bit bitmap and the 48-bit number of the block it describes (RFC 6479's
//!   ring of blocks, with lazily and atomically replaced stale blocks instead of a clearing
//!   pass). RFC 4303's order is kept per packet: read-only pre-check, ICV verification, then
//!   a compare-and-swap that marks the number; of concurrent packets with the same number
//!   exactly one wins the CAS, so a replay is never accepted twice, and the highest number
//!   advances with `fetch_max`. The module docs of [`replay_window`] give the soundness
//!   argument. The only concurrency effect is benign: a packet that a concurrent newer one
//!   pushes out of the window between pre-check and update is dropped as too old, just as
//!   if it had arrived later. ESN inference reads the highest number once per packet; a
//!   stale read can only make the guess wrong, which fails the ICV (RFC 4303 appendix A).
//!
//! # Key material
//! Raw key bytes are never stored: they are expanded into cipher objects at SA creation.
//! RustCrypto objects (AES-CBC, AES-192-GCM) zeroize themselves on drop; ring's AES-GCM and
//! HMAC keys are wiped by a drop guard (module `wipe`, the crate's only `unsafe`); aws-lc-rs
//! keys (the other AES-GCM backend, [`GcmBackend`]) are overwritten by AWS-LC when freed. `Debug` of SA types prints no key.

#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::arithmetic_side_effects,
        clippy::panic
    )
)]
#![warn(missing_docs)]

mod aes_cbc_hmac;
mod aes_gcm_esp;
pub mod error;
pub mod gcm_backend;
mod inbound;
pub mod lifetime;
mod outbound;
pub mod outer_headers;
pub mod replay_window;
mod sa_cipher;
pub mod sa_config;
pub mod sequence;
pub mod suite;
pub mod trailer;
pub mod udp_encap;
mod wipe;

#[cfg(test)]
mod kat_tests;

pub use error::{DecapError, EncapError, SaError};
pub use gcm_backend::{GcmBackend, GcmProbe};
pub use inbound::{Decapsulated, InboundSa, InboundStats, InnerProto, Payload};
pub use lifetime::{Lifetime, LimitKind, Tally};
pub use outbound::{Encapsulated, OutboundBatch, OutboundSa, OutboundStats};
pub use replay_window::{
    ReplayWindow, DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW, MIN_REPLAY_WINDOW,
};
pub use sa_config::SaConfig;
pub use suite::{AesKeySize, Integrity, Suite, SuiteError, MAX_HEADROOM, MAX_TAILROOM};
pub use trailer::NextHeader;
pub use udp_encap::{classify_udp_4500, Udp4500};
