//! boringtun-cli (crates.io) on both sides, configured with `wg`.

use std::path::Path;

use interop_tests::topology::AzureLab;
use interop_tests::Result;

use super::wg::{self, WgImpl, WgPair};
use super::TUNNEL_MTU;

pub fn start(lab: &AzureLab, bin: &Path) -> Result<WgPair> {
    let imp = WgImpl {
        name: "boringtun",
        program: bin.to_path_buf(),
        args: vec!["--foreground".into(), "--disable-drop-privileges".into()],
        env: vec![("WG_LOG_LEVEL", "error")],
        describe: format!(
            "ChaCha20-Poly1305, MTU {TUNNEL_MTU}, UDP {}, default 4 threads",
            wg::PORT
        ),
    };
    wg::start(lab, &imp)
}
