//! The demo agent of `cockpit demo` (issue #7), a real MCP client over the Unix socket, run at a fast pace:
//!
//! - against the gateway answered by the real engine and journal (as in `tests/agent.rs`) on the paper
//!   profile: it stages at least one order the policy clears and one it refuses, reports its status, keeps
//!   at most `MAX_PENDING` of its proposals waiting, every call it made is a `tool_call` record (in order),
//!   and it stops promptly when cancelled;
//! - on the live profile, where an agent under the cockpit's own uid is refused: one refused call, then
//!   silence (no retry storm), and a prompt stop;
//! - against the real shell and the demo's simulators: it follows profile switches (each restarts the
//!   gateway) — paper, then live (refused once, then silent), then dry-run, which grants execute and where it
//!   submits an order itself.
//!
//! Every wait is bounded in time and in polls.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cockpit::agent::demo::{self as demo_agent, DemoAgent, MAX_PENDING, Pace, Report, Role, STRATEGY};
use cockpit::app::Stage;
use cockpit::app::shell::{self, Setup};
use cockpit::config::Config;
use cockpit::journal::{Reader, Record, kinds};
use cockpit::sim::EntryKind;
use cockpit::ui::Theme;
use common::agents::{self, Rig};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;

/// The bound on any one wait.
const WITHIN: Duration = Duration::from_secs(30);
/// How often a wait looks at the journal.
const POLL: Duration = Duration::from_millis(50);
/// A cancelled agent must be gone within this.
const PROMPT: Duration = Duration::from_millis(500);

/// Fast: a step every 5 ms.
const FAST: Pace = Pace {
    tick: Duration::from_millis(5),
    backoff_min: Duration::from_millis(5),
    backoff_max: Duration::from_millis(50),
    call_timeout: Duration::from_secs(10),
};

fn records(dir: &Path) -> Vec<Record> {
    Reader::open(dir).and_then(|r| r.records(1)).unwrap_or_default()
}

fn tool_calls(dir: &Path) -> Vec<Record> {
    records(dir)
        .into_iter()
        .filter(|r| r.kind == kinds::TOOL_CALL)
        .collect()
}

