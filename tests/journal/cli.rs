//! `cockpit journal verify` as a user meets it: exit 0 with the count and head hash on stdout; exit 1
//! naming the first bad seq, or saying there is no journal, on stderr.

use super::tamper::tamper;
use super::{RECORDS, TempDir, cockpit, fixture, journal, verify};

fn run(dir: &TempDir) -> (Option<i32>, String, String) {
    let out = cockpit()
        .args(["journal", "verify", "--state-dir"])
        .arg(dir.path())
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn verify_prints_the_count_and_head_hash_and_exits_0() {
    let dir = fixture("cli-ok");
    let report = verify(dir.path()).expect("verifies");
    let (code, out, err) = run(&dir);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&format!("{RECORDS} records verified")), "{out}");
    assert!(out.contains(&report.head_hash), "{out}");
    assert!(
        out.contains(&format!("HEAD checkpoint (seq {RECORDS}) matches")),
        "{out}"
    );
    assert!(err.is_empty(), "{err}");
}

#[test]
fn verify_names_the_first_bad_seq_and_exits_1() {
    let dir = fixture("cli-bad");
    let copy = dir.copy("cli-bad-copy");
    tamper(&copy)
        .execute("UPDATE records SET profile = 'live' WHERE seq = 17", [])
        .expect("edit");
    let (code, out, err) = run(&copy);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("BROKEN at seq 17") && err.contains("profile"),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
}

#[test]
fn verify_without_a_journal_says_so_and_exits_1() {
    let dir = TempDir::new("cli-missing");
    let (code, out, err) = run(&dir);
    assert_eq!(code, Some(1));
    assert!(err.contains("no journal at"), "{err}");
    assert!(
        err.contains(&journal::db_path(dir.path()).display().to_string()),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
}
