//! The same bad or edge input on both back ends must give the same
//! outcome (invariants 7 and 8). Each test records the outcomes per back
//! end and compares them.

mod common;

use proactor::{Backend, Driver};

fn outcomes(driver: &Driver) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    driver.block_on(async {
        let mut out = Vec::new();
        let file = proactor::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(&path)
            .await
            .unwrap();
        let near = i64::MAX as u64 - 5;
        let (r, _) = file.write_at(b"0123456789".to_vec(), near).await;
        out.push(("write_at near i64::MAX".into(), format!("{r:?}")));
        let (r, _) = file.read_at(Vec::with_capacity(10), i64::MAX as u64).await;
        out.push(("read_at i64::MAX".into(), format!("{r:?}")));
        let r = file.set_len(i64::MAX as u64).await;
        out.push((
            "set_len i64::MAX".into(),
            format!("{:?}", r.map_err(|e| e.kind())),
        ));
        let (r, _) = file.write_at(Vec::new(), 0).await;
        out.push(("empty write_at".into(), format!("{r:?}")));

        let udp = proactor::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let peer = proactor::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = peer.local_addr().unwrap();
        let (r, _) = udp.send_to(vec![7u8; 70_000], to).await;
        out.push((
            "udp 70000 bytes".into(),
            format!("{:?}", r.map_err(|e| e.raw_os_error())),
        ));
        let (r, _) = udp.send_to(Vec::new(), to).await;
        out.push(("udp empty datagram".into(), format!("{r:?}")));
        let (r, _) = peer.recv_from(Vec::with_capacity(0)).await;
        out.push((
            "udp recv into empty buf".into(),
            format!("{:?}", r.map(|(n, _)| n)),
        ));
        let (r, _) = udp.send_to(b"after".to_vec(), to).await;
        out.push(("udp send after".into(), format!("{r:?}")));
        let (r, b) = peer.recv_from(Vec::with_capacity(8)).await;
        out.push((
            "udp next datagram".into(),
            format!("{:?} {:?}", r.map(|(n, _)| n), b),
        ));

        let (a, b) = common::tcp_pair().await;
        let (r, _) = a.write(Vec::new()).await;
        out.push(("tcp empty write".into(), format!("{r:?}")));
        drop(b);
        let (r, _) = a.read(Vec::with_capacity(0)).await;
        out.push(("tcp empty read after peer close".into(), format!("{r:?}")));
        out
    })
}

#[test]
fn edge_inputs_same_on_both_back_ends() {
    let _serial = common::serial();
    let backends = common::backends();
    if backends.len() < 2 {
        return;
    }
    let uring = outcomes(&common::driver(Backend::IoUring));
    let poll = outcomes(&common::driver(Backend::Poll));
    let mut differ = Vec::new();
    for ((what, u), (_, p)) in uring.iter().zip(&poll) {
        println!("{what:35} uring: {u:45} poll: {p}");
        if u != p {
            differ.push(what.clone());
        }
    }
    assert!(differ.is_empty(), "back ends differ on: {differ:?}");
}
