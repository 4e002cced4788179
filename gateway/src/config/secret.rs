//! The pre-shared key: never printed, zeroized on drop.

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A pre-shared key. `Debug` and `Display` print `<redacted>`; the bytes are wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Psk(Vec<u8>);

impl Psk {
    pub fn new(bytes: Vec<u8>) -> Self {
        Psk(bytes)
    }
    /// The key bytes, for the IKE AUTH computation only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Decodes a PSK as written in the config: `0x...` is hex (strongSwan syntax), anything else is
/// taken as its UTF-8 bytes. Errors never include the key.
pub(crate) fn decode(text: &str) -> Result<Psk, String> {
    if let Some(hex) = text.strip_prefix("0x") {
        if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(
                "starts with 0x but is not valid hex: write an even number of hex digits \
                        after 0x, or drop the 0x to use the text as is"
                    .into(),
            );
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("checked hex"))
            .collect();
        return Ok(Psk(bytes));
    }
    Ok(Psk(text.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let p = decode("hunter2hunter2").unwrap();
        assert_eq!(format!("{p:?} {p}"), "<redacted> <redacted>");
        assert_eq!(p.expose(), b"hunter2hunter2");
    }

    #[test]
    fn hex_form() {
        assert_eq!(decode("0x0aff").unwrap().expose(), &[0x0a, 0xff]);
        let e = decode("0xabc").unwrap_err();
        assert!(!e.contains("abc"));
    }
}
