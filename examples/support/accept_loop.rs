//! The accept loop the server examples share: serve every connection at
//! once until Ctrl-C, then drop the ones still open. The example including
//! it also includes `support/ctrl_c.rs` as `ctrl_c`.

use std::future::Future;
use std::io;
use std::pin::pin;

use futures::future::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};

/// How the connections ended.
pub struct Served {
    /// Connections that ran to their end.
    pub finished: u64,
    /// Connections still open at Ctrl-C, dropped.
    pub open: usize,
}

/// Accepts with `accept` until Ctrl-C, serves each connection with the
/// future `serve` makes of it, all at once, and hands each result to
/// `finished`. A failed accept (out of fds, a client gone before its
/// accept) is reported under `name` and the loop goes on.
pub async fn serve_until_ctrl_c<C, A, S>(
    name: &str,
    mut accept: impl FnMut() -> A,
    mut serve: impl FnMut(C) -> S,
    mut finished: impl FnMut(S::Output),
) -> io::Result<Served>
where
    A: Future<Output = io::Result<C>>,
    S: Future,
{
    let mut shutdown = pin!(super::ctrl_c::ctrl_c()?.fuse());
    // Kept across loop turns: dropping an accept that already completed
    // would close the connection it accepted.
    let mut next = pin!(accept().fuse());
    let mut connections = FuturesUnordered::new();
    let mut served = Served {
        finished: 0,
        open: 0,
    };
    loop {
        futures::select! {
            signal = shutdown => {
                signal?;
                break;
            }
            accepted = next => {
                next.set(accept().fuse());
                match accepted {
                    Ok(connection) => connections.push(serve(connection)),
                    Err(e) => eprintln!("{name}: accept: {e}"),
                }
            }
            result = connections.select_next_some() => {
                served.finished += 1;
                finished(result);
            }
        }
    }
    served.open = connections.len();
    Ok(served)
}
