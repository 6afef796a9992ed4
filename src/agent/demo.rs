//! The demo agents of `cockpit demo`: real MCP clients (`rmcp`) that connect to the agent gateway over a
//! socket, exactly as an outside agent would through `cockpit mcp --agent NAME`, so the demo exercises the
//! gateway — identity, levels, the policy, the journal — rather than a shortcut into the engine. Two roles:
//! the [`Role::Trader`] described below, and the [`Role::Watcher`], a read-level agent that only watches
//! (quotes, positions, account, alerts, orders) and reports what it would recommend: at the read level its
//! one `recommend` per session is refused ("needs prepare"), which the Agents pane shows — what a read agent
//! is told when it reaches above its level.
//!
//! It is paced for a human watching (one step every [`Pace::tick`]), deterministic from the demo's seed
//! (its choices; the quotes it reads come from the seeded simulator), and bounded: at most
//! [`MAX_PENDING`] of its proposals wait at a time (it withdraws its oldest first), it stages at most
//! `max_stages` orders per run, and it keeps well under its calls-per-minute limit. What it does, in a
//! cycle of eight steps: `get_policy` once per session, `report_status` every other step, `get_quote`,
//! `get_account` / `get_positions`, a mean-reversion `recommend` now and then, `stage_order` of a small limit
//! order near the quote inside the policy — and now and then one outside it on purpose (a quantity above the
//! maximum, a symbol outside the allowlist, a price outside the collar), so the trader sees a dimmed refusal —
//! `submit_order` where the profile grants execute and the policy cleared the order without a human, and a
//! rare `raise_alert` (info). A tool error is logged and the agent goes on.
//!
//! Identity: on `agent.sock` the gateway knows an agent by its socket peer's uid. The demo agents run inside
//! the cockpit's own process, so they share the cockpit's uid; each connects instead to its configured
//! agent's own socket (`own_socket = true`, `STATE/agents/NAME.sock`), which names the agent when the peer
//! is that agent's uid or the cockpit's. On a live profile the gateway refuses an agent under the cockpit's
//! own uid (unless `allow_same_uid_agents`, which the demo leaves off): there the agent's
//! first call is refused (and journaled), it closes its session and stays silent until the socket is
//! replaced — the next profile switch — and it says so beforehand, in a recommendation on the other profiles.
//!
//! It connects only to a gateway of its own process: the state dir's lock must name this process's pid.
//! `cockpit demo --state-dir DIR` with a DIR that another cockpit holds fails to start its own screen, and the
//! agent must not stage orders in that other cockpit meanwhile.
//!
//! A profile switch ends every session and restarts the gateway: the agent reconnects, with a bounded
//! backoff, when the socket comes back. It stops when its [`CancellationToken`] is cancelled (the screen
//! quit), whatever it is waiting for.

use std::collections::{BTreeMap, VecDeque};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{RoleClient, RunningService};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The strategy name it reports.
pub const STRATEGY: &str = "mean-reversion demo";
/// The client name the trader declares (a label only: the gateway identifies it by its socket).
pub const CLIENT_NAME: &str = "demo-agent";
/// The client name the watcher declares.
pub const WATCHER_CLIENT_NAME: &str = "demo-watcher";
/// The watcher's strategy name.
pub const WATCHER_STRATEGY: &str = "market watch";
/// The most of its own proposals left waiting (staged or refused) at once; it withdraws the oldest first,
/// so the trader's pane never fills up with the demo's orders.
pub const MAX_PENDING: usize = 3;
/// The steps in one cycle (see the module's doc).
const CYCLE: u64 = 8;
/// Mids kept per symbol for the mean-reversion signal.
const HISTORY: usize = 20;
/// Tool names kept in [`Report::calls`]: a bound for a demo left running for days.
const CALLS_KEPT: usize = 100_000;
/// Symbols it tries when it means to be refused for SYMBOL (the first not in the allowlist).
const OUTSIDE: [&str; 3] = ["TSLA", "NVDA", "AMZN"];

