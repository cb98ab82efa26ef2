//! `proxy`: a TCP proxy on a tokio current-thread runtime, over proactor's
//! `TcpStream`. Each connection is forwarded to `--to`, both ways at once,
//! with `tokio::io::copy_bidirectional`; with `--split`, each stream is
//! split into owned halves instead, one task per direction, copying from
//! the read half's own buffer (`copy_buf`, no third buffer). Either way the
//! end of one side's data is passed on as a shutdown of the other's write
//! side. Ctrl-C stops it cleanly.
//!
//! ```text
//! cargo run --release --features uring,tokio --example proxy -- --to 127.0.0.1:8080 [--addr 127.0.0.1:8081] [--split]
//! curl http://127.0.0.1:8081/
//! ```

#[path = "support/ctrl_c.rs"]
mod ctrl_c;

use std::io;
use std::sync::Arc;

use proactor::net::{TcpListener, TcpStream};
use tokio::io::AsyncWriteExt;

/// Forwards `client` to `upstream` and back until both sides are done;
/// returns the bytes each way.
async fn forward(mut client: TcpStream, to: Arc<str>, split: bool) -> io::Result<(u64, u64)> {
    let mut upstream = TcpStream::connect(&*to).await?;
    upstream.set_nodelay(true)?;
    if !split {
        return tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let to_upstream = tokio::spawn(async move {
        let sent = tokio::io::copy_buf(&mut client_read, &mut upstream_write).await?;
        upstream_write.shutdown().await?;
        Ok::<_, io::Error>(sent)
    });
    let received = tokio::io::copy_buf(&mut upstream_read, &mut client_write).await?;
    client_write.shutdown().await?;
    let sent = to_upstream.await.map_err(io::Error::other)??;
    Ok((sent, received))
}

async fn run(addr: String, to: String, split: bool) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!(
        "proxy: listening on {}, forwarding to {to}",
        listener.local_addr()?
    );
    let to: Arc<str> = to.into();
    let mut shutdown = std::pin::pin!(ctrl_c::ctrl_c()?);
    // Kept across loop turns: dropping an accept that already completed
    // would close the connection it accepted.
    let mut accept = Box::pin(listener.accept());
    let mut connections = tokio::task::JoinSet::new();
    let (mut finished, mut bytes) = (0u64, 0u64);
    loop {
        tokio::select! {
            signal = &mut shutdown => {
                signal?;
                break;
            }
            accepted = &mut accept => {
                accept = Box::pin(listener.accept());
                match accepted {
                    Ok((client, _)) => {
                        client.set_nodelay(true)?;
                        connections.spawn(forward(client, to.clone(), split));
                    }
                    Err(e) => eprintln!("proxy: accept: {e}"),
                }
            }
            Some(forwarded) = connections.join_next() => {
                finished += 1;
                match forwarded {
                    Ok(Ok((sent, received))) => bytes += sent + received,
                    Ok(Err(e)) => eprintln!("proxy: connection: {e}"),
                    Err(e) => eprintln!("proxy: connection task: {e}"),
                }
            }
        }
    }
    let open = connections.len();
    connections.shutdown().await;
    println!(
        "proxy: shut down cleanly: {finished} connections finished ({bytes} bytes), {open} closed at exit"
    );
    Ok(())
}

fn main() {
    let (mut addr, mut to, mut split) = ("127.0.0.1:8081".to_string(), None, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--split" => split = true,
            "--addr" | "--to" => match args.next() {
                Some(value) if arg == "--addr" => addr = value,
                Some(value) => to = Some(value),
                None => usage(),
            },
            _ => usage(),
        }
    }
    let Some(to) = to else { usage() };
    // With its I/O and time drivers, the runtime dispatches proactor's
    // operations itself (no thread of proactor's).
    let served = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|runtime| runtime.block_on(run(addr, to, split)));
    if let Err(e) = served {
        eprintln!("proxy: {e}");
        std::process::exit(1);
    }
}

fn usage() -> ! {
    eprintln!("usage: proxy --to HOST:PORT [--addr HOST:PORT] [--split]");
    std::process::exit(2);
}
