//! `proactor::fs` against `std::fs` on a temporary tree, on both back ends:
//! each function runs next to std's on the same paths (files, directories,
//! symlinks, dangling and looping symlinks, missing paths, a file where a
//! directory should be, a NUL byte), and must give the same value or the
//! same error (kind and errno), and leave the same tree behind.

// Unix only: the tree holds symlinks and permission bits, and the
// permission cases switch to another user.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::{self, ErrorKind};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use proactor::Driver;

/// What a call gave: its value, or its error's kind and errno.
type Outcome<T> = Result<T, (ErrorKind, Option<i32>)>;

fn outcome<T>(result: io::Result<T>) -> Outcome<T> {
    result.map_err(|e| (e.kind(), e.raw_os_error()))
}

#[track_caller]
fn same<T: PartialEq + Debug>(what: &str, ours: io::Result<T>, theirs: io::Result<T>) {
    assert_eq!(
        outcome(ours),
        outcome(theirs),
        "{what}: proactor (left) and std (right) differ"
    );
}

/// The tree every case starts from.
fn build_tree(root: &Path) {
    use std::os::unix::fs::symlink;
    std::fs::create_dir_all(root.join("dir/nested")).unwrap();
    std::fs::write(root.join("file.txt"), "hello\nworld\n").unwrap();
    std::fs::set_permissions(root.join("file.txt"), PermissionsExt::from_mode(0o640)).unwrap();
    std::fs::write(root.join("empty"), "").unwrap();
    std::fs::write(root.join("binary"), [0xff, 0xfe, 0, 1]).unwrap();
    std::fs::write(root.join("dir/inner.txt"), "inner").unwrap();
    std::fs::write(root.join("dir/nested/deep"), "deep").unwrap();
    symlink("file.txt", root.join("link_to_file")).unwrap();
    symlink("dir", root.join("link_to_dir")).unwrap();
    symlink("missing", root.join("dangling")).unwrap();
    symlink("loop_b", root.join("loop_a")).unwrap();
    symlink("loop_a", root.join("loop_b")).unwrap();
}

/// Paths the cases name, relative to the tree's root; `""` is the empty
/// path itself.
const PATHS: &[&str] = &[
    "file.txt",
    "empty",
    "binary",
    "dir",
    "dir/",
    "dir/nested",
    "dir/inner.txt",
    "link_to_file",
    "link_to_dir",
    "dangling",
    "loop_a",
    "missing",
    "missing/child",
    "file.txt/child",
    "with\0nul",
    "",
];

fn at(root: &Path, case: &str) -> PathBuf {
    if case.is_empty() {
        PathBuf::new()
    } else {
        root.join(case)
    }
}

/// What a tree holds, for comparing two of them.
#[derive(Debug, PartialEq)]
enum Node {
    File {
        mode: u32,
        links: u64,
        contents: Vec<u8>,
    },
    Dir {
        mode: u32,
    },
    Symlink(PathBuf),
}

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    fn walk(root: &Path, dir: &Path, nodes: &mut BTreeMap<PathBuf, Node>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let name = path.strip_prefix(root).unwrap().to_path_buf();
            let node = if meta.file_type().is_symlink() {
                Node::Symlink(std::fs::read_link(&path).unwrap())
            } else if meta.is_dir() {
                walk(root, &path, nodes);
                Node::Dir { mode: meta.mode() }
            } else {
                Node::File {
                    mode: meta.mode(),
                    links: meta.nlink(),
                    contents: std::fs::read(&path).unwrap(),
                }
            };
            nodes.insert(name, node);
        }
    }
    let mut nodes = BTreeMap::new();
    if root.exists() {
        walk(root, root, &mut nodes);
    }
    nodes
}

/// Two copies of a tree: one for std, one for proactor.
struct Trees {
    _dir: tempfile::TempDir,
    std: PathBuf,
    ours: PathBuf,
}

impl Trees {
    fn new(build: fn(&Path)) -> Trees {
        let dir = tempfile::tempdir().unwrap();
        let (std, ours) = (dir.path().join("std"), dir.path().join("ours"));
        for root in [&std, &ours] {
            std::fs::create_dir(root).unwrap();
            build(root);
        }
        Trees {
            _dir: dir,
            std,
            ours,
        }
    }

