//! wireguard-go (Debian's package) on both sides.

use interop_tests::topology::AzureLab;
use interop_tests::Result;

use super::wg::{self, WgImpl, WgPair};
use super::TUNNEL_MTU;

pub fn start(lab: &AzureLab) -> Result<WgPair> {
    let imp = WgImpl {
        name: "wireguard-go",
        program: "wireguard-go".into(),
        args: vec!["-f".into()],
        env: vec![("LOG_LEVEL", "error")],
        describe: format!("ChaCha20-Poly1305, MTU {TUNNEL_MTU}, UDP {}", wg::PORT),
    };
    wg::start(lab, &imp)
}
