//! Whole-file and path operations.

use std::io;
use std::path::Path;

use super::{File, Metadata};
use crate::buf::IoBuf;
use crate::op::{MkDirAt, Op, RenameAt, StatxPath, UnlinkAt};
use crate::Driver;

/// Smallest read `read` issues when the size hint runs out.
const READ_CHUNK: usize = 64 * 1024;

/// Reads a whole file.
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
    let mut buf = Vec::with_capacity(usize::try_from(hint).unwrap_or(0).saturating_add(1));
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(READ_CHUNK.max(buf.len() / 2));
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

/// Writes `contents` as the whole file, creating or truncating it.
pub async fn write<B: IoBuf>(path: impl AsRef<Path>, contents: B) -> io::Result<()> {
    let file = File::create(path).await?;
    let (result, _) = file.write_all_at(contents, 0).await;
    result?;
    file.close().await
}

/// Renames a file or directory, replacing `to` if it exists.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let op = RenameAt::new(from.as_ref(), to.as_ref())?;
    Op::with_driver(op, Driver::try_current()?).await
}

/// Removes a file.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let op = UnlinkAt::new(path.as_ref(), false)?;
    Op::with_driver(op, Driver::try_current()?).await
}

/// Removes an empty directory.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let op = UnlinkAt::new(path.as_ref(), true)?;
    Op::with_driver(op, Driver::try_current()?).await
}

/// Creates a directory (its parent must exist), with mode `0o777` before
/// the umask.
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let op = MkDirAt::new(path.as_ref(), 0o777)?;
    Op::with_driver(op, Driver::try_current()?).await
}

/// The metadata of `path`, following symlinks.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let op = StatxPath::new(path.as_ref())?;
    Op::with_driver(op, Driver::try_current()?)
        .await
        .map(Metadata::new)
}
