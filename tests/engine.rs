//! The headless engine against a real journal in a temp state dir: the write-ahead order of records and
//! sends, one synced commit per intent before the send, the state-dir lock, and the kill switch's cancels.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use cockpit::app::{BrokerEvent, BrokerPort, Engine, EngineError, Msg, PlaceOrder, Source, Stage};
use cockpit::config::Config;
use cockpit::domain::{
    AccountId, Currency, Instrument, OrderId, OrderTicket, OrderType, Price, Quantity, Quote, Side, Symbol,
    Tif,
};
use cockpit::journal::{Reader, WriterStatus};
use cockpit::policy::Evidence;
use tokio::sync::watch;

#[derive(Debug, Default)]
struct Recorder {
    status: Option<watch::Receiver<WriterStatus>>,
    /// (order id, orderRef, last committed seq when placed, commits when placed)
    placed: Vec<(i32, String, u64, u64)>,
    cancelled: Vec<i32>,
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
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cockpit-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

fn aapl() -> Instrument {
    Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ")
}

fn ticket(qty: &str) -> OrderTicket {
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
fn fresh_quote() -> Msg {
    let quote = Quote {
        bid: Some(Price::parse("100.00").unwrap()),
        ask: Some(Price::parse("100.02").unwrap()),
        last: None,
        bid_size: None,
        ask_size: None,
        volume: None,
        received_at: t0(),
    };
    Msg::Broker(BrokerEvent::Quote {
        instrument: aapl(),
        quote,
    })
}

async fn engine(state_dir: &Path) -> Engine<Recorder> {
    let config = Config::parse(include_str!("../config.example.toml"), Path::new("x.toml")).unwrap();
    let profile = config.profiles["paper"].clone();
    let mut e = Engine::start(
        state_dir,
        profile,
        config.agents.clone(),
        &config.hash,
        Recorder::default(),
        t0(),
    )
    .await
    .unwrap();
    e.broker().status = Some(e.journal().status());
    e.handle(Msg::Broker(BrokerEvent::Connected { next_valid_id: 100 }), t0())
        .await;
    e.handle(Msg::Broker(BrokerEvent::Reconciled), t0()).await;
    e.handle(Msg::Resume { typed: None }, t0()).await;
    e.handle(fresh_quote(), t0()).await;
    e
}

/// The trader stages a `BUY qty AAPL LMT 100.01`; returns its id.
async fn propose(e: &mut Engine<Recorder>, qty: &str) -> cockpit::domain::ProposalId {
    let msg = Msg::Propose {
        source: Source::Trader,
        ticket: ticket(qty),
        note: String::new(),
    };
    e.handle(msg, t0()).await;
    latest(e)
}

/// The trader confirms the proposal's current fingerprint.
async fn confirm(e: &mut Engine<Recorder>, id: cockpit::domain::ProposalId) {
    let fp = e.state().proposals[&id].fingerprint.unwrap();
    e.handle(
        Msg::Approve {
            id,
            evidence: Evidence::Confirm(fp),
        },
        t0(),
    )
    .await;
}

fn latest(e: &Engine<Recorder>) -> cockpit::domain::ProposalId {
    *e.state().proposals.keys().last().unwrap()
}

#[tokio::test]
async fn the_intent_is_committed_with_one_sync_before_the_order_leaves() {
    let d = dir("intent");
    let mut e = engine(&d).await;
    let id = propose(&mut e, "10").await;
    let commits_before = e.journal().status().borrow().commits;
    confirm(&mut e, id).await;
    assert_eq!(e.state().proposals[&id].stage, Stage::Sent);

    let placed = e.broker().placed.clone();
    assert_eq!(placed.len(), 1);
    let (order_id, order_ref, head_at_place, commits_at_place) = placed[0].clone();
    assert_eq!((order_id, order_ref.as_str()), (100, "ck-p1-v1-i1"));
    assert_eq!(
        commits_at_place,
        commits_before + 1,
        "exactly one commit (with its sync) between approval and send"
    );

    let records = Reader::open(&d).unwrap().records(1).unwrap();
    let intent = records.iter().find(|r| r.kind == "intent").unwrap();
    assert!(
        intent.seq <= head_at_place,
        "the intent was durable when the order left"
    );
    assert_eq!(intent.data["order_ref"], "ck-p1-v1-i1");
    let sent = records.iter().find(|r| r.kind == "sent").unwrap();
    assert!(sent.seq > intent.seq);
    assert_eq!(records[0].kind, "start");
    assert_eq!(records[0].envelope.gateway, "127.0.0.1:4002");
    assert!(
        records
            .iter()
            .all(|r| r.envelope.profile == "paper" && r.envelope.account == "DU1234567")
    );
    e.stop().await.unwrap();
    let report = cockpit::journal::verify(&d).unwrap();
    assert_eq!(report.records, u64::try_from(records.len()).unwrap());
    std::fs::remove_dir_all(&d).unwrap();
}

#[tokio::test]
async fn a_second_engine_on_the_same_state_dir_is_refused() {
    let d = dir("lock");
    let e = engine(&d).await;
    let config = Config::parse(include_str!("../config.example.toml"), Path::new("x.toml")).unwrap();
    let second = Engine::start(
        &d,
        config.profiles["paper"].clone(),
        Vec::new(),
        "h",
        Recorder::default(),
        t0(),
    )
    .await;
    let Err(EngineError::Locked(err)) = second else {
        panic!("expected the lock to refuse")
    };
    assert!(
        err.to_string().contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    e.stop().await.unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}

#[tokio::test]
async fn the_kill_switch_cancels_at_once_and_nothing_is_sent_after_it() {
    let d = dir("kill");
    let mut e = engine(&d).await;
    let id = propose(&mut e, "10").await;
    confirm(&mut e, id).await;
    e.handle(Msg::KillSwitch, t0()).await;
    assert_eq!(e.broker().cancelled, [100]);
    let id = propose(&mut e, "11").await;
    assert_eq!(e.state().proposals[&id].stage, Stage::Refused);
    assert_eq!(e.broker().placed.len(), 1);
    let kinds: Vec<String> = Reader::open(&d)
        .unwrap()
        .records(1)
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert!(kinds.contains(&"trading_state".to_string()), "{kinds:?}");
    e.stop().await.unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}

#[tokio::test]
async fn a_restart_keeps_the_halt_and_the_order_id_high_water_but_no_approval() {
    let d = dir("restart");
    let mut e = engine(&d).await;
    let id = propose(&mut e, "10").await;
    confirm(&mut e, id).await;
    e.handle(Msg::KillSwitch, t0()).await;
    e.stop().await.unwrap();

    let config = Config::parse(include_str!("../config.example.toml"), Path::new("x.toml")).unwrap();
    let mut e = Engine::start(
        &d,
        config.profiles["paper"].clone(),
        config.agents.clone(),
        "h",
        Recorder::default(),
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(
        e.state().trading.level(),
        cockpit::policy::Level::Halted,
        "a halted cockpit stays halted"
    );
    assert!(
        e.state().proposals.is_empty(),
        "approvals do not survive a restart"
    );
    assert_eq!(e.state().order_id_high_water.map(OrderId::get), Some(100));
    e.broker().status = Some(e.journal().status());
    // IB answers a stale, lower nextValidId: the next order still gets a fresh id.
    e.handle(Msg::Broker(BrokerEvent::Connected { next_valid_id: 50 }), t0())
        .await;
    e.handle(Msg::Broker(BrokerEvent::Reconciled), t0()).await;
    e.handle(
        Msg::Resume {
            typed: Some("RESUME".into()),
        },
        t0(),
    )
    .await;
    assert_eq!(e.state().trading.level(), cockpit::policy::Level::Active);
    e.handle(fresh_quote(), t0()).await;
    let id = propose(&mut e, "12").await;
    confirm(&mut e, id).await;
    assert_eq!(
        e.broker().placed[0].0,
        101,
        "above the journal's high-water mark, not IB's stale 50"
    );
    e.stop().await.unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}