/// How fast the agent acts; a parameter so that tests run it in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// The time between two steps.
    pub tick: Duration,
    /// The first wait before connecting again; it doubles up to `backoff_max`.
    pub backoff_min: Duration,
    /// The longest wait between two attempts to connect.
    pub backoff_max: Duration,
    /// How long one call (or the handshake) may take before the session is given up.
    pub call_timeout: Duration,
}

impl Pace {
    /// For a human watching: a step every 2.5 s (a status every 5 s, a staged order every 20 s), about
    /// 36 calls a minute, well under the demo agent's limit of 60.
    pub const HUMAN: Self = Self {
        tick: Duration::from_millis(2500),
        backoff_min: Duration::from_millis(250),
        backoff_max: Duration::from_secs(3),
        call_timeout: Duration::from_secs(20),
    };
}

/// What a demo agent does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Stages orders (inside and outside the policy), recommends, reports, submits where execute is granted.
    Trader,
    /// Only reads; tries one `recommend` per session when it sees a move (refused at the read level).
    Watcher,
}

/// One demo agent.
#[derive(Debug, Clone)]
pub struct DemoAgent {
    /// The cockpit's state dir (its lock must be this process's).
    pub state_dir: PathBuf,
    /// The socket it connects to.
    pub socket: PathBuf,
    /// What it does.
    pub role: Role,
    /// Its choices' seed.
    pub seed: u64,
    /// Its pace.
    pub pace: Pace,
    /// The most orders it stages in this run (its configured `max_proposals_per_day`).
    pub max_stages: u32,
}

/// What the agent did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Sessions opened (handshake done).
    pub sessions: u32,
    /// The tools of the calls that got an answer, in order (at most [`CALLS_KEPT`]).
    pub calls: Vec<String>,
    /// Calls answered with a tool error.
    pub tool_errors: u32,
    /// Orders the policy cleared (staged for the trader, or cleared for `submit_order`).
    pub cleared: u32,
    /// Orders the policy refused.
    pub refused: u32,
    /// Orders it sent itself with `submit_order`.
    pub submitted: u32,
    /// Times a live profile refused it and it went silent until the next switch.
    pub parked: u32,
}

/// Starts `agent` on the current runtime; it runs until `cancel`.
#[must_use]
pub fn spawn(agent: DemoAgent, cancel: CancellationToken) -> JoinHandle<Report> {
    tokio::spawn(run(agent, cancel))
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// No gateway answered (no socket yet, a stale one, a failed handshake): try again, waiting longer.
    Unreachable,
    /// The session ran, then the gateway went away (a profile switch): try again soon.
    Lost,
    /// The gateway refused this uid (a live profile): wait for the socket to be replaced.
    Refused,
}

/// What the agent remembers across sessions.
#[derive(Debug, Default)]
struct Memory {
    /// Orders staged in this run.
    stages: u32,
    /// Whether it said it has staged its last order.
    said_done: bool,
    /// Its proposals waiting for the trader (or refused) after its latest stage, for its status.
    waiting: usize,
    /// Recent mids by symbol.
    mids: BTreeMap<String, VecDeque<Decimal>>,
}

/// The parts of `get_policy` it uses.
#[derive(Debug, Clone)]
struct Policy {
    profile: String,
    name: String,
    level: String,
    symbols: Vec<String>,
    max_quantity: Decimal,
    collar_pct: Decimal,
    manual_notional: Decimal,
    can_submit: bool,
}

