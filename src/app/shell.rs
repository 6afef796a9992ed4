//! The app shell: one `select!` loop over the keyboard, the broker adapter's events, a one-second tick
//! and the shutdown signals. Keys go through the [`Screen`] to commands; everything that changes state goes
//! through the engine (`State::update` and the journal). It redraws only when something changed, at most
//! once per [`FRAME`] (60 frames per second) — except the answer to a key, drawn at once.
//!
//! A profile switch voids the old profile's staged orders (journaled), cancels or keeps its working orders
//! as the trader chose, stops its engine and adapter, and starts both afresh on the new profile's gateway.

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use chrono::Utc;
use crossterm::event::{Event, KeyEventKind};
use ratatui::Terminal;
use ratatui::backend::Backend;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

use super::agents::AgentMsg;
use super::engine::{Engine, EngineError};
use super::msg::Msg;
use super::screen::{Command, Dialog, Keymap, ProfileChoice, Screen};
use crate::agent::{self, AgentEvent};
use crate::broker::{self, BrokerHandle, InDoubt, Settings};
use crate::config::Config;
use crate::ui::{self, History, Theme, View};

/// The shortest time between the starts of two frames: 60 a second at most.
pub const FRAME: StdDuration = StdDuration::from_micros(16_667);
/// How long a switch waits for the cancels of working orders to be confirmed before it goes on.
pub const SWITCH_CANCEL_WAIT: StdDuration = StdDuration::from_secs(5);
/// The most adapter messages handled before the screen gets a chance to draw.
const BATCH: usize = 256;

/// Everything the shell needs to run.
#[derive(Debug)]
pub struct Setup {
    /// The config (profiles, agents, keys, alerts).
    pub config: Config,
    /// The state directory.
    pub state_dir: PathBuf,
    /// The profile to start on.
    pub profile: String,
    /// The theme.
    pub theme: Theme,
    /// The banner of a live profile (`LIVE`, or `LIVE (SIM)` in the demo).
    pub live_label: String,
    /// A benchmark's hook, told about every frame flushed (`None` outside benchmarks).
    pub probe: Option<Probe>,
}

/// What a benchmark learns of each frame the shell flushed to the terminal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameReport {
    /// From the adapter's receipt of the oldest quote this frame is the first to show, to the frame's flush.
    pub quote_wait: Option<StdDuration>,
    /// From the shell's read of the key this frame answers, to the frame's flush.
    pub key_wait: Option<StdDuration>,
    /// Broker messages handled since the previous frame.
    pub messages: u64,
}

/// A benchmark's hook, called after every frame is flushed (PERFORMANCE M1, M2).
#[derive(Clone)]
pub struct Probe(pub std::sync::Arc<dyn Fn(FrameReport) + Send + Sync>);

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Probe")
    }
}

/// Why the shell stopped with an error.
#[derive(Debug, Error)]
pub enum ShellError {
    /// The engine could not start (state dir locked, journal unusable).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// No such profile.
    #[error("no profile named '{0}' in the config")]
    NoProfile(String),
    /// The terminal failed.
    #[error("the terminal failed: {0}")]
    Terminal(String),
}

/// One profile's engine, broker adapter and agent gateway (a profile switch ends every agent session).
#[derive(Debug)]
struct Session {
    engine: Engine<BrokerHandle>,
    broker: BrokerHandle,
    events: mpsc::Receiver<Msg>,
    cancel: CancellationToken,
    adapter: JoinHandle<()>,
    agents: mpsc::Receiver<AgentEvent>,
    gateway: Option<JoinHandle<()>>,
}

