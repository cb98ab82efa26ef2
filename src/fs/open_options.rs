use std::io;
use std::path::Path;

use super::File;
use crate::op::{Op, OpenAt};
use crate::Driver;

/// Options for opening a file, as `std::fs::OpenOptions`.
///
/// ```
/// use proactor::fs::OpenOptions;
///
/// # fn main() -> std::io::Result<()> {
/// # let path = std::env::temp_dir().join(format!("proactor-doc-oo-{}", std::process::id()));
/// proactor::block_on(async {
///     let file = OpenOptions::new().write(true).create_new(true).open(&path).await?;
///     file.close().await
/// })?;
/// # std::fs::remove_file(&path)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// All options off; mode `0o666` (before the umask). Opening needs at
    /// least one of read, write or append.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"x")?;
    /// use proactor::fs::OpenOptions;
    ///
    /// proactor::block_on(async {
    ///     let none = OpenOptions::new().open(&path).await.unwrap_err();
    ///     assert_eq!(none.kind(), std::io::ErrorKind::InvalidInput);
    ///     OpenOptions::new().read(true).open(&path).await?;
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn new() -> Self {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
        }
    }

    /// Open for reading.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"hello")?;
    /// use proactor::fs::OpenOptions;
    ///
    /// proactor::block_on(async {
    ///     let file = OpenOptions::new().read(true).open(&path).await?;
    ///     let (n, buf) = file.read_at(Vec::with_capacity(8), 0).await;
    ///     assert_eq!(&buf[..n?], b"hello");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.read = read;
        self
    }

    /// Open for writing (from the start, over what is there).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"hello")?;
    /// use proactor::fs::OpenOptions;
    ///
    /// proactor::block_on(async {
    ///     let file = OpenOptions::new().write(true).open(&path).await?;
    ///     file.write_all_at(b"J", 0).await.0?;
    ///     file.close().await
    /// })?;
    /// assert_eq!(std::fs::read(&path)?, b"Jello");
    /// # Ok(()) }
    /// ```
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.write = write;
        self
    }

    /// Open for appending (implies writing): every write lands at the end.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"one\n")?;
    /// use proactor::fs::OpenOptions;
    ///
    /// proactor::block_on(async {
    ///     let mut file = OpenOptions::new().append(true).open(&path).await?;
    ///     futures::io::AsyncWriteExt::write_all(&mut file, b"two\n").await?;
    ///     file.close().await
    /// })?;
    /// assert_eq!(std::fs::read(&path)?, b"one\ntwo\n");
    /// # Ok(()) }
    /// ```
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.append = append;
        self
    }

    /// Truncate to zero length (needs writing).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// # std::fs::write(&path, b"old")?;
    /// use proactor::fs::OpenOptions;
    ///
    /// proactor::block_on(async {
    ///     let file = OpenOptions::new().write(true).truncate(true).open(&path).await?;
    ///     assert_eq!(file.len().await?, 0);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.truncate = truncate;
        self
    }

    /// Create if missing (needs writing).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs::OpenOptions;
    ///
    /// proactor::block_on(async {
    ///     let file = OpenOptions::new().write(true).create(true).open(&path).await?;
    ///     assert!(path.exists());
    ///     file.write_all_at(b"x", 0).await.0?;
    ///     // Opening again keeps the contents.
    ///     let again = OpenOptions::new().write(true).create(true).open(&path).await?;
    ///     assert_eq!(again.len().await?, 1);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.create = create;
        self
    }

    /// Create, failing with `AlreadyExists` if it exists (needs writing).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs::OpenOptions;
    ///
    /// proactor::block_on(async {
    ///     let mut options = OpenOptions::new();
    ///     options.write(true).create_new(true);
    ///     options.open(&path).await?;
    ///     let exists = options.open(&path).await.unwrap_err();
    ///     assert_eq!(exists.kind(), std::io::ErrorKind::AlreadyExists);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.create_new = create_new;
        self
    }

    /// Permission bits for a created file (Unix; ignored on Windows),
    /// before the umask.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs::OpenOptions;
    ///
    /// proactor::block_on(async {
    ///     let file = OpenOptions::new().write(true).create(true).mode(0o600).open(&path).await?;
    ///     let mode = file.metadata().await?.permissions_mode();
    ///     #[cfg(unix)]
    ///     assert_eq!(mode, 0o600);
    ///     #[cfg(windows)]
    ///     assert_eq!(mode, 0o666); // ignored: a writable file
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Extra `open(2)` flags (such as `O_DIRECT`); access mode bits are
    /// ignored. Unix only: Windows ignores them.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let (path, link) = (dir.path().join("data"), dir.path().join("link"));
    /// # std::fs::write(&path, b"x")?;
    /// # std::os::unix::fs::symlink(&path, &link)?;
    /// use proactor::fs::OpenOptions;
    ///
    /// proactor::block_on(async {
    ///     let mut options = OpenOptions::new();
    ///     options.read(true).custom_flags(libc::O_NOFOLLOW);
    ///     options.open(&path).await?; // a regular file opens
    ///     let refused = options.open(&link).await.unwrap_err(); // a symlink does not
    ///     assert_eq!(refused.raw_os_error(), Some(libc::ELOOP));
    ///     Ok(())
    /// })
    /// # }
    /// # #[cfg(not(unix))]
    /// # fn main() {}
    /// ```
    pub fn custom_flags(&mut self, flags: i32) -> &mut Self {
        self.custom_flags = flags;
        self
    }

    fn flags(&self) -> io::Result<i32> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_owned());
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => return Err(invalid("open needs read, write or append")),
        };
        let writing = self.write || self.append;
        if !writing && (self.truncate || self.create || self.create_new) {
            return Err(invalid(
                "truncate, create and create_new need write or append",
            ));
        }
        if self.truncate && self.append && !self.create_new {
            return Err(invalid("truncate and append exclude each other"));
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (false, false, false) => 0,
        };
        Ok(access | creation | self.extra_flags())
    }

    /// The custom flags that go to `open(2)`: all but the access mode.
    #[cfg(unix)]
    fn extra_flags(&self) -> i32 {
        let access_mode = libc::O_RDONLY | libc::O_WRONLY | libc::O_RDWR;
        self.custom_flags & !access_mode
    }

    /// None on Windows: its `open` reads O_APPEND, O_CREAT, O_EXCL and
    /// O_TRUNC out of these flags, so a custom flag with one of those bits
    /// would append, create or truncate where the documentation says it is
    /// ignored.
    #[cfg(not(unix))]
    fn extra_flags(&self) -> i32 {
        0
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn is_direct(&self) -> bool {
        self.custom_flags & libc::O_DIRECT != 0
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn is_direct(&self) -> bool {
        false
    }

    /// Opens `path` on the [current driver](Driver::current).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::fs::OpenOptions;
    ///
    /// proactor::block_on(async {
    ///     let file = OpenOptions::new().write(true).create(true).open(&path).await?;
    ///     assert_eq!(file.driver().backend(), proactor::Driver::current().backend());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        self.open_with(path.as_ref(), Driver::try_current()?).await
    }

    /// Opens `path` on `driver`, which some thread must drive (here,
    /// the one blocked on it).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("data");
    /// use proactor::{fs::OpenOptions, Driver};
    ///
    /// let driver = Driver::new()?;
    /// driver.block_on(async {
    ///     let file = OpenOptions::new()
    ///         .write(true)
    ///         .create(true)
    ///         .open_with(&path, driver.clone())
    ///         .await?;
    ///     assert_eq!(file.driver().backend(), driver.backend());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn open_with(&self, path: impl AsRef<Path>, driver: Driver) -> io::Result<File> {
        let op = OpenAt::new(path.as_ref(), self.flags()?, self.mode)?;
        let fd = Op::with_driver(op, driver.clone()).await?;
        Ok(File::from_owned(fd, driver, self.is_direct()))
    }
}