impl Policy {
    fn parse(v: &Value) -> Self {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let dec = |v: &Value, default: i64| {
            v.as_str()
                .and_then(|s| Decimal::from_str(s).ok())
                .unwrap_or_else(|| Decimal::from(default))
        };
        Self {
            profile: text(&v["profile"]),
            name: text(&v["you"]["name"]),
            level: text(&v["you"]["level"]),
            symbols: v["symbols"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default(),
            max_quantity: dec(&v["max_order_quantity"], 1),
            collar_pct: dec(&v["price_collar_pct"], 1),
            manual_notional: dec(&v["manual_approval_notional"], 1000),
            can_submit: v["you"]["can_submit"].as_bool().unwrap_or(false),
        }
    }
}

/// A tool's answer: its body, or the text of a tool error.
type Reply = Result<Value, String>;

/// The connection was lost (transport closed, a protocol error, no answer in time).
#[derive(Debug)]
struct Gone;

async fn run(agent: DemoAgent, cancel: CancellationToken) -> Report {
    let mut rng = ChaCha8Rng::seed_from_u64(agent.seed);
    let mut report = Report::default();
    let mut memory = Memory::default();
    let path = agent.socket.clone();
    let pace = agent.pace;
    let mut backoff = pace.backoff_min;
    loop {
        let seen = identity(&path);
        let ended = tokio::select! {
            () = cancel.cancelled() => break,
            ended = session(&agent, &path, &mut rng, &mut memory, &mut report) => ended,
        };
        let wait = match ended {
            Ended::Unreachable => {
                let wait = backoff;
                backoff = (backoff * 2).min(pace.backoff_max);
                wait
            }
            Ended::Lost => {
                tracing::info!("demo agent: the session ended; connecting again");
                backoff = pace.backoff_min;
                backoff
            }
            Ended::Refused => {
                report.parked += 1;
                tracing::info!("demo agent: refused on this profile; silent until the next profile switch");
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = replaced(&path, seen, pace.tick) => {}
                }
                backoff = pace.backoff_min;
                continue;
            }
        };
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
    tracing::info!(
        sessions = report.sessions,
        cleared = report.cleared,
        refused = report.refused,
        submitted = report.submitted,
        "demo agent stopped"
    );
    report
}

/// The socket file's identity: a new gateway binds a new file.
fn identity(path: &Path) -> Option<(u64, u64, i64, i64)> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino(), m.ctime(), m.ctime_nsec()))
}

/// Returns once the socket at `path` is another file than `seen` (looking every `every`).
async fn replaced(path: &Path, seen: Option<(u64, u64, i64, i64)>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let now = identity(path);
        if now.is_some() && now != seen {
            return;
        }
    }
}

/// Whether this process holds the state dir's lock (it wrote its pid there).
fn ours(state_dir: &Path) -> bool {
    std::fs::read_to_string(state_dir.join(crate::app::LOCK_FILE))
        .is_ok_and(|pid| pid.trim() == std::process::id().to_string())
}

/// One session: connect, handshake, then the script until the connection is lost.
async fn session(
    agent: &DemoAgent,
    path: &Path,
    rng: &mut ChaCha8Rng,
    memory: &mut Memory,
    report: &mut Report,
) -> Ended {
    if !ours(&agent.state_dir) {
        return Ended::Unreachable;
    }
    let Ok(stream) = UnixStream::connect(path).await else {
        return Ended::Unreachable;
    };
    let name = match agent.role {
        Role::Trader => CLIENT_NAME,
        Role::Watcher => WATCHER_CLIENT_NAME,
    };
    let config = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new(name, env!("CARGO_PKG_VERSION")),
    );
    let client = match tokio::time::timeout(agent.pace.call_timeout, config.serve(stream)).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "demo agent: the MCP handshake failed");
            return Ended::Unreachable;
        }
        Err(_) => {
            tracing::warn!("demo agent: the MCP handshake timed out");
            return Ended::Unreachable;
        }
    };
    report.sessions += 1;
    let mut conn = Conn {
        client,
        timeout: agent.pace.call_timeout,
        report,
    };
    let ended = script(&mut conn, agent, rng, memory).await;
    let _ = conn.client.cancel().await;
    ended
}

/// An open session and the report its calls go to.
struct Conn<'a> {
    client: RunningService<RoleClient, ClientConfig>,
    timeout: Duration,
    report: &'a mut Report,
}

