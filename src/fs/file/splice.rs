//! Splicing between a file and a pipe, at an offset.

use std::io;

use super::File;
use crate::op::Splice;
use crate::os::{PipeReader, PipeWriter};

impl File {
    /// Moves up to `len` bytes of the file, from `offset`, into `pipe`
    /// without copying them through user memory ([`Splice`]). Returns how
    /// many; `0` at the end of the file (or for `len == 0`). Waits while
    /// the pipe is full. Neither the file's position nor its cursor moves.
    ///
    /// ```
    /// use proactor::fs::File;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("data");
    /// std::fs::write(&path, b"header:payload")?;
    /// proactor::block_on(async {
    ///     let file = File::open(&path).await?;
    ///     let (reader, writer) = proactor::os::pipe()?;
    ///     assert_eq!(file.splice_to_at(&writer, 64, 7).await?, 7);
    ///     let (n, buf) = reader.read(Vec::with_capacity(64)).await;
    ///     assert_eq!(&buf[..n?], b"payload");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(target_os = "linux")))]
    pub async fn splice_to_at(
        &self,
        pipe: &PipeWriter,
        len: usize,
        offset: u64,
    ) -> io::Result<usize> {
        Splice::new(self.fd.clone(), Some(offset), pipe.fd.clone(), None, len)
            .run_on(self.driver.clone())
            .await
    }

    /// Moves up to `len` bytes from `pipe` into the file at `offset`
    /// without copying them through user memory ([`Splice`]). Returns how
    /// many; `0` once the pipe is empty and its writer gone. Waits while
    /// the pipe is empty. Neither the file's position nor its cursor moves.
    ///
    /// ```
    /// use proactor::fs::File;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("out");
    /// proactor::block_on(async {
    ///     let file = File::create(&path).await?;
    ///     let (reader, writer) = proactor::os::pipe()?;
    ///     writer.write_all(b"spliced").await.0?;
    ///     assert_eq!(file.splice_from_at(&reader, 64, 0).await?, 7);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// assert_eq!(std::fs::read(&path)?, b"spliced");
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(target_os = "linux")))]
    pub async fn splice_from_at(
        &self,
        pipe: &PipeReader,
        len: usize,
        offset: u64,
    ) -> io::Result<usize> {
        Splice::new(pipe.fd.clone(), None, self.fd.clone(), Some(offset), len)
            .run_on(self.driver.clone())
            .await
    }
}
