//! `cfg` helpers that put `#[cfg]` and the matching `doc(cfg)` badge on items
//! together, so the two never drift apart.

/// Items compiled only with the io_uring back end (Linux + `uring`).
macro_rules! cfg_uring {
    ($($item:item)*) => {
        $(
            #[cfg(all(target_os = "linux", feature = "uring"))]
            #[cfg_attr(docsrs, doc(cfg(all(target_os = "linux", feature = "uring"))))]
            $item
        )*
    };
}

/// Items compiled only with the readiness back end (`poll`).
macro_rules! cfg_poll {
    ($($item:item)*) => {
        $(
            #[cfg(feature = "poll")]
            #[cfg_attr(docsrs, doc(cfg(feature = "poll")))]
            $item
        )*
    };
}

/// Items compiled only with the `bytes` feature.
macro_rules! cfg_bytes {
    ($($item:item)*) => {
        $(
            #[cfg(feature = "bytes")]
            #[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
            $item
        )*
    };
}

/// Items compiled where a driver has a notification fd: where io_uring or
/// the readiness back end's poller (epoll, kqueue, event ports) is itself
/// an fd another event loop can wait on.
macro_rules! cfg_notification_fd {
    ($($item:item)*) => {
        $(
            #[cfg(any(
                target_os = "linux",
                target_os = "android",
                target_os = "illumos",
                target_os = "solaris",
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "netbsd",
                target_os = "openbsd",
                target_os = "dragonfly",
            ))]
            #[cfg_attr(docsrs, doc(cfg(any(
                target_os = "linux",
                target_os = "android",
                target_os = "illumos",
                target_os = "solaris",
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "netbsd",
                target_os = "openbsd",
                target_os = "dragonfly",
            ))))]
            $item
        )*
    };
}

/// The opposite of [`cfg_notification_fd`]: items for where a driver has no
/// notification fd.
macro_rules! cfg_no_notification_fd {
    ($($item:item)*) => {
        $(
            #[cfg(not(any(
                target_os = "linux",
                target_os = "android",
                target_os = "illumos",
                target_os = "solaris",
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "netbsd",
                target_os = "openbsd",
                target_os = "dragonfly",
            )))]
            $item
        )*
    };
}