impl Conn<'_> {
    /// Calls `tool` for its effect: a tool error is only logged (by [`Conn::call`]).
    async fn act(&mut self, tool: &str, args: Value) -> Result<(), Gone> {
        self.call(tool, args).await.map(drop)
    }

    /// Calls `tool`; a tool error is logged and returned, a lost connection is [`Gone`].
    async fn call(&mut self, tool: &str, args: Value) -> Result<Reply, Gone> {
        let mut params = CallToolRequestParams::new(tool.to_owned());
        if let Value::Object(map) = args {
            params = params.with_arguments(map);
        }
        let result = match tokio::time::timeout(self.timeout, self.client.call_tool(params)).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => {
                tracing::info!(tool, error = %e, "demo agent: the call failed; the session is over");
                return Err(Gone);
            }
            Err(_) => {
                tracing::warn!(tool, "demo agent: no answer in time; the session is over");
                return Err(Gone);
            }
        };
        if self.report.calls.len() < CALLS_KEPT {
            self.report.calls.push(tool.to_owned());
        }
        let body = result
            .content
            .first()
            .and_then(|c| c.as_text())
            .and_then(|t| serde_json::from_str::<Value>(&t.text).ok())
            .unwrap_or(Value::Null);
        if result.is_error == Some(true) {
            self.report.tool_errors += 1;
            let why = body["error"]
                .as_str()
                .map_or_else(|| body.to_string(), str::to_owned);
            tracing::warn!(tool, error = %why, "demo agent: tool error");
            return Ok(Err(why));
        }
        Ok(Ok(body))
    }
}

/// The session's script: the policy, an introduction, then steps until the connection is lost.
async fn script(conn: &mut Conn<'_>, agent: &DemoAgent, rng: &mut ChaCha8Rng, memory: &mut Memory) -> Ended {
    let policy = match conn.call("get_policy", json!({})).await {
        Ok(Err(why)) if why.contains("allow_same_uid_agents") => return Ended::Refused,
        Err(Gone) | Ok(Err(_)) => return Ended::Unreachable,
        Ok(Ok(body)) => Policy::parse(&body),
    };
    if policy.symbols.is_empty() {
        tracing::warn!("demo agent: the policy allows no symbol; nothing to watch");
    }
    let run = match agent.role {
        Role::Trader => steps(conn, agent, &policy, rng, memory).await,
        Role::Watcher => watch(conn, agent, &policy, memory).await,
    };
    match run {
        Ok(never) => match never {},
        Err(Gone) => Ended::Lost,
    }
}

/// The steps, forever (until the connection is lost).
async fn steps(
    conn: &mut Conn<'_>,
    agent: &DemoAgent,
    policy: &Policy,
    rng: &mut ChaCha8Rng,
    memory: &mut Memory,
) -> Result<std::convert::Infallible, Gone> {
    conn.act(
        "report_status",
        json!({"strategy": STRATEGY, "state": "starting",
               "message": format!("connected to profile {} as {}, level {}", policy.profile, policy.name, policy.level)}),
    )
    .await?;
    for text in introduction(policy) {
        conn.act("recommend", json!({ "text": text })).await?;
    }
    conn.act("get_account", json!({})).await?;
    let symbols = policy.symbols.len().max(1);
    let offset = rng.random_range(0..symbols);
    let mut next: u64 = 0;
    loop {
        let n = next;
        next = next.wrapping_add(1);
        tokio::time::sleep(agent.pace.tick).await;
        let cycle = usize::try_from(n / CYCLE).unwrap_or(usize::MAX);
        let Some(symbol) = policy.symbols.get(cycle.wrapping_add(offset) % symbols).cloned() else {
            if n.is_multiple_of(2) {
                conn.act(
                    "report_status",
                    json!({"strategy": STRATEGY, "state": "idle", "message": "the policy allows no symbol"}),
                )
                .await?;
            }
            continue;
        };
        if n.is_multiple_of(2) {
            let state = if memory.stages >= agent.max_stages {
                "done staging for today".to_owned()
            } else {
                format!("watching {symbol}")
            };
            let message = format!(
                "{}{} of my orders waiting; staged {} of {}",
                signal(memory, &symbol),
                memory.waiting,
                memory.stages,
                agent.max_stages
            );
            conn.act(
                "report_status",
                json!({"strategy": STRATEGY, "state": state, "message": message}),
            )
            .await?;
        }
        match n % CYCLE {
            0 | 6 => {
                quote(conn, memory, &symbol).await?;
            }
            2 => {
                let tool = if cycle % 2 == 0 {
                    "get_account"
                } else {
                    "get_positions"
                };
                conn.act(tool, json!({})).await?;
            }
            3 if rng.random_bool(0.5) => {
                let text = advice(memory, &symbol);
                conn.act("recommend", json!({"text": text, "symbol": symbol}))
                    .await?;
            }
            4 => stage(conn, agent, policy, rng, memory, &symbol).await?,
            7 if rng.random_ratio(1, 12) => {
                let seen = signal(memory, &symbol);
                if !seen.is_empty() {
                    let text = format!(
                        "demo agent: {}. An agent's alert is information only: it never changes the trading state.",
                        seen.trim_end_matches("; ")
                    );
                    conn.act("raise_alert", json!({"severity": "info", "text": text}))
                        .await?;
                }
            }
            _ => {}
        }
    }
}

