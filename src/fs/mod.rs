//! Files, through the driver: io_uring operations, or the blocking pool on
//! the readiness back end (a regular file never blocks its event loop).
//!
//! The functions mirror [`std::fs`]. Those with an io_uring operation
//! (`open`, `rename`, `remove_file`, `create_dir`, `hard_link`, `symlink`,
//! `metadata`, `try_exists`, and `File`'s reads and writes) are one
//! submission on io_uring; the rest (`read_dir`, `create_dir_all`,
//! `remove_dir_all`, `copy`, `canonicalize`, `read_link`,
//! `set_permissions`) run std's own function on the bounded blocking pool,
//! on both back ends. See docs/KERNELS.md for which kernel has which
//! operation.
//!
//! ```
//! use proactor::fs::OpenOptions;
//!
//! # fn main() -> std::io::Result<()> {
//! # let dir = std::env::temp_dir().join(format!("proactor-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let path = dir.join("hello.txt");
//! proactor::block_on(async {
//!     let file = OpenOptions::new().read(true).write(true).create(true).open(&path).await?;
//!     let (written, _) = file.write_all_at(b"hello, world", 0).await;
//!     written?;
//!     file.sync_all().await?;
//!     let (read, buf) = file.read_at(Vec::with_capacity(5), 7).await;
//!     assert_eq!(&buf[..read?], b"world");
//!     file.close().await
//! })?;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```

mod copied;
mod file;
mod metadata;
mod on_pool;
mod open_options;
mod paths;
mod read_dir;
mod registered;
mod whole;

pub use file::File;
pub use metadata::Metadata;
pub use on_pool::{canonicalize, create_dir_all, read_link, remove_dir_all, set_permissions};
pub use open_options::OpenOptions;
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use paths::symlink;
pub use paths::{create_dir, hard_link, metadata, remove_dir, remove_file, rename, try_exists};
pub use read_dir::{read_dir, DirEntry, ReadDir};
pub(crate) use registered::FileSlot;
pub use whole::{copy, read, read_to_string, write, write_owned};
