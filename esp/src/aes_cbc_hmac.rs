//! AES-CBC (RFC 3602) with truncated HMAC integrity (RFC 2404 HMAC-SHA1-96, RFC 4868
//! HMAC-SHA2-256-128/384-192/512-256), encrypt-then-MAC as ESP does (RFC 4303 section 3.3.2).
//!
//! # IV construction (no RNG per packet)
//! RFC 3602 section 2.1 requires an unpredictable IV. We derive, once per SA,
//! `K_iv = HMAC-SHA-256(key = K_enc, "ipsecgw ESP AES-CBC IV key v1")` truncated to the AES
//! key length, and use `IV = AES-ECB(K_iv, 0^64 || seq_64)` for the packet with 64-bit
//! sequence number `seq_64`. Sequence numbers never repeat within an SA, AES is a PRP, and
//! `K_iv` is independent of `K_enc` for anyone not knowing `K_enc`, so each IV is unique
//! and unpredictable before it is sent. The receiver just uses the IV from the packet, so
//! this is interoperable with any RFC 3602 peer.

use aes::cipher::consts::U16;
use aes::cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt,
    BlockSizeUser, InnerIvInit, KeyInit,
};
use aes::{Aes128, Aes192, Aes256};
use ring::hmac;
use subtle::ConstantTimeEq;

use crate::aes_gcm_esp::AuthFailed;
use crate::suite::{AesKeySize, Integrity};
use crate::wipe::WipeOnDrop;

/// AES block size, also the CBC IV size.
pub(crate) const BLOCK: usize = 16;

const IV_KEY_LABEL: &[u8] = b"ipsecgw ESP AES-CBC IV key v1";

/// An AES key schedule (zeroized on drop by the `aes` crate's `zeroize` feature).
enum AesKey {
    A128(Box<Aes128>),
    A192(Box<Aes192>),
    A256(Box<Aes256>),
}

impl AesKey {
    fn new(size: AesKeySize, key: &[u8]) -> Option<Self> {
        Some(match size {
            AesKeySize::Aes128 => Self::A128(Box::new(Aes128::new_from_slice(key).ok()?)),
            AesKeySize::Aes192 => Self::A192(Box::new(Aes192::new_from_slice(key).ok()?)),
            AesKeySize::Aes256 => Self::A256(Box::new(Aes256::new_from_slice(key).ok()?)),
        })
    }

    fn encrypt_block(&self, block: &mut [u8; BLOCK]) {
        let b: &mut Array<u8, U16> = block.into();
        match self {
            Self::A128(c) => c.encrypt_block(b),
            Self::A192(c) => c.encrypt_block(b),
            Self::A256(c) => c.encrypt_block(b),
        }
    }

    fn cbc_encrypt(&self, iv: &[u8; BLOCK], blocks: &mut [Array<u8, U16>]) {
        match self {
            Self::A128(c) => cbc_encrypt(&**c, iv, blocks),
            Self::A192(c) => cbc_encrypt(&**c, iv, blocks),
            Self::A256(c) => cbc_encrypt(&**c, iv, blocks),
        }
    }

    fn cbc_decrypt(&self, iv: &[u8; BLOCK], blocks: &mut [Array<u8, U16>]) {
        match self {
            Self::A128(c) => cbc_decrypt(&**c, iv, blocks),
            Self::A192(c) => cbc_decrypt(&**c, iv, blocks),
            Self::A256(c) => cbc_decrypt(&**c, iv, blocks),
        }
    }
}

fn cbc_encrypt<C>(cipher: &C, iv: &[u8; BLOCK], blocks: &mut [Array<u8, U16>])
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let iv: &Array<u8, U16> = iv.into();
    cbc::Encryptor::<&C>::inner_iv_init(cipher, iv).encrypt_blocks(blocks);
}

fn cbc_decrypt<C>(cipher: &C, iv: &[u8; BLOCK], blocks: &mut [Array<u8, U16>])
where
    C: BlockCipherDecrypt + BlockSizeUser<BlockSize = U16>,
{
    let iv: &Array<u8, U16> = iv.into();
    cbc::Decryptor::<&C>::inner_iv_init(cipher, iv).decrypt_blocks(blocks);
}

/// Data for CBC must be a whole number of blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotBlockAligned;

