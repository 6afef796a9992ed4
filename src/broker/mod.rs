//! The broker adapter: the only code that talks to TWS / IB Gateway, over the `ibapi` 5.5 async client.
//!
//! It runs as one task. It connects (with a timeout: `ibapi`'s connect has none), checks the gateway's
//! managed accounts against the profile, takes IB's next valid order id, pins the contract id of every
//! allowlisted instrument, reconciles (open orders of every client, completed orders, executions, then a
//! snapshot of the positions) — resolving the intents left in doubt by a restart by their `orderRef` — and
//! only then says `Reconciled`; it reconciles again every minute, and a few seconds after the core asks
//! (a position differed once). It forwards the order-update stream (statuses, executions, commissions),
//! the position stream (for the average costs) and quotes as [`Msg`]s for the core — quotes of the
//! allowlisted instruments, and of every instrument an allowlisted account holds outside the allowlist
//! (the gross-exposure rule prices every holding; those are quoted, never routed) — sends the orders the
//! core hands it through [`BrokerHandle`] (the engine's [`BrokerPort`]), and watches the connection: a lost
//! socket or IB's 1100 is a disconnect, `ibapi`'s reconnect (notice −8) or IB's 1101/1102 starts a fresh
//! reconciliation.
//!
//! Layout: this file holds the adapter's settings, its handle and its state; `session` the connection and
//! the session's loop; `commands` what the engine asks of it; `reconcile` the reconciliation; `streams` the
//! forwarding of IB's streams. `f64` and IB's strings become `Decimal` and the cockpit's types in
//! [`convert`] and nowhere else.

mod commands;
pub mod convert;
mod reconcile;
mod session;
mod streams;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use ibapi::accounts::PositionUpdate;
use ibapi::contracts::Contract;
use ibapi::prelude::*;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::{BrokerEvent, BrokerPort, Connection, Msg, PlaceOrder};
use crate::config::Profile;
use crate::domain::{AccountId, Instrument, OrderId, OrderTicket};

/// How long a connect may take before it counts as failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Every `orderRef` the cockpit writes starts with this (`ck-p{proposal}-v{version}-i{intent}`).
pub const ORDER_REF_PREFIX: &str = "ck-";
/// How far back the gateway's executions and completed orders reach (the current trading day); an order
/// in doubt older than this is not written off for being absent.
const LOOKBACK: chrono::TimeDelta = chrono::TimeDelta::hours(20);
/// How long one reconciliation query may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the connection is looked at (`ibapi` has no state-change stream).
const WATCH_EVERY: Duration = Duration::from_millis(250);
/// Backoff between failed connects, in seconds; after the last the connection is `Failed` until the
/// trader asks for a retry.
const BACKOFF_SECS: [u64; 8] = [1, 2, 3, 5, 8, 13, 21, 30];
/// Client-to-gateway messages per second: IB allows 50.
const MESSAGES_PER_SECOND: u32 = 45;
/// Frames `ibapi` may hold per subscription route before it drops them (notice -6). `ibapi` preallocates
/// every slot of every route (market data, account, positions, queries), so this is paid per route:
/// 16,384 held about 50 MB under a 10k/s feed, 2,048 about 6 MB (BENCHMARKS.md, M8). What needs the room is
/// a reconciliation's executions query, answered at once with two frames per fill: ibapi's default 1,024
/// dropped frames past about 500 fills a day; 2,048 reconciles 1,000 fills (M14) without a loss. Past
/// that, a -6 leaves the reconciliation incomplete, which fails closed (a mismatch: stepped down, alerted).
const CHANNEL_CAPACITY: usize = 2_048;
/// How often a connected adapter reconciles again.
pub const RECONCILE_EVERY: Duration = Duration::from_mins(1);
/// How soon the core's request to check the positions again is carried out: long enough for a fill in
/// flight during the last check to have arrived (its execution, and IB's position that holds it).
pub const RECHECK_AFTER: Duration = Duration::from_secs(3);

/// Where and as whom to connect, and what to trade.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `host:port` of TWS / IB Gateway.
    pub address: String,
    /// The TWS API client id.
    pub client_id: i32,
    /// The profile's account allowlist.
    pub accounts: Vec<AccountId>,
    /// The instruments to resolve and quote (the symbol allowlist).
    pub instruments: Vec<Instrument>,
    /// Waits between failed connects; after the last the connection is `Failed` until a retry.
    pub backoff: Vec<Duration>,
    /// A dry-run profile: orders are recorded, never sent (market data and account are real).
    pub dry_run: bool,
    /// How often a connected adapter reconciles again.
    pub reconcile_every: Duration,
    /// How soon a position check the core asks for again is made.
    pub recheck_after: Duration,
}

impl Settings {
    /// The settings of `profile`.
    #[must_use]
    pub fn of(profile: &Profile) -> Settings {
        Settings {
            address: format!("{}:{}", profile.host, profile.port),
            client_id: profile.client_id,
            accounts: profile.accounts.clone(),
            instruments: profile.policy.symbols.clone(),
            backoff: BACKOFF_SECS.iter().map(|&s| Duration::from_secs(s)).collect(),
            dry_run: profile.mode == crate::config::Mode::DryRun,
            reconcile_every: RECONCILE_EVERY,
            recheck_after: RECHECK_AFTER,
        }
    }
}

/// What the engine asks of the adapter.
#[derive(Debug)]
enum Command {
    Place(Box<PlaceOrder>),
    Cancel(OrderId),
    Resolve(Vec<InDoubt>),
    Retry,
    GlobalCancel,
    CheckPositions,
}

