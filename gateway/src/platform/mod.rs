//! Integration with the machine the daemon runs on: systemd readiness/watchdog notifications
//! ([`sd_notify`]), journald logging with structured fields ([`journald`]) and the EC2 instance
//! metadata service ([`imds`]) that resolves `local_id = "auto"` / `local_addrs = ["auto"]`;
//! real-time scheduling of the fast-path workers ([`realtime`]); the AES-GCM implementation
//! measured fastest on this CPU ([`aead_backend`]).
//!
//! Everything here is a no-op (or an explicit error) off EC2 / outside systemd, so the daemon
//! calls it unconditionally.

pub mod aead_backend;
pub mod imds;
pub mod journald;
pub mod realtime;
pub mod sd_notify;