/// Polls the journal until `done` holds for its records, bounded by [`WITHIN`] and a count of polls; a
/// timeout shows the journal's last records.
async fn until(dir: &Path, what: &str, done: impl Fn(&[Record]) -> bool) {
    let deadline = Instant::now() + WITHIN;
    let polls = WITHIN.as_millis() / POLL.as_millis();
    let mut rs = Vec::new();
    for _ in 0..polls {
        rs = records(dir);
        if done(&rs) {
            return;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let tail: Vec<String> = rs
        .iter()
        .rev()
        .take(30)
        .rev()
        .map(|r| format!("{} {} {}", r.envelope.profile, r.kind, r.data))
        .collect();
    panic!(
        "timed out waiting for {what}; {} records, the last:\n{}",
        rs.len(),
        tail.join("\n")
    );
}

fn staged_with(fate: &str) -> impl Fn(&[Record]) -> bool + '_ {
    move |rs: &[Record]| {
        rs.iter().any(|r| {
            r.kind == kinds::TOOL_CALL && r.data["tool"] == "stage_order" && r.data["answer"]["fate"] == fate
        })
    }
}

/// Cancels the agent and requires it to stop within [`PROMPT`]; returns what it did and how long it took.
async fn stop(cancel: &CancellationToken, agent: tokio::task::JoinHandle<Report>) -> (Report, Duration) {
    let at = Instant::now();
    cancel.cancel();
    let report = tokio::time::timeout(PROMPT, agent)
        .await
        .expect("the agent stops promptly when cancelled")
        .unwrap();
    (report, at.elapsed())
}

/// The configured rebalancer (the demo's agent) is this process, with a call rate that a fast pace never
/// reaches (the rate limit has its own test in `tests/agent.rs`).
fn as_demo_agent(config: &mut Config, uid: u32) {
    let agent = config
        .agents
        .iter_mut()
        .find(|a| a.name == cockpit::demo::DEMO_AGENT)
        .unwrap();
    agent.uid = uid;
    agent.max_calls_per_minute = 1_000_000;
}

/// The engine answering the gateway on `profile` (the shared rig: every allowed symbol quoted at `t0`, the
/// engine's clock), with the demo's agent this process.
async fn rig(name: &str, profile: &str) -> Rig {
    agents::rig(&format!("demo-{name}"), profile, as_demo_agent).await
}

/// The demo agent for `rig`'s state dir, at a fast pace.
fn agent(rig: &Rig, seed: u64) -> DemoAgent {
    DemoAgent {
        state_dir: rig.dir.clone(),
        socket: cockpit::agent::socket_path(&rig.dir),
        role: Role::Trader,
        seed,
        pace: FAST,
        max_stages: 50,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_agent_stages_inside_and_outside_the_policy_reports_and_is_journaled() {
    let rig = rig("paper", "paper").await;
    let cancel = CancellationToken::new();
    let agent = demo_agent::spawn(agent(&rig, 7), cancel.clone());
    until(
        &rig.dir,
        "a stage the policy clears",
        staged_with("staged for the trader's approval"),
    )
    .await;
    until(
        &rig.dir,
        "a stage the policy refuses",
        staged_with("refused by the policy"),
    )
    .await;
    let (report, stopped_in) = stop(&cancel, agent).await;
    assert!(stopped_in < PROMPT);
    let dir = rig.dir.clone();
    let uid = rig.uid;
    let (mut engine, _) = rig.stop().await;
    assert!(
        engine.broker().placed.is_empty(),
        "a prepare-level agent sends nothing"
    );

    let state = engine.state();
    let mine = || state.proposals.values().filter(|p| p.agent_uid == Some(uid));
    assert!(
        mine().any(|p| p.stage == Stage::AwaitingApproval),
        "a proposal the policy cleared waits for the trader"
    );
    assert!(mine().any(|p| p.stage == Stage::Refused), "a refused proposal");
    assert!(
        mine().filter(|p| p.stage.is_pending()).count() <= MAX_PENDING,
        "at most {MAX_PENDING} waiting"
    );
    let view = &state.agent_views[&uid];
    let (strategy, _, _) = view.status.as_ref().expect("it reported its status");
    assert_eq!(strategy, STRATEGY);
    assert!(
        state
            .recommendations
            .iter()
            .any(|r| r.text.contains("LIVE (SIM)")),
        "it tells the trader what it does on the live profile"
    );

    assert_eq!(report.sessions, 1);
    assert!(report.cleared >= 1 && report.refused >= 1, "{report:?}");
    // Every call it made is journaled, in order; at most one more (in flight when it was cancelled).
    let journaled: Vec<String> = tool_calls(&dir)
        .iter()
        .map(|r| {
            assert_eq!(r.data["agent"], cockpit::demo::DEMO_AGENT);
            assert_eq!(r.data["label"], demo_agent::CLIENT_NAME);
            r.data["tool"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(
        journaled.starts_with(&report.calls) && journaled.len() <= report.calls.len() + 1,
        "journal {journaled:?}\nagent {:?}",
        report.calls
    );
    for tool in [
        "get_policy",
        "report_status",
        "get_quote",
        "stage_order",
        "recommend",
    ] {
        assert!(journaled.iter().any(|t| t == tool), "{tool} called");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_watcher_comes_through_its_own_socket_reads_and_is_refused_above_read() {
    // No uid mapped to this process: the watcher is known only by its own socket (agents/watcher.sock).
    let rig = agents::rig("demo-watcher", "paper", |_, _| {}).await;
    let socket = cockpit::agent::own_socket_path(&rig.dir, cockpit::demo::WATCHER_AGENT);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "its own socket admits only the cockpit's user");
    let cancel = CancellationToken::new();
    let watcher = DemoAgent {
        state_dir: rig.dir.clone(),
        socket,
        role: Role::Watcher,
        seed: 3,
        pace: FAST,
        max_stages: 0,
    };
    let task = demo_agent::spawn(watcher, cancel.clone());
    until(&rig.dir, "its recommend, refused", |rs| {
        rs.iter()
            .any(|r| r.kind == kinds::TOOL_CALL && r.data["tool"] == "recommend")
    })
    .await;
    until(&rig.dir, "a read after the refusal", |rs| {
        rs.iter()
            .skip_while(|r| r.data["tool"] != "recommend")
            .any(|r| r.kind == kinds::TOOL_CALL && r.data["tool"] == "get_quote")
    })
    .await;
    let (report, _) = stop(&cancel, task).await;
    let dir = rig.dir.clone();
    let uid = rig.uid;
    let (engine, _) = rig.stop().await;

    let calls = tool_calls(&dir);
    let watcher_uid = engine
        .state()
        .agents
        .iter()
        .find(|a| a.name == cockpit::demo::WATCHER_AGENT)
        .unwrap()
        .uid;
    for r in &calls {
        assert_eq!(r.data["agent"], cockpit::demo::WATCHER_AGENT, "{}", r.data);
        assert_eq!(r.data["uid"], watcher_uid, "known by its socket");
        assert_eq!(r.data["peer_uid"], uid, "the peer's real uid is journaled");
        assert_eq!(r.data["label"], demo_agent::WATCHER_CLIENT_NAME);
        assert_eq!(r.data["level"], "read");
    }
    let tools: std::collections::BTreeSet<&str> =
        calls.iter().map(|r| r.data["tool"].as_str().unwrap()).collect();
    for tool in ["get_policy", "get_quote", "get_positions", "get_account"] {
        assert!(tools.contains(tool), "{tool} called: {tools:?}");
    }
    let refused: Vec<&Record> = calls.iter().filter(|r| r.data["error"] == true).collect();
    assert_eq!(refused.len(), 1, "only its one recommend is refused: {refused:?}");
    assert_eq!(refused[0].data["tool"], "recommend");
    let why = refused[0].data["answer"]["error"].as_str().unwrap();
    assert!(
        why.contains("needs the prepare level") && why.contains("has read"),
        "{why}"
    );
    assert!(
        !tools.contains("stage_order") && engine.state().proposals.is_empty(),
        "a watcher stages nothing"
    );
    assert_eq!(report.tool_errors, 1);
    let view = &engine.state().agent_views[&watcher_uid];
    assert_eq!(
        view.last_refusal.as_ref().unwrap().0,
        "recommend",
        "the pane shows the refusal"
    );
    assert!(view.calls >= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_live_profile_the_demo_agent_is_refused_once_then_stays_silent() {
    let rig = rig("live", "live").await;
    let cancel = CancellationToken::new();
    let agent = demo_agent::spawn(agent(&rig, 7), cancel.clone());
    until(&rig.dir, "the refused first call", |rs| {
        rs.iter().any(|r| r.kind == kinds::TOOL_CALL)
    })
    .await;
    // A hundred of its steps: it must not call again while the socket stays the same.
    tokio::time::sleep(FAST.tick * 100).await;
    let (report, _) = stop(&cancel, agent).await;
    let dir = rig.dir.clone();
    let (engine, _) = rig.stop().await;
    let calls = tool_calls(&dir);
    assert_eq!(calls.len(), 1, "one refused call, then silence");
    assert_eq!(calls[0].data["tool"], "get_policy");
    assert_eq!(calls[0].data["error"], true);
    assert!(
        calls[0].data["answer"]["error"]
            .as_str()
            .unwrap()
            .contains("allow_same_uid_agents")
    );
    assert_eq!((report.sessions, report.parked), (1, 1), "{report:?}");
    assert!(engine.state().proposals.is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

struct Keys(mpsc::UnboundedSender<std::io::Result<Event>>);

impl Keys {
    /// Presses `code`, then waits past the 300 ms in which keys after a change under the trader are dropped.
    async fn press(&self, code: KeyCode) {
        self.0
            .send(Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }

    async fn text(&self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c)).await;
        }
    }
}

fn tool_call_on<'a>(profile: &'a str, done: impl Fn(&Value) -> bool + 'a) -> impl Fn(&[Record]) -> bool + 'a {
    move |rs: &[Record]| {
        rs.iter()
            .any(|r| r.kind == kinds::TOOL_CALL && r.envelope.profile == profile && done(&r.data))
    }
}

/// The real shell on the demo's simulators and config (with this process as the demo agent), on a test
/// backend, with keys from a channel.
struct DemoShell {
    dir: PathBuf,
    demo: cockpit::demo::Demo,
    keys: Keys,
    shutdown: CancellationToken,
    runner: tokio::task::JoinHandle<Result<(), shell::ShellError>>,
}

async fn demo_shell(name: &str) -> DemoShell {
    let dir = std::env::temp_dir().join(format!("cockpit-demo-agents-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut demo = cockpit::demo::start(7, Some(&dir)).await.unwrap();
    let uid = std::fs::metadata(&dir).unwrap().uid();
    as_demo_agent(&mut demo.config, uid);
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
    DemoShell {
        dir,
        demo,
        keys: Keys(tx),
        shutdown,
        runner,
    }
}

impl DemoShell {
    /// Stops the screen as SIGTERM does. (Not `q`: the agent's rows move the selection, and keys that
    /// arrive right after such a change are discarded by design, so a key would need retries.)
    async fn stop(self) -> (PathBuf, cockpit::demo::Demo) {
        self.shutdown.cancel();
        tokio::time::timeout(WITHIN, self.runner)
            .await
            .expect("the screen quits")
            .unwrap()
            .unwrap();
        (self.dir, self.demo)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_agent_follows_profile_switches_silent_on_live_submitting_on_dry_run() {
    let shell = demo_shell("switch").await;
    let (dir, keys) = (shell.dir.clone(), &shell.keys);
    let mut agent = cockpit::demo::agents(&shell.demo, 7).remove(0);
    assert_eq!(agent.role, Role::Trader);
    agent.pace = Pace {
        tick: Duration::from_millis(200),
        ..FAST
    };
    agent.max_stages = 1_000;
    // Started with the screen, as `cockpit demo` does: it waits for the socket.
    let cancel = CancellationToken::new();
    let task = demo_agent::spawn(agent, cancel.clone());
    until(
        &dir,
        "the agent's status on paper",
        tool_call_on("paper", |d| d["tool"] == "report_status"),
    )
    .await;

    // The agent's first order takes the empty selection, a change under the trader after which keys are
    // discarded for 300 ms: wait for it, and past that window. From then on the selection stays on that
    // row for the agent's next several orders (one every 1.6 s here), so none of the keys below is lost.
    until(
        &dir,
        "the agent's first order on paper",
        tool_call_on("paper", |d| d["tool"] == "stage_order"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    // To live: p, down to "live", Enter, the live account id typed, Enter.
    keys.press(KeyCode::Char('p')).await;
    keys.press(KeyCode::Char('j')).await;
    keys.press(KeyCode::Enter).await;
    keys.text("U1234567").await;
    keys.press(KeyCode::Enter).await;
    until(
        &dir,
        "the agent refused on live",
        tool_call_on("live", |d| d["error"] == true),
    )
    .await;
    // Ten of its steps: it stays silent while the live gateway runs.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let on_live: Vec<Record> = tool_calls(&dir)
        .into_iter()
        .filter(|r| r.envelope.profile == "live")
        .collect();
    assert_eq!(on_live.len(), 1, "one refused call on live, then silence");
    assert_eq!(on_live[0].data["tool"], "get_policy");

    // Back to a profile that admits it: p opens on the first other one, dry-run; Enter, then y to leave live.
    keys.press(KeyCode::Char('p')).await;
    keys.press(KeyCode::Enter).await;
    keys.press(KeyCode::Char('y')).await;
    until(
        &dir,
        "the agent's status on dry-run",
        tool_call_on("dry-run", |d| d["tool"] == "report_status"),
    )
    .await;
    until(
        &dir,
        "an order the agent submitted itself on dry-run",
        tool_call_on("dry-run", |d| d["tool"] == "submit_order" && d["error"] == false),
    )
    .await;
    let (dir, demo) = shell.stop().await;
    let (report, _) = stop(&cancel, task).await;
    assert!(
        report.sessions >= 3 && report.parked == 1,
        "paper, live (refused), dry-run: {report:?}"
    );
    assert!(report.submitted >= 1, "{report:?}");
    let rs = records(&dir);
    assert!(
        rs.iter().any(|r| r.kind == kinds::BROKER_EVENT
            && r.envelope.profile == "dry-run"
            && r.data["event"] == "agent_session_opened"),
        "a session on the new profile's gateway"
    );
    assert!(
        !rs.iter().any(|r| r.data["action"] == "key_discarded"),
        "no key was discarded"
    );
    assert!(
        demo.paper
            .ledger()
            .await
            .unwrap()
            .iter()
            .all(|e| e.kind != EntryKind::Place),
        "nothing reached a gateway: paper needs the trader, dry-run records instead of sending"
    );
    demo.paper.shutdown().await;
    demo.live.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