/// The watcher's steps, forever (until the connection is lost): one read a tick, round the allowlist; once
/// a session, when a symbol's mid has moved from its mean, it says so with `recommend` — which a read-level
/// agent is refused (it then only watches, as it should) and a prepare-level one is not.
async fn watch(
    conn: &mut Conn<'_>,
    agent: &DemoAgent,
    policy: &Policy,
    memory: &mut Memory,
) -> Result<std::convert::Infallible, Gone> {
    let symbols = policy.symbols.len().max(1);
    let mut said = false;
    let mut next: u64 = 0;
    loop {
        let n = next;
        next = next.wrapping_add(1);
        tokio::time::sleep(agent.pace.tick).await;
        let round = usize::try_from(n / 2).unwrap_or(usize::MAX);
        let Some(symbol) = policy.symbols.get(round % symbols).cloned() else {
            conn.act("get_account", json!({})).await?;
            continue;
        };
        match n % 8 {
            1 => conn.act("get_positions", json!({})).await?,
            3 => conn.act("get_account", json!({})).await?,
            5 => conn.act("get_alerts", json!({})).await?,
            7 => conn.act("get_orders", json!({})).await?,
            _ => {
                quote(conn, memory, &symbol).await?;
                if !said && mean_and_last(memory, &symbol).is_some() {
                    said = true;
                    let text = format!("watcher: {}", advice(memory, &symbol));
                    conn.act("recommend", json!({"text": text, "symbol": symbol}))
                        .await?;
                }
            }
        }
    }
}

/// What it tells the trader when a session starts (recommendations belong to a profile's session, so again
/// after a switch). The pane is narrow and shows the newest first: the point comes first in each, and the
/// introduction is posted last so that it is on top.
fn introduction(policy: &Policy) -> Vec<String> {
    let mut texts = vec![
        "LIVE (SIM) refuses me: I run under the cockpit's own uid, which a live profile refuses \
         (allow_same_uid_agents = false). I stay silent there and come back when you switch away."
            .to_owned(),
    ];
    if policy.can_submit {
        texts.push(format!(
            "Execute granted on {}: small orders the policy clears without you (below {} notional, within my \
             budget) I send myself with submit_order; larger ones wait for you.",
            policy.profile, policy.manual_notional
        ));
    }
    texts.push(format!(
        "I stage small limit orders near the quote for you to approve (a, then y), and now and then one \
         outside the policy on purpose: it shows refused, dimmed. At most {MAX_PENDING} wait; I withdraw my \
         oldest. (The demo agent: {CLIENT_NAME} in the cockpit's process, known by its own socket as {}.)",
        policy.name
    ));
    texts
}

