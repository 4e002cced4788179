//! Zeroization of ring key objects on drop.
//!
//! ring's `aead::LessSafeKey` and `hmac::Key` hold expanded key schedules / HMAC pad states
//! inline and do not zeroize them. RustCrypto keys zeroize themselves (`zeroize` feature);
//! for ring keys no crate offers this, so this module wipes their bytes when the SA drops.

#![allow(unsafe_code)]

use core::mem::ManuallyDrop;
use core::ops::Deref;

mod sealed {
    /// Types whose memory is plain inline data: no heap pointers, no `Drop` impl, only
    /// `&'static` references besides bytes. Verified against ring 0.17's definitions:
    /// `LessSafeKey { inner: KeyInner (AES/GHASH tables or ChaCha key), algorithm: &'static }`
    /// and `hmac::Key { inner, outer: digest::BlockContext (state array, counter, &'static) }`.
    pub trait FlatKey {}
    impl FlatKey for ring::aead::LessSafeKey {}
    impl FlatKey for ring::hmac::Key {}
}

/// Owns a ring key and overwrites its bytes with zeros when dropped.
pub(crate) struct WipeOnDrop<T: sealed::FlatKey>(ManuallyDrop<T>);

impl<T: sealed::FlatKey> WipeOnDrop<T> {
    pub(crate) fn new(key: T) -> Self {
        Self(ManuallyDrop::new(key))
    }
}

impl<T: sealed::FlatKey> Deref for WipeOnDrop<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: sealed::FlatKey> Drop for WipeOnDrop<T> {
    fn drop(&mut self) {
        let ptr: *mut T = &mut *self.0;
        // SAFETY: `ptr` points to a live, exclusively borrowed `T` that is a flat type (see
        // `FlatKey`): no heap data, no Drop impl, so zeroing its bytes frees or skips nothing.
        // The value sits in `ManuallyDrop` and is never read, used or dropped after this
        // point, so the (possibly invalid) all-zero bit pattern is never observed as a `T`.
        unsafe { zeroize::zeroize_flat_type(ptr) };
    }
}
