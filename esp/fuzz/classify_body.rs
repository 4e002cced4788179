//! Shared by the cargo-fuzz target `classify_udp_4500` and its corpus replay test
//! (esp/tests/hostile_classify.rs): the UDP 4500 demultiplexer's contract on arbitrary bytes.

use esp::{classify_udp_4500, Udp4500};

/// Checks RFC 3948's demultiplexing rules on `data` (never panics on any input).
pub fn classify_arbitrary(data: &[u8]) {
    match classify_udp_4500(data) {
        Udp4500::Keepalive => assert_eq!(data, [0xff]),
        Udp4500::Ike(ike) => {
            assert_eq!(
                data.get(..4),
                Some(&[0u8; 4][..]),
                "IKE without the non-ESP marker"
            );
            assert_eq!(ike, &data[4..]);
            assert!(!ike.is_empty());
        }
        Udp4500::Esp(esp) => {
            assert_eq!(esp, data);
            assert!(esp.len() >= 8, "ESP shorter than SPI + sequence number");
            assert_ne!(
                esp.get(..4),
                Some(&[0u8; 4][..]),
                "SPI 0 is the non-ESP marker"
            );
        }
        Udp4500::Malformed => {
            let ike = data.len() > 4 && data[..4] == [0; 4];
            let esp = data.len() >= 8 && data[..4] != [0; 4];
            assert!(!ike && !esp && data != [0xff], "valid datagram refused");
        }
    }
}
