//! The IB Gateway simulator: a TWS API server (handshake, protobuf frames at server version 226) with
//! accounts, a seeded market, order matching, IB's limits, a fault script and a ledger of every order it
//! received. The real `ibapi` client — and any other TWS API client — connects to it as to IB Gateway.
//!
//! It is written against the protocol, not against Cockpit's domain: it shares no order-state, matching
//! or encoding code with `domain` or `broker`, so it cannot agree with their bugs.
//!
//! Layout: `wire` (framing, handshake) and `proto` (messages) · `server` (sockets) · `exchange` (the one
//! actor that owns all state) with `ex_orders` and `ex_data` (request handlers) · `book` (orders, matching)
//! · `market` (quotes) · `accounts` · `catalogue` (instruments) · `faults` (the script) · `ledger`.

pub mod accounts;
pub mod book;
pub mod catalogue;
mod ex_data;
mod ex_orders;
mod exchange;
pub mod faults;
pub mod ledger;
pub mod market;
pub mod proto;
mod server;
pub mod standalone;
pub mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use exchange::{MAX_MARKET_DATA_LINES, MAX_MESSAGES_PER_SECOND};
pub use faults::{Fault, FaultAction, Scenario, Trigger};
pub use ledger::{EntryKind, LedgerEntry, Outcome};

use exchange::{Control, Exchange};

/// A position an account holds when the simulator starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedPosition {
    /// Account code.
    pub account: String,
    /// Ticker (must be in the catalogue).
    pub symbol: String,
    /// Signed quantity.
    pub quantity: Decimal,
    /// Average cost per share.
    pub average_cost: Decimal,
}

/// How the simulator is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Managed accounts (paper `DU…` by default).
    pub accounts: Vec<String>,
    /// Seed of the market's random walk.
    pub seed: u64,
    /// How often quotes move (IB streams ≈ 250 ms snapshots).
    pub tick_interval: Duration,
    /// How often changed account values are pushed.
    pub account_push_interval: Duration,
    /// Cash each account starts with.
    pub starting_cash: Decimal,
    /// Positions held at start.
    pub positions: Vec<SeedPosition>,
    /// `nextValidId` for a client that has never placed an order.
    pub first_order_id: i32,
    /// Entitlements and scheduled faults.
    pub scenario: Scenario,
    /// JSON Lines file the ledger is appended to.
    pub ledger_path: Option<PathBuf>,
    /// A flood of tick messages on top of the walk, for benchmarks.
    pub flood: Option<Flood>,
}

/// A flood for benchmarks: `ticks_per_sec` tick messages a second to each subscriber (TWS's unit of market
/// data: a price with its size, a volume, a timestamp — a quote change is one to five of them), made of
/// whole quote changes each streamed at once to every subscriber of its instrument, round-robin over the instruments clients subscribe to (the first
/// `symbols` of them), in steps of [`FLOOD_STEP`]. Resting orders are matched after every step, so orders
/// placed meanwhile fill, partly fill and report as they would in a fast market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    /// Tick messages per second.
    pub ticks_per_sec: u32,
    /// The most instruments it moves.
    pub symbols: usize,
}

/// How often the flood moves its share of quotes.
pub const FLOOD_STEP: Duration = Duration::from_millis(10);

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            accounts: vec!["DU1234567".to_string()],
            seed: 1,
            tick_interval: Duration::from_millis(250),
            account_push_interval: Duration::from_secs(3),
            starting_cash: Decimal::from(1_000_000),
            positions: Vec::new(),
            first_order_id: 1,
            scenario: Scenario::default(),
            ledger_path: None,
            flood: None,
        }
    }
}

impl SimConfig {
    /// A few positions in the first account, so a fresh gateway has something to show.
    #[must_use]
    pub fn with_sample_positions(mut self) -> Self {
        let account = self.accounts.first().cloned().unwrap_or_default();
        let seed = |symbol: &str, qty: i64, cost: i64| SeedPosition {
            account: account.clone(),
            symbol: symbol.to_string(),
            quantity: Decimal::from(qty),
            average_cost: Decimal::new(cost, 2),
        };
        self.positions = vec![
            seed("AAPL", 200, 21_840),
            seed("MSFT", 50, 41_275),
            seed("SPY", 100, 58_910),
            seed("TSLA", -30, 25_620),
        ];
        self
    }

