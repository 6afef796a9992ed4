//! The journal from outside (RELIABILITY.md P16–P18): every kind of tampering on a copy of a state dir is
//! detected by `verify` at the right seq — edited payloads and columns, deleted, swapped and inserted
//! records, a truncated tail, damaged pages; verify and the reader work beside a running writer; random
//! entries round-trip exactly; and `cockpit journal verify` reports through its exit code.
//! Large counts run with `COCKPIT_HEAVY=1`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration as Span};
use cockpit::journal::{
    self, Durability, Entry, Envelope, Journal, JournalError, Problem, Reader, VerifyError, verify,
};
use serde_json::{Value, json};

const RECORDS: u64 = 40;

fn heavy() -> bool {
    std::env::var_os("COCKPIT_HEAVY").is_some()
}

/// A unique state dir under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "cockpit-journal-it-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// A copy of this state dir's journal, to tamper with.
    fn copy(&self, name: &str) -> TempDir {
        let copy = TempDir::new(name);
        let to = journal::dir(copy.path());
        std::fs::create_dir_all(&to).expect("journal dir");
        for file in std::fs::read_dir(journal::dir(self.path()))
            .expect("read dir")
            .flatten()
        {
            std::fs::copy(file.path(), to.join(file.file_name())).expect("copy");
        }
        copy
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn entry(n: u64) -> Entry {
    Entry {
        at: DateTime::from_timestamp_nanos(1_795_000_000_000_000_000 + i64::try_from(n).expect("n") * 1_000),
        envelope: Envelope {
            profile: "paper".to_owned(),
            gateway: "127.0.0.1:4002".to_owned(),
            account: "DU1234567".to_owned(),
            client_id: 7,
        },
        kind: if n.is_multiple_of(3) {
            "intent"
        } else {
            "tool_call"
        }
        .to_owned(),
        data: json!({ "marker": format!("marker-{n:04}"), "filler": "f".repeat(300), "n": n }),
        durability: if n.is_multiple_of(3) {
            Durability::Sync
        } else {
            Durability::Batch
        },
    }
}

/// A closed journal of `RECORDS` records appended in batches of 1..=4, with HEAD at the last one.
fn fixture(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    let mut journal = Journal::open(dir.path()).expect("open");
    let mut n = 1;
    while n <= RECORDS {
        let batch: Vec<Entry> = (n..=(n + n % 4).min(RECORDS)).map(entry).collect();
        n += batch.len() as u64;
        journal.append(&batch).expect("append");
    }
    journal.checkpoint_head().expect("HEAD");
    drop(journal);
    assert!(
        !journal::db_path(dir.path())
            .with_extension("sqlite3-wal")
            .exists(),
        "a clean close folds the WAL into the database"
    );
    dir
}

#[test]
fn an_intact_journal_verifies_with_its_head() {
    let dir = fixture("intact");
    let report = verify(dir.path()).expect("verifies");
    assert_eq!(
        (report.records, report.head_seq, report.checkpoint),
        (RECORDS, RECORDS, Some(RECORDS))
    );
    let last = Reader::open(dir.path())
        .expect("reader")
        .last_record()
        .expect("read")
        .expect("one");
    assert_eq!(report.head_hash, journal::hex(&last.hash));
}

#[test]
fn a_journal_killed_while_being_created_verifies_empty_and_opens() {
    // What a cockpit killed between creating the file and its first commit leaves: an empty database.
    let dir = TempDir::new("uninitialised");
    std::fs::create_dir_all(journal::dir(dir.path())).expect("journal dir");
    std::fs::write(journal::db_path(dir.path()), b"").expect("empty file");
    let report = verify(dir.path()).expect("an empty journal is not a broken one");
    assert_eq!((report.records, report.head_seq, report.checkpoint), (0, 0, None));
    // With a HEAD that saw records, the same file is a truncation.
    let full = fixture("uninitialised-head");
    std::fs::copy(journal::head_path(full.path()), journal::head_path(dir.path())).expect("copy HEAD");
    let err = verify(dir.path()).expect_err("records went missing");
    assert!(matches!(err, VerifyError::Broken { .. }), "{err:?}");
    std::fs::remove_file(journal::head_path(dir.path())).expect("remove HEAD");
    // And the next start initialises it.
    drop(Journal::open(dir.path()).expect("opens"));
    assert_eq!(verify(dir.path()).expect("verifies").records, 0);
}

#[test]
fn a_missing_journal_is_reported_as_missing() {
    let dir = TempDir::new("missing");
    let err = verify(dir.path()).expect_err("no journal");
    assert!(matches!(err, VerifyError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("no journal"), "{err}");
    assert!(!journal::dir(dir.path()).exists(), "verify creates nothing");
}

#[test]
fn verify_and_reader_run_beside_a_writing_journal() {
    let dir = TempDir::new("concurrent");
    let mut journal = Journal::open(dir.path()).expect("open");
    journal.append(&[entry(1)]).expect("first");
    let rounds: u64 = if heavy() { 2_000 } else { 100 };
    let writer = std::thread::spawn(move || {
        for round in 0..rounds {
            let batch: Vec<Entry> = (0..5).map(|i| entry(round * 5 + i + 2)).collect();
            journal.append(&batch).expect("append");
            if round % 7 == 0 {
                journal.checkpoint_head().expect("HEAD");
            }
        }
        journal
    });
    let reader = Reader::open(dir.path()).expect("reader");
    let mut seen = 0;
    while !writer.is_finished() {
        let report = verify(dir.path()).expect("verifies mid-write");
        assert!(report.records >= seen);
        seen = report.records;
        let last = reader.last_record().expect("read").expect("some");
        assert!(last.seq >= seen);
    }
    let journal = writer.join().expect("writer");
    assert_eq!(verify(dir.path()).expect("verifies").records, journal.head().seq);
    assert_eq!(reader.records(1).expect("all").len() as u64, 1 + rounds * 5);
}

#[test]
fn many_appends_verify_and_reopen() {
    let dir = TempDir::new("many");
    let (batches, size) = if heavy() { (200, 1_000) } else { (20, 100) };
    let mut journal = Journal::open(dir.path()).expect("open");
    for b in 0..batches {
        let batch: Vec<Entry> = (0..size).map(|i| entry(b * size + i)).collect();
        journal.append(&batch).expect("append");
    }
    journal.checkpoint_head().expect("HEAD");
    let head = journal.head();
    drop(journal);
    let journal = Journal::open(dir.path()).expect("reopen");
    assert_eq!(journal.head(), head);
    let report = verify(dir.path()).expect("verifies");
    assert_eq!(report.records, batches * size);
    assert_eq!(report.head_hash, head.hash_hex());
}

#[test]
fn reader_selects_by_seq_and_by_time() {
    let dir = fixture("reader");
    let reader = Reader::open(dir.path()).expect("reader");
    let from_38 = reader.records(38).expect("records");
    assert_eq!(from_38.iter().map(|r| r.seq).collect::<Vec<_>>(), [38, 39, 40]);
    assert_eq!(reader.records_page(5, 2).expect("page").len(), 2);
    let (a, b) = (entry(10).at, entry(13).at);
    let between = reader.records_between(a, b).expect("between");
    assert_eq!(
        between.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [10, 11, 12],
        "[from, to)"
    );
    let (e, r) = (entry(10), &between[0]);
    assert_eq!(
        (r.at, &r.envelope, &r.kind, &r.data),
        (e.at, &e.envelope, &e.kind, &e.data)
    );
    assert_eq!(r.prev_hash, reader.records_page(9, 1).expect("9")[0].hash);
    assert!(
        reader
            .records_between(b + Span::days(1), b + Span::days(2))
            .expect("none")
            .is_empty()
    );
}

#[path = "journal/tamper.rs"]
mod tamper;

#[path = "journal/crash.rs"]
mod crash;

#[path = "journal/roundtrip.rs"]
mod roundtrip;

#[path = "journal/cli.rs"]
mod cli;

fn cockpit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cockpit"))
}
