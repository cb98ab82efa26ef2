//! `File`'s cursor: the cursor methods and the poll-based traits, over one
//! read-ahead buffer and one write buffer.
//!
//! The cursor is the offset of the next byte handed to a reader or
//! written. Read-ahead starts at the cursor; a write lands at the cursor,
//! so it makes read-ahead stale: what is buffered is dropped, and a read
//! still in flight is left to finish (so whoever waits on it is woken) and
//! issued again from the cursor. A file's bytes stay in the file, so
//! dropping read-ahead loses nothing.

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice, SeekFrom};
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use super::File;
use crate::buf::{BufResult, IoBuf, IoBufMut, Slice};
use crate::buffered::{copy_into, ReadAhead, WriteBehind, MAX_BUFFER};
use crate::op::{Op, ReadAt, Statx, WriteAt};
use crate::os::sys::OwnedFile;
use crate::Driver;

type FileRead = ReadAt<Arc<OwnedFile>, Vec<u8>>;
type FileWrite = WriteAt<Arc<OwnedFile>, Slice<Vec<u8>>>;
type FileLength = Statx<Arc<OwnedFile>>;

/// A file's cursor and the buffers behind its traits.
#[derive(Default)]
pub(super) struct Cursor {
    /// The offset of the next byte handed to a reader or written: that of
    /// the first byte of read-ahead, if there is any.
    position: u64,
    read: ReadAhead<FileRead>,
    write: WriteBehind<FileWrite>,
    /// The length a `SeekFrom::End` waits for.
    length: Option<Op<FileLength>>,
    /// A seek `start_seek` asked for and `poll_complete` carries out.
    #[cfg(feature = "tokio")]
    seek_target: Option<SeekFrom>,
}

/// What the cursor's operations need of the file, borrowed apart from the
/// cursor.
struct Handle<'a> {
    fd: &'a Arc<OwnedFile>,
    driver: &'a Driver,
    direct: bool,
    inline_refused: &'a Arc<AtomicBool>,
}

impl Handle<'_> {
    fn read<B: IoBufMut>(&self, buf: B, offset: u64) -> Op<ReadAt<Arc<OwnedFile>, B>> {
        let read = super::positional_read(self.fd, self.direct, self.inline_refused, buf, offset);
        Op::with_driver(read, self.driver.clone())
    }

    fn write<B: IoBuf>(&self, buf: B, offset: u64) -> Op<WriteAt<Arc<OwnedFile>, B>> {
        Op::with_driver(
            WriteAt::new(self.fd.clone(), buf, offset),
            self.driver.clone(),
        )
    }

    fn length(&self) -> Op<FileLength> {
        Op::with_driver(Statx::new(self.fd.clone()), self.driver.clone())
    }
}

impl Cursor {
    /// Puts a fresh cursor at `position`.
    pub(super) fn start_at(&mut self, position: u64) {
        self.position = position;
    }

