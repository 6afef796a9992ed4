//! Issue #5's randomized fault suite (RELIABILITY.md P4, P7–P14): scenarios generated from a seed, each
//! with its own simulator on 127.0.0.1 port 0, its own state dir, the real `ibapi` adapter and the real
//! engine and journal, run concurrently. Each starts ready, then runs a random sequence of orders (filled
//! at once, or resting inside the collar) and faults — dropped sockets (also right behind an order),
//! 1100/1101/1102 in random orders, fills while the cockpit is cut off, duplicate executions, gateway
//! restarts answering a stale, lower `nextValidId`, the trader trying an order while the gate must be shut
//! — and maybe the kill switch at the end. Afterwards local state must equal the broker's as a separate
//! checker client reads it, every execution must count exactly once, the gate must never have opened while
//! unreconciled, no order id or `orderRef` may reach the gateway twice, IB's limits must never have been
//! hit, the journal must verify, and the position check must never have alarmed (nothing moves a position
//! behind the cockpit's back here: an alarm is a false one). It does not crash the cockpit (the crash
//! harness does).
//!
//! 20 scenarios in the quick tier, 200 with `COCKPIT_HEAVY=1`, any number with
//! `COCKPIT_FAULT_SCENARIOS=N` (the soak: `COCKPIT_FAULT_SCENARIOS=5000 cargo test --release --features
//! failpoints --test broker_faults`); `COCKPIT_FAULT_SEED=S` replays the one scenario a failure named.
//!
//! Bugs A–D (see the `KNOWN_*` constants), which this suite found, are fixed; their footprints stay
//! recognised so that a regression is named, and each has a `fixed_bug_*` test replaying the seed that
//! found it. They fail the suite like any other breach (`COCKPIT_FAULT_STRICT=0` only classifies them).

#![expect(clippy::unwrap_used, reason = "tests")]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use cockpit::app::{BrokerEvent, BrokerPort, Connection, End, Engine, Msg, PlaceOrder, Source, Stage};
use cockpit::broker::{self, BrokerHandle, Settings};
use cockpit::config::Config;
use cockpit::domain::{
    AccountId, Currency, Instrument, OrderId, OrderStatus, OrderTicket, OrderType, Price, ProposalId,
    Quantity, Side, Symbol, Tif,
};
use cockpit::journal::kinds;
use cockpit::policy::{Cause, Evidence, Level};
use cockpit::sim::{self, EntryKind, FaultAction, LedgerEntry, Outcome, SimConfig, SimHandle, SimStats};
use ibapi::accounts::PositionUpdate;
use ibapi::orders::{ExecutionFilter, Executions, Orders};
use ibapi::prelude::{StreamExt, SubscriptionItem};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The bound on waiting for any one state.
const WITHIN: Duration = Duration::from_secs(20);
/// No message from the adapter for this long: everything the broker said has been handled.
const QUIET: Duration = Duration::from_millis(300);
/// The cockpit's client id (the example's paper profile) and the checker's.
const CLIENT_ID: i32 = 1;
const CHECKER_ID: i32 = 90;
const ACCOUNT: &str = "DU1234567";
/// AAPL pinned at 187.10 / 187.12 (last 187.11), 1,000 shares each side.
const BID: i64 = 18_710;
const ASK: i64 = 18_712;
const LAST: i64 = 18_711;
const SIZE: i64 = 1_000;
/// The policy allows 10 orders a minute; a scenario sends at most this many.
const MAX_ORDERS: usize = 9;
/// The most steps a generated scenario has (plus a resting order a fill or the kill may need, and the kill).
const MAX_STEPS: usize = 8;
/// Trace lines kept for a failure report.
const TRACE_TAIL: usize = 150;

// ---- the plan ----

/// One of IB's connectivity notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    /// 1100.
    Lost,
    /// 1101 (data lost) or 1102 (data maintained).
    Restored { data_lost: bool },
}

/// How the cockpit is cut off while the working orders fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outage {
    /// Not cut off: the fills stream in.
    None,
    /// The socket is dropped; `ibapi` reconnects after a second.
    Socket,
    /// The gateway restarts, down for `down_ms`, then answers a `nextValidId` `below` the highest id used.
    Restart { below: i32, down_ms: u64 },
    /// IB's 1100, then 1101/1102.
    Connectivity { data_lost: bool },
}

/// When the trader tries an order the gate must not let out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shut {
    /// The socket is gone (the adapter saw it), `ibapi` not yet back.
    SocketLost,
    /// The instant the reconnect is announced, before the reconciliation.
    Unreconciled,
    /// After IB's 1100.
    ConnectivityLost,
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// The trader stages and confirms a limit order: marketable (fills at once) or resting in the collar.
    Order { side: Side, qty: u32, resting: bool },
    /// The gateway drops the socket.
    DropSocket,
    /// An order as in `Order`, and the socket dropped at once, before IB's answer.
    OrderRacingDrop { side: Side, qty: u32, resting: bool },
    /// Connectivity notices, each awaited, or all at once (`burst`); the last is always a restore.
    Connectivity { notices: Vec<Notice>, burst: bool },
    /// Every working order fills at the touch, during `outage`.
    FillWorking { outage: Outage },
    /// The next execution is sent twice; a marketable order follows.
    DuplicateExecution { side: Side, qty: u32 },
    /// The gateway restarts: down for `down_ms`, then a `nextValidId` `below` the highest id used.
    Restart { below: i32, down_ms: u64 },
    /// The trader stages and confirms an order (reducing, when there is a position) while the gate must
    /// be shut; it must not go out.
    OrderWhileShut { during: Shut, qty: u32 },
    /// The trader's kill switch (only ever last).
    Kill,
}

impl Step {
    fn kind(&self) -> &'static str {
        match self {
            Step::Order { resting: false, .. } => "order(marketable)",
            Step::Order { resting: true, .. } => "order(resting)",
            Step::DropSocket => "drop_socket",
            Step::OrderRacingDrop { .. } => "order(racing a drop)",
            Step::Connectivity { .. } => "connectivity",
            Step::FillWorking { outage: Outage::None } => "fill(connected)",
            Step::FillWorking {
                outage: Outage::Socket,
            } => "fill(socket down)",
            Step::FillWorking {
                outage: Outage::Restart { .. },
            } => "fill(gateway restarting)",
            Step::FillWorking {
                outage: Outage::Connectivity { .. },
            } => "fill(1100)",
            Step::DuplicateExecution { .. } => "duplicate_execution",
            Step::Restart { .. } => "restart",
            Step::OrderWhileShut {
                during: Shut::SocketLost,
                ..
            } => "order(socket lost)",
            Step::OrderWhileShut {
                during: Shut::Unreconciled,
                ..
            } => "order(unreconciled)",
            Step::OrderWhileShut {
                during: Shut::ConnectivityLost,
                ..
            } => "order(1100)",
            Step::Kill => "kill",
        }
    }
}

fn side(rng: &mut ChaCha8Rng) -> Side {
    if rng.random_bool(0.5) {
        Side::Buy
    } else {
        Side::Sell
    }
}

fn notices(rng: &mut ChaCha8Rng) -> Vec<Notice> {
    let pick = |rng: &mut ChaCha8Rng| match rng.random_range(0..3) {
        0 => Notice::Lost,
        n => Notice::Restored { data_lost: n == 1 },
    };
    let mut list: Vec<Notice> = (0..rng.random_range(1..=3)).map(|_| pick(rng)).collect();
    if list.last() == Some(&Notice::Lost) {
        list.push(Notice::Restored {
            data_lost: rng.random_bool(0.5),
        });
    }
    list
}

