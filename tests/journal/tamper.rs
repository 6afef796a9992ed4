//! Tampering with a copy of a closed journal, the way someone with write access to the state dir would
//! (the append-only triggers dropped first): every edit, deletion, reordering, insertion, truncation and
//! damaged page is detected by `verify`, at the right seq where there is one.

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::{Journal, JournalError, Problem, RECORDS, TempDir, VerifyError, fixture, journal, verify};

/// A raw read-write connection to a copy, with the append-only triggers dropped as a tamperer would.
pub(crate) fn tamper(dir: &TempDir) -> Connection {
    let conn = Connection::open(journal::db_path(dir.path())).expect("raw open");
    conn.execute_batch("DROP TRIGGER records_no_update; DROP TRIGGER records_no_delete;")
        .expect("drop triggers");
    conn
}

fn blob(conn: &Connection, column: &str, seq: u64) -> Vec<u8> {
    conn.query_row(
        &format!("SELECT {column} FROM records WHERE seq = ?1"),
        [sql(seq)],
        |r| r.get(0),
    )
    .expect("blob")
}

fn sql(seq: u64) -> i64 {
    i64::try_from(seq).expect("seq fits SQLite")
}

fn hash(prev: &[u8], payload: &[u8]) -> Vec<u8> {
    Sha256::new()
        .chain_update(prev)
        .chain_update(payload)
        .finalize()
        .to_vec()
}

#[track_caller]
fn broken_at(dir: &TempDir, seq: u64) -> Problem {
    match verify(dir.path()) {
        Err(VerifyError::Broken { brk, .. }) => {
            assert_eq!(brk.seq, seq, "first bad seq: {brk}");
            brk.problem
        }
        other => panic!("expected a break at seq {seq}, got {other:?}"),
    }
}

#[test]
fn an_edited_payload_is_detected_at_its_seq() {
    let dir = fixture("payload");
    let copy = dir.copy("payload-edit");
    let conn = tamper(&copy);
    let mut payload = blob(&conn, "payload", 7);
    let last = payload.len() - 1;
    payload[last] ^= 1;
    conn.execute("UPDATE records SET payload = ?1 WHERE seq = 7", [&payload])
        .expect("edit");
    drop(conn);
    assert_eq!(broken_at(&copy, 7), Problem::Hash);

    // Re-hashing the edited record only moves the break to the next link.
    let copy = dir.copy("payload-rehash");
    let conn = tamper(&copy);
    let mut payload = blob(&conn, "payload", 7);
    payload[last] ^= 1;
    let new_hash = hash(&blob(&conn, "hash", 6), &payload);
    conn.execute(
        "UPDATE records SET payload = ?1, hash = ?2 WHERE seq = 7",
        rusqlite::params![payload, new_hash],
    )
    .expect("edit");
    drop(conn);
    assert_eq!(broken_at(&copy, 8), Problem::PrevHash);
}

#[test]
fn a_history_rewritten_to_the_tail_is_caught_by_head() {
    let dir = fixture("rewrite");
    let copy = dir.copy("rewrite-all");
    let conn = tamper(&copy);
    let mut prev = blob(&conn, "hash", 9);
    for seq in 10..=RECORDS {
        let mut payload = blob(&conn, "payload", seq);
        if seq == 10 {
            let last = payload.len() - 1;
            payload[last] ^= 1;
        }
        let h = hash(&prev, &payload);
        conn.execute(
            "UPDATE records SET payload = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![payload, prev, h, sql(seq)],
        )
        .expect("rewrite");
        prev = h;
    }
    drop(conn);
    let problem = broken_at(&copy, RECORDS);
    assert!(matches!(problem, Problem::HeadHash { .. }), "{problem:?}");
}

#[test]
fn an_edited_column_is_detected_at_its_seq() {
    let dir = fixture("columns");
    let edits = [
        ("kind", "kind = 'verdict'", 5),
        ("at", "at = at + 1", 6),
        ("profile", "profile = 'live'", 9),
        ("gateway", "gateway = '127.0.0.1:4001'", 10),
        ("account", "account = 'U7654321'", 11),
        ("client_id", "client_id = 8", 12),
    ];
    for (column, set, seq) in edits {
        let copy = dir.copy(column);
        tamper(&copy)
            .execute(&format!("UPDATE records SET {set} WHERE seq = ?1"), [sql(seq)])
            .expect("edit");
        match broken_at(&copy, seq) {
            Problem::Column { column: named, .. } => assert_eq!(named, column),
            other => panic!("{column}: {other:?}"),
        }
    }
}

#[test]
fn any_single_record_edited_or_deleted_is_detected_at_its_seq() {
    let dir = fixture("every");
    for seq in 1..=RECORDS {
        let copy = dir.copy(&format!("every-edit-{seq}"));
        let conn = tamper(&copy);
        let mut payload = blob(&conn, "payload", seq);
        let at = usize::try_from(seq * 37).expect("index") % payload.len();
        payload[at] ^= 0x80;
        conn.execute(
            "UPDATE records SET payload = ?1 WHERE seq = ?2",
            rusqlite::params![payload, sql(seq)],
        )
        .expect("edit");
        drop(conn);
        assert_eq!(broken_at(&copy, seq), Problem::Hash, "byte {at} of seq {seq}");

        let copy = dir.copy(&format!("every-delete-{seq}"));
        tamper(&copy)
            .execute("DELETE FROM records WHERE seq = ?1", [sql(seq)])
            .expect("delete");
        let expected = if seq == RECORDS {
            Problem::Truncated {
                head: RECORDS,
                last: RECORDS - 1,
            }
        } else {
            Problem::Missing { next: seq + 1 }
        };
        assert_eq!(broken_at(&copy, seq), expected);
    }
}