    /// Makes sure read-ahead is buffered at the cursor, or reports end of
    /// file (nothing buffered) or an error.
    fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        file: &Handle<'_>,
        wanted: usize,
    ) -> Poll<io::Result<()>> {
        let position = self.position;
        self.read
            .poll_fill(cx, wanted, |buf| file.read(buf, position))
    }

    /// Hands out `n` bytes of read-ahead, moving the cursor past them.
    fn consume(&mut self, n: usize) {
        let n = self.read.consume(n);
        // Cannot overflow: a read is only issued at an offset `off_t`
        // holds, and reads at most a buffer's worth.
        self.position = self.position.saturating_add(n as u64);
    }

    /// Reads into what `copy` takes (at most `wanted` bytes).
    fn poll_read_with(
        &mut self,
        cx: &mut Context<'_>,
        file: &Handle<'_>,
        wanted: usize,
        copy: impl FnOnce(&[u8]) -> usize,
    ) -> Poll<io::Result<usize>> {
        if wanted == 0 {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_fill(cx, file, wanted))?;
        let n = copy(self.read.buffered());
        self.consume(n);
        Poll::Ready(Ok(n))
    }

    /// Hands read-ahead (or the read in flight's bytes) to `buf`; `None`
    /// if there is neither, so the caller's buffer can go to the kernel.
    fn poll_take_ahead<B: IoBufMut>(
        &mut self,
        cx: &mut Context<'_>,
        file: &Handle<'_>,
        buf: &mut B,
    ) -> Poll<Option<io::Result<usize>>> {
        if self.read.buffered().is_empty() && !self.read.is_reading() {
            return Poll::Ready(None);
        }
        match ready!(self.poll_fill(cx, file, buf.bytes_total())) {
            Ok(()) => {
                let n = copy_into(self.read.buffered(), buf);
                self.consume(n);
                Poll::Ready(Some(Ok(n)))
            }
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    /// Copies `data` into the write buffer and starts writing it at the
    /// cursor, which moves past it; read-ahead is stale from then on.
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        file: &Handle<'_>,
        data: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let position = self.position;
        let read = &mut self.read;
        let written = ready!(self.write.poll_write(
            cx,
            data,
            position,
            |buf, at| file.write(buf, at),
            || read.discard(),
        ));
        let n = self.after_write(written)?;
        self.position = position.saturating_add(n as u64);
        Poll::Ready(Ok(n))
    }

    /// Waits for the buffered write to land, or fail.
    fn poll_flush(&mut self, cx: &mut Context<'_>, file: &Handle<'_>) -> Poll<io::Result<()>> {
        let drained = ready!(self.write.poll_drain(cx, |buf, at| file.write(buf, at)));
        Poll::Ready(self.after_write(drained))
    }

    /// A failed write's bytes never reached the file, though the cursor
    /// moved past them when they were copied in: it goes back to where
    /// they stopped, as a failed `write(2)` leaves a file's offset.
    fn after_write<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Some(stopped_at) = self.write.take_stopped_at() {
            if stopped_at < self.position {
                self.read.discard();
                self.position = stopped_at;
            }
        }
        result
    }

    /// Flushes, then moves the cursor; returns the new offset.
    fn poll_seek(
        &mut self,
        cx: &mut Context<'_>,
        file: &Handle<'_>,
        target: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        ready!(self.poll_flush(cx, file))?;
        let new = match target {
            SeekFrom::Start(offset) => {
                self.length = None;
                Some(offset)
            }
            SeekFrom::Current(delta) => {
                self.length = None;
                self.position.checked_add_signed(delta)
            }
            SeekFrom::End(delta) => {
                let mut op = self.length.take().unwrap_or_else(|| file.length());
                let Poll::Ready(stat) = Pin::new(&mut op).poll(cx) else {
                    self.length = Some(op);
                    return Poll::Pending;
                };
                stat?.size.checked_add_signed(delta)
            }
        };
        let Some(new) = new else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid seek to a negative or overflowing position",
            )));
        };
        self.move_to(new);
        Poll::Ready(Ok(new))
    }

    /// Moves the cursor to `new`, keeping the read-ahead it lands in.
    fn move_to(&mut self, new: u64) {
        let forward = new
            .checked_sub(self.position)
            .and_then(|forward| usize::try_from(forward).ok());
        match forward {
            Some(forward) if forward <= self.read.buffered().len() => self.consume(forward),
            _ => {
                self.read.discard();
                self.position = new;
            }
        }
    }
}

impl File {
    /// The cursor, and the rest of the file its operations need.
    fn cursor_parts(&mut self) -> (&mut Cursor, Handle<'_>) {
        (
            &mut self.cursor,
            Handle {
                fd: &self.fd,
                driver: &self.driver,
                direct: self.direct,
                inline_refused: &self.inline_refused,
            },
        )
    }

    pub(super) async fn flush_cursor(&mut self) -> io::Result<()> {
        let (cursor, file) = self.cursor_parts();
        poll_fn(|cx| cursor.poll_flush(cx, &file)).await
    }

