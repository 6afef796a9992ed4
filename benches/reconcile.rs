//! Reconnect → reconciled (PERFORMANCE.md M14: ≤ 2 s with 200 open orders and 1,000 executions).
//!
//! A simulator (in process, 127.0.0.1 port 0) gets the book: a raw `ibapi` client connected as client 1
//! (the adapter's client id) places 1,000 marketable 1-share AAPL limit orders (1,000 executions and
//! 1,000 completed orders) and 200 limit orders far under the market (200 open orders), every one with a
//! cockpit `orderRef`, at 45 messages/s. A fresh client 1 then times the adapter's three reconciliation
//! queries on their own (all open orders, completed orders, executions), once with `ibapi`'s default
//! channel capacity (a query's frames beyond 1,024 unread are dropped, and the query fails) and once
//! with `channel_capacity(8192)`; failures are counted, not fatal.
//!
//! Then the broker adapter (`broker::spawn`, the example's paper profile pointed at the simulator)
//! connects as client 1, and the benchmark times, from the events it emits:
//! - the first connect: spawn → `Ready`, and `Connected` (IB's next valid id) → `Ready` (contract
//!   look-ups, subscriptions and the reconciliation);
//! - each reconnect after `DropSocket`: `DropSocket` → `Ready` and `SocketLost` → `Ready` (both include
//!   `ibapi`'s 1 s reconnect backoff; `SocketLost` comes up to 250 ms after the drop) and `Connected` →
//!   `Ready` (the reconciliation itself, which the budget is about), split into `Connected` →
//!   `Reconciling`, `Reconciling` → first `Execution` (the three queries) and first `Execution` → `Ready`
//!   (handing 1,000 executions and 1,000 commissions to the core);
//! - the same with the engine in the loop (a fresh journal in the temp dir): up to the engine having
//!   applied `Ready` (the gate may open), with the journal commits that took and a raw `fsync` probe of
//!   the same disk before and after. The engine is handed what is ready at once, up to 256 messages, as
//!   one batch (`Engine::handle_all`: one commit for the batch's records that need no sync). After its
//!   first connect the engine's position baseline is confirmed (the check the core asks for a few seconds
//!   after taking it) before the reconnects are measured.
//!
//! Every reconciliation ends with a snapshot of the positions (after the executions), so `first
//! Execution` → `Ready` holds the positions query too.
//!
//! A reconciliation the adapter reports incomplete is counted and timed as a failure. Executions and
//! commissions arriving outside a reconciliation are counted (nothing fills during the benchmark, so they
//! are copies). The events channel (bounded, 4096 like the crash child's) is drained all the time, and
//! between rounds until quiet; every wait is bounded. Prints p50 and p99 of each measure and the cores.
//!
//! Run: `cargo bench --bench reconcile`

#![expect(clippy::unwrap_used, clippy::print_stdout, reason = "a benchmark")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use cockpit::app::{BrokerEvent, Connection, Engine, Msg};
use cockpit::broker::{self, BrokerHandle, Settings, convert};
use cockpit::config::{Config, Profile};
use cockpit::domain::{
    AccountId, Currency, Instrument, OrderTicket, OrderType, Price, Quantity, Side, Symbol, Tif,
};
use cockpit::sim::{self, FaultAction, SimConfig, SimHandle};
use ibapi::orders::{ExecutionFilter, Executions, Orders};
use ibapi::{Client, RateLimiter};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The bound on waiting for any one state.
const WITHIN: Duration = Duration::from_secs(30);
/// The adapter's client id in the example's paper profile.
const CLIENT_ID: i32 = 1;

/// `cargo bench` passes `--bench`; under `cargo test` the book and the rounds shrink to a smoke test.
fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The book and how many times each measure is taken.
struct Plan {
    executions: usize,
    open: usize,
    rounds: usize,
    engine_rounds: usize,
}

