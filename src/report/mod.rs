//! `cockpit report`: the daily activity report — one exchange-time day of the journal summarised as
//! proposals, orders, fills, broker outcomes, alerts, disconnects, agent tool calls, trading-state changes
//! and human actions. It only reads: the journal is opened read-only (safe beside a running cockpit), and
//! nothing here judges, repairs or re-verifies what was recorded (`cockpit journal verify` does that).
//!
//! Layout:
//! - `day`: [`Day`], the exchange-time day (timezone from the `start` records; DST-safe UTC bounds).
//! - `payload`: the typed reading of each record kind's payload (the contract in [`crate::journal::kinds`]).
//! - `build`: [`build`], the pure aggregation of a day's records into a [`Report`].
//! - `load`: [`load`], the I/O: which records, read through [`crate::journal::Reader`].
//! - `render`: [`render`] in a [`Format`]; `markdown`, `csv`: those formats; `text`: making journal text inert.
//!
//! Amounts are `rust_decimal` throughout, never `f64`. Text from the journal (agent names, reasons, alert
//! text) is made inert before it reaches the model: control and format characters other than newline and
//! tab are written as `\u{…}` escapes.

mod build;
mod csv;
mod day;
mod load;
mod markdown;
mod payload;
mod render;
pub mod text;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::journal::Record;

pub use build::build;
pub use csv::{csv_field, csv_rows};
pub use day::{Day, Zone, local_midnight};
pub use load::{ReportError, load};
pub use render::{Format, render};

/// The requester shown for a proposal whose `verdict` cannot be found anywhere in the journal before the
/// record that names it.
pub const EARLIER: &str = "(earlier)";

/// What [`build`] needs besides the day's records: the day and facts from the rest of the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// The day reported on.
    pub day: Day,
    /// The state dir, as given.
    pub state_dir: String,
    /// The journal's last record (its head) when the records were read.
    pub head: Option<Head>,
    /// When the cockpit was last recorded as disconnected, if it still was at the start of the day (the last
    /// `connected`/`disconnected` event before the day was a `disconnected`).
    pub disconnected_since: Option<DateTime<Utc>>,
    /// Records from before the day that the day's records refer to, in seq order: the `verdict`s of the
    /// proposals it names and the `intent`s of the orders it names. They only attribute (a requester, a
    /// ticket) and tell which proposals were first staged before the day; nothing in them is counted.
    pub before: Vec<Record>,
}

/// The journal's last record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    /// Its seq.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Its chain hash, lowercase hex.
    pub hash: String,
}

/// The daily report; the JSON format is this struct as serde writes it (stable field names).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Which day, which journal, what was seen.
    pub header: Header,
    /// Proposals by requester.
    pub proposals: Proposals,
    /// Orders sent, not sent, and resolved after a restart.
    pub orders: Orders,
    /// Executions per order.
    pub fills: Fills,
    /// Broker rejects, order errors and cancels.
    pub broker: BrokerOutcomes,
    /// Alerts raised and acknowledged.
    pub alerts: Alerts,
    /// Time without the broker.
    pub disconnects: Disconnects,
    /// Agent tool calls by agent, tool and outcome.
    pub tool_calls: Vec<ToolCalls>,
    /// Trading-state changes, in order.
    pub trading_state: Vec<TradingStateChange>,
    /// The trader's other actions.
    pub human_actions: HumanActions,
    /// Records of a known kind whose payload could not be read.
    pub unreadable: Vec<Unreadable>,
}

/// Which day, which journal, what was seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    /// The exchange-time date.
    pub date: NaiveDate,
    /// The IANA timezone of the exchange day (`UTC` when none is recorded).
    pub timezone: String,
    /// Where the timezone came from.
    pub timezone_source: String,
    /// Local midnight, in UTC.
    pub from: DateTime<Utc>,
    /// The next local midnight, in UTC (exclusive).
    pub to: DateTime<Utc>,
    /// The day's length in hours (23 or 25 on DST changes).
    pub hours: Decimal,
    /// The state dir read.
    pub state_dir: String,
    /// Profiles seen in the day's records.
    pub profiles: Vec<String>,
    /// Accounts seen in the day's records.
    pub accounts: Vec<String>,
    /// How many records the day holds.
    pub records: u64,
    /// The day's first seq.
    pub first_seq: Option<u64>,
    /// The day's last seq.
    pub last_seq: Option<u64>,
    /// The journal's head when read.
    pub journal_head: Option<Head>,
}