/// Its proposals still waiting (staged or refused), oldest first.
async fn pending(conn: &mut Conn<'_>) -> Result<Vec<u64>, Gone> {
    let Ok(body) = conn.call("get_orders", json!({})).await? else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<u64> = body["orders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| {
            matches!(
                o["fate"].as_str(),
                Some(
                    "staged for the trader's approval" | "cleared for submit_order" | "refused by the policy"
                )
            )
        })
        .filter_map(|o| o["proposal_id"].as_u64())
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Reads `symbol`'s quote and remembers its mid; `None` when there is none.
async fn quote(conn: &mut Conn<'_>, memory: &mut Memory, symbol: &str) -> Result<Option<Decimal>, Gone> {
    let Ok(body) = conn.call("get_quote", json!({ "symbol": symbol })).await? else {
        return Ok(None);
    };
    let price = |k: &str| body[k].as_str().and_then(|s| Decimal::from_str(s).ok());
    let mid = match (price("bid"), price("ask"), price("last")) {
        (Some(b), Some(a), _) if b <= a && b > Decimal::ZERO => Some((b + a) / Decimal::TWO),
        (_, _, Some(l)) if l > Decimal::ZERO => Some(l),
        _ => None,
    };
    if let Some(mid) = mid {
        let mids = memory.mids.entry(symbol.to_owned()).or_default();
        if mids.len() == HISTORY {
            mids.pop_front();
        }
        mids.push_back(mid);
    }
    Ok(mid)
}

/// The mean of `symbol`'s remembered mids and its latest, when there are at least three.
fn mean_and_last(memory: &Memory, symbol: &str) -> Option<(Decimal, Decimal, usize)> {
    let mids = memory.mids.get(symbol)?;
    let last = *mids.back()?;
    (mids.len() >= 3).then(|| {
        let sum: Decimal = mids.iter().sum();
        (sum / Decimal::from(mids.len()), last, mids.len())
    })
}

/// A short status fragment about `symbol` (ends with "; " when not empty).
fn signal(memory: &Memory, symbol: &str) -> String {
    match mean_and_last(memory, symbol) {
        Some((mean, last, k)) => format!("{symbol} mid {last:.2} vs {k}-quote mean {mean:.2}; "),
        None => memory
            .mids
            .get(symbol)
            .and_then(|m| m.back())
            .map_or_else(String::new, |last| format!("{symbol} mid {last:.2}; ")),
    }
}

/// A mean-reversion note about `symbol`.
fn advice(memory: &Memory, symbol: &str) -> String {
    match mean_and_last(memory, symbol) {
        Some((mean, last, k)) if mean > Decimal::ZERO => {
            let pct = ((last - mean) * Decimal::ONE_HUNDRED / mean).round_dp(2);
            let (where_, side) = if last < mean {
                ("below", "BUY")
            } else {
                ("above", "SELL")
            };
            format!(
                "{symbol} at {last:.2} is {}% {where_} its {k}-quote mean {mean:.2}: a small {side} may revert. \
                 (A demo signal, not advice.)",
                pct.abs()
            )
        }
        _ => format!("{symbol}: still collecting quotes before I have a view."),
    }
}

/// Which rule an order outside the policy is meant to break.
#[derive(Debug, Clone, Copy)]
enum Breach {
    Quantity,
    Symbol,
    Collar,
}

