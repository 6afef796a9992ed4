//! The broker adapter: the only code that talks to TWS / IB Gateway, over the `ibapi` 5.5 async client.
//!
//! It runs as one task. It connects (with a timeout: `ibapi`'s connect has none), checks the gateway's
//! managed accounts against the profile, takes IB's next valid order id, pins the contract id of every
//! allowlisted instrument, reconciles (open orders of every client, completed orders, executions) —
//! resolving the intents left in doubt by a restart by their `orderRef` — and only then says
//! `Reconciled`. It forwards the order-update stream (statuses, executions, commissions), positions and
//! quotes as [`Msg`]s for the core, sends the orders the core hands it through [`BrokerHandle`] (the
//! engine's [`BrokerPort`]), and watches the connection: a lost socket or IB's 1100 is a disconnect,
//! `ibapi`'s reconnect (notice −8) or IB's 1101/1102 starts a fresh reconciliation.
//!
//! `f64` and IB's strings become `Decimal` and the cockpit's types in [`convert`] and nowhere else.

pub mod convert;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use ibapi::RateLimiter;
use ibapi::contracts::Contract;
use ibapi::contracts::tick_types::TickType;
use ibapi::orders::{ExecutionFilter, Executions, OrderUpdate, Orders};
use ibapi::prelude::*;
use rust_decimal::Decimal;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::{BrokerEvent, BrokerPort, Connection, Msg, PlaceOrder};
use crate::config::Profile;
use crate::domain::{
    AccountId, DataStatus, Instrument, OrderId, OrderStatus, OrderTicket, Price, Quote, Side,
};

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
/// Frames `ibapi` may hold per subscription route before it drops them (notice -6).
const CHANNEL_CAPACITY: usize = 16_384;
/// How often a connected adapter reconciles again.
const RECONCILE_EVERY: Duration = Duration::from_mins(1);

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

/// One row of the gateway's orders or executions, as far as adopting an order in doubt needs it.
#[derive(Debug)]
struct Seen {
    client_id: i32,
    /// 0 or less when the gateway does not say (TWS omits it on completed orders; `ibapi` reads -1).
    order_id: i32,
    symbol: String,
    side: Side,
    /// The size ordered; `None` where the gateway does not say it (executions, completed orders).
    quantity: Option<f64>,
    status: OrderStatus,
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
        in_doubt: Vec::new(),
        queued_cancels: Vec::new(),
        queued_global_cancel: false,
        unacked: BTreeMap::new(),
        beyond_lookback: std::collections::BTreeSet::new(),
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
    /// Resolved contracts with their pinned ids, by instrument.
    contracts: BTreeMap<Instrument, Contract>,
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
}

/// Why a session ended.
enum End {
    Cancelled,
    Lost(String),
}

impl Adapter {
    async fn run(mut self) {
        let mut attempt = 0_u32;
        self.connection(Connection::Connecting).await;
        loop {
            let connect = Client::builder()
                .address(self.settings.address.clone())
                .client_id(self.settings.client_id)
                .rate_limiter(RateLimiter::per_second(MESSAGES_PER_SECOND))
                // A reconciliation's executions query answers with two frames per fill; the default
                // 1,024-frame route drops frames (-6) past about 500 fills a day.
                .channel_capacity(CHANNEL_CAPACITY)
                .connect();
            let connected = tokio::select! {
                () = self.cancel.cancelled() => return,
                c = tokio::time::timeout(CONNECT_TIMEOUT, connect) => c,
            };
            let why = match connected {
                Ok(Ok(client)) => {
                    attempt = 0;
                    let client = Arc::new(client);
                    let end = self.session(&client).await;
                    client.disconnect().await;
                    match end {
                        End::Cancelled => return,
                        End::Lost(why) => why,
                    }
                }
                Ok(Err(e)) => format!("cannot connect to {}: {e}", self.settings.address),
                Err(_) => format!(
                    "no answer from {} within {} s",
                    self.settings.address,
                    CONNECT_TIMEOUT.as_secs()
                ),
            };
            tracing::warn!(%why, "broker connection down");
            self.send(Msg::Broker(BrokerEvent::Disconnected)).await;
            attempt += 1;
            let wait = if let Some(&wait) = self.settings.backoff.get(attempt as usize - 1) {
                self.connection(Connection::Reconnecting {
                    attempt,
                    next_try_secs: wait.as_secs(),
                })
                .await;
                Some(wait)
            } else {
                // Given up: only the trader's retry (or the end) moves on.
                self.connection(Connection::Failed { why }).await;
                None
            };
            if !self.wait(wait).await {
                return;
            }
            if wait.is_none() {
                attempt = 0;
            }
        }
    }

