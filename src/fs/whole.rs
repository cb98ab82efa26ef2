//! Whole-file functions: read, write and copy a file in one call.

use std::io;
use std::path::Path;

use super::on_pool::on_pool;
use super::File;
use crate::buf::IoBuf;
use crate::Driver;

/// Smallest read `read` issues when the size hint runs out.
const READ_CHUNK: usize = 64 * 1024;

/// Reads a whole file into a new, owned `Vec`: the kernel reads straight
/// into it, no copy.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let path = std::env::temp_dir().join(format!("proactor-doc-read-{}", std::process::id()));
/// proactor::block_on(async {
///     proactor::fs::write(&path, b"contents").await?;
///     assert_eq!(proactor::fs::read(&path).await?, b"contents");
///     proactor::fs::remove_file(&path).await
/// })
/// # }
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let file = File::open(path).await?;
    let hint = file.len().await.unwrap_or(0);
    let mut buf = Vec::new();
    // As std's `fs::read`: a length no allocation can hold (a sparse file,
    // say) is an `OutOfMemory` error, never an abort.
    reserve(
        &mut buf,
        usize::try_from(hint)
            .unwrap_or(usize::MAX)
            .saturating_add(1),
    )?;
    loop {
        if buf.len() == buf.capacity() {
            let more = READ_CHUNK.max(buf.len() / 2);
            reserve(&mut buf, more)?;
        }
        let filled = buf.len();
        let total = buf.capacity();
        let (result, slice) = file.read_at(buf.slice(filled..total), filled as u64).await;
        buf = slice.into_inner();
        match result {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    file.close().await?;
    Ok(buf)
}

/// Grows `buf` by `additional` bytes, or fails as std's `fs::read` does.
fn reserve(buf: &mut Vec<u8>, additional: usize) -> io::Result<()> {
    buf.try_reserve_exact(additional).map_err(|_| {
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            "the file is larger than this process can allocate",
        )
    })
}

/// Reads a whole file as UTF-8 text, as [`std::fs::read_to_string`]: text
/// that is not UTF-8 is an [`InvalidData`](io::ErrorKind::InvalidData)
/// error. Like [`read`], no copy: the bytes read become the `String`.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("poem.txt");
/// proactor::block_on(async {
///     proactor::fs::write(&path, "line one\nline two\n").await?;
///     let text = proactor::fs::read_to_string(&path).await?;
///     assert_eq!(text.lines().count(), 2);
///     Ok(())
/// })
/// # }
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    String::from_utf8(read(path).await?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Writes `contents` as the whole file, creating or truncating it, as
/// [`std::fs::write`].
///
/// `contents` is borrowed, so it is **copied**: a chunk at a time into a
/// pooled buffer the driver can own while the kernel writes it (see
/// [`File::write_all_at_copied`]). To hand over an owned buffer instead, with
/// no copy, use [`write_owned`].
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("greeting");
/// let text = format!("hello, {}", "world");
/// proactor::block_on(async {
///     proactor::fs::write(&path, text.as_bytes()).await?; // borrowed: copied
///     proactor::fs::write(&path, &text).await?; // anything AsRef<[u8]>
///     assert_eq!(proactor::fs::read(&path).await?, b"hello, world");
///     Ok(())
/// })
/// # }
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let file = File::create(path).await?;
    file.write_all_at_copied(contents.as_ref(), 0).await?;
    file.close().await
}

/// Writes the owned buffer `contents` as the whole file, creating or
/// truncating it: the kernel writes from `contents` itself, no copy (the
/// zero-copy form of [`write()`]). The buffer is dropped afterwards; use
/// [`File::write_all_at`] to get it back.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("big");
/// let data = vec![42u8; 1 << 20];
/// proactor::block_on(async {
///     proactor::fs::write_owned(&path, data).await?; // moved in: no copy
///     assert_eq!(proactor::fs::metadata(&path).await?.len(), 1 << 20);
///     Ok(())
/// })
/// # }
/// ```
pub async fn write_owned<B: IoBuf>(path: impl AsRef<Path>, contents: B) -> io::Result<()> {
    let file = File::create(path).await?;
    let (result, _) = file.write_all_at(contents, 0).await;
    result?;
    file.close().await
}

/// Copies the contents and permission bits of the file `from` to `to`,
/// creating or truncating `to`, as [`std::fs::copy`]; returns the number of
/// bytes copied.
///
/// It is `std::fs::copy` run on the blocking pool, on both back ends: on
/// Linux that is `copy_file_range(2)`, which copies inside the kernel (no
/// byte crosses into user space) and shares the extents instead where the
/// filesystem can (Btrfs, XFS, NFS server-side copy); it falls back to
/// `sendfile` and then to reads and writes where it must. io_uring has no
/// copy operation: `IORING_OP_SPLICE` would need a pipe between the files
/// and two operations per pipe-full, each of which the kernel hands to one of
/// its io-wq worker threads (it never runs a splice inline), so one pool
/// call costs less, and only it can share extents.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let (from, to) = (dir.path().join("from"), dir.path().join("to"));
/// proactor::block_on(async {
///     proactor::fs::write(&from, b"copied in the kernel").await?;
///     assert_eq!(proactor::fs::copy(&from, &to).await?, 20);
///     assert_eq!(proactor::fs::read(&to).await?, b"copied in the kernel");
///     Ok(())
/// })
/// # }
/// ```
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_path_buf(), to.as_ref().to_path_buf());
    on_pool(Driver::try_current()?, move || std::fs::copy(&from, &to)).await
}