/// Proposals by requester.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Proposals {
    /// One row per requester (agent name, `trader`, or [`EARLIER`]), by name. Proposal ids are unique in a
    /// journal (they continue across restarts), so an action on a proposal staged before a restart or on an
    /// earlier day is counted for the requester of its verdict.
    pub by_requester: Vec<RequesterProposals>,
    /// `proposal_refused` records: proposals that never got an id, withdrawals of another's proposal.
    pub refused_unstaged: Vec<Refusal>,
}

/// One requester's proposals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequesterProposals {
    /// Agent name, `trader`, or [`EARLIER`].
    pub requester: String,
    /// Distinct proposals first staged in the day (a proposal staged on an earlier day and re-checked today
    /// is not counted again).
    pub staged: u64,
    /// Approvals carried out.
    pub approved: u64,
    /// Approvals by how (`automatic`, `confirm`, `typed`).
    pub approved_by: BTreeMap<String, u64>,
    /// Edits carried out.
    pub edited: u64,
    /// Rejections carried out.
    pub rejected: u64,
    /// Rejections by reason.
    pub rejected_reasons: BTreeMap<String, u64>,
    /// Withdrawn by their agent.
    pub withdrawn: u64,
    /// Expired unapproved.
    pub expired: u64,
    /// Distinct proposal versions the policy refused.
    pub refused_by_policy: u64,
    /// Refused proposal versions per rule code.
    pub refused_rules: BTreeMap<String, u64>,
}

/// A refusal recorded with its reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    /// The record's seq.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The proposal, when the refusal names one.
    pub proposal: Option<u64>,
    /// Why.
    pub reason: String,
}

/// Orders sent, not sent, and resolved after a restart.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Orders {
    /// `sent` records.
    pub sent: Vec<SentOrder>,
    /// `not_sent` records.
    pub not_sent: Vec<NotSent>,
    /// `not_sent` records per reason.
    pub not_sent_by_reason: BTreeMap<String, u64>,
    /// `in_doubt` resolutions.
    pub in_doubt: Vec<InDoubt>,
    /// In-doubt orders the broker had: they were sent before the restart.
    pub in_doubt_found: u64,
    /// In-doubt orders the broker had never seen: not sent, and never resent.
    pub in_doubt_not_found: u64,
}

/// An order handed to the broker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentOrder {
    /// The `sent` record's seq.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The broker order id.
    pub order_id: i64,
    /// The proposal.
    pub proposal: u64,
    /// Who proposed it.
    pub requester: String,
    /// The `orderRef`.
    pub order_ref: Option<String>,
    /// The ticket from its `intent` (absent when the intent is nowhere in the journal before it).
    pub ticket: Option<Ticket>,
    /// An agent's order sent without approval (below the threshold).
    pub agent_unapproved: bool,
    /// A dry-run profile recorded it instead of sending it to the broker.
    pub dry_run: bool,
}

/// What an order asked for, from its `intent`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ticket {
    /// `BUY`/`SELL`.
    pub side: String,
    /// Shares.
    pub quantity: Decimal,
    /// The ticker.
    pub symbol: String,
    /// `MKT`, `LMT`, `STP`, `STP LMT`.
    pub order_type: String,
    /// The limit price.
    pub limit_price: Option<Decimal>,
    /// The stop price.
    pub stop_price: Option<Decimal>,
    /// The account.
    pub account: String,
}

/// An order approved or intended but never handed to the broker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotSent {
    /// The record's seq.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The proposal.
    pub proposal: u64,
    /// Who proposed it.
    pub requester: String,
    /// Why.
    pub reason: String,
}

/// An intent from before a restart, resolved at the broker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InDoubt {
    /// The record's seq.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The proposal.
    pub proposal: u64,
    /// Who proposed it.
    pub requester: String,
    /// The broker order id.
    pub order_id: i64,
    /// The `orderRef`.
    pub order_ref: Option<String>,
    /// Whether the broker knew the order.
    pub found: bool,
    /// The status found.
    pub status: Option<String>,
}

/// Executions per order, and the day's totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Fills {
    /// One row per order with executions, in order of its first execution.
    pub orders: Vec<OrderFill>,
    /// All commissions of the day, per currency.
    pub commission_total: BTreeMap<String, Decimal>,
    /// All realized P&L of the day (commission reports that carry one), per currency.
    pub realized_pnl_total: BTreeMap<String, Decimal>,
    /// Commission reports whose execution is not in the day (their exec ids).
    pub unmatched_commissions: Vec<String>,
    /// Execution and commission reports seen again with an exec id already counted (ignored).
    pub duplicates_ignored: u64,
}

