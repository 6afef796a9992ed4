//! Shared by the engine and recovery tests: a recording broker port, temp state dirs, a sample order and
//! the message sequences that stage and approve it.

#![allow(dead_code, reason = "each test file uses a different subset")]
#![expect(clippy::unwrap_used, reason = "tests")]

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use cockpit::app::{BrokerEvent, BrokerPort, Engine, Msg, PlaceOrder, Source};
use cockpit::config::Config;
use cockpit::domain::{
    AccountId, Currency, Instrument, OrderId, OrderTicket, OrderType, Price, ProposalId, Quantity, Quote,
    Side, Symbol, Tif,
};
use cockpit::journal::WriterStatus;
use cockpit::policy::Evidence;
use tokio::sync::watch;

pub mod agents;

#[derive(Debug, Default)]
pub struct Recorder {
    pub status: Option<watch::Receiver<WriterStatus>>,
    /// (order id, orderRef, last committed seq when placed, commits when placed)
    pub placed: Vec<(i32, String, u64, u64)>,
    pub cancelled: Vec<i32>,
    /// How many global cancels were asked for.
    pub global_cancels: u32,
    /// How many position re-checks were asked for.
    pub position_checks: u32,
}

impl BrokerPort for Recorder {
    fn place(&mut self, order: PlaceOrder) {
        let status = self.status.as_ref().unwrap().borrow().clone();
        self.placed.push((
            order.order_id.get(),
            order.order_ref.clone(),
            status.head.seq,
            status.commits,
        ));
    }
    fn cancel(&mut self, order_id: OrderId) {
        self.cancelled.push(order_id.get());
    }
    fn global_cancel(&mut self) {
        self.global_cancels += 1;
    }
    fn check_positions(&mut self) {
        self.position_checks += 1;
    }
}

pub fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cockpit-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

pub fn aapl() -> Instrument {
    Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ")
}

pub fn ticket(qty: &str) -> OrderTicket {
    OrderTicket {
        account: AccountId::parse("DU1234567").unwrap(),
        instrument: aapl(),
        side: Side::Buy,
        quantity: Quantity::parse(qty).unwrap(),
        order_type: OrderType::Limit,
        limit_price: Some(Price::parse("100.01").unwrap()),
        stop_price: None,
        tif: Tif::Day,
        outside_rth: false,
    }
}

/// AAPL at 100.00 / 100.02, received at `t0`.
pub fn fresh_quote() -> Msg {
    quote_at(t0())
}

/// AAPL at 100.00 / 100.02, received at `at`.
pub fn quote_at(at: DateTime<Utc>) -> Msg {
    let quote = Quote {
        bid: Some(Price::parse("100.00").unwrap()),
        ask: Some(Price::parse("100.02").unwrap()),
        last: None,
        bid_size: None,
        ask_size: None,
        volume: None,
        received_at: at,
    };
    Msg::Broker(BrokerEvent::Quote {
        instrument: aapl(),
        quote,
    })
}

/// The example config.
pub fn config() -> Config {
    Config::parse(include_str!("../../config.example.toml"), Path::new("x.toml")).unwrap()
}

/// An engine on the paper profile, started (or restarted) at `now`, not connected.
pub async fn start(state_dir: &Path, now: DateTime<Utc>) -> Engine<Recorder> {
    let config = config();
    let mut e = Engine::start(
        state_dir,
        config.profiles["paper"].clone(),
        config.agents.clone(),
        &config.hash,
        Recorder::default(),
        now,
    )
    .await
    .unwrap();
    e.broker().status = Some(e.journal().status());
    e
}

/// Connects (IB's next id 100), reconciles, resumes and quotes AAPL, all at `now`.
pub async fn ready(e: &mut Engine<Recorder>, now: DateTime<Utc>) {
    e.handle(Msg::Broker(BrokerEvent::Connected { next_valid_id: 100 }), now)
        .await;
    e.handle(Msg::Broker(BrokerEvent::Reconciled), now).await;
    // A first connection shuts the gate without stepping down; a reconnect steps down until resumed.
    if e.state().trading.level() != cockpit::policy::Level::Active {
        e.handle(Msg::Resume { typed: None }, now).await;
    }
    e.handle(quote_at(now), now).await;
}

/// An engine at `t0`, connected, reconciled, active, with a fresh AAPL quote.
pub async fn engine(state_dir: &Path) -> Engine<Recorder> {
    let mut e = start(state_dir, t0()).await;
    ready(&mut e, t0()).await;
    e
}

/// The trader stages a `BUY qty AAPL LMT 100.01`; returns its id.
pub async fn propose(e: &mut EngineR, qty: &str) -> ProposalId {
    propose_at(e, qty, t0()).await
}

/// The trader stages a `BUY qty AAPL LMT 100.01` at `now`; returns its id.
pub async fn propose_at(e: &mut EngineR, qty: &str, now: DateTime<Utc>) -> ProposalId {
    let msg = Msg::Propose {
        source: Source::Trader,
        ticket: ticket(qty),
        note: String::new(),
    };
    e.handle(msg, now).await;
    latest(e)
}

/// The trader confirms the proposal's current fingerprint.
pub async fn confirm(e: &mut EngineR, id: ProposalId) {
    confirm_at(e, id, t0()).await;
}

/// The trader confirms the proposal's current fingerprint at `now`; a proposal without one (refused) is
/// confirmed with the fingerprint its ticket would have, as a stale card would.
pub async fn confirm_at(e: &mut EngineR, id: ProposalId, now: DateTime<Utc>) {
    let p = &e.state().proposals[&id];
    let fp = p
        .fingerprint
        .unwrap_or_else(|| cockpit::policy::fingerprint(&p.ticket, &e.state().profile.name, p.version));
    e.handle(
        Msg::Approve {
            id,
            evidence: Evidence::Confirm(fp),
        },
        now,
    )
    .await;
}

/// The engine the tests drive.
pub type EngineR = Engine<Recorder>;

pub fn latest(e: &EngineR) -> ProposalId {
    *e.state().proposals.keys().last().unwrap()
}