    /// Checks the config; every problem is named.
    pub fn validate(&self) -> Result<(), SimError> {
        let mut problems = Vec::new();
        if self.accounts.is_empty() {
            problems.push("accounts: at least one account is needed, e.g. --account DU1234567".to_string());
        }
        for a in &self.accounts {
            if a.is_empty() || a.len() > 20 || !a.chars().all(|c| c.is_ascii_alphanumeric()) {
                problems.push(format!(
                    "account '{a}': expected 1–20 letters and digits, e.g. DU1234567"
                ));
            }
        }
        for p in &self.positions {
            if catalogue::by_symbol(&p.symbol).is_none() {
                problems.push(format!(
                    "position symbol '{}' is not a simulated instrument",
                    p.symbol
                ));
            }
            if !self.accounts.contains(&p.account) {
                problems.push(format!(
                    "position account '{}' is not one of the simulated accounts",
                    p.account
                ));
            }
        }
        if self.tick_interval.is_zero() || self.account_push_interval.is_zero() {
            problems.push("tick and account push intervals must be above zero".to_string());
        }
        if let Some(flood) = self.flood
            && (!(1..=1_000_000).contains(&flood.ticks_per_sec) || flood.symbols == 0)
        {
            problems.push(format!(
                "flood of {} ticks/s over {} symbols: expected 1 to 1000000 ticks/s over at least 1 symbol",
                flood.ticks_per_sec, flood.symbols
            ));
        }
        if !(1..1_500_000_000).contains(&self.first_order_id) {
            problems.push(format!(
                "first order id {}: expected 1 ≤ id < 1500000000",
                self.first_order_id
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SimError::Config(problems.join("; ")))
        }
    }
}

/// Counters tests assert on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Sessions that completed the handshake.
    pub connections: u64,
    /// Request frames received from all clients.
    pub messages: u64,
    /// The most messages any one-second window held, per client id.
    pub max_messages_per_second: BTreeMap<i32, u32>,
    /// Error and notice codes sent, with counts.
    pub errors_sent: BTreeMap<i32, u64>,
    /// Clients disconnected for exceeding 50 messages per second.
    pub rate_disconnects: u64,
    /// Connections closed for bad input (handshake or frames).
    pub bad_input_disconnects: u64,
    /// Faults carried out.
    pub faults_applied: u64,
    /// Client ids connected now.
    pub live_clients: Vec<i32>,
    /// Tick messages the flood streamed (counted once per change, not per subscriber).
    pub flood_ticks: u64,
}

impl SimStats {
    pub(crate) fn count_error(&mut self, code: i32) {
        *self.errors_sent.entry(code).or_insert(0) += 1;
    }

    /// How many times an error code was sent.
    #[must_use]
    pub fn errors(&self, code: i32) -> u64 {
        self.errors_sent.get(&code).copied().unwrap_or(0)
    }
}

/// What can go wrong starting or driving the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The config is invalid.
    #[error("invalid simulator config: {0}")]
    Config(String),
    /// The scenario file is invalid.
    #[error(transparent)]
    Scenario(#[from] faults::ScenarioError),
    /// Binding or another I/O step failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The simulator has stopped.
    #[error("the simulator has stopped")]
    Stopped,
}

/// A running simulator. Dropping it does not stop it; call [`SimHandle::shutdown`].
#[derive(Debug, Clone)]
pub struct SimHandle {
    addr: SocketAddr,
    control: mpsc::Sender<Control>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

/// Starts a simulator listening on `listen` (use port 0 in tests). Must run inside a tokio runtime.
pub async fn start(listen: SocketAddr, cfg: SimConfig) -> Result<SimHandle, SimError> {
    cfg.validate()?;
    let listener = TcpListener::bind(listen).await.map_err(|source| SimError::Io {
        what: format!("cannot listen on {listen}"),
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| SimError::Io {
        what: "local address".into(),
        source,
    })?;
    let ledger = ledger::Ledger::open(cfg.ledger_path.as_deref()).map_err(|source| SimError::Io {
        what: format!(
            "cannot open the ledger file {}",
            cfg.ledger_path
                .as_deref()
                .unwrap_or_else(|| std::path::Path::new(""))
                .display()
        ),
        source,
    })?;
    let (inbound_tx, inbound_rx) = mpsc::channel(4_096);
    let (control_tx, control_rx) = mpsc::channel(256);
    let (refuse_tx, refuse_rx) = watch::channel(None);
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let exchange = Exchange::new(cfg, ledger, refuse_tx);
    tracker.spawn(exchange.run(inbound_rx, control_rx, cancel.clone()));
    tracker.spawn(server::listen(
        listener,
        inbound_tx,
        refuse_rx,
        cancel.clone(),
        tracker.clone(),
    ));
    tracing::info!(%addr, "sim: listening");
    Ok(SimHandle {
        addr,
        control: control_tx,
        cancel,
        tracker,
    })
}

impl SimHandle {
    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Control) -> Result<T, SimError> {
        let (tx, rx) = oneshot::channel();
        self.control.send(make(tx)).await.map_err(|_| SimError::Stopped)?;
        rx.await.map_err(|_| SimError::Stopped)
    }

    /// Carries out a fault now.
    pub async fn inject(&self, fault: FaultAction) -> Result<(), SimError> {
        self.control
            .send(Control::Fault(fault))
            .await
            .map_err(|_| SimError::Stopped)?;
        // A round trip so the fault has taken effect when this returns.
        self.stats().await.map(|_| ())
    }

    /// Every order, modification and cancel received so far.
    pub async fn ledger(&self) -> Result<Vec<LedgerEntry>, SimError> {
        self.ask(Control::Ledger).await
    }

    /// The counters.
    pub async fn stats(&self) -> Result<SimStats, SimError> {
        self.ask(Control::Stats).await
    }

    /// Sets a listing's quote (cents) so a test can make an order marketable or not. False if unknown.
    pub async fn set_quote(
        &self,
        symbol: &str,
        bid: i64,
        ask: i64,
        last: i64,
        size: i64,
    ) -> Result<bool, SimError> {
        let symbol = symbol.to_string();
        self.ask(|reply| Control::SetQuote {
            symbol,
            bid,
            ask,
            last,
            size,
            reply,
        })
        .await
    }

    /// Places an order as if typed into TWS by hand (client 0, negative id); returns its id.
    pub async fn place_manual_order(
        &self,
        request: proto::PlaceOrderRequest,
    ) -> Result<Result<i32, String>, SimError> {
        self.ask(|reply| Control::ManualOrder {
            request: Box::new(request),
            reply,
        })
        .await
    }

    /// Stops accepting, closes every connection and waits for the tasks to end.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}
