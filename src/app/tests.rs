#![expect(clippy::unwrap_used, reason = "tests")]

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::config::Config;
use crate::domain::OrderStatus;
use crate::domain::{
    AccountId, AlertId, Currency, Instrument, OrderEvent, OrderId, OrderTicket, OrderType, Price, ProposalId,
    Quantity, Quote, Side, Symbol, Tif,
};
use crate::policy::{Evidence, Fingerprint, Level, Rule, Tier};

/// Tuesday 2026-11-24 10:00 in New York: inside the example's session.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

fn aapl() -> Instrument {
    Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ")
}

fn ticket(side: Side, qty: &str, limit: &str) -> OrderTicket {
    OrderTicket {
        account: AccountId::parse("DU1234567").unwrap(),
        instrument: aapl(),
        side,
        quantity: Quantity::parse(qty).unwrap(),
        order_type: OrderType::Limit,
        limit_price: Some(Price::parse(limit).unwrap()),
        stop_price: None,
        tif: Tif::Day,
        outside_rth: false,
    }
}

/// The example's `profile` with a fresh AAPL quote at 100.00/100.02 and a connected broker (next id 1000).
fn state(profile: &str) -> State {
    let config = Config::parse(include_str!("../../config.example.toml"), Path::new("x.toml")).unwrap();
    let mut s = State::new(config.profiles[profile].clone(), config.agents.clone());
    s.update(Msg::Broker(BrokerEvent::Connected { next_valid_id: 1000 }), t0());
    s.update(Msg::Broker(BrokerEvent::Reconciled), t0());
    s.update(Msg::Resume { typed: None }, t0());
    assert_eq!(s.trading.level(), Level::Active);
    quote(&mut s, t0());
    s
}

fn quote(s: &mut State, at: DateTime<Utc>) {
    let q = Quote {
        bid: Some(Price::parse("100.00").unwrap()),
        ask: Some(Price::parse("100.02").unwrap()),
        last: Some(Price::parse("100.01").unwrap()),
        bid_size: None,
        ask_size: None,
        volume: None,
        received_at: at,
    };
    s.update(
        Msg::Broker(BrokerEvent::Quote {
            instrument: aapl(),
            quote: q,
        }),
        at,
    );
}

fn propose(s: &mut State, source: Source, t: OrderTicket) -> (ProposalId, Vec<Effect>) {
    let fx = s.update(
        Msg::Propose {
            source,
            ticket: t,
            note: "test".into(),
        },
        t0(),
    );
    (ProposalId(s.next_proposal - 1), fx)
}

fn kinds(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .map(|e| match e {
            Effect::Journal(r) => format!("{}{}", r.kind, if r.sync { "!" } else { "" }),
            Effect::Place(p) => format!("PLACE {}", p.order_id.get()),
            Effect::Cancel { order_id } => format!("CANCEL {}", order_id.get()),
            Effect::GlobalCancel => "GLOBAL CANCEL".to_owned(),
            Effect::CheckPositions => "CHECK POSITIONS".to_owned(),
        })
        .collect()
}

fn confirm(s: &State, id: ProposalId) -> Evidence {
    Evidence::Confirm(s.proposals[&id].fingerprint.unwrap())
}

fn place(fx: Vec<Effect>) -> PlaceOrder {
    fx.into_iter()
        .find_map(|e| match e {
            Effect::Place(p) => Some(*p),
            _ => None,
        })
        .expect("a Place effect")
}

/// The trader stages `BUY 10 AAPL LMT 100.01`, confirms it, and its intent commits: the order to send.
fn send_one(s: &mut State) -> (ProposalId, PlaceOrder) {
    let (id, _) = propose(s, Source::Trader, ticket(Side::Buy, "10", "100.01"));
    let evidence = confirm(s, id);
    s.update(Msg::Approve { id, evidence }, t0());
    (id, place(s.update(Msg::IntentCommitted { id }, t0())))
}

#[test]
fn trader_order_waits_for_a_confirm_then_commits_its_intent_before_it_is_sent() {
    let mut s = state("paper");
    let (id, fx) = propose(&mut s, Source::Trader, ticket(Side::Buy, "10", "100.01"));
    assert_eq!(kinds(&fx), ["verdict!"]);
    assert_eq!(s.proposals[&id].stage, Stage::AwaitingApproval);
    assert_eq!(s.proposals[&id].tier, Some(Tier::Confirm));

    let fx = s.update(
        Msg::Approve {
            id,
            evidence: confirm(&s, id),
        },
        t0(),
    );
    assert_eq!(
        kinds(&fx),
        ["verdict!", "human_action", "intent!"],
        "re-checked, then the intent; no send yet"
    );
    assert_eq!(s.proposals[&id].stage, Stage::Approved);
    let Effect::Journal(intent) = &fx[2] else { panic!() };
    assert_eq!(intent.data["order_id"], 1000);
    assert_eq!(intent.data["order_ref"], "ck-p1-v1-i1");

    let order = place(s.update(Msg::IntentCommitted { id }, t0()));
    assert_eq!(
        (order.order_id.get(), order.order_ref.as_str()),
        (1000, "ck-p1-v1-i1")
    );
    assert_eq!(order.epoch, s.trading.epoch());
    assert_eq!(order.deadline, t0() + Duration::seconds(PLACE_DEADLINE_SECS));
    assert_eq!(order.cleared.ticket(), &s.proposals[&id].ticket);
    assert_eq!(s.proposals[&id].stage, Stage::Sent);
    assert_eq!(
        (s.counters.orders, s.counters.notional),
        (1, Decimal::new(100_010, 2))
    );
    assert_eq!(s.working_orders().len(), 1, "counted as in flight");
}

#[test]
fn approving_twice_sends_once() {
    let mut s = state("paper");
    let (id, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "10", "100.01"));
    let evidence = confirm(&s, id);
    s.update(
        Msg::Approve {
            id,
            evidence: evidence.clone(),
        },
        t0(),
    );
    let second = s.update(Msg::Approve { id, evidence }, t0());
    assert_eq!(kinds(&second), ["human_action"], "refused: already approved");
    let sends = [
        s.update(Msg::IntentCommitted { id }, t0()),
        s.update(Msg::IntentCommitted { id }, t0()),
    ]
    .into_iter()
    .flatten()
    .filter(|e| matches!(e, Effect::Place(_)))
    .count();
    assert_eq!(sends, 1);
}

