//! The full stack for the agent tests of `tests/agent_stack.rs`: the real app shell (`shell::run`) headless
//! on a ratatui `TestBackend`, keys from a channel, against the demo's simulated gateways (127.0.0.1, port 0),
//! with this process as one configured agent; a real MCP client (`rmcp`) on `STATE/agent.sock` that counts
//! every call it makes; and the audit that holds the simulator's ledger against the journal.
//!
//! Every wait is bounded by [`WITHIN`] and polls; nothing asserts on how long anything took.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cockpit::agent;
use cockpit::app::shell::{self, Setup, ShellError};
use cockpit::config::{Config, Permission};
use cockpit::demo::Demo;
use cockpit::journal::{Reader, Record, kinds};
use cockpit::sim::{EntryKind, LedgerEntry, Outcome};
use cockpit::ui::Theme;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rmcp::ServiceExt;
use rmcp::model::{CallToolResult, ClientCapabilities, ClientConfig, Implementation};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;

use super::common::agents::{self, Client, body, is_error};

/// The bound on waiting for any one thing.
pub const WITHIN: Duration = Duration::from_secs(30);
/// How often a wait looks again.
pub const POLL: Duration = Duration::from_millis(100);
/// Keys are sent this far apart: past the 300 ms window in which keys after a change under the trader
/// are discarded.
pub const PAUSE: Duration = Duration::from_millis(400);
/// The demo's paper account.
pub const ACCOUNT: &str = "DU1234567";
/// The MCP client's declared name (a label only: identity is the socket peer's uid).
pub const LABEL: &str = "stack-agent";
/// Where the uids of configured agents that are not this process go: far from any real user.
const UNUSED_UID: u32 = 4_000_000_000;

/// Makes the configured agent `name` this process (every other agent that had this process's uid moves to
/// an unused one, so one uid names one agent), at its own level `level`, with `calls_per_minute` and a
/// daily proposal limit no test reaches; the paper profile grants `grant`.
pub fn as_agent(config: &mut Config, name: &str, uid: u32, level: Permission, grant: Permission) {
    for (i, agent) in config.agents.iter_mut().enumerate() {
        if agent.uid == uid {
            agent.uid = UNUSED_UID + u32::try_from(i).unwrap();
        }
    }
    let agent = config.agents.iter_mut().find(|a| a.name == name).unwrap();
    agent.uid = uid;
    agent.permission = level;
    agent.max_proposals_per_day = 1_000;
    config.profiles.get_mut("paper").unwrap().agent_permission = grant;
}

/// Sets the calls per minute of the configured agent `name`.
pub fn rate(config: &mut Config, name: &str, calls_per_minute: u32) {
    config
        .agents
        .iter_mut()
        .find(|a| a.name == name)
        .unwrap()
        .max_calls_per_minute = calls_per_minute;
}

/// Every record of the journal in `dir` (none while it cannot be read).
pub fn records(dir: &Path) -> Vec<Record> {
    Reader::open(dir).and_then(|r| r.records(1)).unwrap_or_default()
}

/// The journal's last records, for a failure message.
pub fn tail(rs: &[Record]) -> String {
    rs.iter()
        .rev()
        .take(25)
        .rev()
        .map(|r| format!("#{} {} {}", r.seq, r.kind, r.data))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Polls the journal until `done` holds for its records (bounded by [`WITHIN`]); a timeout shows its tail.
pub async fn until(dir: &Path, what: &str, done: impl Fn(&[Record]) -> bool) -> Vec<Record> {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let rs = records(dir);
        if done(&rs) {
            return rs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; the journal's last records:\n{}",
            tail(&rs)
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The trader's keyboard.
pub struct Keys(mpsc::UnboundedSender<std::io::Result<Event>>);

impl Keys {
    /// Presses `code`, then waits [`PAUSE`].
    pub async fn press(&self, code: KeyCode) {
        self.0
            .send(Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))))
            .unwrap();
        tokio::time::sleep(PAUSE).await;
    }

    /// Types `text`, one key at a time.
    pub async fn text(&self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c)).await;
        }
    }

    /// Moves the Staged Orders selection to its first row (the open order with the lowest id) from any of
    /// `rows` rows: the selection follows an order id, never a row, so it is moved there explicitly.
    pub async fn first_row(&self, rows: usize) {
        for _ in 0..rows {
            self.press(KeyCode::Up).await;
        }
    }
}

