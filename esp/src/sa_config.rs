//! Parameters of one ESP SA, as negotiated by IKEv2 (RFC 7296 sections 2.17 and 3.3).

use crate::gcm_backend::GcmBackend;
use crate::lifetime::Lifetime;
use crate::replay_window::{DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW, MIN_REPLAY_WINDOW};
use crate::suite::Suite;
use crate::SaError;

/// Everything but the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaConfig {
    /// SPI of the SA: the receiver's choice (RFC 4303 section 2.1).
    pub spi: u32,
    /// Cipher suite.
    pub suite: Suite,
    /// Extended (64-bit) sequence numbers (RFC 4303 section 2.2.1).
    pub esn: bool,
    /// Anti-replay window size for inbound SAs, 64..=4096.
    pub replay_window: u32,
    /// Byte/packet lifetimes.
    pub lifetime: Lifetime,
    /// The AES-GCM implementation (ignored by the CBC suites).
    pub gcm_backend: GcmBackend,
}

impl SaConfig {
    /// 32-bit sequence numbers, a 1024-packet window, no byte/packet lifetime, ring's AES-GCM.
    pub fn new(spi: u32, suite: Suite) -> Self {
        Self {
            spi,
            suite,
            esn: false,
            replay_window: DEFAULT_REPLAY_WINDOW,
            lifetime: Lifetime::UNLIMITED,
            gcm_backend: GcmBackend::Ring,
        }
    }

    pub(crate) fn validate(&self, key_material: &[u8]) -> Result<(), SaError> {
        if self.spi <= 255 {
            return Err(SaError::ReservedSpi(self.spi));
        }
        if !(MIN_REPLAY_WINDOW..=MAX_REPLAY_WINDOW).contains(&self.replay_window) {
            return Err(SaError::ReplayWindow(self.replay_window));
        }
        let expected = self.suite.key_material_len();
        if key_material.len() != expected {
            return Err(SaError::KeyMaterialLength {
                expected,
                got: key_material.len(),
            });
        }
        Ok(())
    }
}