impl Plan {
    fn new() -> Plan {
        if benching() {
            Plan {
                executions: 1000,
                open: 200,
                rounds: 20,
                engine_rounds: 10,
            }
        } else {
            Plan {
                executions: 20,
                open: 5,
                rounds: 2,
                engine_rounds: 1,
            }
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(&Plan::new()));
}

async fn run(plan: &Plan) {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!(
        "cargo bench --bench reconcile: {} open orders, {} executions, {cores} cores",
        plan.open, plan.executions
    );
    let sim = sim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default())
        .await
        .unwrap();
    sim.inject(FaultAction::FreezeQuotes {
        symbol: "AAPL".into(),
    })
    .await
    .unwrap();
    assert!(
        sim.set_quote("AAPL", 18_710, 18_712, 18_711, 1_000_000)
            .await
            .unwrap()
    );
    let started = Instant::now();
    let client = seed(&sim, plan).await;
    println!(
        "seeded in {:.1} s (at 45 messages/s)",
        started.elapsed().as_secs_f64()
    );
    // A fresh connection: the seeding one holds a backlog of its orders' unread updates.
    client.disconnect().await;
    gone(&sim).await;
    for (capacity, label) in [
        (None, "ibapi's default channel capacity"),
        (Some(8192), "channel_capacity(8192)"),
    ] {
        let client = connect(&sim, capacity).await;
        queries_alone(&client, plan, label).await;
        client.disconnect().await;
        gone(&sim).await;
    }

    let (profile, config) = profile(&sim);
    adapter_alone(&sim, &profile, plan).await;
    with_engine(&sim, profile, &config, plan).await;
    let stats = sim.stats().await.unwrap();
    assert_eq!(stats.rate_disconnects, 0, "nobody exceeded 50 messages/s");
    sim.shutdown().await;
}

/// The example's paper profile, pointed at the simulator, open around the clock.
fn profile(sim: &SimHandle) -> (Profile, Config) {
    let config = Config::parse(include_str!("../config.example.toml"), Path::new("x.toml")).unwrap();
    let mut profile = config.profiles["paper"].clone();
    profile.port = sim.addr().port();
    profile.policy.session.always_open = true;
    (profile, config)
}

fn ticket(limit: &str) -> OrderTicket {
    OrderTicket {
        account: AccountId::parse("DU1234567").unwrap(),
        instrument: Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ"),
        side: Side::Buy,
        quantity: Quantity::parse("1").unwrap(),
        order_type: OrderType::Limit,
        limit_price: Some(Price::parse(limit).unwrap()),
        stop_price: None,
        tif: Tif::Day,
        outside_rth: false,
    }
}

/// A raw `ibapi` client connected as client 1, at 45 messages/s like the adapter.
/// `capacity` raises `ibapi`'s per-route channel capacity (its default is 1024 frames).
async fn connect(sim: &SimHandle, capacity: Option<usize>) -> Client {
    let mut builder = Client::builder()
        .address(sim.addr().to_string())
        .client_id(CLIENT_ID)
        .rate_limiter(RateLimiter::per_second(45));
    if let Some(capacity) = capacity {
        builder = builder.channel_capacity(capacity);
    }
    let connect = builder.connect();
    tokio::time::timeout(WITHIN, connect).await.unwrap().unwrap()
}

/// Places the book as client 1: `executions` marketable 1-share buys (each fills at once), then `open`
/// buys far under the market (they rest). Returns the client, still connected.
async fn seed(sim: &SimHandle, plan: &Plan) -> Client {
    let client = connect(sim, None).await;
    let first = client.next_valid_order_id().await.unwrap();
    let contract = ibapi::contracts::Contract::stock("AAPL").build();
    let (marketable, resting) = (ticket("188.00"), ticket("150.00"));
    for i in 0..plan.executions + plan.open {
        let t = if i < plan.executions {
            &marketable
        } else {
            &resting
        };
        let id = first + i32::try_from(i).unwrap();
        let mut order = convert::order(t, id, &format!("ck-p{}-v1-i{}", i + 1, i + 1));
        order.account = "DU1234567".into();
        client.submit_order(id, &contract, &order).await.unwrap();
    }
    client
}