/// One order's executions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderFill {
    /// The broker order id.
    pub order_id: i64,
    /// The proposal.
    pub proposal: Option<u64>,
    /// The ticket from its `intent`, when in the journal.
    pub ticket: Option<Ticket>,
    /// How many executions.
    pub executions: u64,
    /// Shares filled.
    pub quantity: Decimal,
    /// Σ quantity × price, exact.
    pub notional: Decimal,
    /// Quantity-weighted average price: `notional / quantity`, rounded half away from zero to 8 places.
    pub average_price: Decimal,
    /// Commissions per currency.
    pub commission: BTreeMap<String, Decimal>,
    /// Realized P&L per currency (commission reports without one are skipped; empty when none had one).
    pub realized_pnl: BTreeMap<String, Decimal>,
}

/// Broker rejects, order errors and cancels.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BrokerOutcomes {
    /// Orders whose status became `Rejected` (each order once).
    pub rejected: Vec<OrderEnd>,
    /// Broker `error` records that name an order.
    pub order_errors: Vec<BrokerError>,
    /// Broker `error` records that name no order.
    pub other_errors: u64,
    /// Orders whose status became `Cancelled` (each order once).
    pub cancelled: Vec<OrderEnd>,
}

/// An order that ended at the broker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderEnd {
    /// The first such status record's seq.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The broker order id.
    pub order_id: i64,
    /// The proposal.
    pub proposal: Option<u64>,
}

/// A broker error about an order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrokerError {
    /// The record's seq.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The broker order id.
    pub order_id: i64,
    /// IB's error code.
    pub code: i64,
    /// IB's text.
    pub text: String,
}

/// Alerts raised and acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Alerts {
    /// Alerts raised, per severity.
    pub raised: BySeverity,
    /// Alert ids acknowledged (distinct, in order).
    pub acknowledged: Vec<u64>,
    /// The critical alerts.
    pub critical: Vec<CriticalAlert>,
}

/// Counts per alert severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BySeverity {
    /// `info`.
    pub info: u64,
    /// `warning`.
    pub warning: u64,
    /// `critical`.
    pub critical: u64,
    /// Any other severity.
    pub other: u64,
}

impl BySeverity {
    /// All alerts.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.info + self.warning + self.critical + self.other
    }
}

/// A critical alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriticalAlert {
    /// The record's seq.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The alert id.
    pub id: u64,
    /// `system`, `broker` or `agent:NAME`.
    pub source: String,
    /// What it said.
    pub text: String,
    /// Whether the trader acknowledged it within the day.
    pub acknowledged: bool,
}

/// Time without the broker.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Disconnects {
    /// `disconnected` events in the day.
    pub count: u64,
    /// Total time disconnected within the day, in seconds (millisecond precision).
    pub total_seconds: Decimal,
    /// Each stretch without the broker.
    pub outages: Vec<Outage>,
}

/// A stretch without the broker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outage {
    /// When it began (the start of the day, for one carried over from the day before).
    pub from: DateTime<Utc>,
    /// When it ended, or up to when it is counted.
    pub to: DateTime<Utc>,
    /// Its length in seconds.
    pub seconds: Decimal,
    /// `connected` (ended by a `connected` event), `end of day`, or `last record` (still open: counted to
    /// the end of the day or the journal's last record, whichever is earlier).
    pub until: String,
    /// Whether it began before the day.
    pub carried_over: bool,
}

/// Tool calls of one agent, tool and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolCalls {
    /// The configured agent name (or `unknown`).
    pub agent: String,
    /// The tool.
    pub tool: String,
    /// `ok`, `refused`, `error`, `malformed`.
    pub outcome: String,
    /// How many.
    pub count: u64,
}

/// A trading-state change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TradingStateChange {
    /// The record's seq.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// `ACTIVE`, `REDUCING`, `HALTED`.
    pub level: String,
    /// The cause label, or `resume`.
    pub cause: String,
    /// Why, when recorded.
    pub why: Option<String>,
}

/// The trader's actions other than on proposals and alerts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HumanActions {
    /// Kill switches pressed.
    pub kill_switch: u64,
    /// Resumes carried out.
    pub resume: u64,
    /// Profile switches, in order.
    pub profile_switches: Vec<ProfileSwitch>,
    /// `discarded_keys` records.
    pub discarded_key_events: u64,
    /// Keys discarded in total.
    pub discarded_keys: u64,
    /// Discarded keys per reason.
    pub discarded_by_reason: BTreeMap<String, u64>,
    /// Actions refused (not carried out), per action.
    pub refused: BTreeMap<String, u64>,
}

/// A profile switch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileSwitch {
    /// The record's seq.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The old profile.
    pub from: String,
    /// The new profile.
    pub to: String,
}

/// A record of a known kind whose payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// Its seq.
    pub seq: u64,
    /// Its kind.
    pub kind: String,
    /// What is wrong.
    pub problem: String,
}