fn restart(rng: &mut ChaCha8Rng) -> (i32, u64) {
    (rng.random_range(0..=5), rng.random_range(50..=800))
}

fn outage(rng: &mut ChaCha8Rng) -> Outage {
    match rng.random_range(0..4) {
        0 => Outage::None,
        1 => Outage::Socket,
        2 => {
            let (below, down_ms) = restart(rng);
            Outage::Restart { below, down_ms }
        }
        _ => Outage::Connectivity {
            data_lost: rng.random_bool(0.5),
        },
    }
}

/// The scenario a seed stands for: 3–8 random steps (bounded orders), and the kill switch maybe.
fn plan(seed: u64) -> Vec<Step> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Distinct quantities: the policy refuses an order identical to one sent in the last 30 s.
    let mut quantities: Vec<u32> = (1..=60).collect();
    quantities.shuffle(&mut rng);
    let mut quantities = quantities.into_iter();
    let len = rng.random_range(3..=MAX_STEPS);
    let (mut steps, mut orders, mut resting, mut filled) = (Vec::new(), 0, 0, false);
    for _ in 0..10 * MAX_STEPS {
        if steps.len() >= len {
            break;
        }
        let room = orders < MAX_ORDERS;
        let step = match rng.random_range(0..10) {
            0 | 1 if room => {
                let rests = rng.random_bool(0.5);
                orders += 1;
                resting += usize::from(rests);
                filled |= !rests;
                Step::Order {
                    side: side(&mut rng),
                    qty: quantities.next().unwrap(),
                    resting: rests,
                }
            }
            2 => Step::DropSocket,
            3 => Step::Connectivity {
                notices: notices(&mut rng),
                burst: rng.random_bool(0.3),
            },
            4 | 5 if resting > 0 || room => {
                if resting == 0 {
                    orders += 1;
                    steps.push(Step::Order {
                        side: side(&mut rng),
                        qty: quantities.next().unwrap(),
                        resting: true,
                    });
                }
                resting = 0;
                Step::FillWorking {
                    outage: outage(&mut rng),
                }
            }
            6 if room => {
                orders += 1;
                filled = true;
                Step::DuplicateExecution {
                    side: side(&mut rng),
                    qty: quantities.next().unwrap(),
                }
            }
            7 => {
                let (below, down_ms) = restart(&mut rng);
                Step::Restart { below, down_ms }
            }
            8 if orders + 2 <= MAX_ORDERS => {
                // A position first, so that the order tried is reducing (what Reducing lets through).
                if !filled {
                    orders += 1;
                    filled = true;
                    steps.push(Step::Order {
                        side: side(&mut rng),
                        qty: quantities.next().unwrap(),
                        resting: false,
                    });
                }
                orders += 1;
                let during =
                    [Shut::SocketLost, Shut::Unreconciled, Shut::ConnectivityLost][rng.random_range(0..3)];
                Step::OrderWhileShut {
                    during,
                    qty: quantities.next().unwrap(),
                }
            }
            9 if room => {
                let rests = rng.random_bool(0.5);
                orders += 1;
                resting += usize::from(rests);
                Step::OrderRacingDrop {
                    side: side(&mut rng),
                    qty: quantities.next().unwrap(),
                    resting: rests,
                }
            }
            _ => continue,
        };
        steps.push(step);
    }
    if rng.random_bool(0.4) {
        if resting == 0 && orders < MAX_ORDERS && rng.random_bool(0.7) {
            steps.push(Step::Order {
                side: side(&mut rng),
                qty: quantities.next().unwrap(),
                resting: true,
            });
        }
        steps.push(Step::Kill);
    }
    steps
}

/// Spreads consecutive numbers over the seed space (`SplitMix64`).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The scenarios' seeds: the one `COCKPIT_FAULT_SEED` names, else `count()` from a random base.
fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("COCKPIT_FAULT_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return vec![seed];
    }
    let count: u64 = std::env::var("COCKPIT_FAULT_SCENARIOS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(if std::env::var_os("COCKPIT_HEAVY").is_some() {
            200
        } else {
            20
        });
    let base: u64 = rand::rng().random();
    (0..count).map(|i| mix(base.wrapping_add(i))).collect()
}

// ---- the rig ----

/// The real adapter's handle, counting the orders handed to it (the gate invariant looks at the count
/// around every message the engine handles).
#[derive(Debug)]
struct Gate {
    inner: BrokerHandle,
    places: Arc<AtomicU64>,
}

impl BrokerPort for Gate {
    fn place(&mut self, order: PlaceOrder) {
        self.places.fetch_add(1, Ordering::SeqCst);
        self.inner.place(order);
    }
    fn cancel(&mut self, order_id: OrderId) {
        self.inner.cancel(order_id);
    }
    fn global_cancel(&mut self) {
        self.inner.global_cancel();
    }
    fn check_positions(&mut self) {
        self.inner.check_positions();
    }
    fn trading_epoch(&mut self, epoch: u64) {
        self.inner.trading_epoch(epoch);
    }
}

/// What the pump has seen of the adapter's messages.
#[derive(Debug, Default)]
struct Seen {
    /// `Connected` events (every (re)connect and restore announces one before reconciling).
    connects: u64,
    /// Whether a `Reconciled` came after the latest `Connected`.
    reconciled_since_connect: bool,
    /// `Disconnected` events.
    disconnects: u64,
    /// `Connection(ConnectivityLost)` events.
    connectivity_lost: u64,
    /// Every execution the engine was told of, by exec id: (order id, shares); and how many repeats.
    executions: BTreeMap<String, (i32, Decimal)>,
    repeated_executions: u64,
    /// Reconciliation mismatches reported.
    mismatches: Vec<String>,
    /// Position checks after which a position differed (unconfirmed: a second check decides).
    position_differences: u64,
    /// The latest AAPL position IB's position stream reported, and the signed shares of the executions
    /// the engine applied after it (the engine adds each new execution to the position it holds).
    last_position: Option<Decimal>,
    applied_since_position: Decimal,
}

type Trace = Arc<Mutex<Vec<String>>>;

/// Scenarios started in this process (for unique state dirs).
static RUNS: AtomicU64 = AtomicU64::new(0);

struct Run {
    sim: SimHandle,
    engine: Engine<Gate>,
    events: mpsc::Receiver<Msg>,
    cancel: CancellationToken,
    adapter: tokio::task::JoinHandle<()>,
    dir: PathBuf,
    /// Orders handed to the broker so far (the [`Gate`]'s count).
    places: Arc<AtomicU64>,
    seen: Seen,
    trace: Trace,
    started: tokio::time::Instant,
    /// Invariant 3's breaches: orders handed to the broker while the gate should have been shut; and
    /// those that are known bug C.
    gate_breaches: Vec<String>,
    known_breaches: Vec<String>,
    /// The count of places when the kill switch was pressed.
    places_at_kill: Option<u64>,
    /// Whether the known bugs fail the scenario too.
    strict: bool,
    /// An order (its quantity) the trader tries the moment a reconnect is announced.
    ambush: Option<u32>,
}

fn aapl() -> Instrument {
    Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ")
}

fn account() -> AccountId {
    AccountId::parse(ACCOUNT).unwrap()
}

