//! What goes into the core (`Msg`) and what comes out (`Effect`). Plain data: the shell turns effects into
//! journal writes and broker commands and feeds their outcomes back as messages.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::domain::{
    AccountId, AlertId, DataStatus, Instrument, OrderEvent, OrderId, OrderStatus, OrderTicket, ProposalId,
    Quote,
};
use crate::policy::{Cleared, Evidence};

/// Who stages or withdraws an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The trader at the keyboard.
    Trader,
    /// An agent, known by the uid of its socket peer.
    Agent {
        /// The OS uid.
        uid: u32,
    },
}

/// The broker connection as the adapter sees it, for the screen and the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// The first connect is under way.
    Connecting,
    /// Connected; reconciliation has not started.
    Connected,
    /// The socket is gone; `ibapi` is reconnecting on its own.
    SocketLost,
    /// TWS / IB Gateway lost its own connection to IB (error 1100).
    ConnectivityLost,
    /// Waiting to try again.
    Reconnecting {
        /// Which attempt comes next (1 is the first retry).
        attempt: u32,
        /// Seconds until it.
        next_try_secs: u64,
    },
    /// Comparing the broker's orders, executions and positions with the journal.
    Reconciling,
    /// Connected and reconciled.
    Ready,
    /// Gave up; the trader can ask for a retry.
    Failed {
        /// Why.
        why: String,
    },
}

impl std::fmt::Display for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connecting => f.write_str("connecting"),
            Self::Connected => f.write_str("connected"),
            Self::SocketLost => f.write_str("socket lost"),
            Self::ConnectivityLost => f.write_str("IB connectivity lost (1100)"),
            Self::Reconnecting {
                attempt,
                next_try_secs,
            } => write!(
                f,
                "reconnecting (attempt {attempt}, next try in {next_try_secs} s)"
            ),
            Self::Reconciling => f.write_str("reconciling"),
            Self::Ready => f.write_str("ready"),
            Self::Failed { why } => write!(f, "failed: {why}"),
        }
    }
}

/// One position of a broker snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerPosition {
    /// Signed quantity.
    pub quantity: Decimal,
    /// IB's average cost per share (commissions included); `None` when IB sends none.
    pub average_cost: Option<Decimal>,
}