/// AES-CBC key, IV-derivation key and HMAC key of one SA.
pub(crate) struct CbcHmacCipher {
    enc: AesKey,
    iv_key: AesKey,
    mac: WipeOnDrop<hmac::Key>,
    icv_len: usize,
}

impl CbcHmacCipher {
    pub(crate) fn new(
        size: AesKeySize,
        integ: Integrity,
        enc_key: &[u8],
        integ_key: &[u8],
    ) -> Option<Self> {
        if enc_key.len() != size.key_len() || integ_key.len() != integ.key_len() {
            return None;
        }
        let enc = AesKey::new(size, enc_key)?;
        let iv_tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, enc_key), IV_KEY_LABEL);
        let iv_key = AesKey::new(size, iv_tag.as_ref().get(..size.key_len())?)?;
        let alg = match integ {
            Integrity::HmacSha1_96 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Integrity::HmacSha256_128 => hmac::HMAC_SHA256,
            Integrity::HmacSha384_192 => hmac::HMAC_SHA384,
            Integrity::HmacSha512_256 => hmac::HMAC_SHA512,
        };
        Some(Self {
            enc,
            iv_key,
            mac: WipeOnDrop::new(hmac::Key::new(alg, integ_key)),
            icv_len: integ.icv_len(),
        })
    }

    /// The IV for the packet with 64-bit sequence number `seq` (see module docs).
    pub(crate) fn derive_iv(&self, seq: u64) -> [u8; BLOCK] {
        let mut block = [0u8; BLOCK];
        let (_, low) = block.split_at_mut(8);
        low.copy_from_slice(&seq.to_be_bytes());
        self.iv_key.encrypt_block(&mut block);
        block
    }

    /// CBC-encrypts `data` in place.
    pub(crate) fn encrypt(&self, iv: &[u8; BLOCK], data: &mut [u8]) -> Result<(), NotBlockAligned> {
        let (blocks, rest) = Array::<u8, U16>::slice_as_chunks_mut(data);
        if !rest.is_empty() {
            return Err(NotBlockAligned);
        }
        self.enc.cbc_encrypt(iv, blocks);
        Ok(())
    }

    /// CBC-decrypts `data` in place.
    pub(crate) fn decrypt(&self, iv: &[u8; BLOCK], data: &mut [u8]) -> Result<(), NotBlockAligned> {
        let (blocks, rest) = Array::<u8, U16>::slice_as_chunks_mut(data);
        if !rest.is_empty() {
            return Err(NotBlockAligned);
        }
        self.enc.cbc_decrypt(iv, blocks);
        Ok(())
    }

    /// ICV length in bytes.
    pub(crate) fn icv_len(&self) -> usize {
        self.icv_len
    }

    /// Truncated HMAC over `authenticated`, then the ESN high-order bits when present
    /// (RFC 4303 section 2.2.1: appended for the ICV computation only, not transmitted).
    fn tag(&self, authenticated: &[u8], seq_hi: Option<u32>) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.mac);
        ctx.update(authenticated);
        if let Some(hi) = seq_hi {
            ctx.update(&hi.to_be_bytes());
        }
        ctx.sign()
    }

    /// Writes the ICV (exactly `icv_len` bytes) into `icv_out`.
    pub(crate) fn write_icv(
        &self,
        authenticated: &[u8],
        seq_hi: Option<u32>,
        icv_out: &mut [u8],
    ) -> Result<(), AuthFailed> {
        let tag = self.tag(authenticated, seq_hi);
        let src = tag.as_ref().get(..self.icv_len).ok_or(AuthFailed)?;
        if icv_out.len() != src.len() {
            return Err(AuthFailed);
        }
        icv_out.copy_from_slice(src);
        Ok(())
    }

    /// Checks the ICV in constant time.
    pub(crate) fn verify_icv(
        &self,
        authenticated: &[u8],
        seq_hi: Option<u32>,
        icv: &[u8],
    ) -> Result<(), AuthFailed> {
        let tag = self.tag(authenticated, seq_hi);
        let expected = tag.as_ref().get(..self.icv_len).ok_or(AuthFailed)?;
        if icv.len() == expected.len() && bool::from(expected.ct_eq(icv)) {
            Ok(())
        } else {
            Err(AuthFailed)
        }
    }
}
