//! Splitting a stream into a read half and a write half, written once for
//! `TcpStream` and `UnixStream`.
//!
//! The halves own the stream's two directions, each with its state: the
//! read-ahead and the read in flight go with the read half, the buffered
//! write and the write in flight with the write half, and reuniting puts
//! them back. So no byte is dropped or duplicated by splitting, whatever
//! API read or wrote before.

/// The halves of stream type `$stream` (in the module invoking this), with
/// doc examples that begin with `$setup`: hidden lines that make two
/// connected pairs of `$stream`s, `stream` and `peer`, `other` and
/// `other_peer`, inside `block_on`.
macro_rules! split_halves {
    ($stream:ident, $setup:literal) => {
        #[doc = concat!("The read half of a [`", stringify!($stream), "`], owned: from [`", stringify!($stream), "::into_split`].")]
        ///
        /// It implements `AsyncRead` and `AsyncBufRead` (`futures::io`'s,
        /// and `tokio::io`'s with the `tokio` feature) and owns the
        /// stream's read-ahead. Dropping it cancels the read in flight; the
        /// write half goes on, and the socket closes when both are gone.
        ///
        /// ```
        #[doc = $setup]
        /// use futures::io::AsyncBufReadExt;
        ///
        /// let (read, _write) = stream.into_split();
        /// peer.write_all(b"one\ntwo\n").await.0?;
        /// let mut lines = read.lines();
        /// # use futures::StreamExt;
        /// assert_eq!(lines.next().await.transpose()?.as_deref(), Some("one"));
        /// assert_eq!(lines.next().await.transpose()?.as_deref(), Some("two"));
        /// # Ok(()) })
        /// # }
        /// ```
        pub struct OwnedReadHalf {
            read: crate::buffered::ReadSide,
        }

        #[doc = concat!("The write half of a [`", stringify!($stream), "`], owned: from [`", stringify!($stream), "::into_split`].")]
        ///
        /// It implements `AsyncWrite` (`futures::io`'s, and `tokio::io`'s
        /// with the `tokio` feature). A write is copied into the half's
        /// buffer and reported done; flush (or close / shut down, which
        /// flush first) to learn that it was sent. Dropping the half
        /// cancels a write still in flight, and does not shut the
        /// connection down.
        ///
        /// ```
        #[doc = $setup]
        /// use futures::io::AsyncWriteExt;
        ///
        /// let (_read, mut write) = stream.into_split();
        /// write.write_all(b"hello").await?;
        /// write.close().await?; // flushes, then shuts the write side down
        /// let mut got = Vec::new();
        /// futures::io::AsyncReadExt::read_to_end(&mut &peer, &mut got).await?;
        /// assert_eq!(got, b"hello");
        /// # Ok(()) })
        /// # }
        /// ```
        pub struct OwnedWriteHalf {
            write: crate::buffered::WriteSide,
        }

        #[doc = concat!("The read half of a [`", stringify!($stream), "`], borrowed: from [`", stringify!($stream), "::split`].")]
        ///
        /// It implements `AsyncRead` but not `AsyncBufRead`: it shares the
        /// read-ahead with every other borrower of the stream, so it cannot
        /// lend it out across calls. Wrap it in a `BufReader`, or use
        /// `into_split`, for buffered reading.
        ///
        /// Any number of borrowed halves may read at once, from as many
        /// tasks: each read takes the next run of bytes under the
        /// direction's lock, so no byte is lost, duplicated or torn, and
        /// every waiting task is woken; which task gets which run is up to
        /// the scheduling.
        ///
        /// ```
        #[doc = $setup]
        /// use futures::io::{AsyncReadExt, AsyncWriteExt};
        ///
        #[doc = concat!(" let (mut read, mut write) = ", stringify!($stream), "::split(&stream);")]
        /// write.write_all(b"ping").await?;
        /// write.flush().await?;
        /// let (got, ping) = peer.read_exact(vec![0; 4]).await;
        /// got?;
        /// peer.write_all(ping).await.0?;
        /// let mut pong = [0; 4];
        /// read.read_exact(&mut pong).await?;
        /// assert_eq!(&pong, b"ping");
        /// # Ok(()) })
        /// # }
        /// ```
        #[derive(Debug)]
        pub struct ReadHalf<'a> {
            stream: &'a $stream,
        }

        #[doc = concat!("The write half of a [`", stringify!($stream), "`], borrowed: from [`", stringify!($stream), "::split`].")]
        ///
        /// It implements `AsyncWrite`. Several borrowed halves may write at
        /// once: each write's bytes (up to the buffer's size per call) go
        /// out together, in the order the writes were taken.
        ///
        /// ```
        #[doc = $setup]
        /// use futures::io::AsyncWriteExt;
        ///
        #[doc = concat!(" let (_read, mut write) = ", stringify!($stream), "::split(&stream);")]
        /// write.write_all(b"borrowed").await?;
        /// write.flush().await?;
        /// let (got, buf) = peer.read_exact(vec![0; 8]).await;
        /// got?;
        /// assert_eq!(buf, b"borrowed");
        /// # Ok(()) })
        /// # }
        /// ```
        #[derive(Debug)]
        pub struct WriteHalf<'a> {
            stream: &'a $stream,
        }

        /// Two halves that are not from the same stream, given back.
        ///
        /// ```
        #[doc = $setup]
        /// let (read, _) = stream.into_split();
        /// let (_, write) = other.into_split();
        /// let error = read.reunite(write).unwrap_err();
        /// // Both halves come back, as they were.
        /// let (read, write) = (error.0, error.1);
        /// # drop((read, write, other_peer));
        /// # Ok(()) })
        /// # }
        /// ```
        #[derive(Debug)]
        pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

        impl std::fmt::Display for ReuniteError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("tried to reunite halves that are not from the same stream")
            }
        }

        impl std::error::Error for ReuniteError {}

        impl std::fmt::Debug for OwnedReadHalf {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("OwnedReadHalf")
                    .field("socket", self.read.socket())
                    .finish_non_exhaustive()
            }
        }

        impl std::fmt::Debug for OwnedWriteHalf {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("OwnedWriteHalf").finish_non_exhaustive()
            }
        }

        impl OwnedReadHalf {
            /// The chunks the half receives, each in a buffer of `pool`, as
            /// the stream's own
            #[doc = concat!("[`recv_stream`](", stringify!($stream), "::recv_stream)")]
            /// does: so a task that owns the read half can take chunks while
            /// another writes.
            ///
            /// ```
            #[doc = $setup]
            /// use futures::StreamExt;
            /// use proactor::buf::BufPool;
            ///
            /// let (read, _write) = stream.into_split();
            /// let pool = BufPool::new(8, 4096)?;
            /// peer.write_all(b"ping").await.0?;
            /// let mut chunks = read.recv_stream(&pool);
            /// let chunk = chunks.next().await.expect("not closed")?;
            /// assert_eq!(&chunk[..], b"ping");
            /// # Ok(()) })
            /// # }
            /// ```
            pub fn recv_stream<'a>(&'a self, pool: &crate::buf::BufPool) -> crate::net::RecvStream<'a> {
                crate::net::RecvStream::new(&self.read, pool)
            }

            #[doc = concat!("Puts the stream back together, with whatever either half buffered; [`ReuniteError`] if `write` is another stream's half.")]
            ///
            /// ```
            #[doc = $setup]
            /// let (read, write) = stream.into_split();
            /// let stream = read.reunite(write).expect("halves of one stream");
            /// # drop(stream);
            /// # Ok(()) })
            /// # }
            /// ```
            // The error gives both halves back, as tokio's does.
            #[allow(clippy::result_large_err)]
            pub fn reunite(self, write: OwnedWriteHalf) -> Result<$stream, ReuniteError> {
                match crate::buffered::Duplex::reunite(self.read, write.write) {
                    Ok(io) => Ok($stream { io }),
                    Err((read, write)) => Err(ReuniteError(
                        OwnedReadHalf { read },
                        OwnedWriteHalf { write },
                    )),
                }
            }
        }

        impl OwnedWriteHalf {
            /// As [`OwnedReadHalf::reunite`], from the write half.
            ///
            /// ```
            #[doc = $setup]
            /// let (read, write) = stream.into_split();
            /// let stream = write.reunite(read).expect("halves of one stream");
            /// # drop(stream);
            /// # Ok(()) })
            /// # }
            /// ```
            #[allow(clippy::result_large_err)]
            pub fn reunite(self, read: OwnedReadHalf) -> Result<$stream, ReuniteError> {
                read.reunite(self)
            }
        }

        impl $stream {
            /// Splits the stream into a read half and a write half that
            /// can move to different tasks, for full-duplex I/O. Each half
            /// takes its direction's state with it (read-ahead, a write in
            /// flight), and [`OwnedReadHalf::reunite`] puts them back.
            ///
            /// ```
            #[doc = $setup]
            /// use futures::io::{AsyncReadExt, AsyncWriteExt};
            ///
            /// let (mut read, mut write) = stream.into_split();
            /// let writer = async move {
            ///     write.write_all(&[7; 100_000]).await?;
            ///     write.close().await
            /// };
            /// let echo = async {
            ///     let (got, buf) = peer.read_exact(vec![0; 100_000]).await;
            ///     got?;
            ///     peer.write_all(buf).await.0
            /// };
            /// let reader = async move {
            ///     let mut back = vec![0; 100_000];
            ///     read.read_exact(&mut back).await.map(|()| back)
            /// };
            /// let (written, echoed, back) = futures::join!(writer, echo, reader);
            /// written?;
            /// echoed?;
            /// assert_eq!(back?, vec![7; 100_000]);
            /// # Ok(()) })
            /// # }
            /// ```
            pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
                let (read, write) = self.io.split();
                (OwnedReadHalf { read }, OwnedWriteHalf { write })
            }

            /// Borrowed halves: a reader and a writer over `&self`, for
            /// full-duplex I/O within one scope. The stream's own methods
            /// and `&self`'s `AsyncRead` / `AsyncWrite` still work alongside
            /// and share the same state: see [`ReadHalf`] for what
            /// concurrent readers get.
            ///
            /// With `futures::io::AsyncReadExt` or `tokio::io::AsyncBufReadExt`
            /// in scope, `stream.split()` means that trait's `split`, which
            /// takes the stream by value (method lookup tries by-value
            /// receivers first): call this one by its type's name, as below.
            ///
            /// ```
            #[doc = $setup]
            /// use futures::io::{AsyncReadExt, AsyncWriteExt};
            ///
            #[doc = concat!(" let (mut read, mut write) = ", stringify!($stream), "::split(&stream);")]
            #[doc = concat!(" let (mut peer_read, mut peer_write) = ", stringify!($stream), "::split(&peer);")]
            /// let ((), ()) = futures::try_join!(
            ///     async { write.write_all(b"to peer").await?; write.flush().await },
            ///     async { peer_write.write_all(b"to stream").await?; peer_write.flush().await },
            /// )?;
            /// let mut a = [0; 9];
            /// let mut b = [0; 7];
            /// futures::try_join!(read.read_exact(&mut a), peer_read.read_exact(&mut b))?;
            /// assert_eq!((&a, &b), (b"to stream", b"to peer"));
            /// # Ok(()) })
            /// # }
            /// ```
            pub fn split(&self) -> (ReadHalf<'_>, WriteHalf<'_>) {
                (ReadHalf { stream: self }, WriteHalf { stream: self })
            }
        }

        crate::buffered::impl_async_read!([] OwnedReadHalf, |half| half.read);
        crate::buffered::impl_async_buf_read!([] OwnedReadHalf, |half| half.read);
        crate::buffered::impl_async_write!([] OwnedWriteHalf, |half| half.write);
        crate::buffered::impl_async_read!(['a] ReadHalf<'a>, |half| half.stream.io.read_side());
        crate::buffered::impl_async_write!(['a] WriteHalf<'a>, |half| half.stream.io.write_side());
    };
}

pub(super) use split_halves;