/// Something the broker adapter observed.
#[derive(Debug, Clone, PartialEq)]
pub enum BrokerEvent {
    /// Connected; IB announced its next valid order id.
    Connected {
        /// IB's `nextValidId`.
        next_valid_id: i32,
    },
    /// The connection is gone.
    Disconnected,
    /// A dry-run profile: the adapter recorded this order instead of sending it.
    DryRun {
        /// The order id its intent used.
        order_id: OrderId,
        /// What would have gone, e.g. `BUY 10 AAPL LMT 187.12 DAY`.
        summary: String,
    },
    /// The connection's state changed (what the header shows).
    Connection(Connection),
    /// An order at the broker that no journaled intent of this cockpit accounts for (no cockpit
    /// `orderRef`, another client, typed into TWS, or a mismatched order).
    ExternalOrder {
        /// IB's order id.
        order_id: i32,
        /// The API client that placed it (0 for TWS itself).
        client_id: i32,
        /// Its `orderRef`, if any.
        order_ref: String,
        /// What it is, e.g. `BUY 100 AAPL LMT 180`.
        summary: String,
    },
    /// Open orders, executions and positions agree with local state again.
    Reconciled,
    /// The order-update (or execution) stream ended: fills and statuses may be missed until it is back and
    /// reconciled.
    OrderStreamEnded {
        /// Why.
        why: String,
    },
    /// A reconciliation found a difference.
    Mismatch {
        /// What differs.
        detail: String,
    },
    /// A new top of book.
    Quote {
        /// The instrument.
        instrument: Instrument,
        /// The quote.
        quote: Quote,
    },
    /// An instrument's market data changed source or stopped.
    MarketData {
        /// The instrument.
        instrument: Instrument,
        /// Where its quotes come from now.
        status: DataStatus,
    },
    /// One account value as IB's account summary reports it (`NetLiquidation`, `Cushion`, …).
    AccountValue {
        /// The account.
        account: AccountId,
        /// IB's tag.
        tag: String,
        /// The value.
        value: Decimal,
    },
    /// A position as the broker's position stream reports it. It moves the average cost the screen shows;
    /// the quantity the policy reads is the cockpit's own, moved by the fills it applies and compared with
    /// the broker's at every reconciliation ([`BrokerEvent::PositionCheck`]).
    Position {
        /// The account.
        account: AccountId,
        /// The instrument.
        instrument: Instrument,
        /// Signed quantity.
        quantity: Decimal,
        /// IB's average cost per share (commissions included); `None` when IB sends none.
        average_cost: Option<Decimal>,
    },
    /// The broker's positions at a reconciliation: a complete snapshot (read to IB's end marker), taken
    /// after the reconciliation's executions were handed over, for the core to compare with its own.
    PositionCheck {
        /// Every position of the snapshot, accounts outside the allowlist included (the core ignores them).
        positions: BTreeMap<(AccountId, Instrument), BrokerPosition>,
    },
    /// An order's status changed.
    OrderStatus {
        /// The order.
        order_id: OrderId,
        /// What happened.
        event: OrderEvent,
    },
    /// An execution (idempotent by `exec_id`).
    Execution {
        /// The order.
        order_id: OrderId,
        /// IB's execution id.
        exec_id: String,
        /// Shares filled in this execution (> 0).
        quantity: Decimal,
        /// Fill price.
        price: Decimal,
        /// Found by a reconciliation rather than streamed (journaled as such; it counts the same: once
        /// per exec id, in the order's fill and in the cockpit's position).
        replay: bool,
    },
    /// The gateway's status of one of this cockpit's orders, found by a reconciliation by its `orderRef`
    /// (completed orders carry no order id).
    StatusFound {
        /// The order's `orderRef`.
        order_ref: String,
        /// Its status at the gateway.
        status: OrderStatus,
    },
    /// A commission report for an execution (IB sends it after the execution).
    Commission {
        /// The execution it belongs to.
        exec_id: String,
        /// The commission charged.
        commission: Decimal,
        /// Its currency.
        currency: String,
        /// The realized P&L IB computed for the execution, if any.
        realized_pnl: Option<Decimal>,
    },
    /// What the broker knows of an order that was in doubt after a restart (intent durable, sending
    /// unknown), found by its `orderRef` in open orders, completed orders and executions.
    InDoubtResolved {
        /// The order id the intent used.
        order_id: OrderId,
        /// Its status at the broker; `None` when the broker has never seen it.
        status: Option<OrderStatus>,
    },
    /// An error IB reported, for an order or for the session.
    Error {
        /// The order, if the error is about one.
        order_id: Option<OrderId>,
        /// IB's code.
        code: i32,
        /// IB's text.
        text: String,
    },
}