impl Session {
    async fn start(setup: &Setup, name: &str) -> Result<Self, ShellError> {
        let profile = setup
            .config
            .profiles
            .get(name)
            .ok_or_else(|| ShellError::NoProfile(name.to_owned()))?
            .clone();
        let (tx, events) = mpsc::channel(4096);
        let cancel = CancellationToken::new();
        let (broker, adapter) = broker::spawn(Settings::of(&profile), tx, cancel.clone());
        let started = Engine::start(
            &setup.state_dir,
            profile,
            setup.config.agents.clone(),
            &setup.config.hash,
            broker.clone(),
            Utc::now(),
        )
        .await;
        let mut engine = match started {
            Ok(engine) => engine,
            Err(e) => {
                cancel.cancel();
                let _ = adapter.await;
                return Err(e.into());
            }
        };
        engine.configure_alerts(&setup.config.alerts);
        broker.resolve(InDoubt::all(engine.state()));
        let (agent_tx, agents) = mpsc::channel(256);
        let levels = std::sync::Arc::new(agent::Levels::of(engine.state()));
        let gateway = match agent::start(&setup.state_dir, levels, agent_tx, cancel.clone()).await {
            Ok(task) => Some(task),
            Err(e) => {
                tracing::error!(error = %e, "agent gateway");
                let why = e.to_string();
                engine
                    .handle(Msg::Agent(AgentMsg::GatewayDown { why }), Utc::now())
                    .await;
                None
            }
        };
        Ok(Self {
            engine,
            broker,
            events,
            cancel,
            adapter,
            agents,
            gateway,
        })
    }

    async fn stop(self) {
        self.cancel.cancel();
        let _ = self.adapter.await;
        if let Some(gateway) = self.gateway {
            let _ = gateway.await;
        }
        if let Err(e) = self.engine.stop().await {
            tracing::error!(error = %e, "the journal did not stop cleanly");
        }
    }

    /// Handles what the adapter has ready (at least `first`), up to [`BATCH`] messages.
    /// Their unsynced records are committed in one append.
    /// Hands `first` and the adapter's other ready messages (≤ [`BATCH`]) to the engine as one batch;
    /// returns how many, and when the adapter received the oldest quote among them.
    async fn pump(&mut self, first: Msg) -> (u64, Option<chrono::DateTime<Utc>>) {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match self.events.try_recv() {
                Ok(msg) => batch.push(msg),
                Err(_) => break,
            }
        }
        let oldest = batch
            .iter()
            .filter_map(|m| match m {
                Msg::Broker(super::BrokerEvent::Quote { quote, .. }) => Some(quote.received_at),
                _ => None,
            })
            .min();
        let count = batch.len() as u64;
        self.engine.handle_all(conflate(batch), Utc::now()).await;
        (count, oldest)
    }

    fn head(&self) -> String {
        let status = self.engine.journal().status();
        let head = status.borrow().head;
        let [a, b, c, d, ..] = head.hash;
        format!("#{} {a:02x}{b:02x}{c:02x}{d:02x}", head.seq)
    }
}

/// The profiles the trader can switch to, labelled as on the banner.
#[must_use]
pub fn profile_choices(config: &Config, live_label: &str) -> Vec<ProfileChoice> {
    config
        .profiles
        .values()
        .map(|p| ProfileChoice {
            name: p.name.clone(),
            mode: p.mode,
            account: p.accounts.first().map(ToString::to_string).unwrap_or_default(),
            label: match p.mode {
                crate::config::Mode::Live => live_label.to_owned(),
                crate::config::Mode::Paper => "PAPER".to_owned(),
                crate::config::Mode::DryRun => "DRY-RUN".to_owned(),
            },
        })
        .collect()
}