    /// Caps the cursor's buffers (for `Compat::with_capacity`).
    pub(crate) fn set_buffer_limit(&mut self, limit: usize) {
        self.cursor.read.set_limit(limit);
        self.cursor.write.set_limit(limit);
    }

    /// Whether the cursor's `AsyncWrite` has bytes that have not landed yet.
    pub(super) fn has_unflushed_writes(&self) -> bool {
        !self.cursor.write.is_idle()
    }

    /// The cursor (for `Compat::position`).
    pub(crate) fn cursor_position(&self) -> u64 {
        self.cursor.position
    }

    /// Reads up to `buf.bytes_total()` bytes at the cursor and moves it
    /// past them. `Ok(0)` means end of file (or an empty buffer). Bytes the
    /// `AsyncRead` implementations already read ahead come first;
    /// otherwise `buf` goes to the kernel as it is, with no copy.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("cursor");
    /// std::fs::write(&path, b"hello, cursor")?;
    /// proactor::block_on(async {
    ///     let mut file = proactor::fs::File::open(&path).await?;
    ///     let (read, hello) = file.read(Vec::with_capacity(7)).await;
    ///     assert_eq!(&hello[..read?], b"hello, ");
    ///     let (read, rest) = file.read(Vec::with_capacity(64)).await;
    ///     assert_eq!(&rest[..read?], b"cursor");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn read<B: IoBufMut>(&mut self, mut buf: B) -> BufResult<usize, B> {
        let (cursor, file) = self.cursor_parts();
        if let Some(result) = poll_fn(|cx| cursor.poll_take_ahead(cx, &file, &mut buf)).await {
            return (result, buf);
        }
        let at = cursor.position;
        let (result, buf) = file.read(buf, at).await;
        if let Ok(n) = result {
            cursor.position = at.saturating_add(n as u64);
        }
        (result, buf)
    }

    /// Writes some of `buf`'s initialised bytes at the cursor and moves it
    /// past them; returns how many. What the `AsyncWrite` implementations
    /// buffered lands first, and read-ahead is dropped (the file changed).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("cursor");
    /// proactor::block_on(async {
    ///     let mut file = proactor::fs::File::create(&path).await?;
    ///     let (written, _) = file.write(b"first ").await;
    ///     assert_eq!(written?, 6);
    ///     let (written, _) = file.write(b"second").await;
    ///     assert_eq!(written?, 6);
    ///     file.close().await
    /// })?;
    /// assert_eq!(std::fs::read(&path)?, b"first second");
    /// # Ok(()) }
    /// ```
    pub async fn write<B: IoBuf>(&mut self, buf: B) -> BufResult<usize, B> {
        let (cursor, file) = self.cursor_parts();
        if let Err(e) = poll_fn(|cx| cursor.poll_flush(cx, &file)).await {
            return (Err(e), buf);
        }
        cursor.read.discard();
        let at = cursor.position;
        let (result, buf) = file.write(buf, at).await;
        if let Ok(n) = result {
            cursor.position = at.saturating_add(n as u64);
        }
        (result, buf)
    }

    /// Moves the cursor, and returns its new offset from the start of the
    /// file. What the `AsyncWrite` implementations buffered is flushed
    /// first, and its error reported here. `SeekFrom::End` asks the
    /// file's length; a seek before the start is an `InvalidInput` error.
    /// Seeking forward within the read-ahead keeps it.
    ///
    /// ```
    /// use std::io::SeekFrom;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("cursor");
    /// std::fs::write(&path, b"0123456789")?;
    /// proactor::block_on(async {
    ///     let mut file = proactor::fs::File::open(&path).await?;
    ///     assert_eq!(file.seek(SeekFrom::End(-3)).await?, 7);
    ///     let mut tail = String::new();
    ///     file.read_to_string(&mut tail).await?;
    ///     assert_eq!(tail, "789");
    ///     assert_eq!(file.seek(SeekFrom::Start(2)).await?, 2);
    ///     assert_eq!(file.seek(SeekFrom::Current(3)).await?, 5);
    ///     assert!(file.seek(SeekFrom::Current(-6)).await.is_err());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let (cursor, file) = self.cursor_parts();
        poll_fn(|cx| cursor.poll_seek(cx, &file, pos)).await
    }

    /// Reads from the cursor to the end of the file, appending to `buf`;
    /// returns how many bytes. If it fails (or its future is dropped) part
    /// way, what it read so far is in `buf` and the cursor is past it.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("cursor");
    /// std::fs::write(&path, vec![7; 200_000])?;
    /// proactor::block_on(async {
    ///     let mut file = proactor::fs::File::open(&path).await?;
    ///     let mut all = b"prefix".to_vec();
    ///     assert_eq!(file.read_to_end(&mut all).await?, 200_000);
    ///     assert_eq!(all.len(), 200_006);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let (cursor, file) = self.cursor_parts();
        let start = buf.len();
        loop {
            match poll_fn(|cx| cursor.poll_fill(cx, &file, MAX_BUFFER)).await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let chunk = cursor.read.buffered();
            if chunk.is_empty() {
                return Ok(buf.len() - start);
            }
            buf.extend_from_slice(chunk);
            let n = chunk.len();
            cursor.consume(n);
        }
    }

    /// Reads from the cursor to the end of the file as UTF-8, appending
    /// to `buf`; returns how many bytes. If they are not valid UTF-8, it
    /// fails with `InvalidData` and `buf` is left as it was (the cursor is
    /// at the end all the same).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("cursor");
    /// std::fs::write(&path, "é, ü and ß")?;
    /// proactor::block_on(async {
    ///     let mut file = proactor::fs::File::open(&path).await?;
    ///     let mut text = String::new();
    ///     file.read_to_string(&mut text).await?;
    ///     assert_eq!(text, "é, ü and ß");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        let mut bytes = Vec::new();
        let read = self.read_to_end(&mut bytes).await;
        match String::from_utf8(bytes) {
            Ok(text) => {
                buf.push_str(&text);
                read
            }
            Err(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the file is not valid UTF-8",
            )),
        }
    }
}

