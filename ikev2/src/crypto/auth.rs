//! Shared-key AUTH payload data (RFC 7296 2.15).

use super::Prf;

/// The pad RFC 7296 2.15 mixes into the shared secret: 17 ASCII bytes, no NUL.
const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// AUTH for a pre-shared key (RFC 7296 2.15):
/// prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | NonceData | prf(SK_p, RestOfIDPayload)).
/// `message` is the sender's IKE_SA_INIT message, `peer_nonce` the other side's nonce data,
/// `sk_p` the sender's SK_pi/SK_pr and `id_body` from [`crate::wire::id_payload_body`].
pub fn psk_auth(
    prf: Prf,
    psk: &[u8],
    message: &[u8],
    peer_nonce: &[u8],
    sk_p: &[u8],
    id_body: &[u8],
) -> Vec<u8> {
    let maced_id = prf.compute(sk_p, &[id_body]);
    let key = prf.compute(psk, &[KEY_PAD]);
    prf.compute(key.as_bytes(), &[message, peer_nonce, maced_id.as_bytes()])
        .as_bytes()
        .to_vec()
}
