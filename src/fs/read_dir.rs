//! Directory listing as a [`Stream`]: std's iterator, advanced in batches
//! on the blocking pool.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::fs::FileType;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::on_pool::on_pool;
use crate::op::{Blocking, Op};
use crate::Driver;

/// Entries one pool job reads: a listing costs one pool round trip per this
/// many entries, not one per entry.
const BATCH: usize = 64;

/// The entries of the directory `path`, as a [`Stream`] of
/// [`DirEntry`] values (and through [`ReadDir::next_entry`]), like
/// [`std::fs::read_dir`]: in no particular order, without `.` and `..`.
///
/// The directory is opened and its first entries read in one job on the
/// driver's blocking pool; later entries come in batches, one pool job each.
/// Errors opening it (not found, not a directory, no permission) are this
/// function's error; an error while reading is an item of the stream.
///
/// ```
/// use futures::StreamExt;
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// proactor::block_on(async {
///     proactor::fs::write(dir.path().join("a.txt"), b"a").await?;
///     proactor::fs::create_dir(dir.path().join("sub")).await?;
///     let mut names = Vec::new();
///     let mut entries = proactor::fs::read_dir(dir.path()).await?;
///     while let Some(entry) = entries.next().await {
///         let entry = entry?;
///         names.push((entry.file_name(), entry.file_type()?.is_dir()));
///     }
///     names.sort();
///     assert_eq!(names, [("a.txt".into(), false), ("sub".into(), true)]);
///     Ok(())
/// })
/// # }
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let driver = Driver::try_current()?;
    let path = path.as_ref().to_path_buf();
    let entries_driver = driver.clone();
    let first = on_pool(driver.clone(), move || {
        std::fs::read_dir(path).map(|dir| read_batch(dir, entries_driver))
    })
    .await?;
    let mut listing = ReadDir {
        driver,
        ready: VecDeque::new(),
        state: State::Done,
    };
    listing.take_batch(first);
    Ok(listing)
}

/// The job that reads one batch, boxed so the operation has a name.
type BatchJob = Box<dyn FnOnce() -> Batch + Send>;

/// What one pool job read, and the iterator to go on with.
struct Batch {
    dir: std::fs::ReadDir,
    entries: Vec<io::Result<DirEntry>>,
    /// The iterator said there is nothing more.
    end: bool,
}

/// Reads up to [`BATCH`] entries, with their file types (free where the
/// filesystem reports the type in the listing; an `lstat` here, on the
/// pool, where it does not).
fn read_batch(mut dir: std::fs::ReadDir, driver: Driver) -> Batch {
    let mut entries = Vec::with_capacity(BATCH);
    let mut end = false;
    while entries.len() < BATCH {
        match dir.next() {
            Some(entry) => entries.push(entry.map(|entry| DirEntry::new(entry, driver.clone()))),
            None => {
                end = true;
                break;
            }
        }
    }
    Batch { dir, entries, end }
}

enum State {
    /// Between batches: the iterator, waiting for the next one (boxed: on
    /// Windows it is large).
    Idle(Box<std::fs::ReadDir>),
    /// A batch is being read on the pool.
    Reading(Op<Blocking<BatchJob, Batch>>),
    /// Every entry has been read.
    Done,
}

/// A directory listing: a [`Stream`] of [`DirEntry`] values, made by
/// [`read_dir`].
///
/// Dropping it while a batch is being read is fine: the pool job finishes,
/// and the directory closes then.
///
/// ```
/// use futures::TryStreamExt;
///
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// proactor::block_on(async {
///     for name in ["one", "two", "three"] {
///         proactor::fs::write(dir.path().join(name), name).await?;
///     }
///     let entries: Vec<_> = proactor::fs::read_dir(dir.path()).await?.try_collect().await?;
///     assert_eq!(entries.len(), 3);
///     Ok(())
/// })
/// # }
/// ```
pub struct ReadDir {
    driver: Driver,
    /// Entries read and not yet handed out, in the iterator's order.
    ready: VecDeque<io::Result<DirEntry>>,
    state: State,
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Idle(_) => "idle",
            State::Reading(_) => "reading",
            State::Done => "done",
        };
        f.debug_struct("ReadDir")
            .field("ready", &self.ready.len())
            .field("state", &state)
            .finish()
    }
}

