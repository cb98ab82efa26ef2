//! Files, through the driver: io_uring operations, or the blocking pool on
//! the readiness back end (a regular file never blocks its event loop).
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

mod file;
mod metadata;
mod open_options;
mod paths;

pub use file::File;
pub use metadata::Metadata;
pub use open_options::OpenOptions;
pub use paths::{create_dir, metadata, read, remove_dir, remove_file, rename, write};
