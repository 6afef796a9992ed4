//! The journal: Cockpit's write-ahead record in `SQLite`, SHA-256-chained so that any edit, deletion,
//! reordering, insertion or truncation is detected. It records what it is given and reports every failure;
//! deciding what to journal, and halting trading when the journal fails, belong to the core.
//!
//! Layout:
//! - `codec`: the canonical payload bytes of a record and the chain hash over them.
//! - `schema`: connection settings, the schema and its migrations.
//! - `head`: the `HEAD` checkpoint file (last seq and hash), written atomically.
//! - `store`: [`Journal`], the single read-write connection; `append` is one transaction and one sync.
//! - `chain`: walking the chain, shared by [`Journal::open`] (tail since `HEAD`) and [`verify`] (everything).
//! - `verify`: [`verify`], read-only and safe while a cockpit is writing.
//! - `reader`: [`Reader`], read-only queries for recovery and reports.
//! - `actor`: [`JournalWriter`] and its cloneable [`JournalHandle`]: group commit on a blocking thread.
//!
//! On disk: `STATE/journal/journal.sqlite3` (WAL, `synchronous=FULL`) and `STATE/journal/HEAD`.

mod actor;
mod chain;
mod codec;
mod head;
pub mod kinds;
mod reader;
mod schema;
mod store;
mod verify;

#[cfg(test)]
mod test_support;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use actor::{JournalHandle, JournalWriter, WriterOptions, WriterStatus, spawn};
pub use chain::{Break, Problem};
pub use reader::Reader;
pub use schema::SCHEMA_VERSION;
pub use store::{Journal, Pragmas};
pub use verify::{VerifyError, VerifyReport, verify};

/// The journal's directory inside the state dir.
pub const DIR: &str = "journal";
/// The `SQLite` database file inside [`DIR`].
pub const DB_FILE: &str = "journal.sqlite3";
/// The checkpoint file inside [`DIR`]: the last checkpointed seq and its hash.
pub const HEAD_FILE: &str = "HEAD";

/// `STATE/journal`.
#[must_use]
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join(DIR)
}

/// `STATE/journal/journal.sqlite3`.
#[must_use]
pub fn db_path(state_dir: &Path) -> PathBuf {
    dir(state_dir).join(DB_FILE)
}

/// `STATE/journal/HEAD`.
#[must_use]
pub fn head_path(state_dir: &Path) -> PathBuf {
    dir(state_dir).join(HEAD_FILE)
}

/// Who a record belongs to; every record carries it so paper and live never mix (ARCHITECTURE.md §1.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Envelope {
    /// Profile name from the config.
    pub profile: String,
    /// Gateway address, `host:port`.
    pub gateway: String,
    /// Broker account id.
    pub account: String,
    /// TWS API client id.
    pub client_id: i32,
}

/// How soon an entry must be on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Committed with a full sync before `append` returns. The writer actor may share the commit with
    /// requests already queued, but stops the batch early (`max_sync_batch`) so an intent never waits for
    /// a backlog.
    Sync,
    /// May share a commit with many others (up to `max_batch`); still committed and synced before the
    /// writer actor answers its `append`.
    Batch,
}

/// One thing to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// When it happened (the core's clock). Must lie between 1677 and 2262 (nanoseconds fit an `i64`).
    pub at: DateTime<Utc>,
    /// Profile, gateway, account and client id.
    pub envelope: Envelope,
    /// What it is: `tool_call`, `verdict`, `human_action`, `intent`, `broker_event`, `trading_state`, `start`, …
    pub kind: String,
    /// The details.
    pub data: serde_json::Value,
    /// How soon it must be on disk.
    pub durability: Durability,
}

/// Where an entry landed in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Appended {
    /// Its sequence number; the first record is 1, and there are no gaps.
    pub seq: u64,
    /// SHA-256 over the previous record's hash and this record's stored payload.
    pub hash: [u8; 32],
}

impl Appended {
    /// The head of an empty journal: seq 0 and 32 zero bytes (the first record's `prev_hash`).
    pub const GENESIS: Appended = Appended {
        seq: 0,
        hash: [0; 32],
    };

    /// The hash in lowercase hex.
    #[must_use]
    pub fn hash_hex(&self) -> String {
        hex(&self.hash)
    }
}

/// A stored record, as its payload says (the indexed columns are only copies for queries).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Sequence number.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Profile, gateway, account and client id.
    pub envelope: Envelope,
    /// What it is.
    pub kind: String,
    /// The details.
    pub data: serde_json::Value,
    /// The previous record's hash (zeros for seq 1).
    pub prev_hash: [u8; 32],
    /// This record's hash.
    pub hash: [u8; 32],
}

/// Why the journal could not open, write or read. `Clone` so the writer actor can hand one failure to
/// every caller that was waiting on the same commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// A file-system operation failed.
    #[error("journal {path}: cannot {op}: {message}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The operating system's message.
        message: String,
    },
    /// The disk (or the database's size cap) is full.
    #[error("journal {path}: the disk is full ({op}: {message}); nothing of this batch was recorded")]
    DiskFull {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// `SQLite`'s message.
        message: String,
    },
    /// `SQLite` finds the database file damaged (or not a database at all).
    #[error("journal {path} is damaged ({op}: {message}); run `cockpit journal verify`")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// `SQLite`'s message.
        message: String,
    },
    /// Any other `SQLite` failure.
    #[error("journal {path}: {op} failed: {message}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// `SQLite`'s message.
        message: String,
    },
    /// The file was written by a newer Cockpit.
    #[error(
        "journal {path} has schema version {found}, newer than this cockpit understands ({supported}); \
         run a newer cockpit"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The file's `user_version`.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The file is an `SQLite` database, but not a Cockpit journal.
    #[error("{path} is not a cockpit journal (SQLite application id {found:#x})")]
    NotAJournal {
        /// The database file.
        path: PathBuf,
        /// The file's `application_id`.
        found: i64,
    },
    /// The chain is broken: the journal is refused, never repaired or truncated.
    #[error("journal {path} is broken at {brk}; run `cockpit journal verify` for the full check")]
    Broken {
        /// The database file.
        path: PathBuf,
        /// The first break found.
        brk: Break,
    },
    /// The `HEAD` checkpoint file cannot be read or parsed.
    #[error("journal checkpoint {path} is unreadable: {message}")]
    BadHead {
        /// The `HEAD` file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An entry cannot be encoded (nothing of the batch was written).
    #[error("journal entry {index} of the batch cannot be recorded: {message}")]
    InvalidEntry {
        /// Its index in the batch.
        index: usize,
        /// What is wrong with it.
        message: String,
    },
    /// An earlier write failed; the journal refuses all writes until it is reopened.
    #[error("the journal refuses writes after an earlier failure ({first}); reopen it (restart the cockpit)")]
    Poisoned {
        /// The first failure.
        first: String,
    },
    /// The writer actor has stopped.
    #[error("the journal writer has stopped")]
    Closed,
}

/// Lowercase hex of `bytes`.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Parses 64 hex digits into a hash.
pub(crate) fn parse_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
