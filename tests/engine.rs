//! The headless engine against a real journal in a temp state dir: the write-ahead order of records and
//! sends, one synced commit per intent before the send, the state-dir lock, and the kill switch's cancels.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use cockpit::app::{BrokerEvent, Engine, EngineError, Msg, Stage};
use cockpit::domain::OrderId;
use cockpit::journal::Reader;
use common::{Recorder, config, confirm, dir, engine, fresh_quote, propose, start, t0};

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
    let config = config();
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

    let mut e = start(&d, t0()).await;
    assert_eq!(
        e.state().trading.level(),
        cockpit::policy::Level::Halted,
        "a halted cockpit stays halted"
    );
    let restored: Vec<Stage> = e.state().proposals.values().map(|p| p.stage).collect();
    assert_eq!(
        restored,
        [Stage::InDoubt],
        "handed to the broker but never acknowledged: in doubt until the broker says; no approval survives"
    );
    assert_eq!(e.state().order_id_high_water.map(OrderId::get), Some(100));
    // IB answers a stale, lower nextValidId: the next order still gets a fresh id.
    e.handle(Msg::Broker(BrokerEvent::Connected { next_valid_id: 50 }), t0())
        .await;
    e.handle(Msg::Broker(BrokerEvent::Reconciled), t0()).await;
    assert_ne!(
        e.state().trading.level(),
        cockpit::policy::Level::Active,
        "not reconciled while in doubt"
    );
    e.handle(
        Msg::Broker(BrokerEvent::InDoubtResolved {
            order_id: OrderId::new(100).unwrap(),
            status: Some(cockpit::domain::OrderStatus::Cancelled),
        }),
        t0(),
    )
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

#[tokio::test]
async fn the_first_failed_journal_write_halts_trading_and_nothing_after_it_is_sent() {
    let d = dir("write-error");
    std::fs::create_dir_all(&d).unwrap();
    let lock = cockpit::app::StateLock::acquire(&d).await.unwrap();
    let mut journal = cockpit::journal::Journal::open(&d).unwrap();
    // A database that may grow by two pages: a full disk a few records in.
    let pages = journal.cap_pages(1).unwrap(); // SQLite keeps the current size: this reads it
    journal.cap_pages(u32::try_from(pages).unwrap() + 2).unwrap();
    let config = config();
    let mut e = Engine::start_with(
        lock,
        journal,
        &d,
        (
            config.profiles["paper"].clone(),
            config.agents.clone(),
            &config.hash,
        ),
        Recorder::default(),
        t0(),
    )
    .await
    .unwrap();
    e.broker().status = Some(e.journal().status());
    common::ready(&mut e, t0()).await;
    let mut failed_at = None;
    for n in 1..=200_u32 {
        let id = propose(&mut e, &(1 + n % 40).to_string()).await;
        if e.state().proposals[&id].stage == Stage::AwaitingApproval {
            confirm(&mut e, id).await;
        }
        if e.state().trading.level() == cockpit::policy::Level::Halted {
            failed_at = Some(n);
            break;
        }
    }
    let failed_at = failed_at.expect("the capped journal fails within 200 orders");
    assert!(
        e.state()
            .trading
            .causes()
            .any(|(cause, _)| cause == cockpit::policy::Cause::JournalError),
        "halted by the journal error"
    );
    let sent = e.broker().placed.clone();
    let placed = sent.len();
    assert!(placed > 0, "orders went out before the disk filled");
    // Nothing after the failure is sent, whatever the trader does.
    let id = propose(&mut e, "7").await;
    confirm(&mut e, id).await;
    e.handle(
        Msg::Resume {
            typed: Some("RESUME".into()),
        },
        t0(),
    )
    .await;
    let id = propose(&mut e, "8").await;
    confirm(&mut e, id).await;
    assert_eq!(e.broker().placed.len(), placed, "nothing sent after the failure");
    assert_eq!(
        e.state().trading.level(),
        cockpit::policy::Level::Halted,
        "a resume does not clear a journal error"
    );
    // Cancels never wait on the journal.
    e.handle(Msg::KillSwitch, t0()).await;
    assert_eq!(
        e.broker().cancelled.len(),
        placed,
        "every working order cancelled"
    );
    assert!(e.stop().await.is_err(), "the writer reports its failure");

    // Everything the broker received has its intent on disk.
    let intents: Vec<String> = Reader::open(&d)
        .unwrap()
        .records(1)
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "intent")
        .map(|r| r.data["order_ref"].as_str().unwrap().to_owned())
        .collect();
    for (_, order_ref, _, _) in &sent {
        assert!(
            intents.contains(order_ref),
            "{order_ref} sent without its intent on disk"
        );
    }
    assert!(failed_at > 1, "the first orders fit");
    std::fs::remove_dir_all(&d).unwrap();
}

#[tokio::test]
async fn a_synced_commit_past_its_deadline_halts_trading_and_the_order_is_not_sent() {
    let d = dir("deadline");
    let mut e = engine(&d).await;
    let id = propose(&mut e, "10").await;
    // Another process holds the database's write lock: the intent's commit cannot finish in time.
    let blocker = rusqlite::Connection::open(cockpit::journal::db_path(&d)).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    confirm(&mut e, id).await;
    let waited = started.elapsed();
    assert!(
        e.broker().placed.is_empty(),
        "nothing sent without a durable intent"
    );
    assert_eq!(e.state().trading.level(), cockpit::policy::Level::Halted);
    assert_eq!(
        e.state().proposals[&id].stage,
        Stage::Done(cockpit::app::End::NotSent)
    );
    assert!(
        waited >= cockpit::app::SYNC_DEADLINE,
        "gave up only at the deadline ({waited:?})"
    );
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    let _ = e.stop().await;
    // Whatever reached the disk late, the intent is recorded as not sent, so a restart never resends it.
    let restarted = start(&d, t0()).await;
    assert!(restarted.state().in_doubt().is_empty());
    assert!(
        restarted
            .state()
            .proposals
            .get(&id)
            .is_none_or(|p| p.stage != Stage::Sent)
    );
    restarted.stop().await.unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}