    /// Waits `wait` (or, for `None`, for a retry), handling commands meanwhile: orders cannot go (the gate
    /// is shut), cancels queue. Returns `false` when cancelled.
    async fn wait(&mut self, wait: Option<Duration>) -> bool {
        let sleep = tokio::time::sleep(wait.unwrap_or(Duration::MAX / 4));
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => return false,
                () = &mut sleep, if wait.is_some() => return true,
                Some(cmd) = self.commands.recv() => {
                    if matches!(cmd, Command::Retry) {
                        self.connection(Connection::Connecting).await;
                        return true;
                    }
                    self.offline(cmd).await;
                }
            }
        }
    }

    async fn connection(&self, state: Connection) {
        self.send(Msg::Broker(BrokerEvent::Connection(state))).await;
    }

    async fn send(&self, msg: Msg) {
        let _ = self.events.send(msg).await;
    }

    /// A command while there is no connection.
    async fn offline(&mut self, cmd: Command) {
        match cmd {
            Command::Place(order) => {
                self.send(Msg::PlaceDropped {
                    id: order.proposal,
                    reason: "the broker is not connected".into(),
                })
                .await;
            }
            Command::Cancel(id) => self.queued_cancels.push(id),
            Command::GlobalCancel => self.queued_global_cancel = true,
            Command::Resolve(list) => self.in_doubt.extend(list),
            Command::Retry => {}
        }
    }

    /// One connected session: set-up, reconciliation, then the streams and commands until it ends.
    async fn session(&mut self, client: &Arc<Client>) -> End {
        if let Some(why) = self.check_accounts(client) {
            self.send(Msg::Broker(BrokerEvent::Mismatch { detail: why }))
                .await;
        }
        let next_valid_id = match client.next_valid_order_id().await {
            Ok(id) => id,
            Err(e) => return End::Lost(format!("next valid id: {e}")),
        };
        self.send(Msg::Broker(BrokerEvent::Connected { next_valid_id }))
            .await;
        self.resolve_contracts(client).await;
        let mut notices = match client.notice_stream() {
            Ok(n) => n,
            Err(e) => return End::Lost(format!("notice stream: {e}")),
        };
        let updates = match client.order_update_stream().await {
            Ok(u) => u,
            Err(e) => return End::Lost(format!("order update stream: {e}")),
        };
        let (feed_tx, mut feed) = mpsc::channel::<Msg>(1024);
        let mut order_task = tokio::spawn(forward_orders_and_positions(
            Arc::clone(client),
            updates,
            feed_tx.clone(),
        ));
        let mut data_tasks = self.subscribe(client, &feed_tx);
        self.reconcile(client).await;
        self.send_queued_cancels(client).await;
        let mut watch = tokio::time::interval(WATCH_EVERY);
        let mut periodic =
            tokio::time::interval_at(tokio::time::Instant::now() + RECONCILE_EVERY, RECONCILE_EVERY);
        let mut up = true;
        let end = loop {
            tokio::select! {
                () = self.cancel.cancelled() => break End::Cancelled,
                Some(msg) = feed.recv() => {
                    if let Msg::Broker(
                        BrokerEvent::OrderStatus { order_id, .. } | BrokerEvent::Execution { order_id, .. },
                    ) = &msg
                    {
                        self.unacked.remove(&order_id.get());
                    }
                    self.send(msg).await;
                }
                Some(cmd) = self.commands.recv() => self.command(client, cmd).await,
                notice = notices.next() => match notice {
                    None => break End::Lost("the connection gave up".into()),
                    Some(n) => match n.code {
                        1100 => {
                            self.send(Msg::Broker(BrokerEvent::Disconnected)).await;
                            self.connection(Connection::ConnectivityLost).await;
                        }
                        -8 | 1101 | 1102 => {
                            up = true;
                            self.back(client, n.code, &mut data_tasks, &feed_tx).await;
                        }
                        // A route fell behind and lost frames: what was missed is unknown, look again.
                        -6 => self.reconcile(client).await,
                        code => tracing::debug!(code, message = %n.message, "notice"),
                    },
                },
                _ = &mut order_task => {
                    // The order-update stream ended (a decode error ends it, with no gap marker): the
                    // core has stepped down; subscribe again and reconcile what was missed.
                    match client.order_update_stream().await {
                        Ok(updates) => {
                            order_task = tokio::spawn(forward_orders_and_positions(
                                Arc::clone(client),
                                updates,
                                feed_tx.clone(),
                            ));
                            self.reconcile(client).await;
                        }
                        Err(e) => break End::Lost(format!("order update stream: {e}")),
                    }
                }
                _ = watch.tick() => {
                    if up && !client.is_connected() {
                        up = false;
                        self.send(Msg::Broker(BrokerEvent::Disconnected)).await;
                        self.connection(Connection::SocketLost).await;
                    }
                }
                _ = periodic.tick(), if up => self.reconcile(client).await,
            }
        };
        order_task.abort();
        for task in data_tasks {
            task.abort();
        }
        end
    }

    /// Back after a drop (-8) or IB's own outage (1101 data lost, 1102 data kept): a fresh id, fresh
    /// market-data subscriptions unless IB kept them, a full reconciliation before anything risky, then
    /// the cancels that waited.
    async fn back(
        &mut self,
        client: &Arc<Client>,
        code: i32,
        data_tasks: &mut Vec<JoinHandle<()>>,
        feed: &mpsc::Sender<Msg>,
    ) {
        if let Ok(next_valid_id) = client.next_valid_order_id().await {
            self.send(Msg::Broker(BrokerEvent::Connected { next_valid_id }))
                .await;
            self.connection(Connection::Connected).await;
        }
        if code != 1102 {
            for task in data_tasks.drain(..) {
                task.abort();
            }
            *data_tasks = self.subscribe(client, feed);
        }
        self.reconcile(client).await;
        self.send_queued_cancels(client).await;
    }

    /// The cancels asked for while the connection was down.
    async fn send_queued_cancels(&mut self, client: &Client) {
        if std::mem::take(&mut self.queued_global_cancel) {
            let _ = client.global_cancel().await;
        }
        for id in std::mem::take(&mut self.queued_cancels) {
            let _ = client.cancel_order(id.get(), "").await;
        }
    }

    /// Every profile account must be managed by the gateway, and the gateway may manage no other.
    fn check_accounts(&self, client: &Client) -> Option<String> {
        let managed = client.handshake_managed_accounts();
        let missing: Vec<String> = self
            .settings
            .accounts
            .iter()
            .map(ToString::to_string)
            .filter(|a| !managed.contains(a))
            .collect();
        let foreign: Vec<&String> = managed
            .iter()
            .filter(|m| !self.settings.accounts.iter().any(|a| a.as_str() == m.as_str()))
            .collect();
        match (missing.is_empty(), foreign.is_empty()) {
            (true, true) => None,
            (false, _) => Some(format!(
                "the gateway does not manage {}: refusing to trade",
                missing.join(", ")
            )),
            (true, false) => Some(format!(
                "the gateway manages accounts outside the profile's allowlist ({}): refusing to trade",
                foreign.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Pins each allowlisted instrument's contract id; one IB cannot resolve stays unresolved, and
    /// orders for it are refused.
    async fn resolve_contracts(&mut self, client: &Client) {
        for instrument in &self.settings.instruments {
            let wanted = convert::contract(instrument, None);
            let found = tokio::time::timeout(QUERY_TIMEOUT, client.contract_details(&wanted)).await;
            match found {
                Ok(Ok(details)) => {
                    if let [one] = details.as_slice() {
                        let id = one.contract.contract_id;
                        self.contracts
                            .insert(instrument.clone(), convert::contract(instrument, Some(id)));
                    } else {
                        tracing::warn!(%instrument, matches = details.len(), "contract not resolved to one");
                    }
                }
                Ok(Err(e)) => tracing::warn!(%instrument, error = %e, "contract details failed"),
                Err(_) => tracing::warn!(%instrument, "contract details timed out"),
            }
        }
    }

    /// Subscribes positions and quotes; returns the forwarding tasks.
    fn subscribe(&self, client: &Arc<Client>, feed: &mpsc::Sender<Msg>) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![tokio::spawn(forward_account(Arc::clone(client), feed.clone()))];
        for (instrument, contract) in &self.contracts {
            tasks.push(tokio::spawn(forward_quotes(
                Arc::clone(client),
                instrument.clone(),
                contract.clone(),
                feed.clone(),
            )));
        }
        tasks
    }

    async fn command(&mut self, client: &Client, cmd: Command) {
        match cmd {
            Command::Place(order) => self.place(client, *order).await,
            Command::Cancel(id) => {
                if let Err(e) = client.cancel_order(id.get(), "").await {
                    tracing::warn!(order_id = id.get(), error = %e, "cancel failed; queued for the reconnect");
                    self.queued_cancels.push(id);
                }
            }
            Command::Resolve(list) => {
                if !list.is_empty() {
                    self.in_doubt.extend(list);
                    self.reconcile(client).await;
                }
            }
            Command::Retry => {}
            Command::GlobalCancel => {
                if let Err(e) = client.global_cancel().await {
                    tracing::warn!(error = %e, "global cancel failed; queued for the reconnect");
                    self.queued_global_cancel = true;
                }
            }
        }
    }

    /// Sends an approved order, unless its deadline passed or its instrument is unresolved.
    async fn place(&mut self, client: &Client, order: PlaceOrder) {
        let proposal = order.proposal;
        let drop_it = |reason: String| Msg::PlaceDropped { id: proposal, reason };
        if order.epoch != self.epoch.load(Ordering::SeqCst) {
            self.send(drop_it("the trading state changed before sending".into()))
                .await;
            return;
        }
        if Utc::now() > order.deadline {
            self.send(drop_it("its send deadline passed".into())).await;
            return;
        }
        let ticket = order.cleared.ticket();
        let Some(contract) = self.contracts.get(&ticket.instrument) else {
            let why = format!("{} is not resolved at the gateway", ticket.instrument);
            self.send(drop_it(why)).await;
            return;
        };
        let ib = convert::order(ticket, order.order_id.get(), &order.order_ref);
        if self.settings.dry_run {
            let summary = format!(
                "{} {} {} {}{} {}",
                ticket.side.as_ib(),
                ticket.quantity,
                ticket.instrument.symbol,
                ticket.order_type.as_ib(),
                ticket.limit_price.map(|p| format!(" {p}")).unwrap_or_default(),
                ticket.tif.as_ib()
            );
            self.send(Msg::Broker(BrokerEvent::DryRun {
                order_id: order.order_id,
                summary,
            }))
            .await;
            return;
        }
        // Until the gateway acknowledges it, the order is looked for at every reconciliation.
        self.unacked.insert(
            order.order_id.get(),
            InDoubt {
                order_id: order.order_id,
                order_ref: order.order_ref.clone(),
                ticket: ticket.clone(),
                staged_at: Utc::now(),
            },
        );
        let sent = client.submit_order(order.order_id.get(), contract, &ib).await;
        if sent.is_ok() {
            crate::app::failpoint("after_gateway_send");
        }
        if let Err(e) = sent {
            // Whether it left is unknown: the next reconciliation finds it by its orderRef.
            tracing::error!(order_id = order.order_id.get(), error = %e, "submit failed");
            self.send(Msg::Broker(BrokerEvent::Mismatch {
                detail: format!("order {} may not have reached IB: {e}", order.order_id.get()),
            }))
            .await;
        }
    }

    /// Open orders no journaled intent of this cockpit accounts for: another client's, typed into TWS, or
    /// without a cockpit `orderRef`.
    async fn report_external(&self, open: &[Orders]) {
        for row in open {
            if let Orders::OrderData(o) = row
                && (o.order.client_id != self.settings.client_id
                    || !o.order.order_ref.starts_with(ORDER_REF_PREFIX))
            {
                let summary = format!(
                    "{} {} {} {}",
                    o.order.action.as_str(),
                    o.order.total_quantity,
                    o.contract.symbol,
                    o.order.order_type
                );
                self.send(Msg::Broker(BrokerEvent::ExternalOrder {
                    order_id: o.order_id,
                    client_id: o.order.client_id,
                    order_ref: o.order.order_ref.clone(),
                    summary,
                }))
                .await;
            }
        }
    }

    /// Answers for every order in doubt from the gateway's rows by `orderRef`.
    async fn resolve_in_doubt(&mut self, by_ref: &BTreeMap<String, Vec<Seen>>) {
        let unacked: Vec<InDoubt> = std::mem::take(&mut self.unacked).into_values().collect();
        let mut unresolved = Vec::new();
        for (doubt, restarted) in std::mem::take(&mut self.in_doubt)
            .into_iter()
            .map(|d| (d, true))
            .chain(unacked.into_iter().map(|d| (d, false)))
        {
            let seen = by_ref.get(&doubt.order_ref).map_or(&[][..], Vec::as_slice);
            let status = match adopt(&doubt, seen, self.settings.client_id) {
                // The gateway reports executions of the current day only: an older order that is not
                // found may still have filled; the trader decides, trading stays stopped meanwhile.
                Adopt::Absent if Utc::now().signed_duration_since(doubt.staged_at) > LOOKBACK => {
                    if !self.beyond_lookback.insert(doubt.order_id.get()) {
                        // Said once; it stays in doubt, and trading stopped, until the trader decides.
                        if restarted {
                            unresolved.push(doubt);
                        }
                        continue;
                    }
                    self.send(Msg::Broker(BrokerEvent::Mismatch {
                        detail: format!(
                            "order {} ({}) from {} is older than the gateway's lookback and not found: the \
                             trader decides whether it was sent",
                            doubt.order_id.get(),
                            doubt.order_ref,
                            doubt.staged_at.format("%Y-%m-%d %H:%M UTC")
                        ),
                    }))
                    .await;
                    if restarted {
                        unresolved.push(doubt);
                    }
                    continue;
                }
                Adopt::Absent => None,
                Adopt::Found(status) => Some(status),
                Adopt::Mismatch(why) => {
                    // Something with its orderRef is at the gateway but it is not the approved order:
                    // neither adopted nor written off; trading stops until the trader decides.
                    self.send(Msg::Broker(BrokerEvent::Mismatch {
                        detail: format!(
                            "order {} ({}) at the gateway differs: {why}",
                            doubt.order_id.get(),
                            doubt.order_ref
                        ),
                    }))
                    .await;
                    if restarted {
                        unresolved.push(doubt);
                    }
                    continue;
                }
            };
            self.send(Msg::Broker(BrokerEvent::InDoubtResolved {
                order_id: doubt.order_id,
                status,
            }))
            .await;
        }
        self.in_doubt = unresolved;
    }

    /// Reads the broker's orders and executions, applies what the core has not seen (executions are
    /// idempotent by exec id), answers for every order in doubt, and says `Reconciled` only when every
    /// query came back complete.
    async fn reconcile(&mut self, client: &Client) {
        self.connection(Connection::Reconciling).await;
        let open = collect(client.all_open_orders().await).await;
        let completed = collect(client.completed_orders(false).await).await;
        let executions = match client.executions(ExecutionFilter::default()).await {
            Ok(mut sub) => tokio::time::timeout(QUERY_TIMEOUT, sub.collect_to_end_within(QUERY_TIMEOUT))
                .await
                .ok()
                .and_then(Result::ok),
            Err(_) => None,
        };
        let (Some(open), Some(completed), Some(executions)) = (open, completed, executions) else {
            // A query cut short by a lost connection is the disconnect's business (the gate is already
            // shut, and the reconnect reconciles again); a gateway that does not answer while connected
            // is a fault.
            if client.is_connected() {
                self.send(Msg::Broker(BrokerEvent::Mismatch {
                    detail: "reconciliation incomplete: the gateway did not answer a query".into(),
                }))
                .await;
            }
            return;
        };
        self.report_external(&open).await;
        let mut by_ref: BTreeMap<String, Vec<Seen>> = BTreeMap::new();
        // TWS reports on a completed order what was left unfilled as its quantity, not the size ordered.
        let rows = open
            .iter()
            .map(|r| (r, true))
            .chain(completed.iter().map(|r| (r, false)));
        for (row, is_open) in rows {
            if let Orders::OrderData(o) = row {
                let status = convert::order_event(&o.order_state.status, 0.0)
                    .and_then(|e| crate::domain::transition(OrderStatus::PendingSubmit, e).ok())
                    .unwrap_or(OrderStatus::Submitted);
                by_ref.entry(o.order.order_ref.clone()).or_default().push(Seen {
                    client_id: o.order.client_id,
                    order_id: o.order_id,
                    symbol: o.contract.symbol.to_string(),
                    side: convert::side(o.order.action),
                    quantity: is_open.then_some(o.order.total_quantity),
                    status,
                });
            }
        }
        for row in &executions {
            match row {
                Executions::ExecutionData(e) => {
                    let x = &e.execution;
                    by_ref.entry(x.order_reference.clone()).or_default().push(Seen {
                        client_id: x.client_id,
                        order_id: x.order_id,
                        symbol: e.contract.symbol.to_string(),
                        side: convert::execution_side(&x.side),
                        quantity: None,
                        status: OrderStatus::PartiallyFilled,
                    });
                    if let (Ok(order_id), Some(quantity), Some(price)) = (
                        OrderId::new(x.order_id),
                        convert::decimal(x.shares),
                        convert::decimal(x.price),
                    ) {
                        self.send(Msg::Broker(BrokerEvent::Execution {
                            order_id,
                            exec_id: x.execution_id.clone(),
                            quantity,
                            price,
                            replay: true,
                        }))
                        .await;
                    }
                }
                Executions::CommissionReport(c) => self.send(commission(c)).await,
            }
        }
        // Orders that ended while the stream could not say so (filled or cancelled during an outage).
        for (order_ref, seen) in &by_ref {
            if !order_ref.starts_with(ORDER_REF_PREFIX) {
                continue;
            }
            let ours = seen.iter().filter(|s| s.client_id == self.settings.client_id);
            if let Some(status) = ours
                .map(|s| s.status)
                .filter(|s| *s != OrderStatus::PartiallyFilled)
                .max_by_key(|s| s.is_terminal())
            {
                self.send(Msg::Broker(BrokerEvent::StatusFound {
                    order_ref: order_ref.clone(),
                    status,
                }))
                .await;
            }
        }
        self.resolve_in_doubt(&by_ref).await;
        self.send(Msg::Broker(BrokerEvent::Reconciled)).await;
        self.connection(Connection::Ready).await;
    }
}

/// What the gateway's rows with an in-doubt order's `orderRef` say about it.
#[derive(Debug, PartialEq)]
enum Adopt {
    /// Nothing with its `orderRef`: it never reached the gateway.
    Absent,
    /// The approved order is there, in this status.
    Found(OrderStatus),
    /// Something with its `orderRef` is there, but not the approved order (why).
    Mismatch(String),
}

/// Adopts an in-doubt order only if every row with its `orderRef` is this client's, has its order id (or
/// none, as on completed orders) and is the approved instrument, side and quantity.
fn adopt(doubt: &InDoubt, seen: &[Seen], client_id: i32) -> Adopt {
    if seen.is_empty() {
        return Adopt::Absent;
    }
    let t = &doubt.ticket;
    let quantity = Some(convert::float(t.quantity.get()));
    for s in seen {
        let why = if s.client_id != client_id {
            format!("placed by client {}, not {client_id}", s.client_id)
        } else if s.order_id > 0 && s.order_id != doubt.order_id.get() {
            format!("order id {}, not {}", s.order_id, doubt.order_id.get())
        } else if s.symbol != t.instrument.symbol.as_str() {
            format!("symbol {}, not {}", s.symbol, t.instrument.symbol)
        } else if s.side != t.side {
            format!("side {}, not {}", s.side.as_ib(), t.side.as_ib())
        } else if s.quantity.is_some() && s.quantity != quantity {
            format!("quantity {:?}, not {}", s.quantity, t.quantity)
        } else {
            continue;
        };
        return Adopt::Mismatch(why);
    }
    // The most advanced status any row shows: a completed order's over a partial execution's.
    let status = seen
        .iter()
        .map(|s| s.status)
        .max_by_key(|s| match s {
            OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected => 2,
            OrderStatus::PartiallyFilled => 1,
            _ => 0,
        })
        .unwrap_or(OrderStatus::Submitted);
    Adopt::Found(status)
}

async fn collect(request: Result<Subscription<Orders>, ibapi::Error>) -> Option<Vec<Orders>> {
    let mut sub = request.ok()?;
    tokio::time::timeout(QUERY_TIMEOUT, sub.collect_to_end_within(QUERY_TIMEOUT))
        .await
        .ok()?
        .ok()
}

fn commission(c: &ibapi::orders::CommissionReport) -> Msg {
    Msg::Broker(BrokerEvent::Commission {
        exec_id: c.execution_id.clone(),
        commission: convert::decimal(c.commission).unwrap_or(Decimal::ZERO),
        currency: c.currency.clone(),
        realized_pnl: c.realized_pnl.and_then(convert::decimal),
    })
}

/// What one order-update item means for the core: `Ok(None)` to skip it, `Err` when the stream is over.
fn order_update(item: Result<SubscriptionItem<OrderUpdate>, ibapi::Error>) -> Result<Option<Msg>, String> {
    Ok(Some(match item {
        Ok(SubscriptionItem::Data(OrderUpdate::OrderStatus(s))) => {
            let Ok(order_id) = OrderId::new(s.order_id) else {
                return Ok(None);
            };
            match convert::order_event(&s.status, s.filled) {
                Some(event) => Msg::Broker(BrokerEvent::OrderStatus { order_id, event }),
                None => Msg::Broker(BrokerEvent::Mismatch {
                    detail: format!("order {}: unknown status {:?}", s.order_id, s.status),
                }),
            }
        }
        // IB copies the replies to the cockpit's own executions query onto the order stream: those are
        // the reconciliation's business, not fills happening now.
        Ok(SubscriptionItem::Data(OrderUpdate::ExecutionData(e))) if e.request_id != -1 => return Ok(None),
        Ok(SubscriptionItem::Data(OrderUpdate::ExecutionData(e))) => {
            let x = &e.execution;
            let (Ok(order_id), Some(quantity), Some(price)) = (
                OrderId::new(x.order_id),
                convert::decimal(x.shares),
                convert::decimal(x.price),
            ) else {
                return Ok(None);
            };
            Msg::Broker(BrokerEvent::Execution {
                order_id,
                exec_id: x.execution_id.clone(),
                quantity,
                price,
                replay: false,
            })
        }
        Ok(SubscriptionItem::Data(OrderUpdate::CommissionReport(c))) => commission(&c),
        Ok(SubscriptionItem::Notice(n)) => Msg::Broker(BrokerEvent::Error {
            order_id: n.request_id.and_then(|id| OrderId::new(id).ok()),
            code: n.code,
            text: n.message,
        }),
        Ok(SubscriptionItem::Data(_)) => return Ok(None),
        Err(e) if e.is_connection_lost() => return Ok(None),
        Err(e) => return Err(format!("the order update stream ended: {e}")),
    }))
}

/// A position row as the core's message.
fn position(p: &ibapi::accounts::Position) -> Option<Msg> {
    let account = AccountId::parse(&p.account).ok()?;
    let quantity = convert::decimal(p.position)?;
    let symbol = crate::domain::Symbol::parse(&p.contract.symbol.to_string()).ok()?;
    let currency = crate::domain::Currency::parse(&p.contract.currency.to_string()).ok()?;
    let instrument = Instrument::stock(symbol, currency, p.contract.primary_exchange.to_string());
    Some(Msg::Broker(BrokerEvent::Position {
        account,
        instrument,
        quantity,
    }))
}

/// The order-update stream (statuses, executions and commissions of this client's orders) and the
/// position stream, in ONE task so that their relative order on the wire survives: IB sends a fill before
/// the position that includes it, and the core adds a streamed fill to the position that IB's next
/// position replaces — read in the wrong order, the fill would count twice. The order stream is always
/// read first (`biased`). The position subscription ends with the connection and is renewed after it; the
/// order stream survives reconnects but ends on a decode error (with no gap marker), which the core must
/// hear about.
async fn forward_orders_and_positions(
    client: Arc<Client>,
    mut updates: Subscription<OrderUpdate>,
    feed: mpsc::Sender<Msg>,
) {
    let mut positions = client.positions().await.ok();
    loop {
        let msg = tokio::select! {
            biased;
            item = updates.next() => match item.map(order_update) {
                None => return,
                Some(Ok(None)) => continue,
                Some(Ok(Some(msg))) => msg,
                Some(Err(why)) => {
                    let _ = feed.send(Msg::Broker(BrokerEvent::OrderStreamEnded { why })).await;
                    return;
                }
            },
            item = async {
                match positions.as_mut() {
                    Some(sub) => sub.next().await,
                    None => None,
                }
            } => match item {
                Some(Ok(SubscriptionItem::Data(ibapi::accounts::PositionUpdate::Position(p)))) => {
                    match position(&p) {
                        Some(msg) => msg,
                        None => continue,
                    }
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    // Ended with the connection: subscribe again once it is back (a fresh snapshot).
                    if client.wait_connected().await.is_err() {
                        return;
                    }
                    tokio::time::sleep(WATCH_EVERY).await;
                    positions = client.positions().await.ok();
                    continue;
                }
            },
        };
        if feed.send(msg).await.is_err() {
            return;
        }
    }
}

/// The account summary tags the cockpit shows and checks.
const ACCOUNT_TAGS: [&str; 7] = [
    "NetLiquidation",
    "TotalCashValue",
    "BuyingPower",
    "ExcessLiquidity",
    "Cushion",
    "InitMarginReq",
    "MaintMarginReq",
];

/// Account values as IB's account summary pushes them.
async fn forward_account(client: Arc<Client>, feed: mpsc::Sender<Msg>) {
    use ibapi::accounts::AccountSummaryResult;
    use ibapi::accounts::types::AccountGroup;
    let Ok(mut sub) = client
        .account_summary(&AccountGroup("All".into()), &ACCOUNT_TAGS)
        .await
    else {
        return;
    };
    while let Some(Ok(item)) = sub.next().await {
        let SubscriptionItem::Data(AccountSummaryResult::Summary(row)) = item else {
            continue;
        };
        let (Ok(account), Ok(value)) = (AccountId::parse(&row.account), row.value.parse::<Decimal>()) else {
            continue;
        };
        let msg = Msg::Broker(BrokerEvent::AccountValue {
            account,
            tag: row.tag,
            value,
        });
        if feed.send(msg).await.is_err() {
            return;
        }
    }
}

/// Top of book for one instrument: each change of bid, ask or last is a fresh quote.
async fn forward_quotes(
    client: Arc<Client>,
    instrument: Instrument,
    contract: Contract,
    feed: mpsc::Sender<Msg>,
) {
    use ibapi::market_data::MarketDataType;
    use ibapi::market_data::realtime::TickTypes;
    let status = |status: DataStatus| {
        Msg::Broker(BrokerEvent::MarketData {
            instrument: instrument.clone(),
            status,
        })
    };
    let mut sub = match client.market_data(&contract).subscribe().await {
        Ok(sub) => sub,
        Err(e) => {
            if !e.is_connection_lost() {
                let _ = feed.send(status(unavailable(&e))).await;
            }
            return;
        }
    };
    let mut quote = Quote::empty(Utc::now());
    while let Some(item) = sub.next().await {
        let msg = match item {
            Ok(SubscriptionItem::Data(TickTypes::MarketDataType(kind))) => status(match kind {
                MarketDataType::Realtime => DataStatus::Live,
                MarketDataType::Frozen => DataStatus::Frozen,
                MarketDataType::Delayed | MarketDataType::DelayedFrozen => DataStatus::Delayed,
                MarketDataType::Unknown => continue,
            }),
            Ok(SubscriptionItem::Data(tick)) => {
                let price = |v: f64| convert::decimal(v).and_then(|d| Price::new(d).ok());
                let changed = match tick {
                    TickTypes::PriceSize(t) => set_price(&mut quote, t.price_tick_type, price(t.price)),
                    TickTypes::Price(t) => set_price(&mut quote, t.tick_type, price(t.price)),
                    _ => false,
                };
                if !changed {
                    continue;
                }
                quote.received_at = Utc::now();
                Msg::Broker(BrokerEvent::Quote {
                    instrument: instrument.clone(),
                    quote: quote.clone(),
                })
            }
            Ok(SubscriptionItem::Notice(n)) if n.code == 10167 => status(DataStatus::Delayed),
            Ok(SubscriptionItem::Notice(n)) if matches!(n.code, 354 | 200 | 10168) => {
                status(DataStatus::Unavailable {
                    why: format!("{} ({})", n.message, n.code),
                })
            }
            Ok(SubscriptionItem::Notice(_)) => continue,
            // A lost connection ends every subscription; the reconnect subscribes again.
            Err(e) if e.is_connection_lost() => return,
            Err(e) => {
                let _ = feed.send(status(unavailable(&e))).await;
                return;
            }
        };
        if feed.send(msg).await.is_err() {
            return;
        }
    }
}

/// Why a market-data subscription failed or ended, in IB's words.
fn unavailable(e: &ibapi::Error) -> DataStatus {
    DataStatus::Unavailable {
        why: match e {
            ibapi::Error::Notice(n) => format!("{} ({})", n.message, n.code),
            other => other.to_string(),
        },
    }
}

/// Sets the price a tick is about; returns whether it was one of bid, ask and last.
fn set_price(
    q: &mut Quote,
    kind: ibapi::contracts::tick_types::TickType,
    p: Option<crate::domain::Price>,
) -> bool {
    match kind {
        TickType::Bid | TickType::DelayedBid => q.bid = p,
        TickType::Ask | TickType::DelayedAsk => q.ask = p,
        TickType::Last | TickType::DelayedLast => q.last = p,
        _ => return false,
    }
    true
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::domain::{Currency, OrderType, Quantity, Symbol, Tif};

    fn doubt() -> InDoubt {
        InDoubt {
            order_id: OrderId::new(7).unwrap(),
            order_ref: "ck-p3-v1-i2".into(),
            ticket: OrderTicket {
                account: AccountId::parse("DU1234567").unwrap(),
                instrument: Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ"),
                side: Side::Buy,
                quantity: Quantity::parse("10").unwrap(),
                order_type: OrderType::Limit,
                limit_price: None,
                stop_price: None,
                tif: Tif::Day,
                outside_rth: false,
            },
            staged_at: Utc::now(),
        }
    }

    fn seen(client_id: i32, order_id: i32, side: Side, quantity: Option<f64>, status: OrderStatus) -> Seen {
        Seen {
            client_id,
            order_id,
            symbol: "AAPL".into(),
            side,
            quantity,
            status,
        }
    }

    #[test]
    fn an_order_in_doubt_is_adopted_only_when_it_is_the_approved_order() {
        let d = doubt();
        assert_eq!(adopt(&d, &[], 1), Adopt::Absent);
        let open = seen(1, 7, Side::Buy, Some(10.0), OrderStatus::Submitted);
        assert_eq!(adopt(&d, &[open], 1), Adopt::Found(OrderStatus::Submitted));
        // Completed orders carry no order id and their unfilled rest as quantity; an execution is partial.
        let done = [
            seen(1, -1, Side::Buy, None, OrderStatus::Filled),
            seen(1, 7, Side::Buy, None, OrderStatus::PartiallyFilled),
        ];
        assert_eq!(adopt(&d, &done, 1), Adopt::Found(OrderStatus::Filled));
        for (wrong, says) in [
            (
                seen(2, 7, Side::Buy, Some(10.0), OrderStatus::Submitted),
                "client 2",
            ),
            (
                seen(1, 8, Side::Buy, Some(10.0), OrderStatus::Submitted),
                "order id 8",
            ),
            (seen(1, 7, Side::Sell, Some(10.0), OrderStatus::Submitted), "side"),
            (
                seen(1, 7, Side::Buy, Some(11.0), OrderStatus::Submitted),
                "quantity",
            ),
        ] {
            let Adopt::Mismatch(why) = adopt(&d, &[wrong], 1) else {
                panic!("{says}")
            };
            assert!(why.contains(says), "{why}");
        }
    }
}