/// Reads `request` to its end marker, within [`WITHIN`] (`ibapi` does not name the bound a generic
/// version would need); an error (a lagging route's notice) is returned, a timeout is a panic.
macro_rules! all {
    ($request:expr) => {{
        let mut sub = $request.await.unwrap();
        tokio::time::timeout(WITHIN, sub.collect_to_end_within(WITHIN))
            .await
            .unwrap()
    }};
}

/// Timings of one query, and how often it failed (with the last error).
#[derive(Default)]
struct Query {
    took: Vec<Duration>,
    failed: usize,
    error: Option<String>,
}

impl Query {
    /// Times `result`'s query (started at `t0`); returns its rows if it succeeded.
    fn note<T>(&mut self, t0: Instant, result: Result<Vec<T>, ibapi::Error>) -> Option<Vec<T>> {
        match result {
            Ok(rows) => {
                self.took.push(t0.elapsed());
                Some(rows)
            }
            Err(e) => {
                self.failed += 1;
                self.error = Some(e.to_string());
                None
            }
        }
    }

    fn report(&mut self, what: &str, rounds: usize) {
        if !self.took.is_empty() {
            report(what, &mut self.took);
        }
        if let Some(error) = &self.error {
            println!("{what}: FAILED {} of {rounds}: {error}", self.failed);
        }
    }
}

/// The adapter's three reconciliation queries, each timed on its own (the same calls, one after the
/// other, as client 1), `rounds` times; checks the rows of every query that succeeded.
async fn queries_alone(client: &Client, plan: &Plan, label: &str) {
    let (mut open, mut completed, mut executions) = (Query::default(), Query::default(), Query::default());
    let mut total = Vec::new();
    let count_orders = |rows: &[Orders]| rows.iter().filter(|r| matches!(r, Orders::OrderData(_))).count();
    for _ in 0..plan.rounds {
        let t0 = Instant::now();
        let rows = open.note(t0, all!(client.all_open_orders()));
        let t1 = Instant::now();
        let done = completed.note(t1, all!(client.completed_orders(false)));
        let t2 = Instant::now();
        let execs = executions.note(t2, all!(client.executions(ExecutionFilter::default())));
        if let Some(rows) = &rows {
            assert_eq!(count_orders(rows), plan.open, "open orders");
        }
        if let Some(done) = &done {
            assert_eq!(count_orders(done), plan.executions, "completed orders");
        }
        if let Some(execs) = &execs {
            let fills = execs
                .iter()
                .filter(|e| matches!(e, Executions::ExecutionData(_)))
                .count();
            assert_eq!(fills, plan.executions, "executions");
        }
        if rows.is_some() && done.is_some() && execs.is_some() {
            total.push(t0.elapsed());
        }
    }
    println!(
        "the three queries alone, raw ibapi client 1, {label} (x{}):",
        plan.rounds
    );
    open.report("  all open orders", plan.rounds);
    completed.report("  completed orders", plan.rounds);
    executions.report("  executions (+ commission reports)", plan.rounds);
    if !total.is_empty() {
        report("  all three", &mut total);
    }
}