/// An input to [`State::update`](super::State::update).
#[derive(Debug)]
pub enum Msg {
    /// Stage an order.
    Propose {
        /// Who stages it.
        source: Source,
        /// The order.
        ticket: OrderTicket,
        /// Why (an agent's rationale; free text, already sanitised by the gateway).
        note: String,
    },
    /// The agent that staged an order takes it back.
    Withdraw {
        /// Who asks.
        source: Source,
        /// The proposal.
        id: ProposalId,
    },
    /// The trader approves the focused order with this evidence.
    Approve {
        /// The proposal.
        id: ProposalId,
        /// Confirm or typed read-back, bound to the fingerprint shown.
        evidence: Evidence,
    },
    /// The trader rejects an order.
    Reject {
        /// The proposal.
        id: ProposalId,
        /// Why.
        reason: String,
    },
    /// The trader edits an order within limits: a new version, checked and approved afresh.
    Edit {
        /// The proposal.
        id: ProposalId,
        /// The edited order.
        ticket: OrderTicket,
    },
    /// The journal committed (with its full sync) the intent of this proposal.
    IntentCommitted {
        /// The proposal.
        id: ProposalId,
    },
    /// The shell could not hand this proposal's order to the broker (its preceding records failed).
    PlaceDropped {
        /// The proposal.
        id: ProposalId,
        /// Why.
        reason: String,
    },
    /// A journal write or sync failed.
    JournalFailed {
        /// What failed.
        error: String,
    },
    /// The broker adapter observed something.
    Broker(BrokerEvent),
    /// Time passed (expiry, day rollover).
    Tick,
    /// Halt trading and cancel the cockpit's working orders.
    KillSwitch,
    /// IB's global cancel: every open order of the account, the trader's own orders entered elsewhere
    /// included; halts like the kill switch. Needs [`GLOBAL_CANCEL_READ_BACK`] typed.
    GlobalCancel {
        /// What the trader typed.
        typed: String,
    },
    /// Step the trading state back up: `None` for a confirm, `Some(text)` for typed text.
    Resume {
        /// What was typed, if anything.
        typed: Option<String>,
    },
    /// Cancel every working order the cockpit placed, without halting (the trader chose to cancel them
    /// before a profile switch).
    CancelWorking {
        /// Why.
        why: String,
    },
    /// Void every pending staged order (a profile switch: orders staged for one account and gateway are
    /// never carried to another).
    Void {
        /// Why.
        reason: String,
    },
    /// Something the trader did on the screen that changes nothing but must be journaled: keys discarded
    /// because the focus or a dialog changed under them, an approval refused because the quote moved, a
    /// profile switch.
    Screen {
        /// What (`key_discarded`, `approval_stale`, `switch_profile`, …).
        action: &'static str,
        /// The particulars.
        detail: serde_json::Value,
    },
    /// An agent's doing (through the agent gateway).
    Agent(super::agents::AgentMsg),
    /// The trader acknowledged an alert.
    AcknowledgeAlert {
        /// The alert.
        id: AlertId,
    },
}

/// What the trader types to confirm IB's global cancel.
pub const GLOBAL_CANCEL_READ_BACK: &str = "CANCEL ALL";

/// A record for the journal: the shell adds time, profile, gateway, account and client id.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalRecord {
    /// The kind (`verdict`, `human_action`, `intent`, `broker_event`, `trading_state`, …).
    pub kind: &'static str,
    /// The payload.
    pub data: serde_json::Value,
    /// Whether it must be committed with a full sync before anything depending on it happens.
    pub sync: bool,
}

/// An order to send: only built from a [`Cleared`], after its intent is durable.
#[derive(Debug)]
pub struct PlaceOrder {
    /// The proposal it came from.
    pub proposal: ProposalId,
    /// The approved order.
    pub cleared: Cleared,
    /// The order id (above every id used before).
    pub order_id: OrderId,
    /// The unique `orderRef`: proposal, version and intent sequence.
    pub order_ref: String,
    /// The trading-state epoch it was approved under; the broker drops it if the epoch has moved.
    pub epoch: u64,
    /// The broker drops it after this time.
    pub deadline: DateTime<Utc>,
}

/// An output of [`State::update`](super::State::update), carried out by the shell in order.
#[derive(Debug)]
pub enum Effect {
    /// Write a journal record.
    Journal(JournalRecord),
    /// Send an order.
    Place(Box<PlaceOrder>),
    /// Cancel one order.
    Cancel {
        /// The order.
        order_id: OrderId,
    },
    /// IB's global cancel.
    GlobalCancel,
    /// Check the broker's positions again soon (a few seconds): a position differed at the last check,
    /// or a baseline was just taken, and one check proves nothing while a fill may be in flight.
    CheckPositions,
}
