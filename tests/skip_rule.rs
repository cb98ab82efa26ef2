//! The test suite's own skip rule (tests/common/skip.rs): a test may skip
//! only in a run that opted in, and every skip is written down.

mod common;

use common::skip::{skipped, SKIP_LOG_VAR};

const CHILD: &str = "PROACTOR_TEST_SKIP_RULE_CHILD";

/// Runs only as a child of `a_skip_is_written_down_in_a_run_that_allows_it`.
#[test]
fn child_that_skips() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    assert!(skipped("the thing under test", &"not here"));
    println!("child skipped");
}

#[test]
fn a_skip_is_written_down_in_a_run_that_allows_it() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let path = log.path().to_str().unwrap();
    let (ok, out) = common::run_child("child_that_skips", &[(CHILD, "1"), (SKIP_LOG_VAR, path)]);
    assert!(ok && out.contains("child skipped"), "{out}");
    let written = std::fs::read_to_string(log.path()).unwrap();
    assert_eq!(written.lines().count(), 1, "{written}");
    assert!(
        written.starts_with("skip_rule child_that_skips: the thing under test: not here"),
        "{written}"
    );
}

#[test]
fn nothing_is_skipped_in_a_run_that_does_not_allow_it() {
    if std::env::var_os(SKIP_LOG_VAR).is_some() {
        // This run allows skips (ci/qemu.sh): the rule's other half is
        // checked by every native run.
        return;
    }
    assert!(!skipped("anything", &"any reason"));
}
