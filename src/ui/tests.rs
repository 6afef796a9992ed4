//! Whole screens drawn into a `TestBackend` with a fixed clock and state, compared with insta snapshots
//! (`src/ui/snapshots/`): paper, live, the confirm and typed read-back dialogs, the edit form,
//! disconnected, halted, help, 80×24 and too small. Buffer tests check what colour alone must never say.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Modifier;
use rust_decimal::Decimal;

use super::*;
use crate::app::screen::Keymap;
use crate::app::{BrokerEvent, Msg, Source, State};
use crate::config::Config;
use crate::domain::{
    Currency, Instrument, OrderTicket, OrderType, Price, Quantity, Quote, Side, Symbol, Tif,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

fn config() -> Config {
    Config::parse(include_str!("../../config.example.toml"), Path::new("x.toml")).unwrap()
}

fn instrument(symbol: &str, exchange: &str) -> Instrument {
    Instrument::stock(Symbol::parse(symbol).unwrap(), Currency::USD, exchange)
}

/// A connected, reconciled `profile` with two positions, quotes, account values, a staged order and an
/// alert.
/// The read-level watcher: a session, a read, and a recommend it was refused.
fn watcher(s: &mut State) {
    s.update(
        Msg::Agent(crate::app::AgentMsg::Session {
            uid: 1003,
            label: "demo-watcher".into(),
            same_uid: false,
            open: true,
        }),
        t0(),
    );
    for (tool, error, answer) in [
        ("get_quote", false, serde_json::json!({})),
        (
            "recommend",
            true,
            serde_json::json!({"error": "recommend needs the prepare level; watcher has read on profile paper"}),
        ),
    ] {
        s.update(
            Msg::Agent(crate::app::AgentMsg::Call {
                uid: 1003,
                peer_uid: 1003,
                label: "demo-watcher".into(),
                tool: tool.into(),
                arguments: serde_json::json!({}),
                error,
                answer,
            }),
            t0() - chrono::Duration::seconds(3),
        );
    }
}

fn state(profile: &str) -> State {
    let config = config();
    let p = config.profiles[profile].clone();
    let account = p.accounts[0].clone();
    let mut s = State::new(p, config.agents.clone());
    s.update(Msg::Broker(BrokerEvent::Connected { next_valid_id: 1000 }), t0());
    s.update(Msg::Broker(BrokerEvent::Reconciled), t0());
    watcher(&mut s);
    let mut snapshot = std::collections::BTreeMap::new();
    for (symbol, exchange, bid, qty) in [
        ("AAPL", "NASDAQ", "232.40", "200"),
        ("SPY", "ARCA", "598.70", "-40"),
    ] {
        let bid = Price::parse(bid).unwrap();
        let ask = Price::new(bid.get() + Decimal::new(2, 2)).unwrap();
        let quote = Quote {
            bid: Some(bid),
            ask: Some(ask),
            last: None,
            bid_size: None,
            ask_size: None,
            volume: None,
            received_at: t0(),
        };
        let instrument = instrument(symbol, exchange);
        s.update(
            Msg::Broker(BrokerEvent::Quote {
                instrument: instrument.clone(),
                quote,
            }),
            t0(),
        );
        snapshot.insert(
            (account.clone(), instrument),
            cockpit_position(qty.parse().unwrap()),
        );
    }
    s.update(
        Msg::Broker(BrokerEvent::PositionCheck { positions: snapshot }),
        t0(),
    );
    for (tag, value) in [
        ("NetLiquidation", "1004911.40"),
        ("TotalCashValue", "884458.50"),
        ("BuyingPower", "3748881.40"),
        ("ExcessLiquidity", "971065.88"),
        ("Cushion", "0.966"),
        ("InitMarginReq", "67691.05"),
        ("MaintMarginReq", "33845.52"),
    ] {
        s.update(
            Msg::Broker(BrokerEvent::AccountValue {
                account: account.clone(),
                tag: tag.into(),
                value: value.parse().unwrap(),
            }),
            t0(),
        );
    }
    let ticket = OrderTicket {
        account,
        instrument: instrument("AAPL", "NASDAQ"),
        side: Side::Buy,
        quantity: Quantity::parse("60").unwrap(),
        order_type: OrderType::Limit,
        limit_price: Some(Price::parse("232.50").unwrap()),
        stop_price: None,
        tif: Tif::Day,
        outside_rth: false,
    };
    s.update(
        Msg::Propose {
            source: Source::Agent { uid: 1002 },
            ticket,
            note: "rebalance toward target weight\u{1b}[31m".into(),
        },
        t0(),
    );
    s
}

fn cockpit_position(quantity: Decimal) -> crate::app::BrokerPosition {
    crate::app::BrokerPosition {
        quantity,
        average_cost: Some(Decimal::new(21_840, 2)),
    }
}

fn screen(s: &State) -> Screen {
    let mut screen = Screen::new(
        Keymap::default(),
        crate::app::shell::profile_choices(&config(), "LIVE"),
        true,
    );
    screen.sync(s, t0());
    screen
}

fn render(s: &State, screen: &Screen, theme: &Theme, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let history = History::default();
    let view = View {
        state: s,
        screen,
        theme,
        now: t0() + chrono::Duration::seconds(2),
        journal_head: "#42 9f3a0c1d",
        history: &history,
        live_label: "LIVE",
    };
    terminal.draw(|f| draw(f, &view)).unwrap();
    terminal
}

fn text(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let width = usize::from(buffer.area.width);
    buffer
        .content
        .chunks(width)
        .map(|row| {
            row.iter()
                .map(ratatui::buffer::Cell::symbol)
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn dark() -> Theme {
    Theme::named("dark", false, false).unwrap()
}

fn snap(name: &str, s: &State, screen: &Screen, width: u16, height: u16) {
    insta::assert_snapshot!(name, text(&render(s, screen, &dark(), width, height)));
}

fn press(screen: &mut Screen, s: &State, code: KeyCode) {
    screen.key(
        KeyEvent::new(code, KeyModifiers::NONE),
        s,
        t0() + chrono::Duration::seconds(1),
    );
}

#[test]
fn paper() {
    let s = state("paper");
    snap("paper", &s, &screen(&s), 120, 36);
}

#[test]
fn paper_at_80x24() {
    let s = state("paper");
    snap("paper_80x24", &s, &screen(&s), 80, 24);
}

#[test]
fn live_with_the_typed_read_back() {
    let s = state("live");
    let mut sc = screen(&s);
    snap("live", &s, &sc, 120, 36);
    press(&mut sc, &s, KeyCode::Char('a'));
    snap("live_typed", &s, &sc, 120, 36);
}

#[test]
fn confirm_edit_and_help() {
    let mut s = state("paper");
    // 10 shares: below the typed threshold, a confirm.
    let id = *s.proposals.keys().next().unwrap();
    let mut t = s.proposals[&id].ticket.clone();
    t.quantity = Quantity::parse("10").unwrap();
    s.update(Msg::Edit { id, ticket: t }, t0());
    let mut sc = screen(&s);
    press(&mut sc, &s, KeyCode::Char('a'));
    snap("confirm", &s, &sc, 120, 36);
    press(&mut sc, &s, KeyCode::Esc);
    press(&mut sc, &s, KeyCode::Char('e'));
    snap("edit", &s, &sc, 120, 36);
    press(&mut sc, &s, KeyCode::Esc);
    press(&mut sc, &s, KeyCode::Char('?'));
    snap("help", &s, &sc, 120, 36);
}

#[test]
fn disconnected_and_halted() {
    let mut s = state("paper");
    s.update(Msg::Broker(BrokerEvent::Disconnected), t0());
    s.update(
        Msg::Broker(BrokerEvent::Connection(crate::app::Connection::Reconnecting {
            attempt: 2,
            next_try_secs: 3,
        })),
        t0(),
    );
    snap("disconnected", &s, &screen(&s), 120, 36);
    s.update(Msg::KillSwitch, t0());
    snap("halted", &s, &screen(&s), 120, 36);
}

#[test]
fn too_small_says_so() {
    let s = state("paper");
    let out = text(&render(&s, &screen(&s), &dark(), 50, 12));
    assert!(out.contains("terminal too small: 50×12"), "{out}");
}

#[test]
fn agent_text_is_drawn_inert() {
    let s = state("paper");
    let out = text(&render(&s, &screen(&s), &dark(), 120, 36));
    assert!(!out.contains('\u{1b}'));
    assert!(
        out.contains("\\u{001b}[31m"),
        "the escape is shown, not obeyed: {out}"
    );
}

#[test]
fn the_live_banner_is_text_and_reverse_video_even_without_colour() {
    let s = state("live");
    let theme = Theme::named("dark", true, false).unwrap();
    let terminal = render(&s, &screen(&s), &theme, 120, 36);
    let buffer = terminal.backend().buffer();
    let out = text(&terminal);
    let line = out.lines().nth(1).unwrap();
    let at = line.find(" LIVE ").expect("the banner says LIVE");
    let x = u16::try_from(line[..at].chars().count() + 1).unwrap();
    let cell = &buffer[(x, 1)];
    assert!(cell.modifier.contains(Modifier::REVERSED), "{cell:?}");
    assert_eq!(cell.fg, ratatui::style::Color::Reset, "no colour under NO_COLOR");
    assert!(
        out.lines().next().unwrap().starts_with("╭ LIVE"),
        "the live border: {out}"
    );
}

#[test]
fn ascii_borders_have_no_box_drawing() {
    let s = state("paper");
    let theme = Theme::named("dark", false, true).unwrap();
    let out = text(&render(&s, &screen(&s), &theme, 120, 36));
    assert!(
        out.contains("+ > Staged Orders") || out.contains("+ ▶ Staged Orders"),
        "{out}"
    );
    assert!(!out.contains('╭') && !out.contains('│'));
}
