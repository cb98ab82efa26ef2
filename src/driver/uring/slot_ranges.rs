//! Free ranges of a ring's registered table (buffers or files): first fit,
//! and released ranges merge with their neighbours.

/// Where a ring's sparse table (of buffers or of files) stands: made on
/// first use, so a driver that never registers anything never asks.
#[derive(Default, PartialEq)]
pub(super) enum TableState {
    #[default]
    NotYet,
    Registered,
    /// The kernel has no sparse table: what would be registered stays
    /// plain (memory, or an fd).
    Unavailable,
}

#[derive(Default)]
pub(super) struct SlotRanges {
    /// Free slot ranges, `(first, count)`, sorted and never adjacent.
    free: Vec<(u32, u32)>,
}

impl SlotRanges {
    /// All of a table of `slots` free.
    pub(super) fn new(slots: u32) -> SlotRanges {
        SlotRanges {
            free: vec![(0, slots)],
        }
    }

    /// The first slot of `count` free ones in a row, now taken.
    pub(super) fn allocate(&mut self, count: u32) -> Option<u32> {
        let at = self.free.iter().position(|&(_, free)| free >= count)?;
        let (first, free) = self.free[at];
        if free == count {
            self.free.remove(at);
        } else {
            self.free[at] = (first + count, free - count);
        }
        Some(first)
    }

    /// Gives back `count` slots from `first`.
    pub(super) fn release(&mut self, first: u32, count: u32) {
        let at = self.free.partition_point(|&(start, _)| start < first);
        self.free.insert(at, (first, count));
        // Merge with the next range, then with the previous one.
        if at + 1 < self.free.len() && first + count == self.free[at + 1].0 {
            self.free[at].1 += self.free.remove(at + 1).1;
        }
        if at > 0 && self.free[at - 1].0 + self.free[at - 1].1 == first {
            self.free[at - 1].1 += self.free.remove(at).1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_ranges_merge_and_are_reused() {
        let mut ranges = SlotRanges::new(10);
        let a = ranges.allocate(3).unwrap();
        let b = ranges.allocate(3).unwrap();
        let c = ranges.allocate(4).unwrap();
        assert_eq!((a, b, c), (0, 3, 6));
        assert_eq!(ranges.allocate(1), None);
        ranges.release(b, 3);
        assert_eq!(ranges.allocate(4), None, "3 free in a row");
        ranges.release(a, 3);
        ranges.release(c, 4);
        assert_eq!(ranges.free, [(0, 10)]);
    }
}
