//! The echo loop shared by the `echo` example, `iobench --op echo` and the
//! echo bench, so all three measure and show the same server.

// Each user takes the part it needs.
#![allow(dead_code)]

use std::future::Future;
use std::io;

use futures::future::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use proactor::buf::BufPool;
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

/// Sends back everything `stream` receives until the peer closes it, each
/// chunk received into a buffer of `pool` and written back as it is.
/// Returns the bytes echoed.
pub async fn serve_pooled(stream: TcpStream, pool: BufPool) -> io::Result<u64> {
    let mut echoed = 0;
    let mut chunks = stream.recv_stream(&pool);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        echoed += chunk.len() as u64;
        let (result, _back_to_the_pool) = stream.write_all(chunk).await;
        result?;
    }
    Ok(echoed)
}

/// Accepts on `listener` for ever, echoing on every connection (with
/// `TCP_NODELAY`) at once, each chunk in a buffer of one pool of 256 ×
/// 16 KiB shared by every connection.
pub async fn serve_all_pooled(listener: TcpListener) {
    let pool = BufPool::new(256, 16 * 1024).expect("a buffer pool");
    serve_each(listener, |stream| serve_pooled(stream, pool.clone())).await
}

/// Accepts on `listener` for ever, echoing on every connection (with
/// `TCP_NODELAY`, 64 KiB buffers) at once. A failed accept or connection
/// ends only itself.
pub async fn serve_all(listener: TcpListener) {
    serve_each(listener, |stream| serve(stream, 64 * 1024)).await
}

/// Accepts on `listener` for ever, running `serve` on every connection
/// (with `TCP_NODELAY`) at once. A failed accept or connection ends only
/// itself.
async fn serve_each<F: Future<Output = io::Result<u64>>>(
    listener: TcpListener,
    mut serve: impl FnMut(TcpStream) -> F,
) {
    let mut connections = FuturesUnordered::new();
    let mut accept = Box::pin(listener.accept().fuse());
    loop {
        futures::select! {
            accepted = accept => {
                accept.set(listener.accept().fuse());
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                connections.push(serve(stream));
            }
            _ = connections.select_next_some() => {}
        }
    }
}
