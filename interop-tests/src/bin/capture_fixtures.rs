//! Regenerates the strongSwan IKE fixtures in `ikev2/tests/fixtures/strongswan/` (or the folder
//! given as the first argument): runs strongSwan (gw, initiator, behind the EIP NAT) against
//! strongSwan (azure, responder, `ike`/`chd` logs at level 4), captures every IKE datagram on
//! azure's outside interface, and writes the messages plus the logged keys.
//!
//! Exchanges captured per suite: IKE_SA_INIT, IKE_AUTH, a CHILD_SA rekey (CREATE_CHILD_SA and
//! the INFORMATIONAL deleting the old CHILD_SA), and the INFORMATIONAL deleting the IKE SA.
//!
//! Run as root: `cargo run -p interop-tests --bin capture_fixtures`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use interop_tests::capture::UdpCapture;
use interop_tests::error::Context;
use interop_tests::fixtures::{ike_messages, write_fixture_set, FixtureSet};
use interop_tests::proc::wait_for_some;
use interop_tests::scenario::{azure_conn, PairOptions, SwanPair, GW_CHILD, GW_CONN, LAB_PSK};
use interop_tests::strongswan::LogLevels;
use interop_tests::topology::{LabOptions, AZURE_OUTSIDE_IF, VNET_HOST};
use interop_tests::traffic::{ping, PingOpts};
use interop_tests::Result;

struct Suite {
    name: &'static str,
    /// IKE proposal both sides use (`None` on the Azure side: Azure's default list).
    ike: &'static str,
    esp: &'static str,
    azure_default: bool,
    note: &'static str,
}

const SUITES: [Suite; 2] = [
    Suite {
        name: "azure-default",
        ike: "aes256-sha1-modp1024",
        esp: "aes256gcm16",
        azure_default: true,
        note: "Azure default policy on the responder; the initiator offers Azure's first proposal.",
    },
    Suite {
        name: "gcm-ecp384",
        ike: "aes256gcm16-prfsha384-ecp384",
        esp: "aes256gcm16-ecp384",
        azure_default: false,
        note: "Both sides: IKE aes256gcm16-prfsha384-ecp384, ESP aes256gcm16 with PFS ecp384 (the CHILD rekey carries KE).",
    },
];

fn capture(suite: &Suite, out: &std::path::Path) -> Result<()> {
    let mut opts = PairOptions::azure_default(LabOptions {
        nat: true,
        label: format!("fixtures-{}", suite.name),
    });
    opts.gw_ike = vec![suite.ike.into()];
    opts.gw_esp = vec![suite.esp.into()];
    opts.azure_log = LogLevels::keys();
    let pair = SwanPair::start(opts.clone())?;
    if !suite.azure_default {
        let conn = azure_conn(&pair.lab).proposals(&[suite.ike], &[suite.esp]);
        pair.azure.reload(&[conn])?;
    }
    let cap = UdpCapture::start(&pair.lab.azure, AZURE_OUTSIDE_IF, &[500, 4500])?;
    let wait_msgs = |n: usize, what: &str| {
        wait_for_some(what, Duration::from_secs(20), || {
            let s = cap.snapshot();
            let m = ike_messages(&s);
            (m.len() >= n).then_some(())
        })
    };

    pair.connect()?;
    wait_msgs(4, "IKE_SA_INIT + IKE_AUTH")?;
    let p = ping(
        &pair.lab.vpc,
        VNET_HOST,
        &PingOpts {
            count: 3,
            ..PingOpts::default()
        },
    )?;
    if p.received == 0 {
        interop_tests::bail!("no ping through the tunnel: {p:?}");
    }
    pair.gw.rekey_child(GW_CHILD)?;
    wait_msgs(8, "the CHILD_SA rekey and the old CHILD_SA's delete")?;
    pair.gw.terminate_ike(GW_CONN, Duration::from_secs(10))?;
    wait_msgs(10, "the IKE SA delete")?;
    let messages = ike_messages(&cap.stop()?);

    let set = FixtureSet {
        name: suite.name.into(),
        ike_proposal: suite.ike.into(),
        esp_proposal: suite.esp.into(),
        psk: LAB_PSK.into(),
        initiator_id: pair.lab.gw_public_addr().into(),
        responder_id: pair.lab.azure_public_addr().into(),
        notes: vec![
            suite.note.into(),
            "Initiator: strongSwan 5.9.8 at 172.31.5.10 behind 1:1 NAT (EIP 198.51.100.10); responder: strongSwan 5.9.8 at 203.0.113.20.".into(),
            "IDs are ID_IPV4_ADDR. Keys were logged by the responder (charon ike=4, chd=4).".into(),
        ],
    };
    let files = write_fixture_set(out, &set, &messages, &pair.azure.log())
        .context(format!("writing {}", suite.name))?;
    for f in files {
        println!("wrote {}", f.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    interop_tests::cleanup::install_signal_cleanup();
    if !interop_tests::require_root("capture_fixtures") {
        return ExitCode::FAILURE;
    }
    let mut out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ikev2/tests/fixtures/strongswan")
        });
    if std::fs::create_dir_all(&out).is_ok() {
        out = out.canonicalize().unwrap_or(out);
    }
    for suite in &SUITES {
        if let Err(e) = capture(suite, &out) {
            eprintln!("capture_fixtures: {}: {e}", suite.name);
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
