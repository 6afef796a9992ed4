//! Unit tests of [`Journal`]: durability settings, one commit per append, the chain across reopen, schema
//! refusal, tail checks at open, and write failures that poison the journal until it is reopened.

use super::*;
use crate::journal::test_support::{TempDir, entries, entry};
use crate::journal::{Problem, Reader, verify};

fn raw(dir: &TempDir) -> Connection {
    let conn = Connection::open(db_path(dir.path())).expect("raw open");
    conn.execute_batch("DROP TRIGGER records_no_update; DROP TRIGGER records_no_delete;")
        .expect("drop the append-only triggers");
    conn
}

#[test]
fn the_writer_connection_is_wal_with_full_sync() {
    let dir = TempDir::new("pragmas");
    let journal = Journal::open(dir.path()).expect("open");
    let pragmas = journal.pragmas().expect("pragmas");
    assert_eq!(pragmas.journal_mode, "wal");
    assert_eq!(pragmas.synchronous, 2, "2 is FULL");
    assert_eq!(pragmas.wal_autocheckpoint, 0, "no checkpoint inside a commit");
    assert!(dir.path().join("journal/journal.sqlite3").exists());
}

#[test]
fn the_wal_is_emptied_into_the_database_at_each_head_checkpoint() {
    let dir = TempDir::new("wal-checkpoint");
    let mut journal = Journal::open(dir.path()).expect("open");
    journal.append(&entries(0, 2_000)).expect("append");
    let wal = dir.path().join("journal/journal.sqlite3-wal");
    let db = dir.path().join("journal/journal.sqlite3");
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let db_before = size(&db);
    assert!(size(&wal) > 0, "the records are in the WAL");
    journal.checkpoint_head().expect("checkpoint");
    assert!(size(&db) > db_before, "the WAL was copied into the database");
    drop(journal);
    assert_eq!(verify(dir.path()).expect("verify").records, 2_000);
}

#[test]
fn each_append_is_exactly_one_commit_whatever_its_size() {
    let dir = TempDir::new("commits");
    let mut journal = Journal::open(dir.path()).expect("open");
    let mut next = 0;
    for size in [1, 2, 10, 100, 1] {
        let before = journal.commits();
        let appended = journal.append(&entries(next, size)).expect("append");
        next += size;
        assert_eq!(journal.commits(), before + 1, "a batch of {size}");
        assert_eq!(appended.len(), usize::try_from(size).expect("size"));
    }
    let before = journal.commits();
    assert_eq!(journal.append(&[]).expect("empty"), []);
    assert_eq!(journal.commits(), before, "an empty batch commits nothing");
    assert_eq!(journal.head().seq, 114);
}

#[test]
fn the_chain_links_every_record_and_continues_after_reopen() {
    let dir = TempDir::new("reopen");
    let mut journal = Journal::open(dir.path()).expect("open");
    let first = journal.append(&entries(0, 3)).expect("append");
    assert_eq!(first.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2, 3]);
    journal.checkpoint_head().expect("head");
    let tip = journal.head();
    drop(journal);

    let mut journal = Journal::open(dir.path()).expect("reopen");
    assert_eq!(journal.head(), tip);
    assert_eq!(journal.checkpointed(), 3);
    let more = journal.append(&entries(3, 2)).expect("append after reopen");
    assert_eq!(more[0].seq, 4);
    drop(journal);
    let journal = Journal::open(dir.path()).expect("reopen without a fresh HEAD");
    assert_eq!(journal.head().seq, 5);

    let records = Reader::open(dir.path())
        .expect("reader")
        .records(1)
        .expect("records");
    let mut prev = [0u8; 32];
    for (record, n) in records.iter().zip(0..) {
        assert_eq!(record.prev_hash, prev);
        assert_eq!(record.data["n"], n);
        prev = record.hash;
    }
    assert_eq!(prev, journal.head().hash);
    let report = verify(dir.path()).expect("verifies");
    assert_eq!(
        (report.records, report.head_seq, report.checkpoint),
        (5, 5, Some(3))
    );
    assert_eq!(report.head_hash, journal.head().hash_hex());
}

