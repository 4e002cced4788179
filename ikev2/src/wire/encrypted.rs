//! Encrypted payloads, still sealed: SK (RFC 7296 3.14) and SKF (RFC 7383 2.5).
//! Their generic header's Next Payload names the first inner payload, so either ends the
//! outer chain; the chain walker enforces that nothing follows.

use super::reader::{Reader, Writer};
use super::{DecodeError, Encrypted, EncryptedFragment, PayloadType};

/// 3.14: the body is IV || encrypted payloads || padding || ICV, kept opaque here.
pub(crate) fn decode_sk(first_inner: PayloadType, body: &[u8]) -> Encrypted {
    Encrypted {
        first_inner,
        body: body.to_vec(),
    }
}

/// RFC 7383 2.5: Fragment Number (2), Total Fragments (2), then IV || ciphertext || ICV.
/// Fragment numbers start at 1 and may not exceed the total.
pub(crate) fn decode_skf(
    first_inner: PayloadType,
    body: &[u8],
) -> Result<EncryptedFragment, DecodeError> {
    let mut r = Reader::new(body);
    let fragment_number = r.u16()?;
    let total_fragments = r.u16()?;
    if fragment_number == 0 || fragment_number > total_fragments {
        return Err(DecodeError::Syntax("SKF fragment number outside 1..=total"));
    }
    Ok(EncryptedFragment {
        first_inner,
        fragment_number,
        total_fragments,
        body: r.rest().to_vec(),
    })
}

pub(crate) fn encode_skf(f: &EncryptedFragment, out: &mut Vec<u8>) {
    out.put_u16(f.fragment_number);
    out.put_u16(f.total_fragments);
    out.extend_from_slice(&f.body);
}