fn ticket(side: Side, qty: u32, limit: &str) -> OrderTicket {
    OrderTicket {
        account: account(),
        instrument: aapl(),
        side,
        quantity: Quantity::parse(&qty.to_string()).unwrap(),
        order_type: OrderType::Limit,
        limit_price: Some(Price::parse(limit).unwrap()),
        stop_price: None,
        tif: Tif::Day,
        outside_rth: false,
    }
}

/// A one-line account of an adapter message for the trace (`None` for the chatty ones).
fn describe(msg: &Msg) -> Option<String> {
    match msg {
        Msg::Broker(BrokerEvent::Quote { .. } | BrokerEvent::Commission { .. }) => None,
        Msg::Broker(BrokerEvent::Connection(c)) => Some(format!("connection: {c}")),
        Msg::Broker(e) => Some(format!("{e:?}")),
        other => Some(format!("{other:?}")),
    }
}

impl Run {
    async fn start(seed: u64, strict: bool, trace: Trace) -> Run {
        let sim = sim::start(
            "127.0.0.1:0".parse().unwrap(),
            SimConfig {
                seed,
                ..SimConfig::default()
            },
        )
        .await
        .unwrap();
        // Quotes stand still (so limit prices are predictable and nothing streams unasked).
        for symbol in ["AAPL", "MSFT", "SPY"] {
            sim.inject(FaultAction::FreezeQuotes {
                symbol: symbol.into(),
            })
            .await
            .unwrap();
        }
        assert!(sim.set_quote("AAPL", BID, ASK, LAST, SIZE).await.unwrap());
        let config = Config::parse(include_str!("../config.example.toml"), Path::new("x.toml")).unwrap();
        let mut profile = config.profiles["paper"].clone();
        profile.port = sim.addr().port();
        profile.policy.session.always_open = true;
        // Unique within the process too: the same seed may run twice at once (the reproductions).
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("cockpit-faults-{}-{run}-{seed:016x}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (tx, events) = mpsc::channel(4096);
        let cancel = CancellationToken::new();
        let (handle, adapter) = broker::spawn(Settings::of(&profile), tx, cancel.clone());
        let places = Arc::new(AtomicU64::new(0));
        let gate = Gate {
            inner: handle,
            places: Arc::clone(&places),
        };
        let engine = Engine::start(
            &dir,
            profile,
            config.agents.clone(),
            &config.hash,
            gate,
            Utc::now(),
        )
        .await
        .unwrap();
        Run {
            sim,
            engine,
            events,
            cancel,
            adapter,
            dir,
            places,
            seen: Seen::default(),
            trace,
            started: tokio::time::Instant::now(),
            gate_breaches: Vec::new(),
            known_breaches: Vec::new(),
            places_at_kill: None,
            strict,
            ambush: None,
        }
    }

    /// Known bug D's footprint, tolerated unless strict: handed to the broker, never acknowledged.
    fn lost_submit(&self, p: &cockpit::app::Proposal) -> bool {
        !self.strict && unacknowledged(p)
    }

    fn places(&self) -> u64 {
        self.places.load(Ordering::SeqCst)
    }

    fn note(&self, line: impl AsRef<str>) {
        let at = self.started.elapsed().as_millis();
        self.trace
            .lock()
            .unwrap()
            .push(format!("{at:>6} ms  {}", line.as_ref()));
    }

    /// Why an order may not go out now, from the engine's own view (`None`: the gate may be open).
    fn gate_shut(&self) -> Option<String> {
        let s = self.engine.state();
        if !s.connected {
            return Some("not connected".into());
        }
        if let Some((cause, _)) = s
            .trading
            .causes()
            .find(|(c, _)| matches!(c, Cause::Unreconciled | Cause::Disconnected))
        {
            return Some(format!("the {} cause is set", cause.label()));
        }
        match &s.connection {
            Connection::Ready => None,
            // The adapter's periodic re-check of a session that already reconciled.
            Connection::Reconciling if self.seen.reconciled_since_connect => None,
            other => Some(format!("the connection is {other}")),
        }
    }

    /// Hands one message to the engine, checking the gate around it (invariant 3).
    async fn feed(&mut self, msg: Msg) {
        let shut = self.gate_shut();
        let reducing_gap = {
            let t = &self.engine.state().trading;
            t.level() == Level::Reducing
                && t.causes()
                    .any(|(c, _)| matches!(c, Cause::Disconnected | Cause::Unreconciled))
        };
        let line = describe(&msg);
        if let Some(line) = &line {
            self.note(line);
        }
        match &msg {
            Msg::Broker(BrokerEvent::Connected { .. }) => {
                self.seen.connects += 1;
                self.seen.reconciled_since_connect = false;
            }
            Msg::Broker(BrokerEvent::Reconciled) => self.seen.reconciled_since_connect = true,
            Msg::Broker(BrokerEvent::Disconnected) => self.seen.disconnects += 1,
            Msg::Broker(BrokerEvent::Connection(Connection::ConnectivityLost)) => {
                self.seen.connectivity_lost += 1;
            }
            Msg::Broker(BrokerEvent::Execution {
                order_id,
                exec_id,
                quantity,
                ..
            }) => {
                if self
                    .seen
                    .executions
                    .insert(exec_id.clone(), (order_id.get(), *quantity))
                    .is_some()
                {
                    self.seen.repeated_executions += 1;
                } else if let Some(p) = self
                    .engine
                    .state()
                    .proposals
                    .values()
                    .find(|p| p.order_id == Some(*order_id))
                {
                    let signed = if p.ticket.side == Side::Buy {
                        *quantity
                    } else {
                        -*quantity
                    };
                    self.seen.applied_since_position += signed;
                }
            }
            Msg::Broker(BrokerEvent::Position {
                account: a,
                instrument,
                quantity,
                ..
            }) if *a == account() && *instrument == aapl() => {
                self.seen.last_position = Some(*quantity);
                self.seen.applied_since_position = Decimal::ZERO;
            }
            Msg::Broker(BrokerEvent::Mismatch { detail }) => self.seen.mismatches.push(detail.clone()),
            _ => {}
        }
        let places = self.places();
        let check = matches!(msg, Msg::Broker(BrokerEvent::PositionCheck { .. }));
        self.engine.handle(msg, Utc::now()).await;
        if check && !self.engine.state().position_watch.differing.is_empty() {
            self.seen.position_differences += 1;
            self.note(format!(
                "positions differ once: {:?}",
                self.engine.state().position_watch.differing
            ));
        }
        let sent = self.places() - places;
        if sent > 0 {
            self.note(format!("{sent} order(s) handed to the broker"));
            if let Some(why) = shut {
                let breach = format!(
                    "{sent} order(s) went out while {why} (message: {})",
                    line.unwrap_or_default()
                );
                if reducing_gap {
                    self.known_breaches
                        .push(format!("{KNOWN_REDUCING_GAP}: {breach}"));
                } else {
                    self.gate_breaches.push(breach);
                }
            }
        }
    }

    /// Feeds the adapter's messages to the engine until `done` holds (bounded by [`WITHIN`]).
    async fn until(&mut self, what: &str, done: impl Fn(&Run) -> bool) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + WITHIN;
        for _ in 0..1_000_000 {
            if done(self) {
                return Ok(());
            }
            let msg = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .map_err(|_| format!("timed out after {WITHIN:?} waiting for {what}"))?
                .ok_or("the adapter stopped")?;
            let connected = matches!(msg, Msg::Broker(BrokerEvent::Connected { .. }));
            self.feed(msg).await;
            if connected && let Some(qty) = self.ambush.take() {
                self.attempt(qty).await;
            }
        }
        Err(format!("no end of messages waiting for {what}"))
    }

