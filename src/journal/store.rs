//! [`Journal`]: the single read-write connection. `append` writes a batch in one transaction (one commit,
//! so one sync); after any failed write the journal refuses every later write until it is reopened — it
//! never retries and carries on (`PostgreSQL`'s "fsyncgate" lesson). Deciding what to do about a failure
//! (halting trading) is the core's job.

use std::fs::DirBuilder;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::hooks::Wal;
use rusqlite::{Connection, TransactionBehavior, params};

use super::chain::{self, WalkError};
use super::codec::{chain_hash, encode};
use super::schema::{open_writer, sql_error};
use super::{Appended, Entry, JournalError, db_path, dir, head, head_path};

/// WAL size, in pages, at which a commit also copies the WAL back into the database (`SQLite`'s default
/// auto-checkpoint; our commit counter replaces `SQLite`'s own hook, so we run it).
const CHECKPOINT_PAGES: i32 = 1000;

const INSERT: &str = "INSERT INTO records \
    (seq, at, profile, gateway, account, client_id, kind, payload, prev_hash, hash) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// The writer's view of the journal; see the module docs.
#[derive(Debug)]
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    head_path: PathBuf,
    tip: Appended,
    checkpointed: u64,
    commits: Arc<AtomicU64>,
    failure: Option<String>,
}

/// The durability settings of the writer's connection, as `SQLite` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pragmas {
    /// `PRAGMA journal_mode` (`wal`).
    pub journal_mode: String,
    /// `PRAGMA synchronous` (2 = `FULL`: every commit syncs the WAL).
    pub synchronous: i64,
    /// `PRAGMA wal_autocheckpoint` (0: never inside a commit; the writer checkpoints with `HEAD`).
    pub wal_autocheckpoint: i64,
}

/// A record ready to insert.
struct Prepared {
    seq: u64,
    at_ns: i64,
    payload: Vec<u8>,
    prev_hash: [u8; 32],
    hash: [u8; 32],
}

