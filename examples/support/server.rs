//! What the server examples share: the `--addr` flag and running to the end.

/// Parses `[--addr HOST:PORT]` (default `default`), runs `run` on it with
/// proactor's `block_on`, and exits non-zero with `name: error` on failure.
pub fn main<F, Fut>(name: &str, default: &str, run: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = std::io::Result<()>>,
{
    let mut addr = default.to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            _ => {
                eprintln!("usage: {name} [--addr HOST:PORT]");
                std::process::exit(2);
            }
        }
    }
    if let Err(e) = proactor::block_on(run(addr)) {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}
