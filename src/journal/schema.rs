//! Connection settings, the schema and its migrations. It does not read or write records.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::JournalError;

/// The newest schema this build reads and writes; a journal with a higher `user_version` is refused.
pub const SCHEMA_VERSION: i64 = 1;
/// `SQLite` `application_id` marking a Cockpit journal ("Ckpj").
pub(crate) const APPLICATION_ID: i64 = 0x436b_706a;
/// How long a statement waits on another connection's lock before failing (readers beside the writer).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `MIGRATIONS[v]` takes a journal from schema version `v` to `v + 1`.
const MIGRATIONS: [&str; 1] = [V1];

const V1: &str = "
CREATE TABLE records (
    seq       INTEGER PRIMARY KEY, -- 1, 2, 3, ... without gaps
    at        INTEGER NOT NULL,    -- Unix time in nanoseconds (UTC); a copy of the payload's
    profile   TEXT    NOT NULL,    -- copies of the payload's envelope and kind, for queries
    gateway   TEXT    NOT NULL,
    account   TEXT    NOT NULL,
    client_id INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    payload   BLOB    NOT NULL,    -- the canonical bytes; the hash covers exactly these
    prev_hash BLOB    NOT NULL,    -- the previous record's hash (zeros for seq 1)
    hash      BLOB    NOT NULL     -- SHA-256(prev_hash || payload)
) STRICT;
CREATE INDEX records_at ON records (at);
CREATE INDEX records_kind_at ON records (kind, at);
CREATE TRIGGER records_no_update BEFORE UPDATE ON records
    BEGIN SELECT RAISE(ABORT, 'journal records are append-only'); END;
CREATE TRIGGER records_no_delete BEFORE DELETE ON records
    BEGIN SELECT RAISE(ABORT, 'journal records are append-only'); END;
";

/// Maps an `SQLite` error to a [`JournalError`], singling out a full disk.
pub(crate) fn sql_error(path: &Path, op: &'static str, e: &rusqlite::Error) -> JournalError {
    let (path, message) = (path.to_path_buf(), e.to_string());
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => JournalError::DiskFull { path, op, message },
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            JournalError::Corrupt { path, op, message }
        }
        _ => JournalError::Sqlite { path, op, message },
    }
}

/// Opens (creating if needed) the writer's connection: checks the file is a Cockpit journal no newer than
/// this build, switches to WAL with `synchronous=FULL`, and migrates to [`SCHEMA_VERSION`].
pub(crate) fn open_writer(path: &Path) -> Result<Connection, JournalError> {
    let flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sql_error(path, "open", &e))?;
    configure(&conn).map_err(|e| sql_error(path, "configure the connection", &e))?;
    let version = identify(&conn, path)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| sql_error(path, "switch to WAL", &e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(JournalError::Sqlite {
            path: path.to_path_buf(),
            op: "switch to WAL",
            message: format!("SQLite kept journal_mode={mode}"),
        });
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| sql_error(path, "set synchronous=FULL", &e))?;
    // No checkpoint inside a commit: the writer checkpoints the WAL with `HEAD`, after answering.
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(|e| sql_error(path, "set wal_autocheckpoint=0", &e))?;
    if version < SCHEMA_VERSION {
        migrate(&conn, path)?;
    }
    Ok(conn)
}

/// Opens a read-only connection to an existing journal (usable while the writer runs).
pub(crate) fn open_reader(path: &Path) -> Result<Connection, JournalError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sql_error(path, "open", &e))?;
    configure(&conn).map_err(|e| sql_error(path, "configure the connection", &e))?;
    let version = identify(&conn, path)?;
    if version == 0 {
        return Err(JournalError::NotAJournal {
            path: path.to_path_buf(),
            found: 0,
        });
    }
    Ok(conn)
}

/// Whether the file at `path` is a database nothing was ever committed to: no application id, no schema
/// version, no table. A cockpit killed while creating its journal leaves one; it holds no record, and the
/// next start initialises it.
pub(crate) fn is_uninitialised(path: &Path) -> bool {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let Ok(conn) = Connection::open_with_flags(path, flags) else {
        return false;
    };
    let read = |sql: &str| conn.query_row(sql, [], |row| row.get::<_, i64>(0)).ok();
    read("PRAGMA application_id") == Some(0)
        && read("PRAGMA user_version") == Some(0)
        && read("SELECT count(*) FROM sqlite_schema") == Some(0)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // The file may have been edited by someone else: run no functions its schema names.
    conn.pragma_update(None, "trusted_schema", "OFF")?;
    // Catch more kinds of page damage as errors instead of wrong answers.
    conn.pragma_update(None, "cell_size_check", "ON")
}

/// The file's schema version, after checking that it is ours (or empty) and not newer than this build.
fn identify(conn: &Connection, path: &Path) -> Result<i64, JournalError> {
    let read = |name| {
        conn.pragma_query_value(None, name, |row| row.get::<_, i64>(0))
            .map_err(|e| sql_error(path, "read the journal header", &e))
    };
    let (app, version) = (read("application_id")?, read("user_version")?);
    let empty = app == 0 && version == 0;
    if app != APPLICATION_ID && !empty {
        return Err(JournalError::NotAJournal {
            path: path.to_path_buf(),
            found: app,
        });
    }
    if version > SCHEMA_VERSION {
        return Err(JournalError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

fn migrate(conn: &Connection, path: &Path) -> Result<(), JournalError> {
    let err = |e: rusqlite::Error| sql_error(path, "migrate the schema", &e);
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(err)?;
    // Re-read inside the write lock: another process may have migrated since we looked.
    let from: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(err)?;
    let mut version = from;
    for step in MIGRATIONS
        .iter()
        .skip(usize::try_from(from).unwrap_or(usize::MAX))
    {
        tx.execute_batch(step).map_err(err)?;
        version += 1;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(err)?;
    tx.pragma_update(None, "user_version", version).map_err(err)?;
    tx.commit().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::test_support::TempDir;

    #[test]
    fn a_new_journal_is_wal_with_full_sync_at_the_current_version() {
        let dir = TempDir::new("schema-new");
        let path = dir.path().join("j.sqlite3");
        let conn = open_writer(&path).expect("opens");
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("mode");
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .expect("sync");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!((mode.as_str(), sync, version), ("wal", 2, SCHEMA_VERSION));
        drop(conn);
        assert!(
            open_writer(&path).is_ok(),
            "reopening an up-to-date journal migrates nothing"
        );
        assert!(open_reader(&path).is_ok());
    }

    #[test]
    fn a_foreign_database_is_refused() {
        let dir = TempDir::new("schema-foreign");
        let path = dir.path().join("other.sqlite3");
        let conn = Connection::open(&path).expect("create");
        conn.execute_batch("CREATE TABLE t (x); PRAGMA application_id = 42;")
            .expect("setup");
        drop(conn);
        let err = open_writer(&path).expect_err("foreign");
        assert!(err.to_string().contains("not a cockpit journal"), "{err}");
        assert!(matches!(
            open_reader(&path),
            Err(JournalError::NotAJournal { found: 42, .. })
        ));
    }

    #[test]
    fn a_disk_full_error_is_named_as_such() {
        let e = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None);
        let err = sql_error(Path::new("j"), "append", &e);
        assert!(matches!(err, JournalError::DiskFull { .. }), "{err:?}");
        assert!(err.to_string().contains("disk is full"), "{err}");
    }
}