#[test]
fn an_execute_agent_below_every_threshold_needs_no_human_but_still_commits_first() {
    let mut s = state("dry-run");
    let (id, fx) = propose(
        &mut s,
        Source::Agent { uid: 1002 },
        ticket(Side::Buy, "10", "100.01"),
    );
    assert_eq!(kinds(&fx), ["verdict!"], "staged: it waits for submit_order");
    assert_eq!(s.proposals[&id].tier, Some(Tier::None));
    assert_eq!(s.proposals[&id].stage, Stage::AwaitingApproval);
    // Another agent cannot submit it.
    s.update(Msg::Agent(AgentMsg::Submit { uid: 1001, id }), t0());
    assert_eq!(s.proposals[&id].stage, Stage::AwaitingApproval);
    let fx = s.update(Msg::Agent(AgentMsg::Submit { uid: 1002, id }), t0());
    assert_eq!(kinds(&fx), ["verdict!", "human_action", "intent!"]);
    let order = place(s.update(Msg::IntentCommitted { id }, t0()));
    assert_eq!(order.cleared.tier(), Tier::None);
    assert_eq!(s.unapproved.len(), 1, "counted against the agent's budget");
}

#[test]
fn agents_are_known_by_uid_and_read_level_cannot_stage() {
    let mut s = state("paper");
    let (_, fx) = propose(
        &mut s,
        Source::Agent { uid: 4242 },
        ticket(Side::Buy, "10", "100.01"),
    );
    // An unknown uid stages at the profile's level (prepare on paper), under the name `uid N`.
    assert_eq!(kinds(&fx), ["verdict!"]);
    let unknown = s.proposals.values().next().unwrap();
    assert!(matches!(&unknown.requester, crate::policy::Requester::Agent { name, .. } if name == "uid 4242"));
    assert_eq!(unknown.stage, Stage::AwaitingApproval);
    s.agents[0].permission = crate::config::Permission::Read;
    let (id, _) = propose(
        &mut s,
        Source::Agent { uid: 1001 },
        ticket(Side::Buy, "10", "100.01"),
    );
    assert_eq!(s.proposals[&id].stage, Stage::Refused);
    assert_eq!(s.proposals[&id].violations[0].rule, Rule::Permission);
    let (id, _) = propose(
        &mut s,
        Source::Agent { uid: 1002 },
        ticket(Side::Buy, "10", "100.01"),
    );
    assert_eq!(
        s.proposals[&id].tier,
        Some(Tier::Confirm),
        "execute narrowed to prepare on paper"
    );
}

#[test]
fn an_edit_is_a_new_version_and_the_old_approval_no_longer_fits() {
    let mut s = state("paper");
    let (id, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "10", "100.01"));
    let old = confirm(&s, id);
    let fx = s.update(
        Msg::Edit {
            id,
            ticket: ticket(Side::Buy, "12", "100.01"),
        },
        t0(),
    );
    assert_eq!(kinds(&fx), ["human_action!", "verdict!"]);
    assert_eq!(s.proposals[&id].version, 2);
    let fx = s.update(Msg::Approve { id, evidence: old }, t0());
    assert_eq!(kinds(&fx), ["verdict!", "human_action!"]);
    let Effect::Journal(r) = &fx[1] else { panic!() };
    assert!(
        r.data["refused"]
            .as_str()
            .unwrap()
            .contains("different order or version"),
        "{r:?}"
    );
    assert_eq!(s.proposals[&id].stage, Stage::AwaitingApproval);
    s.update(
        Msg::Approve {
            id,
            evidence: confirm(&s, id),
        },
        t0(),
    );
    assert_eq!(s.proposals[&id].stage, Stage::Approved);
}

#[test]
fn a_typed_tier_refuses_a_confirm_and_takes_the_read_back() {
    let mut s = state("paper");
    let (id, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "300", "100.01"));
    assert_eq!(s.proposals[&id].tier, Some(Tier::Typed));
    s.update(
        Msg::Approve {
            id,
            evidence: confirm(&s, id),
        },
        t0(),
    );
    assert_eq!(s.proposals[&id].stage, Stage::AwaitingApproval);
    let fp = s.proposals[&id].fingerprint.unwrap();
    s.update(
        Msg::Approve {
            id,
            evidence: Evidence::Typed(fp, "buy 300 aapl lmt 100.01".into()),
        },
        t0(),
    );
    assert_eq!(s.proposals[&id].stage, Stage::Approved);
}

#[test]
fn the_policy_runs_again_at_approval_and_a_stale_quote_refuses() {
    let mut s = state("paper");
    let (id, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "10", "100.01"));
    let evidence = confirm(&s, id);
    let later = t0() + Duration::seconds(60);
    s.update(Msg::Approve { id, evidence }, later);
    assert_eq!(s.proposals[&id].stage, Stage::Refused);
    assert_eq!(s.proposals[&id].violations[0].rule, Rule::NoQuote);
}

#[test]
fn the_kill_switch_halts_voids_unsent_approvals_and_cancels_working_orders() {
    let mut s = state("paper");
    let (sent, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "10", "100.01"));
    s.update(
        Msg::Approve {
            id: sent,
            evidence: confirm(&s, sent),
        },
        t0(),
    );
    s.update(Msg::IntentCommitted { id: sent }, t0());
    let (pending, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "11", "100.01"));
    s.update(
        Msg::Approve {
            id: pending,
            evidence: confirm(&s, pending),
        },
        t0(),
    );
    let before = s.trading.epoch();
    let fx = s.update(Msg::KillSwitch, t0());
    assert_eq!(
        kinds(&fx),
        [
            "human_action",
            "trading_state!",
            "not_sent",
            "CANCEL 1000",
            "alert"
        ]
    );
    assert_eq!(s.trading.level(), Level::Halted);
    assert!(s.trading.epoch() > before);
    assert_eq!(s.proposals[&pending].stage, Stage::Done(End::NotSent));
    assert!(
        s.update(Msg::IntentCommitted { id: pending }, t0()).is_empty(),
        "its commit sends nothing"
    );
    let (id, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "1", "100.01"));
    assert_eq!(s.proposals[&id].violations[0].rule, Rule::Halted);
}