    /// Feeds messages until none comes for [`QUIET`] (bounded by [`WITHIN`]).
    async fn settle(&mut self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + WITHIN;
        while tokio::time::Instant::now() < deadline {
            match tokio::time::timeout(QUIET, self.events.recv()).await {
                Ok(Some(msg)) => self.feed(msg).await,
                Ok(None) => return Err("the adapter stopped".into()),
                Err(_) => return Ok(()),
            }
        }
        Err(format!("the adapter never went quiet within {WITHIN:?}"))
    }

    fn describe_state(&self) -> String {
        let s = self.engine.state();
        let causes: Vec<String> = s
            .trading
            .causes()
            .map(|(c, l)| format!("{}→{l:?}", c.label()))
            .collect();
        let alerts: Vec<&str> = s.alerts.iter().rev().take(5).map(|a| a.text.as_str()).collect();
        format!(
            "level {:?}, causes {causes:?}, connection {}, connected {}, latest alerts {alerts:?}",
            s.trading.level(),
            s.connection,
            s.connected
        )
    }

    /// Connected, reconciled, with an AAPL quote; then the trader resumes the way the level asks.
    async fn ready(&mut self, what: &str) -> Result<(), String> {
        let done = |r: &Run| {
            let s = r.engine.state();
            r.gate_shut().is_none()
                && s.connection == Connection::Ready
                && s.quotes
                    .get(&aapl())
                    .is_some_and(|q| q.bid.is_some() && q.ask.is_some())
        };
        self.until(what, done)
            .await
            .map_err(|e| format!("{e} ({})", self.describe_state()))?;
        let typed = match self.engine.state().trading.level() {
            Level::Active => return Ok(()),
            Level::Halted => Some("RESUME".to_string()),
            Level::Reducing => None,
        };
        self.note(format!("trader resumes (typed {typed:?})"));
        self.feed(Msg::Resume { typed }).await;
        if self.engine.state().trading.level() == Level::Active {
            Ok(())
        } else {
            Err(format!("cannot resume: {}", self.describe_state()))
        }
    }

    /// After a (re)connect or restore: `connects` past `since`, reconciled since, and ready.
    async fn reconnected(&mut self, since: u64, what: &str) -> Result<(), String> {
        let back = |r: &Run| r.seen.connects > since && r.seen.reconciled_since_connect;
        self.until(what, back)
            .await
            .map_err(|e| format!("{e} ({})", self.describe_state()))?;
        self.ready(what).await
    }

    async fn inject(&self, fault: FaultAction) {
        self.note(format!("inject {fault:?}"));
        self.sim.inject(fault).await.unwrap();
    }

    /// Re-sets the pinned quote and waits for the engine to hold it fresh (the policy wants it ≤ 5 s old).
    async fn fresh_quote(&mut self) -> Result<(), String> {
        let asked = Utc::now();
        assert!(self.sim.set_quote("AAPL", BID, ASK, LAST, SIZE).await.unwrap());
        self.until("a fresh AAPL quote", |r| {
            r.engine
                .state()
                .quotes
                .get(&aapl())
                .is_some_and(|q| q.received_at >= asked && q.bid.is_some() && q.ask.is_some())
        })
        .await
    }

    /// The trader stages and confirms a limit order; waits until it rests or fills.
    async fn order(&mut self, side: Side, qty: u32, resting: bool) -> Result<ProposalId, String> {
        let id = self.send(side, qty, resting).await?;
        if resting {
            self.until("the order resting", |r| {
                r.engine.state().proposals[&id].broker_status == Some(OrderStatus::Submitted)
            })
            .await?;
        } else {
            self.until("the fill", |r| {
                r.engine.state().proposals[&id].stage == Stage::Done(End::Filled)
            })
            .await?;
        }
        Ok(id)
    }

    /// The trader stages and confirms a limit order; returns once it is handed to the broker.
    async fn send(&mut self, side: Side, qty: u32, resting: bool) -> Result<ProposalId, String> {
        self.fresh_quote().await?;
        let limit = match (side, resting) {
            (Side::Buy, false) => "187.12",
            (Side::Sell, false) => "187.10",
            (Side::Buy, true) => "180.00",
            (Side::Sell, true) => "194.00",
        };
        self.note(format!("trader stages {side:?} {qty} AAPL LMT {limit}"));
        self.feed(Msg::Propose {
            source: Source::Trader,
            ticket: ticket(side, qty, limit),
            note: String::new(),
        })
        .await;
        let (&id, p) = self.engine.state().proposals.last_key_value().unwrap();
        let fingerprint = p
            .fingerprint
            .ok_or_else(|| format!("refused: {:?} ({})", p.violations, self.describe_state()))?;
        self.feed(Msg::Approve {
            id,
            evidence: Evidence::Confirm(fingerprint),
        })
        .await;
        let stage = self.engine.state().proposals[&id].stage;
        if stage != Stage::Sent {
            return Err(format!(
                "proposal {} is {stage} after the approval ({})",
                id.0,
                self.describe_state()
            ));
        }
        Ok(id)
    }

    /// The id a restarted gateway announces: `below` under the highest id used (at least 1).
    fn stale_id(&self, below: i32) -> i32 {
        let used = self.engine.state().order_id_high_water.map_or(0, OrderId::get);
        (used - below).max(1)
    }

    async fn connectivity(&mut self, notices: &[Notice], burst: bool) -> Result<(), String> {
        let since = self.seen.connects;
        let mut restores = 0;
        for &notice in notices {
            let (lost, connects) = (self.seen.connectivity_lost, self.seen.connects);
            match notice {
                Notice::Lost => {
                    self.inject(FaultAction::ConnectivityLost {
                        restore_after: None,
                        data_lost: false,
                    })
                    .await;
                    if !burst {
                        self.until("1100 seen", |r| r.seen.connectivity_lost > lost)
                            .await?;
                    }
                }
                Notice::Restored { data_lost } => {
                    restores += 1;
                    self.inject(FaultAction::ConnectivityRestored { data_lost }).await;
                    if !burst {
                        self.reconnected(connects, "the restore reconciled").await?;
                    }
                }
            }
        }
        // Each restore reconciles once; all of them came through only when the last one did.
        self.reconnected(since + restores - 1, "the last restore reconciled")
            .await
    }

    /// Every working order fills during `outage`; the fills must reach the engine.
    async fn fill_working(&mut self, outage: Outage) -> Result<(), String> {
        let working: Vec<ProposalId> = self
            .engine
            .state()
            .proposals
            .values()
            .filter(|p| p.stage == Stage::Sent && p.is_working() && !self.lost_submit(p))
            .map(|p| p.id)
            .collect();
        let since = self.seen.connects;
        match outage {
            Outage::None => self.inject(FaultAction::FillWorkingOrders).await,
            Outage::Socket => {
                self.inject(FaultAction::DropSocket { client_id: None }).await;
                self.inject(FaultAction::FillWorkingOrders).await;
                self.reconnected(since, "the reconnect after fills while cut off")
                    .await?;
            }
            Outage::Restart { below, down_ms } => {
                let next_valid_id = self.stale_id(below);
                self.inject(FaultAction::Restart {
                    next_valid_id,
                    down: Duration::from_millis(down_ms),
                })
                .await;
                self.inject(FaultAction::FillWorkingOrders).await;
                self.reconnected(since, "the reconnect after a restart with fills")
                    .await?;
            }
            Outage::Connectivity { data_lost } => {
                let lost = self.seen.connectivity_lost;
                self.inject(FaultAction::ConnectivityLost {
                    restore_after: None,
                    data_lost,
                })
                .await;
                self.until("1100 seen", |r| r.seen.connectivity_lost > lost)
                    .await?;
                self.inject(FaultAction::FillWorkingOrders).await;
                self.inject(FaultAction::ConnectivityRestored { data_lost }).await;
                self.reconnected(since, "the restore after fills during 1100")
                    .await?;
            }
        }
        self.until("the fills counted", |r| {
            working.iter().all(|id| {
                let p = &r.engine.state().proposals[id];
                p.filled == p.ticket.quantity.get()
            })
        })
        .await?;
        self.ready("ready after the fills").await
    }

