//! What the trader's keys do, through the screen and `State::update`: approving twice sends once, a live
//! order needs its typed read-back, a stale quote or a quote that moved beyond the tolerance refuses, an
//! edit beyond a limit cannot be submitted, a profile switch voids staged orders, acknowledging never
//! resumes, keys right after a change under the trader are discarded, and the selection follows the id.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::app::{BrokerEvent, Effect, End, Source};
use crate::config::Config;
use crate::domain::{
    AccountId, Currency, Instrument, OrderTicket, OrderType, Price, Quantity, Quote, Side, Symbol, Tif,
};
use crate::policy::Level;

/// Tuesday 2026-11-24 10:00 in New York: inside the example's session.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

fn later(ms: i64) -> DateTime<Utc> {
    t0() + Duration::milliseconds(ms)
}

fn aapl() -> Instrument {
    Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ")
}

fn ticket(account: &str, qty: &str, limit: &str) -> OrderTicket {
    OrderTicket {
        account: AccountId::parse(account).unwrap(),
        instrument: aapl(),
        side: Side::Buy,
        quantity: Quantity::parse(qty).unwrap(),
        order_type: OrderType::Limit,
        limit_price: Some(Price::parse(limit).unwrap()),
        stop_price: None,
        tif: Tif::Day,
        outside_rth: false,
    }
}

fn config() -> Config {
    Config::parse(include_str!("../../../config.example.toml"), Path::new("x.toml")).unwrap()
}

