//! Key derivation: SKEYSEED and the IKE SA keys (RFC 7296 2.14), rekeyed IKE SAs (2.18) and
//! CHILD_SA keying material (2.17).

use super::{CryptoError, IkeCipher, Integ, Prf, Secret};

/// The seven IKE SA keys (RFC 7296 2.14).
#[derive(Debug)]
pub struct IkeSaKeys {
    pub sk_d: Secret,
    pub sk_ai: Secret,
    pub sk_ar: Secret,
    pub sk_ei: Secret,
    pub sk_er: Secret,
    pub sk_pi: Secret,
    pub sk_pr: Secret,
}

/// SKEYSEED = prf(Ni | Nr, g^ir) and the keys from prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
/// (RFC 7296 2.14). For PRFs with fixed key sizes the nonce halves are used as 2.14 says.
/// (All PRFs implemented here are HMACs, which take keys of any length, so Ni | Nr is used
/// whole.)
#[allow(clippy::too_many_arguments)]
pub fn derive_ike_sa_keys(
    prf: Prf,
    cipher: IkeCipher,
    integ: Option<Integ>,
    ni: &[u8],
    nr: &[u8],
    g_ir: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> Result<IkeSaKeys, CryptoError> {
    let key = zeroize::Zeroizing::new([ni, nr].concat());
    let skeyseed = prf.compute(&key, &[g_ir]);
    expand(prf, cipher, integ, &skeyseed, ni, nr, spi_i, spi_r)
}

/// Keys of an IKE SA created by rekeying (RFC 7296 2.18):
/// SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), with the old SA's PRF; the keys then
/// come from the new SA's PRF: prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) with the new SPIs.
#[allow(clippy::too_many_arguments)]
pub fn derive_rekeyed_ike_sa_keys(
    old_prf: Prf,
    old_sk_d: &[u8],
    new_prf: Prf,
    cipher: IkeCipher,
    integ: Option<Integ>,
    g_ir: &[u8],
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> Result<IkeSaKeys, CryptoError> {
    let skeyseed = old_prf.compute(old_sk_d, &[g_ir, ni, nr]);
    expand(new_prf, cipher, integ, &skeyseed, ni, nr, spi_i, spi_r)
}

/// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi |
/// SPIr) (RFC 7296 2.14). SK_d/SK_pi/SK_pr have the PRF's preferred key length (its output
/// length for HMAC), SK_a* the integrity key length (none for AEAD), SK_e* the cipher's
/// keying material length (RFC 5282 7.1 for GCM's salt).
#[allow(clippy::too_many_arguments)]
fn expand(
    prf: Prf,
    cipher: IkeCipher,
    integ: Option<Integ>,
    skeyseed: &Secret,
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> Result<IkeSaKeys, CryptoError> {
    let integ = match (cipher.is_aead(), integ) {
        (true, None) => None,
        (false, Some(i)) => Some(i),
        (true, Some(_)) => {
            return Err(CryptoError::Unsupported(
                "an integrity algorithm with an AEAD cipher (RFC 5282 8)".into(),
            ))
        }
        (false, None) => {
            return Err(CryptoError::Unsupported(
                "a non-AEAD cipher without an integrity algorithm".into(),
            ))
        }
    };
    let d_len = prf.output_len();
    let a_len = integ.map_or(0, Integ::key_len);
    let e_len = cipher.keymat_len();
    // SK_d, SK_pi, SK_pr (prf output each), SK_ai/SK_ar, SK_ei/SK_er (RFC 7296 2.14).
    let total = [d_len, d_len, d_len, a_len, a_len, e_len, e_len]
        .iter()
        .try_fold(0usize, |acc, &n| acc.checked_add(n))
        .ok_or(CryptoError::Malformed(
            "IKE SA key material length overflows",
        ))?;
    let spi_i = spi_i.to_be_bytes();
    let spi_r = spi_r.to_be_bytes();
    let keymat = prf.prf_plus(skeyseed.as_bytes(), &[ni, nr, &spi_i, &spi_r], total)?;
    let mut rest = keymat.as_bytes();
    let mut take = |n: usize| {
        let (a, b) = rest.split_at(n.min(rest.len()));
        rest = b;
        Secret::new(a.to_vec())
    };
    Ok(IkeSaKeys {
        sk_d: take(d_len),
        sk_ai: take(a_len),
        sk_ar: take(a_len),
        sk_ei: take(e_len),
        sk_er: take(e_len),
        sk_pi: take(d_len),
        sk_pr: take(d_len),
    })
}

/// KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (RFC 7296 2.17), `len` bytes. The caller splits
/// it: initiator-to-responder encryption key then integrity key, then the same for the other
/// direction.
pub fn child_keymat(
    prf: Prf,
    sk_d: &[u8],
    g_ir: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    len: usize,
) -> Result<Secret, CryptoError> {
    match g_ir {
        Some(g) => prf.prf_plus(sk_d, &[g, ni, nr], len),
        None => prf.prf_plus(sk_d, &[ni, nr], len),
    }
}