#[test]
fn a_step_down_between_approval_and_commit_stops_the_send() {
    let mut s = state("paper");
    let (id, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "10", "100.01"));
    s.update(
        Msg::Approve {
            id,
            evidence: confirm(&s, id),
        },
        t0(),
    );
    s.update(
        Msg::JournalFailed {
            error: "disk full".into(),
        },
        t0(),
    );
    assert_eq!(s.trading.level(), Level::Halted);
    assert_eq!(s.proposals[&id].stage, Stage::Done(End::NotSent));
    assert!(s.update(Msg::IntentCommitted { id }, t0()).is_empty());
}

#[test]
fn disconnect_steps_down_and_only_a_human_steps_up_after_reconciling() {
    let mut s = state("paper");
    s.update(Msg::Broker(BrokerEvent::Disconnected), t0());
    assert_eq!(s.trading.level(), Level::Reducing);
    let fx = s.update(Msg::Resume { typed: None }, t0());
    assert_eq!(kinds(&fx), ["human_action"], "a cause remains");
    s.update(Msg::Broker(BrokerEvent::Connected { next_valid_id: 2000 }), t0());
    assert_eq!(s.trading.level(), Level::Reducing, "not reconciled yet");
    s.update(Msg::Broker(BrokerEvent::Reconciled), t0());
    assert_eq!(
        s.trading.level(),
        Level::Reducing,
        "reconciling does not step up by itself"
    );
    let alerts = s.alerts.len();
    s.update(Msg::AcknowledgeAlert { id: AlertId(1) }, t0());
    assert_eq!(
        s.trading.level(),
        Level::Reducing,
        "acknowledging never changes the trading state"
    );
    s.update(Msg::Resume { typed: None }, t0());
    assert_eq!(s.trading.level(), Level::Active);
    assert_eq!(s.alerts.len(), alerts + 1, "resume is announced");
}

#[test]
fn fills_are_idempotent_by_execution_id_and_move_the_position() {
    let mut s = state("paper");
    let (id, order) = send_one(&mut s);
    let exec = |exec_id: &str, qty: i64| {
        Msg::Broker(BrokerEvent::Execution {
            order_id: order.order_id,
            exec_id: exec_id.into(),
            quantity: Decimal::from(qty),
            price: Decimal::new(10_001, 2),
            replay: false,
        })
    };
    s.update(exec("e1", 4), t0());
    s.update(exec("e1", 4), t0());
    assert_eq!(s.proposals[&id].filled, Decimal::from(4));
    assert_eq!(
        s.positions[&(AccountId::parse("DU1234567").unwrap(), aapl())],
        Decimal::from(4)
    );
    assert_eq!(s.working_orders()[0].remaining.get(), Decimal::from(6));
    s.update(exec("e2", 6), t0());
    for event in [OrderEvent::Working, OrderEvent::Filled] {
        s.update(
            Msg::Broker(BrokerEvent::OrderStatus {
                order_id: order.order_id,
                event,
            }),
            t0(),
        );
    }
    assert_eq!(s.proposals[&id].stage, Stage::Done(End::Filled));
    assert!(s.working_orders().is_empty());
}

#[test]
fn three_rejects_in_a_row_halt_and_a_duplicate_id_halts_at_once() {
    let mut s = state("paper");
    for n in 0..3 {
        let (id, _) = propose(
            &mut s,
            Source::Trader,
            ticket(Side::Buy, &format!("{}", n + 1), "100.01"),
        );
        s.update(
            Msg::Approve {
                id,
                evidence: confirm(&s, id),
            },
            t0(),
        );
        let order = place(s.update(Msg::IntentCommitted { id }, t0()));
        let err = BrokerEvent::Error {
            order_id: Some(order.order_id),
            code: 201,
            text: "no".into(),
        };
        s.update(Msg::Broker(err), t0());
        assert_eq!(
            s.trading.level() == Level::Halted,
            n == 2,
            "after reject {}",
            n + 1
        );
    }
    let mut s = state("paper");
    s.update(
        Msg::Broker(BrokerEvent::Error {
            order_id: None,
            code: 103,
            text: "dup".into(),
        }),
        t0(),
    );
    assert_eq!(s.trading.level(), Level::Halted);
}

#[test]
fn order_ids_never_repeat_and_nothing_is_approved_without_one() {
    let config = Config::parse(include_str!("../../config.example.toml"), Path::new("x.toml")).unwrap();
    let mut s = State::new(config.profiles["paper"].clone(), Vec::new());
    quote(&mut s, t0());
    let (id, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "10", "100.01"));
    s.update(
        Msg::Approve {
            id,
            evidence: confirm(&s, id),
        },
        t0(),
    );
    assert_eq!(
        s.proposals[&id].stage,
        Stage::AwaitingApproval,
        "no broker, no order id"
    );
    s.order_id_high_water = Some(OrderId::new(5000).unwrap());
    s.next_order_id = Some(OrderId::new(1000).unwrap());
    s.connected = true;
    s.update(
        Msg::Approve {
            id,
            evidence: confirm(&s, id),
        },
        t0(),
    );
    assert_eq!(
        s.proposals[&id].order_id,
        Some(OrderId::new(5001).unwrap()),
        "max(nextValidId, high water + 1)"
    );
}

#[test]
fn staged_orders_expire_and_the_day_rolls_over_in_exchange_time() {
    let mut s = state("paper");
    let (id, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "10", "100.01"));
    s.update(Msg::Tick, t0() + Duration::seconds(APPROVAL_TTL_SECS - 1));
    assert_eq!(s.proposals[&id].stage, Stage::AwaitingApproval);
    s.update(Msg::Tick, t0() + Duration::seconds(APPROVAL_TTL_SECS));
    assert_eq!(s.proposals[&id].stage, Stage::Done(End::Expired));

    let (id, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "3", "100.01"));
    s.update(
        Msg::Approve {
            id,
            evidence: confirm(&s, id),
        },
        t0(),
    );
    s.update(Msg::IntentCommitted { id }, t0());
    assert_eq!(s.counters.orders, 1);
    // 23:59 in New York is 04:59 UTC the next day: still the same exchange day.
    s.update(Msg::Tick, Utc.with_ymd_and_hms(2026, 11, 25, 4, 59, 0).unwrap());
    assert_eq!(s.counters.orders, 1);
    s.update(Msg::Tick, Utc.with_ymd_and_hms(2026, 11, 25, 5, 0, 0).unwrap());
    assert_eq!(s.counters.orders, 0, "midnight in New York");
}