    /// The trader stages and confirms an order that must not go out now: reducing when there is a
    /// position (the most Reducing lets through), at a marketable price. The gate invariant judges it.
    async fn attempt(&mut self, qty: u32) {
        let held = self
            .engine
            .state()
            .positions
            .get(&(account(), aapl()))
            .copied()
            .unwrap_or(Decimal::ZERO);
        let most = held.abs().to_u32().unwrap_or(u32::MAX);
        // Marketable, at prices no other step uses (so no later order is refused as its duplicate).
        let (side, qty, limit) = match held.cmp(&Decimal::ZERO) {
            std::cmp::Ordering::Greater => (Side::Sell, qty.min(most), "187.09"),
            std::cmp::Ordering::Less => (Side::Buy, qty.min(most), "187.13"),
            std::cmp::Ordering::Equal => (Side::Buy, qty, "187.13"),
        };
        self.note(format!(
            "trader tries {side:?} {qty} AAPL LMT {limit} while the gate must be shut ({})",
            self.describe_state()
        ));
        self.feed(Msg::Propose {
            source: Source::Trader,
            ticket: ticket(side, qty, limit),
            note: String::new(),
        })
        .await;
        let (&id, p) = self.engine.state().proposals.last_key_value().unwrap();
        let Some(fingerprint) = p.fingerprint else {
            let codes: Vec<&str> = p.violations.iter().map(|v| v.message.as_str()).collect();
            self.note(format!("refused by the policy: {codes:?}"));
            return;
        };
        self.feed(Msg::Approve {
            id,
            evidence: Evidence::Confirm(fingerprint),
        })
        .await;
        let stage = self.engine.state().proposals[&id].stage;
        self.note(format!("after the approval the order is {stage}"));
    }

    async fn order_while_shut(&mut self, during: Shut, qty: u32) -> Result<(), String> {
        self.fresh_quote().await?;
        let (since, down) = (self.seen.connects, self.seen.disconnects);
        match during {
            Shut::SocketLost => {
                self.inject(FaultAction::DropSocket { client_id: None }).await;
                self.until("the drop seen", |r| {
                    r.seen.disconnects > down || r.seen.connects > since
                })
                .await?;
                if self.engine.state().connected {
                    self.note("the reconnect came first: nothing to try");
                } else {
                    self.attempt(qty).await;
                }
                self.reconnected(since, "the reconnect").await
            }
            Shut::Unreconciled => {
                self.ambush = Some(qty);
                self.inject(FaultAction::DropSocket { client_id: None }).await;
                self.reconnected(since, "the reconnect").await?;
                match self.ambush.take() {
                    None => Ok(()),
                    Some(_) => Err("the reconnect was never announced".into()),
                }
            }
            Shut::ConnectivityLost => {
                let lost = self.seen.connectivity_lost;
                self.inject(FaultAction::ConnectivityLost {
                    restore_after: None,
                    data_lost: false,
                })
                .await;
                self.until("1100 seen", |r| r.seen.connectivity_lost > lost)
                    .await?;
                self.attempt(qty).await;
                self.inject(FaultAction::ConnectivityRestored { data_lost: false })
                    .await;
                self.reconnected(since, "the restore").await
            }
        }
    }

    async fn kill(&mut self) -> Result<(), String> {
        self.note("trader presses the kill switch");
        self.places_at_kill = Some(self.places());
        self.feed(Msg::KillSwitch).await;
        if self.engine.state().trading.level() != Level::Halted {
            return Err(format!("not halted after the kill: {}", self.describe_state()));
        }
        let strict = self.strict;
        self.until("every working order cancelled", |r| {
            r.engine
                .state()
                .proposals
                .values()
                .all(|p| !p.is_working() || (!strict && filled_while_cut_off(p)) || r.lost_submit(p))
        })
        .await
    }

    async fn step(&mut self, step: &Step) -> Result<(), String> {
        self.note(format!("== step {step:?}"));
        match step {
            &Step::Order { side, qty, resting } => self.order(side, qty, resting).await.map(|_| ()),
            Step::DropSocket => {
                let since = self.seen.connects;
                self.inject(FaultAction::DropSocket { client_id: None }).await;
                self.reconnected(since, "the reconnect after a dropped socket")
                    .await
            }
            Step::Connectivity { notices, burst } => self.connectivity(notices, *burst).await,
            &Step::FillWorking { outage } => self.fill_working(outage).await,
            &Step::DuplicateExecution { side, qty } => {
                self.inject(FaultAction::DuplicateExecution).await;
                self.order(side, qty, false).await.map(|_| ())
            }
            &Step::Restart { below, down_ms } => {
                let since = self.seen.connects;
                let next_valid_id = self.stale_id(below);
                self.inject(FaultAction::Restart {
                    next_valid_id,
                    down: Duration::from_millis(down_ms),
                })
                .await;
                self.reconnected(since, "the reconnect after a gateway restart")
                    .await
            }
            &Step::OrderWhileShut { during, qty } => self.order_while_shut(during, qty).await,
            &Step::OrderRacingDrop { side, qty, resting } => {
                let since = self.seen.connects;
                self.send(side, qty, resting).await?;
                self.inject(FaultAction::DropSocket { client_id: None }).await;
                self.reconnected(since, "the reconnect after a drop racing an order")
                    .await
            }
            Step::Kill => self.kill().await,
        }
    }

    /// Stops the engine and the adapter; returns the state dir.
    async fn stop(self) -> PathBuf {
        self.engine.stop().await.unwrap();
        self.cancel.cancel();
        self.adapter.await.unwrap();
        self.sim.shutdown().await;
        self.dir
    }
}

// ---- the broker's truth, read by a separate client ----

#[derive(Debug, Default)]
struct Truth {
    /// Executions of the cockpit's client: order id → exec id → shares.
    fills: BTreeMap<i32, BTreeMap<String, Decimal>>,
    /// Executions reported for another client (the filter must not let any through).
    foreign: Vec<String>,
    /// The account's AAPL position.
    position: Decimal,
    /// Working order ids of the cockpit's client.
    live: BTreeSet<i32>,
}

fn dec(x: f64) -> Decimal {
    Decimal::try_from(x).unwrap().normalize()
}