/// Waits until the simulator no longer has client 1 connected.
async fn gone(sim: &SimHandle) {
    let deadline = Instant::now() + WITHIN;
    while sim.stats().await.unwrap().live_clients.contains(&CLIENT_ID) {
        assert!(Instant::now() < deadline, "client 1 is still connected");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What a reconciliation that did not complete says.
const INCOMPLETE: &str = "reconciliation incomplete";

/// When each event of one connect or reconnect arrived.
#[derive(Default, Debug)]
struct Timeline {
    /// `DropSocket` has taken effect at the simulator (the fault's round trip returned).
    dropped: Option<Instant>,
    lost: Option<Instant>,
    connected: Option<Instant>,
    reconciling: Option<Instant>,
    first_execution: Option<Instant>,
    reconciled: Option<Instant>,
    ready: Option<Instant>,
    /// The adapter said the reconciliation was incomplete (a query failed): no `Ready` follows.
    incomplete: Option<Instant>,
    executions: usize,
    commissions: usize,
    external: usize,
    /// Executions and commissions that arrived outside a reconciliation (before `Reconciling`, i.e.
    /// after the previous round's `Ready`): no fill happens during the benchmark.
    stray_executions: usize,
    stray_commissions: usize,
    mismatches: Vec<String>,
    /// With the engine: the journal commits from `Reconciling` to the engine having applied `Ready`.
    commits: Option<u64>,
}

impl Timeline {
    /// Notes `msg`, received at `at`; returns whether the connect or reconnect under way is over: `Ready`,
    /// or a reconciliation the adapter gave up as incomplete.
    fn note(&mut self, msg: &Msg, at: Instant) -> bool {
        let Msg::Broker(event) = msg else { return false };
        match event {
            BrokerEvent::Connection(Connection::SocketLost) => self.lost = Some(at),
            // The first connect says `Connected { next_valid_id }` only; a reconnect says both.
            BrokerEvent::Connected { .. } => {
                self.connected.get_or_insert(at);
            }
            BrokerEvent::Connection(Connection::Reconciling) if self.connected.is_some() => {
                self.reconciling = Some(at);
                self.first_execution = None;
                self.executions = 0;
                self.commissions = 0;
                self.external = 0;
            }
            BrokerEvent::Execution { .. } if self.reconciling.is_some() => {
                self.first_execution.get_or_insert(at);
                self.executions += 1;
            }
            BrokerEvent::Execution { .. } => self.stray_executions += 1,
            BrokerEvent::Commission { .. } if self.reconciling.is_none() => self.stray_commissions += 1,
            BrokerEvent::Commission { .. } => self.commissions += 1,
            BrokerEvent::ExternalOrder { .. } => self.external += 1,
            BrokerEvent::Mismatch { detail } => {
                self.mismatches.push(detail.clone());
                if self.reconciling.is_some() && detail.contains(INCOMPLETE) {
                    self.incomplete = Some(at);
                    return true;
                }
            }
            BrokerEvent::Reconciled if self.reconciling.is_some() => self.reconciled = Some(at),
            BrokerEvent::Connection(Connection::Ready) if self.reconciled.is_some() => {
                self.ready = Some(at);
                return true;
            }
            _ => {}
        }
        false
    }

    /// A complete reconciliation saw the whole book.
    fn check(&self, plan: &Plan) {
        if self.ready.is_none() {
            return;
        }
        assert!(self.mismatches.is_empty(), "{:?}", self.mismatches);
        assert_eq!(self.executions, plan.executions, "executions reconciled");
        assert_eq!(self.commissions, plan.executions, "commissions reconciled");
        assert_eq!(self.external, 0, "every open order is the cockpit's");
    }

    fn span(from: Option<Instant>, to: Option<Instant>) -> Duration {
        to.unwrap() - from.unwrap()
    }
}

/// Samples of the phases of connects or reconnects.
#[derive(Default)]
struct Samples {
    dropped_to_ready: Vec<Duration>,
    lost_to_ready: Vec<Duration>,
    connected_to_ready: Vec<Duration>,
    connected_to_reconciling: Vec<Duration>,
    queries: Vec<Duration>,
    handing_over: Vec<Duration>,
    /// `Connected` → the adapter's "reconciliation incomplete", for those that failed.
    failed: Vec<Duration>,
    failure: Option<String>,
    stray_executions: usize,
    stray_commissions: usize,
    commits: Vec<u64>,
}

impl Samples {
    fn add(&mut self, t: &Timeline) {
        self.stray_executions += t.stray_executions;
        self.stray_commissions += t.stray_commissions;
        if t.connected.is_none() {
            return; // only strays (the drain after the last round)
        }
        if t.incomplete.is_some() {
            self.failed.push(Timeline::span(t.connected, t.incomplete));
            self.failure = t.mismatches.last().cloned();
            return;
        }
        if t.dropped.is_some() {
            self.dropped_to_ready.push(Timeline::span(t.dropped, t.ready));
        }
        if t.lost.is_some() {
            self.lost_to_ready.push(Timeline::span(t.lost, t.ready));
        }
        self.connected_to_ready.push(Timeline::span(t.connected, t.ready));
        self.commits.extend(t.commits);
        self.connected_to_reconciling
            .push(Timeline::span(t.connected, t.reconciling));
        if t.first_execution.is_some() {
            self.queries
                .push(Timeline::span(t.reconciling, t.first_execution));
            self.handing_over.push(Timeline::span(t.first_execution, t.ready));
        }
    }

    fn report(&mut self, connected: &str, ready: &str) {
        let (complete, failed) = (self.connected_to_ready.len(), self.failed.len());
        println!("  complete reconciliations: {complete} of {}", complete + failed);
        println!(
            "  after Ready, outside any reconciliation: {} executions, {} commissions",
            self.stray_executions, self.stray_commissions
        );
        if failed > 0 {
            report(
                &format!("  {connected} -> \"{INCOMPLETE}\" (failed)"),
                &mut self.failed,
            );
            println!("  last failure: {}", self.failure.as_deref().unwrap_or(""));
        }
        if complete == 0 {
            return;
        }
        if !self.dropped_to_ready.is_empty() {
            report(&format!("  DropSocket -> {ready}"), &mut self.dropped_to_ready);
        }
        if !self.lost_to_ready.is_empty() {
            report(&format!("  SocketLost -> {ready}"), &mut self.lost_to_ready);
        }
        report(&format!("  {connected} -> {ready}"), &mut self.connected_to_ready);
        report(
            &format!("    {connected} -> Reconciling"),
            &mut self.connected_to_reconciling,
        );
        report(
            "    Reconciling -> first Execution (the three queries)",
            &mut self.queries,
        );
        report(
            &format!(
                "    first Execution -> {ready} (executions and commissions handed over, positions read)"
            ),
            &mut self.handing_over,
        );
        if !self.commits.is_empty() {
            self.commits.sort_unstable();
            println!(
                "    journal commits from Reconciling to {ready}: min {}, max {}",
                self.commits[0],
                self.commits[self.commits.len() - 1]
            );
        }
    }
}

/// Receives the next message within `deadline`.
async fn recv(events: &mut mpsc::Receiver<Msg>, deadline: Instant, what: &str) -> (Msg, Instant) {
    let msg = tokio::time::timeout_at(deadline.into(), events.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .expect("the adapter runs");
    (msg, Instant::now())
}

/// The most messages handed to the engine at once.
const BATCH: usize = 256;

/// Receives the next message within `deadline`, then what else is ready at once (up to [`BATCH`]), noting
/// each in `t` and stopping after the one that ends the connect or reconnect under way. Returns the batch
/// and whether it is over.
async fn next_batch(
    events: &mut mpsc::Receiver<Msg>,
    deadline: Instant,
    t: &mut Timeline,
) -> (Vec<Msg>, bool) {
    let (msg, at) = recv(events, deadline, "Ready").await;
    let mut over = t.note(&msg, at);
    let mut batch = vec![msg];
    while !over
        && batch.len() < BATCH
        && let Ok(msg) = events.try_recv()
    {
        over = t.note(&msg, Instant::now());
        batch.push(msg);
    }
    (batch, over)
}

/// Drains the events until the connect or reconnect under way is `Ready` (or its reconciliation failed);
/// with the engine in the loop, until the engine has applied it. The engine gets what is ready at once as
/// one batch (`Engine::handle_all`: one journal commit for the records of the batch that need no sync).
async fn until_ready(
    events: &mut mpsc::Receiver<Msg>,
    mut engine: Option<&mut Engine<BrokerHandle>>,
    dropped: Option<Instant>,
) -> Timeline {
    let deadline = Instant::now() + WITHIN;
    let mut t = Timeline {
        dropped,
        ..Timeline::default()
    };
    let commits = |e: &Engine<BrokerHandle>| e.journal().status().borrow().commits;
    let mut commits_at_reconciling = None;
    loop {
        let (batch, over) = next_batch(events, deadline, &mut t).await;
        if let Some(engine) = engine.as_deref_mut() {
            let reconciling =
                |m: &Msg| matches!(m, Msg::Broker(BrokerEvent::Connection(Connection::Reconciling)));
            if batch.iter().any(reconciling) {
                // From the start of the batch that holds `Reconciling`.
                commits_at_reconciling = Some(commits(engine));
            }
            engine.handle_all(batch, Utc::now()).await;
            if over && t.ready.is_some() {
                t.ready = Some(Instant::now());
                t.commits = commits_at_reconciling.map(|c| commits(engine) - c);
                let unreconciled = engine
                    .state()
                    .trading
                    .causes()
                    .any(|(c, _)| c == cockpit::policy::Cause::Unreconciled);
                assert!(!unreconciled, "the engine is reconciled");
            }
        }
        if over {
            return t;
        }
    }
}

/// Lets the previous round's aftermath pass: drains (and applies) until nothing arrives for 300 ms.
/// Returns what arrived (strays only: nothing else happens).
async fn settle(events: &mut mpsc::Receiver<Msg>, mut engine: Option<&mut Engine<BrokerHandle>>) -> Timeline {
    let deadline = Instant::now() + WITHIN;
    let mut t = Timeline::default();
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(300), events.recv()).await {
        assert!(Instant::now() < deadline, "the events never settle");
        t.note(&msg, Instant::now());
        if let Some(engine) = engine.as_deref_mut() {
            engine.handle(msg, Utc::now()).await;
        }
    }
    t
}

/// After the engine's first connect: drains (and applies) until the engine's position baseline is
/// confirmed — the check the core asks for a few seconds after taking it — so that no such check falls
/// into a measured reconnect. Not timed: its events are neither strays nor a measured reconciliation.
async fn confirm_baseline(events: &mut mpsc::Receiver<Msg>, engine: &mut Engine<BrokerHandle>) {
    let deadline = Instant::now() + WITHIN;
    while engine.state().position_watch.baseline != cockpit::app::Baseline::Confirmed {
        let (msg, _) = recv(events, deadline, "the position baseline confirmed").await;
        engine.handle(msg, Utc::now()).await;
    }
}

struct Adapter {
    events: mpsc::Receiver<Msg>,
    handle: BrokerHandle,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Adapter {
    fn spawn(profile: &Profile) -> Adapter {
        let (tx, events) = mpsc::channel(4096);
        let cancel = CancellationToken::new();
        let (handle, task) = broker::spawn(Settings::of(profile), tx, cancel.clone());
        Adapter {
            events,
            handle,
            cancel,
            task,
        }
    }

    async fn stop(self, sim: &SimHandle) {
        self.cancel.cancel();
        tokio::time::timeout(WITHIN, self.task).await.unwrap().unwrap();
        gone(sim).await;
    }
}

/// Drops every socket and times the adapter's way back to `Ready`.
async fn reconnect(
    sim: &SimHandle,
    events: &mut mpsc::Receiver<Msg>,
    mut engine: Option<&mut Engine<BrokerHandle>>,
    samples: &mut Samples,
    plan: &Plan,
) -> Timeline {
    samples.add(&settle(events, engine.as_deref_mut()).await);
    sim.inject(FaultAction::DropSocket { client_id: None })
        .await
        .unwrap();
    let t = until_ready(events, engine, Some(Instant::now())).await;
    assert!(t.lost.is_some(), "the adapter saw the socket go");
    t.check(plan);
    t
}

async fn adapter_alone(sim: &SimHandle, profile: &Profile, plan: &Plan) {
    let mut first = Samples::default();
    let mut spawn_to_ready = Vec::new();
    let mut adapter = None;
    for round in 0..plan.rounds {
        let spawned = Instant::now();
        let mut a = Adapter::spawn(profile);
        let t = until_ready(&mut a.events, None, None).await;
        t.check(plan);
        if let Some(ready) = t.ready {
            spawn_to_ready.push(ready - spawned);
        }
        first.add(&t);
        first.add(&settle(&mut a.events, None).await);
        if round + 1 < plan.rounds {
            a.stop(sim).await;
        } else {
            adapter = Some(a);
        }
    }
    println!("adapter alone, first connect (x{}):", plan.rounds);
    if !spawn_to_ready.is_empty() {
        report("  spawn -> Ready", &mut spawn_to_ready);
    }
    first.report("Connected", "Ready");

    let mut a = adapter.unwrap();
    let mut again = Samples::default();
    for _ in 0..plan.rounds {
        let t = reconnect(sim, &mut a.events, None, &mut again, plan).await;
        again.add(&t);
    }
    again.add(&settle(&mut a.events, None).await);
    println!("adapter alone, reconnect after DropSocket (x{}):", plan.rounds);
    again.report("Connected", "Ready");
    a.stop(sim).await;
}

async fn with_engine(sim: &SimHandle, profile: Profile, config: &Config, plan: &Plan) {
    let dir = Dir::new("engine");
    fsync_floor(&dir.0, "before");
    let mut a = Adapter::spawn(&profile);
    let mut engine = Engine::start(
        &dir.0,
        profile,
        config.agents.clone(),
        &config.hash,
        a.handle.clone(),
        Utc::now(),
    )
    .await
    .unwrap();
    let mut first = Samples::default();
    let t = until_ready(&mut a.events, Some(&mut engine), None).await;
    t.check(plan);
    first.add(&t);
    confirm_baseline(&mut a.events, &mut engine).await;
    first.add(&settle(&mut a.events, Some(&mut engine)).await);
    println!("adapter + engine, first connect (x1):");
    first.report("Connected", "engine applied Ready");
    let mut again = Samples::default();
    for _ in 0..plan.engine_rounds {
        let t = reconnect(sim, &mut a.events, Some(&mut engine), &mut again, plan).await;
        again.add(&t);
    }
    again.add(&settle(&mut a.events, Some(&mut engine)).await);
    println!(
        "adapter + engine, reconnect after DropSocket (x{}):",
        plan.engine_rounds
    );
    again.report("Connected", "engine applied Ready");
    let mut spans = again.connected_to_ready.clone();
    spans.sort_unstable();
    if !spans.is_empty() {
        let at = |q: usize| spans[(spans.len() * q).div_ceil(100).max(1) - 1].as_secs_f64() * 1e3;
        println!(
            "ROW|M14|reconnect → reconciled, {} open orders + {} executions (adapter + engine): p50 / p99|≤ 2 s|{:.0} / {:.0} ms",
            plan.open,
            plan.executions,
            at(50),
            at(99)
        );
    }
    engine.stop().await.unwrap();
    a.stop(sim).await;
    let records = cockpit::journal::Reader::open(&dir.0)
        .unwrap()
        .records(1)
        .unwrap();
    let commissions = records
        .iter()
        .filter(|r| r.kind == cockpit::journal::kinds::BROKER_EVENT && r.data["event"] == "commission")
        .count();
    println!(
        "  journal: {} records, {commissions} of them commissions, after {} reconciliations (and the \
         baseline's position re-check)",
        records.len(),
        1 + plan.engine_rounds
    );
    fsync_floor(&dir.0, "after");
}

/// The disk's floor for a synced commit, in the same run: write 4 KiB and `fsync`, 200 times.
fn fsync_floor(dir: &Path, when: &str) {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = std::fs::File::create(dir.join("raw")).unwrap();
    let page = [0x5a_u8; 4096];
    let mut took: Vec<Duration> = (0..200)
        .map(|_| {
            let start = Instant::now();
            file.seek(SeekFrom::Start(0)).unwrap();
            file.write_all(&page).unwrap();
            file.sync_all().unwrap();
            start.elapsed()
        })
        .collect();
    report(
        &format!("  raw fsync of 4 KiB in the journal's dir, {when} the engine pass"),
        &mut took,
    );
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let path =
            std::env::temp_dir().join(format!("cockpit-bench-reconcile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Prints p50 and p99 (nearest rank: with 20 samples p99 is the largest) of `samples`.
fn report(what: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let at = |q: usize| samples[(samples.len() * q).div_ceil(100).max(1) - 1];
    println!(
        "{what}: p50 {:.1} ms, p99 {:.1} ms (n = {})",
        at(50).as_secs_f64() * 1e3,
        at(99).as_secs_f64() * 1e3,
        samples.len()
    );
}
