//! Approvals and an agent flood through the full stack (PERFORMANCE M11, M13): the real app shell
//! (`shell::run`, headless) drawing 200×50 through ratatui's crossterm backend and the cockpit's frame
//! writer, the trader's keys from a channel, real MCP clients (`rmcp`) on `STATE/agent.sock`, against
//! `cockpit sim` run as a child process on 127.0.0.1 (port 0) with its ledger file — the simulator's own
//! record of every `placeOrder`, stamped when its exchange processes it.
//!
//! Phases, each with a fresh simulator, state dir and shell; every instrument of the simulator allowed and
//! quoted, the daily and per-minute order limits raised so that no approval is refused for them:
//! - `rest` (the simulator's ordinary walk) and `flood` (10,000 broker events (tick messages) a second): a prepare-level
//!   agent stages a marketable 1–3-share limit order (1 % through the touch, so it fills at once and the
//!   Staged Orders pane holds only the next one), the trader selects it and approves it — `a`, then `y` on
//!   the Confirm dialog, the tier a prepare-level agent's order gets on the paper profile — with the keys
//!   paced past the 300 ms discard window. M11 is the simulator's ledger `time` of that order (matched by
//!   the cockpit's `orderRef`, checked against the journal's intent) minus the wall clock read just before
//!   `y` went into the key channel: the key's read, the engine's approval, the journal's synced commit,
//!   the adapter, the loopback socket and the simulator's decode. The journal's approval record (stamped
//!   when the engine took the key's message) splits it in two.
//! - `agents` (M13): 10,000 broker events (tick messages) a second, and for 10 s eight MCP sessions of one execute-level
//!   agent making 1,000 calls a second together — mostly reads, with `stage_order` + `cancel_proposal`,
//!   `recommend` and `report_status` — while a ninth session submits five small marketable orders a second
//!   (`stage_order` + `submit_order`, below the manual-approval threshold), which the simulator fills. The
//!   agents run on their own runtime (two threads) in this process. Measured: calls answered per second and
//!   their latency, quote → screen (as `benches/shell.rs` measures M1), and the dropped order and fill
//!   events — computed: every execution the simulator made for the cockpit's orders (asked of it by a
//!   separate API client) must be journaled exactly once, every order it filled must be `Filled` in the
//!   journal, and the cockpit's positions must equal the simulator's.
//!
//! Run: `cargo bench --bench approve`. `cargo test` runs a short smoke pass (a few approvals, 1 s of flood).

#![expect(clippy::unwrap_used, clippy::print_stdout, reason = "a benchmark")]

#[path = "harness/mod.rs"]
mod harness;

#[path = "../tests/common/mod.rs"]
mod common;
#[allow(dead_code, reason = "the bench uses a few of the full-stack tests' helpers")]
#[path = "../tests/common/stack.rs"]
mod stack;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cockpit::app::shell::{FrameReport, Probe, Setup};
use cockpit::config::{Config, Permission};
use cockpit::domain::{Currency, Instrument, SecType, Symbol};
use cockpit::journal::{Record, kinds};
use cockpit::sim::catalogue::LISTINGS;
use cockpit::ui::Theme;
use common::agents::{Client, body, is_error};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

/// `cargo bench` passes `--bench`; under `cargo test` each phase shrinks to a smoke pass.
fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// `-- --m13`: the agent flood alone (for profiling it).
fn m13_only() -> bool {
    std::env::args().any(|a| a == "--m13")
}

/// The simulator's flood, in broker events (TWS tick messages) a second.
const FLOOD: u32 = 10_000;
/// The agent's calls per minute: far above the flood, so that no call is refused for its rate.
const CALLS_PER_MINUTE: u32 = 6_000_000;
/// The agent flood's calls a second, over [`SESSIONS`] sessions.
const CALLS_PER_SEC: u32 = 1_000;
/// MCP sessions making the read/stage flood (the order flow has one more).
const SESSIONS: u32 = 8;
/// Orders a second the order flow submits during the agent flood.
const ORDERS_PER_SEC: u32 = 5;
/// The bound on an approved order reaching the simulator, and on an order filling.
const PLACE_WITHIN: Duration = Duration::from_secs(5);
/// How long an approved order is given to fill before the next approval.
const FILL_WITHIN: Duration = Duration::from_secs(1);
/// Orders are staged only in instruments quoted at least this (in dollars): a few shares of each make
/// orders of a like size.
const MIN_PRICE: u32 = 100;
/// The bound on one tool call's answer.
const CALL_WITHIN: Duration = Duration::from_secs(10);
/// How often the simulator's ledger file is read while an order is awaited.
const LEDGER_POLL: Duration = Duration::from_millis(1);
/// The fates of a proposal that left the Staged Orders pane's open rows (`Stage::Done`).
const DONE: [&str; 9] = [
    "filled",
    "cancelled",
    "rejected by the broker",
    "rejected by the trader",
    "expired",
    "withdrawn",
    "not sent",
    "recorded (dry run)",
    "voided (profile switch)",
];

/// `cockpit sim` as a child, its ledger appended to `dir/sim-ledger.jsonl`; flooding `flood` ticks a second.
fn start_sim(flood: Option<u32>, dir: &Path) -> (harness::Sim, PathBuf) {
    let ledger = dir.join("sim-ledger.jsonl");
    let rate = flood.map(|r| r.to_string());
    let mut args: Vec<&std::ffi::OsStr> = vec!["--ledger".as_ref(), ledger.as_os_str()];
    if let Some(rate) = &rate {
        args.extend::<[&std::ffi::OsStr; 2]>(["--flood".as_ref(), rate.as_ref()]);
    }
    (harness::Sim::start(&dir.join("sim"), &args), ledger)
}

