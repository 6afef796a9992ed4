//! The simulated gateway's single actor: it owns the market, the accounts, the order book, every client
//! session and the fault script, and answers each request frame in arrival order. Connection tasks
//! (`server`) only move bytes; nothing else mutates this state. Request handlers live in `ex_orders`
//! (orders, executions) and `ex_data` (market data, contracts, accounts, positions, P&L).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::accounts::{Account, MarginRates, dollars};
use super::book::Book;
use super::catalogue::{self, LISTINGS};
use super::faults::{Fault, FaultAction, Trigger};
use super::ledger::{Ledger, LedgerEntry};
use super::market::Market;
use super::proto::{self, msg};
use super::wire::{self, Frame};
use super::{SimConfig, SimStats};

/// IB's limit on messages a client may send per second.
pub const MAX_MESSAGES_PER_SECOND: u32 = 50;
/// IB's limit on concurrent streaming market-data lines per client.
pub const MAX_MARKET_DATA_LINES: usize = 100;
/// Consecutive seconds over the message limit after which the client is disconnected.
const RATE_STRIKES_BEFORE_DISCONNECT: u32 = 3;

/// What a connection task tells the exchange.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A client finished the handshake and sent `StartApi`.
    Connected {
        /// Connection number.
        conn: u64,
        /// The `StartApi` client id.
        client_id: i32,
        /// Where it connects from.
        peer: SocketAddr,
        /// Its outbox.
        out: mpsc::Sender<Out>,
        /// Cancelling it drops the socket at once.
        kill: CancellationToken,
    },
    /// A request frame.
    Frame {
        /// Connection number.
        conn: u64,
        /// The frame.
        frame: Frame,
    },
    /// The connection ended (EOF, error, or killed); `reason` says why when it was bad input.
    Closed {
        /// Connection number.
        conn: u64,
        /// Bad input that closed it, if any.
        reason: Option<String>,
    },
    /// A connection failed before `StartApi` (bad handshake, non-protobuf client, …).
    HandshakeFailed,
}

/// What the exchange sends to a connection's writer.
#[derive(Debug)]
pub(crate) enum Out {
    /// Bytes of one or more frames.
    Bytes(Vec<u8>),
    /// Flush what came before, then close the socket.
    Close,
}

/// Commands from a [`super::SimHandle`].
#[derive(Debug)]
pub(crate) enum Control {
    Fault(FaultAction),
    Ledger(oneshot::Sender<Vec<LedgerEntry>>),
    Stats(oneshot::Sender<SimStats>),
    SetQuote {
        symbol: String,
        bid: i64,
        ask: i64,
        last: i64,
        size: i64,
        reply: oneshot::Sender<bool>,
    },
    ManualOrder {
        request: Box<proto::PlaceOrderRequest>,
        reply: oneshot::Sender<Result<i32, String>>,
    },
}

/// A streaming or snapshot market-data request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MarketSub {
    pub listing: usize,
    pub delayed: bool,
}

/// One client session.
#[derive(Debug)]
pub(crate) struct Conn {
    pub client_id: i32,
    pub out: mpsc::Sender<Out>,
    pub kill: CancellationToken,
    pub market: HashMap<i32, MarketSub>,
    pub market_data_type: i32,
    pub summaries: HashMap<i32, Summary>,
    pub account_updates: Option<String>,
    pub positions: bool,
    pub positions_multi: HashMap<i32, Option<String>>,
    pub pnl: HashMap<i32, String>,
    pub pnl_single: HashMap<i32, (String, usize)>,
    pub auto_bind: bool,
    window_start: Instant,
    window_count: u32,
    window_warned: bool,
    strikes: u32,
}

/// An account-summary subscription and the values last sent, to push only changes.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub group: String,
    pub tags: Vec<String>,
    pub sent: HashMap<(String, String), String>,
}

