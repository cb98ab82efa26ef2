use std::time::{Duration, SystemTime};

use crate::op::FileStat;

// The POSIX file type bits, the same on every Unix; Windows reports its
// metadata in the same shape.
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;

/// Metadata of an open file (see [`File::metadata`](super::File::metadata))
/// or of a path (see [`metadata`](super::metadata())).
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
///     assert!(meta.is_file() && !meta.is_dir());
///     assert_eq!(meta.len(), 5);
///     assert_eq!(meta, fs::File::open(&path).await?.metadata().await?);
///     Ok(())
/// })
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    stat: FileStat,
}

impl Metadata {
    pub(crate) fn new(stat: FileStat) -> Self {
        Metadata { stat }
    }

    /// Size in bytes.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs;
    ///
    /// proactor::block_on(async {
    ///     fs::write(&path, vec![0u8; 4096]).await?;
    ///     assert_eq!(fs::metadata(&path).await?.len(), 4096);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn len(&self) -> u64 {
        self.stat.size
    }

    /// Whether the size is zero.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs;
    ///
    /// proactor::block_on(async {
    ///     fs::write(&path, b"").await?;
    ///     assert!(fs::metadata(&path).await?.is_empty());
    ///     fs::write(&path, b"x").await?;
    ///     assert!(!fs::metadata(&path).await?.is_empty());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.stat.size == 0
    }

    /// Whether this is a regular file (symlinks followed by
    /// [`metadata`](super::metadata())).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs;
    ///
    /// proactor::block_on(async {
    ///     fs::write(&path, b"x").await?;
    ///     assert!(fs::metadata(&path).await?.is_file());
    ///     assert!(!fs::metadata(dir.path()).await?.is_file());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn is_file(&self) -> bool {
        self.file_type() == S_IFREG
    }

    /// Whether this is a directory.
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
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn is_dir(&self) -> bool {
        self.file_type() == S_IFDIR
    }

    /// Permission bits (`mode & 0o7777`). Windows has none: it reports
    /// `0o444` for a read-only file and `0o666` otherwise.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs;
    ///
    /// proactor::block_on(async {
    ///     let mut options = fs::OpenOptions::new();
    ///     let file = options.write(true).create(true).mode(0o600).open(&path).await?;
    ///     let mode = file.metadata().await?.permissions_mode();
    ///     #[cfg(unix)]
    ///     assert_eq!(mode, 0o600);
    ///     #[cfg(windows)]
    ///     assert_eq!(mode, 0o666); // `mode` is ignored; the file is writable
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn permissions_mode(&self) -> u32 {
        self.stat.mode & 0o7777
    }

    /// Last modification time.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs;
    ///
    /// proactor::block_on(async {
    ///     let before = std::time::SystemTime::now() - std::time::Duration::from_secs(2);
    ///     fs::write(&path, b"x").await?;
    ///     let modified = fs::metadata(&path).await?.modified();
    ///     assert!(modified >= before);
    ///     assert_eq!(modified, std::fs::metadata(&path)?.modified()?);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn modified(&self) -> SystemTime {
        let since_epoch = Duration::new(
            self.stat.modified_sec.unsigned_abs(),
            self.stat.modified_nsec,
        );
        if self.stat.modified_sec >= 0 {
            SystemTime::UNIX_EPOCH + since_epoch
        } else {
            SystemTime::UNIX_EPOCH - since_epoch
        }
    }

    fn file_type(&self) -> u32 {
        self.stat.mode & S_IFMT
    }
}
