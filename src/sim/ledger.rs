//! The simulator's ledger: every order, modification and cancel the gateway received, in arrival order —
//! the ground truth of what reached the market. Kept in memory and, optionally, appended to a JSON Lines file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Most entries kept in memory (the file keeps everything).
pub const MEMORY_LIMIT: usize = 1_000_000;

/// What kind of request an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A new order.
    Place,
    /// A `placeOrder` reusing the id of a working order.
    Modify,
    /// A cancel of one order.
    Cancel,
    /// A global cancel.
    GlobalCancel,
}

/// How the gateway answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Accepted.
    Accepted,
    /// Refused with an IB error.
    Refused {
        /// IB error code.
        code: i32,
        /// IB error text.
        message: String,
    },
}

/// One request received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    /// Position in the ledger, from 1.
    pub seq: u64,
    /// When it arrived.
    pub time: DateTime<Utc>,
    /// The sending connection's client id.
    pub client_id: i32,
    /// The request.
    pub kind: EntryKind,
    /// The order id it named (none for a global cancel).
    pub order_id: Option<i32>,
    /// IB's permanent id, when an order was accepted.
    pub perm_id: Option<i64>,
    /// The client's `orderRef`.
    pub order_ref: Option<String>,
    /// Account.
    pub account: Option<String>,
    /// Ticker.
    pub symbol: Option<String>,
    /// Contract id as resolved.
    pub con_id: Option<i32>,
    /// BUY/SELL.
    pub action: Option<String>,
    /// Quantity as sent.
    pub quantity: Option<String>,
    /// Order type.
    pub order_type: Option<String>,
    /// Limit price.
    pub limit_price: Option<f64>,
    /// Stop price.
    pub stop_price: Option<f64>,
    /// Time in force.
    pub tif: Option<String>,
    /// The answer.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The ledger.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: Vec<LedgerEntry>,
    file: Option<BufWriter<File>>,
    next_seq: u64,
}

impl Ledger {
    /// A ledger in memory, appending to `path` when given.
    pub fn open(path: Option<&Path>) -> std::io::Result<Self> {
        let file = match path {
            Some(p) => Some(BufWriter::new(File::options().create(true).append(true).open(p)?)),
            None => None,
        };
        Ok(Self {
            entries: Vec::new(),
            file,
            next_seq: 1,
        })
    }

    /// Records an entry (its `seq` is assigned here) and flushes it to the file.
    pub fn record(&mut self, mut entry: LedgerEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        if let Some(file) = &mut self.file {
            let written = serde_json::to_writer(&mut *file, &entry)
                .map_err(std::io::Error::other)
                .and_then(|()| file.write_all(b"\n"))
                .and_then(|()| file.flush());
            if let Err(e) = written {
                tracing::error!(error = %e, "sim ledger: cannot append to the ledger file");
            }
        }
        if self.entries.len() >= MEMORY_LIMIT {
            self.entries.remove(0);
        }
        self.entries.push(entry);
    }

    /// Every entry in memory, oldest first.
    #[must_use]
    pub fn entries(&self) -> &[LedgerEntry] {
        &self.entries
    }
}