/// A commission report for execution `exec_id` (each new one is journaled, without a sync).
fn commission(exec_id: &str) -> Msg {
    Msg::Broker(BrokerEvent::Commission {
        exec_id: exec_id.into(),
        commission: "1.00".parse().unwrap(),
        currency: "USD".into(),
        realized_pnl: None,
    })
}

fn commits(e: &common::EngineR) -> u64 {
    e.journal().status().borrow().commits
}

#[tokio::test]
async fn a_batch_of_broker_events_is_committed_in_one_append_in_order() {
    let d = dir("batch");
    let mut e = engine(&d).await;
    let before = commits(&e);
    let batch = (0..1000).map(|i| commission(&format!("x{i}"))).collect();
    e.handle_all(batch, t0()).await;
    assert_eq!(commits(&e), before + 1, "one commit for 1,000 records");
    e.stop().await.unwrap();
    let ids: Vec<String> = Reader::open(&d)
        .unwrap()
        .records(1)
        .unwrap()
        .into_iter()
        .filter(|r| r.data["event"] == "commission")
        .map(|r| r.data["exec_id"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..1000).map(|i| format!("x{i}")).collect();
    assert_eq!(ids, expected);
    std::fs::remove_dir_all(&d).unwrap();
}

#[tokio::test]
async fn an_order_in_a_batch_leaves_only_after_everything_before_it_and_its_intent_are_committed() {
    let d = dir("batch-order");
    let mut e = engine(&d).await;
    let id = propose(&mut e, "10").await;
    let fingerprint = e.state().proposals[&id].fingerprint.unwrap();
    let before = commits(&e);
    let approve = Msg::Approve {
        id,
        evidence: cockpit::policy::Evidence::Confirm(fingerprint),
    };
    e.handle_all(
        vec![commission("a"), commission("b"), approve, commission("c")],
        t0(),
    )
    .await;
    let placed = e.broker().placed.clone();
    assert_eq!(placed.len(), 1);
    let (_, _, head_at_place, commits_at_place) = placed[0].clone();
    assert_eq!(
        commits_at_place,
        before + 1,
        "the records before the order and its intent: one synced commit"
    );
    assert_eq!(commits(&e), before + 2, "the rest together after it");
    e.stop().await.unwrap();
    let records = Reader::open(&d).unwrap().records(1).unwrap();
    let seq =
        |what: &dyn Fn(&cockpit::journal::Record) -> bool| records.iter().find(|r| what(r)).unwrap().seq;
    for exec_id in ["a", "b"] {
        assert!(
            seq(&|r| r.data["exec_id"] == exec_id) <= head_at_place,
            "{exec_id}"
        );
    }
    assert!(seq(&|r| r.kind == "intent") <= head_at_place);
    assert!(seq(&|r| r.data["exec_id"] == "c") > head_at_place);
    assert!(seq(&|r| r.kind == "sent") > head_at_place);
    std::fs::remove_dir_all(&d).unwrap();
}

#[tokio::test]
async fn a_failed_batch_commit_halts_and_the_cancels_in_the_batch_do_not_wait_for_it() {
    let d = dir("batch-error");
    std::fs::create_dir_all(&d).unwrap();
    let lock = cockpit::app::StateLock::acquire(&d).await.unwrap();
    let mut journal = cockpit::journal::Journal::open(&d).unwrap();
    let pages = journal.cap_pages(1).unwrap();
    // Room for the start, the connection and one order; not for 1,000 more records.
    journal.cap_pages(u32::try_from(pages).unwrap() + 8).unwrap();
    let config = config();
    let mut e = Engine::start_with(
        lock,
        journal,
        &d,
        (
            config.profiles["paper"].clone(),
            config.agents.clone(),
            &config.hash,
        ),
        Recorder::default(),
        t0(),
    )
    .await
    .unwrap();
    e.broker().status = Some(e.journal().status());
    common::ready(&mut e, t0()).await;
    let id = propose(&mut e, "10").await;
    confirm(&mut e, id).await;
    assert_eq!(e.broker().placed.len(), 1, "the order fits");
    assert_eq!(
        e.state().trading.level(),
        cockpit::policy::Level::Active,
        "and its records"
    );
    let mut batch: Vec<Msg> = (0..1000).map(|i| commission(&format!("x{i}"))).collect();
    batch.push(Msg::KillSwitch);
    e.handle_all(batch, t0()).await;
    assert_eq!(e.broker().cancelled, [100], "the cancel went out");
    assert_eq!(e.state().trading.level(), cockpit::policy::Level::Halted);
    assert!(
        e.state()
            .trading
            .causes()
            .any(|(cause, _)| cause == cockpit::policy::Cause::JournalError),
        "the failed commit halted trading"
    );
    assert!(e.stop().await.is_err(), "the writer reports its failure");
    std::fs::remove_dir_all(&d).unwrap();
}
