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
    /// All options off; mode `0o666` (before the umask).
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
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.read = read;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.write = write;
        self
    }

    /// Open for appending (implies writing).
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.append = append;
        self
    }

    /// Truncate to zero length (needs writing).
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.truncate = truncate;
        self
    }

    /// Create if missing (needs writing).
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.create = create;
        self
    }

    /// Create, failing if it exists (needs writing).
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.create_new = create_new;
        self
    }

    /// Permission bits for a created file (Unix; ignored on Windows).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Extra `open(2)` flags (such as `O_DIRECT`); access mode bits are
    /// ignored. Unix only: Windows ignores them.
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
        let access_mode = libc::O_RDONLY | libc::O_WRONLY | libc::O_RDWR;
        Ok(access | creation | (self.custom_flags & !access_mode))
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
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        self.open_with(path.as_ref(), Driver::try_current()?).await
    }

    /// Opens `path` on `driver`.
    pub async fn open_with(&self, path: impl AsRef<Path>, driver: Driver) -> io::Result<File> {
        let op = OpenAt::new(path.as_ref(), self.flags()?, self.mode)?;
        let fd = Op::with_driver(op, driver.clone()).await?;
        Ok(File::from_owned(fd, driver, self.is_direct()))
    }
}