/// Runs the cockpit on `terminal` with key and resize events from `input` until the trader quits, `input`
/// ends, or `shutdown` is cancelled (SIGTERM, SIGHUP). `bell` rings the terminal bell.
pub async fn run<B: Backend>(
    setup: Setup,
    terminal: &mut Terminal<B>,
    mut input: impl Stream<Item = std::io::Result<Event>> + Unpin,
    bell: &mut (dyn FnMut() + Send),
    shutdown: CancellationToken,
) -> Result<(), ShellError> {
    let mut session = Session::start(&setup, &setup.profile).await?;
    let mut screen = Screen::new(
        Keymap::new(&setup.config.keys),
        profile_choices(&setup.config, &setup.live_label),
        setup.config.alerts.bell,
    );
    let mut history = History::default();
    let mut tick = every_second();
    let mut dirty = true;
    // A key's answer bypasses the frame cap: the trader sees it at once (PERFORMANCE M2).
    let mut urgent = false;
    let mut last_draw: Option<Instant> = None;
    let mut watch = Watch::default();
    let outcome = loop {
        let next_frame = last_draw.map_or_else(Instant::now, |at| at + FRAME);
        if dirty && (urgent || Instant::now() >= next_frame) {
            urgent = false;
            let started = Instant::now();
            screen.sync(session.engine.state(), Utc::now());
            if std::mem::take(&mut screen.bell_due) {
                bell();
            }
            let head = session.head();
            let view = View {
                state: session.engine.state(),
                screen: &screen,
                theme: &setup.theme,
                now: Utc::now(),
                journal_head: &head,
                history: &history,
                live_label: &setup.live_label,
            };
            if let Err(e) = terminal.draw(|frame| ui::draw(frame, &view)) {
                break Err(ShellError::Terminal(e.to_string()));
            }
            last_draw = Some(started);
            dirty = false;
            watch.frame_flushed(setup.probe.as_ref(), session.engine.state());
        }
        // A frame due within a turn's length goes first: agent calls wait for it rather than make it late.
        let frame_soon = dirty && Instant::now() + AGENT_TURN >= next_frame;
        tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            event = input.next() => {
                let Some(Ok(event)) = event else { break Ok(()) };
                match event {
                    Event::Key(key) if key.kind == KeyEventKind::Press => {
                        watch.key();
                        let now = Utc::now();
                        screen.sync(session.engine.state(), now);
                        let commands = screen.key(key, session.engine.state(), now);
                        match apply(commands, &mut session, &mut screen).await {
                            Flow::Continue => {}
                            Flow::Quit => break Ok(()),
                            Flow::Switch { to, cancel_working } => {
                                session = match switch(session, &to, cancel_working, &setup).await {
                                    Ok(new) => new,
                                    Err(e) => return Err(e),
                                };
                                screen.dialog = None;
                                screen.staged = None;
                                history = History::default();
                            }
                        }
                        dirty = true;
                        urgent = true;
                    }
                    Event::Resize(..) => dirty = true,
                    _ => {}
                }
            }
            Some(event) = session.agents.recv(), if !frame_soon => {
                // Every call already waiting is answered in this turn, their records in one commit.
                let mut events = vec![event];
                while events.len() < AGENT_BATCH
                    && let Ok(event) = session.agents.try_recv()
                {
                    events.push(event);
                }
                serve_agents(events, &mut session.engine, setup.config.allow_same_uid_agents).await;
                dirty = true;
            }
            msg = session.events.recv() => {
                if let Some(msg) = msg {
                    let (count, oldest) = session.pump(msg).await;
                    watch.batch(count, oldest);
                    dirty = true;
                }
            }
            _ = tick.tick() => {
                let now = Utc::now();
                session.engine.handle(Msg::Tick, now).await;
                history.sample(session.engine.state(), now);
                dirty = true;
            }
            () = tokio::time::sleep_until(next_frame), if dirty => {}
        }
    };
    session.stop().await;
    outcome
}

/// About how long a turn of agent calls takes (their journal commit is most of it): no turn starts when a
/// frame is due sooner.
const AGENT_TURN: StdDuration = StdDuration::from_millis(4);

/// The most agent events the loop takes in one turn: a flood of calls shares a journal commit per turn and
/// leaves the keyboard, the broker feed and the frames their turns in between.
const AGENT_BATCH: usize = 64;

/// Serves agent events in the order they came: runs of calls together ([`agent::serve_all`]: one commit for
/// their records), session changes between them.
async fn serve_agents(events: Vec<AgentEvent>, engine: &mut Engine<BrokerHandle>, allow_same_uid: bool) {
    let mut calls = Vec::new();
    for event in events {
        match event {
            AgentEvent::Call(call) => calls.push(call),
            AgentEvent::Session {
                uid,
                label,
                same_uid,
                open,
            } => {
                if !calls.is_empty() {
                    agent::serve_all(std::mem::take(&mut calls), engine, allow_same_uid, Utc::now()).await;
                }
                let msg = Msg::Agent(AgentMsg::Session {
                    uid,
                    label,
                    same_uid,
                    open,
                });
                engine.handle(msg, Utc::now()).await;
            }
        }
    }
    if !calls.is_empty() {
        agent::serve_all(calls, engine, allow_same_uid, Utc::now()).await;
    }
}