#[test]
fn a_wrong_fingerprint_never_approves() {
    let mut s = state("paper");
    let (id, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "10", "100.01"));
    s.update(
        Msg::Approve {
            id,
            evidence: Evidence::Confirm(Fingerprint([7; 32])),
        },
        t0(),
    );
    assert_eq!(s.proposals[&id].stage, Stage::AwaitingApproval);
    s.update(
        Msg::Reject {
            id,
            reason: "no".into(),
        },
        t0(),
    );
    assert_eq!(s.proposals[&id].stage, Stage::Done(End::TraderRejected));
    let fx = s.update(
        Msg::Approve {
            id,
            evidence: confirm(&s, id),
        },
        t0(),
    );
    assert_eq!(kinds(&fx), ["human_action"]);
}

#[test]
fn after_the_kill_switch_only_a_typed_resume_steps_back_up() {
    let mut s = state("paper");
    s.update(Msg::KillSwitch, t0());
    s.update(Msg::Resume { typed: None }, t0());
    assert_eq!(
        s.trading.level(),
        Level::Halted,
        "a confirm is not enough from HALTED"
    );
    s.update(
        Msg::Resume {
            typed: Some("resume".into()),
        },
        t0(),
    );
    assert_eq!(s.trading.level(), Level::Halted);
    s.update(
        Msg::Resume {
            typed: Some("RESUME".into()),
        },
        t0(),
    );
    assert_eq!(s.trading.level(), Level::Active);
}

#[test]
fn a_journal_error_is_not_cleared_by_a_resume() {
    let mut s = state("paper");
    s.update(Msg::JournalFailed { error: "io".into() }, t0());
    s.update(
        Msg::Resume {
            typed: Some("RESUME".into()),
        },
        t0(),
    );
    assert_eq!(
        s.trading.level(),
        Level::Halted,
        "the journal must be healthy again (restart) first"
    );
}

#[test]
fn a_place_the_shell_could_not_hand_over_ends_not_sent_and_says_why() {
    let mut s = state("paper");
    let (id, _) = send_one(&mut s);
    let fx = s.update(
        Msg::PlaceDropped {
            id,
            reason: "disk full".into(),
        },
        t0(),
    );
    assert_eq!(kinds(&fx), ["not_sent"]);
    let Effect::Journal(r) = &fx[0] else { panic!() };
    assert_eq!(r.data["reason"], "disk full");
    assert_eq!(s.proposals[&id].stage, Stage::Done(End::NotSent));
    assert!(s.working_orders().is_empty());
    assert!(
        s.update(
            Msg::PlaceDropped {
                id,
                reason: "again".into()
            },
            t0()
        )
        .is_empty(),
        "only a sent proposal can be dropped"
    );
}

#[test]
fn alerts_commissions_and_disconnects_are_journaled() {
    let mut s = state("paper");
    let fx = s.update(Msg::Broker(BrokerEvent::Disconnected), t0());
    assert_eq!(kinds(&fx), ["broker_event", "trading_state!", "alert"]);
    let Effect::Journal(alert) = &fx[2] else { panic!() };
    assert_eq!(alert.data["severity"], "critical");
    assert_eq!(alert.data["source"], "system");
    assert_eq!(alert.data["id"], s.alerts.last().unwrap().id.0);
    let commission = || {
        Msg::Broker(BrokerEvent::Commission {
            exec_id: "e1".into(),
            commission: Decimal::new(105, 2),
            currency: "USD".into(),
            realized_pnl: Some(Decimal::new(-250, 1)),
        })
    };
    let fx = s.update(commission(), t0());
    assert!(
        s.update(commission(), t0()).is_empty(),
        "a repeated commission report is recorded once"
    );
    let Effect::Journal(c) = &fx[0] else { panic!() };
    assert_eq!(
        (
            c.data["event"].as_str(),
            c.data["commission"].as_str(),
            c.data["realized_pnl"].as_str()
        ),
        (Some("commission"), Some("1.05"), Some("-25.0"))
    );
}

#[test]
fn reconciliation_waits_for_every_order_in_doubt() {
    let mut s = state("paper");
    let (id, order) = send_one(&mut s);
    // As recovery leaves it: the intent durable, the send unknown.
    s.proposals.get_mut(&id).unwrap().stage = Stage::InDoubt;
    s.update(Msg::Broker(BrokerEvent::Disconnected), t0());
    s.update(Msg::Broker(BrokerEvent::Connected { next_valid_id: 2000 }), t0());
    let fx = s.update(Msg::Broker(BrokerEvent::Reconciled), t0());
    let Effect::Journal(r) = &fx[0] else { panic!() };
    assert!(
        r.data["refused"]
            .as_str()
            .unwrap()
            .contains("1 order(s) still in doubt")
    );
    assert!(
        s.update(Msg::Resume { typed: None }, t0())
            .iter()
            .all(|e| !matches!(e, Effect::Place(_)))
    );
    assert_ne!(s.trading.level(), Level::Active, "not reconciled while in doubt");

    // A status for another order resolves nothing; the broker's answer for this one does.
    s.update(
        Msg::Broker(BrokerEvent::InDoubtResolved {
            order_id: OrderId::new(999).unwrap(),
            status: None,
        }),
        t0(),
    );
    assert_eq!(s.in_doubt().len(), 1);
    let fx = s.update(
        Msg::Broker(BrokerEvent::InDoubtResolved {
            order_id: order.order_id,
            status: Some(OrderStatus::Filled),
        }),
        t0(),
    );
    assert_eq!(kinds(&fx), ["in_doubt!", "alert"]);
    assert_eq!(s.proposals[&id].stage, Stage::Done(End::Filled));
    s.update(Msg::Broker(BrokerEvent::Reconciled), t0());
    s.update(Msg::Resume { typed: None }, t0());
    assert_eq!(s.trading.level(), Level::Active);
}