impl futures_io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        let wanted = out.len();
        cursor.poll_read_with(cx, &file, wanted, |data| {
            let n = data.len().min(out.len());
            out[..n].copy_from_slice(&data[..n]);
            n
        })
    }
}

impl futures_io::AsyncBufRead for File {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        ready!(cursor.poll_fill(cx, &file, 0))?;
        Poll::Ready(Ok(cursor.read.buffered()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().cursor.consume(amt)
    }
}

impl futures_io::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        cursor.poll_write(cx, &file, &[IoSlice::new(data)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        cursor.poll_write(cx, &file, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        cursor.poll_flush(cx, &file)
    }

    /// Flushes; the file stays open.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        cursor.poll_flush(cx, &file)
    }
}

impl futures_io::AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        cursor.poll_seek(cx, &file, pos)
    }
}

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl tokio::io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        let wanted = out.remaining();
        cursor
            .poll_read_with(cx, &file, wanted, |data| {
                let n = data.len().min(out.remaining());
                out.put_slice(&data[..n]);
                n
            })
            .map_ok(drop)
    }
}

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl tokio::io::AsyncBufRead for File {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        ready!(cursor.poll_fill(cx, &file, 0))?;
        Poll::Ready(Ok(cursor.read.buffered()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().cursor.consume(amt)
    }
}

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl tokio::io::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        cursor.poll_write(cx, &file, &[IoSlice::new(data)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        cursor.poll_write(cx, &file, data)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        cursor.poll_flush(cx, &file)
    }

    /// Flushes; the file stays open.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        cursor.poll_flush(cx, &file)
    }
}

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl tokio::io::AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        self.get_mut().cursor.seek_target = Some(position);
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let (cursor, file) = self.get_mut().cursor_parts();
        let Some(target) = cursor.seek_target else {
            return Poll::Ready(Ok(cursor.position));
        };
        let result = ready!(cursor.poll_seek(cx, &file, target));
        cursor.seek_target = None;
        Poll::Ready(result)
    }
}

static_assertions::assert_impl_all!(File: Send, Sync, Unpin);
