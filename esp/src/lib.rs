//! ESP data plane (RFC 4303). See docs/ARCHITECTURE.md.
