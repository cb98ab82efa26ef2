//! 4 KiB reads at random aligned offsets of a 256 MiB page-cached file, 1
//! and 32 in flight: proactor on each back end against a raw io-uring loop,
//! a std `pread` loop, and tokio (32 tasks doing `spawn_blocking` preads on
//! a current-thread runtime). `randread_direct` does the same with
//! `O_DIRECT` and aligned buffers, where the filesystem allows it, plus
//! proactor reading into registered buffers (`FixedBuffers`,
//! `read_fixed_at`: `IORING_OP_READ_FIXED` on io_uring) beside its plain
//! reads. `read_registered` makes NOP-sized reads (1 byte, page cache)
//! through a plain and a registered (`File::register`) file on io_uring.
//!
//! `cargo bench --features uring --bench randread`

// criterion_group! makes an undocumented public function.
#![allow(missing_docs)]

// The baselines are Unix calls (pread, O_DIRECT).
#[cfg(not(unix))]
fn main() {
    println!("randread: the pread baselines need Unix; nothing measured");
}

#[cfg(unix)]
criterion::criterion_main!(unix::benches);

#[cfg(unix)]
mod unix {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
    use futures::stream::{FuturesUnordered, StreamExt};
    use proactor::buf::{AlignedBuf, FixedBuffers};
    use proactor::fs::{File, OpenOptions};
    use proactor::{Backend, Driver};

    const FILE_SIZE: u64 = 256 << 20;
    const BLOCK: usize = 4096;
    /// Reads per measured iteration.
    const READS: usize = 2048;

