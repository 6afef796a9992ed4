//! Recovery on start (RELIABILITY.md P10, P11): what the journal says comes back — staged orders awaiting
//! approval with their verdicts, orders sent and not ended, today's counters by exchange-time day, the
//! order-id high water — and an intent committed but never recorded as sent comes back *in doubt*: it blocks
//! reconciliation and trading until the broker says whether it has the order, and it is never resent.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use cockpit::app::{APPROVAL_TTL_SECS, BrokerEvent, End, Engine, Msg, Stage};
use cockpit::domain::{OrderId, OrderStatus, ProposalId};
use cockpit::journal::{Durability, Entry, Journal, Reader, kinds};
use cockpit::policy::Level;
use common::{EngineR, confirm, confirm_at, dir, engine, propose, propose_at, quote_at, ready, start, t0};
use serde_json::Value;

/// Appends a copy of the last `kind` record with `edit` applied to its data: what a crash right after that
/// record's commit (and before the next one) leaves behind.
fn append_copy(d: &Path, kind: &str, edit: impl FnOnce(&mut Value)) {
    let last = Reader::open(d)
        .unwrap()
        .records(1)
        .unwrap()
        .into_iter()
        .rfind(|r| r.kind == kind)
        .unwrap();
    let mut data = last.data.clone();
    edit(&mut data);
    let mut journal = Journal::open(d).unwrap();
    journal
        .append(&[Entry {
            at: last.at,
            envelope: last.envelope,
            kind: kind.to_owned(),
            data,
            durability: Durability::Sync,
        }])
        .unwrap();
}

fn kinds_of(d: &Path, kind: &str) -> Vec<Value> {
    Reader::open(d)
        .unwrap()
        .records(1)
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == kind)
        .map(|r| r.data)
        .collect()
}

#[tokio::test]
async fn staged_orders_come_back_with_their_verdicts_and_can_be_approved_after_reconnecting() {
    let d = dir("recover-staged");
    let mut e = engine(&d).await;
    let waiting = propose(&mut e, "10").await;
    let refused = propose(&mut e, "1000000").await;
    let fingerprint = e.state().proposals[&waiting].fingerprint;
    let codes: Vec<_> = e.state().proposals[&refused]
        .violations
        .iter()
        .map(|v| v.rule)
        .collect();
    assert!(!codes.is_empty());
    e.stop().await.unwrap();

    let later = t0() + Duration::seconds(30);
    let mut e = start(&d, later).await;
    let p = &e.state().proposals[&waiting];
    assert_eq!(p.stage, Stage::AwaitingApproval);
    assert_eq!(p.fingerprint, fingerprint, "the card shows what was checked");
    let r = &e.state().proposals[&refused];
    assert_eq!(r.stage, Stage::Refused);
    assert_eq!(r.violations.iter().map(|v| v.rule).collect::<Vec<_>>(), codes);

    // Not connected yet: an approval is refused by the policy, and nothing is sent.
    confirm_at(&mut e, waiting, later).await;
    assert!(e.broker().placed.is_empty());
    assert_eq!(e.state().proposals[&waiting].stage, Stage::Refused);

    // After reconnecting the trader edits the refused card (a new version) and approves it.
    ready(&mut e, later).await;
    e.handle(
        Msg::Edit {
            id: waiting,
            ticket: e.state().proposals[&waiting].ticket.clone(),
        },
        later,
    )
    .await;
    confirm_at(&mut e, waiting, later).await;
    assert_eq!(e.broker().placed.len(), 1, "{:?}", e.state().proposals[&waiting]);
    assert_eq!(e.broker().placed[0].1, "ck-p1-v2-i1");
    let next = propose_at(&mut e, "5", later).await;
    assert_eq!(next, ProposalId(3), "proposal ids continue after the journal's");
    e.stop().await.unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}

