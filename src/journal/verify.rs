//! [`verify`]: the full check behind `cockpit journal verify` — every record's chain link, hash and
//! columns, `SQLite`'s integrity check, and the `HEAD` checkpoint. Read-only and lock-free: it runs beside a
//! cockpit that is writing (WAL), on one consistent snapshot. It reports the first break; it repairs nothing.

use std::path::{Path, PathBuf};

use super::chain::{self, Break, Problem, WalkError};
use super::schema::{open_reader, sql_error};
use super::{Appended, JournalError, db_path, head, head_path};

/// A journal that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
    /// The last record's seq (0 when empty).
    pub head_seq: u64,
    /// The last record's hash in hex (zeros when empty).
    pub head_hash: String,
    /// The seq in the `HEAD` checkpoint, if there is one (it matched the table).
    pub checkpoint: Option<u64>,
}

/// Why a journal did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// There is no journal database.
    #[error("no journal at {path}")]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The chain (or the `HEAD` checkpoint) is broken.
    #[error("journal {path} is BROKEN at {brk}")]
    Broken {
        /// The database file.
        path: PathBuf,
        /// The first break.
        brk: Break,
    },
    /// `SQLite`'s integrity check failed (a damaged page), though every record read back intact.
    #[error("journal {path} is DAMAGED{}: SQLite's integrity check says: {detail}",
        .seq.map(|s| format!(" at seq {s}")).unwrap_or_default())]
    Integrity {
        /// The database file.
        path: PathBuf,
        /// The row `SQLite` names, if it names one.
        seq: Option<u64>,
        /// `SQLite`'s report.
        detail: String,
    },
    /// The journal could not be read at all.
    #[error("cannot verify: {0}")]
    Unreadable(JournalError),
}

impl VerifyError {
    /// The first bad seq, when it is known.
    #[must_use]
    pub fn first_bad_seq(&self) -> Option<u64> {
        match self {
            VerifyError::Broken { brk, .. } => Some(brk.seq),
            VerifyError::Integrity { seq, .. } => *seq,
            VerifyError::Missing { .. } | VerifyError::Unreadable(_) => None,
        }
    }
}

/// Verifies the journal in `state_dir`; see the module docs.
pub fn verify(state_dir: &Path) -> Result<VerifyReport, VerifyError> {
    let path = db_path(state_dir);
    // HEAD first: it is written only after its records committed, so the snapshot below includes them.
    let head = head::read(&head_path(state_dir)).map_err(VerifyError::Unreadable)?;
    if !path.try_exists().unwrap_or(false) {
        return Err(match head.filter(|h| h.seq > 0) {
            Some(head) => VerifyError::Broken {
                path,
                brk: Break {
                    seq: 1,
                    problem: Problem::Truncated {
                        head: head.seq,
                        last: 0,
                    },
                },
            },
            None => VerifyError::Missing { path },
        });
    }
    if super::schema::is_uninitialised(&path) {
        // Killed while creating the journal: nothing was committed. Unless HEAD says otherwise.
        if let Some(head) = head.filter(|h| h.seq > 0) {
            return Err(VerifyError::Broken {
                path,
                brk: Break {
                    seq: 1,
                    problem: Problem::Truncated {
                        head: head.seq,
                        last: 0,
                    },
                },
            });
        }
        return Ok(VerifyReport {
            records: 0,
            head_seq: 0,
            head_hash: Appended::GENESIS.hash_hex(),
            checkpoint: None,
        });
    }
    let conn = open_reader(&path).map_err(|e| damaged(&path, e))?;
    let snapshot = conn
        .unchecked_transaction()
        .map_err(|e| damaged(&path, sql_error(&path, "begin a read", &e)))?;
    let broken = |brk| VerifyError::Broken {
        path: path.clone(),
        brk,
    };
    let walked = match chain::walk(&snapshot, Appended::GENESIS, head.map(|h| h.seq)) {
        Ok(walked) => walked,
        Err(WalkError::Break(brk)) => return Err(broken(brk)),
        Err(WalkError::Sql(e)) => return Err(damaged(&path, sql_error(&path, "read records", &e))),
    };
    integrity(&snapshot, &path)?;
    if let Some(head) = head
        && let Some(brk) = chain::head_break(head, walked.tip.seq, None, walked.captured)
    {
        return Err(broken(brk));
    }
    Ok(VerifyReport {
        records: walked.records,
        head_seq: walked.tip.seq,
        head_hash: walked.tip.hash_hex(),
        checkpoint: head.map(|h| h.seq),
    })
}

fn damaged(path: &Path, e: JournalError) -> VerifyError {
    match e {
        JournalError::Corrupt { message, .. } => VerifyError::Integrity {
            path: path.to_path_buf(),
            seq: None,
            detail: message,
        },
        other => VerifyError::Unreadable(other),
    }
}

/// Runs `PRAGMA integrity_check`, naming the first row it complains about when it names one.
fn integrity(conn: &rusqlite::Connection, path: &Path) -> Result<(), VerifyError> {
    let mut lines = Vec::new();
    let result = conn.pragma_query(None, "integrity_check", |row| {
        lines.push(row.get::<_, String>(0)?);
        Ok(())
    });
    if let Err(e) = result {
        return Err(damaged(path, sql_error(path, "run the integrity check", &e)));
    }
    if lines.len() == 1 && lines[0] == "ok" {
        return Ok(());
    }
    Err(VerifyError::Integrity {
        path: path.to_path_buf(),
        seq: lines.iter().find_map(|line| row_named(line)),
        detail: lines.join("; "),
    })
}

/// The rowid (our seq) in an integrity-check line such as `row 57 missing from index records_at`.
fn row_named(line: &str) -> Option<u64> {
    let (_, after) = line.split_once("row ")?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_lines_name_their_row() {
        assert_eq!(row_named("row 57 missing from index records_at"), Some(57));
        assert_eq!(row_named("wrong # of entries in index records_at"), None);
        assert_eq!(row_named("Tree 2 page 3: rowid 9 out of order"), None);
    }
}