/// Conflates a batch's quotes: each is a whole quote, so of several for one instrument only the latest is
/// handed on, where it came; every other message keeps its place. The engine's work then grows with the
/// instruments that moved, not with the ticks (PERFORMANCE: conflate quotes per symbol before the inbox).
/// A market-data status change for an instrument is a boundary: the engine keeps a quote only while the
/// data is live, so the latest quote before the change is kept too.
fn conflate(batch: Vec<Msg>) -> Vec<Msg> {
    use super::BrokerEvent::{MarketData, Quote};
    let mut seen = std::collections::HashSet::new();
    let mut keep = vec![true; batch.len()];
    for (i, msg) in batch.iter().enumerate().rev() {
        match msg {
            Msg::Broker(Quote { instrument, .. }) if !seen.insert(instrument) => keep[i] = false,
            Msg::Broker(MarketData { instrument, .. }) => {
                seen.remove(instrument);
            }
            _ => {}
        }
    }
    drop(seen);
    batch
        .into_iter()
        .zip(keep)
        .filter_map(|(msg, keep)| keep.then_some(msg))
        .collect()
}

/// The shell's one-second tick (missed ticks skipped, not caught up).
fn every_second() -> tokio::time::Interval {
    let mut tick = tokio::time::interval(StdDuration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick
}

/// What the shell tells a benchmark's [`Probe`] and the log about its frames.
#[derive(Debug)]
struct Watch {
    /// When the adapter received the oldest quote not yet on screen.
    unshown_quote: Option<chrono::DateTime<Utc>>,
    /// When the shell read the key not yet answered on screen.
    unshown_key: Option<Instant>,
    /// Broker messages since the last frame.
    messages: u64,
    /// Start-up milestones still to log (PERFORMANCE M9).
    first_frame: bool,
    first_ready: bool,
}

impl Default for Watch {
    fn default() -> Self {
        Self {
            unshown_quote: None,
            unshown_key: None,
            messages: 0,
            first_frame: true,
            first_ready: true,
        }
    }
}

impl Watch {
    fn key(&mut self) {
        self.unshown_key.get_or_insert_with(Instant::now);
    }

    fn batch(&mut self, count: u64, oldest: Option<chrono::DateTime<Utc>>) {
        self.messages += count;
        if let Some(at) = oldest {
            self.unshown_quote = Some(self.unshown_quote.map_or(at, |seen| seen.min(at)));
        }
    }

    /// After a frame was flushed: the probe's report, and the start-up milestones once.
    fn frame_flushed(&mut self, probe: Option<&Probe>, state: &super::State) {
        if std::mem::take(&mut self.first_frame) {
            tracing::info!(
                since_start_ms = crate::logging::since_start_ms(),
                "start-up: first frame drawn"
            );
        }
        if self.first_ready && state.gate_shut().is_none() {
            self.first_ready = false;
            tracing::info!(
                since_start_ms = crate::logging::since_start_ms(),
                "start-up: connected and reconciled"
            );
        }
        if let Some(probe) = probe {
            (probe.0)(FrameReport {
                quote_wait: self
                    .unshown_quote
                    .take()
                    .and_then(|at| (Utc::now() - at).to_std().ok()),
                key_wait: self.unshown_key.take().map(|at| at.elapsed()),
                messages: std::mem::take(&mut self.messages),
            });
        }
    }
}

/// What the loop does after a key's commands.
enum Flow {
    Continue,
    Quit,
    Switch { to: String, cancel_working: bool },
}

/// Carries out the screen's commands.
async fn apply(commands: Vec<Command>, session: &mut Session, screen: &mut Screen) -> Flow {
    for command in commands {
        match command {
            Command::Core(msg) => {
                let approving = match &msg {
                    Msg::Approve { id, .. } => Some(*id),
                    _ => None,
                };
                session.engine.handle(msg, Utc::now()).await;
                if let Some(id) = approving
                    && let Some((refused, why)) = &session.engine.state().last_refusal
                    && *refused == id
                {
                    screen.dialog = Some(Dialog::Refused {
                        title: format!("Order #{} not approved", id.0),
                        lines: vec![why.clone()],
                    });
                }
            }
            Command::Retry => session.broker.retry(),
            Command::Quit => return Flow::Quit,
            Command::Switch { to, cancel_working } => return Flow::Switch { to, cancel_working },
        }
    }
    Flow::Continue
}

/// Voids the staged orders, cancels (and waits a bounded time for) the working ones if so chosen, stops
/// the old session and starts the new one. The old session holds the state dir's lock, so it stops first;
/// if the new one cannot start, the old profile is started again rather than leaving no engine.
async fn switch(
    mut session: Session,
    to: &str,
    cancel_working: bool,
    setup: &Setup,
) -> Result<Session, ShellError> {
    let now = Utc::now();
    let from = session.engine.state().profile.name.clone();
    session
        .engine
        .handle(
            Msg::Void {
                reason: format!("the trader switched from profile {from} to {to}"),
            },
            now,
        )
        .await;
    if cancel_working {
        session
            .engine
            .handle(
                Msg::CancelWorking {
                    why: format!("switching from profile {from} to {to}"),
                },
                now,
            )
            .await;
        let deadline = Instant::now() + SWITCH_CANCEL_WAIT;
        while session
            .engine
            .state()
            .proposals
            .values()
            .any(super::Proposal::is_working)
        {
            match tokio::time::timeout_at(deadline, session.events.recv()).await {
                Ok(Some(msg)) => drop(session.pump(msg).await),
                _ => break,
            }
        }
    }
    session.stop().await;
    match Session::start(setup, to).await {
        Ok(new) => Ok(new),
        Err(e) => {
            tracing::error!(error = %e, "the switch to {to} failed; returning to {from}");
            Session::start(setup, &from).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Msg, conflate};
    use crate::app::BrokerEvent;
    use crate::domain::{Currency, Instrument, Price, Quote, SecType, Symbol};

    fn quote(symbol: &str, bid: &str) -> Msg {
        let mut quote = Quote::empty(chrono::Utc::now());
        quote.bid = Some(Price::parse(bid).expect("price"));
        Msg::Broker(BrokerEvent::Quote {
            instrument: Instrument {
                symbol: Symbol::parse(symbol).expect("symbol"),
                sec_type: SecType::Stk,
                currency: Currency::USD,
                primary_exchange: String::new(),
            },
            quote,
        })
    }

    fn bid_of(msg: &Msg) -> Option<(String, String)> {
        match msg {
            Msg::Broker(BrokerEvent::Quote { instrument, quote }) => Some((
                instrument.symbol.to_string(),
                quote.bid.map(|p| p.to_string()).unwrap_or_default(),
            )),
            _ => None,
        }
    }

    #[test]
    fn a_batch_keeps_each_instruments_latest_quote_and_every_other_message_in_place() {
        let batch = vec![
            quote("AAPL", "1"),
            quote("MSFT", "2"),
            Msg::Tick,
            quote("AAPL", "3"),
            quote("AAPL", "4"),
        ];
        let out = conflate(batch);
        assert_eq!(out.len(), 3);
        assert_eq!(bid_of(&out[0]), Some(("MSFT".into(), "2".into())));
        assert!(matches!(out[1], Msg::Tick));
        assert_eq!(bid_of(&out[2]), Some(("AAPL".into(), "4".into())));
    }

    #[test]
    fn a_market_data_status_change_keeps_the_last_quote_before_it() {
        let Msg::Broker(BrokerEvent::Quote { instrument, .. }) = quote("AAPL", "1") else {
            unreachable!()
        };
        let status = Msg::Broker(BrokerEvent::MarketData {
            instrument,
            status: crate::domain::DataStatus::Delayed,
        });
        let batch = vec![quote("AAPL", "1"), quote("AAPL", "2"), status, quote("AAPL", "3")];
        let out = conflate(batch);
        assert_eq!(out.len(), 3);
        assert_eq!(bid_of(&out[0]), Some(("AAPL".into(), "2".into())));
        assert!(matches!(out[1], Msg::Broker(BrokerEvent::MarketData { .. })));
        assert_eq!(bid_of(&out[2]), Some(("AAPL".into(), "3".into())));
    }
}