async fn truth(sim: &SimHandle) -> Result<Truth, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("checker: {what}: {e}");
    let client = tokio::time::timeout(
        WITHIN,
        ibapi::Client::connect(&sim.addr().to_string(), CHECKER_ID),
    )
    .await
    .map_err(|e| fail("connect", &e))?
    .map_err(|e| fail("connect", &e))?;
    let mut t = Truth::default();
    let filter = ExecutionFilter {
        client_id: Some(CLIENT_ID),
        ..ExecutionFilter::default()
    };
    let rows = client
        .executions(filter)
        .await
        .map_err(|e| fail("executions", &e))?
        .collect_to_end_within(WITHIN)
        .await
        .map_err(|e| fail("executions", &e))?;
    for row in rows {
        if let Executions::ExecutionData(e) = row {
            let x = &e.execution;
            if x.client_id == CLIENT_ID {
                t.fills
                    .entry(x.order_id)
                    .or_default()
                    .insert(x.execution_id.clone(), dec(x.shares));
            } else {
                t.foreign.push(format!("{x:?}"));
            }
        }
    }
    let mut positions = client.positions().await.map_err(|e| fail("positions", &e))?;
    let deadline = tokio::time::Instant::now() + WITHIN;
    let mut ended = false;
    for _ in 0..10_000 {
        let item = tokio::time::timeout_at(deadline, positions.next())
            .await
            .map_err(|e| fail("positions", &e))?
            .ok_or("checker: positions ended")?
            .map_err(|e| fail("positions", &e))?;
        match item {
            SubscriptionItem::Data(PositionUpdate::Position(p)) => {
                if p.account == ACCOUNT && p.contract.symbol.0 == "AAPL" {
                    t.position = dec(p.position);
                }
            }
            SubscriptionItem::Data(PositionUpdate::PositionEnd) => {
                ended = true;
                break;
            }
            SubscriptionItem::Notice(_) => {}
        }
    }
    if !ended {
        return Err("checker: positions never ended".into());
    }
    drop(positions);
    let open = client
        .all_open_orders()
        .await
        .map_err(|e| fail("open orders", &e))?
        .collect_to_end_within(WITHIN)
        .await
        .map_err(|e| fail("open orders", &e))?;
    for row in open {
        if let Orders::OrderData(o) = row
            && o.order.client_id == CLIENT_ID
        {
            t.live.insert(o.order_id);
        }
    }
    client.disconnect().await;
    Ok(t)
}

// ---- the invariants ----

/// Every broken invariant, one line each, and the known bugs' occurrences.
fn check(run: &Run, truth: &Truth, ledger: &[LedgerEntry], stats: &SimStats) -> Findings {
    let placed: Vec<&LedgerEntry> = ledger.iter().filter(|e| e.kind == EntryKind::Place).collect();
    let mut f = Findings::default();
    f.gateway(ledger, &placed, stats);
    f.orders(run, truth, &placed);
    f.position(run, truth);
    f.gate(run, truth);
    f.position_check(run);
    f
}

/// What the invariant checks found: breaches, and occurrences of the known bugs below.
#[derive(Debug, Default)]
struct Findings {
    bad: Vec<String>,
    known: Vec<String>,
}

impl Findings {
    /// The breaches that fail a scenario: all of them in strict mode, else those no known bug explains.
    fn failing(self, strict: bool) -> Vec<String> {
        let mut out = self.bad;
        if strict {
            out.extend(self.known);
        }
        out
    }

    /// Invariant 4: nothing twice at the gateway, nothing from anyone else; IB's limits never hit.
    fn gateway(&mut self, ledger: &[LedgerEntry], placed: &[&LedgerEntry], stats: &SimStats) {
        let bad = &mut self.bad;
        let mut ids = BTreeSet::new();
        let mut refs = BTreeSet::new();
        for e in placed {
            if !ids.insert((e.client_id, e.order_id)) {
                bad.push(format!(
                    "order id {:?} placed twice (client {})",
                    e.order_id, e.client_id
                ));
            }
            match &e.order_ref {
                Some(r) if r.starts_with(broker::ORDER_REF_PREFIX) => {
                    if !refs.insert(r.clone()) {
                        bad.push(format!("orderRef {r} sent twice"));
                    }
                }
                other => bad.push(format!(
                    "order {:?} without a cockpit orderRef: {other:?}",
                    e.order_id
                )),
            }
            if e.client_id != CLIENT_ID {
                bad.push(format!("an order from client {}: {e:?}", e.client_id));
            }
            if e.outcome != Outcome::Accepted {
                bad.push(format!(
                    "order {:?} refused at the gateway: {:?}",
                    e.order_id, e.outcome
                ));
            }
        }
        for e in ledger.iter().filter(|e| e.kind == EntryKind::Modify) {
            bad.push(format!(
                "a placeOrder reused the id of a live order (a modify): {e:?}"
            ));
        }
        for code in [100, 101, 103] {
            if stats.errors(code) > 0 {
                bad.push(format!("IB error {code} sent {} time(s)", stats.errors(code)));
            }
        }
    }

    /// Invariants 1 and 2: every order at the gateway is a proposal here, filled as IB says (each
    /// execution once), working here exactly when working at IB; every order sent from here got there.
    fn orders(&mut self, run: &Run, truth: &Truth, placed: &[&LedgerEntry]) {
        let s = run.engine.state();
        for e in placed.iter().filter(|e| e.outcome == Outcome::Accepted) {
            let Some(order_id) = e.order_id else { continue };
            let Some(p) = s
                .proposals
                .values()
                .find(|p| p.order_ref.is_some() && p.order_ref == e.order_ref)
            else {
                self.bad.push(format!(
                    "order {order_id} ({:?}) at the gateway has no proposal",
                    e.order_ref
                ));
                continue;
            };
            self.order(run, truth, p, order_id);
        }
        let at_gateway: BTreeSet<&str> = placed.iter().filter_map(|e| e.order_ref.as_deref()).collect();
        for p in s.proposals.values() {
            let sent = matches!(
                p.stage,
                Stage::Sent | Stage::Done(End::Filled | End::Cancelled | End::BrokerRejected)
            );
            if sent && !p.order_ref.as_deref().is_some_and(|r| at_gateway.contains(r)) {
                let line = format!(
                    "proposal {} is {} but its order {:?} never reached the gateway",
                    p.id.0, p.stage, p.order_ref
                );
                if unacknowledged(p) {
                    self.known.push(format!("{KNOWN_LOST_SUBMIT}: {line}"));
                } else {
                    self.bad.push(line);
                }
            }
        }
        let ids: BTreeSet<i32> = placed.iter().filter_map(|e| e.order_id).collect();
        for id in truth.fills.keys().filter(|id| !ids.contains(id)) {
            self.bad.push(format!(
                "IB reports executions of order {id}, which the ledger does not have"
            ));
        }
        for x in &truth.foreign {
            self.bad.push(format!(
                "the execution filter let another client's execution through: {x}"
            ));
        }
    }

    /// One order at the gateway against its proposal.
    fn order(&mut self, run: &Run, truth: &Truth, p: &cockpit::app::Proposal, order_id: i32) {
        let label = format!("proposal {} (order {order_id}, {:?})", p.id.0, p.order_ref);
        if p.order_id.map(OrderId::get) != Some(order_id) {
            self.bad
                .push(format!("{label}: the proposal's order id is {:?}", p.order_id));
        }
        let ib: Decimal = truth
            .fills
            .get(&order_id)
            .map_or(Decimal::ZERO, |f| f.values().sum());
        if p.filled != ib {
            self.bad
                .push(format!("{label}: filled {} here, {ib} at IB", p.filled));
        }
        let once: Decimal = run
            .seen
            .executions
            .values()
            .filter(|(id, _)| *id == order_id)
            .map(|(_, q)| *q)
            .sum();
        if p.filled != once {
            self.bad.push(format!(
                "{label}: filled {} but its distinct executions sum to {once}",
                p.filled
            ));
        }
        let live = truth.live.contains(&order_id);
        if p.is_working() && !live && filled_while_cut_off(p) && p.filled == ib {
            self.known.push(format!(
                "{KNOWN_STALE_STATUS}: {label}: working here (stage {}, status {:?}, filled {}), done at IB",
                p.stage, p.broker_status, p.filled
            ));
        } else if p.is_working() != live {
            self.bad.push(format!(
                "{label}: {} here (stage {}, status {:?}, filled {}) but {} at IB",
                if p.is_working() { "working" } else { "done" },
                p.stage,
                p.broker_status,
                p.filled,
                if live { "working" } else { "done" }
            ));
        }
    }