impl Journal {
    /// Opens `STATE/journal/journal.sqlite3`, creating the directory and database if needed, migrating the
    /// schema, and checking the chain from the `HEAD` checkpoint (or from the start, without one) to the
    /// tail. Refuses a newer schema, a foreign database, a bad `HEAD` and a broken chain.
    pub fn open(state_dir: &Path) -> Result<Journal, JournalError> {
        let journal_dir = dir(state_dir);
        create_private_dir(&journal_dir).map_err(|e| JournalError::Io {
            path: journal_dir.clone(),
            op: "create the journal directory",
            message: e.to_string(),
        })?;
        let path = db_path(state_dir);
        let head_path = head_path(state_dir);
        let head = head::read(&head_path)?;
        // A checkpoint without its database: refuse rather than start a new chain beside it.
        if let Some(head) = head.filter(|h| h.seq > 0)
            && !path.try_exists().unwrap_or(true)
        {
            return Err(JournalError::Broken {
                path,
                brk: chain::Break {
                    seq: 1,
                    problem: chain::Problem::Truncated {
                        head: head.seq,
                        last: 0,
                    },
                },
            });
        }
        let mut conn = open_writer(&path)?;
        let tip = check_tail(&conn, head).map_err(|e| match e {
            WalkError::Break(brk) => JournalError::Broken {
                path: path.clone(),
                brk,
            },
            WalkError::Sql(e) => sql_error(&path, "check the chain", &e),
        })?;
        let commits = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&commits);
        conn.wal_hook(Some(move |wal: &mut Wal, pages: i32| {
            counter.fetch_add(1, Ordering::Release);
            if pages >= CHECKPOINT_PAGES {
                wal.checkpoint()?;
            }
            Ok(())
        }))
        .map_err(|e| sql_error(&path, "install the commit counter", &e))?;
        Ok(Journal {
            conn,
            path,
            head_path,
            tip,
            checkpointed: head.map_or(0, |h| h.seq),
            commits,
            failure: None,
        })
    }

    /// Appends `entries` in order, in one transaction with one commit (and so one sync). Returns each
    /// entry's seq and hash. Nothing of the batch is recorded if anything fails; a failed write poisons
    /// the journal, so every later call fails too until it is reopened. An empty batch writes nothing.
    pub fn append(&mut self, entries: &[Entry]) -> Result<Vec<Appended>, JournalError> {
        self.refuse_if_failed()?;
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let prepared = self.prepare(entries)?;
        if let Err(e) = insert(&mut self.conn, entries, &prepared) {
            return Err(self.fail(sql_error(&self.path, "append", &e)));
        }
        let appended: Vec<Appended> = prepared
            .iter()
            .map(|p| Appended {
                seq: p.seq,
                hash: p.hash,
            })
            .collect();
        if let Some(last) = appended.last() {
            self.tip = *last;
        }
        Ok(appended)
    }

    /// Encodes and hashes a batch without touching the database; a bad entry fails the batch but does
    /// not poison the journal.
    fn prepare(&self, entries: &[Entry]) -> Result<Vec<Prepared>, JournalError> {
        let mut tip = self.tip;
        let mut prepared = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let invalid = |message: String| JournalError::InvalidEntry { index, message };
            let at_ns = entry
                .at
                .timestamp_nanos_opt()
                .ok_or_else(|| invalid(format!("its time {} is outside 1677-09-21..2262-04-11", entry.at)))?;
            if entry.kind.is_empty() {
                return Err(invalid("its kind is empty".to_owned()));
            }
            let seq = tip.seq + 1;
            let payload = encode(seq, at_ns, entry).map_err(invalid)?;
            let hash = chain_hash(&tip.hash, &payload);
            prepared.push(Prepared {
                seq,
                at_ns,
                payload,
                prev_hash: tip.hash,
                hash,
            });
            tip = Appended { seq, hash };
        }
        Ok(prepared)
    }

    /// Replaces `STATE/journal/HEAD` with the current tail (seq and hash), atomically and durably, then
    /// copies the WAL into the database (a passive checkpoint: it never waits for readers), which
    /// `SQLite` is told not to do inside commits. A failure poisons the journal like a failed append.
    pub fn checkpoint_head(&mut self) -> Result<(), JournalError> {
        self.refuse_if_failed()?;
        if let Err(e) = head::write(&self.head_path, self.tip) {
            return Err(self.fail(e));
        }
        self.checkpointed = self.tip.seq;
        let wal = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
        if let Err(e) = wal {
            let e = sql_error(&self.path, "checkpoint the WAL", &e);
            return Err(self.fail(e));
        }
        Ok(())
    }

    /// How many transactions `SQLite` has committed on this connection since [`Journal::open`] returned,
    /// counted by a WAL hook that runs after each commit reached the (synced) WAL.
    #[must_use]
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    /// The last record (seq 0 and zeros when empty).
    #[must_use]
    pub fn head(&self) -> Appended {
        self.tip
    }

    /// The seq in `HEAD` as of the last checkpoint (0 if none).
    #[must_use]
    pub fn checkpointed(&self) -> u64 {
        self.checkpointed
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first write failure, if the journal is refusing writes.
    #[must_use]
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// The durability settings as `SQLite` reports them on this (the writer's) connection.
    pub fn pragmas(&self) -> Result<Pragmas, JournalError> {
        let err = |e: rusqlite::Error| sql_error(&self.path, "read the pragmas", &e);
        Ok(Pragmas {
            journal_mode: self
                .conn
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .map_err(err)?,
            synchronous: self
                .conn
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .map_err(err)?,
            wal_autocheckpoint: self
                .conn
                .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
                .map_err(err)?,
        })
    }

    /// Fault injection: caps the database at `max_pages` pages for this connection (`SQLite`'s
    /// `max_page_count`; never below its current size), so writes beyond it fail as on a full disk.
    /// Returns the cap `SQLite` applied. Reopening the journal removes the cap.
    pub fn cap_pages(&mut self, max_pages: u32) -> Result<i64, JournalError> {
        self.conn
            .pragma_update_and_check(None, "max_page_count", max_pages, |r| r.get(0))
            .map_err(|e| sql_error(&self.path, "cap the database size", &e))
    }

    fn refuse_if_failed(&self) -> Result<(), JournalError> {
        match &self.failure {
            Some(first) => Err(JournalError::Poisoned { first: first.clone() }),
            None => Ok(()),
        }
    }

    fn fail(&mut self, e: JournalError) -> JournalError {
        tracing::error!(error = %e, "journal write failed; refusing further writes until reopened");
        self.failure.get_or_insert_with(|| e.to_string());
        e
    }
}

fn insert(conn: &mut Connection, entries: &[Entry], prepared: &[Prepared]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut stmt = tx.prepare_cached(INSERT)?;
        for (entry, p) in entries.iter().zip(prepared) {
            let e = &entry.envelope;
            stmt.execute(params![
                chain::to_i64(p.seq),
                p.at_ns,
                e.profile,
                e.gateway,
                e.account,
                e.client_id,
                entry.kind,
                p.payload,
                p.prev_hash,
                p.hash,
            ])?;
        }
    }
    tx.commit()
}

/// Checks the chain from `HEAD` (or the start) to the tail; returns the tail.
fn check_tail(conn: &Connection, head: Option<Appended>) -> Result<Appended, WalkError> {
    let start = match head {
        Some(head) if head.seq > 0 => {
            let stored = chain::stored_hash(conn, head.seq)?;
            let (last, next) = chain::neighbours(conn, head.seq)?;
            if let Some(brk) = chain::head_break(head, last, next, stored) {
                return Err(WalkError::Break(brk));
            }
            head
        }
        Some(head) => {
            if let Some(brk) = chain::head_break(head, 0, None, None) {
                return Err(WalkError::Break(brk));
            }
            Appended::GENESIS
        }
        None => Appended::GENESIS,
    };
    Ok(chain::walk(conn, start, None)?.tip)
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        // Agents run as other users (ARCHITECTURE.md §1): they get no read access to the journal.
        builder.mode(0o700);
    }
    builder.create(path)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
