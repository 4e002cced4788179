//! A bounds-checked cursor over untrusted bytes (the rustls `Reader` style): every read
//! returns an error instead of panicking, and `finish` rejects trailing bytes.

use super::DecodeError;

/// Cursor over a byte slice. Reads never panic and never index out of bounds.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub(crate) fn left(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.left() == 0
    }

    /// Take exactly `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let have = self.left();
        if n > have {
            return Err(DecodeError::Truncated { need: n, have });
        }
        let end = self
            .pos
            .checked_add(n)
            .ok_or(DecodeError::Truncated { need: n, have })?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated { need: n, have })?;
        self.pos = end;
        Ok(out)
    }

    /// Take everything that is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        out
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Skip `n` reserved bytes (RFC 7296 3: "MUST be sent as zero; MUST be ignored on receipt").
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.take(n).map(|_| ())
    }

    /// A sub-reader for the rest of a substructure whose length field says `len` and whose
    /// first `consumed` bytes (its header, holding that field) were already read. `field`
    /// names the length field in the error when `len` is below `consumed` or points past
    /// the parent; the error carries `len` as sent.
    pub(crate) fn sub(
        &mut self,
        len: usize,
        consumed: usize,
        field: &'static str,
    ) -> Result<Reader<'a>, DecodeError> {
        let bad = DecodeError::BadLength { field, value: len };
        let body = len.checked_sub(consumed).ok_or(bad.clone())?;
        if body > self.left() {
            return Err(bad);
        }
        Ok(Reader::new(self.take(body)?))
    }

    /// All bytes must have been consumed.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        match self.left() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Helpers for building encoded output; lengths are patched in after the body is written.
pub(crate) trait Writer {
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    /// Write a u16 placeholder and return its position for `patch_len16`.
    fn len16_placeholder(&mut self) -> usize;
    /// Patch the u16 at `at` with the number of bytes from `start` to the end.
    fn patch_len16(&mut self, at: usize, start: usize);
}

impl Writer for Vec<u8> {
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn len16_placeholder(&mut self) -> usize {
        let at = self.len();
        self.put_u16(0);
        at
    }
    fn patch_len16(&mut self, at: usize, start: usize) {
        let len = self.len().saturating_sub(start);
        // Encoding is only given well-formed Reprs; a structure over 64 KiB cannot be
        // expressed on the wire (RFC 7296 3.2 lengths are 16 bits).
        debug_assert!(len <= usize::from(u16::MAX), "structure too long to encode");
        let v = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
        if let Some(slot) = at.checked_add(2).and_then(|end| self.get_mut(at..end)) {
            slot.copy_from_slice(&v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_checked() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(r.u16(), Err(DecodeError::Truncated { need: 2, have: 1 }));
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes(1)));
        assert_eq!(r.u8(), Ok(3));
        assert_eq!(r.finish(), Ok(()));
        assert_eq!(
            r.take(usize::MAX).unwrap_err(),
            DecodeError::Truncated {
                need: usize::MAX,
                have: 0
            }
        );
    }
}