    /// Invariant 1: the AAPL position here equals IB's.
    fn position(&mut self, run: &Run, truth: &Truth) {
        let here = run
            .engine
            .state()
            .positions
            .get(&(account(), aapl()))
            .copied()
            .unwrap_or(Decimal::ZERO);
        if here == truth.position {
            return;
        }
        let line = format!("AAPL position {here} here, {} at IB", truth.position);
        let twice = run.seen.applied_since_position;
        if run.seen.last_position == Some(truth.position) && here == truth.position + twice {
            self.known.push(format!(
                "{KNOWN_POSITION_TWICE}: {line}: IB's position stream said {}, then executions of {twice} \
                 shares already in it were added",
                truth.position
            ));
        } else {
            self.bad.push(line);
        }
    }

    /// Invariant 6: the position check never alarmed (no scenario moves a position behind the cockpit's
    /// back, so every alarm is a false one, e.g. a fill in flight during a check taken for a difference).
    fn position_check(&mut self, run: &Run) {
        let s = run.engine.state();
        for alert in s
            .alerts
            .iter()
            .filter(|a| a.text.starts_with("position mismatch"))
        {
            self.bad.push(format!("a false position alarm: {}", alert.text));
        }
        if s.position_watch.mismatch {
            self.bad.push("the position check holds trading down".into());
        }
    }

    /// Invariant 3: the gate never opened while it should have been shut. And P7: nothing after the
    /// kill switch, and nothing left working at IB.
    fn gate(&mut self, run: &Run, truth: &Truth) {
        self.bad.extend(run.gate_breaches.iter().cloned());
        self.known.extend(run.known_breaches.iter().cloned());
        if let Some(at_kill) = run.places_at_kill {
            let places = run.places();
            if places != at_kill {
                self.bad.push(format!(
                    "{} order(s) handed to the broker after the kill switch",
                    places - at_kill
                ));
            }
            if !truth.live.is_empty() {
                self.bad.push(format!(
                    "orders still working at IB after the kill: {:?}",
                    truth.live
                ));
            }
        }
    }
}

/// Known bug (reproduced by `fixed_bug_a_a_fill_counts_once_in_the_position`): the engine adds an execution to
/// the position it holds, and also takes IB's absolute position from the position stream; the adapter
/// forwards the two streams from separate tasks, so when IB's position (which already includes the fill)
/// is handled first, the fill is counted twice.
const KNOWN_POSITION_TWICE: &str = "known bug A (a fill counted twice in the position)";
/// Known bug (reproduced by `fixed_bug_b_an_order_filled_while_cut_off_ends_filled`): a reconciliation
/// forwards the executions of an order that filled while the cockpit was cut off, but not its status, so
/// the order stays `Sent`/`Submitted` (working) though IB has it filled; the kill switch then asks IB to
/// cancel it (10148) and waits for a cancel that cannot come.
const KNOWN_STALE_STATUS: &str = "known bug B (an order filled while cut off stays working)";

/// Known bug (reproduced by `fixed_bug_c_no_order_goes_out_while_disconnected_or_unreconciled`):
/// `Disconnected` and `Unreconciled` step trading down to the profile's `on_disconnect` level, Reducing
/// in the example, and Reducing lets a reducing order through the policy; nothing else shuts the gate, so
/// an order is approved and handed to the broker on unreconciled state (during IB's 1100 it reaches IB).
const KNOWN_REDUCING_GAP: &str = "known bug C (a reducing order let out while disconnected or unreconciled)";
/// Known bug (reproduced by `fixed_bug_d_an_order_lost_on_the_way_is_found_not_sent`): an order handed to the
/// broker that never reaches IB — `submit_order` failed on a dead socket (the adapter reports a
/// mismatch), or was written to a socket that died — is never resolved: the reconciliation looks orders up
/// by `orderRef` only for intents in doubt after a restart, so the proposal stays `Sent`/`PendingSubmit`
/// (working, counted by the policy, cancelled in vain by the kill switch) forever.
const KNOWN_LOST_SUBMIT: &str = "known bug D (an order lost on the way to IB stays sent forever)";

/// Bug D's footprint: handed to the broker, and no word from IB about it since.
fn unacknowledged(p: &cockpit::app::Proposal) -> bool {
    p.stage == Stage::Sent && p.broker_status == Some(OrderStatus::PendingSubmit)
}

/// Bug B's footprint: sent, completely filled by executions, yet no final status ever came.
fn filled_while_cut_off(p: &cockpit::app::Proposal) -> bool {
    p.stage == Stage::Sent && p.filled == p.ticket.quantity.get()
}

// ---- one scenario ----

/// What a passing scenario saw.
#[derive(Debug, Default)]
struct Done {
    /// Execution reports the engine got more than once (duplicates and reconciliation replays).
    repeated_executions: u64,
    /// Position checks that differed once (a fill in flight), each cleared by the next check.
    position_differences: u64,
    /// Occurrences of the known bugs (tolerated unless strict).
    known: Vec<String>,
}

/// Whether the footprints of bugs A–D fail the randomized suite: always, since they are fixed, unless
/// `COCKPIT_FAULT_STRICT=0` asks to classify them only (for bisecting).
fn strict() -> bool {
    std::env::var_os("COCKPIT_FAULT_STRICT").is_none_or(|v| v != "0")
}

async fn scenario(seed: u64, steps: Vec<Step>, strict: bool, trace: Trace) -> Result<Done, String> {
    let mut run = Run::start(seed, strict, trace).await;
    run.ready("ready at the start").await?;
    for step in &steps {
        run.step(step).await?;
    }
    run.settle().await?;
    let mut findings = Findings::default();
    // Local state may trail the broker by messages in flight: look again once after a quiet spell.
    for attempt in 0..2 {
        let truth = truth(&run.sim).await?;
        let ledger = run.sim.ledger().await.unwrap();
        let stats = run.sim.stats().await.unwrap();
        findings = check(&run, &truth, &ledger, &stats);
        if findings.bad.is_empty() && findings.known.is_empty() {
            break;
        }
        if attempt == 0 {
            run.note(format!("not yet consistent: {findings:?}"));
            run.settle().await?;
        }
    }
    let known = findings.known.clone();
    let mut problems = findings.failing(strict);
    let repeated_executions = run.seen.repeated_executions;
    let position_differences = run.seen.position_differences;
    let dir = run.stop().await;
    // 5. The journal verifies.
    if let Err(e) = cockpit::journal::verify(&dir) {
        problems.push(format!("journal verify: {e}"));
    }
    // 6. No position mismatch was journaled: no scenario moves a position behind the cockpit's back.
    if let Ok(records) = cockpit::journal::Reader::open(&dir).and_then(|r| r.records(1)) {
        for r in records.iter().filter(|r| r.kind == kinds::POSITION_MISMATCH) {
            problems.push(format!("a false position mismatch was journaled: {}", r.data));
        }
    }
    if problems.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
        Ok(Done {
            repeated_executions,
            position_differences,
            known,
        })
    } else {
        Err(format!(
            "{} (state dir kept: {})",
            problems.join("\n  "),
            dir.display()
        ))
    }
}