impl ReadDir {
    /// The next entry, or `None` once the listing is over.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// proactor::block_on(async {
    ///     proactor::fs::write(dir.path().join("only"), b"").await?;
    ///     let mut entries = proactor::fs::read_dir(dir.path()).await?;
    ///     let entry = entries.next_entry().await?.expect("one entry");
    ///     assert_eq!(entry.file_name(), "only");
    ///     assert!(entries.next_entry().await?.is_none());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        std::future::poll_fn(|cx| self.poll_next_entry(cx))
            .await
            .transpose()
    }

    fn take_batch(&mut self, batch: Batch) {
        self.ready.extend(batch.entries);
        self.state = if batch.end {
            State::Done
        } else {
            State::Idle(Box::new(batch.dir))
        };
    }

    fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<DirEntry>>> {
        loop {
            if let Some(entry) = self.ready.pop_front() {
                return Poll::Ready(Some(entry));
            }
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return Poll::Ready(None),
                State::Idle(dir) => {
                    let driver = self.driver.clone();
                    let job: BatchJob = Box::new(move || read_batch(*dir, driver));
                    self.state =
                        State::Reading(Op::with_driver(Blocking::new(job), self.driver.clone()));
                }
                State::Reading(mut op) => match Pin::new(&mut op).poll(cx) {
                    Poll::Pending => {
                        self.state = State::Reading(op);
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(batch)) => self.take_batch(batch),
                    // The pool could not run the job (disabled); the
                    // iterator went with it, so the listing ends here.
                    Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                },
            }
        }
    }
}

impl Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_entry(cx)
    }
}

/// One entry of a [`ReadDir`] listing, as [`std::fs::DirEntry`]: its
/// name, path and type come with the listing; its metadata is one more
/// pool job.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// proactor::block_on(async {
///     proactor::fs::write(dir.path().join("notes.txt"), b"12").await?;
///     let mut entries = proactor::fs::read_dir(dir.path()).await?;
///     while let Some(entry) = entries.next_entry().await? {
///         assert!(entry.file_type()?.is_file());
///         assert_eq!(entry.metadata().await?.len(), 2);
///         assert_eq!(entry.path(), dir.path().join(entry.file_name()));
///     }
///     Ok(())
/// })
/// # }
/// ```
pub struct DirEntry {
    entry: Arc<std::fs::DirEntry>,
    /// The type, as read with the batch (or why it could not be).
    file_type: io::Result<FileType>,
    driver: Driver,
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DirEntry").field(&self.entry.path()).finish()
    }
}

/// The same error again: `io::Error` is not `Clone`.
fn same_error(error: &io::Error) -> io::Error {
    match error.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(error.kind(), error.to_string()),
    }
}

impl DirEntry {
    fn new(entry: std::fs::DirEntry, driver: Driver) -> DirEntry {
        DirEntry {
            file_type: entry.file_type(),
            entry: Arc::new(entry),
            driver,
        }
    }

    /// The directory's path joined with [`file_name`](DirEntry::file_name).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// proactor::block_on(async {
    ///     proactor::fs::write(dir.path().join("f"), b"").await?;
    ///     let entry = proactor::fs::read_dir(dir.path()).await?.next_entry().await?.unwrap();
    ///     assert_eq!(entry.path(), dir.path().join("f"));
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn path(&self) -> PathBuf {
        self.entry.path()
    }

    /// The entry's name in its directory, without any leading path.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// proactor::block_on(async {
    ///     proactor::fs::write(dir.path().join("name.txt"), b"").await?;
    ///     let entry = proactor::fs::read_dir(dir.path()).await?.next_entry().await?.unwrap();
    ///     assert_eq!(entry.file_name(), "name.txt");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn file_name(&self) -> OsString {
        self.entry.file_name()
    }

    /// The entry's type, not following a symlink (a symlink is a symlink),
    /// as [`std::fs::DirEntry::file_type`]. Read with the batch, so this
    /// makes no system call; the error is the one reading it met (the entry
    /// was removed in between, on a filesystem that needs an `lstat` for
    /// types).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// proactor::block_on(async {
    ///     proactor::fs::create_dir(dir.path().join("sub")).await?;
    ///     let entry = proactor::fs::read_dir(dir.path()).await?.next_entry().await?.unwrap();
    ///     assert!(entry.file_type()?.is_dir());
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn file_type(&self) -> io::Result<FileType> {
        self.file_type.as_ref().copied().map_err(same_error)
    }

    /// The entry's metadata, not following a symlink, as
    /// [`std::fs::DirEntry::metadata`] (std's type: it can say "symlink"),
    /// read on the blocking pool.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # let dir = tempfile::tempdir()?;
    /// proactor::block_on(async {
    ///     proactor::fs::write(dir.path().join("five"), b"12345").await?;
    ///     let entry = proactor::fs::read_dir(dir.path()).await?.next_entry().await?.unwrap();
    ///     assert_eq!(entry.metadata().await?.len(), 5);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        let entry = self.entry.clone();
        on_pool(self.driver.clone(), move || entry.metadata()).await
    }
}