fn quote(s: &mut State, bid: &str, ask: &str, at: DateTime<Utc>) {
    let q = Quote {
        bid: Some(Price::parse(bid).unwrap()),
        ask: Some(Price::parse(ask).unwrap()),
        last: None,
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

/// The example's `profile`, connected and reconciled, with a fresh AAPL quote at 100.00/100.02.
fn state(profile: &str) -> State {
    let config = config();
    let mut s = State::new(config.profiles[profile].clone(), config.agents.clone());
    s.update(Msg::Broker(BrokerEvent::Connected { next_valid_id: 1000 }), t0());
    s.update(Msg::Broker(BrokerEvent::Reconciled), t0());
    assert_eq!(s.trading.level(), Level::Active);
    quote(&mut s, "100.00", "100.02", t0());
    s
}

fn screen() -> Screen {
    let choices = crate::app::shell::profile_choices(&config(), "LIVE");
    Screen::new(Keymap::default(), choices, true)
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn press(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Feeds the screen's commands to the state as the engine would (a committed intent comes back as
/// `IntentCommitted`); returns every effect.
fn run(s: &mut State, commands: Vec<Command>, now: DateTime<Utc>) -> Vec<Effect> {
    let mut effects = Vec::new();
    let mut inbox: std::collections::VecDeque<Msg> = commands
        .into_iter()
        .filter_map(|c| match c {
            Command::Core(msg) => Some(msg),
            _ => None,
        })
        .collect();
    while let Some(msg) = inbox.pop_front() {
        for effect in s.update(msg, now) {
            if let Effect::Journal(r) = &effect
                && r.kind == crate::journal::kinds::INTENT
                && let Some(id) = r.data["proposal"].as_u64()
            {
                inbox.push_back(Msg::IntentCommitted { id: ProposalId(id) });
            }
            effects.push(effect);
        }
    }
    effects
}

/// One key through the screen and its commands through the state.
fn step(s: &mut State, sc: &mut Screen, k: KeyEvent, now: DateTime<Utc>) -> Vec<Effect> {
    let commands = sc.key(k, s, now);
    run(s, commands, now)
}

fn places(effects: &[Effect]) -> usize {
    effects.iter().filter(|e| matches!(e, Effect::Place(_))).count()
}

/// Stages `t` as the trader, syncs the screen at `now` and returns the new proposal's id.
fn stage(s: &mut State, sc: &mut Screen, t: OrderTicket, now: DateTime<Utc>) -> ProposalId {
    s.update(
        Msg::Propose {
            source: Source::Trader,
            ticket: t,
            note: String::new(),
        },
        now,
    );
    sc.sync(s, now);
    *s.proposals.keys().last().unwrap()
}

/// Types `text` into the open dialog, one key at a time.
fn type_text(sc: &mut Screen, s: &State, text: &str, now: DateTime<Utc>) {
    for c in text.chars() {
        assert!(sc.key(key(c), s, now).is_empty(), "typing sends nothing");
    }
}

#[test]
fn approving_twice_sends_once() {
    let (mut s, mut sc) = (state("paper"), screen());
    let id = stage(&mut s, &mut sc, ticket("DU1234567", "10", "100.01"), t0());
    assert_eq!(sc.staged, Some(id));
    let at = later(400);
    assert!(sc.key(key('a'), &s, at).is_empty());
    assert!(matches!(sc.dialog, Some(Dialog::Confirm(_))), "{:?}", sc.dialog);
    let sent = step(&mut s, &mut sc, key('y'), at);
    assert_eq!(places(&sent), 1);
    assert!(sc.dialog.is_none());
    // The second `a` finds the order approved: a note, and nothing more to send.
    sc.sync(&s, at);
    assert!(sc.key(key('a'), &s, later(800)).is_empty());
    assert!(matches!(sc.dialog, Some(Dialog::Refused { .. })));
    let again = step(&mut s, &mut sc, key('y'), later(900));
    assert_eq!(places(&again), 0);
    assert!(
        matches!(sc.dialog, Some(Dialog::Refused { .. })),
        "stays until Esc"
    );
    sc.key(press(KeyCode::Esc), &s, later(1000));
    assert!(sc.dialog.is_none());
}

#[test]
fn a_live_order_needs_the_typed_read_back() {
    let (mut s, mut sc) = (state("live"), screen());
    // Above the live profile's live_typed_quantity (50).
    let id = stage(&mut s, &mut sc, ticket("U1234567", "60", "100.01"), t0());
    let at = later(400);
    sc.key(key('a'), &s, at);
    let Some(Dialog::Typed { read_back, .. }) = &sc.dialog else {
        panic!("a live order is typed: {:?}", sc.dialog);
    };
    let read_back = read_back.clone();
    assert!(
        sc.key(key('y'), &s, at).is_empty(),
        "y is typed text here, not a confirm"
    );
    // A wrong read-back is refused by the core: nothing sent, the reason shown by the shell.
    type_text(&mut sc, &s, "ES 60 AAPL", at);
    let wrong = step(&mut s, &mut sc, press(KeyCode::Enter), at);
    assert_eq!(places(&wrong), 0);
    assert!(s.last_refusal.as_ref().is_some_and(|(p, _)| *p == id));
    sc.key(key('a'), &s, later(500));
    type_text(&mut sc, &s, &read_back, later(500));
    let sent = step(&mut s, &mut sc, press(KeyCode::Enter), later(500));
    assert_eq!(places(&sent), 1);
}

#[test]
fn a_stale_quote_refuses_with_the_reason() {
    let (mut s, mut sc) = (state("paper"), screen());
    stage(&mut s, &mut sc, ticket("DU1234567", "10", "100.01"), t0());
    let late = t0() + Duration::seconds(60);
    sc.key(key('a'), &s, late);
    let Some(Dialog::Refused { lines, .. }) = &sc.dialog else {
        panic!("{:?}", sc.dialog);
    };
    assert!(lines.iter().any(|l| l.starts_with("NO_QUOTE")), "{lines:?}");
    assert!(
        step(&mut s, &mut sc, key('y'), late).is_empty(),
        "the refusal takes every key"
    );
}

#[test]
fn a_quote_move_within_the_tolerance_approves_and_beyond_it_refuses() {
    let (mut s, mut sc) = (state("paper"), screen());
    stage(&mut s, &mut sc, ticket("DU1234567", "10", "100.50"), t0());
    sc.key(key('a'), &s, later(400));
    quote(&mut s, "100.30", "100.32", later(450)); // mid 100.01 → 100.31: 0.3 %, inside 0.5 %
    assert_eq!(places(&step(&mut s, &mut sc, key('y'), later(500))), 1);

    let id = stage(&mut s, &mut sc, ticket("DU1234567", "11", "101.00"), later(600));
    sc.staged = Some(id);
    sc.key(key('a'), &s, later(1000));
    quote(&mut s, "101.00", "101.02", later(1050)); // 100.31 → 101.01: 0.7 %
    let effects = step(&mut s, &mut sc, key('y'), later(1100));
    assert_eq!(places(&effects), 0);
    let Some(Dialog::Refused { lines, .. }) = &sc.dialog else {
        panic!("{:?}", sc.dialog);
    };
    assert!(lines[0].contains("quote moved"), "{lines:?}");
}

#[test]
fn an_edit_beyond_a_limit_cannot_be_submitted() {
    let (mut s, mut sc) = (state("paper"), screen());
    let id = stage(&mut s, &mut sc, ticket("DU1234567", "10", "100.01"), t0());
    sc.key(key('e'), &s, later(400));
    assert!(matches!(sc.dialog, Some(Dialog::Form(_))));
    // The quantity field is focused: make it 100000 (above max_order_quantity).
    for _ in 0..2 {
        sc.key(press(KeyCode::Backspace), &s, later(400));
    }
    type_text(&mut sc, &s, "100000", later(400));
    assert!(
        sc.key(press(KeyCode::Enter), &s, later(400)).is_empty(),
        "not submitted"
    );
    let Some(Dialog::Form(form)) = &sc.dialog else {
        panic!()
    };
    assert!(
        form.problems.iter().any(|p| p.starts_with("QUANTITY")),
        "{:?}",
        form.problems
    );
    // Within the limit, it is a new version awaiting approval.
    for _ in 0..6 {
        sc.key(press(KeyCode::Backspace), &s, later(400));
    }
    type_text(&mut sc, &s, "12", later(400));
    let commands = sc.key(press(KeyCode::Enter), &s, later(400));
    run(&mut s, commands, later(400));
    assert_eq!(s.proposals[&id].version, 2);
    assert_eq!(s.proposals[&id].ticket.quantity, Quantity::parse("12").unwrap());
}

#[test]
fn a_profile_switch_to_live_needs_the_account_and_voids_staged_orders() {
    let (mut s, mut sc) = (state("paper"), screen());
    let id = stage(&mut s, &mut sc, ticket("DU1234567", "10", "100.01"), t0());
    let at = later(400);
    sc.key(key('p'), &s, at);
    let Some(Dialog::Profiles { choices, .. }) = &sc.dialog else {
        panic!()
    };
    let live = choices.iter().position(|c| c.name == "live").unwrap();
    sc.dialog = Some(Dialog::Profiles {
        choices: choices.clone(),
        at: live,
    });
    sc.key(press(KeyCode::Enter), &s, at);
    assert!(matches!(sc.dialog, Some(Dialog::EnterLive { .. })));
    type_text(&mut sc, &s, "U7654321", at);
    assert!(
        sc.key(press(KeyCode::Enter), &s, at).is_empty(),
        "a wrong account switches nothing"
    );
    sc.key(press(KeyCode::Esc), &s, at);
    sc.key(key('p'), &s, at);
    sc.dialog = Some(Dialog::Profiles {
        choices: sc.profiles.clone(),
        at: live,
    });
    sc.key(press(KeyCode::Enter), &s, at);
    type_text(&mut sc, &s, "U1234567", at);
    let commands = sc.key(press(KeyCode::Enter), &s, at);
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::Switch { to, cancel_working: false } if to == "live"))
    );
    // What the shell does first: void the staged orders (journaled).
    let effects = s.update(
        Msg::Void {
            reason: "switch".into(),
        },
        at,
    );
    assert_eq!(s.proposals[&id].stage, Stage::Done(End::Voided));
    assert!(!effects.is_empty(), "journaled");
}

#[test]
fn a_switch_with_working_orders_asks_to_cancel_or_keep_them() {
    let (mut s, mut sc) = (state("paper"), screen());
    stage(&mut s, &mut sc, ticket("DU1234567", "10", "100.01"), t0());
    sc.key(key('a'), &s, later(400));
    let effects = step(&mut s, &mut sc, key('y'), later(400));
    assert_eq!(places(&effects), 1);
    let id = *s.proposals.keys().last().unwrap();
    s.update(Msg::IntentCommitted { id }, later(400));
    sc.key(key('p'), &s, later(800));
    let dry = sc.profiles.iter().position(|c| c.name == "dry-run").unwrap();
    sc.dialog = Some(Dialog::Profiles {
        choices: sc.profiles.clone(),
        at: dry,
    });
    assert!(sc.key(press(KeyCode::Enter), &s, later(800)).is_empty());
    assert!(
        matches!(sc.dialog, Some(Dialog::Working { count: 1, .. })),
        "{:?}",
        sc.dialog
    );
    let commands = sc.key(key('c'), &s, later(800));
    assert!(commands.iter().any(|c| matches!(
        c,
        Command::Switch {
            cancel_working: true,
            ..
        }
    )));
    let cancels = s.update(Msg::CancelWorking { why: "switch".into() }, later(800));
    assert!(cancels.iter().any(|e| matches!(e, Effect::Cancel { .. })));
    assert_eq!(
        s.trading.level(),
        Level::Active,
        "cancelling for a switch does not halt"
    );
}

#[test]
fn acknowledging_an_alert_never_resumes() {
    let (mut s, mut sc) = (state("paper"), screen());
    s.update(Msg::KillSwitch, t0());
    assert_eq!(s.trading.level(), Level::Halted);
    sc.sync(&s, t0());
    sc.focus = Pane::Alerts;
    let commands = sc.key(key('A'), &s, later(400));
    run(&mut s, commands, later(400));
    assert!(s.alerts.iter().any(|a| a.acknowledged));
    assert_eq!(s.trading.level(), Level::Halted);
    // K when halted: the causes cleared by a typed RESUME.
    sc.key(key('K'), &s, later(500));
    assert!(
        matches!(sc.dialog, Some(Dialog::Resume { typed: true, .. })),
        "{:?}",
        sc.dialog
    );
    type_text(&mut sc, &s, "RESUME", later(500));
    step(&mut s, &mut sc, press(KeyCode::Enter), later(500));
    assert_eq!(s.trading.level(), Level::Active);
}

#[test]
fn keys_right_after_a_change_under_the_trader_are_discarded_and_journaled() {
    let (mut s, mut sc) = (state("paper"), screen());
    stage(&mut s, &mut sc, ticket("DU1234567", "10", "100.01"), t0());
    // An order appeared under the cursor at t0: an `a` 100 ms later is discarded.
    let commands = sc.key(key('a'), &s, later(100));
    let [Command::Core(Msg::Screen { action, .. })] = commands.as_slice() else {
        panic!("{commands:?}");
    };
    assert_eq!(*action, "key_discarded");
    assert!(sc.dialog.is_none());
    assert!(sc.key(key('a'), &s, later(301)).is_empty());
    assert!(matches!(sc.dialog, Some(Dialog::Confirm(_))));
}

#[test]
fn the_selection_follows_the_proposal_not_the_row() {
    let (mut s, mut sc) = (state("paper"), screen());
    let first = stage(&mut s, &mut sc, ticket("DU1234567", "10", "100.01"), t0());
    let second = stage(&mut s, &mut sc, ticket("DU1234567", "11", "100.01"), t0());
    sc.key(key('j'), &s, later(400));
    assert_eq!(sc.staged, Some(second));
    s.update(
        Msg::Reject {
            id: first,
            reason: "no".into(),
        },
        later(500),
    );
    sc.sync(&s, later(500));
    assert_eq!(
        sc.staged,
        Some(second),
        "the row above went; the cursor stays on its order"
    );
    assert!(
        !sc.in_discard_window(later(600)),
        "nothing moved under the trader"
    );
    // The selected order gets a new version: keys are held back for a moment.
    s.update(
        Msg::Edit {
            id: second,
            ticket: ticket("DU1234567", "12", "100.01"),
        },
        later(600),
    );
    sc.sync(&s, later(600));
    assert!(sc.in_discard_window(later(700)));
    assert!(!sc.in_discard_window(later(900)));
}

#[test]
fn an_approval_dialog_is_withdrawn_when_its_order_changes() {
    let (mut s, mut sc) = (state("paper"), screen());
    let id = stage(&mut s, &mut sc, ticket("DU1234567", "10", "100.01"), t0());
    sc.key(key('a'), &s, later(400));
    s.update(
        Msg::Edit {
            id,
            ticket: ticket("DU1234567", "30", "100.01"),
        },
        later(450),
    );
    sc.sync(&s, later(450));
    let Some(Dialog::Refused { lines, .. }) = &sc.dialog else {
        panic!("{:?}", sc.dialog);
    };
    assert!(lines[0].contains("changed"), "{lines:?}");
    let effects = step(&mut s, &mut sc, key('y'), later(900));
    assert_eq!(places(&effects), 0);
}

#[test]
fn the_kill_switch_needs_a_confirm_and_global_cancel_its_typed_words() {
    let (mut s, mut sc) = (state("paper"), screen());
    sc.key(key('K'), &s, t0());
    assert!(matches!(sc.dialog, Some(Dialog::KillSwitch)));
    sc.key(key('g'), &s, t0());
    type_text(&mut sc, &s, "CANCEL AL", t0());
    assert!(
        sc.key(press(KeyCode::Enter), &s, t0()).is_empty(),
        "not the words: nothing"
    );
    sc.key(press(KeyCode::Esc), &s, t0());
    sc.key(key('K'), &s, t0());
    let effects = step(&mut s, &mut sc, key('y'), t0());
    assert_eq!(s.trading.level(), Level::Halted);
    assert!(effects.iter().any(|e| matches!(e, Effect::Journal(_))));
}

#[test]
fn quit_asks_only_when_orders_are_in_flight() {
    let (mut s, mut sc) = (state("paper"), screen());
    assert!(matches!(sc.key(key('q'), &s, t0()).as_slice(), [Command::Quit]));
    stage(&mut s, &mut sc, ticket("DU1234567", "10", "100.01"), t0());
    sc.key(key('a'), &s, later(400));
    step(&mut s, &mut sc, key('y'), later(400));
    assert!(sc.key(key('q'), &s, later(900)).is_empty());
    assert!(matches!(sc.dialog, Some(Dialog::Quit { in_flight: 1 })));
    assert!(matches!(
        sc.key(key('y'), &s, later(900)).as_slice(),
        [Command::Quit]
    ));
}

#[test]
fn a_new_ticket_goes_through_the_same_policy() {
    let (mut s, mut sc) = (state("paper"), screen());
    sc.key(key('n'), &s, t0());
    type_text(&mut sc, &s, "aapl", t0());
    for _ in 0..2 {
        sc.key(press(KeyCode::Tab), &s, t0());
    }
    type_text(&mut sc, &s, "5", t0());
    for _ in 0..2 {
        sc.key(press(KeyCode::Tab), &s, t0());
    }
    type_text(&mut sc, &s, "100.01", t0());
    let commands = sc.key(press(KeyCode::Enter), &s, t0());
    assert!(
        matches!(commands.as_slice(), [Command::Core(Msg::Propose { .. })]),
        "{commands:?}"
    );
    run(&mut s, commands, t0());
    let p = s.proposals.values().last().unwrap();
    assert_eq!(p.stage, Stage::AwaitingApproval);
    assert_eq!(p.ticket.instrument, aapl());
    // A symbol outside the allowlist is named and cannot be submitted.
    sc.key(key('n'), &s, later(400));
    type_text(&mut sc, &s, "TSLA", later(400));
    assert!(sc.key(press(KeyCode::Enter), &s, later(400)).is_empty());
    let Some(Dialog::Form(form)) = &sc.dialog else {
        panic!()
    };
    assert!(
        form.problems
            .iter()
            .any(|p| p.contains("TSLA is not in this profile's symbol allowlist"))
    );
}
