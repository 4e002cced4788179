//! Happy paths of the simulated pair: both roles, with and without the EC2 1:1 NAT.

mod sim;

use ikev2::{Event, SaPhase};
use sim::*;

const IKE: &[&str] = &["aes256-sha256-modp2048"];
const ESP: &[&str] = &["aes256gcm16"];

#[test]
fn a_initiates_without_nat() {
    let (a, b) = configs(IKE, ESP);
    let mut p = Pair::new(1, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    let (ca, _) = assert_mirrored(&p, false);
    // No NAT: everything stays on port 500.
    assert!(p
        .a
        .sent
        .iter()
        .all(|(_, t)| t.local.port() == 500 && t.remote.port() == 500));
    assert_eq!(ca.local, p.a_local());
    assert_eq!(ca.remote, sock(B_ADDR, 500));
    // AES-256-GCM: 32-byte key + 4-byte salt per direction, no integrity key.
    assert_eq!(ca.inbound_keys.len(), 36);
    // Two exchanges, two messages each way, nothing else.
    assert_eq!(p.a.sent.len(), 2);
    assert_eq!(p.b.sent.len(), 2);
}

#[test]
fn a_initiates_behind_ec2_nat_moves_to_4500() {
    let (a, b) = configs(IKE, ESP);
    let net = NetConfig {
        nat: Some(Nat::ec2()),
        ..NetConfig::default()
    };
    let mut p = Pair::new(2, net, a, b);
    p.initiate_a();
    p.drive();
    let (ca, cb) = assert_mirrored(&p, true);
    match p.a.established()[0] {
        Event::IkeSaEstablished {
            nat_local,
            nat_remote,
            local,
            remote,
            ..
        } => {
            assert!(*nat_local && !*nat_remote);
            assert_eq!(*local, sock(A_PRIVATE, 4500));
            assert_eq!(*remote, sock(B_ADDR, 4500));
        }
        _ => unreachable!(),
    }
    match p.b.established()[0] {
        Event::IkeSaEstablished {
            nat_local,
            nat_remote,
            ..
        } => assert!(!*nat_local && *nat_remote),
        _ => unreachable!(),
    }
    // IKE_SA_INIT on 500, IKE_AUTH from 4500 to 4500; B answers where the request came from.
    let ports: Vec<_> =
        p.a.sent
            .iter()
            .map(|(_, t)| (t.local.port(), t.remote.port()))
            .collect();
    assert_eq!(ports, vec![(500, 500), (4500, 4500)]);
    assert_eq!(p.b.sent[1].1.remote, sock(A_PUBLIC, 4500));
    assert_eq!(
        (ca.local, ca.remote),
        (sock(A_PRIVATE, 4500), sock(B_ADDR, 4500))
    );
    assert_eq!(
        (cb.local, cb.remote),
        (sock(B_ADDR, 4500), sock(A_PUBLIC, 4500))
    );
}

#[test]
fn b_initiates_towards_natted_a() {
    let (a, b) = configs(IKE, ESP);
    let net = NetConfig {
        nat: Some(Nat::ec2()),
        ..NetConfig::default()
    };
    let mut p = Pair::new(3, net, a, b);
    p.initiate_b();
    p.drive();
    let (ca, cb) = assert_mirrored(&p, true);
    // B (initiator) saw A behind a NAT and moved to 4500; A answered from its 4500 socket.
    assert_eq!(p.b.sent[1].1.local.port(), 4500);
    assert_eq!(p.a.sent[1].1.local, sock(A_PRIVATE, 4500));
    assert_eq!(ca.remote, sock(B_ADDR, 4500));
    assert_eq!(cb.remote, sock(A_PUBLIC, 4500));
}

#[test]
fn responder_follows_a_port_rewriting_nat() {
    let (a, b) = configs(IKE, ESP);
    let net = NetConfig {
        nat: Some(Nat {
            port_shift: 30000,
            ..Nat::ec2()
        }),
        ..NetConfig::default()
    };
    let mut p = Pair::new(4, net, a, b);
    p.initiate_a();
    p.drive();
    let (_, cb) = assert_mirrored(&p, true);
    assert_eq!(cb.remote, sock(A_PUBLIC, 34500));
    assert_eq!(p.b.sent[0].1.remote, sock(A_PUBLIC, 30500));
    assert_eq!(p.b.sent[1].1.remote, sock(A_PUBLIC, 34500));
}

#[test]
fn forced_encapsulation_without_nat() {
    let (mut a, b) = configs(IKE, ESP);
    a.force_udp_encap = true;
    let mut p = Pair::new(5, NetConfig::default(), a, b);
    p.initiate_a();
    p.drive();
    let (ca, _) = assert_mirrored(&p, true);
    assert_eq!(ca.local.port(), 4500);
}

#[test]
fn status_reports_the_established_sa_without_secrets() {
    let (a, b) = configs(IKE, ESP);
    let mut p = Pair::new(6, NetConfig::default(), a, b);
    assert_eq!(p.a.ep.status()[0].phase, SaPhase::Idle);
    p.initiate_a();
    assert_eq!(p.a.ep.status()[0].phase, SaPhase::Connecting);
    p.drive();
    let (ca, _) = assert_mirrored(&p, false);
    let s = &p.a.ep.status()[0];
    assert_eq!(s.phase, SaPhase::Established);
    assert_eq!(s.initiator, Some(true));
    assert_eq!(s.children.len(), 1);
    assert_eq!(s.children[0].inbound_spi, ca.inbound_spi);
    assert!(s.established_at.is_some());
    assert!(s.last_error.is_none());
    let shown = format!("{:?} {:?}", p.a.ep.status(), p.a.events);
    assert!(!shown.contains("s3cret"));
    let key_hex: String = ca
        .inbound_keys
        .as_bytes()
        .iter()
        .map(|b| format!("{b}, "))
        .collect();
    assert!(!shown.contains(key_hex.trim_end_matches(", ")));
}

#[test]
fn initiate_twice_is_refused_and_responder_only_never_initiates() {
    let (a, mut b) = configs(IKE, ESP);
    b.role = ikev2::Role::Responder;
    let mut p = Pair::new(7, NetConfig::default(), a, b);
    p.initiate_a();
    let (now, peer, local) = (p.now, p.a.peer, p.a_local());
    assert_eq!(
        p.a.ep.initiate(now, peer, local),
        Err(ikev2::InitiateError::AlreadyActive)
    );
    let (peer, local) = (p.b.peer, p.b_local());
    assert_eq!(
        p.b.ep.initiate(now, peer, local),
        Err(ikev2::InitiateError::ResponderOnly)
    );
    p.drive();
    assert_mirrored(&p, false);
}

#[test]
fn endpoint_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<ikev2::Endpoint>();
    assert_send::<ikev2::Event>();
}
