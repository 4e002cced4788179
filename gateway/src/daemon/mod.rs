//! The running daemon: control plane (tokio) driving `ikev2::Endpoint`, fast-path workers
//! driving `esp` SAs, TUN devices, UDP sockets and routes. (Being written by the lead.)
