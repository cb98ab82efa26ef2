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
