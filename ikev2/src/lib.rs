//! IKEv2 (RFC 7296) as a sans-IO state machine.
//!
//! Bytes and the current time go in; datagrams to send, the next timer deadline and events
//! come out. No sockets, no clock reads, no ambient randomness.
//!
//! [`Endpoint`] holds the configured peers and all IKE SAs (the shape of quinn-proto):
//! feed it received datagrams with [`Endpoint::handle`], send what
//! [`Endpoint::poll_transmit`] returns, call [`Endpoint::handle_timeout`] when
//! [`Endpoint::poll_timeout`] expires, and act on [`Endpoint::poll_event`] (install the
//! CHILD_SAs of [`Event::ChildSaEstablished`] in the data plane, remove them on
//! [`Event::ChildSaDeleted`]).
//!
//! ```no_run
//! use ikev2::{crypto, Endpoint, Event, Identity, PeerConfig};
//! use std::net::SocketAddr;
//! use std::time::Instant;
//! # fn rng() -> Box<dyn crypto::Random + Send> { unimplemented!() }
//! # fn recv() -> (SocketAddr, SocketAddr, Vec<u8>) { unimplemented!() }
//! # fn send(_: &ikev2::Transmit) {}
//! let mut ep = Endpoint::new(rng());
//! let local: SocketAddr = "172.31.5.10:500".parse().unwrap();
//! let mut cfg = PeerConfig::new(
//!     "azure",
//!     "203.0.113.20:500".parse().unwrap(),
//!     Identity::Ipv4("198.51.100.10".parse().unwrap()), // the elastic IP
//!     crypto::Secret::new(b"pre-shared key".to_vec()),
//! );
//! cfg.ike_proposals = vec![ikev2::proposal::parse_ike("aes256-sha256-modp2048").unwrap()];
//! cfg.esp_proposals = vec![ikev2::proposal::parse_esp("aes256gcm16").unwrap()];
//! let peer = ep.add_peer(cfg);
//! ep.initiate(Instant::now(), peer, local).unwrap();
//! loop {
//!     while let Some(t) = ep.poll_transmit() {
//!         send(&t); // prepend the non-ESP marker when t.local is a port-4500 socket
//!     }
//!     while let Some(ev) = ep.poll_event() {
//!         if let Event::ChildSaEstablished(child) = ev {
//!             let _ = child; // install in the ESP fast path
//!         }
//!     }
//!     // wait for a datagram or ep.poll_timeout(), then:
//!     let (local, remote, bytes) = recv();
//!     ep.handle(Instant::now(), local, remote, &bytes);
//!     ep.handle_timeout(Instant::now());
//! }
//! ```
//!
//! Modules: `wire` (codec), `crypto`, `proposal` (negotiation), `config` (per-peer settings),
//! `event` (what comes out), `endpoint` (demultiplexing and timers), and the IKE SA state
//! machine in `sa`: `ike_sa_init`, `ike_auth_psk`, `child_sa`, `traffic_selector`, `nat`,
//! `retransmit`, `informational`, `create_child` (CREATE_CHILD_SA for new CHILD_SAs), `rekey_child`
//! (CHILD_SA rekey and collisions), `rekey_ike` (IKE SA rekey), `lifetime` (rekey deadlines),
//! `dpd` (dead peer detection), `message_id` (rekey or close before message IDs wrap), `work`
//! (what our side starts next).
//!
//! # No panics on network input
//! Non-test code is built with clippy's `indexing_slicing`, `unwrap_used`, `expect_used`,
//! `arithmetic_side_effects` and `panic` lints denied: lengths from the wire are checked and
//! turned into errors, counters and timers saturate, and message IDs (RFC 7296 section 2.2)
//! are compared and advanced explicitly.

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

pub mod config;
pub mod crypto;
pub mod dos;
pub mod endpoint;
pub mod event;
pub mod proposal;
mod sa;
mod time;
pub mod wire;

pub use config::{
    ChildConfig, ChildLifetime, Identity, Lifetime, PeerConfig, RetransmitConfig, Role,
};
pub use endpoint::{Endpoint, InitiateError};
pub use event::{
    ChildSa, ChildStatus, DeleteReason, Event, FailureReason, PeerId, PeerStatus, SaPhase, Transmit,
};