#[tokio::test]
async fn a_staged_order_that_waited_past_its_window_expires_at_start() {
    let d = dir("recover-expire");
    let mut e = engine(&d).await;
    let id = propose(&mut e, "10").await;
    e.stop().await.unwrap();
    let e = start(&d, t0() + Duration::seconds(APPROVAL_TTL_SECS + 1)).await;
    assert_eq!(e.state().proposals[&id].stage, Stage::Done(End::Expired));
    e.stop().await.unwrap();
    let actions = kinds_of(&d, kinds::HUMAN_ACTION);
    assert!(
        actions
            .iter()
            .any(|a| a["action"] == "expire" && a["proposal"] == 1),
        "{actions:?}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// Sends one order (id 100, acknowledged by the gateway), then leaves behind the intent of a second (id 101) as a crash between its
/// commit and its send would; restarts at `t0`.
async fn crashed_after_second_intent(name: &str) -> (std::path::PathBuf, EngineR) {
    let d = dir(name);
    let mut e = engine(&d).await;
    let first = propose(&mut e, "10").await;
    confirm(&mut e, first).await;
    // The gateway acknowledged the first: it is a working order, not in doubt.
    e.handle(
        Msg::Broker(BrokerEvent::OrderStatus {
            order_id: OrderId::new(100).unwrap(),
            event: cockpit::domain::OrderEvent::Working,
        }),
        t0(),
    )
    .await;
    let second = propose(&mut e, "11").await;
    e.stop().await.unwrap();
    append_copy(&d, kinds::INTENT, |data| {
        data["proposal"] = second.0.into();
        data["order_id"] = 101.into();
        data["high_water"] = 101.into();
        data["order_ref"] = "ck-p2-v1-i2".into();
        data["intent_seq"] = 2.into();
    });
    let e = start(&d, t0()).await;
    (d, e)
}

#[tokio::test]
async fn an_intent_never_recorded_as_sent_is_in_doubt_and_blocks_trading_until_the_broker_answers() {
    let (d, mut e) = crashed_after_second_intent("recover-doubt-missing").await;
    let doubt = ProposalId(2);
    assert_eq!(e.state().proposals[&doubt].stage, Stage::InDoubt);
    assert_eq!(e.state().in_doubt().len(), 1);
    assert_eq!(e.state().order_id_high_water, OrderId::new(101).ok());
    assert_eq!(e.state().counters.orders, 2, "an order in doubt counts");
    assert!(
        e.state().alerts.iter().any(|a| a.text.contains("in doubt")),
        "the trader is told"
    );

    // Connected and reconciled, but the order in doubt keeps the gate shut.
    ready(&mut e, t0()).await;
    assert!(
        e.state().gate_shut().is_some(),
        "the gate stays shut while an order is in doubt"
    );
    let id = propose(&mut e, "12").await;
    confirm(&mut e, id).await;
    assert!(e.broker().placed.is_empty(), "nothing is sent while in doubt");

    // The broker has never seen it: not sent, never resent; then trading may resume.
    e.handle(
        Msg::Broker(BrokerEvent::InDoubtResolved {
            order_id: OrderId::new(101).unwrap(),
            status: None,
        }),
        t0(),
    )
    .await;
    assert_eq!(e.state().proposals[&doubt].stage, Stage::Done(End::NotSent));
    ready(&mut e, t0()).await;
    assert_eq!(e.state().trading.level(), Level::Active);
    assert!(e.broker().placed.is_empty(), "resolving sends nothing");
    e.stop().await.unwrap();
    let resolved = kinds_of(&d, kinds::IN_DOUBT);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["found"], false);
    assert_eq!(resolved[0]["order_ref"], "ck-p2-v1-i2");
    std::fs::remove_dir_all(&d).unwrap();
}

#[tokio::test]
async fn an_intent_the_broker_has_becomes_a_working_order() {
    let (d, mut e) = crashed_after_second_intent("recover-doubt-found").await;
    ready(&mut e, t0()).await;
    e.handle(
        Msg::Broker(BrokerEvent::InDoubtResolved {
            order_id: OrderId::new(101).unwrap(),
            status: Some(OrderStatus::Submitted),
        }),
        t0(),
    )
    .await;
    let p = &e.state().proposals[&ProposalId(2)];
    assert_eq!(p.stage, Stage::Sent);
    assert_eq!(p.broker_status, Some(OrderStatus::Submitted));
    e.stop().await.unwrap();

    // A restart now sees it as sent, not in doubt.
    let e = start(&d, t0()).await;
    assert_eq!(e.state().proposals[&ProposalId(2)].stage, Stage::Sent);
    assert!(e.state().in_doubt().is_empty());
    e.stop().await.unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}

#[tokio::test]
async fn daily_counters_come_back_within_the_exchange_day_and_reset_after_it() {
    let d = dir("recover-counters");
    let mut e = engine(&d).await;
    for qty in ["10", "11"] {
        let id = propose(&mut e, qty).await;
        confirm(&mut e, id).await;
    }
    assert_eq!(e.broker().placed.len(), 2);
    e.stop().await.unwrap();

    // t0 is 10:00 in New York; 23:59 New York time is still the same exchange day.
    let same_day: DateTime<Utc> = t0() + Duration::minutes(13 * 60 + 59);
    let e = start(&d, same_day).await;
    assert_eq!(e.state().counters.orders, 2);
    assert_eq!(e.state().counters.orders_by_symbol.values().sum::<u32>(), 2);
    assert!(e.state().counters.notional > rust_decimal::Decimal::ZERO);
    e.stop().await.unwrap();

    // One minute later (00:00 New York, 05:00 UTC) is a new exchange day.
    let e = start(&d, same_day + Duration::minutes(1)).await;
    assert_eq!(e.state().counters.orders, 0);
    e.stop().await.unwrap();

    // And a restart right after sending keeps the duplicate rule's memory: the same order again is refused.
    let soon = t0() + Duration::seconds(1);
    let mut e = start(&d, soon).await;
    ready(&mut e, soon).await;
    e.handle(quote_at(soon), soon).await;
    let again = propose_at(&mut e, "10", soon).await;
    let rules: Vec<&str> = e.state().proposals[&again]
        .violations
        .iter()
        .map(|v| v.rule.code())
        .collect();
    assert!(rules.contains(&"DUPLICATE"), "{rules:?}");
    e.stop().await.unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}

#[tokio::test]
async fn an_order_in_doubt_belongs_to_its_profile_and_gateway_only() {
    let (d, e) = crashed_after_second_intent("recover-isolation").await;
    assert_eq!(e.state().in_doubt().len(), 1);
    e.stop().await.unwrap();
    // The same journal opened by the live profile (another gateway): paper's order is not its business,
    // and it never resolves it; the numbers still continue, so nothing repeats.
    let config = common::config();
    let live = Engine::start(
        &d,
        config.profiles["live"].clone(),
        config.agents.clone(),
        &config.hash,
        common::Recorder::default(),
        t0(),
    )
    .await
    .unwrap();
    assert!(live.state().in_doubt().is_empty());
    assert!(live.state().proposals.is_empty());
    assert_eq!(
        live.state().counters.orders,
        0,
        "paper's orders do not count on live"
    );
    live.stop().await.unwrap();
    // Back on paper, the order is still in doubt.
    let paper = start(&d, t0()).await;
    assert_eq!(paper.state().in_doubt().len(), 1);
    paper.stop().await.unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}

/// The broker holds `shares` AAPL in the paper account, as a reconciliation's position check says.
fn position_check(shares: i64) -> Msg {
    let positions = [(
        (
            cockpit::domain::AccountId::parse("DU1234567").unwrap(),
            common::aapl(),
        ),
        cockpit::app::BrokerPosition {
            quantity: shares.into(),
            average_cost: None,
        },
    )]
    .into_iter()
    .collect();
    Msg::Broker(BrokerEvent::PositionCheck { positions })
}

#[tokio::test]
async fn a_position_mismatch_holds_trading_down_across_a_restart_until_the_trader_resumes() {
    let d = dir("recover-position-mismatch");
    let mut e = engine(&d).await;
    for shares in [100, 100, 105, 105] {
        e.handle(position_check(shares), t0()).await;
    }
    assert!(e.state().position_watch.mismatch);
    assert_eq!(kinds_of(&d, kinds::POSITION_MISMATCH).len(), 1);
    e.stop().await.unwrap();

    let mut e = start(&d, t0()).await;
    assert!(e.state().position_watch.mismatch, "restored from the journal");
    e.handle(Msg::Broker(BrokerEvent::Connected { next_valid_id: 100 }), t0())
        .await;
    // A new baseline, and a clean reconciliation: the mismatch still holds trading down.
    e.handle(position_check(105), t0()).await;
    e.handle(position_check(105), t0()).await;
    e.handle(Msg::Broker(BrokerEvent::Reconciled), t0()).await;
    assert!(
        e.state()
            .trading
            .causes()
            .any(|(c, _)| c == cockpit::policy::Cause::ReconciliationMismatch)
    );
    e.handle(
        Msg::Resume {
            typed: Some("RESUME".into()),
        },
        t0(),
    )
    .await;
    assert_eq!(e.state().trading.level(), Level::Active);
    e.stop().await.unwrap();

    let e = start(&d, t0()).await;
    assert!(!e.state().position_watch.mismatch, "resumed past it");
    e.stop().await.unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}

/// Agent 1001 stages `BUY 1 AAPL LMT 100.01`.
async fn stage(e: &mut EngineR) {
    let msg = Msg::Propose {
        source: cockpit::app::Source::Agent { uid: 1001 },
        ticket: common::ticket("1"),
        note: String::new(),
    };
    e.handle(msg, t0()).await;
}

#[tokio::test]
async fn an_agents_proposals_of_the_day_are_counted_across_a_restart() {
    let d = dir("recover-agent-day");
    let mut e = engine(&d).await;
    let limit = e
        .state()
        .agents
        .iter()
        .find(|a| a.uid == 1001)
        .unwrap()
        .max_proposals_per_day;
    for _ in 0..limit - 1 {
        stage(&mut e).await;
    }
    // A re-check writes another verdict for the same proposal: it must not count twice.
    confirm(&mut e, ProposalId(1)).await;
    e.stop().await.unwrap();
    let mut e = start(&d, t0()).await;
    ready(&mut e, t0()).await;
    let name = e.state().agent_identity(1001).0;
    assert_eq!(e.state().agent_proposals_today.get(&name), Some(&(limit - 1)));
    stage(&mut e).await;
    let before = e.state().proposals.len();
    stage(&mut e).await;
    assert_eq!(
        e.state().proposals.len(),
        before,
        "the one past the limit is refused after the restart too"
    );
    e.stop().await.unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}