#[test]
fn only_live_market_data_prices_orders() {
    let mut s = state("paper");
    let fx = s.update(
        Msg::Broker(BrokerEvent::MarketData {
            instrument: aapl(),
            status: crate::domain::DataStatus::Delayed,
        }),
        t0(),
    );
    assert_eq!(kinds(&fx), ["broker_event", "alert"]);
    assert!(s.quotes.is_empty(), "the live quote is withdrawn");
    quote(&mut s, t0());
    assert!(s.quotes.is_empty(), "delayed quotes never reach the policy");
    let (id, _) = propose(&mut s, Source::Trader, ticket(Side::Buy, "10", "100.01"));
    assert_eq!(s.proposals[&id].violations[0].rule, Rule::NoQuote);
    s.update(
        Msg::Broker(BrokerEvent::MarketData {
            instrument: aapl(),
            status: crate::domain::DataStatus::Live,
        }),
        t0(),
    );
    quote(&mut s, t0());
    assert!(s.quotes.contains_key(&aapl()));
    let again = s.update(
        Msg::Broker(BrokerEvent::MarketData {
            instrument: aapl(),
            status: crate::domain::DataStatus::Live,
        }),
        t0(),
    );
    assert!(again.is_empty(), "an unchanged status says nothing");
}

#[test]
fn after_a_long_disconnect_agents_working_orders_are_cancelled_and_the_traders_stay() {
    for (choice, cancelled) in [
        (
            crate::config::AfterLongDisconnect::CancelAgentOrders,
            vec!["CANCEL 1000"],
        ),
        (crate::config::AfterLongDisconnect::LeaveOrders, vec![]),
    ] {
        let mut s = state("paper");
        s.profile.policy.step_down.after_long_disconnect = choice;
        let mut sent = Vec::new();
        for (source, qty) in [(Source::Agent { uid: 1002 }, "10"), (Source::Trader, "11")] {
            let (id, _) = propose(&mut s, source, ticket(Side::Buy, qty, "100.01"));
            let evidence = confirm(&s, id);
            s.update(Msg::Approve { id, evidence }, t0());
            sent.push(place(s.update(Msg::IntentCommitted { id }, t0())).order_id.get());
        }
        assert_eq!(sent, [1000, 1001], "the agent's order is 1000");
        let long = i64::from(s.profile.policy.step_down.long_disconnect_secs);
        // A short outage changes nothing.
        s.update(Msg::Broker(BrokerEvent::Disconnected), t0());
        let fx = s.update(
            Msg::Broker(BrokerEvent::Connected { next_valid_id: 2000 }),
            t0() + Duration::seconds(long - 1),
        );
        assert!(
            !kinds(&fx).iter().any(|k| k.starts_with("CANCEL")),
            "{:?}",
            kinds(&fx)
        );
        // A long one applies the profile's choice to the agent's order only.
        s.update(
            Msg::Broker(BrokerEvent::Disconnected),
            t0() + Duration::seconds(long),
        );
        let fx = s.update(
            Msg::Broker(BrokerEvent::Connected { next_valid_id: 2000 }),
            t0() + Duration::seconds(2 * long),
        );
        let got: Vec<String> = kinds(&fx)
            .into_iter()
            .filter(|k| k.starts_with("CANCEL"))
            .collect();
        assert_eq!(got, cancelled, "{choice:?}");
        let text = &s
            .alerts
            .iter()
            .rev()
            .find(|a| a.text.contains("back after"))
            .unwrap()
            .text;
        assert!(
            text.contains(&format!("after {long} s")) && text.contains("long disconnect"),
            "{text}"
        );
    }
}

#[test]
fn partial_fills_and_cancels_the_cockpit_did_not_ask_for_are_alerted() {
    let mut s = state("paper");
    let (_, order) = send_one(&mut s);
    let status = |s: &mut State, event| {
        s.update(
            Msg::Broker(BrokerEvent::OrderStatus {
                order_id: order.order_id,
                event,
            }),
            t0(),
        );
        s.alerts.last().map(|a| a.text.clone()).unwrap_or_default()
    };
    assert!(status(&mut s, OrderEvent::PartFilled).ends_with("(BUY 10 AAPL) partially filled"));
    let before = s.alerts.len();
    status(&mut s, OrderEvent::PartFilled);
    assert_eq!(s.alerts.len(), before, "once per order, not per fill");
    assert!(status(&mut s, OrderEvent::Cancelled).contains("cancelled at the broker, not by the cockpit"));

    // A cancel the cockpit asked for (the kill switch) is not a surprise.
    let mut s = state("paper");
    let (_, order) = send_one(&mut s);
    s.update(Msg::KillSwitch, t0());
    let before = s.alerts.len();
    s.update(
        Msg::Broker(BrokerEvent::OrderStatus {
            order_id: order.order_id,
            event: OrderEvent::Cancelled,
        }),
        t0(),
    );
    assert_eq!(s.alerts.len(), before);
}

#[test]
fn margin_changes_beyond_the_thresholds_are_alerted_once() {
    let mut s = state("paper");
    let account = AccountId::parse("DU1234567").unwrap();
    let value = |s: &mut State, tag: &str, v: &str| {
        let fx = s.update(
            Msg::Broker(BrokerEvent::AccountValue {
                account: account.clone(),
                tag: tag.into(),
                value: v.parse().unwrap(),
            }),
            t0(),
        );
        kinds(&fx)
    };
    assert!(value(&mut s, "Cushion", "0.30").is_empty());
    assert_eq!(value(&mut s, "Cushion", "0.08"), ["broker_event", "alert"]);
    assert!(value(&mut s, "Cushion", "0.07").is_empty(), "once while below");
    assert!(value(&mut s, "Cushion", "0.20").is_empty());
    assert!(value(&mut s, "MaintMarginReq", "1000").is_empty());
    assert!(
        value(&mut s, "MaintMarginReq", "1150").is_empty(),
        "15 % is not a jump"
    );
    assert_eq!(value(&mut s, "MaintMarginReq", "1500"), ["broker_event", "alert"]);
    assert_eq!(value(&mut s, "ExcessLiquidity", "-5"), ["broker_event", "alert"]);
    assert_eq!(
        s.alerts.last().unwrap().severity,
        crate::domain::Severity::Critical
    );
    assert!(value(&mut s, "Unknown", "1").is_empty());
    let summary = &s.accounts[&account];
    assert_eq!(summary.maint_margin, Some(Decimal::from(1500)));
    assert_eq!(summary.cushion, Some(Decimal::new(20, 2)));
}