#[test]
fn a_journal_from_a_newer_cockpit_is_refused_and_left_alone() {
    let dir = TempDir::new("newer");
    drop(Journal::open(dir.path()).expect("create"));
    let conn = Connection::open(db_path(dir.path())).expect("raw");
    conn.pragma_update(None, "user_version", 99)
        .expect("bump version");
    drop(conn);
    let err = Journal::open(dir.path()).expect_err("newer schema");
    assert!(
        matches!(
            err,
            JournalError::NewerSchema {
                found: 99,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("newer than this cockpit"), "{err}");
    let conn = Connection::open(db_path(dir.path())).expect("raw");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("v");
    assert_eq!(version, 99, "nothing was migrated");
    assert!(matches!(
        verify(dir.path()),
        Err(crate::journal::VerifyError::Unreadable(_))
    ));
}

#[test]
fn a_full_disk_fails_the_append_and_every_later_write_until_reopened() {
    let dir = TempDir::new("full");
    let mut journal = Journal::open(dir.path()).expect("open");
    journal.append(&entries(0, 5)).expect("room for these");
    let cap = journal.cap_pages(1).expect("cap");
    assert!(cap > 1, "SQLite never caps below the current size");
    let mut big = entry("tool_call", 99);
    big.data = serde_json::json!({ "blob": "x".repeat(64 * 1024) });
    let err = journal.append(&[big.clone()]).expect_err("no room");
    assert!(matches!(err, JournalError::DiskFull { .. }), "{err:?}");
    assert!(err.to_string().contains("disk is full"), "{err}");

    // A small entry would fit, but the journal no longer trusts itself.
    let again = journal.append(&entries(5, 1)).expect_err("poisoned");
    assert!(matches!(again, JournalError::Poisoned { .. }), "{again:?}");
    assert!(
        again.to_string().contains("disk is full"),
        "names the first failure: {again}"
    );
    assert!(matches!(
        journal.checkpoint_head(),
        Err(JournalError::Poisoned { .. })
    ));
    assert!(journal.failure().is_some());
    assert_eq!(journal.head().seq, 5, "the failed batch left no trace");
    drop(journal);

    let mut journal = Journal::open(dir.path()).expect("reopen");
    assert_eq!(journal.head().seq, 5);
    journal.append(&[big]).expect("room again after reopening");
    assert_eq!(verify(dir.path()).expect("verifies").records, 6);
}

#[test]
fn an_invalid_entry_fails_its_batch_but_does_not_poison() {
    let dir = TempDir::new("invalid");
    let mut journal = Journal::open(dir.path()).expect("open");
    let mut late = entry("tool_call", 1);
    late.at = chrono::DateTime::<chrono::Utc>::MAX_UTC;
    let err = journal.append(&[entry("ok", 0), late]).expect_err("out of range");
    assert!(
        matches!(err, JournalError::InvalidEntry { index: 1, .. }),
        "{err:?}"
    );
    let err = journal.append(&[entry("", 0)]).expect_err("empty kind");
    assert!(err.to_string().contains("kind is empty"), "{err}");
    assert_eq!(journal.append(&entries(0, 1)).expect("still writable")[0].seq, 1);
}

#[test]
fn open_checks_the_tail_since_head_and_names_the_first_bad_seq() {
    let dir = TempDir::new("tail");
    let mut journal = Journal::open(dir.path()).expect("open");
    journal.append(&entries(0, 5)).expect("append");
    journal.checkpoint_head().expect("head at 5");
    journal.append(&entries(5, 5)).expect("append");
    drop(journal);

    let conn = raw(&dir);
    conn.execute("UPDATE records SET kind = 'verdict' WHERE seq = 8", [])
        .expect("tamper");
    drop(conn);
    let err = Journal::open(dir.path()).expect_err("broken tail");
    let JournalError::Broken { brk, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(brk.seq, 8, "{err}");
    assert!(
        matches!(brk.problem, Problem::Column { column: "kind", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("seq 8"), "{err}");
}

#[test]
fn open_refuses_a_tail_cut_behind_head() {
    let dir = TempDir::new("cut");
    let mut journal = Journal::open(dir.path()).expect("open");
    journal.append(&entries(0, 10)).expect("append");
    journal.checkpoint_head().expect("head at 10");
    drop(journal);
    raw(&dir)
        .execute("DELETE FROM records WHERE seq >= 9", [])
        .expect("truncate");
    let err = Journal::open(dir.path()).expect_err("truncated");
    let JournalError::Broken { brk, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(brk.seq, 9);
    assert_eq!(brk.problem, Problem::Truncated { head: 10, last: 8 });
    assert!(err.to_string().contains("truncated tail"), "{err}");
}

#[test]
fn a_garbled_head_file_is_refused() {
    let dir = TempDir::new("badhead");
    drop(Journal::open(dir.path()).expect("open"));
    std::fs::write(head_path(dir.path()), "not a checkpoint\n").expect("write");
    let err = Journal::open(dir.path()).expect_err("bad head");
    assert!(matches!(err, JournalError::BadHead { .. }), "{err:?}");
}

#[test]
fn the_append_only_triggers_stop_accidental_edits() {
    let dir = TempDir::new("triggers");
    let mut journal = Journal::open(dir.path()).expect("open");
    journal.append(&entries(0, 2)).expect("append");
    drop(journal);
    let conn = Connection::open(db_path(dir.path())).expect("raw");
    let err = conn.execute("DELETE FROM records", []).expect_err("append-only");
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = conn
        .execute("UPDATE records SET kind = 'x'", [])
        .expect_err("append-only");
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[test]
fn the_wal_is_checkpointed_so_it_stays_bounded() {
    let dir = TempDir::new("wal-bound");
    let mut journal = Journal::open(dir.path()).expect("open");
    let mut big = entries(0, 100);
    for e in &mut big {
        e.data = serde_json::json!({ "filler": "w".repeat(1000) });
    }
    // 30 commits of about 85 pages each: over 10 MB of WAL without checkpoints.
    for _ in 0..30 {
        journal.append(&big).expect("append");
    }
    let wal = std::fs::metadata(db_path(dir.path()).with_extension("sqlite3-wal")).expect("wal");
    assert!(wal.len() < 5 * 1024 * 1024, "WAL is {} bytes", wal.len());
    assert_eq!(journal.head().seq, 3000);
}

#[test]
fn a_head_without_its_database_is_refused_and_nothing_is_created() {
    let dir = TempDir::new("no-db");
    let mut journal = Journal::open(dir.path()).expect("open");
    journal.append(&entries(0, 3)).expect("append");
    journal.checkpoint_head().expect("head");
    drop(journal);
    std::fs::remove_file(db_path(dir.path())).expect("remove the database");
    let err = Journal::open(dir.path()).expect_err("HEAD without a database");
    assert!(err.to_string().contains("truncated tail"), "{err}");
    assert!(!db_path(dir.path()).exists(), "no fresh chain was started");
    let err = verify(dir.path()).expect_err("broken");
    assert_eq!(err.first_bad_seq(), Some(1), "{err}");
}