    fn offsets() -> Vec<u64> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..READS)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % (FILE_SIZE / BLOCK as u64) * BLOCK as u64
            })
            .collect()
    }

    fn test_file() -> PathBuf {
        let path = std::env::temp_dir().join("proactor-bench-randread.dat");
        if std::fs::metadata(&path)
            .map(|m| m.len() == FILE_SIZE)
            .unwrap_or(false)
        {
            return path;
        }
        let file = std::fs::File::create(&path).expect("create bench file");
        let chunk: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        for i in 0..FILE_SIZE / chunk.len() as u64 {
            file.write_all_at(&chunk, i * chunk.len() as u64)
                .expect("write bench file");
        }
        file.sync_all().expect("sync bench file");
        path
    }

    fn proactor_reads(
        driver: &Driver,
        file: &File,
        offsets: &[u64],
        in_flight: usize,
        bufs: &mut Vec<AlignedBuf>,
    ) {
        driver.block_on(async {
            let mut pending = FuturesUnordered::new();
            let mut next = 0;
            while next < offsets.len() || !pending.is_empty() {
                while pending.len() < in_flight && next < offsets.len() {
                    let mut buf = bufs.pop().expect("one buffer per read in flight");
                    buf.clear();
                    pending.push(file.read_at(buf, offsets[next]));
                    next += 1;
                }
                let (n, buf) = pending.next().await.expect("in flight");
                assert_eq!(n.expect("read"), BLOCK);
                bufs.push(buf);
            }
        })
    }

    fn proactor_fixed_reads(
        driver: &Driver,
        file: &File,
        offsets: &[u64],
        in_flight: usize,
        buffers: &FixedBuffers,
    ) {
        driver.block_on(async {
            let mut pending = FuturesUnordered::new();
            let mut next = 0;
            while next < offsets.len() || !pending.is_empty() {
                while pending.len() < in_flight && next < offsets.len() {
                    let buf = buffers.take().expect("one buffer per read in flight");
                    pending.push(file.read_fixed_at(buf, offsets[next]));
                    next += 1;
                }
                let (n, buf) = pending.next().await.expect("in flight");
                assert_eq!(n.expect("read"), BLOCK);
                drop(buf); // back to the set
            }
        })
    }

    #[cfg(all(target_os = "linux", feature = "uring"))]
    fn raw_reads(
        ring: &mut io_uring::IoUring,
        fd: i32,
        offsets: &[u64],
        in_flight: usize,
        bufs: &mut [AlignedBuf],
    ) {
        use proactor::buf::IoBufMut;
        let (mut issued, mut done) = (0, 0);
        let mut free: Vec<usize> = (0..in_flight).collect();
        while done < offsets.len() {
            while let Some(slot) = free.pop() {
                if issued == offsets.len() {
                    free.push(slot);
                    break;
                }
                let read = io_uring::opcode::Read::new(
                    io_uring::types::Fd(fd),
                    bufs[slot].stable_mut_ptr(),
                    BLOCK as u32,
                )
                .offset(offsets[issued])
                .build()
                .user_data(slot as u64);
                // SAFETY: the buffer outlives the read: it is only reused after
                // its completion is reaped below.
                unsafe { ring.submission().push(&read) }.expect("sq sized for the window");
                issued += 1;
            }
            ring.submit_and_wait(1).expect("submit");
            for cqe in ring.completion() {
                assert_eq!(cqe.result(), BLOCK as i32);
                free.push(cqe.user_data() as usize);
                done += 1;
            }
        }
    }

    fn pread_loop(file: &std::fs::File, offsets: &[u64], buf: &mut [u8]) {
        for &offset in offsets {
            assert_eq!(file.read_at(buf, offset).expect("pread"), BLOCK);
        }
    }

    fn tokio_reads(
        rt: &tokio::runtime::Runtime,
        file: &Arc<std::fs::File>,
        offsets: &Arc<Vec<u64>>,
        tasks: usize,
    ) {
        rt.block_on(async {
            let handles: Vec<_> = (0..tasks)
                .map(|t| {
                    let (file, offsets) = (file.clone(), offsets.clone());
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; BLOCK];
                        for &offset in offsets.iter().skip(t).step_by(tasks) {
                            let f = file.clone();
                            buf = tokio::task::spawn_blocking(move || {
                                assert_eq!(f.read_at(&mut buf, offset).expect("pread"), BLOCK);
                                buf
                            })
                            .await
                            .expect("blocking task");
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.await.expect("task");
            }
        })
    }

    fn run(c: &mut Criterion, name: &str, path: &Path, direct: bool) {
        #[cfg(target_os = "linux")]
        let flags = if direct { libc::O_DIRECT } else { 0 };
        #[cfg(not(target_os = "linux"))]
        let flags = if direct {
            println!("{name}: skipped, O_DIRECT is measured on Linux only");
            return;
        } else {
            0
        };
        let std_file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
        {
            Ok(file) => Arc::new(file),
            Err(e) => {
                println!("{name}: skipped, the filesystem refuses this open: {e}");
                return;
            }
        };
        let mut probe = AlignedBuf::new(BLOCK, BLOCK).expect("buffer");
        // SAFETY: the buffer is valid for BLOCK bytes; a probe read only.
        if unsafe {
            libc::pread(
                std_file.as_raw_fd(),
                proactor::buf::IoBufMut::stable_mut_ptr(&mut probe).cast(),
                BLOCK,
                0,
            )
        } < 0
        {
            println!(
                "{name}: skipped, reads fail: {}",
                std::io::Error::last_os_error()
            );
            return;
        }
        let offsets = Arc::new(offsets());
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(READS as u64));
        for in_flight in [1usize, 32] {
            let mut bufs: Vec<AlignedBuf> = (0..in_flight)
                .map(|_| AlignedBuf::new(BLOCK, BLOCK).expect("buffer"))
                .collect();
            #[cfg(all(target_os = "linux", feature = "uring"))]
            {
                let mut ring = io_uring::IoUring::new(64).expect("io_uring");
                let fd = std_file.as_raw_fd();
                group.bench_with_input(
                    BenchmarkId::new("raw io-uring", in_flight),
                    &in_flight,
                    |b, &n| b.iter(|| raw_reads(&mut ring, fd, &offsets, n, &mut bufs)),
                );
            }
            if in_flight == 1 || !direct {
                let mut buf = AlignedBuf::new(BLOCK, BLOCK).expect("buffer");
                // SAFETY: the whole aligned buffer is writable; zeroed first.
                let slice = unsafe {
                    let ptr = proactor::buf::IoBufMut::stable_mut_ptr(&mut buf);
                    std::ptr::write_bytes(ptr, 0, BLOCK);
                    std::slice::from_raw_parts_mut(ptr, BLOCK)
                };
                group.bench_with_input(
                    BenchmarkId::new("std pread loop", in_flight),
                    &in_flight,
                    |b, _| b.iter(|| pread_loop(&std_file, &offsets, slice)),
                );
            }
            if !direct {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio");
                group.bench_with_input(
                    BenchmarkId::new("tokio spawn_blocking", in_flight),
                    &in_flight,
                    |b, &n| b.iter(|| tokio_reads(&rt, &std_file, &offsets, n)),
                );
            }
            for backend in [Backend::IoUring, Backend::Poll] {
                let Ok(driver) = Driver::builder().force(backend).entries(64).build() else {
                    continue;
                };
                let mut options = OpenOptions::new();
                options.read(true).custom_flags(flags);
                let file = driver
                    .block_on(options.open_with(path, driver.clone()))
                    .expect("open");
                group.bench_with_input(
                    BenchmarkId::new(format!("proactor {backend}"), in_flight),
                    &in_flight,
                    |b, &n| b.iter(|| proactor_reads(&driver, &file, &offsets, n, &mut bufs)),
                );
                if direct {
                    let buffers = FixedBuffers::with_driver(&driver, in_flight, BLOCK)
                        .expect("register the buffers");
                    group.bench_with_input(
                        BenchmarkId::new(format!("proactor {backend} fixed"), in_flight),
                        &in_flight,
                        |b, &n| {
                            b.iter(|| proactor_fixed_reads(&driver, &file, &offsets, n, &buffers))
                        },
                    );
                }
            }
        }
        group.finish();
    }

    /// 1-byte reads, `in_flight` at a time: what is left of a read is
    /// little more than the per-operation cost, fd lookup included.
    fn small_reads(driver: &Driver, file: &File, offsets: &[u64], in_flight: usize) {
        driver.block_on(async {
            let mut pending = FuturesUnordered::new();
            let mut next = 0;
            while next < offsets.len() || !pending.is_empty() {
                while pending.len() < in_flight && next < offsets.len() {
                    pending.push(file.read_at(Vec::with_capacity(1), offsets[next]));
                    next += 1;
                }
                let (n, _) = pending.next().await.expect("in flight");
                assert_eq!(n.expect("read"), 1);
            }
        })
    }

    fn run_registered(c: &mut Criterion, path: &Path) {
        let Ok(driver) = Driver::builder()
            .force(Backend::IoUring)
            .entries(64)
            .build()
        else {
            println!("read_registered: skipped, no io_uring here");
            return;
        };
        let offsets = offsets();
        let mut group = c.benchmark_group("read_registered");
        group.throughput(Throughput::Elements(READS as u64));
        for in_flight in [1usize, 32] {
            for register in [false, true] {
                let mut options = OpenOptions::new();
                options.read(true);
                let mut file = driver
                    .block_on(options.open_with(path, driver.clone()))
                    .expect("open");
                if register && !file.register().expect("register") {
                    println!("read_registered: skipped, the kernel has no sparse file table");
                    return;
                }
                let name = if register { "registered" } else { "plain" };
                group.bench_with_input(BenchmarkId::new(name, in_flight), &in_flight, |b, &n| {
                    b.iter(|| small_reads(&driver, &file, &offsets, n))
                });
            }
        }
        group.finish();
    }

    fn bench(c: &mut Criterion) {
        let path = test_file();
        run(c, "randread", &path, false);
        run(c, "randread_direct", &path, true);
        run_registered(c, &path);
    }

    criterion_group!(benches, bench);
}