/// The exchange actor.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub cfg: SimConfig,
    pub market: Market,
    pub accounts: Vec<Account>,
    pub rates: MarginRates,
    pub book: Book,
    pub conns: BTreeMap<u64, Conn>,
    pub ledger: Ledger,
    pub stats: SimStats,
    pub unsubscribed: HashSet<usize>,
    pub delayed: HashSet<usize>,
    pub reject_next: Option<String>,
    pub duplicate_next_execution: bool,
    pub connectivity_lost: bool,
    /// After a restart fault: the stale id announced, and ids placed since, per client.
    pub stale_next_id: Option<(i32, HashMap<i32, i32>)>,
    /// Account figures last pushed to account-update subscribers, to push only changes.
    pub account_values_sent: HashMap<(String, String), String>,
    pending: Vec<Fault>,
    timed: Vec<(Instant, FaultAction)>,
    refuse: watch::Sender<Option<Instant>>,
    /// The flood's next instrument (round-robin), and the tick messages it owes the next step in millionths
    /// (negative when a step overshot: a quote change is several messages).
    flood_cursor: usize,
    flood_owed: i64,
}

/// A tick message, in the flood's millionths.
const MILLIONTHS: i64 = 1_000_000;

impl Exchange {
    /// Builds the exchange from its config (already validated).
    pub(crate) fn new(cfg: SimConfig, ledger: Ledger, refuse: watch::Sender<Option<Instant>>) -> Self {
        let now = Utc::now();
        let market = Market::new(cfg.seed, now);
        let mut accounts: Vec<Account> = cfg
            .accounts
            .iter()
            .map(|a| Account::new(a, cfg.starting_cash))
            .collect();
        for p in &cfg.positions {
            if let (Some(account), Some(listing)) = (
                accounts.iter_mut().find(|a| a.code == p.account),
                catalogue::by_symbol(&p.symbol),
            ) {
                account.seed_position(
                    listing,
                    p.quantity,
                    p.average_cost,
                    dollars(market.quote(listing).close),
                );
            }
        }
        let index = |s: &String| catalogue::by_symbol(s);
        let unsubscribed = cfg.scenario.unsubscribed.iter().filter_map(index).collect();
        let delayed = cfg.scenario.delayed.iter().filter_map(index).collect();
        let started = Instant::now();
        let mut pending = Vec::new();
        let mut timed = Vec::new();
        for fault in &cfg.scenario.faults {
            match fault.trigger {
                Trigger::At(after) => timed.push((started + after, fault.action.clone())),
                Trigger::AfterMessages(_) => pending.push(fault.clone()),
            }
        }
        Self {
            cfg,
            market,
            accounts,
            rates: MarginRates::default(),
            book: Book::new(),
            conns: BTreeMap::new(),
            ledger,
            stats: SimStats::default(),
            unsubscribed,
            delayed,
            reject_next: None,
            duplicate_next_execution: false,
            connectivity_lost: false,
            stale_next_id: None,
            account_values_sent: HashMap::new(),
            pending,
            timed,
            refuse,
            flood_cursor: 0,
            flood_owed: 0,
        }
    }

