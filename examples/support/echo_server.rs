//! The echo loop shared by the `echo` example, `iobench --op echo` and the
//! echo bench, so all three measure and show the same server.

// Each user takes the part it needs.
#![allow(dead_code)]

use std::io;

use futures::future::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use proactor::net::{TcpListener, TcpStream};

/// Sends back everything `stream` receives until the peer closes it, reading
/// into a buffer of `buffer` bytes. Returns the bytes echoed.
pub async fn serve(stream: TcpStream, buffer: usize) -> io::Result<u64> {
    let mut echoed = 0;
    let mut buf = Vec::with_capacity(buffer);
    loop {
        buf.clear();
        let (result, read) = stream.read(buf).await;
        let n = result?;
        if n == 0 {
            return Ok(echoed);
        }
        let (result, written) = stream.write_all(read).await;
        result?;
        echoed += n as u64;
        buf = written;
    }
}

/// Accepts on `listener` for ever, echoing on every connection (with
/// `TCP_NODELAY`, 64 KiB buffers) at once. A failed accept or connection
/// ends only itself.
pub async fn serve_all(listener: TcpListener) {
    let mut connections = FuturesUnordered::new();
    let mut accept = Box::pin(listener.accept().fuse());
    loop {
        futures::select! {
            accepted = accept => {
                accept.set(listener.accept().fuse());
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                connections.push(serve(stream, 64 * 1024));
            }
            _ = connections.select_next_some() => {}
        }
    }
}
