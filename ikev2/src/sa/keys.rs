//! The IKE SA's keys once IKE_SA_INIT is done (RFC 7296 2.13-2.14), oriented for our role:
//! SK payload protection each way, SK_d for CHILD_SA keying, SK_pi/SK_pr for AUTH.

use crate::crypto::{self, CryptoError, IkeCipher, Integ, Prf, Secret, SkProtector};
use crate::proposal::IkeSuite;
use crate::wire::IntegId;

pub(crate) struct IkeKeys {
    pub prf: Prf,
    pub sk_d: Secret,
    pub sk_pi: Secret,
    pub sk_pr: Secret,
    /// Seals what we send.
    pub outbound: SkProtector,
    /// Opens what the peer sends.
    pub inbound: SkProtector,
}

impl IkeKeys {
    /// SKEYSEED and the seven keys from the negotiated suite, nonces, g^ir and SPIs.
    #[allow(clippy::too_many_arguments)]
    pub fn derive(
        suite: &IkeSuite,
        initiator: bool,
        ni: &[u8],
        nr: &[u8],
        g_ir: &[u8],
        spi_i: u64,
        spi_r: u64,
    ) -> Result<IkeKeys, CryptoError> {
        let prf = Prf::from_id(suite.prf)?;
        let cipher = IkeCipher::from_transform(suite.encr, suite.key_bits)?;
        let integ = match suite.integ {
            Some(id) if id != IntegId::NONE && !cipher.is_aead() => Some(Integ::from_id(id)?),
            _ => None,
        };
        let k = crypto::derive_ike_sa_keys(prf, cipher, integ, ni, nr, g_ir, spi_i, spi_r)?;
        Self::orient(prf, cipher, integ, k, initiator)
    }

    /// Keys of the IKE SA that replaces `old` (RFC 7296 2.18): SKEYSEED from the old SK_d and
    /// PRF, the rest with the new suite, nonces and SPIs. `initiator`: we initiated the rekey
    /// (and so are the new IKE SA's original initiator).
    #[allow(clippy::too_many_arguments)]
    pub fn derive_rekeyed(
        old: &IkeKeys,
        suite: &IkeSuite,
        initiator: bool,
        ni: &[u8],
        nr: &[u8],
        g_ir: &[u8],
        spi_i: u64,
        spi_r: u64,
    ) -> Result<IkeKeys, CryptoError> {
        let prf = Prf::from_id(suite.prf)?;
        let cipher = IkeCipher::from_transform(suite.encr, suite.key_bits)?;
        let integ = match suite.integ {
            Some(id) if id != IntegId::NONE && !cipher.is_aead() => Some(Integ::from_id(id)?),
            _ => None,
        };
        let k = crypto::derive_rekeyed_ike_sa_keys(
            old.prf,
            old.sk_d.as_bytes(),
            prf,
            cipher,
            integ,
            g_ir,
            ni,
            nr,
            spi_i,
            spi_r,
        )?;
        Self::orient(prf, cipher, integ, k, initiator)
    }

    fn orient(
        prf: Prf,
        cipher: IkeCipher,
        integ: Option<Integ>,
        k: crypto::IkeSaKeys,
        initiator: bool,
    ) -> Result<IkeKeys, CryptoError> {
        let (ai, ar) = match integ {
            Some(_) => (Some(k.sk_ai.as_bytes()), Some(k.sk_ar.as_bytes())),
            None => (None, None),
        };
        let i_to_r = SkProtector::new(cipher, k.sk_ei.as_bytes(), integ, ai)?;
        let r_to_i = SkProtector::new(cipher, k.sk_er.as_bytes(), integ, ar)?;
        let (outbound, inbound) = if initiator {
            (i_to_r, r_to_i)
        } else {
            (r_to_i, i_to_r)
        };
        Ok(IkeKeys {
            prf,
            sk_d: k.sk_d,
            sk_pi: k.sk_pi,
            sk_pr: k.sk_pr,
            outbound,
            inbound,
        })
    }
}