    /// The actor loop: requests, control, market steps, P&L and account pushes, timed faults.
    pub(crate) async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut control: mpsc::Receiver<Control>,
        cancel: CancellationToken,
    ) {
        // The market's first move is one interval after the start, not at once: an immediate first tick
        // raced the first subscriptions (select! picks at random among ready branches).
        let mut market_step =
            tokio::time::interval_at(Instant::now() + self.cfg.tick_interval, self.cfg.tick_interval);
        market_step.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut pnl_push = tokio::time::interval(Duration::from_secs(1));
        pnl_push.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut account_push = tokio::time::interval(self.cfg.account_push_interval);
        account_push.set_missed_tick_behavior(MissedTickBehavior::Skip);
        // A late flood step catches up (Burst), so the rate holds on average.
        let mut flood_step = tokio::time::interval(super::FLOOD_STEP);
        let flooding = self.cfg.flood.is_some();
        loop {
            let next_fault = self.timed.iter().map(|(at, _)| *at).min();
            tokio::select! {
                () = cancel.cancelled() => break,
                Some(message) = inbound.recv() => self.on_inbound(message),
                Some(command) = control.recv() => self.on_control(command),
                _ = market_step.tick() => self.on_market_step(),
                _ = pnl_push.tick() => self.push_pnl(),
                _ = account_push.tick() => self.push_account_changes(),
                _ = flood_step.tick(), if flooding => self.on_flood_step(),
                () = tokio::time::sleep_until(next_fault.unwrap_or_else(far_future)), if next_fault.is_some() => {
                    self.fire_timed_faults();
                }
            }
        }
        for conn in self.conns.values() {
            conn.kill.cancel();
        }
    }

    fn on_inbound(&mut self, message: Inbound) {
        match message {
            Inbound::Connected {
                conn,
                client_id,
                peer,
                out,
                kill,
            } => self.on_connected(conn, client_id, peer, out, kill),
            Inbound::Frame { conn, frame } => self.on_frame(conn, &frame),
            Inbound::Closed { conn, reason } => {
                if let Some(c) = self.conns.remove(&conn) {
                    tracing::info!(conn, client_id = c.client_id, "sim: client disconnected");
                }
                if let Some(reason) = reason {
                    self.stats.bad_input_disconnects += 1;
                    tracing::warn!(conn, %reason, "sim: closed a connection on bad input");
                }
            }
            Inbound::HandshakeFailed => self.stats.bad_input_disconnects += 1,
        }
    }

    fn on_connected(
        &mut self,
        conn: u64,
        client_id: i32,
        peer: SocketAddr,
        out: mpsc::Sender<Out>,
        kill: CancellationToken,
    ) {
        self.stats.connections += 1;
        let session = Conn {
            client_id,
            out,
            kill,
            market: HashMap::new(),
            market_data_type: 1,
            summaries: HashMap::new(),
            account_updates: None,
            positions: false,
            positions_multi: HashMap::new(),
            pnl: HashMap::new(),
            pnl_single: HashMap::new(),
            auto_bind: false,
            window_start: Instant::now(),
            window_count: 0,
            window_warned: false,
            strikes: 0,
        };
        if self.conns.values().any(|c| c.client_id == client_id) {
            tracing::warn!(conn, client_id, %peer, "sim: client id already in use; refusing (326)");
            let text = "Unable to connect as the client id is already in use. Retry with a unique client id.";
            self.stats.count_error(326);
            let _ = session.out.try_send(Out::Bytes(error_frame(-1, 326, text)));
            let _ = session.out.try_send(Out::Close);
            return;
        }
        tracing::info!(conn, client_id, %peer, "sim: client connected");
        let accounts = self.cfg.accounts.join(",");
        let next_id = self.next_valid_id(client_id);
        let mut bytes = wire::encode_frame(
            msg::IN_MANAGED_ACCOUNTS,
            &proto::ManagedAccounts {
                accounts_list: Some(accounts),
            },
        );
        bytes.extend(wire::encode_frame(
            msg::IN_NEXT_VALID_ID,
            &proto::NextValidId {
                order_id: Some(next_id),
            },
        ));
        for (code, text) in [
            (2104, "Market data farm connection is OK:usfarm"),
            (2106, "HMDS data farm connection is OK:ushmds"),
            (2158, "Sec-def data farm connection is OK:secdefnj"),
        ] {
            bytes.extend(error_frame(-1, code, text));
        }
        if self.connectivity_lost {
            bytes.extend(error_frame(
                -1,
                1100,
                "Connectivity between IB and Trader Workstation has been lost.",
            ));
        }
        let _ = session.out.try_send(Out::Bytes(bytes));
        self.conns.insert(conn, session);
    }

    /// `nextValidId` for a client: one past the highest id it used, or the stale id after a restart fault.
    pub(crate) fn next_valid_id(&self, client_id: i32) -> i32 {
        if let Some((stale, since)) = &self.stale_next_id {
            return since.get(&client_id).map_or(*stale, |m| (*stale).max(m + 1));
        }
        self.book
            .max_order_id(client_id)
            .map_or(self.cfg.first_order_id, |m| (m + 1).max(self.cfg.first_order_id))
    }

    fn on_frame(&mut self, conn: u64, frame: &Frame) {
        self.stats.messages += 1;
        if !self.count_rate(conn) {
            return;
        }
        let Some(id) = frame.message_id() else {
            self.close_bad(
                conn,
                &format!(
                    "text-framed request (wire id {}); this gateway speaks protobuf only",
                    frame.wire_id
                ),
            );
            return;
        };
        if let Err(reason) = self.dispatch(conn, id, frame) {
            self.close_bad(conn, &reason);
        }
        self.fire_message_faults();
    }

    /// Counts a message against IB's 50/s limit; answers error 100 and disconnects persistent offenders.
    /// Returns whether the connection is still up.
    fn count_rate(&mut self, conn: u64) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let now = Instant::now();
        let since = now.duration_since(c.window_start);
        if since >= Duration::from_secs(1) {
            // A run of seconds over the limit counts only seconds in a row: after a whole quiet second
            // (no message opened a window in it) the run starts again.
            let over = c.window_count > MAX_MESSAGES_PER_SECOND;
            let in_a_row = since < Duration::from_secs(2);
            c.strikes = if over && in_a_row { c.strikes + 1 } else { 0 };
            c.window_start = now;
            c.window_count = 0;
            c.window_warned = false;
        }
        c.window_count += 1;
        let (client_id, count) = (c.client_id, c.window_count);
        let max = self.stats.max_messages_per_second.entry(client_id).or_insert(0);
        *max = (*max).max(count);
        if count <= MAX_MESSAGES_PER_SECOND {
            return true;
        }
        let c = self.conns.get_mut(&conn).expect("looked up above");
        let warn = !c.window_warned;
        c.window_warned = true;
        let disconnect =
            c.strikes + 1 >= RATE_STRIKES_BEFORE_DISCONNECT || count > 2 * MAX_MESSAGES_PER_SECOND;
        if warn {
            let text = format!(
                "Max rate of messages per second has been exceeded:max={MAX_MESSAGES_PER_SECOND} rec={count} (1)"
            );
            self.send_error(conn, -1, 100, &text);
        }
        if disconnect {
            tracing::warn!(
                conn,
                client_id,
                count,
                "sim: disconnecting a client that keeps exceeding 50 msg/s"
            );
            self.stats.rate_disconnects += 1;
            self.close(conn);
            return false;
        }
        true
    }

    fn dispatch(&mut self, conn: u64, id: i32, frame: &Frame) -> Result<(), String> {
        let decode_err = |e: wire::WireError| e.to_string();
        macro_rules! req {
            ($t:ty) => {
                wire::decode::<$t>(frame).map_err(decode_err)?
            };
        }
        if let Some(result) = self.dispatch_orders(conn, id, frame) {
            return result;
        }
        match id {
            msg::OUT_START_API => tracing::warn!(conn, "sim: StartApi repeated on a live session; ignored"),
            msg::OUT_REQUEST_IDS
            | msg::OUT_REQUEST_MANAGED_ACCOUNTS
            | msg::OUT_REQUEST_CURRENT_TIME
            | msg::OUT_REQUEST_CURRENT_TIME_IN_MILLIS => self.on_session_request(conn, id),
            msg::OUT_REQUEST_MARKET_DATA_TYPE => {
                let r = req!(proto::MarketDataTypeRequest);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.market_data_type = r.market_data_type.unwrap_or(1);
                }
            }
            msg::OUT_REQUEST_MARKET_DATA => self.on_market_data(conn, &req!(proto::MarketDataRequest)),
            msg::OUT_CANCEL_MARKET_DATA => self.on_cancel_market_data(conn, &req!(proto::CancelMarketData)),
            msg::OUT_REQUEST_CONTRACT_DATA => self.on_contract_data(conn, &req!(proto::ContractDataRequest)),
            msg::OUT_CANCEL_CONTRACT_DATA => {}
            msg::OUT_REQUEST_ACCOUNT_SUMMARY => {
                self.on_account_summary(conn, &req!(proto::AccountSummaryRequest));
            }
            msg::OUT_CANCEL_ACCOUNT_SUMMARY => {
                let r = req!(proto::CancelAccountSummary);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.summaries.remove(&r.req_id.unwrap_or_default());
                }
            }
            msg::OUT_REQUEST_ACCOUNT_DATA => self.on_account_updates(conn, &req!(proto::AccountDataRequest)),
            msg::OUT_REQUEST_POSITIONS => self.on_positions(conn),
            msg::OUT_CANCEL_POSITIONS => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.positions = false;
                }
            }
            msg::OUT_REQUEST_POSITIONS_MULTI => {
                self.on_positions_multi(conn, &req!(proto::PositionsMultiRequest));
            }
            msg::OUT_CANCEL_POSITIONS_MULTI => {
                let r = req!(proto::CancelPositionsMulti);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.positions_multi.remove(&r.req_id.unwrap_or_default());
                }
            }
            msg::OUT_REQUEST_PNL => self.on_pnl(conn, &req!(proto::PnLRequest)),
            msg::OUT_CANCEL_PNL => {
                let r = req!(proto::CancelPnL);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.pnl.remove(&r.req_id.unwrap_or_default());
                }
            }
            msg::OUT_REQUEST_PNL_SINGLE => self.on_pnl_single(conn, &req!(proto::PnLSingleRequest)),
            msg::OUT_CANCEL_PNL_SINGLE => {
                let r = req!(proto::CancelPnLSingle);
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.pnl_single.remove(&r.req_id.unwrap_or_default());
                }
            }
            other if ibapi::OutgoingMessages::try_from(other).is_ok() => {
                // A real TWS request this simulator does not serve: answer it, keep the session.
                let req_id = wire::decode::<RequestIdOnly>(frame)
                    .ok()
                    .and_then(|r| r.req_id)
                    .unwrap_or(-1);
                let text = format!(
                    "Error validating request.-'sim' : cause - request {other} is not supported by the simulator"
                );
                self.send_error(conn, req_id, 321, &text);
            }
            other => return Err(format!("unknown message id {other} (wire id {})", frame.wire_id)),
        }
        Ok(())
    }

    /// Order requests; `None` when `id` is not one.
    fn dispatch_orders(&mut self, conn: u64, id: i32, frame: &Frame) -> Option<Result<(), String>> {
        fn req<M: prost::Message + Default>(frame: &Frame) -> Result<M, String> {
            wire::decode::<M>(frame).map_err(|e| e.to_string())
        }
        let result = match id {
            msg::OUT_PLACE_ORDER => req(frame).map(|r| self.on_place_order(conn, &r)),
            msg::OUT_CANCEL_ORDER => req(frame).map(|r| self.on_cancel_order(conn, &r)),
            msg::OUT_REQUEST_GLOBAL_CANCEL => {
                self.on_global_cancel(conn);
                Ok(())
            }
            msg::OUT_REQUEST_OPEN_ORDERS | msg::OUT_REQUEST_ALL_OPEN_ORDERS => {
                self.on_open_orders(conn, id == msg::OUT_REQUEST_ALL_OPEN_ORDERS);
                Ok(())
            }
            msg::OUT_REQUEST_AUTO_OPEN_ORDERS => req(frame).map(|r| self.on_auto_open_orders(conn, &r)),
            msg::OUT_REQUEST_COMPLETED_ORDERS => req(frame).map(|r| self.on_completed_orders(conn, &r)),
            msg::OUT_REQUEST_EXECUTIONS => req(frame).map(|r| self.on_executions(conn, &r)),
            _ => return None,
        };
        Some(result)
    }

    /// Ids, managed accounts and the clock.
    fn on_session_request(&mut self, conn: u64, id: i32) {
        match id {
            msg::OUT_REQUEST_IDS => {
                let client = self.client_id(conn);
                let next = self.next_valid_id(client);
                self.send(
                    conn,
                    msg::IN_NEXT_VALID_ID,
                    &proto::NextValidId { order_id: Some(next) },
                );
            }
            msg::OUT_REQUEST_MANAGED_ACCOUNTS => {
                let list = self.cfg.accounts.join(",");
                self.send(
                    conn,
                    msg::IN_MANAGED_ACCOUNTS,
                    &proto::ManagedAccounts {
                        accounts_list: Some(list),
                    },
                );
            }
            msg::OUT_REQUEST_CURRENT_TIME => {
                let now = Utc::now().timestamp();
                self.send(
                    conn,
                    msg::IN_CURRENT_TIME,
                    &proto::CurrentTime {
                        current_time: Some(now),
                    },
                );
            }
            _ => {
                let now = Utc::now().timestamp_millis();
                let m = proto::CurrentTimeInMillis {
                    current_time_in_millis: Some(now),
                };
                self.send(conn, msg::IN_CURRENT_TIME_IN_MILLIS, &m);
            }
        }
    }

    fn on_control(&mut self, command: Control) {
        match command {
            Control::Fault(action) => self.apply_fault(action),
            Control::Ledger(reply) => {
                let _ = reply.send(self.ledger.entries().to_vec());
            }
            Control::Stats(reply) => {
                let mut stats = self.stats.clone();
                stats.live_clients = self.conns.values().map(|c| c.client_id).collect();
                let _ = reply.send(stats);
            }
            Control::SetQuote {
                symbol,
                bid,
                ask,
                last,
                size,
                reply,
            } => {
                let found = catalogue::by_symbol(&symbol);
                if let Some(listing) = found {
                    self.market.set_quote(listing, bid, ask, last, size, Utc::now());
                    let mut changed = vec![super::market::Changed::default(); LISTINGS.len()];
                    changed[listing] = super::market::Changed {
                        bid: true,
                        ask: true,
                        trade: true,
                    };
                    self.after_market_change(&changed);
                }
                let _ = reply.send(found.is_some());
            }
            Control::ManualOrder { request, reply } => {
                let _ = reply.send(self.place_manual_order(&request));
            }
        }
    }

    fn fire_message_faults(&mut self) {
        let received = self.stats.messages;
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|f| matches!(f.trigger, Trigger::AfterMessages(n) if received >= n));
        self.pending = keep;
        for fault in due {
            tracing::info!(?fault, "sim: fault fires after {received} messages");
            self.apply_fault(fault.action);
        }
    }

    fn fire_timed_faults(&mut self) {
        let now = Instant::now();
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.timed)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.timed = keep;
        for (_, action) in due {
            tracing::info!(?action, "sim: timed fault fires");
            self.apply_fault(action);
        }
    }

    /// Carries out a fault now.
    pub(crate) fn apply_fault(&mut self, action: FaultAction) {
        self.stats.faults_applied += 1;
        match action {
            FaultAction::DropSocket { client_id } => {
                let doomed: Vec<u64> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| client_id.is_none_or(|id| id == c.client_id))
                    .map(|(k, _)| *k)
                    .collect();
                for conn in doomed {
                    self.drop_socket(conn);
                }
            }
            FaultAction::RefuseConnections { duration } => {
                self.refuse.send_replace(Some(Instant::now() + duration));
                let all: Vec<u64> = self.conns.keys().copied().collect();
                for conn in all {
                    self.drop_socket(conn);
                }
            }
            FaultAction::ConnectivityLost {
                restore_after,
                data_lost,
            } => {
                self.connectivity_lost = true;
                self.broadcast_error(
                    1100,
                    "Connectivity between IB and Trader Workstation has been lost.",
                );
                if let Some(after) = restore_after {
                    self.timed.push((
                        Instant::now() + after,
                        FaultAction::ConnectivityRestored { data_lost },
                    ));
                }
            }
            FaultAction::ConnectivityRestored { data_lost } => {
                self.connectivity_lost = false;
                if data_lost {
                    for c in self.conns.values_mut() {
                        c.market.clear();
                    }
                    self.broadcast_error(
                        1101,
                        "Connectivity between IB and Trader Workstation has been restored - data lost.",
                    );
                } else {
                    self.broadcast_error(
                        1102,
                        "Connectivity between IB and Trader Workstation has been restored - data maintained.",
                    );
                }
            }
            FaultAction::RejectNextOrder { reason } => self.reject_next = Some(reason),
            FaultAction::FreezeQuotes { symbol } => {
                if let Some(l) = catalogue::by_symbol(&symbol) {
                    self.market.set_frozen(l, true);
                }
            }
            FaultAction::ThawQuotes { symbol } => {
                if let Some(l) = catalogue::by_symbol(&symbol) {
                    self.market.set_frozen(l, false);
                }
            }
            FaultAction::MarginChange { initial, maintenance } => {
                self.rates = MarginRates { initial, maintenance };
                self.push_account_changes();
            }
            FaultAction::Restart { next_valid_id, down } => {
                self.stale_next_id = Some((next_valid_id, HashMap::new()));
                self.apply_fault(FaultAction::RefuseConnections { duration: down });
            }
            FaultAction::DuplicateExecution => self.duplicate_next_execution = true,
            FaultAction::FillWorkingOrders => self.fill_working_orders(),
            FaultAction::ShiftPosition {
                account,
                symbol,
                quantity,
            } => self.shift_position(account.as_deref(), &symbol, quantity),
        }
    }

    fn on_market_step(&mut self) {
        let changes = self.market.step(Utc::now());
        self.after_market_change(&changes);
    }

    /// One step of the flood: its share of tick messages, as whole quote changes each streamed at once, then
    /// matching.
    fn on_flood_step(&mut self) {
        let Some(flood) = self.cfg.flood else { return };
        let mut listings: Vec<usize> = self
            .conns
            .values()
            .flat_map(|c| c.market.values().map(|sub| sub.listing))
            .collect();
        listings.sort_unstable();
        listings.dedup();
        listings.truncate(flood.symbols);
        // Messages owed this step: the rate times the step, plus what the last step left (in millionths).
        let step_us = i64::try_from(super::FLOOD_STEP.as_micros()).unwrap_or(i64::MAX);
        let mut owed = i64::from(flood.ticks_per_sec) * step_us + self.flood_owed;
        if listings.is_empty() || self.connectivity_lost {
            self.flood_owed = owed.rem_euclid(MILLIONTHS);
            return;
        }
        let now = Utc::now();
        // Bounded even if every flooded instrument is frozen (no change, no message).
        let mut tries = owed / MILLIONTHS + i64::try_from(listings.len()).unwrap_or(i64::MAX);
        while owed >= MILLIONTHS && tries > 0 {
            tries -= 1;
            let listing = listings[self.flood_cursor % listings.len()];
            self.flood_cursor = self.flood_cursor.wrapping_add(1);
            let change = self.market.nudge(listing, now);
            let messages = super::ex_data::tick_messages(change);
            if messages > 0 {
                self.stats.flood_ticks += messages;
                owed -= i64::try_from(messages).unwrap_or(i64::MAX) * MILLIONTHS;
                self.stream_listing(listing, change);
            }
        }
        self.flood_owed = owed.min(MILLIONTHS);
        self.match_orders();
    }

    /// After quotes moved: match orders, then stream the changes (unless IB connectivity is down).
    fn after_market_change(&mut self, changes: &[super::market::Changed]) {
        self.match_orders();
        if !self.connectivity_lost {
            self.stream_ticks(changes);
        }
    }

    // ---- sending ----

    /// The client id of a connection (0 if it is gone).
    pub(crate) fn client_id(&self, conn: u64) -> i32 {
        self.conns.get(&conn).map_or(0, |c| c.client_id)
    }

    /// Queues one message to a connection.
    pub(crate) fn send<M: prost::Message>(&mut self, conn: u64, message_id: i32, message: &M) {
        self.send_bytes(conn, wire::encode_frame(message_id, message));
    }

    /// Queues encoded frames to a connection; a client too slow to keep up is disconnected.
    pub(crate) fn send_bytes(&mut self, conn: u64, bytes: Vec<u8>) {
        let Some(c) = self.conns.get(&conn) else { return };
        if let Err(mpsc::error::TrySendError::Full(_)) = c.out.try_send(Out::Bytes(bytes)) {
            tracing::warn!(
                conn,
                client_id = c.client_id,
                "sim: client is not reading; disconnecting it"
            );
            self.drop_socket(conn);
        }
    }

    /// Sends an `ErrorMessage` (id −1 for request-less notices, else the request or order id).
    pub(crate) fn send_error(&mut self, conn: u64, id: i32, code: i32, text: &str) {
        self.stats.count_error(code);
        self.send_bytes(conn, error_frame(id, code, text));
    }

    fn broadcast_error(&mut self, code: i32, text: &str) {
        let all: Vec<u64> = self.conns.keys().copied().collect();
        for conn in all {
            self.send_error(conn, -1, code, text);
        }
    }

    /// Closes a connection after flushing what was queued.
    pub(crate) fn close(&mut self, conn: u64) {
        if let Some(c) = self.conns.remove(&conn) {
            let _ = c.out.try_send(Out::Close);
        }
    }

    /// Drops a connection's socket at once (a fault, or a client that cannot keep up).
    pub(crate) fn drop_socket(&mut self, conn: u64) {
        if let Some(c) = self.conns.remove(&conn) {
            c.kill.cancel();
        }
    }

    fn close_bad(&mut self, conn: u64, reason: &str) {
        tracing::warn!(conn, %reason, "sim: bad request; closing this connection only");
        self.stats.bad_input_disconnects += 1;
        self.close(conn);
    }

    /// Connections that receive a client's order events: the placing client's own session.
    pub(crate) fn owner_conns(&self, client_id: i32) -> Vec<u64> {
        self.conns
            .iter()
            .filter(|(_, c)| c.client_id == client_id)
            .map(|(k, _)| *k)
            .collect()
    }
}

/// Any request whose tag 1 is its request id: enough to answer one we do not serve.
#[derive(Clone, PartialEq, prost::Message)]
struct RequestIdOnly {
    #[prost(int32, optional, tag = "1")]
    req_id: Option<i32>,
}

/// An encoded `ErrorMessage` frame.
pub(crate) fn error_frame(id: i32, code: i32, text: &str) -> Vec<u8> {
    wire::encode_frame(
        msg::IN_ERROR,
        &proto::ErrorMessage {
            id: Some(id),
            error_time: Some(Utc::now().timestamp_millis()),
            error_code: Some(code),
            error_msg: Some(text.to_string()),
            advanced_order_reject_json: None,
        },
    )
}

/// Execution time as TWS formats it.
pub(crate) fn ib_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::America::New_York)
        .format("%Y%m%d %H:%M:%S America/New_York")
        .to_string()
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_hours(24 * 365)
}