/// Withdraws its oldest waiting proposals down to below [`MAX_PENDING`], then stages one order (inside or,
/// now and then, outside the policy), and submits it when the profile grants execute and the policy cleared
/// it without a human.
async fn stage(
    conn: &mut Conn<'_>,
    agent: &DemoAgent,
    policy: &Policy,
    rng: &mut ChaCha8Rng,
    memory: &mut Memory,
    symbol: &str,
) -> Result<(), Gone> {
    if memory.stages >= agent.max_stages {
        if !memory.said_done {
            memory.said_done = true;
            let text = format!(
                "I have staged {} orders, my limit for today (max_proposals_per_day); I keep watching and \
                 reporting, and stage nothing more.",
                memory.stages
            );
            conn.act("recommend", json!({ "text": text })).await?;
        }
        return Ok(());
    }
    let waiting = pending(conn).await?;
    let excess = (waiting.len() + 1).saturating_sub(MAX_PENDING);
    memory.waiting = waiting.len() - excess;
    for id in waiting.into_iter().take(excess) {
        conn.act("cancel_proposal", json!({ "proposal_id": id })).await?;
    }
    let Some(mid) = quote(conn, memory, symbol).await? else {
        tracing::info!(symbol, "demo agent: no quote; nothing staged this time");
        return Ok(());
    };
    let args = order(policy, rng, memory, symbol, mid);
    memory.stages += 1;
    let Ok(staged) = conn.call("stage_order", args).await? else {
        return Ok(());
    };
    match staged["fate"].as_str() {
        Some("refused by the policy") => {
            conn.report.refused += 1;
            memory.waiting += 1;
        }
        Some("cleared for submit_order") => {
            conn.report.cleared += 1;
            let sent = policy.can_submit
                && conn
                    .call("submit_order", json!({ "proposal_id": staged["proposal_id"] }))
                    .await?
                    .is_ok();
            if sent {
                conn.report.submitted += 1;
            } else {
                memory.waiting += 1;
            }
        }
        Some("staged for the trader's approval") => {
            conn.report.cleared += 1;
            memory.waiting += 1;
        }
        other => tracing::info!(fate = ?other, "demo agent: an unexpected verdict"),
    }
    Ok(())
}