/// The shell on the demo's gateways, with this process as one configured agent.
pub struct Stack {
    /// The state dir (journal, socket, the simulators' ledger files).
    pub dir: PathBuf,
    /// The simulated gateways.
    pub demo: Demo,
    /// The trader's keyboard.
    pub keys: Keys,
    shutdown: CancellationToken,
    runner: JoinHandle<Result<(), ShellError>>,
}

/// Starts the demo's gateways (seed 7), lets `edit` change its config (given this process's uid), runs
/// the shell on the paper profile and waits until the paper gateway reconciled.
pub async fn stack(name: &str, edit: impl FnOnce(&mut Config, u32)) -> Stack {
    let dir = std::env::temp_dir().join(format!("cockpit-agent-stack-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut demo = cockpit::demo::start(7, Some(&dir)).await.unwrap();
    let uid = std::fs::metadata(&dir).unwrap().uid();
    edit(&mut demo.config, uid);
    let setup = Setup {
        profile: "paper".into(),
        config: demo.config.clone(),
        state_dir: dir.clone(),
        theme: Theme::named("dark", false, false).unwrap(),
        live_label: cockpit::demo::LIVE_SIM.into(),
        probe: None,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let runner = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            let mut terminal = Terminal::new(TestBackend::new(120, 36)).unwrap();
            let mut bell = || {};
            Box::pin(shell::run(
                setup,
                &mut terminal,
                UnboundedReceiverStream::new(rx),
                &mut bell,
                shutdown,
            ))
            .await
        }
    });
    until(&dir, "the paper gateway reconciled", |rs| {
        rs.iter()
            .any(|r| r.kind == kinds::BROKER_EVENT && r.data["event"] == "reconciled")
    })
    .await;
    Stack {
        dir,
        demo,
        keys: Keys(tx),
        shutdown,
        runner,
    }
}

impl Stack {
    /// A new MCP session on the agent socket, with every allowlisted symbol quoted (polled with
    /// `get_quote`, each poll a counted call).
    pub async fn agent(&self) -> Agent {
        let stream = UnixStream::connect(agent::socket_path(&self.dir)).await.unwrap();
        let client = ClientConfig::new(ClientCapabilities::default(), Implementation::new(LABEL, "1"))
            .serve(stream)
            .await
            .unwrap();
        let mut agent = Agent { client, calls: 0 };
        for symbol in ["AAPL", "MSFT", "SPY"] {
            agent.quote(symbol).await;
        }
        agent
    }

    /// The journal's records.
    pub fn records(&self) -> Vec<Record> {
        records(&self.dir)
    }

    /// Polls the journal until `done` holds.
    pub async fn until(&self, what: &str, done: impl Fn(&[Record]) -> bool) -> Vec<Record> {
        until(&self.dir, what, done).await
    }

    /// Everything the paper simulator received.
    pub async fn ledger(&self) -> Vec<LedgerEntry> {
        self.demo.paper.ledger().await.unwrap()
    }

