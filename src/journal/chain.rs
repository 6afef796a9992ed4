//! Walking the hash chain: each record must follow the previous one without a gap, link to its hash,
//! hash to its stored value, and agree with its payload in every indexed column. Shared by
//! [`super::Journal::open`] (the tail since `HEAD`) and [`super::verify`] (everything). It never repairs.

use std::fmt;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, Row};

use super::codec::{chain_hash, decode_header};
use super::{Appended, hex};

/// The first thing wrong with a journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The first bad seq.
    pub seq: u64,
    /// What is wrong there.
    pub problem: Problem,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {}: {}", self.seq, self.problem)
    }
}

/// What is wrong at a [`Break`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The record is absent; the next one present has seq `next`.
    Missing {
        /// The seq of the next record present.
        next: u64,
    },
    /// The table ends before the seq the `HEAD` checkpoint names.
    Truncated {
        /// The seq in `HEAD`.
        head: u64,
        /// The last seq in the table (0 if empty).
        last: u64,
    },
    /// `prev_hash` is not the previous record's hash.
    PrevHash,
    /// The hash does not match the payload.
    Hash,
    /// The payload cannot be decoded.
    Payload(String),
    /// An indexed column disagrees with the payload.
    Column {
        /// The column.
        column: &'static str,
        /// What the column holds.
        stored: String,
        /// What the payload says.
        payload: String,
    },
    /// The record's hash differs from the one in `HEAD`.
    HeadHash {
        /// The hash in `HEAD`.
        head: String,
        /// The hash stored in the table.
        stored: String,
    },
    /// `SQLite` cannot read the record (a damaged page).
    Unreadable(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing { next } => write!(
                f,
                "the record is missing (the next one present is seq {next}): deleted, or records inserted"
            ),
            Problem::Truncated { head, last } => write!(
                f,
                "the record is missing: the HEAD checkpoint says the journal reaches seq {head}, but it ends at \
                 seq {last} (truncated tail)"
            ),
            Problem::PrevHash => f.write_str(
                "its prev_hash is not the previous record's hash (records deleted, reordered or inserted)",
            ),
            Problem::Hash => f.write_str("its hash does not match its payload (payload or hash altered)"),
            Problem::Payload(why) => write!(f, "its payload cannot be decoded: {why}"),
            Problem::Column {
                column,
                stored,
                payload,
            } => write!(
                f,
                "column {column} holds {stored} but the payload says {payload} (column altered)"
            ),
            Problem::HeadHash { head, stored } => write!(
                f,
                "its hash {stored} differs from the HEAD checkpoint's {head} (history rewritten)"
            ),
            Problem::Unreadable(why) => write!(f, "SQLite cannot read it (damaged page?): {why}"),
        }
    }
}

/// Why a walk stopped early.
#[derive(Debug)]
pub(crate) enum WalkError {
    /// The chain is broken.
    Break(Break),
    /// `SQLite` failed for a reason other than damage (busy, I/O).
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for WalkError {
    fn from(e: rusqlite::Error) -> Self {
        WalkError::Sql(e)
    }
}

/// The end of a successful walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Walked {
    /// The last record (or the start, if there was nothing after it).
    pub tip: Appended,
    /// How many records were checked.
    pub records: u64,
    /// The stored hash at the seq asked to capture, if it was walked.
    pub captured: Option<[u8; 32]>,
}

const SELECT: &str = "SELECT seq, at, profile, gateway, account, client_id, kind, payload, prev_hash, hash \
                      FROM records WHERE seq > ?1 ORDER BY seq";

/// Checks every record after `from` (whose hash the first must link to), capturing the hash at `capture`.
pub(crate) fn walk(conn: &Connection, from: Appended, capture: Option<u64>) -> Result<Walked, WalkError> {
    let mut walked = Walked {
        tip: from,
        records: 0,
        captured: None,
    };
    let mut stmt = conn.prepare(SELECT)?;
    let mut rows = stmt.query([to_i64(from.seq)])?;
    loop {
        let expected = walked.tip.seq + 1;
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(walked),
            Err(e) => return Err(damage(expected, e)),
        };
        let hash = check_row(row, expected, &walked.tip.hash).map_err(|problem| {
            WalkError::Break(Break {
                seq: expected,
                problem,
            })
        })?;
        if capture == Some(expected) {
            walked.captured = Some(hash);
        }
        walked.tip = Appended { seq: expected, hash };
        walked.records += 1;
    }
}

/// A read error at `seq`: damage is a break there; anything else is an `SQLite` failure.
pub(crate) fn damage(seq: u64, e: rusqlite::Error) -> WalkError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => WalkError::Break(Break {
            seq,
            problem: Problem::Unreadable(e.to_string()),
        }),
        _ => WalkError::Sql(e),
    }
}