    #[track_caller]
    fn assert_same(&self, what: &str) {
        assert_eq!(
            snapshot(&self.ours),
            snapshot(&self.std),
            "{what}: the trees differ afterwards (proactor's left)"
        );
    }
}

/// A listing as comparable values: name, path relative to the root, type.
fn listing_of(
    root: &Path,
    entries: Vec<(std::ffi::OsString, PathBuf, std::fs::FileType)>,
) -> Vec<(std::ffi::OsString, PathBuf, [bool; 3])> {
    let mut listing: Vec<_> = entries
        .into_iter()
        .map(|(name, path, kind)| {
            let path = path.strip_prefix(root).unwrap().to_path_buf();
            (
                name,
                path,
                [kind.is_file(), kind.is_dir(), kind.is_symlink()],
            )
        })
        .collect();
    listing.sort();
    listing
}

async fn our_listing(
    path: PathBuf,
) -> io::Result<Vec<(std::ffi::OsString, PathBuf, std::fs::FileType)>> {
    let mut entries = proactor::fs::read_dir(path).await?;
    let mut listing = Vec::new();
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        let meta = entry.metadata().await?;
        let kind = entry.file_type()?;
        assert_eq!(
            meta.file_type(),
            kind,
            "{entry:?}: metadata and file_type disagree"
        );
        listing.push((entry.file_name(), entry.path(), kind));
    }
    Ok(listing)
}

fn std_listing(path: &Path) -> io::Result<Vec<(std::ffi::OsString, PathBuf, std::fs::FileType)>> {
    std::fs::read_dir(path)?
        .map(|entry| {
            let entry = entry?;
            Ok((entry.file_name(), entry.path(), entry.file_type()?))
        })
        .collect()
}

fn hard_links_match_std(driver: &Driver) {
    let pairs = [
        ("file.txt", "new"),
        ("file.txt", "dir/nested/new"),
        ("link_to_file", "new"),
        ("dangling", "new"),
        ("file.txt", "empty"),
        ("file.txt", "dangling"),
        ("missing", "new"),
        // A directory cannot be hard-linked, by root either: EPERM.
        ("dir", "new"),
        ("file.txt", "missing/new"),
        ("file.txt", "file.txt/new"),
        ("with\0nul", "new"),
        ("file.txt", "with\0nul"),
    ];
    for (original, link) in pairs {
        let trees = Trees::new(build_tree);
        let what = format!("hard_link({original:?}, {link:?})");
        let theirs = std::fs::hard_link(trees.std.join(original), trees.std.join(link));
        let ours = driver.block_on(proactor::fs::hard_link(
            trees.ours.join(original),
            trees.ours.join(link),
        ));
        same(&what, ours, theirs);
        trees.assert_same(&what);
    }
}

fn symlinks_match_std(driver: &Driver) {
    let pairs = [
        ("file.txt", "new"),
        ("../file.txt", "dir/new"),
        ("missing", "new"),
        ("", "new"),
        ("x", "file.txt"),
        ("x", "dangling"),
        ("x", "dir"),
        ("x", "missing/new"),
        ("x", "file.txt/new"),
        ("with\0nul", "new"),
        ("x", "with\0nul"),
    ];
    for (original, link) in pairs {
        let trees = Trees::new(build_tree);
        let what = format!("symlink({original:?}, {link:?})");
        let theirs = std::os::unix::fs::symlink(original, trees.std.join(link));
        let ours = driver.block_on(proactor::fs::symlink(original, trees.ours.join(link)));
        same(&what, ours, theirs);
        trees.assert_same(&what);
    }
}

