//! Exhaustive properties of every writable buffer and of `Slice` over small
//! sizes, meant for Miri (`ci/miri.sh`): for every window and every fill
//! length, a read recorded through the window exposes no uninitialised byte,
//! writes nothing outside the allocation, shows exactly the bytes written or
//! already there, and the buffer given back has a length that covers only
//! initialised bytes. Miri flags every read of an uninitialised byte and
//! every access outside an allocation; the assertions check the values.
//!
//! Apart from the buffers under test, the checks allocate nothing: Miri
//! spends most of its time in allocations and iterator adapters.

use std::io;
use std::ops::DerefMut;

use super::{AlignedBuf, IoBuf, IoBufMut};
use crate::op::{finish_read, record_read};

/// Largest capacity tried; every smaller one is tried too. Under Miri, 4
/// still orders a buffer's length, a window's ends and a fill's end every
/// way there is, with a gap between each, and keeps `ci/miri.sh` short.
const MAX_CAPACITY: usize = if cfg!(miri) { 4 } else { 8 };
/// Largest capacity for a slice of a slice, whose cases grow much faster.
const MAX_NESTED_CAPACITY: usize = if cfg!(miri) { 3 } else { 6 };

/// Byte `i` of a buffer before the fill.
fn original(i: usize) -> u8 {
    0x40u8.wrapping_add(i as u8)
}

/// Byte `j` of what the fill writes at the window's start.
fn filled(j: usize) -> u8 {
    0xc0u8.wrapping_add(j as u8)
}

/// How a fill of `n` bytes is recorded in the window.
#[derive(Debug, Clone, Copy)]
enum HowRecorded {
    /// `set_init(n)`.
    SetInit,
    /// `record_read` with `Ok(result)`; `result` may exceed the window, which
    /// it then fills.
    RecordRead(usize),
    /// `finish_read` with `Ok(result)`, likewise.
    FinishRead(usize),
    /// `record_read` with an error: the bytes were written but nothing may
    /// be recorded.
    Failed,
}

/// Every way to record a fill of `n` bytes of a window of `len` bytes;
/// results past the window only when the fill covers all of it, as the
/// kernel never writes more than it was given.
fn for_each_record(n: usize, len: usize, mut check: impl FnMut(HowRecorded)) {
    check(HowRecorded::SetInit);
    check(HowRecorded::RecordRead(n));
    check(HowRecorded::FinishRead(n));
    check(HowRecorded::Failed);
    if n == len {
        check(HowRecorded::RecordRead(n + 1));
        check(HowRecorded::FinishRead(usize::MAX));
    }
}

/// One fill: the window `begin..end`, `n` bytes written, how recorded.
#[derive(Debug, Clone, Copy)]
struct Case {
    begin: usize,
    end: usize,
    n: usize,
    record: HowRecorded,
}

/// Reads every byte of `bytes` as a `u8` (so that Miri reports an
/// uninitialised one) and compares it with `expected`.
fn check_bytes(
    bytes: &[u8],
    len: usize,
    expected: &dyn Fn(usize) -> u8,
    what: &dyn Fn() -> String,
) {
    // Every byte is read before the length is checked, so that Miri sees
    // those past the expected length too.
    for (i, &byte) in bytes.iter().enumerate() {
        let byte = std::hint::black_box(byte);
        assert!(
            i >= len || byte == expected(i),
            "{}: byte {i} is {byte:#x}",
            what()
        );
    }
    assert_eq!(bytes.len(), len, "{}: length", what());
}

/// The bytes `buf` says are initialised, as the kernel would see them.
fn initialised<B: IoBuf>(buf: &B) -> &[u8] {
    assert!(buf.bytes_init() <= buf.bytes_total());
    // SAFETY: the IoBuf contract: bytes_init bytes at stable_ptr are
    // initialised. This is the claim under test: check_bytes reads them.
    unsafe { std::slice::from_raw_parts(buf.stable_ptr(), buf.bytes_init()) }
}

/// Checks the buffer a window `begin..` gave back: it had `before_len`
/// bytes initialised, `before(i)` each, when the window was made, and the
/// window showed `shown_len` bytes, `shown(j)` each, at the end. A buffer
/// initialised up to `begin` counts the window's bytes; one that was not
/// counts them only once a read recorded some, behind zeros in the gap
/// nobody wrote. It never counts a byte that was neither there before, nor
/// written, nor zeroed.
fn check_given_back<B: IoBuf>(
    inner: &B,
    (before_len, before): (usize, &dyn Fn(usize) -> u8),
    begin: usize,
    (shown_len, shown): (usize, &dyn Fn(usize) -> u8),
) {
    let expected_len = if shown_len == 0 {
        before_len
    } else {
        before_len.max(begin + shown_len)
    };
    let expected = |i: usize| match i.checked_sub(begin) {
        Some(j) if j < shown_len => shown(j),
        _ if i < before_len => before(i),
        _ => 0,
    };
    let what = || format!("buffer given back by window {begin}.. (it had {before_len} bytes)");
    check_bytes(initialised(inner), expected_len, &expected, &what);
}

