//! [`Reader`]: read-only queries over the journal for recovery replay and reports, usable while the writer
//! runs (WAL). Every field comes from the hashed payload; the indexed columns only select rows. It does not
//! check the chain — [`super::verify`] does.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Params, Row};

use super::chain::to_i64;
use super::codec::{decode_data, decode_header};
use super::schema::{open_reader, sql_error};
use super::{Envelope, JournalError, Record, db_path};

const COLUMNS: &str = "SELECT seq, payload, prev_hash, hash FROM records";

/// A read-only connection to a journal.
#[derive(Debug)]
pub struct Reader {
    conn: Connection,
    path: PathBuf,
}

impl Reader {
    /// Opens the journal in `state_dir` read-only; it must exist.
    pub fn open(state_dir: &Path) -> Result<Reader, JournalError> {
        let path = db_path(state_dir);
        if !path.try_exists().unwrap_or(false) {
            return Err(JournalError::Io {
                path,
                op: "open the journal",
                message: "no journal there".to_owned(),
            });
        }
        let conn = open_reader(&path)?;
        Ok(Reader { conn, path })
    }

    /// Every record with seq ≥ `from_seq`, in seq order.
    pub fn records(&self, from_seq: u64) -> Result<Vec<Record>, JournalError> {
        self.query(
            &format!("{COLUMNS} WHERE seq >= ?1 ORDER BY seq"),
            [to_i64(from_seq)],
        )
    }

    /// At most `limit` records with seq ≥ `from_seq`, in seq order (for paging through a long journal).
    pub fn records_page(&self, from_seq: u64, limit: usize) -> Result<Vec<Record>, JournalError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.query(
            &format!("{COLUMNS} WHERE seq >= ?1 ORDER BY seq LIMIT ?2"),
            [to_i64(from_seq), limit],
        )
    }

    /// Every record with `from <= at < to`, in seq order.
    pub fn records_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Record>, JournalError> {
        // Stored times are `i64` nanoseconds; bounds beyond that range clamp or select nothing.
        let from = match nanos(from) {
            Bound::Before => i64::MIN,
            Bound::At(ns) => ns,
            Bound::After => return Ok(Vec::new()),
        };
        match nanos(to) {
            Bound::Before => Ok(Vec::new()),
            Bound::At(to) => self.query(
                &format!("{COLUMNS} WHERE at >= ?1 AND at < ?2 ORDER BY seq"),
                [from, to],
            ),
            Bound::After => self.query(&format!("{COLUMNS} WHERE at >= ?1 ORDER BY seq"), [from]),
        }
    }

    /// The last record, if any.
    pub fn last_record(&self) -> Result<Option<Record>, JournalError> {
        Ok(self
            .query(&format!("{COLUMNS} ORDER BY seq DESC LIMIT 1"), [])?
            .pop())
    }

    fn query(&self, sql: &str, params: impl Params) -> Result<Vec<Record>, JournalError> {
        let err = |e: rusqlite::Error| sql_error(&self.path, "read records", &e);
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let mut rows = stmt.query(params).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            out.push(self.record(row)?);
        }
        Ok(out)
    }

    fn record(&self, row: &Row<'_>) -> Result<Record, JournalError> {
        let err = |e: rusqlite::Error| sql_error(&self.path, "read a record", &e);
        let seq: i64 = row.get(0).map_err(err)?;
        let bad = |message: String| JournalError::Corrupt {
            path: self.path.clone(),
            op: "decode a record",
            message: format!("seq {seq}: {message}"),
        };
        let payload = row
            .get_ref(1)
            .map_err(err)?
            .as_blob()
            .map_err(|e| bad(e.to_string()))?;
        let header = decode_header(payload).map_err(bad)?;
        if i64::try_from(header.seq).ok() != Some(seq) {
            return Err(bad(format!("the payload says seq {}", header.seq)));
        }
        let data = decode_data(header.data).map_err(bad)?;
        let hash32 = |i: usize| -> Result<[u8; 32], JournalError> {
            let blob = row
                .get_ref(i)
                .map_err(err)?
                .as_blob()
                .map_err(|e| bad(e.to_string()))?;
            blob.try_into()
                .map_err(|_| bad(format!("a hash of {} bytes", blob.len())))
        };
        Ok(Record {
            seq: header.seq,
            at: DateTime::from_timestamp_nanos(header.at_ns),
            envelope: Envelope {
                profile: header.profile.to_owned(),
                gateway: header.gateway.to_owned(),
                account: header.account.to_owned(),
                client_id: header.client_id,
            },
            kind: header.kind.to_owned(),
            data,
            prev_hash: hash32(2)?,
            hash: hash32(3)?,
        })
    }
}

/// Where a time falls against the `i64` nanosecond range of stored times.
enum Bound {
    Before,
    At(i64),
    After,
}

fn nanos(t: DateTime<Utc>) -> Bound {
    match t.timestamp_nanos_opt() {
        Some(ns) => Bound::At(ns),
        None if t.timestamp() < 0 => Bound::Before,
        None => Bound::After,
    }
}