fn report(name: &str, steps: &[Step], trace: &Trace, why: &str) -> String {
    let mut out = format!("\n=== {name}\n  {why}\n  steps:\n");
    for (i, step) in steps.iter().enumerate() {
        let _ = writeln!(out, "    {i}: {step:?}");
    }
    let trace = trace.lock().unwrap();
    let skip = trace.len().saturating_sub(TRACE_TAIL);
    let _ = writeln!(out, "  trace (last {} of {}):", trace.len() - skip, trace.len());
    for line in &trace[skip..] {
        let _ = writeln!(out, "    {line}");
    }
    out
}

/// A scenario's seed and steps, and its trace.
type Meta = (String, Vec<Step>, Trace);

/// Runs `scenarios` (seed and steps) concurrently; returns one report per failure, and what the passing
/// ones saw.
/// A scenario to run: its name in reports, its seed (the simulator's too) and its steps.
type Scenario = (String, u64, Vec<Step>);

async fn run_all(scenarios: Vec<Scenario>, strict: bool) -> (Vec<String>, Vec<Done>) {
    // Bounded so that a large soak does not open thousands of sockets at once.
    let permits = Arc::new(Semaphore::new(256));
    let mut set = JoinSet::new();
    let mut meta: HashMap<tokio::task::Id, Meta> = HashMap::new();
    for (name, seed, steps) in scenarios {
        let trace: Trace = Arc::default();
        let (s, t, p) = (steps.clone(), Arc::clone(&trace), Arc::clone(&permits));
        let id = set
            .spawn(async move {
                let _permit = p.acquire_owned().await.unwrap();
                scenario(seed, s, strict, t).await
            })
            .id();
        meta.insert(id, (name, steps, trace));
    }
    let (mut failures, mut passed) = (Vec::new(), Vec::new());
    while let Some(joined) = set.join_next_with_id().await {
        let (id, why) = match joined {
            Ok((_, Ok(done))) => {
                passed.push(done);
                continue;
            }
            Ok((id, Err(why))) => (id, why),
            Err(e) => {
                let id = e.id();
                let why = match e.try_into_panic() {
                    Ok(payload) => payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(ToString::to_string))
                        .unwrap_or_else(|| "a panic".into()),
                    Err(e) => e.to_string(),
                };
                (id, format!("panicked: {why}"))
            }
        };
        let (name, steps, trace) = &meta[&id];
        failures.push(report(name, steps, trace, &why));
    }
    (failures, passed)
}

#[tokio::test(flavor = "multi_thread")]
async fn random_fault_scenarios_end_with_local_state_equal_to_the_brokers() {
    let seeds = seeds();
    let scenarios = seeds
        .iter()
        .map(|&seed| (format!("COCKPIT_FAULT_SEED={seed}"), seed, plan(seed)))
        .collect();
    let (failures, passed) = run_all(scenarios, strict()).await;
    let known: Vec<&str> = passed.iter().flat_map(|d| &d.known).map(String::as_str).collect();
    let count = |bug: &str| known.iter().filter(|k| k.starts_with(bug)).count();
    assert!(
        failures.is_empty(),
        "{} of {} fault scenarios failed (replay one with COCKPIT_FAULT_SEED=<seed>; the passing ones showed \
         known bug A {} and B {} times, and {} position checks that differed once):{}",
        failures.len(),
        seeds.len(),
        count(KNOWN_POSITION_TWICE),
        count(KNOWN_STALE_STATUS),
        passed.iter().map(|d| d.position_differences).sum::<u64>(),
        failures.join("")
    );
    assert_eq!(passed.len(), seeds.len());
    if seeds.len() >= 20 {
        let repeats: u64 = passed.iter().map(|d| d.repeated_executions).sum();
        assert!(
            repeats > 0,
            "no execution was ever reported twice: the suite tests nothing of P13"
        );
    }
}

/// Runs each of `variants` `times` over, concurrently, with the known bugs failing too; panics with the
/// reports.
async fn reproduce(variants: &[&[Step]], times: u64) {
    let scenarios = variants
        .iter()
        .flat_map(|steps| {
            (0..times).map(move |i| (format!("reproduction {i} of {steps:?}"), mix(i), steps.to_vec()))
        })
        .collect();
    let (failures, _) = run_all(scenarios, true).await;
    assert!(failures.is_empty(), "{}", failures.join(""));
}

#[tokio::test(flavor = "multi_thread")]
async fn fixed_bug_a_a_fill_counts_once_in_the_position() {
    let steps = [
        Step::Order {
            side: Side::Buy,
            qty: 10,
            resting: false,
        },
        Step::Order {
            side: Side::Sell,
            qty: 7,
            resting: false,
        },
        Step::Order {
            side: Side::Buy,
            qty: 5,
            resting: true,
        },
        Step::FillWorking { outage: Outage::None },
    ];
    reproduce(&[&steps], 10).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fixed_bug_b_an_order_filled_while_cut_off_ends_filled() {
    let steps = [
        Step::Order {
            side: Side::Buy,
            qty: 10,
            resting: true,
        },
        Step::FillWorking {
            outage: Outage::Socket,
        },
    ];
    reproduce(&[&steps], 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fixed_bug_c_no_order_goes_out_while_disconnected_or_unreconciled() {
    let [lost, unreconciled] = [Shut::ConnectivityLost, Shut::Unreconciled].map(|during| {
        [
            Step::Order {
                side: Side::Buy,
                qty: 10,
                resting: false,
            },
            Step::OrderWhileShut { during, qty: 5 },
        ]
    });
    reproduce(&[&lost, &unreconciled], 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fixed_bug_d_an_order_lost_on_the_way_is_found_not_sent() {
    let racing = [Step::OrderRacingDrop {
        side: Side::Buy,
        qty: 10,
        resting: true,
    }];
    let failed_submit = [
        Step::Order {
            side: Side::Buy,
            qty: 10,
            resting: false,
        },
        Step::OrderWhileShut {
            during: Shut::SocketLost,
            qty: 5,
        },
    ];
    reproduce(&[&racing, &failed_submit], 5).await;
}

#[test]
fn the_generator_covers_every_step_and_keeps_its_bounds() {
    let mut kinds = BTreeSet::new();
    for seed in 0..500 {
        let steps = plan(mix(seed));
        assert_eq!(
            steps,
            plan(mix(seed)),
            "a seed always stands for the same scenario"
        );
        let orders = steps
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    Step::Order { .. }
                        | Step::OrderRacingDrop { .. }
                        | Step::DuplicateExecution { .. }
                        | Step::OrderWhileShut { .. }
                )
            })
            .count();
        assert!(orders <= MAX_ORDERS, "{steps:?}");
        assert!(steps.len() <= MAX_STEPS + 3, "{steps:?}");
        assert!(steps.len() >= 3, "{steps:?}");
        assert!(
            steps
                .iter()
                .position(|s| *s == Step::Kill)
                .is_none_or(|i| i == steps.len() - 1),
            "the kill comes last: {steps:?}"
        );
        for step in &steps {
            if let Step::Connectivity { notices, .. } = step {
                assert!(
                    matches!(notices.last(), Some(Notice::Restored { .. })),
                    "{steps:?}"
                );
            }
            kinds.insert(step.kind());
        }
    }
    assert_eq!(kinds.len(), 15, "{kinds:?}");
}
