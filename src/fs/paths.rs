//! Path operations with an io_uring operation of their own: one submission
//! on io_uring, the matching system call on the blocking pool otherwise.

use std::io;
use std::path::Path;

use super::Metadata;
use crate::op::{LinkAt, MkDirAt, Op, RenameAt, StatxPath, UnlinkAt};
use crate::Driver;

/// Renames a file or directory, replacing `to` if it exists.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let (from, to) = (dir.path().join("from"), dir.path().join("to"));
/// use proactor::fs;
///
/// proactor::block_on(async {
///     fs::write(&from, b"moved").await?;
///     fs::write(&to, b"replaced").await?;
///     fs::rename(&from, &to).await?;
///     assert!(!fs::try_exists(&from).await?);
///     assert_eq!(fs::read(&to).await?, b"moved");
///     Ok(())
/// })
/// # }
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let op = RenameAt::new(from.as_ref(), to.as_ref())?;
    Op::with_driver(op, Driver::try_current()?).await
}

/// Removes a file; `NotFound` if there is none.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// use proactor::fs;
///
/// proactor::block_on(async {
///     fs::write(&path, b"x").await?;
///     fs::remove_file(&path).await?;
///     assert!(!fs::try_exists(&path).await?);
///     let again = fs::remove_file(&path).await.unwrap_err();
///     assert_eq!(again.kind(), std::io::ErrorKind::NotFound);
///     Ok(())
/// })
/// # }
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let op = UnlinkAt::new(path.as_ref(), false)?;
    Op::with_driver(op, Driver::try_current()?).await
}

/// Removes an empty directory.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let sub = dir.path().join("sub");
/// use proactor::fs;
///
/// proactor::block_on(async {
///     fs::create_dir(&sub).await?;
///     fs::write(sub.join("file"), b"x").await?;
///     assert!(fs::remove_dir(&sub).await.is_err()); // not empty
///     fs::remove_file(sub.join("file")).await?;
///     fs::remove_dir(&sub).await?;
///     assert!(!fs::try_exists(&sub).await?);
///     Ok(())
/// })
/// # }
/// ```
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let op = UnlinkAt::new(path.as_ref(), true)?;
    Op::with_driver(op, Driver::try_current()?).await
}

/// Creates a directory (its parent must exist), with mode `0o777` before
/// the umask.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// use proactor::fs;
///
/// proactor::block_on(async {
///     let sub = dir.path().join("sub");
///     fs::create_dir(&sub).await?;
///     assert!(fs::metadata(&sub).await?.is_dir());
///     let exists = fs::create_dir(&sub).await.unwrap_err();
///     assert_eq!(exists.kind(), std::io::ErrorKind::AlreadyExists);
///     assert!(fs::create_dir(dir.path().join("no/parent")).await.is_err());
///     Ok(())
/// })
/// # }
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let op = MkDirAt::new(path.as_ref(), 0o777)?;
    Op::with_driver(op, Driver::try_current()?).await
}

/// The metadata of `path`, following symlinks.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("data");
/// use proactor::fs;
///
/// proactor::block_on(async {
///     fs::write(&path, b"hello").await?;
///     let meta = fs::metadata(&path).await?;
///     assert!(meta.is_file());
///     assert_eq!(meta.len(), 5);
///     assert!(fs::metadata(dir.path()).await?.is_dir());
///     Ok(())
/// })
/// # }
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let op = StatxPath::new(path.as_ref())?;
    Op::with_driver(op, Driver::try_current()?)
        .await
        .map(Metadata::new)
}

/// Whether `path` names something, following symlinks, as
/// [`Path::try_exists`]: `Ok(false)` only when it is not found; any other
/// failure to look (a file where a directory should be, no permission to
/// search a directory) is the error. A symlink to nothing is `Ok(false)`.
///
/// One `statx` on io_uring, a `stat` on the blocking pool otherwise.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("maybe");
/// proactor::block_on(async {
///     assert!(!proactor::fs::try_exists(&path).await?);
///     proactor::fs::write(&path, b"now it does").await?;
///     assert!(proactor::fs::try_exists(&path).await?);
///     Ok(())
/// })
/// # }
/// ```
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    match metadata(path).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Makes `link` a new name (a hard link) for the file `original` names, as
/// [`std::fs::hard_link`]. If `original` is a symlink, the link is to the
/// symlink itself. Both must be on one filesystem.
///
/// `IORING_OP_LINKAT` on io_uring (Linux 5.15; before, and on the readiness
/// back end, `linkat(2)` on the blocking pool).
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let original = dir.path().join("original");
/// let link = dir.path().join("link");
/// proactor::block_on(async {
///     proactor::fs::write(&original, b"one file, two names").await?;
///     proactor::fs::hard_link(&original, &link).await?;
///     proactor::fs::remove_file(&original).await?;
///     assert_eq!(proactor::fs::read(&link).await?, b"one file, two names");
///     Ok(())
/// })
/// # }
/// ```
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let op = LinkAt::new(original.as_ref(), link.as_ref())?;
    Op::with_driver(op, Driver::try_current()?).await
}

/// Makes `link` a symbolic link to `original`, as
/// [`std::os::unix::fs::symlink`]. `original` is stored as given: it need
/// not exist, and a relative one is resolved from `link`'s directory.
///
/// `IORING_OP_SYMLINKAT` on io_uring (Linux 5.15; before, and on the
/// readiness back end, `symlink(2)` on the blocking pool).
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let link = dir.path().join("config");
/// proactor::block_on(async {
///     proactor::fs::write(dir.path().join("config.v2"), b"v2").await?;
///     proactor::fs::symlink("config.v2", &link).await?;
///     assert_eq!(proactor::fs::read_link(&link).await?, std::path::Path::new("config.v2"));
///     assert_eq!(proactor::fs::read(&link).await?, b"v2");
///     Ok(())
/// })
/// # }
/// ```
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let op = crate::op::SymlinkAt::new(original.as_ref(), link.as_ref())?;
    Op::with_driver(op, Driver::try_current()?).await
}