both_backends! {
    fn reading_functions_match_std(driver) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        build_tree(root);
        for case in PATHS {
            let path = at(root, case);
            let what = |f: &str| format!("{f}({case:?})");
            driver.block_on(async {
                same(&what("read"), proactor::fs::read(&path).await, std::fs::read(&path));
                same(
                    &what("read_to_string"),
                    proactor::fs::read_to_string(&path).await,
                    std::fs::read_to_string(&path),
                );
                same(&what("read_link"), proactor::fs::read_link(&path).await, std::fs::read_link(&path));
                same(
                    &what("canonicalize"),
                    proactor::fs::canonicalize(&path).await,
                    std::fs::canonicalize(&path),
                );
                same(&what("try_exists"), proactor::fs::try_exists(&path).await, path.try_exists());
                same(
                    &what("metadata"),
                    proactor::fs::metadata(&path).await.map(|m| (m.len(), m.is_dir(), m.is_file())),
                    std::fs::metadata(&path).map(|m| (m.len(), m.is_dir(), m.is_file())),
                );
                same(
                    &what("read_dir"),
                    our_listing(path.clone()).await.map(|l| listing_of(root, l)),
                    std_listing(&path).map(|l| listing_of(root, l)),
                );
            });
        }
    }

    fn create_dir_all_matches_std(driver) {
        let cases = PATHS.iter().chain(&["new/a/b", "dir/new", "dir/nested/new/", "link_to_dir/new", "dangling/new"]);
        for case in cases {
            let trees = Trees::new(build_tree);
            let what = format!("create_dir_all({case:?})");
            let theirs = std::fs::create_dir_all(at(&trees.std, case));
            let ours = driver.block_on(proactor::fs::create_dir_all(at(&trees.ours, case)));
            same(&what, ours, theirs);
            trees.assert_same(&what);
        }
    }

    fn remove_dir_all_matches_std(driver) {
        for case in PATHS {
            let trees = Trees::new(build_tree);
            let what = format!("remove_dir_all({case:?})");
            let theirs = std::fs::remove_dir_all(at(&trees.std, case));
            let ours = driver.block_on(proactor::fs::remove_dir_all(at(&trees.ours, case)));
            same(&what, ours, theirs);
            trees.assert_same(&what);
        }
        // The whole tree, from its root.
        let trees = Trees::new(build_tree);
        same(
            "remove_dir_all(root)",
            driver.block_on(proactor::fs::remove_dir_all(&trees.ours)),
            std::fs::remove_dir_all(&trees.std),
        );
        assert!(!trees.ours.exists());
    }

    fn copy_matches_std(driver) {
        let pairs = [
            ("file.txt", "new"),
            ("file.txt", "empty"),
            ("binary", "dir/nested/new"),
            ("link_to_file", "new"),
            ("file.txt", "link_to_file"),
            ("file.txt", "dangling"),
            ("empty", "file.txt"),
            ("missing", "new"),
            ("dangling", "new"),
            ("loop_a", "new"),
            ("dir", "new"),
            ("file.txt", "dir"),
            ("file.txt", "missing/new"),
            ("file.txt", "file.txt/new"),
            ("with\0nul", "new"),
            ("file.txt", "with\0nul"),
        ];
        for (from, to) in pairs {
            let trees = Trees::new(build_tree);
            let what = format!("copy({from:?}, {to:?})");
            let theirs = std::fs::copy(trees.std.join(from), trees.std.join(to));
            let ours = driver.block_on(proactor::fs::copy(trees.ours.join(from), trees.ours.join(to)));
            same(&what, ours, theirs);
            trees.assert_same(&what);
        }
    }

    fn hard_link_matches_std(driver) {
        hard_links_match_std(&driver);
    }

    fn symlink_matches_std(driver) {
        symlinks_match_std(&driver);
    }

    fn set_permissions_matches_std(driver) {
        for case in PATHS {
            for mode in [0o600, 0o755, 0o4711] {
                let trees = Trees::new(build_tree);
                let what = format!("set_permissions({case:?}, {mode:o})");
                let permissions = || std::fs::Permissions::from_mode(mode);
                let theirs = std::fs::set_permissions(at(&trees.std, case), permissions());
                let ours = driver.block_on(proactor::fs::set_permissions(at(&trees.ours, case), permissions()));
                same(&what, ours, theirs);
                trees.assert_same(&what);
            }
        }
    }

    fn a_listing_of_many_entries_has_each_once(driver) {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..1000 {
            std::fs::write(dir.path().join(format!("f{i:04}")), i.to_string()).unwrap();
        }
        let ours = driver.block_on(our_listing(dir.path().to_path_buf())).unwrap();
        assert_eq!(ours.len(), 1000);
        assert_eq!(listing_of(dir.path(), ours), listing_of(dir.path(), std_listing(dir.path()).unwrap()));
    }

    fn dropping_a_listing_mid_batch_closes_the_directory(driver) {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..500 {
            std::fs::write(dir.path().join(i.to_string()), "").unwrap();
        }
        let fds_before = common::fd_count();
        let mut entries = driver.block_on(proactor::fs::read_dir(dir.path())).unwrap();
        // Drain the first batch, then leave the next one in flight.
        let mut taken = 0;
        let mut next = Box::pin(async {
            while let Some(entry) = entries.next_entry().await.unwrap() {
                drop(entry);
                taken += 1;
            }
        });
        assert!(
            common::poll_once(&driver, &mut next).is_pending(),
            "500 entries fit no batch"
        );
        drop(next);
        drop(entries);
        assert!(taken > 0 && taken < 500, "took {taken}");
        assert!(common::park_until(&driver, Duration::from_secs(10), || driver.in_flight() == 0));
        assert_eq!(common::fd_count_settles(fds_before), fds_before, "the directory stayed open");
    }
}