fn check_row(row: &Row<'_>, expected: u64, prev: &[u8; 32]) -> Result<[u8; 32], Problem> {
    let value = |i: usize| row.get_ref(i).map_err(|e| Problem::Unreadable(e.to_string()));
    let seq = match value(0)? {
        ValueRef::Integer(seq) => u64::try_from(seq).unwrap_or(0),
        other => return Err(column("seq", &other, expected.to_string())),
    };
    if seq != expected {
        return Err(Problem::Missing { next: seq });
    }
    if blob32(value(8)?) != Some(*prev) {
        return Err(Problem::PrevHash);
    }
    let ValueRef::Blob(payload) = value(7)? else {
        return Err(Problem::Payload("the payload column is not a blob".to_owned()));
    };
    let hash = chain_hash(prev, payload);
    if blob32(value(9)?) != Some(hash) {
        return Err(Problem::Hash);
    }
    let header = decode_header(payload).map_err(Problem::Payload)?;
    let int_columns = [
        (0, "seq", i128::from(header.seq)),
        (1, "at", i128::from(header.at_ns)),
        (5, "client_id", i128::from(header.client_id)),
    ];
    for (i, name, said) in int_columns {
        let stored = value(i)?;
        if !matches!(stored, ValueRef::Integer(v) if i128::from(v) == said) {
            return Err(column(name, &stored, said.to_string()));
        }
    }
    let text_columns = [
        (2, "profile", header.profile),
        (3, "gateway", header.gateway),
        (4, "account", header.account),
        (6, "kind", header.kind),
    ];
    for (i, name, said) in text_columns {
        let stored = value(i)?;
        if !matches!(stored, ValueRef::Text(t) if t == said.as_bytes()) {
            return Err(column(name, &stored, format!("{said:?}")));
        }
    }
    Ok(hash)
}

fn column(name: &'static str, stored: &ValueRef<'_>, payload: String) -> Problem {
    let stored = match stored {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => r.to_string(),
        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("a {}-byte blob", b.len()),
    };
    Problem::Column {
        column: name,
        stored,
        payload,
    }
}

fn blob32(value: ValueRef<'_>) -> Option<[u8; 32]> {
    match value {
        ValueRef::Blob(b) => b.try_into().ok(),
        _ => None,
    }
}

/// The stored hash of record `seq`, if present.
pub(crate) fn stored_hash(conn: &Connection, seq: u64) -> Result<Option<[u8; 32]>, WalkError> {
    let mut stmt = conn.prepare_cached("SELECT hash FROM records WHERE seq = ?1")?;
    let mut rows = stmt.query([to_i64(seq)])?;
    match rows.next() {
        Ok(Some(row)) => Ok(Some(blob32(row.get_ref(0)?).unwrap_or_default())),
        Ok(None) => Ok(None),
        Err(e) => Err(damage(seq, e)),
    }
}

/// The highest seq in the table (0 if empty) and the first seq above `seq`, if any.
pub(crate) fn neighbours(conn: &Connection, seq: u64) -> Result<(u64, Option<u64>), WalkError> {
    let last: i64 = conn
        .query_row("SELECT coalesce(max(seq), 0) FROM records", [], |r| r.get(0))
        .map_err(|e| damage(seq, e))?;
    let next: Option<i64> = conn
        .query_row(
            "SELECT min(seq) FROM records WHERE seq > ?1",
            [to_i64(seq)],
            |r| r.get(0),
        )
        .map_err(|e| damage(seq, e))?;
    Ok((
        u64::try_from(last).unwrap_or(0),
        next.and_then(|n| u64::try_from(n).ok()),
    ))
}

/// Compares the `HEAD` checkpoint with the table: `stored` is the hash at `head.seq` if that record exists.
pub(crate) fn head_break(
    head: Appended,
    last: u64,
    next: Option<u64>,
    stored: Option<[u8; 32]>,
) -> Option<Break> {
    if head.seq == 0 {
        return (head.hash != Appended::GENESIS.hash).then(|| Break {
            seq: 0,
            problem: Problem::HeadHash {
                head: head.hash_hex(),
                stored: hex(&Appended::GENESIS.hash),
            },
        });
    }
    match stored {
        None if last < head.seq => Some(Break {
            seq: last + 1,
            problem: Problem::Truncated { head: head.seq, last },
        }),
        None => Some(Break {
            seq: head.seq,
            problem: Problem::Missing {
                next: next.unwrap_or(last),
            },
        }),
        Some(stored) if stored != head.hash => Some(Break {
            seq: head.seq,
            problem: Problem::HeadHash {
                head: head.hash_hex(),
                stored: hex(&stored),
            },
        }),
        Some(_) => None,
    }
}

/// Seqs are stored as `SQLite` integers; a journal never reaches 2^63 records.
pub(crate) fn to_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}