#[test]
fn an_order_stream_that_ends_steps_down_until_reconciled() {
    let mut s = state("paper");
    let fx = s.update(
        Msg::Broker(BrokerEvent::OrderStreamEnded {
            why: "the order update stream ended: decode error".into(),
        }),
        t0(),
    );
    assert_eq!(kinds(&fx), ["trading_state!", "alert"]);
    assert_eq!(s.trading.level(), Level::Halted);
    s.update(
        Msg::Resume {
            typed: Some("RESUME".into()),
        },
        t0(),
    );
    assert_eq!(s.trading.level(), Level::Halted, "not before it is reconciled");
    s.update(Msg::Broker(BrokerEvent::Reconciled), t0());
    s.update(
        Msg::Resume {
            typed: Some("RESUME".into()),
        },
        t0(),
    );
    assert_eq!(s.trading.level(), Level::Active);
}

#[test]
fn the_gate_is_shut_while_disconnected_or_unreconciled_even_for_a_reducing_order() {
    let mut s = state("paper");
    s.positions.insert(
        (AccountId::parse("DU1234567").unwrap(), aapl()),
        Decimal::from(100),
    );
    // A sell that reduces the position passes the Reducing level, but not the gate.
    for (event, cause) in [
        (BrokerEvent::Disconnected, "not connected"),
        (BrokerEvent::Connected { next_valid_id: 3000 }, "not reconciled"),
    ] {
        s.update(Msg::Broker(event), t0());
        assert_eq!(s.trading.level(), Level::Reducing);
        let (id, _) = propose(&mut s, Source::Trader, ticket(Side::Sell, "10", "100.00"));
        assert_eq!(s.proposals[&id].stage, Stage::AwaitingApproval, "{cause}");
        let evidence = confirm(&s, id);
        let fx = s.update(Msg::Approve { id, evidence }, t0());
        assert!(
            fx.iter().all(|e| !matches!(e, Effect::Place(_))) && !kinds(&fx).contains(&"intent!".to_string()),
            "{cause}: {:?}",
            kinds(&fx)
        );
        let Effect::Journal(r) = fx.last().unwrap() else {
            panic!()
        };
        assert!(
            r.data["refused"]
                .as_str()
                .unwrap()
                .starts_with("the gate is shut"),
            "{r:?}"
        );
        assert_eq!(
            s.proposals[&id].stage,
            Stage::AwaitingApproval,
            "approvable once the gate opens"
        );
    }
    s.update(Msg::Broker(BrokerEvent::Reconciled), t0());
    assert_eq!(s.gate_shut(), None);
}

#[test]
fn the_global_cancel_needs_typing_and_halts_like_the_kill_switch() {
    let mut s = state("paper");
    let (_, order) = send_one(&mut s);
    let fx = s.update(Msg::GlobalCancel { typed: "yes".into() }, t0());
    assert_eq!(kinds(&fx), ["human_action"]);
    assert_eq!(s.trading.level(), Level::Active, "refused: nothing happens");
    let fx = s.update(
        Msg::GlobalCancel {
            typed: GLOBAL_CANCEL_READ_BACK.into(),
        },
        t0(),
    );
    let k = kinds(&fx);
    assert_eq!(k.first().map(String::as_str), Some("human_action"));
    assert!(k.contains(&format!("CANCEL {}", order.order_id.get())), "{k:?}");
    assert!(k.contains(&"GLOBAL CANCEL".to_owned()), "{k:?}");
    assert_eq!(s.trading.level(), Level::Halted);
}

#[test]
fn an_external_order_steps_agents_down_to_prepare_until_the_trader_acknowledges_it() {
    let mut s = state("dry-run");
    let agent = Source::Agent { uid: 1002 };
    let (id, _) = propose(&mut s, agent, ticket(Side::Buy, "1", "100.01"));
    assert_eq!(
        s.proposals[&id].tier,
        Some(Tier::None),
        "execute, below every threshold"
    );
    s.update(
        Msg::Broker(BrokerEvent::ExternalOrder {
            order_id: 77,
            client_id: 0,
            order_ref: String::new(),
            summary: "SELL 5 AAPL LMT".into(),
        }),
        t0(),
    );
    let alert = s.alerts.last().unwrap().id;
    let (id, _) = propose(&mut s, agent, ticket(Side::Buy, "2", "100.01"));
    assert_eq!(
        s.proposals[&id].tier,
        Some(Tier::Confirm),
        "the trader must approve"
    );
    s.update(Msg::AcknowledgeAlert { id: alert }, t0());
    let (id, _) = propose(&mut s, agent, ticket(Side::Buy, "3", "100.01"));
    assert_eq!(s.proposals[&id].tier, Some(Tier::None));
}

#[test]
fn the_gateways_daily_restart_is_announced_once_before_it() {
    let mut s = state("paper");
    let config = Config::parse(include_str!("../../config.example.toml"), Path::new("x.toml")).unwrap();
    let restart = config.alerts.gateway_restart.unwrap();
    assert_eq!(restart.format("%H:%M").to_string(), "23:45");
    s.gateway_restart = Some((restart, Duration::minutes(10)));
    // 23:30 in New York (EST, UTC-5) is before the window; 23:40 is in it; 23:42 says nothing new.
    let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap();
    let warnings = |s: &State| {
        s.alerts
            .iter()
            .filter(|a| a.text.contains("gateway restarts"))
            .count()
    };
    s.update(Msg::Tick, at(4, 30));
    assert_eq!(warnings(&s), 0);
    s.update(Msg::Tick, at(4, 40));
    assert_eq!(warnings(&s), 1);
    assert!(s.alerts.last().unwrap().text.contains("at 23:45 (in 5 min)"));
    s.update(Msg::Tick, at(4, 42));
    s.update(Msg::Tick, at(4, 50));
    assert_eq!(warnings(&s), 1, "once a day");
}