/// The simulator's ledger file, read as it grows (one JSON object a line).
struct Ledger {
    path: PathBuf,
    read: u64,
    partial: Vec<u8>,
    entries: Vec<Value>,
}

impl Ledger {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            read: 0,
            partial: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Reads what was appended since the last look.
    fn poll(&mut self) -> &[Value] {
        if let Ok(mut file) = std::fs::File::open(&self.path)
            && file.seek(SeekFrom::Start(self.read)).is_ok()
        {
            let mut bytes = Vec::new();
            if let Ok(n) = file.read_to_end(&mut bytes) {
                self.read += n as u64;
                self.partial.extend(bytes);
            }
        }
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            if let Ok(entry) = serde_json::from_slice(&line) {
                self.entries.push(entry);
            }
        }
        &self.entries
    }

    /// The accepted `placeOrder` whose orderRef starts with `prefix`, once the simulator recorded it
    /// (bounded by `within`).
    async fn placed(&mut self, prefix: &str, within: Duration) -> Option<Value> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(e) = self.poll().iter().rev().find(|e| {
                e["kind"] == "place" && e["outcome"] == "accepted" && order_ref(e).starts_with(prefix)
            }) {
                return Some(e.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(LEDGER_POLL).await;
        }
    }
}

fn order_ref(entry: &Value) -> &str {
    entry["order_ref"].as_str().unwrap_or_default()
}

fn time_of(entry: &Value) -> Option<DateTime<Utc>> {
    serde_json::from_value(entry["time"].clone()).ok()
}

/// The demo's config on `port`, every simulated instrument allowed (and so quoted), the order limits
/// that pace a day of trading raised past what a benchmark sends; then `edit` with this process's uid.
fn config(port: u16, uid: u32, edit: impl FnOnce(&mut Config, u32)) -> Config {
    let mut config = cockpit::demo::config(port, port).unwrap();
    let policy = &mut config.profiles.get_mut("paper").unwrap().policy;
    policy.symbols = LISTINGS
        .iter()
        .map(|l| Instrument {
            symbol: Symbol::parse(l.symbol).unwrap(),
            sec_type: SecType::Stk,
            currency: Currency::USD,
            primary_exchange: l.primary_exchange.to_owned(),
        })
        .collect();
    policy.max_orders_per_minute = 100_000;
    policy.max_orders_per_day = 1_000_000;
    policy.max_orders_per_symbol_per_day = 1_000_000;
    policy.max_notional_per_day = Decimal::from(1_000_000_000);
    policy.max_gross_exposure = Decimal::from(1_000_000_000);
    edit(&mut config, uid);
    config
}

/// CPU time so far, in clock ticks (100 a second): of this process's threads but the agents' (the cockpit:
/// shell, adapter, journal), of the agents' threads, and of the simulator (process `sim`).
fn cpu_ticks(sim: u32) -> [u64; 3] {
    // utime and stime: the 14th and 15th fields of a `stat` line, the 12th and 13th after the name.
    let ticks = |stat: &str| -> Option<(String, u64)> {
        let (head, rest) = stat.rsplit_once(')')?;
        let name = head.split_once('(')?.1.to_owned();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some((
            name,
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?,
        ))
    };
    let mut out = [0; 3];
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Some((name, t)) = std::fs::read_to_string(task.path().join("stat"))
            .ok()
            .as_deref()
            .and_then(ticks)
        {
            out[usize::from(name.starts_with("bench-agents"))] += t;
        }
    }
    let sim = std::fs::read_to_string(format!("/proc/{sim}/stat")).ok();
    out[2] = sim.as_deref().and_then(ticks).map_or(0, |(_, t)| t);
    out
}

/// `cpu_ticks` from `before` to now over `wall`, in % of a core.
fn cpu_pct(sim: u32, before: [u64; 3], wall: Duration) -> [f64; 3] {
    let now = cpu_ticks(sim);
    std::array::from_fn(|i| as_f64(now[i] - before[i]) / wall.as_secs_f64())
}

/// The frames the shell flushed: when, and what the probe said.
type Frames = Vec<(Instant, FrameReport)>;

/// Of `frames`: quote → screen (p50, p99, max, frames that showed a quote), the broker messages a second
/// over `wall`, and the longest time between two frames in ms.
fn screen(frames: &Frames, wall: Duration) -> ((f64, f64, f64, usize), f64, f64) {
    let waits = stats(frames.iter().filter_map(|(_, r)| r.quote_wait).collect());
    let messages: u64 = frames.iter().map(|(_, r)| r.messages).sum();
    let gap = frames
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or_default();
    (
        waits,
        as_f64(messages) / wall.as_secs_f64(),
        gap.as_secs_f64() * 1e3,
    )
}

/// A running shell on a simulator.
struct Run {
    frames: Arc<Mutex<Frames>>,
    keys: mpsc::UnboundedSender<std::io::Result<Event>>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    dir: PathBuf,
    state: PathBuf,
    ledger: Ledger,
    sim: harness::Sim,
}