    /// Polls the paper simulator's ledger until `done` holds for it (bounded by [`WITHIN`]).
    pub async fn until_ledger(&self, what: &str, done: impl Fn(&[LedgerEntry]) -> bool) -> Vec<LedgerEntry> {
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            let ledger = self.ledger().await;
            if done(&ledger) {
                return ledger;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; the ledger: {ledger:?}\nthe journal's last records:\n{}",
                tail(&self.records())
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The trader approves proposal `id`, the first of the Staged Orders pane's `rows` rows: `a`, then `y`
    /// on the Confirm dialog. Waits for the journaled approval.
    pub async fn approve(&self, id: u64, rows: usize) {
        self.approve_at(id, 0, rows).await;
    }

    /// The trader approves proposal `id`, row `row` (from 0) of the pane's `rows` rows.
    pub async fn approve_at(&self, id: u64, row: usize, rows: usize) {
        // Past the discard window opened by the agent's order arriving under the trader.
        tokio::time::sleep(PAUSE).await;
        self.keys.first_row(rows).await;
        for _ in 0..row {
            self.keys.press(KeyCode::Down).await;
        }
        self.keys.press(KeyCode::Char('a')).await;
        self.keys.press(KeyCode::Char('y')).await;
        self.until(&format!("the trader's approval of #{id}"), |rs| {
            rs.iter().any(|r| approved(r, id) && r.data["by"] == "confirm")
        })
        .await;
    }

    /// The trader rejects proposal `id`, the first of `rows` rows, typing `reason`. Waits for the record.
    pub async fn reject(&self, id: u64, rows: usize, reason: &str) {
        tokio::time::sleep(PAUSE).await;
        self.keys.first_row(rows).await;
        self.keys.press(KeyCode::Char('r')).await;
        self.keys.text(reason).await;
        self.keys.press(KeyCode::Enter).await;
        self.until(&format!("the trader's rejection of #{id}"), |rs| {
            rs.iter().any(|r| {
                r.kind == kinds::HUMAN_ACTION
                    && r.data["action"] == "reject"
                    && r.data["proposal"] == id
                    && r.data["reason"] == reason
            })
        })
        .await;
    }

    /// The trader stages a ticket of their own with `n`: BUY 5 AAPL MKT. Returns its proposal id.
    pub async fn trader_ticket(&self) -> u64 {
        tokio::time::sleep(PAUSE).await;
        let keys = &self.keys;
        keys.press(KeyCode::Char('n')).await;
        keys.text("AAPL").await;
        keys.press(KeyCode::Tab).await;
        keys.press(KeyCode::Tab).await;
        keys.text("5").await;
        keys.press(KeyCode::Tab).await;
        keys.press(KeyCode::Right).await; // LMT → MKT: no price needed
        keys.press(KeyCode::Enter).await;
        let rs = self
            .until("the trader's ticket's verdict", |rs| {
                rs.iter()
                    .any(|r| r.kind == kinds::VERDICT && r.data["requester"] == "trader")
            })
            .await;
        let verdict = rs
            .iter()
            .find(|r| r.kind == kinds::VERDICT && r.data["requester"] == "trader")
            .unwrap();
        assert_eq!(verdict.data["codes"], json!([]), "clearable: {}", verdict.data);
        verdict.data["proposal"].as_u64().unwrap()
    }

    /// Stops the shell as SIGTERM does, after checking it is still running (nothing crashed); returns the
    /// journal's records and the simulator's ledger, and removes everything.
    pub async fn stop(self) -> (Vec<Record>, Vec<LedgerEntry>) {
        assert!(!self.runner.is_finished(), "the shell is still running");
        self.shutdown.cancel();
        tokio::time::timeout(WITHIN, self.runner)
            .await
            .expect("the shell stops")
            .unwrap()
            .expect("the shell stopped without an error");
        let ledger = self.demo.paper.ledger().await.unwrap();
        let rs = records(&self.dir);
        assert!(
            self.demo.live.ledger().await.unwrap().is_empty(),
            "nothing reached the live gateway"
        );
        self.demo.paper.shutdown().await;
        self.demo.live.shutdown().await;
        std::fs::remove_dir_all(&self.dir).unwrap();
        (rs, ledger)
    }
}

/// Whether `r` is the carried-out approval of proposal `id` (not a refused one).
pub fn approved(r: &Record, id: u64) -> bool {
    r.kind == kinds::HUMAN_ACTION
        && r.data["action"] == "approve"
        && r.data["proposal"] == id
        && r.data.get("refused").is_none_or(Value::is_null)
}

/// One agent session, counting its calls.
pub struct Agent {
    client: Client,
    /// Tool calls made so far.
    pub calls: usize,
}

impl Agent {
    /// The tools listed to this agent (not a tool call).
    pub async fn tools(&self) -> Vec<String> {
        self.client
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect()
    }

    /// Calls `tool`; the connection must answer.
    pub async fn call(&mut self, tool: &str, args: Value) -> CallToolResult {
        self.calls += 1;
        agents::call(&self.client, tool, args).await
    }

    /// Sends a call that must get no answer within `wait` (the transport drops it); it is not a tool call,
    /// so it is not counted.
    pub async fn unanswered(&mut self, tool: &str, args: Value, wait: Duration) {
        let answer = tokio::time::timeout(wait, agents::call(&self.client, tool, args)).await;
        assert!(answer.is_err(), "it was answered: {answer:?}");
    }

    /// Calls `tool`, which must succeed; returns the body.
    pub async fn ok(&mut self, tool: &str, args: Value) -> Value {
        let result = self.call(tool, args).await;
        assert!(!is_error(&result), "{tool} failed: {}", body(&result));
        body(&result)
    }

    /// Calls `tool`, which must answer a tool error; returns its text.
    pub async fn error(&mut self, tool: &str, args: Value) -> String {
        let result = self.call(tool, args).await;
        assert!(is_error(&result), "{tool} was accepted: {}", body(&result));
        body(&result)["error"].as_str().unwrap().to_owned()
    }

    /// The quote of `symbol` once it has a bid and an ask (polled, bounded): `(bid, ask)`.
    pub async fn quote(&mut self, symbol: &str) -> (Decimal, Decimal) {
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            let result = self.call("get_quote", json!({ "symbol": symbol })).await;
            let answer = body(&result);
            if !is_error(&result)
                && let (Some(bid), Some(ask)) = (answer["bid"].as_str(), answer["ask"].as_str())
            {
                return (bid.parse().unwrap(), ask.parse().unwrap());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no quote for {symbol}: {answer}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// This agent's proposal `id` as `get_orders` reports it.
    pub async fn order(&mut self, id: u64) -> Value {
        let orders = self.ok("get_orders", json!({})).await;
        orders["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["proposal_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("#{id} is not in get_orders: {orders}"))
    }

    /// Polls `get_orders` until proposal `id`'s fate is `fate` (bounded); returns it.
    pub async fn until_fate(&mut self, id: u64, fate: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            let order = self.order(id).await;
            if order["fate"] == fate {
                return order;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "#{id} never became {fate}: {order}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Ends the session.
    pub async fn close(self) {
        self.client.cancel().await.unwrap();
    }
}

/// A limit price `bps` basis points from `reference` (+ above, − below), to the cent.
pub fn priced(reference: Decimal, bps: i64) -> Decimal {
    (reference * (Decimal::from(10_000 + bps)) / Decimal::from(10_000)).round_dp(2)
}

/// The audit of P6: every order the simulator received carries the orderRef of a journaled intent whose
/// proposal was approved before it — by the trader (`confirm` or `typed`), or automatically, which only an
/// execute-level agent's successful `submit_order` of a proposal the policy cleared at tier none may do.
/// Every order was accepted. Returns how many orders were checked.
pub fn assert_no_bypass(rs: &[Record], ledger: &[LedgerEntry]) -> usize {
    let mut checked = 0;
    for entry in ledger.iter().filter(|e| e.kind == EntryKind::Place) {
        checked += 1;
        assert_eq!(entry.outcome, Outcome::Accepted, "{entry:?}");
        let order_ref = entry
            .order_ref
            .as_deref()
            .unwrap_or_else(|| panic!("an order without the cockpit's orderRef: {entry:?}"));
        let intent = rs
            .iter()
            .find(|r| r.kind == kinds::INTENT && r.data["order_ref"] == order_ref)
            .unwrap_or_else(|| panic!("order {order_ref} reached the simulator without an intent"));
        assert_eq!(
            entry.order_id.map(i64::from),
            intent.data["order_id"].as_i64(),
            "{order_ref}"
        );
        let id = intent.data["proposal"].as_u64().unwrap();
        let approval = rs
            .iter()
            .filter(|r| r.seq < intent.seq)
            .find(|r| approved(r, id) && r.data["version"] == intent.data["version"])
            .unwrap_or_else(|| panic!("order {order_ref} (#{id}) was sent without an approval"));
        match approval.data["by"].as_str() {
            Some("confirm" | "typed") => {}
            Some("automatic") => {
                assert_eq!(intent.data["agent_unapproved"], true, "{order_ref}");
                let verdict = rs
                    .iter()
                    .filter(|r| r.seq < intent.seq)
                    .rfind(|r| r.kind == kinds::VERDICT && r.data["proposal"] == id)
                    .unwrap();
                assert_eq!(verdict.data["tier"], "None", "{order_ref}: {}", verdict.data);
                assert!(
                    rs.iter().any(|r| r.kind == kinds::TOOL_CALL
                        && r.data["tool"] == "submit_order"
                        && r.data["level"] == "execute"
                        && r.data["error"] == false
                        && r.data["answer"]["proposal_id"] == id),
                    "{order_ref} (#{id}) was approved automatically without an execute-level submit_order"
                );
            }
            other => panic!("{order_ref}: an approval by {other:?}"),
        }
    }
    checked
}

/// The audit of P16: exactly one `tool_call` record per call made, each of this process's session.
pub fn assert_one_record_per_call(rs: &[Record], calls: usize) {
    let journaled: Vec<&Record> = rs.iter().filter(|r| r.kind == kinds::TOOL_CALL).collect();
    assert_eq!(journaled.len(), calls, "one tool_call record per call");
    assert!(journaled.iter().all(|r| r.data["label"] == LABEL));
}
