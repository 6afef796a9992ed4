//! The app shell end to end, headless: the real `shell::run` loop on a `TestBackend`, keys from a channel,
//! the demo's two simulators on 127.0.0.1 port 0. A trader stages an order with `n`, switches to the live
//! profile with `p` (typing the live account id): the staged order is voided and journaled, the old
//! profile's engine and adapter stop, the cockpit reconnects to the live gateway and the banner changes.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::path::Path;
use std::time::Duration;

use cockpit::app::shell::{self, Setup};
use cockpit::journal::{Reader, Record, kinds};
use cockpit::ui::Theme;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;

/// The bound on waiting for any one thing.
const WITHIN: Duration = Duration::from_secs(20);
/// Keys are sent this far apart: past the 300 ms window in which keys after a change are discarded.
const PAUSE: Duration = Duration::from_millis(400);

fn records(dir: &Path) -> Vec<Record> {
    Reader::open(dir).and_then(|r| r.records(1)).unwrap_or_default()
}

/// Polls the journal until `done` holds for its records (bounded by [`WITHIN`]).
async fn until(dir: &Path, what: &str, done: impl Fn(&[Record]) -> bool) {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        if done(&records(dir)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn reconciled_on(profile: &str) -> impl Fn(&[Record]) -> bool + '_ {
    move |rs: &[Record]| {
        rs.iter().any(|r| {
            r.envelope.profile == profile && r.kind == kinds::BROKER_EVENT && r.data["event"] == "reconciled"
        })
    }
}

struct Keys(mpsc::UnboundedSender<std::io::Result<Event>>);

impl Keys {
    async fn press(&self, code: KeyCode) {
        self.0
            .send(Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))))
            .unwrap();
        tokio::time::sleep(PAUSE).await;
    }

    async fn text(&self, text: &str) {
        for c in text.chars() {
            self.press(KeyCode::Char(c)).await;
        }
    }
}

fn screen_text(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    buffer
        .content
        .chunks(usize::from(buffer.area.width))
        .map(|row| row.iter().map(ratatui::buffer::Cell::symbol).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_switch_voids_staged_orders_and_reconnects_to_the_live_gateway() {
    let dir = std::env::temp_dir().join(format!("cockpit-shell-switch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let demo = cockpit::demo::start(7, Some(&dir)).await.unwrap();
    let setup = Setup {
        profile: "paper".into(),
        config: demo.config,
        state_dir: dir.clone(),
        theme: Theme::named("dark", false, false).unwrap(),
        live_label: cockpit::demo::LIVE_SIM.into(),
        probe: None,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let keys = Keys(tx);
    let shutdown = CancellationToken::new();
    let runner = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            let mut terminal = Terminal::new(TestBackend::new(120, 36)).unwrap();
            let mut rang = 0_u32;
            let mut bell = || rang += 1;
            let outcome = Box::pin(shell::run(
                setup,
                &mut terminal,
                UnboundedReceiverStream::new(rx),
                &mut bell,
                shutdown,
            ))
            .await;
            (outcome, terminal)
        }
    });
    until(&dir, "the paper gateway reconciled", reconciled_on("paper")).await;

    // A ticket of the trader's own, staged (its verdict does not matter: it is pending either way).
    keys.press(KeyCode::Char('n')).await;
    keys.text("AAPL").await;
    keys.press(KeyCode::Tab).await;
    keys.press(KeyCode::Tab).await;
    keys.text("5").await;
    keys.press(KeyCode::Tab).await;
    keys.press(KeyCode::Right).await; // LMT → MKT: no price needed
    keys.press(KeyCode::Enter).await;
    until(&dir, "the staged order's verdict", |rs| {
        rs.iter().any(|r| r.kind == kinds::VERDICT)
    })
    .await;

    // p, down to "live", Enter, the account id typed, Enter.
    keys.press(KeyCode::Char('p')).await;
    keys.press(KeyCode::Char('j')).await;
    keys.press(KeyCode::Enter).await;
    keys.text("U1234567").await;
    keys.press(KeyCode::Enter).await;
    until(&dir, "the live gateway reconciled", reconciled_on("live")).await;
    keys.press(KeyCode::Char('q')).await;
    let (outcome, terminal) = tokio::time::timeout(WITHIN, runner).await.unwrap().unwrap();
    outcome.unwrap();

    let screen = screen_text(&terminal);
    assert!(screen.contains("LIVE (SIM)"), "the banner changed: {screen}");
    assert!(screen.contains("U1234567"), "{screen}");
    let rs = records(&dir);
    let voided: Vec<&Record> = rs
        .iter()
        .filter(|r| r.kind == kinds::HUMAN_ACTION && r.data["action"] == "void")
        .collect();
    assert_eq!(voided.len(), 1, "the paper order was voided");
    assert_eq!(voided[0].envelope.profile, "paper");
    assert!(
        rs.iter()
            .any(|r| r.data["action"] == "switch_profile" && r.data["detail"]["to"] == "live"),
        "the switch is journaled"
    );
    let live_start = rs
        .iter()
        .position(|r| r.kind == kinds::START && r.envelope.profile == "live")
        .unwrap();
    let paper_void = rs.iter().position(|r| r.data["action"] == "void").unwrap();
    assert!(paper_void < live_start, "voided before the live engine started");
    assert!(
        demo.live.ledger().await.unwrap().is_empty(),
        "nothing reached the live gateway"
    );
    demo.paper.shutdown().await;
    demo.live.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