/// Switches this process to `nobody` (uid and gid 65534, no supplementary
/// groups); glibc applies it to every thread.
fn become_nobody() -> io::Result<()> {
    const NOBODY: u32 = 65534;
    // SAFETY: plain credential system calls; setgroups reads no memory when
    // the count is zero.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(NOBODY) != 0
            || libc::setuid(NOBODY) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn is_root() -> bool {
    effective_uid() == 0
}

/// A tree whose directories refuse what their mode says: `locked` may be
/// listed but not changed, `sealed` neither.
fn build_locked_tree(root: &Path) {
    std::fs::write(root.join("file.txt"), "text").unwrap();
    for dir in ["locked", "sealed"] {
        std::fs::create_dir(root.join(dir)).unwrap();
        std::fs::write(root.join(dir).join("file"), "inside").unwrap();
    }
    std::fs::set_permissions(root.join("locked"), PermissionsExt::from_mode(0o555)).unwrap();
    std::fs::set_permissions(root.join("sealed"), PermissionsExt::from_mode(0o000)).unwrap();
}

fn unlock_tree(root: &Path) {
    for dir in ["locked", "sealed"] {
        std::fs::set_permissions(root.join(dir), PermissionsExt::from_mode(0o755)).unwrap();
    }
}

const UNPRIVILEGED_CHILD: &str = "PROACTOR_FS_STD_UNPRIVILEGED";
const CHECKS_RAN: &str = "permission checks ran as uid";

/// Permission denied, on both back ends. Root passes permission checks,
/// so as root this test runs itself again in a child process that first
/// becomes `nobody`.
#[test]
fn permission_denied_matches_std() {
    let _serial = common::serial();
    if is_root() && std::env::var_os(UNPRIVILEGED_CHILD).is_none() {
        let (ok, out) = common::run_child(
            "permission_denied_matches_std",
            &[(UNPRIVILEGED_CHILD, "1")],
        );
        assert!(ok, "the unprivileged child failed:\n{out}");
        assert!(
            out.contains(CHECKS_RAN),
            "the unprivileged child ran no checks:\n{out}"
        );
        return;
    }
    if is_root() {
        become_nobody().expect("switch to nobody");
    }
    for backend in common::backends() {
        let driver = common::driver(backend);
        permission_cases(&driver);
    }
    println!("{CHECKS_RAN} {}", effective_uid());
}

/// A value as text, so results of different types fit one table.
fn shown<T: Debug>(value: T) -> String {
    format!("{value:?}")
}

/// A proactor call on a driver, and std's counterpart.
type OurCall = fn(&Driver, &Path) -> io::Result<String>;
type StdCall = fn(&Path) -> io::Result<String>;

fn permission_cases(driver: &Driver) {
    let cases: [(&str, OurCall, StdCall); 12] = [
        (
            "create_dir_all(locked/new/deeper)",
            |d, r| {
                d.block_on(proactor::fs::create_dir_all(r.join("locked/new/deeper")))
                    .map(shown)
            },
            |r| std::fs::create_dir_all(r.join("locked/new/deeper")).map(shown),
        ),
        (
            "remove_dir_all(locked)",
            |d, r| {
                d.block_on(proactor::fs::remove_dir_all(r.join("locked")))
                    .map(shown)
            },
            |r| std::fs::remove_dir_all(r.join("locked")).map(shown),
        ),
        (
            "copy(file.txt, locked/new)",
            |d, r| {
                d.block_on(proactor::fs::copy(r.join("file.txt"), r.join("locked/new")))
                    .map(shown)
            },
            |r| std::fs::copy(r.join("file.txt"), r.join("locked/new")).map(shown),
        ),
        (
            "write(locked/new)",
            |d, r| {
                d.block_on(proactor::fs::write(r.join("locked/new"), b"x"))
                    .map(shown)
            },
            |r| std::fs::write(r.join("locked/new"), b"x").map(shown),
        ),
        (
            "hard_link(file.txt, locked/new)",
            |d, r| {
                d.block_on(proactor::fs::hard_link(
                    r.join("file.txt"),
                    r.join("locked/new"),
                ))
                .map(shown)
            },
            |r| std::fs::hard_link(r.join("file.txt"), r.join("locked/new")).map(shown),
        ),
        (
            "symlink(x, locked/new)",
            |d, r| {
                d.block_on(proactor::fs::symlink("x", r.join("locked/new")))
                    .map(shown)
            },
            |r| std::os::unix::fs::symlink("x", r.join("locked/new")).map(shown),
        ),
        (
            "read_dir(sealed)",
            |d, r| {
                d.block_on(our_listing(r.join("sealed")))
                    .map(|l| shown(listing_of(r, l)))
            },
            |r| std_listing(&r.join("sealed")).map(|l| shown(listing_of(r, l))),
        ),
        (
            // An error, not `false`: the answer is unknown.
            "try_exists(sealed/file)",
            |d, r| {
                d.block_on(proactor::fs::try_exists(r.join("sealed/file")))
                    .map(shown)
            },
            |r| r.join("sealed/file").try_exists().map(shown),
        ),
        (
            "canonicalize(sealed/file)",
            |d, r| {
                d.block_on(proactor::fs::canonicalize(r.join("sealed/file")))
                    .map(shown)
            },
            |r| std::fs::canonicalize(r.join("sealed/file")).map(shown),
        ),
        (
            "read_to_string(sealed/file)",
            |d, r| {
                d.block_on(proactor::fs::read_to_string(r.join("sealed/file")))
                    .map(shown)
            },
            |r| std::fs::read_to_string(r.join("sealed/file")).map(shown),
        ),
        (
            // Not the owner: EPERM. Its own mode again, so that nothing
            // would change even if it were allowed.
            "set_permissions(/)",
            |d, _| {
                d.block_on(async {
                    proactor::fs::set_permissions("/", std::fs::metadata("/")?.permissions()).await
                })
                .map(shown)
            },
            |_| std::fs::set_permissions("/", std::fs::metadata("/")?.permissions()).map(shown),
        ),
        (
            "File::set_permissions(/)",
            |d, _| {
                d.block_on(async {
                    let root = proactor::fs::File::open("/").await?;
                    root.set_permissions(std::fs::metadata("/")?.permissions())
                        .await
                })
                .map(shown)
            },
            |_| {
                std::fs::File::open("/")?
                    .set_permissions(std::fs::metadata("/")?.permissions())
                    .map(shown)
            },
        ),
    ];
    for (what, ours, theirs) in cases {
        let trees = Trees::new(build_locked_tree);
        let what = format!("{what} on {}", driver.backend());
        let result = ours(driver, &trees.ours);
        assert!(
            result.is_err(),
            "{what}: allowed as uid {}",
            effective_uid()
        );
        same(&what, result, theirs(&trees.std));
        unlock_tree(&trees.std);
        unlock_tree(&trees.ours);
        trees.assert_same(&what);
    }
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// Per-op fallback (`--cfg proactor_fault`, as `ci/fault.sh` builds): with
/// `LINKAT` and `SYMLINKAT` hidden, as on kernels before 5.15, links are
/// made on the blocking pool and still match std.
#[cfg(all(proactor_fault, target_os = "linux", feature = "uring"))]
mod without_link_opcodes {
    use super::*;
    use io_uring::opcode;
    use proactor::fault;

    both_backends! {
        fn links_match_std_on_the_pool(driver) {
            fault::hide_opcode(opcode::LinkAt::CODE);
            fault::hide_opcode(opcode::SymlinkAt::CODE);
            let before = fault::pool_runs();
            hard_links_match_std(&driver);
            symlinks_match_std(&driver);
            fault::reveal_opcodes();
            let on_pool = fault::pool_runs() - before;
            // Every case but the four with a NUL, refused before submission.
            assert!(on_pool >= 10 + 9, "only {on_pool} links were made on the pool");
        }
    }
}
