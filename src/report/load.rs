//! [`load`]: the report's I/O — which records to read and from where. The journal is opened read-only (WAL),
//! so it works beside a running cockpit and takes no lock; everything else is [`super::build`]'s.
//!
//! Besides the day's records it pages through the journal twice: once for every `start` record and
//! connection event (the timezone, and whether the day began disconnected), and — when the day names
//! proposals or orders — once through the records before the day for their verdicts and intents.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::payload::snake;
use super::{Day, Head, Report, Scope, build};
use crate::journal::{self, JournalError, Reader, Record, kinds};

/// Records read per page while scanning the journal.
const PAGE: usize = 5_000;

/// Why no report could be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The state dir holds no journal.
    #[error(
        "no journal in {} ({} does not exist): start the cockpit first, or pass --state-dir",
        state_dir.display(),
        path.display()
    )]
    Missing {
        /// The state dir.
        state_dir: PathBuf,
        /// The journal file looked for.
        path: PathBuf,
    },
    /// The journal could not be read.
    #[error("cannot read the journal: {0}")]
    Read(#[from] JournalError),
}

/// The report for `date` (an exchange-time date; today at `now` in the exchange's timezone when `None`)
/// from the journal in `state_dir`.
pub fn load(state_dir: &Path, date: Option<NaiveDate>, now: DateTime<Utc>) -> Result<Report, ReportError> {
    let path = journal::db_path(state_dir);
    if matches!(path.try_exists(), Ok(false)) {
        return Err(ReportError::Missing {
            state_dir: state_dir.to_path_buf(),
            path,
        });
    }
    let reader = Reader::open(state_dir)?;
    let history = History::scan(&reader)?;
    let day = match date {
        Some(date) => Day::resolve(date, &history.starts),
        None => Day::today(now, &history.starts),
    };
    let disconnected_since = history
        .connection
        .iter()
        .rev()
        .find(|(at, _)| *at < day.from)
        .and_then(|&(at, connected)| (!connected).then_some(at));
    let records = reader.records_between(day.from, day.to)?;
    let before = referenced_before(&reader, &records)?;
    let head = reader.last_record()?.map(|r| Head {
        seq: r.seq,
        at: r.at,
        hash: journal::hex(&r.hash),
    });
    let scope = Scope {
        day,
        state_dir: state_dir.display().to_string(),
        head,
        disconnected_since,
        before,
    };
    Ok(build(&records, &scope))
}

/// What the report needs from outside the day: every `start` record (for the timezone) and every
/// connection event (was the cockpit disconnected when the day began?).
struct History {
    starts: Vec<Record>,
    /// (when, connected) in seq order.
    connection: Vec<(DateTime<Utc>, bool)>,
}

impl History {
    fn scan(reader: &Reader) -> Result<History, JournalError> {
        let mut history = History {
            starts: Vec::new(),
            connection: Vec::new(),
        };
        let mut from = 1;
        loop {
            let page = reader.records_page(from, PAGE)?;
            let Some(last) = page.last() else { break };
            from = last.seq + 1;
            let full = page.len() == PAGE;
            for record in page {
                match record.kind.as_str() {
                    kinds::START => history.starts.push(record),
                    kinds::BROKER_EVENT => {
                        let event = record.data.get("event").and_then(serde_json::Value::as_str);
                        match event.map(snake).as_deref() {
                            Some("connected") => history.connection.push((record.at, true)),
                            Some("disconnected") => history.connection.push((record.at, false)),
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            if !full {
                break;
            }
        }
        Ok(history)
    }
}

/// An order at a gateway.
type OrderKey = (String, i64);

fn proposal_of(record: &Record) -> Option<u64> {
    record.data.get("proposal").and_then(Value::as_u64)
}

fn order_of(record: &Record) -> Option<OrderKey> {
    let id = record.data.get("order_id").and_then(Value::as_i64)?;
    Some((record.envelope.gateway.clone(), id))
}

/// The records before `day` (seq below its first) that it refers to: the last `verdict` of every proposal it
/// names (its requester, and that it was staged before the day), and the `intent` of every order it names
/// whose intent is not in the day (its ticket). In seq order.
fn referenced_before(reader: &Reader, day: &[Record]) -> Result<Vec<Record>, JournalError> {
    let Some(first) = day.first().map(|r| r.seq) else {
        return Ok(Vec::new());
    };
    let proposals: HashSet<u64> = day.iter().filter_map(proposal_of).collect();
    let intended: HashSet<OrderKey> = day
        .iter()
        .filter(|r| r.kind == kinds::INTENT)
        .filter_map(order_of)
        .collect();
    let orders: HashSet<OrderKey> = day
        .iter()
        .filter_map(order_of)
        .filter(|k| !intended.contains(k))
        .collect();
    let mut verdicts: HashMap<u64, Record> = HashMap::new();
    let mut intents: HashMap<OrderKey, Record> = HashMap::new();
    let mut from = 1;
    while from < first && !(proposals.is_empty() && orders.is_empty()) {
        let page = reader.records_page(from, PAGE)?;
        let Some(last) = page.last() else { break };
        from = last.seq + 1;
        let full = page.len() == PAGE;
        for record in page.into_iter().take_while(|r| r.seq < first) {
            match record.kind.as_str() {
                kinds::VERDICT => {
                    if let Some(p) = proposal_of(&record).filter(|p| proposals.contains(p)) {
                        verdicts.insert(p, record);
                    }
                }
                kinds::INTENT => {
                    if let Some(k) = order_of(&record).filter(|k| orders.contains(k)) {
                        intents.insert(k, record);
                    }
                }
                _ => {}
            }
        }
        if !full {
            break;
        }
    }
    let mut before: Vec<Record> = verdicts.into_values().chain(intents.into_values()).collect();
    before.sort_by_key(|r| r.seq);
    Ok(before)
}