fn account() -> AccountId {
    AccountId::parse("DU1234567").unwrap()
}

/// A position check at `t0` in which the broker holds `positions` (`(account, symbol, shares)`).
fn check(s: &mut State, positions: &[(&str, Instrument, i64)]) -> Vec<Effect> {
    let positions = positions
        .iter()
        .map(|(acct, instrument, qty)| {
            (
                (AccountId::parse(acct).unwrap(), instrument.clone()),
                BrokerPosition {
                    quantity: Decimal::from(*qty),
                    average_cost: Some(Decimal::new(10_000, 2)),
                },
            )
        })
        .collect();
    s.update(Msg::Broker(BrokerEvent::PositionCheck { positions }), t0())
}

/// A state whose confirmed baseline is 100 AAPL in the paper account.
fn holding_100() -> State {
    let mut s = state("paper");
    let fx = check(&mut s, &[("DU1234567", aapl(), 100)]);
    assert_eq!(s.position_watch.baseline, Baseline::Provisional);
    assert!(
        kinds(&fx).contains(&"CHECK POSITIONS".to_owned()),
        "{:?}",
        kinds(&fx)
    );
    check(&mut s, &[("DU1234567", aapl(), 100)]);
    assert_eq!(s.position_watch.baseline, Baseline::Confirmed);
    s
}

fn mismatch_alerts(s: &State) -> usize {
    s.alerts
        .iter()
        .filter(|a| a.text.starts_with("position mismatch"))
        .count()
}

#[test]
fn the_first_position_check_takes_the_brokers_positions_of_the_allowlisted_accounts_without_alarm() {
    let mut s = state("paper");
    let msft = Instrument::stock(Symbol::parse("MSFT").unwrap(), Currency::USD, "NASDAQ");
    let fx = check(
        &mut s,
        &[("DU1234567", aapl(), 100), ("DU7654321", msft.clone(), 5)],
    );
    assert_eq!(
        kinds(&fx),
        ["broker_event", "CHECK POSITIONS"],
        "adopted, journaled, checked again"
    );
    assert_eq!(s.positions[&(account(), aapl())], Decimal::from(100));
    assert_eq!(s.positions.len(), 1, "the other account is not the profile's");
    assert_eq!(s.position_costs[&(account(), aapl())], Decimal::new(100, 0));
    assert_eq!(mismatch_alerts(&s), 0);
    // Taken while a fill was in flight, the baseline differs from the next check: taken again, silently.
    let fx = check(&mut s, &[("DU1234567", aapl(), 110)]);
    assert_eq!(kinds(&fx), ["broker_event", "CHECK POSITIONS"]);
    assert_eq!(s.positions[&(account(), aapl())], Decimal::from(110));
    assert_eq!((mismatch_alerts(&s), s.trading.level()), (0, Level::Active));
    check(&mut s, &[("DU1234567", aapl(), 110)]);
    assert_eq!(s.position_watch.baseline, Baseline::Confirmed);
}

#[test]
fn one_differing_position_check_does_not_alarm_but_asks_for_another() {
    let mut s = holding_100();
    let fx = check(&mut s, &[("DU1234567", aapl(), 105)]);
    assert_eq!(kinds(&fx), ["CHECK POSITIONS"]);
    assert_eq!(mismatch_alerts(&s), 0);
    assert_eq!(s.trading.level(), Level::Active);
    assert_eq!(
        s.position_watch.differing[&(account(), aapl())],
        (Decimal::from(105), Decimal::from(100))
    );
    assert_eq!(
        s.positions[&(account(), aapl())],
        Decimal::from(100),
        "not taken on one check"
    );
}

#[test]
fn a_position_that_agrees_again_after_one_difference_clears_it() {
    let mut s = holding_100();
    let (_, order) = send_one(&mut s);
    // The broker's position already holds a fill whose execution is still on its way.
    check(&mut s, &[("DU1234567", aapl(), 110)]);
    assert!(!s.position_watch.differing.is_empty());
    s.update(
        Msg::Broker(BrokerEvent::Execution {
            order_id: order.order_id,
            exec_id: "e1".into(),
            quantity: Decimal::from(10),
            price: Decimal::new(10_001, 2),
            replay: false,
        }),
        t0(),
    );
    let fx = check(&mut s, &[("DU1234567", aapl(), 110)]);
    assert!(fx.is_empty(), "{:?}", kinds(&fx));
    assert!(s.position_watch.differing.is_empty());
    // A later difference is a first difference again.
    check(&mut s, &[("DU1234567", aapl(), 111)]);
    assert_eq!((mismatch_alerts(&s), s.trading.level()), (0, Level::Active));
}

#[test]
fn a_position_differing_on_two_checks_alarms_steps_down_and_takes_the_brokers_figure_until_resumed() {
    let mut s = holding_100();
    check(&mut s, &[("DU1234567", aapl(), 105)]);
    let fx = check(&mut s, &[("DU1234567", aapl(), 105)]);
    let k = kinds(&fx);
    assert_eq!(k.first().map(String::as_str), Some("position_mismatch"), "{k:?}");
    assert!(k.contains(&"trading_state!".to_owned()), "{k:?}");
    let Effect::Journal(r) = &fx[0] else { panic!() };
    assert_eq!(
        (
            &r.data["account"],
            &r.data["symbol"],
            &r.data["broker"],
            &r.data["cockpit"]
        ),
        (&json!("DU1234567"), &json!("AAPL"), &json!("105"), &json!("100"))
    );
    let alert = s
        .alerts
        .iter()
        .find(|a| a.text.starts_with("position mismatch"))
        .unwrap();
    assert_eq!(alert.severity, crate::domain::Severity::Critical);
    for says in ["DU1234567", "AAPL", "105", "100"] {
        assert!(alert.text.contains(says), "{}", alert.text);
    }
    // The example's profile halts on a reconciliation mismatch.
    assert_eq!(s.trading.level(), Level::Halted);
    assert_eq!(
        s.positions[&(account(), aapl())],
        Decimal::from(105),
        "the broker's"
    );
    // A clean reconciliation does not lift it; the trader's resume does, the positions agreeing.
    s.update(Msg::Broker(BrokerEvent::Reconciled), t0());
    assert!(
        s.trading
            .causes()
            .any(|(c, _)| c == crate::policy::Cause::ReconciliationMismatch)
    );
    check(&mut s, &[("DU1234567", aapl(), 105)]);
    s.update(
        Msg::Resume {
            typed: Some("RESUME".into()),
        },
        t0(),
    );
    assert_eq!(s.trading.level(), Level::Active);
    assert!(!s.position_watch.mismatch);
}