/// Takes the window `begin..end` of `buf`, whose byte `i` is
/// `original(base + i)`, writes `n` bytes at its start through
/// `stable_mut_ptr`, records them as `record` says, checks what the window
/// and the buffer given back show, and returns that buffer.
fn fill_window<B: IoBufMut>(buf: B, base: usize, case: Case) -> B {
    let Case {
        begin,
        end,
        n,
        record,
    } = case;
    let what = |step: &'static str| move || format!("{case:?} {step}");
    let before = |i: usize| original(base + i);
    let before_len = buf.bytes_init();
    check_bytes(initialised(&buf), before_len, &before, &what("buffer"));

    let mut window = buf.slice(begin..end);
    assert_eq!(window.bytes_total(), end - begin, "{case:?}");
    let init_before = before_len.clamp(begin, end) - begin;
    let shown_before = |j: usize| before(begin + j);
    check_bytes(&window, init_before, &shown_before, &what("window"));

    let ptr = window.stable_mut_ptr();
    for j in 0..n {
        // SAFETY: j < n <= bytes_total() bytes at stable_mut_ptr are
        // writable (IoBufMut); Miri checks it.
        unsafe { ptr.add(j).write(filled(j)) };
    }
    let recorded = match record {
        HowRecorded::SetInit => {
            // SAFETY: the n bytes were just written.
            unsafe { window.set_init(n) };
            n
        }
        HowRecorded::RecordRead(result) => {
            record_read(&mut window, &Ok(result));
            n
        }
        HowRecorded::FinishRead(result) => {
            let (outcome, given_back) = finish_read(window, Ok(result));
            assert_eq!(outcome.unwrap(), result, "{case:?}");
            window = given_back;
            n
        }
        HowRecorded::Failed => {
            record_read(&mut window, &Err(io::ErrorKind::Interrupted.into()));
            0
        }
    };

    let init_after = init_before.max(recorded);
    let shown = |j: usize| if j < n { filled(j) } else { before(begin + j) };
    assert_eq!(window.bytes_init(), init_after, "{case:?}");
    check_bytes(
        initialised(&window),
        init_after,
        &shown,
        &what("bytes_init"),
    );
    check_bytes(&window, init_after, &shown, &what("Deref"));
    check_bytes(
        DerefMut::deref_mut(&mut window),
        init_after,
        &shown,
        &what("DerefMut"),
    );

    let inner = window.into_inner();
    check_given_back(&inner, (before_len, &before), begin, (init_after, &shown));
    inner
}

/// Runs `fill_window` on a fresh buffer from `make` for every window inside
/// it, every fill length of that window and every way to record it.
fn every_fill_of<B: IoBufMut>(make: impl Fn() -> B) {
    let total = make().bytes_total();
    for begin in 0..=total {
        for end in begin..=total {
            for n in 0..=end - begin {
                for_each_record(n, end - begin, |record| {
                    let case = Case {
                        begin,
                        end,
                        n,
                        record,
                    };
                    fill_window(make(), 0, case);
                });
            }
        }
    }
}

/// A Vec of `capacity` bytes whose first `len` are initialised.
fn vec_with(capacity: usize, len: usize) -> Vec<u8> {
    let mut vec = Vec::with_capacity(capacity);
    vec.extend((0..len).map(original));
    vec
}

#[test]
fn vec_windows_expose_only_initialised_bytes() {
    for capacity in 0..=MAX_CAPACITY {
        for len in 0..=capacity {
            every_fill_of(|| vec_with(capacity, len));
        }
    }
}

#[test]
fn boxed_slice_windows_expose_only_initialised_bytes() {
    for len in 0..=MAX_CAPACITY {
        every_fill_of(|| (0..len).map(original).collect::<Box<[u8]>>());
    }
}

#[test]
fn aligned_buf_windows_expose_only_initialised_bytes() {
    for capacity in 1..=MAX_CAPACITY {
        for len in 0..=capacity {
            every_fill_of(|| {
                let mut buf = AlignedBuf::new(capacity, 8).unwrap();
                let ptr = buf.stable_mut_ptr();
                for i in 0..len {
                    // SAFETY: i < len <= capacity bytes are writable.
                    unsafe { ptr.add(i).write(original(i)) };
                }
                // SAFETY: bytes 0..len were just written.
                unsafe { buf.set_init(len) };
                buf
            });
        }
    }
}

#[cfg(feature = "bytes")]
#[test]
fn bytes_mut_windows_expose_only_initialised_bytes() {
    for capacity in 0..=MAX_CAPACITY {
        for len in 0..=capacity {
            every_fill_of(|| {
                let mut buf = bytes::BytesMut::with_capacity(capacity);
                buf.extend((0..len).map(original));
                buf
            });
        }
    }
}

#[test]
fn windows_of_windows_expose_only_initialised_bytes() {
    for capacity in 0..=MAX_NESTED_CAPACITY {
        for len in 0..=capacity {
            for outer_begin in 0..=capacity {
                for outer_end in outer_begin..=capacity {
                    let outer_len = outer_end - outer_begin;
                    for begin in 0..=outer_len {
                        for end in begin..=outer_len {
                            for n in 0..=end - begin {
                                for_each_record(n, end - begin, |record| {
                                    let case = Case {
                                        begin,
                                        end,
                                        n,
                                        record,
                                    };
                                    let outer =
                                        vec_with(capacity, len).slice(outer_begin..outer_end);
                                    let outer = fill_window(outer, outer_begin, case);
                                    // Checked against the model by fill_window.
                                    let mut shown = [0; MAX_NESTED_CAPACITY];
                                    let shown_len = outer.len();
                                    shown[..shown_len].copy_from_slice(&outer);
                                    check_given_back(
                                        &outer.into_inner(),
                                        (len, &original),
                                        outer_begin,
                                        (shown_len, &|j| shown[j]),
                                    );
                                });
                            }
                        }
                    }
                }
            }
        }
    }
}
