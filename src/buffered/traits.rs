//! The trait implementations every stream type and half shares, written
//! once: `futures::io`'s always, `tokio::io`'s with the `tokio` feature.
//!
//! Each macro takes the generics in brackets, the type, and how to reach
//! the direction from `self`: `impl_async_read!([] TcpStream, |s| s.io.read_side())`.

/// `AsyncRead` for a type that reaches a [`ReadSide`](super::ReadSide)
/// through `&self`.
macro_rules! impl_async_read {
    ([$($generics:tt)*] $ty:ty, |$this:ident| $side:expr) => {
        impl<$($generics)*> futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                out: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $side.poll_read(cx, out)
            }
        }

        #[cfg(feature = "tokio")]
        #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
        impl<$($generics)*> tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                out: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                $side.poll_read_buf(cx, out)
            }
        }
    };
}

/// `AsyncBufRead` for a type that reaches a [`ReadSide`](super::ReadSide)
/// through `&mut self`: only exclusive access may lend the read-ahead.
macro_rules! impl_async_buf_read {
    ([$($generics:tt)*] $ty:ty, |$this:ident| $side:expr) => {
        impl<$($generics)*> futures_io::AsyncBufRead for $ty {
            fn poll_fill_buf(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<&[u8]>> {
                let $this = self.get_mut();
                $side.poll_fill_buf(cx)
            }

            fn consume(self: std::pin::Pin<&mut Self>, amt: usize) {
                let $this = self.get_mut();
                $side.consume(amt)
            }
        }

        #[cfg(feature = "tokio")]
        #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
        impl<$($generics)*> tokio::io::AsyncBufRead for $ty {
            fn poll_fill_buf(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<&[u8]>> {
                let $this = self.get_mut();
                $side.poll_fill_buf(cx)
            }

            fn consume(self: std::pin::Pin<&mut Self>, amt: usize) {
                let $this = self.get_mut();
                $side.consume(amt)
            }
        }
    };
}

/// `AsyncWrite` for a type that reaches a [`WriteSide`](super::WriteSide)
/// through `&self`. Vectored writes gather into one operation.
macro_rules! impl_async_write {
    ([$($generics:tt)*] $ty:ty, |$this:ident| $side:expr) => {
        impl<$($generics)*> futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                data: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $side.poll_write(cx, data)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                data: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $side.poll_write_vectored(cx, data)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                $side.poll_flush(cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                $side.poll_shutdown(cx)
            }
        }

        #[cfg(feature = "tokio")]
        #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
        impl<$($generics)*> tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                data: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $side.poll_write(cx, data)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                data: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $side.poll_write_vectored(cx, data)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                $side.poll_flush(cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                $side.poll_shutdown(cx)
            }
        }
    };
}

pub(crate) use {impl_async_buf_read, impl_async_read, impl_async_write};
