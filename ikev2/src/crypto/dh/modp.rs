//! MODP Diffie-Hellman (RFC 7296 B.2 group 2, RFC 3526 group 14, RFC 5114 2.3 group 24)
//! with RFC 6989 public value checks. Modular exponentiation is crypto-bigint's Montgomery
//! form with a fixed-window ladder over a fixed 256-bit exponent length, so its timing does
//! not depend on the private exponent.

use super::super::CryptoError;
use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::{Uint, U1024, U2048, U256};
use zeroize::{Zeroize, Zeroizing};

/// Private exponents are 256 bits: twice the 128-bit strength target (NIST SP 800-56A
/// 5.6.1.1.1 asks for at least 2x the security strength; group 24's q is 256 bits).
pub(crate) const EXP_BITS: usize = 256;
pub(crate) const EXP_BYTES: usize = EXP_BITS / 8;

/// Group 2 prime, 1024-bit MODP (RFC 7296 appendix B.2, RFC 2409 6.2); generator 2.
pub(crate) const P2_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
);
/// Group 14 prime, 2048-bit MODP (RFC 3526 section 3); generator 2.
pub(crate) const P14_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
);
/// Group 24 prime, 2048-bit MODP with 256-bit prime order subgroup (RFC 5114 2.3).
pub(crate) const P24_HEX: &str = concat!(
    "87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00",
    "E00DF8F1D61957D4FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C",
    "209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B",
    "6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76",
    "B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8E",
    "F6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026",
    "C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103",
    "A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597",
);
/// Group 24 generator (RFC 5114 2.3).
pub(crate) const G24_HEX: &str = concat!(
    "3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA125",
    "10DBC15077BE463FFF4FED4AAC0BB555BE3A6C1B0C6B47B1BC3773BF7E8C6F62",
    "901228F8C28CBB18A55AE31341000A650196F931C77A57F2DDF463E5E9EC144B",
    "777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193",
    "B5045AF2767164E1DFC967C1FB3F2E55A4BD1BFFE83B9C80D052B985D182EA0A",
    "DB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915",
    "B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6184B523D1DB246C3",
    "2F63078490F00EF8D647D148D47954515E2327CFEF98C582664B4C0F6CC41659",
);
/// Group 24 subgroup order q (RFC 5114 2.3).
pub(crate) const Q24_HEX: &str = "8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3";

const P2: U1024 = U1024::from_be_hex(P2_HEX);
const P14: U2048 = U2048::from_be_hex(P14_HEX);
const P24: U2048 = U2048::from_be_hex(P24_HEX);
const G24: U2048 = U2048::from_be_hex(G24_HEX);
const Q24: U256 = U256::from_be_hex(Q24_HEX);

/// The MODP groups we implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Modp {
    G2,
    G14,
    G24,
}

impl Modp {
    /// Whether `x` (big-endian, `EXP_BYTES` long) is a usable private exponent:
    /// 2 <= x, and x < q for group 24.
    pub(crate) fn private_ok(self, x: &U256) -> bool {
        let two = U256::from_u8(2);
        match self {
            Modp::G2 | Modp::G14 => *x >= two,
            Modp::G24 => *x >= two && *x < Q24,
        }
    }

    /// g^x mod p, left-padded to the prime's length (RFC 7296 3.4).
    pub(crate) fn public_value(self, x: &U256) -> Vec<u8> {
        match self {
            Modp::G2 => to_be(&pow(&U1024::from_u8(2), x, EXP_BITS, &P2)),
            Modp::G14 => to_be(&pow(&U2048::from_u8(2), x, EXP_BITS, &P14)),
            Modp::G24 => to_be(&pow(&G24, x, EXP_BITS, &P24)),
        }
    }

    /// Checks the peer's value (RFC 6989 2.1: 1 < y < p-1; 2.2: y^q = 1 for group 24) and
    /// returns y^x mod p, left-padded to the prime's length.
    pub(crate) fn agree(self, x: &U256, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match self {
            Modp::G2 => agree_generic(&P2, None, x, peer),
            Modp::G14 => agree_generic(&P14, None, x, peer),
            Modp::G24 => agree_generic(&P24, Some(&Q24), x, peer),
        }
    }
}

/// base^exp mod p over the low `exp_bits` bits of `exp`; p must be odd (all our primes are).
fn pow<const L: usize>(base: &Uint<L>, exp: &U256, exp_bits: usize, p: &Uint<L>) -> Uint<L> {
    let params = DynResidueParams::new(p);
    DynResidue::new(base, params)
        .pow_bounded_exp(exp, exp_bits)
        .retrieve()
}

fn agree_generic<const L: usize>(
    p: &Uint<L>,
    q: Option<&U256>,
    x: &U256,
    peer: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if peer.len() != Uint::<L>::BYTES {
        return Err(CryptoError::InvalidPublicValue(
            "MODP public value length differs from the prime length (RFC 7296 3.4)",
        ));
    }
    let y = Uint::<L>::from_be_slice(peer);
    let p_minus_1 = p.wrapping_sub(&Uint::<L>::ONE);
    if y <= Uint::<L>::ONE || y >= p_minus_1 {
        return Err(CryptoError::InvalidPublicValue(
            "MODP public value not in 1 < y < p-1 (RFC 6989 2.1)",
        ));
    }
    if let Some(q) = q {
        if pow(&y, q, EXP_BITS, p) != Uint::<L>::ONE {
            return Err(CryptoError::InvalidPublicValue(
                "MODP public value not in the prime-order subgroup (RFC 6989 2.2)",
            ));
        }
    }
    let mut z = pow(&y, x, EXP_BITS, p);
    let out = Zeroizing::new(to_be(&z));
    z.zeroize();
    Ok(out)
}

/// Big-endian bytes of `v`, exactly `Uint::<L>::BYTES` long.
fn to_be<const L: usize>(v: &Uint<L>) -> Vec<u8> {
    let mut out = Vec::with_capacity(Uint::<L>::BYTES);
    for w in v.as_words().iter().rev() {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out
}

/// Parses a private exponent of at most `EXP_BYTES` bytes (big-endian).
pub(crate) fn exponent_from_bytes(bytes: &[u8]) -> Option<Zeroizing<U256>> {
    if bytes.len() > EXP_BYTES {
        return None;
    }
    let mut buf = Zeroizing::new([0u8; EXP_BYTES]);
    buf.get_mut(EXP_BYTES.checked_sub(bytes.len())?..)?
        .copy_from_slice(bytes);
    Some(Zeroizing::new(U256::from_be_slice(&buf[..])))
}