#[test]
fn a_resume_past_a_position_mismatch_waits_for_the_positions_to_agree_and_for_open_order_mismatches() {
    let mut s = holding_100();
    check(&mut s, &[("DU1234567", aapl(), 105)]);
    check(&mut s, &[("DU1234567", aapl(), 105)]);
    s.update(
        Msg::Broker(BrokerEvent::Mismatch {
            detail: "order 7 differs".into(),
        }),
        t0(),
    );
    // The taken baseline is confirmed; a new difference is pending.
    check(&mut s, &[("DU1234567", aapl(), 105)]);
    check(&mut s, &[("DU1234567", aapl(), 107)]);
    let resume = |s: &mut State| {
        s.update(
            Msg::Resume {
                typed: Some("RESUME".into()),
            },
            t0(),
        );
        s.trading.level()
    };
    assert_eq!(resume(&mut s), Level::Halted, "a difference is pending");
    check(&mut s, &[("DU1234567", aapl(), 105)]);
    assert_eq!(
        resume(&mut s),
        Level::Halted,
        "the order mismatch is not reconciled"
    );
    assert!(!s.position_watch.mismatch, "the positions' part is over");
    s.update(Msg::Broker(BrokerEvent::Reconciled), t0());
    assert_eq!(resume(&mut s), Level::Active);
}

#[test]
fn streamed_positions_move_the_average_cost_not_the_quantity() {
    let mut s = holding_100();
    let streamed = |quantity: i64, cost: Option<Decimal>| {
        Msg::Broker(BrokerEvent::Position {
            account: account(),
            instrument: aapl(),
            quantity: Decimal::from(quantity),
            average_cost: cost,
        })
    };
    s.update(streamed(120, Some(Decimal::new(10_150, 2))), t0());
    assert_eq!(s.position_costs[&(account(), aapl())], Decimal::new(10_150, 2));
    assert_eq!(
        s.positions[&(account(), aapl())],
        Decimal::from(100),
        "the cockpit's own count"
    );
    s.update(streamed(0, Some(Decimal::ZERO)), t0());
    assert!(s.position_costs.is_empty(), "flat: no cost");
}

#[test]
fn a_late_heartbeat_is_alerted_once_and_an_agent_alert_never_moves_the_trading_state() {
    let mut s = state("paper");
    s.heartbeat_secs = 60;
    let session = |open| {
        Msg::Agent(AgentMsg::Session {
            uid: 1001,
            label: "claude".into(),
            same_uid: false,
            open,
        })
    };
    s.update(session(true), t0());
    let status = Msg::Agent(AgentMsg::Status {
        uid: 1001,
        strategy: "demo".into(),
        state: "watching".into(),
        message: String::new(),
    });
    s.update(status, t0());
    let late = |s: &State| {
        s.alerts
            .iter()
            .filter(|a| a.text.contains("has not reported"))
            .count()
    };
    s.update(Msg::Tick, t0() + Duration::seconds(59));
    assert_eq!(late(&s), 0);
    s.update(Msg::Tick, t0() + Duration::seconds(61));
    s.update(Msg::Tick, t0() + Duration::seconds(90));
    assert_eq!(late(&s), 1, "once");
    let level = s.trading.level();
    s.update(
        Msg::Agent(AgentMsg::Alert {
            uid: 1001,
            severity: crate::domain::Severity::Critical,
            text: "SELL EVERYTHING".into(),
        }),
        t0(),
    );
    let alert = s.alerts.last().unwrap();
    assert_eq!(alert.severity, crate::domain::Severity::Warning, "never critical");
    assert_eq!(s.trading.level(), level);
    // A closed session is not watched.
    s.update(session(false), t0() + Duration::seconds(91));
    s.update(Msg::Tick, t0() + Duration::seconds(999));
    assert_eq!(late(&s), 1);
}

#[test]
fn an_agent_past_its_proposals_of_the_day_is_refused_until_the_next_day() {
    let mut s = state("paper");
    s.agents
        .iter_mut()
        .find(|a| a.uid == 1001)
        .unwrap()
        .max_proposals_per_day = 2;
    for _ in 0..2 {
        propose(
            &mut s,
            Source::Agent { uid: 1001 },
            ticket(Side::Buy, "1", "100.01"),
        );
    }
    assert_eq!(s.proposals.len(), 2);
    let fx = s.update(
        Msg::Propose {
            source: Source::Agent { uid: 1001 },
            ticket: ticket(Side::Buy, "1", "100.01"),
            note: String::new(),
        },
        t0(),
    );
    assert_eq!(kinds(&fx), ["proposal_refused!"]);
    assert_eq!(s.proposals.len(), 2);
    assert!(
        s.last_proposal_refusal
            .as_deref()
            .unwrap()
            .contains("max_proposals_per_day of 2")
    );
    // The trader and other agents are not affected; the next exchange day starts afresh.
    propose(
        &mut s,
        Source::Agent { uid: 1002 },
        ticket(Side::Buy, "1", "100.01"),
    );
    assert_eq!(s.proposals.len(), 3);
    let tomorrow = t0() + Duration::days(1);
    quote(&mut s, tomorrow);
    s.update(
        Msg::Propose {
            source: Source::Agent { uid: 1001 },
            ticket: ticket(Side::Buy, "1", "100.01"),
            note: String::new(),
        },
        tomorrow,
    );
    assert_eq!(s.proposals.len(), 4);
}
