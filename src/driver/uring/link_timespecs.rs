//! The timespecs of `IORING_OP_LINK_TIMEOUT` entries, kept until the kernel
//! has read them.
//!
//! The kernel copies a timespec when it takes the entry that points at it
//! from the submission queue, not when the entry is pushed. Nor are they
//! kept with the operation's slot: should the kernel take the operation's
//! entry in one submit and its timeout's in a later one, the operation
//! could complete, and its slot go, in between. So each is kept with the
//! position of its entry in the stream of every entry ever pushed, and
//! released once the kernel has taken that many: at most a queue's worth
//! is ever kept, however busy the ring.

use std::collections::VecDeque;

use io_uring::types::Timespec;

/// Timespecs the kernel may not have read yet.
#[derive(Default)]
pub(super) struct LinkTimespecs {
    /// Each with the count of entries pushed up to and including the one
    /// that points at it. Boxed: a pushed entry points into the box, which
    /// must not move as the queue grows.
    #[allow(clippy::vec_box)]
    kept: VecDeque<(u64, Box<Timespec>)>,
}

impl LinkTimespecs {
    /// Keeps `timespec`, whose entry is the `end`th ever pushed, having
    /// released those of the first `taken` entries, which the kernel took.
    pub(super) fn keep(&mut self, timespec: Box<Timespec>, end: u64, taken: u64) {
        while self.kept.front().is_some_and(|&(kept_end, _)| kept_end <= taken) {
            self.kept.pop_front();
        }
        self.kept.push_back((end, timespec));
    }

    /// How many are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.kept.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn timespec() -> Box<Timespec> {
        Box::new(Timespec::from(Duration::from_millis(1)))
    }

    #[test]
    fn released_once_the_kernel_took_their_entries() {
        let mut kept = LinkTimespecs::default();
        kept.keep(timespec(), 2, 0);
        kept.keep(timespec(), 4, 1);
        assert_eq!(kept.len(), 2, "neither entry was taken");
        kept.keep(timespec(), 7, 2);
        assert_eq!(kept.len(), 2, "the first was taken, the second not");
        kept.keep(timespec(), 9, 9);
        assert_eq!(kept.len(), 1, "all but the newest were taken");
    }

    #[test]
    fn bounded_when_the_queue_is_never_empty() {
        let mut kept = LinkTimespecs::default();
        // Each round pushes an entry the kernel has not taken, then a
        // timed pair; the kernel takes all but the newest entry each time.
        let mut pushed = 0;
        for _ in 0..10_000 {
            pushed += 3;
            kept.keep(timespec(), pushed, pushed - 3);
        }
        assert!(kept.len() <= 1, "{} kept", kept.len());
    }
}
