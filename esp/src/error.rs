//! Typed errors of SA construction, encapsulation and decapsulation.

use crate::lifetime::LimitKind;

/// Why an SA could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaError {
    /// The key material slice has the wrong length for the suite.
    #[error("key material must be {expected} bytes for this suite, got {got}")]
    KeyMaterialLength {
        /// `Suite::key_material_len()`.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// SPI values 0..=255 are reserved (RFC 4303 section 2.1).
    #[error("SPI {0:#x} is reserved (RFC 4303 section 2.1)")]
    ReservedSpi(u32),
    /// The replay window must be 64..=4096.
    #[error("replay window {0} outside 64..=4096")]
    ReplayWindow(u32),
}

/// Why a packet was not encapsulated. Nothing was sent; the buffer may hold partial output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncapError {
    /// The inner range does not lie inside the buffer.
    #[error("inner packet range lies outside the buffer")]
    BadRange,
    /// Not enough bytes in front of the inner packet.
    #[error("need {needed} bytes of headroom, have {available}")]
    NoHeadroom {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// Not enough bytes behind the inner packet.
    #[error("need {needed} bytes of tailroom, have {available}")]
    NoTailroom {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The sequence number space is used up (RFC 4303 section 3.3.3: never cycle); rekey.
    #[error("sequence numbers exhausted: the SA must be rekeyed")]
    SequenceExhausted,
    /// A hard lifetime limit was reached; rekey.
    #[error("SA hard lifetime reached ({0})")]
    Expired(LimitKind),
    /// The cipher refused the input (not expected with a well-formed buffer).
    #[error("internal cipher error")]
    Cipher,
}

/// Why a received ESP packet was dropped. Each kind has a counter in `InboundStats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecapError {
    /// Shorter than header + IV + minimal trailer + ICV.
    #[error("truncated ESP packet")]
    Truncated,
    /// Ciphertext not a whole number of cipher blocks (RFC 3602 section 3).
    #[error("ESP ciphertext length not block aligned")]
    BadLength,
    /// The SPI in the packet is not this SA's.
    #[error("SPI does not match this SA")]
    SpiMismatch,
    /// Left of the anti-replay window (or sequence number 0).
    #[error("sequence number left of the replay window")]
    TooOld,
    /// Sequence number already received.
    #[error("replayed sequence number")]
    Replayed,
    /// Integrity check failed.
    #[error("ICV verification failed")]
    BadIcv,
    /// Pad length larger than the payload or padding bytes not 1, 2, 3, ...
    #[error("invalid ESP padding")]
    BadPadding,
    /// Next header neither IPv4 (4), IPv6 (41) nor no-next-header (59).
    #[error("unexpected next header {0} in tunnel mode")]
    BadNextHeader(u8),
    /// The SA's hard lifetime is reached.
    #[error("SA hard lifetime reached ({0})")]
    Expired(LimitKind),
}