/// An order in doubt since a restart: its intent is durable, whether it reached the gateway is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InDoubt {
    /// The order id its intent used.
    pub order_id: OrderId,
    /// Its `orderRef`.
    pub order_ref: String,
    /// What was approved: an order found at the gateway is adopted only if it is this order.
    pub ticket: OrderTicket,
    /// When it was staged (its intent came after): an order older than the gateway's lookback cannot
    /// be written off by not being found.
    pub staged_at: chrono::DateTime<Utc>,
}

impl InDoubt {
    /// Every order in doubt in `state`.
    #[must_use]
    pub fn all(state: &crate::app::State) -> Vec<InDoubt> {
        state
            .in_doubt()
            .iter()
            .filter_map(|p| {
                Some(InDoubt {
                    order_id: p.order_id?,
                    order_ref: p.order_ref.clone()?,
                    ticket: p.ticket.clone(),
                    staged_at: p.staged_at,
                })
            })
            .collect()
    }
}

/// The engine's side of the adapter: a [`BrokerPort`] that queues commands for the adapter's task, so
/// neither a send nor a cancel ever waits on the network.
#[derive(Debug, Clone)]
pub struct BrokerHandle {
    tx: mpsc::UnboundedSender<Command>,
    epoch: Arc<AtomicU64>,
}

impl BrokerHandle {
    /// Hands over the orders in doubt since the restart: the adapter resolves each at its next
    /// reconciliation, by `orderRef`, adopting an order only if client id, order id and the order itself
    /// match.
    pub fn resolve(&self, in_doubt: Vec<InDoubt>) {
        let _ = self.tx.send(Command::Resolve(in_doubt));
    }

    /// The trader's retry after the connection failed for good.
    pub fn retry(&self) {
        let _ = self.tx.send(Command::Retry);
    }
}

impl BrokerPort for BrokerHandle {
    fn place(&mut self, order: PlaceOrder) {
        let _ = self.tx.send(Command::Place(Box::new(order)));
    }
    fn cancel(&mut self, order_id: OrderId) {
        let _ = self.tx.send(Command::Cancel(order_id));
    }
    fn global_cancel(&mut self) {
        let _ = self.tx.send(Command::GlobalCancel);
    }
    fn check_positions(&mut self) {
        let _ = self.tx.send(Command::CheckPositions);
    }
    fn trading_epoch(&mut self, epoch: u64) {
        self.epoch.store(epoch, Ordering::SeqCst);
    }
}

/// Starts the adapter; it runs until `cancel`. Everything it observes arrives on `events`.
#[must_use]
pub fn spawn(
    settings: Settings,
    events: mpsc::Sender<Msg>,
    cancel: CancellationToken,
) -> (BrokerHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let epoch = Arc::new(AtomicU64::new(0));
    let adapter = Adapter {
        epoch: Arc::clone(&epoch),
        settings,
        events,
        commands: rx,
        cancel,
        contracts: BTreeMap::new(),
        held: BTreeMap::new(),
        held_unsubscribed: std::collections::BTreeSet::new(),
        in_doubt: Vec::new(),
        queued_cancels: Vec::new(),
        queued_global_cancel: false,
        unacked: BTreeMap::new(),
        beyond_lookback: std::collections::BTreeSet::new(),
        positions: None,
        recheck: None,
    };
    (BrokerHandle { tx, epoch }, tokio::spawn(adapter.run()))
}

struct Adapter {
    /// The trading state's epoch as the engine last told it.
    epoch: Arc<AtomicU64>,
    settings: Settings,
    events: mpsc::Sender<Msg>,
    commands: mpsc::UnboundedReceiver<Command>,
    cancel: CancellationToken,
    /// Resolved contracts with their pinned ids, by instrument: the allowlist, the only contracts an order
    /// can be sent for.
    contracts: BTreeMap<Instrument, Contract>,
    /// Instruments held in an allowlisted account outside the allowlist, found in the position rows, with
    /// the contract (the row's contract id) their quotes are asked for. The gross-exposure rule prices
    /// every holding of the ticket's account and refuses every order while one has no fresh quote, so
    /// these are quoted like the allowlist; kept apart from `contracts` so that the adapter never gains a
    /// contract to route an order for one. Kept for the adapter's life (a position closed today may be
    /// opened again), and subscribed again on every reconnect like the allowlist.
    held: BTreeMap<Instrument, Contract>,
    /// Instruments of `held` found since the last subscription, whose quotes are not yet asked for on this
    /// connection: the session subscribes them as soon as the step that found them is done.
    held_unsubscribed: std::collections::BTreeSet<Instrument>,
    /// Orders in doubt since the restart, not yet answered for.
    in_doubt: Vec<InDoubt>,
    /// Cancels asked for while disconnected, sent on reconnect.
    queued_cancels: Vec<OrderId>,
    /// A global cancel asked for while disconnected, sent on reconnect.
    queued_global_cancel: bool,
    /// Orders submitted this session that the gateway has not acknowledged (no status, no execution):
    /// each reconciliation finds them by `orderRef`, or says they never arrived.
    unacked: BTreeMap<i32, InDoubt>,
    /// Orders in doubt older than the lookback, already put to the trader.
    beyond_lookback: std::collections::BTreeSet<i32>,
    /// The position stream: the subscription of the latest reconciliation's snapshot, read on after its
    /// end marker (one subscription at a time, so that no snapshot is read from the middle of another's).
    positions: Option<Subscription<PositionUpdate>>,
    /// When the position check the core asked for is due (any reconciliation before then makes it).
    recheck: Option<tokio::time::Instant>,
}

/// Why a session ended.
enum End {
    Cancelled,
    Lost(String),
}

impl Adapter {
    async fn connection(&self, state: Connection) {
        self.send(Msg::Broker(BrokerEvent::Connection(state))).await;
    }

    async fn send(&self, msg: Msg) {
        let _ = self.events.send(msg).await;
    }
}
