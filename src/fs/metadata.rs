use std::time::{Duration, SystemTime};

use crate::op::FileStat;

// The POSIX file type bits, the same on every Unix; Windows reports its
// metadata in the same shape.
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;

/// Metadata of an open file (see [`File::metadata`](super::File::metadata)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    stat: FileStat,
}

impl Metadata {
    pub(crate) fn new(stat: FileStat) -> Self {
        Metadata { stat }
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.stat.size
    }

    /// Whether the size is zero.
    pub fn is_empty(&self) -> bool {
        self.stat.size == 0
    }

    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type() == S_IFREG
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == S_IFDIR
    }

    /// Permission bits (`mode & 0o7777`).
    pub fn permissions_mode(&self) -> u32 {
        self.stat.mode & 0o7777
    }

    /// Last modification time.
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