impl Run {
    /// Starts a simulator (flooding `flood` tick messages a second, if set) and a shell on it with the
    /// config `edit` made; returns once it reconciled and quotes reach the screen.
    async fn start(name: &str, flood: Option<u32>, edit: impl FnOnce(&mut Config, u32)) -> Self {
        let dir = std::env::temp_dir().join(format!("cockpit-bench-approve-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (sim, ledger_path) = start_sim(flood, &dir);
        let state = dir.join("state");
        let uid = std::fs::metadata(&dir).unwrap().uid();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let probe = {
            let frames = Arc::clone(&frames);
            Probe(Arc::new(move |report| {
                frames.lock().unwrap().push((Instant::now(), report));
            }))
        };
        let setup = Setup {
            profile: "paper".into(),
            config: config(sim.port, uid, edit),
            state_dir: state.clone(),
            theme: Theme::named("dark", false, false).unwrap(),
            live_label: "LIVE".into(),
            probe: Some(probe),
        };
        let shutdown = CancellationToken::new();
        let (keys, task) = harness::spawn_shell(setup, std::io::sink(), &shutdown);
        stack::until(&state, "the paper gateway reconciled", |rs| {
            rs.iter()
                .any(|r| r.kind == kinds::BROKER_EVENT && r.data["event"] == "reconciled")
        })
        .await;
        let deadline = Instant::now() + stack::WITHIN;
        while !frames.lock().unwrap().iter().any(|(_, f)| f.quote_wait.is_some()) {
            assert!(Instant::now() < deadline, "{name}: no quotes on screen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Past the start: the subscriptions' first snapshots and the reconciliation.
        tokio::time::sleep(Duration::from_secs(if benching() { 2 } else { 0 })).await;
        let ledger = Ledger::new(ledger_path);
        Self {
            frames,
            keys,
            shutdown,
            task,
            dir,
            state,
            ledger,
            sim,
        }
    }

    /// Presses `code` (into the key channel; no pause).
    fn press(&self, code: KeyCode) {
        self.keys
            .send(Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))))
            .unwrap();
    }

    fn records(&self) -> Vec<Record> {
        stack::records(&self.state)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(stack::WITHIN, self.task)
            .await
            .unwrap()
            .unwrap();
        drop(self.sim);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new MCP session on the agent socket of `state`.
async fn connect(state: &Path, label: &str) -> Client {
    let stream = tokio::net::UnixStream::connect(cockpit::agent::socket_path(state))
        .await
        .unwrap();
    ClientConfig::new(ClientCapabilities::default(), Implementation::new(label, "1"))
        .serve(stream)
        .await
        .unwrap()
}

/// Calls `tool`: the answer, or why there was none (the transport failed or [`CALL_WITHIN`] passed).
async fn call(client: &Client, tool: &str, args: Value) -> Result<CallToolResult, String> {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    match tokio::time::timeout(CALL_WITHIN, client.call_tool(params)).await {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("{tool}: no answer within {CALL_WITHIN:?}")),
    }
}

/// Calls `tool`, which must be answered; its body.
async fn answer(client: &Client, tool: &str, args: Value) -> Value {
    body(&call(client, tool, args).await.unwrap())
}

/// `symbol`'s bid and ask, polled until both exist (bounded).
async fn quote(client: &Client, symbol: &str) -> Option<(Decimal, Decimal)> {
    let deadline = Instant::now() + stack::WITHIN;
    while Instant::now() < deadline {
        let q = answer(client, "get_quote", json!({ "symbol": symbol })).await;
        if let (Some(bid), Some(ask)) = (q["bid"].as_str(), q["ask"].as_str()) {
            return Some((bid.parse().ok()?, ask.parse().ok()?));
        }
        tokio::time::sleep(stack::POLL).await;
    }
    None
}

/// The first instrument from the `from`th (round the catalogue) whose bid is at least `min` dollars, with
/// its bid and ask.
async fn priced_above(agent: &Client, from: usize, min: u32) -> Option<(&'static str, (Decimal, Decimal))> {
    for k in 0..LISTINGS.len() {
        let symbol = LISTINGS[(from + k) % LISTINGS.len()].symbol;
        if let Some(touch) = quote(agent, symbol).await
            && touch.0 >= Decimal::from(min)
        {
            return Some((symbol, touch));
        }
    }
    None
}

/// A marketable limit order (`bps` through the touch, inside the 5 % collar) of `qty` `symbol`.
fn marketable(symbol: &str, buy: bool, qty: usize, (bid, ask): (Decimal, Decimal), bps: i64) -> Value {
    let (side, limit) = if buy {
        ("BUY", stack::priced(ask, bps))
    } else {
        ("SELL", stack::priced(bid, -bps))
    };
    json!({"symbol": symbol, "side": side, "quantity": qty.to_string(), "order_type": "LMT",
           "limit_price": limit.to_string(), "rationale": "bench: marketable"})
}

/// One approval that reached the simulator.
struct Placed {
    proposal: u64,
    order_ref: String,
    /// Just before `y` went into the key channel.
    key_at: DateTime<Utc>,
    /// The simulator's ledger time of the `placeOrder`.
    at_sim: DateTime<Utc>,
}

/// A phase's approvals.
#[derive(Default)]
struct Approvals {
    placed: Vec<Placed>,
    failed: Vec<String>,
    /// Orders that did not fill within [`FILL_WITHIN`] (they rest).
    unfilled: usize,
}

/// M11: `n` approvals by keys of a prepare-level agent's orders, on a simulator flooding `flood`.
async fn m11(name: &str, flood: Option<u32>, n: usize) -> (Approvals, Vec<Record>) {
    let mut run = Run::start(name, flood, |c, uid| {
        stack::as_agent(c, "momentum", uid, Permission::Prepare, Permission::Prepare);
        stack::rate(c, "momentum", CALLS_PER_MINUTE);
    })
    .await;
    let agent = connect(&run.state, "approve-bench").await;
    let mut out = Approvals::default();
    let deadline = Instant::now() + Duration::from_secs(20) * u32::try_from(n).unwrap();
    for i in 0..n {
        if Instant::now() >= deadline {
            out.failed.push(format!("stopped at {i} of {n}: out of time"));
            break;
        }
        approve_one(&mut run, &agent, i, &mut out).await;
    }
    let _ = agent.cancel().await;
    let records = run.records();
    run.stop().await;
    (out, records)
}

/// The agent stages the `i`th order; the trader selects it and approves it with `a`, `y`; the simulator's
/// ledger says when the order arrived; then it fills.
async fn approve_one(run: &mut Run, agent: &Client, i: usize, out: &mut Approvals) {
    let (buy, qty) = (i.is_multiple_of(2), 1 + (i / (2 * LISTINGS.len())) % 3);
    let Some((symbol, touch)) = priced_above(agent, i / 2, MIN_PRICE).await else {
        out.failed
            .push(format!("no instrument quoted at {MIN_PRICE} or more"));
        return;
    };
    // 1 % to 1.9 % through the touch, 3 bp (3 cents or more) apart, by turn: in a quiet market the same order again within the policy's
    // duplicate window would be refused (DUPLICATE).
    let bps = 100 + 3 * i64::try_from(i % 30).unwrap();
    let staged = answer(agent, "stage_order", marketable(symbol, buy, qty, touch, bps)).await;
    let Some(id) = staged["proposal_id"].as_u64() else {
        out.failed.push(format!("not staged: {staged}"));
        return;
    };
    if staged["fate"] != "staged for the trader's approval" {
        out.failed.push(format!("#{id}: {staged}"));
        let _ = call(agent, "cancel_proposal", json!({ "proposal_id": id })).await;
        return;
    }
    // Its row: the pane lists the open proposals by id (then finished ones); the selection follows an id,
    // so it is moved there: to the top, then down past the open ones before it.
    let orders = answer(agent, "get_orders", json!({})).await;
    let open: Vec<u64> = orders["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["fate"].as_str().is_some_and(|f| !DONE.contains(&f)))
        .filter_map(|o| o["proposal_id"].as_u64())
        .collect();
    let before = open.iter().filter(|p| **p < id).count();
    // Past the discard window its arrival may have opened under the trader.
    tokio::time::sleep(stack::PAUSE).await;
    for _ in 0..=open.len() + cockpit::app::screen::FINISHED_SHOWN {
        run.press(KeyCode::Up);
    }
    for _ in 0..before {
        run.press(KeyCode::Down);
    }
    run.press(KeyCode::Char('a'));
    tokio::time::sleep(stack::PAUSE).await;
    let key_at = Utc::now();
    run.press(KeyCode::Char('y'));
    let prefix = format!("ck-p{id}-");
    let Some(entry) = run.ledger.placed(&prefix, PLACE_WITHIN).await else {
        // The trader's side of it, for the report.
        let said: Vec<String> = run
            .records()
            .iter()
            .rev()
            .filter(|r| r.kind == kinds::HUMAN_ACTION)
            .take(2)
            .map(|r| r.data.to_string())
            .collect();
        out.failed.push(format!(
            "#{id}: no placeOrder at the simulator within {PLACE_WITHIN:?}; the journal's last trader actions: {}",
            said.join(" | ")
        ));
        run.press(KeyCode::Esc);
        tokio::time::sleep(stack::PAUSE).await;
        let _ = call(agent, "cancel_proposal", json!({ "proposal_id": id })).await;
        return;
    };
    out.placed.push(Placed {
        proposal: id,
        order_ref: order_ref(&entry).to_owned(),
        key_at,
        at_sim: time_of(&entry).unwrap(),
    });
    // Filled before the next one, so that the pane's open rows stay few (under the flood, the market can
    // move past the order before it arrives; it then rests).
    let deadline = Instant::now() + FILL_WITHIN;
    loop {
        let orders = answer(agent, "get_orders", json!({})).await;
        let fate = orders["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["proposal_id"] == id)
            .map(|o| o["fate"].clone());
        if fate.is_some_and(|f| f == "filled") {
            break;
        }
        if Instant::now() >= deadline {
            out.unfilled += 1;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// p50, p99 and max of `v`, in ms (NaN when empty).
fn stats(mut v: Vec<Duration>) -> (f64, f64, f64, usize) {
    v.sort_unstable();
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN, 0);
    }
    let at = |q: usize| v[(v.len() * q / 100).min(v.len() - 1)].as_secs_f64() * 1e3;
    (at(50), at(99), v[v.len() - 1].as_secs_f64() * 1e3, v.len())
}

fn span(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or_default()
}

/// Checks each approval against the journal (approved by confirm, its intent carries the orderRef the
/// simulator got) and reports the phase; returns (p50, p99) of key → placeOrder.
fn report_m11(name: &str, what: &str, approvals: &Approvals, rs: &[Record]) -> (f64, f64) {
    let mut total = Vec::new();
    let mut to_engine = Vec::new();
    let mut to_sim = Vec::new();
    let mut unmatched = 0;
    for p in &approvals.placed {
        let approval = rs
            .iter()
            .find(|r| stack::approved(r, p.proposal) && r.data["by"] == "confirm");
        let intent = rs.iter().find(|r| {
            r.kind == kinds::INTENT
                && r.data["proposal"] == p.proposal
                && r.data["order_ref"] == p.order_ref.as_str()
        });
        let (Some(approval), Some(_)) = (approval, intent) else {
            unmatched += 1;
            continue;
        };
        total.push(span(p.key_at, p.at_sim));
        to_engine.push(span(p.key_at, approval.at));
        to_sim.push(span(approval.at, p.at_sim));
    }
    let (t50, t99, tmax, n) = stats(total);
    let (e50, e99, _, _) = stats(to_engine);
    let (s50, s99, _, _) = stats(to_sim);
    println!(
        "{name}: {n} approvals ({what}): key → placeOrder at the simulator p50 {t50:.2} ms, p99 {t99:.2} ms, max {tmax:.2} ms (M11 p99 ≤ 5 ms)"
    );
    println!(
        "{name}:   split at the journal's approval record: key → engine p50 {e50:.2} / p99 {e99:.2} ms; engine (journal sync, adapter, socket) → simulator p50 {s50:.2} / p99 {s99:.2} ms"
    );
    println!(
        "{name}:   {} failed, {} not matched in the journal, {} resting (not filled within {FILL_WITHIN:?})",
        approvals.failed.len(),
        unmatched,
        approvals.unfilled
    );
    for why in approvals.failed.iter().take(5) {
        println!("{name}:   failed: {why}");
    }
    // Each slow one beside what the adapter was doing: the nearest reconciliation's end (journaled when
    // the engine applied it; a reconciliation's queries take about 100 ms before it).
    for p in approvals
        .placed
        .iter()
        .filter(|p| span(p.key_at, p.at_sim) > Duration::from_millis(5))
    {
        let nearest = rs
            .iter()
            .filter(|r| r.kind == kinds::BROKER_EVENT && r.data["event"] == "reconciled")
            .map(|r| (r.at - p.key_at).num_milliseconds())
            .min_by_key(|ms| ms.abs());
        println!(
            "{name}:   slow: #{} {:.2} ms; the nearest reconciliation ended {} ms from the key",
            p.proposal,
            span(p.key_at, p.at_sim).as_secs_f64() * 1e3,
            nearest.map_or_else(|| "(none)".to_owned(), |ms| format!("{ms:+}"))
        );
    }
    (t50, t99)
}

/// One session's calls.
#[derive(Default)]
struct Calls {
    latencies: Vec<Duration>,
    /// The latencies of each tool.
    by_tool: BTreeMap<String, Vec<Duration>>,
    errors: u64,
    rate_limited: u64,
    unanswered: u64,
    /// Orders submitted and answered `sent`.
    sent: u64,
    /// Order-flow steps skipped: the instrument was quoted under [`MIN_PRICE`].
    skipped: u64,
    /// Order-flow steps that did not end in `sent` (why).
    not_sent: Vec<String>,
}

impl Calls {
    /// Makes one call, counted; its body if answered.
    async fn make(&mut self, client: &Client, tool: &str, args: Value) -> Option<Value> {
        let at = Instant::now();
        let Ok(result) = call(client, tool, args).await else {
            self.unanswered += 1;
            return None;
        };
        self.latencies.push(at.elapsed());
        self.by_tool
            .entry(tool.to_owned())
            .or_default()
            .push(at.elapsed());
        let answer = body(&result);
        if is_error(&result) {
            self.errors += 1;
            if answer["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("rate limit"))
            {
                self.rate_limited += 1;
            }
        }
        Some(answer)
    }

    fn add(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        for (tool, v) in other.by_tool {
            self.by_tool.entry(tool).or_default().extend(v);
        }
        self.errors += other.errors;
        self.rate_limited += other.rate_limited;
        self.unanswered += other.unanswered;
        self.sent += other.sent;
        self.skipped += other.skipped;
        self.not_sent.extend(other.not_sent);
    }
}

/// The reads a flooding session cycles through.
const READS: [&str; 16] = [
    "get_quote",
    "get_positions",
    "get_quote",
    "get_account",
    "get_quote",
    "get_alerts",
    "get_quote",
    "get_orders",
    "get_quote",
    "get_positions",
    "get_quote",
    "get_account",
    "get_quote",
    "get_alerts",
    "get_quote",
    "get_policy",
];

/// Session `k` of the flood: `per_sec` calls a second (back to back when behind) until `until`.
async fn flood_session(state: PathBuf, k: usize, per_sec: u32, until: Instant) -> Calls {
    let client = connect(&state, &format!("flood-{k}")).await;
    let every = Duration::from_secs(1) / per_sec;
    let mut calls = Calls::default();
    let mut staged: Option<u64> = None;
    let mut bids: HashMap<&str, Decimal> = HashMap::new();
    let start = Instant::now();
    let mut j: u32 = 0;
    while Instant::now() < until {
        tokio::time::sleep_until((start + every * j).into()).await;
        let symbol = LISTINGS[(k * 7 + j as usize) % LISTINGS.len()].symbol;
        let (tool, args) = match (staged.take(), j % 50) {
            (Some(id), _) => ("cancel_proposal", json!({ "proposal_id": id })),
            (None, 10) if bids.contains_key(symbol) => {
                // Far under the market: staged (cleared for submit_order), then withdrawn.
                let limit = stack::priced(bids[symbol], -400);
                let order = json!({"symbol": symbol, "side": "BUY", "quantity": "1", "order_type": "LMT",
                                   "limit_price": limit.to_string(), "rationale": "bench: flood"});
                ("stage_order", order)
            }
            (None, 25) => (
                "recommend",
                json!({"text": format!("bench {k}: {symbol} looks fine"), "symbol": symbol}),
            ),
            (None, 40) => (
                "report_status",
                json!({"strategy": format!("flood-{k}"), "state": "flooding", "message": format!("call {j}")}),
            ),
            _ => match READS[j as usize % READS.len()] {
                "get_quote" => ("get_quote", json!({ "symbol": symbol })),
                read => (read, json!({})),
            },
        };
        if let Some(answer) = calls.make(&client, tool, args).await {
            match tool {
                "stage_order" => staged = answer["proposal_id"].as_u64(),
                "get_quote" => {
                    if let Some(bid) = answer["bid"].as_str().and_then(|b| b.parse().ok()) {
                        bids.insert(symbol, bid);
                    }
                }
                _ => {}
            }
        }
        j += 1;
    }
    if let Some(id) = staged {
        calls
            .make(&client, "cancel_proposal", json!({ "proposal_id": id }))
            .await;
    }
    let _ = client.cancel().await;
    calls
}

/// The order flow: [`ORDERS_PER_SEC`] small marketable orders a second, staged and submitted by the
/// execute-level agent (below the manual-approval threshold: no human needed), until `until`. Each
/// instrument is bought, then sold back.
async fn order_session(state: PathBuf, until: Instant) -> Calls {
    let client = connect(&state, "orders").await;
    let every = Duration::from_secs(1) / ORDERS_PER_SEC;
    let mut calls = Calls::default();
    let start = Instant::now();
    let mut n: u32 = 0;
    while Instant::now() < until {
        tokio::time::sleep_until((start + every * n).into()).await;
        let i = n as usize;
        n += 1;
        let symbol = LISTINGS[i % LISTINGS.len()].symbol;
        let buy = (i / LISTINGS.len()).is_multiple_of(2);
        let Some(q) = calls
            .make(&client, "get_quote", json!({ "symbol": symbol }))
            .await
        else {
            continue;
        };
        let (Some(bid), Some(ask)) = (q["bid"].as_str(), q["ask"].as_str()) else {
            calls.not_sent.push(format!("{symbol}: no quote: {q}"));
            continue;
        };
        let touch: (Decimal, Decimal) = (bid.parse().unwrap(), ask.parse().unwrap());
        if touch.0 < Decimal::from(MIN_PRICE) {
            calls.skipped += 1;
            continue;
        }
        let Some(staged) = calls
            .make(&client, "stage_order", marketable(symbol, buy, 1, touch, 100))
            .await
        else {
            continue;
        };
        let Some(id) = staged["proposal_id"].as_u64() else {
            calls.not_sent.push(format!("not staged: {staged}"));
            continue;
        };
        let Some(sent) = calls
            .make(&client, "submit_order", json!({ "proposal_id": id }))
            .await
        else {
            continue;
        };
        if sent["fate"] == "sent" {
            calls.sent += 1;
        } else {
            calls.not_sent.push(format!("#{id}: {staged} → {sent}"));
        }
    }
    let _ = client.cancel().await;
    calls
}

/// What the simulator itself says: its executions (as a separate API client sees them) and positions.
struct AtSim {
    /// exec id → (orderRef, shares).
    executions: BTreeMap<String, (String, Decimal)>,
    /// symbol → signed quantity.
    positions: BTreeMap<String, Decimal>,
}

async fn at_sim(port: u16) -> AtSim {
    use ibapi::accounts::PositionUpdate;
    use ibapi::orders::{ExecutionFilter, Executions};
    use ibapi::subscriptions::SubscriptionItem;
    let client = ibapi::Client::connect(&format!("127.0.0.1:{port}"), 77)
        .await
        .unwrap();
    let mut sub = client.executions(ExecutionFilter::default()).await.unwrap();
    let mut executions = BTreeMap::new();
    for e in sub.collect_to_end_within(stack::WITHIN).await.unwrap() {
        if let Executions::ExecutionData(d) = e {
            let shares = Decimal::try_from(d.execution.shares).unwrap();
            executions.insert(
                d.execution.execution_id.clone(),
                (d.execution.order_reference.clone(), shares),
            );
        }
    }
    let mut sub = client.positions().await.unwrap();
    let mut positions = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + stack::WITHIN;
    loop {
        match tokio::time::timeout_at(deadline, sub.next()).await.unwrap() {
            Some(Ok(SubscriptionItem::Data(PositionUpdate::Position(p)))) => {
                let qty = Decimal::try_from(p.position).unwrap();
                *positions.entry(p.contract.symbol.to_string()).or_default() += qty;
            }
            Some(Ok(SubscriptionItem::Data(PositionUpdate::PositionEnd))) => break,
            Some(Ok(SubscriptionItem::Notice(_))) => {}
            other => panic!("positions: {other:?}"),
        }
    }
    AtSim {
        executions,
        positions,
    }
}

/// The comparison of the simulator's ledger, executions and positions with the cockpit's journal and
/// positions.
#[derive(Debug, Default)]
struct Audit {
    /// Accepted `placeOrder`s of the cockpit's at the simulator.
    orders: usize,
    /// Of them, filled in full at the simulator.
    filled: usize,
    /// Executions at the simulator for the cockpit's orders.
    executions: usize,
    /// Executions at the simulator never journaled.
    missing_executions: usize,
    /// Executions journaled more than once.
    duplicate_executions: usize,
    /// Executions journaled that the simulator never made.
    phantom_executions: usize,
    /// Orders whose last journaled status is not the simulator's (`Filled` when it filled them, a working
    /// status when it did not).
    missing_statuses: usize,
    /// Orders at the simulator without a journaled intent.
    unknown_orders: usize,
    /// Instruments whose position differs between the cockpit and the simulator.
    position_mismatches: Vec<String>,
}

impl Audit {
    fn dropped(&self) -> usize {
        self.missing_executions + self.missing_statuses
    }

    fn other(&self) -> usize {
        self.duplicate_executions
            + self.phantom_executions
            + self.unknown_orders
            + self.position_mismatches.len()
    }
}

fn audit(ledger: &[Value], sim: &AtSim, rs: &[Record], positions: &Value) -> Audit {
    let mut a = Audit::default();
    let mut journaled: HashMap<&str, usize> = HashMap::new();
    for r in rs
        .iter()
        .filter(|r| r.kind == kinds::BROKER_EVENT && r.data["event"] == "execution")
    {
        *journaled
            .entry(r.data["exec_id"].as_str().unwrap_or_default())
            .or_default() += 1;
    }
    let mine: BTreeMap<&str, &(String, Decimal)> = sim
        .executions
        .iter()
        .filter(|(_, (order_ref, _))| order_ref.starts_with("ck-"))
        .map(|(id, e)| (id.as_str(), e))
        .collect();
    a.executions = mine.len();
    for id in mine.keys() {
        match journaled.get(id).copied().unwrap_or(0) {
            0 => a.missing_executions += 1,
            1 => {}
            _ => a.duplicate_executions += 1,
        }
    }
    a.phantom_executions = journaled.keys().filter(|id| !mine.contains_key(*id)).count();
    for entry in ledger
        .iter()
        .filter(|e| e["kind"] == "place" && e["outcome"] == "accepted" && order_ref(e).starts_with("ck-"))
    {
        a.orders += 1;
        let order_ref = order_ref(entry);
        let Some(intent) = rs
            .iter()
            .find(|r| r.kind == kinds::INTENT && r.data["order_ref"] == order_ref)
        else {
            a.unknown_orders += 1;
            continue;
        };
        let quantity: Decimal = entry["quantity"]
            .as_str()
            .and_then(|q| q.parse().ok())
            .unwrap_or_default();
        let filled: Decimal = mine
            .values()
            .filter(|(r, _)| r == order_ref)
            .map(|(_, s)| *s)
            .sum();
        let status = rs
            .iter()
            .rev()
            .find(|r| {
                r.kind == kinds::BROKER_EVENT
                    && r.data["event"] == "order_status"
                    && r.data["proposal"] == intent.data["proposal"]
            })
            .and_then(|r| r.data["status"].as_str());
        let agrees = if filled >= quantity && !quantity.is_zero() {
            a.filled += 1;
            status == Some("Filled")
        } else {
            !matches!(status, Some("Filled" | "Cancelled" | "Rejected"))
        };
        if !agrees {
            a.missing_statuses += 1;
        }
    }
    let mut cockpit: BTreeMap<String, Decimal> = BTreeMap::new();
    for p in positions["positions"].as_array().into_iter().flatten() {
        let qty: Decimal = p["quantity"]
            .as_str()
            .and_then(|q| q.parse().ok())
            .unwrap_or_default();
        *cockpit
            .entry(p["symbol"].as_str().unwrap_or_default().to_owned())
            .or_default() += qty;
    }
    for symbol in cockpit.keys().chain(sim.positions.keys()) {
        let (ours, theirs) = (
            cockpit.get(symbol).copied().unwrap_or_default(),
            sim.positions.get(symbol).copied().unwrap_or_default(),
        );
        if ours != theirs
            && !a
                .position_mismatches
                .iter()
                .any(|m| m.starts_with(symbol.as_str()))
        {
            a.position_mismatches
                .push(format!("{symbol}: cockpit {ours}, simulator {theirs}"));
        }
    }
    a
}

/// What M13 measured.
struct Flooded {
    /// The same flood without the agents, just before: how long, and its frames.
    baseline: (Duration, Frames, [f64; 3]),
    /// CPU in % of a core during the agents' flood: the cockpit, the agents, the simulator.
    cpu: [f64; 3],
    calls: Calls,
    wall: Duration,
    frames: Frames,
    audit: Audit,
    open_after: usize,
}

/// M13: the agent flood for `length` on a flooding simulator, the order flow filling meanwhile.
async fn m13(length: Duration, agents: &tokio::runtime::Handle) -> Flooded {
    let mut run = Run::start("agents", Some(FLOOD), |c, uid| {
        stack::as_agent(c, "rebalancer", uid, Permission::Execute, Permission::Execute);
        stack::rate(c, "rebalancer", CALLS_PER_MINUTE);
        let agent = c.agents.iter_mut().find(|a| a.name == "rebalancer").unwrap();
        agent.max_proposals_per_day = 1_000_000;
        agent.unapproved_notional_budget = Decimal::from(1_000_000_000);
    })
    .await;
    // The same flood without the agents first, for comparison.
    let sim = run.sim.pid();
    run.frames.lock().unwrap().clear();
    let (at, cpu0) = (Instant::now(), cpu_ticks(sim));
    tokio::time::sleep(length).await;
    let baseline = (
        at.elapsed(),
        std::mem::take(&mut *run.frames.lock().unwrap()),
        cpu_pct(sim, cpu0, at.elapsed()),
    );
    println!("agents: the flood of calls starts");
    let (start, cpu0) = (Instant::now(), cpu_ticks(sim));
    let until = start + length;
    let mut tasks = vec![agents.spawn(order_session(run.state.clone(), until))];
    for k in 0..SESSIONS {
        let per_sec = CALLS_PER_SEC / SESSIONS;
        tasks.push(agents.spawn(flood_session(run.state.clone(), k as usize, per_sec, until)));
    }
    let mut calls = Calls::default();
    for task in tasks {
        let done = tokio::time::timeout(length + stack::WITHIN, task).await;
        calls.add(done.unwrap().unwrap());
    }
    let wall = start.elapsed();
    let frames = std::mem::take(&mut *run.frames.lock().unwrap());
    let cpu = cpu_pct(sim, cpu0, wall);
    // Settled: every order the flow sent is over (marketable: filled), or the bound passed.
    let client = connect(&run.state, "audit").await;
    let deadline = Instant::now() + stack::WITHIN;
    let open_after = loop {
        let orders = answer(&client, "get_orders", json!({})).await;
        let open = orders["orders"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| matches!(o["fate"].as_str(), Some(f) if f == "sent" || f == "approved" || f.starts_with("partially")))
            .count();
        if open == 0 || Instant::now() >= deadline {
            break open;
        }
        tokio::time::sleep(stack::POLL).await;
    };
    // The last position pushes, then both sides' word.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let positions = answer(&client, "get_positions", json!({})).await;
    let sim = at_sim(run.sim.port).await;
    let ledger = run.ledger.poll().to_vec();
    let _ = client.cancel().await;
    let rs = run.records();
    let audit = audit(&ledger, &sim, &rs, &positions);
    run.stop().await;
    Flooded {
        baseline,
        cpu,
        calls,
        wall,
        frames,
        audit,
        open_after,
    }
}

fn report_m13(f: &Flooded) {
    let c = &f.calls;
    let (l50, l99, lmax, answered) = stats(c.latencies.clone());
    let per_sec = as_f64(answered as u64) / f.wall.as_secs_f64();
    let ((q50, q99, qmax, qn), rate, gap) = screen(&f.frames, f.wall);
    let slowest: Vec<String> = c
        .by_tool
        .iter()
        .map(|(tool, v)| {
            let (p50, p99, _, n) = stats(v.clone());
            format!("{tool} {n}× {p50:.1}/{p99:.1}")
        })
        .collect();
    println!(
        "agents:   per tool, calls and latency p50/p99 ms: {}",
        slowest.join(", ")
    );
    let ((b50, b99, bmax, bn), base_rate, base_gap) = screen(&f.baseline.1, f.baseline.0);
    println!(
        "agents: before the agents, {base_rate:.0} broker msgs/s; quote → screen p50 {b50:.2} ms, p99 {b99:.2} ms, max {bmax:.2} ms over {bn} frames; longest gap between frames {base_gap:.1} ms"
    );
    for (when, [cockpit, agents, sim]) in [("before the agents", f.baseline.2), ("with the agents", f.cpu)] {
        println!(
            "agents:   CPU {when}: cockpit {cockpit:.0} %, agent clients {agents:.0} %, simulator {sim:.0} % of a core"
        );
    }
    let a = &f.audit;
    println!(
        "agents: {answered} calls answered in {:.1} s over {} sessions = {per_sec:.0} calls/s (target {CALLS_PER_SEC}); latency p50 {l50:.2} ms, p99 {l99:.2} ms, max {lmax:.2} ms; {} tool errors ({} rate-limited), {} unanswered",
        f.wall.as_secs_f64(),
        SESSIONS + 1,
        c.errors,
        c.rate_limited,
        c.unanswered
    );
    println!(
        "agents: meanwhile {rate:.0} broker msgs/s; quote → screen p50 {q50:.2} ms, p99 {q99:.2} ms, max {qmax:.2} ms over {qn} frames (M13 p99 ≤ 20 ms); longest gap between frames {gap:.1} ms"
    );
    println!(
        "agents: orders submitted and sent {}, not sent {}, skipped {} (quoted under ${MIN_PRICE}); at the simulator {} orders, {} filled, {} executions; {} still open after the flood",
        c.sent,
        c.not_sent.len(),
        c.skipped,
        a.orders,
        a.filled,
        a.executions,
        f.open_after
    );
    for why in c.not_sent.iter().take(3) {
        println!("agents:   not sent: {why}");
    }
    println!(
        "agents: dropped order or fill events: {} ({} executions not journaled, {} orders whose final status the journal lacks); also {} executions journaled twice, {} journaled but not at the simulator, {} orders without an intent, {} position mismatches",
        a.dropped(),
        a.missing_executions,
        a.missing_statuses,
        a.duplicate_executions,
        a.phantom_executions,
        a.unknown_orders,
        a.position_mismatches.len()
    );
    for m in a.position_mismatches.iter().take(5) {
        println!("agents:   position mismatch: {m}");
    }
    row(
        "M13",
        "quote → screen under 10k events/s and the agent flood: p50 / p99 (without the agents, just before)",
        "p99 ≤ 20 ms",
        &format!("{q50:.2} / {q99:.2} ms ({b50:.2} / {b99:.2} ms)"),
    );
    row(
        "M13",
        "agent calls answered per second (9 MCP sessions); call latency p50 / p99",
        "1,000 calls/s",
        &format!("{per_sec:.0}/s; {l50:.2} / {l99:.2} ms"),
    );
    row(
        "M13",
        &format!(
            "dropped order or fill events ({} orders, {} filled, {} executions at the simulator)",
            a.orders, a.filled, a.executions
        ),
        "0",
        &if a.other() == 0 {
            a.dropped().to_string()
        } else {
            format!("{} (and {} other discrepancies)", a.dropped(), a.other())
        },
    );
}

/// A headline number for `scripts/bench`'s summary table.
fn row(metric: &str, measure: &str, budget: &str, result: &str) {
    println!("ROW|{metric}|{measure}|{budget}|{result}");
}

#[expect(clippy::cast_precision_loss, reason = "display only")]
fn as_f64(n: u64) -> f64 {
    n as f64
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // The agents' own threads, so that their work does not queue behind the shell's on its runtime.
    let agents = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-agents")
        .enable_all()
        .build()
        .unwrap();
    let (at_rest, flooded, length) = if benching() {
        (100, 50, Duration::from_secs(10))
    } else {
        (3, 2, Duration::from_secs(1))
    };
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    let handle = agents.handle().clone();
    runtime.block_on(async {
        println!("cargo bench --bench approve: 200×50, 24 instruments, {cores} cores");
        if m13_only() {
            report_m13(&m13(length, &handle).await);
            return;
        }
        let (rest, rs) = m11("rest", None, at_rest).await;
        let (r50, r99) = report_m11("rest", "the ordinary walk", &rest, &rs);
        row(
            "M11",
            "approve key → placeOrder at the simulator, at rest: p50 / p99",
            "p99 ≤ 5 ms",
            &format!("{r50:.2} / {r99:.2} ms"),
        );
        let (flood, rs) = m11("flood", Some(FLOOD), flooded).await;
        let (f50, f99) = report_m11("flood", "10k events/s", &flood, &rs);
        row(
            "M11",
            "approve key → placeOrder at the simulator, 10k events/s: p50 / p99",
            "p99 ≤ 5 ms",
            &format!("{f50:.2} / {f99:.2} ms"),
        );
        let m13 = m13(length, &handle).await;
        report_m13(&m13);
        // The smoke pass checks the machinery, not the numbers.
        assert!(
            !rest.placed.is_empty() && !flood.placed.is_empty(),
            "no approval reached the simulator"
        );
        assert!(!m13.calls.latencies.is_empty(), "no agent call was answered");
    });
    agents.shutdown_timeout(Duration::from_secs(5));
}