/// The arguments of its next `stage_order` on `symbol` at `mid`: a small limit order near the mid, on the
/// side its mean-reversion signal points to — or, for its second order and then about one in four, one
/// outside the policy on purpose.
fn order(policy: &Policy, rng: &mut ChaCha8Rng, memory: &Memory, symbol: &str, mid: Decimal) -> Value {
    // The second order is outside the policy, so that both kinds show within the first minute.
    let breach = if memory.stages == 1 {
        Some(Breach::Quantity)
    } else if memory.stages > 1 && rng.random_ratio(1, 4) {
        Some(match rng.random_range(0..3) {
            0 => Breach::Quantity,
            1 => Breach::Symbol,
            _ => Breach::Collar,
        })
    } else {
        None
    };
    let buy = match mean_and_last(memory, symbol) {
        Some((mean, last, _)) => last < mean,
        None => rng.random_bool(0.5),
    };
    let side = if buy { "BUY" } else { "SELL" };
    let sign = if side == "BUY" {
        -Decimal::ONE
    } else {
        Decimal::ONE
    };
    // A little better than the mid (0 to 0.20 %), so it may rest a while once approved.
    let offset = Decimal::new(rng.random_range(0..=20), 4);
    let mut limit = (mid * (Decimal::ONE + sign * offset)).round_dp(2);
    // Small: at most 10 shares and half the manual-approval threshold in notional (so an execute-level
    // agent's order can clear without a human), at least one share.
    let cap = (policy.manual_notional / Decimal::TWO / mid)
        .floor()
        .min(Decimal::TEN)
        .min(policy.max_quantity)
        .max(Decimal::ONE);
    let cap = cap.to_u32().unwrap_or(1).max(1);
    let mut quantity = Decimal::from(rng.random_range(1..=cap));
    let too_many = policy.max_quantity + Decimal::ONE_HUNDRED;
    let mut symbol = symbol.to_owned();
    let outside = OUTSIDE.iter().find(|s| !policy.symbols.iter().any(|a| a == *s));
    let rationale = match (breach, outside) {
        (None, _) => format!(
            "{STRATEGY}: {side} {symbol} a little {} the mid {mid:.2}, small size. Staged for your approval.",
            if side == "BUY" { "below" } else { "above" }
        ),
        (Some(Breach::Symbol), Some(outside)) => {
            (*outside).clone_into(&mut symbol);
            format!("Demo: {symbol} deliberately, outside the symbol allowlist, so you see a refusal.")
        }
        (Some(Breach::Quantity | Breach::Symbol), _) => {
            quantity = too_many;
            format!(
                "Demo: deliberately above the policy's max_order_quantity ({}) so you see a refusal.",
                policy.max_quantity
            )
        }
        (Some(Breach::Collar), _) => {
            let away = Decimal::ONE - sign * policy.collar_pct * Decimal::TWO / Decimal::ONE_HUNDRED;
            limit = (mid * away).round_dp(2).max(Decimal::new(1, 2));
            format!(
                "Demo: a limit price deliberately outside the {}% price collar, so you see a refusal.",
                policy.collar_pct
            )
        }
    };
    json!({"symbol": symbol, "side": side, "quantity": quantity.to_string(), "order_type": "LMT",
           "limit_price": format!("{limit:.2}"), "tif": "DAY", "rationale": rationale})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_human_pace_stays_well_under_the_demo_agents_call_rate() {
        // Per cycle: a status every other step, two quotes, one read, at most one recommend and one
        // alert, and a stage: get_orders, at most MAX_PENDING withdrawals, a quote, the stage, a submit.
        let per_cycle = CYCLE / 2 + 2 + 1 + 1 + 1 + (1 + 3 + 1 + 1 + 1);
        assert_eq!(MAX_PENDING, 3, "the count above");
        let cycle = Pace::HUMAN.tick * u32::try_from(CYCLE).unwrap_or(u32::MAX);
        let per_minute = per_cycle * 60_000 / u64::try_from(cycle.as_millis()).unwrap_or(u64::MAX);
        assert!(
            per_minute < 50,
            "{per_minute} calls a minute; the demo agent may make 60"
        );
    }

    fn policy() -> Policy {
        Policy {
            profile: "paper".into(),
            name: "rebalancer".into(),
            level: "prepare".into(),
            symbols: vec!["AAPL".into(), "MSFT".into(), "SPY".into()],
            max_quantity: Decimal::from(500),
            collar_pct: Decimal::from(5),
            manual_notional: Decimal::from(5000),
            can_submit: false,
        }
    }

    fn dec(v: &Value) -> Decimal {
        Decimal::from_str(v.as_str().unwrap_or_default()).unwrap_or_default()
    }

    #[test]
    fn its_orders_are_small_and_near_the_mid_except_the_ones_meant_to_be_refused() {
        let (policy, mid) = (policy(), Decimal::from(230));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut memory = Memory::default();
        let (mut inside, mut outside) = (0, 0);
        for stages in 0..200 {
            memory.stages = stages;
            let order = order(&policy, &mut rng, &memory, "AAPL", mid);
            let (quantity, limit) = (dec(&order["quantity"]), dec(&order["limit_price"]));
            let collar = (limit - mid).abs() * Decimal::ONE_HUNDRED > policy.collar_pct * mid;
            let symbol = order["symbol"] != "AAPL";
            let size = quantity > policy.max_quantity;
            if collar || symbol || size {
                assert_eq!(u8::from(collar) + u8::from(symbol) + u8::from(size), 1, "{order}");
                assert!(stages != 0, "the first order is inside the policy");
                outside += 1;
            } else {
                assert!(stages != 1, "the second order is outside the policy: {order}");
                assert!(
                    quantity >= Decimal::ONE && quantity * limit <= Decimal::from(2500),
                    "{order}"
                );
                assert!(
                    (limit - mid).abs() <= mid / Decimal::from(500) + Decimal::new(1, 2),
                    "within 0.2 % (and a cent of rounding): {order}"
                );
                inside += 1;
            }
        }
        assert!(outside > 20 && inside > 100, "{outside} outside, {inside} inside");
    }

    #[test]
    fn advice_needs_three_quotes_and_points_back_to_the_mean() {
        let mut memory = Memory::default();
        assert!(advice(&memory, "AAPL").contains("still collecting"));
        memory.mids.insert(
            "AAPL".into(),
            [100, 102, 97].into_iter().map(Decimal::from).collect(),
        );
        let text = advice(&memory, "AAPL");
        assert!(text.contains("below") && text.contains("BUY"), "{text}");
    }
}