#[test]
fn a_deleted_record_is_detected_at_its_seq() {
    let dir = fixture("delete");
    let copy = dir.copy("delete-10");
    tamper(&copy)
        .execute("DELETE FROM records WHERE seq = 10", [])
        .expect("delete");
    assert_eq!(broken_at(&copy, 10), Problem::Missing { next: 11 });
}

#[test]
fn swapped_records_are_detected_at_the_first() {
    let dir = fixture("swap");
    let copy = dir.copy("swap-11-12");
    let conn = tamper(&copy);
    conn.execute_batch(
        "UPDATE records SET seq = -1 WHERE seq = 11;
         UPDATE records SET seq = 11 WHERE seq = 12;
         UPDATE records SET seq = 12 WHERE seq = -1;",
    )
    .expect("swap");
    drop(conn);
    assert_eq!(broken_at(&copy, 11), Problem::PrevHash);
}

#[test]
fn an_inserted_record_is_detected_at_its_seq() {
    let dir = fixture("insert");
    // Shift 15.. up by one and put a copy of record 14 in the gap: it does not link to 14.
    let copy = dir.copy("insert-copy");
    let conn = tamper(&copy);
    conn.execute("UPDATE records SET seq = -seq WHERE seq >= 15", [])
        .expect("lift");
    conn.execute("UPDATE records SET seq = 1 - seq WHERE seq < 0", [])
        .expect("shift");
    conn.execute(
        "INSERT INTO records SELECT 15, at, profile, gateway, account, client_id, kind, payload, prev_hash, hash \
         FROM records WHERE seq = 14",
        [],
    )
    .expect("insert");
    drop(conn);
    assert_eq!(broken_at(&copy, 15), Problem::PrevHash);

    // A forger who links it correctly is still caught: the payload names another seq.
    let copy = dir.copy("insert-linked");
    let conn = tamper(&copy);
    conn.execute("UPDATE records SET seq = -seq WHERE seq >= 15", [])
        .expect("lift");
    conn.execute("UPDATE records SET seq = 1 - seq WHERE seq < 0", [])
        .expect("shift");
    let (prev, payload) = (blob(&conn, "hash", 14), blob(&conn, "payload", 14));
    let h = hash(&prev, &payload);
    conn.execute(
        "INSERT INTO records SELECT 15, at, profile, gateway, account, client_id, kind, payload, ?1, ?2 \
         FROM records WHERE seq = 14",
        rusqlite::params![prev, h],
    )
    .expect("insert");
    drop(conn);
    assert!(matches!(
        broken_at(&copy, 15),
        Problem::Column { column: "seq", .. }
    ));
}

#[test]
fn a_truncated_tail_is_detected_against_head() {
    let dir = fixture("truncate");
    let copy = dir.copy("truncate-3");
    tamper(&copy)
        .execute("DELETE FROM records WHERE seq > ?1", [sql(RECORDS - 3)])
        .expect("truncate");
    let problem = broken_at(&copy, RECORDS - 2);
    assert_eq!(
        problem,
        Problem::Truncated {
            head: RECORDS,
            last: RECORDS - 3
        }
    );
    let err = Journal::open(copy.path()).expect_err("the writer refuses it too");
    assert!(matches!(err, JournalError::Broken { .. }), "{err:?}");
}

#[test]
fn a_flipped_byte_inside_a_record_is_detected_at_its_seq() {
    let dir = fixture("flip");
    let copy = dir.copy("flip-13");
    let db = journal::db_path(copy.path());
    let mut bytes = std::fs::read(&db).expect("read db");
    let at = bytes
        .windows(11)
        .position(|w| w == b"marker-0013")
        .expect("the record's bytes are in the file");
    bytes[at] = b'M';
    std::fs::write(&db, bytes).expect("write db");
    assert_eq!(broken_at(&copy, 13), Problem::Hash);
}

#[test]
fn every_damaged_page_is_detected() {
    let dir = fixture("pages");
    let db = journal::db_path(dir.path());
    let pristine = std::fs::read(&db).expect("read db");
    let page = 4096;
    let pages = pristine.len() / page;
    assert!(pages >= 6, "the fixture spans several pages ({pages})");
    for n in 0..pages {
        let copy = dir.copy(&format!("page-{n}"));
        let mut bytes = pristine.clone();
        for (i, b) in bytes[n * page..(n + 1) * page].iter_mut().enumerate() {
            *b = u8::try_from((i * 167 + n * 31) % 251).expect("byte");
        }
        std::fs::write(journal::db_path(copy.path()), bytes).expect("write db");
        match verify(copy.path()) {
            Err(VerifyError::Broken { .. } | VerifyError::Integrity { .. }) => {}
            other => panic!("page {n} of {pages}: {other:?}"),
        }
    }
}
