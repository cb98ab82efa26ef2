//! Path functions io_uring has no operation for: std's own, run on the
//! driver's bounded blocking pool on both back ends, so they never block the
//! event loop or the ring's thread.

use std::fs::Permissions;
use std::io;
use std::path::{Path, PathBuf};

use crate::op::{Blocking, Op};
use crate::Driver;

/// Runs `work` on `driver`'s blocking pool. A panic in `work` is resumed
/// here; if the pool is disabled, its error is the result.
pub(crate) async fn on_pool<T, F>(driver: Driver, work: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    Op::with_driver(Blocking::new(work), driver).await?
}

/// Runs `call(path)` on the current driver's blocking pool.
async fn path_call<T: Send + 'static>(
    path: &Path,
    call: fn(&Path) -> io::Result<T>,
) -> io::Result<T> {
    let path = path.to_path_buf();
    on_pool(Driver::try_current()?, move || call(&path)).await
}

/// Creates a directory and every missing parent, as
/// [`std::fs::create_dir_all`]: succeeds if it exists already as a
/// directory (also when another process creates it at the same time), fails
/// if something else is in the way.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let deep = dir.path().join("a/b/c");
/// proactor::block_on(async {
///     proactor::fs::create_dir_all(&deep).await?;
///     proactor::fs::create_dir_all(&deep).await?; // already there: fine
///     assert!(proactor::fs::metadata(&deep).await?.is_dir());
///     Ok(())
/// })
/// # }
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    path_call(path.as_ref(), |path| std::fs::create_dir_all(path)).await
}

/// Removes a directory and everything in it, as [`std::fs::remove_dir_all`]:
/// symlinks inside are removed, never followed. `path` itself must be a
/// directory, not a symlink to one.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let tree = dir.path().join("tree");
/// proactor::block_on(async {
///     proactor::fs::create_dir_all(tree.join("sub")).await?;
///     proactor::fs::write(tree.join("sub/file"), b"gone soon").await?;
///     proactor::fs::remove_dir_all(&tree).await?;
///     assert!(!proactor::fs::try_exists(&tree).await?);
///     Ok(())
/// })
/// # }
/// ```
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    path_call(path.as_ref(), |path| std::fs::remove_dir_all(path)).await
}

/// What the symbolic link `path` holds, as [`std::fs::read_link`]: the
/// stored path, not resolved.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # #[cfg(unix)] {
/// # let dir = tempfile::tempdir()?;
/// let link = dir.path().join("link");
/// proactor::block_on(async {
///     proactor::fs::symlink("../elsewhere", &link).await?;
///     assert_eq!(proactor::fs::read_link(&link).await?, std::path::Path::new("../elsewhere"));
///     std::io::Result::Ok(())
/// })?;
/// # }
/// # Ok(()) }
/// ```
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    path_call(path.as_ref(), |path| std::fs::read_link(path)).await
}

/// The absolute form of `path` with every symlink, `.` and `..` resolved,
/// as [`std::fs::canonicalize`]; `path` must exist.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// proactor::block_on(async {
///     proactor::fs::create_dir_all(dir.path().join("a/b")).await?;
///     let canonical = proactor::fs::canonicalize(dir.path().join("a/b/..")).await?;
///     assert_eq!(canonical, std::fs::canonicalize(dir.path().join("a"))?);
///     Ok(())
/// })
/// # }
/// ```
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    path_call(path.as_ref(), |path| std::fs::canonicalize(path)).await
}

/// Changes the permissions of what `path` names, following symlinks, as
/// [`std::fs::set_permissions`].
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("precious");
/// proactor::block_on(async {
///     proactor::fs::write(&path, b"do not touch").await?;
///     let mut permissions = std::fs::metadata(&path)?.permissions();
///     permissions.set_readonly(true);
///     proactor::fs::set_permissions(&path, permissions).await?;
///     assert!(std::fs::metadata(&path)?.permissions().readonly());
///     Ok(())
/// })
/// # }
/// ```
pub async fn set_permissions(path: impl AsRef<Path>, permissions: Permissions) -> io::Result<()> {
    let path = path.as_ref().to_path_buf();
    on_pool(Driver::try_current()?, move || {
        std::fs::set_permissions(&path, permissions)
    })
    .await
}
