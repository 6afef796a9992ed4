//! M3, frame cost: one whole screen drawn into a 200×50 `TestBackend` with 200 positions (each quoted),
//! 50 staged orders and 100 alerts — the diff a terminal would receive included (`Terminal::draw`). Two
//! cases: a steady frame (the same state again: ratatui diffs it to nothing) and a full repaint (the
//! buffers cleared first). Criterion gives the mean; a second pass times 5,000 frames each and prints
//! p50/p99/max (PERFORMANCE.md: p99 ≤ 2 ms, full repaint ≤ 3 ms). M6's full repaint: the bytes the terminal
//! receives for the same screen drawn on a blank one, through the crossterm backend and the cockpit's frame
//! writer (≤ 16 KB).
//!
//! Run: `cargo bench --bench frame`

#![expect(clippy::unwrap_used, clippy::print_stdout, reason = "a benchmark")]

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use cockpit::app::screen::{Keymap, Screen};
use cockpit::app::shell::profile_choices;
use cockpit::app::{BrokerEvent, BrokerPosition, Msg, Source, State};
use cockpit::config::Config;
use cockpit::domain::{
    Currency, Instrument, OrderTicket, OrderType, Price, Quantity, Quote, Severity, Side, Symbol, Tif,
};
use cockpit::ui::{self, History, Theme, View};
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::backend::{Backend, CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use rust_decimal::Decimal;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
}

fn config() -> Config {
    Config::parse(include_str!("../config.example.toml"), Path::new("x.toml")).unwrap()
}

/// 200 quoted positions, 50 staged orders, 100 alerts.
fn world() -> State {
    let config = config();
    let profile = config.profiles["paper"].clone();
    let account = profile.accounts[0].clone();
    let mut s = State::new(profile, config.agents.clone());
    s.update(Msg::Broker(BrokerEvent::Connected { next_valid_id: 1 }), t0());
    s.update(Msg::Broker(BrokerEvent::Reconciled), t0());
    let mut snapshot = BTreeMap::new();
    for i in 0..200_i64 {
        let name = format!("S{i:03}");
        let instrument = Instrument::stock(Symbol::parse(&name).unwrap(), Currency::USD, "NASDAQ");
        let bid = Price::new(Decimal::new(10_000 + i * 37, 2)).unwrap();
        let quote = Quote {
            bid: Some(bid),
            ask: Some(Price::new(bid.get() + Decimal::new(2, 2)).unwrap()),
            last: None,
            bid_size: None,
            ask_size: None,
            volume: None,
            received_at: t0(),
        };
        s.update(
            Msg::Broker(BrokerEvent::Quote {
                instrument: instrument.clone(),
                quote,
            }),
            t0(),
        );
        snapshot.insert(
            (account.clone(), instrument),
            BrokerPosition {
                quantity: Decimal::from(10 + i),
                average_cost: Some(Decimal::new(9_900 + i * 37, 2)),
            },
        );
    }
    s.update(
        Msg::Broker(BrokerEvent::PositionCheck { positions: snapshot }),
        t0(),
    );
    let aapl = Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ");
    for i in 0..50_i64 {
        let ticket = OrderTicket {
            account: account.clone(),
            instrument: aapl.clone(),
            side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
            quantity: Quantity::new(Decimal::from(1 + i)).unwrap(),
            order_type: OrderType::Limit,
            limit_price: Some(Price::new(Decimal::new(18_700 + i, 2)).unwrap()),
            stop_price: None,
            tif: Tif::Day,
            outside_rth: false,
        };
        s.update(
            Msg::Propose {
                source: Source::Agent { uid: 1001 },
                ticket,
                note: format!("idea number {i}"),
            },
            t0(),
        );
    }
    for i in 0..100 {
        s.update(
            Msg::Agent(cockpit::app::AgentMsg::Alert {
                uid: 1001,
                severity: if i % 3 == 0 {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                text: format!("alert {i}: spread widening on S{i:03}"),
            }),
            t0(),
        );
    }
    s
}

struct Rig {
    state: State,
    screen: Screen,
    theme: Theme,
    history: History,
    terminal: Terminal<TestBackend>,
}

impl Rig {
    fn new() -> Self {
        let state = world();
        let mut screen = Screen::new(Keymap::default(), profile_choices(&config(), "LIVE"), false);
        screen.sync(&state, t0());
        Self {
            state,
            screen,
            theme: Theme::named("dark", false, false).unwrap(),
            history: History::default(),
            terminal: Terminal::new(TestBackend::new(200, 50)).unwrap(),
        }
    }

    fn frame(&mut self, repaint: bool) {
        if repaint {
            self.terminal.clear().unwrap();
        }
        draw(
            &mut self.terminal,
            &self.state,
            &self.screen,
            &self.theme,
            &self.history,
        );
    }
}

fn draw<B: Backend>(
    terminal: &mut Terminal<B>,
    state: &State,
    screen: &Screen,
    theme: &Theme,
    history: &History,
) {
    let view = View {
        state,
        screen,
        theme,
        now: t0(),
        journal_head: "#42 9f3a0c1d",
        history,
        live_label: "LIVE",
    };
    terminal.draw(|f| ui::draw(f, &view)).unwrap();
}

/// Counts what it is given.
struct Counted(Rc<Cell<usize>>);

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.set(self.0.get() + buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// M6, full repaint: the bytes of the whole screen drawn on a blank one, as a terminal receives them.
fn repaint_bytes() {
    let rig = Rig::new();
    let bytes = Rc::new(Cell::new(0));
    let writer = cockpit::terminal::FrameWriter::new(Counted(Rc::clone(&bytes)));
    let options = TerminalOptions {
        viewport: Viewport::Fixed(Rect::new(0, 0, 200, 50)),
    };
    let mut terminal = Terminal::with_options(CrosstermBackend::new(writer), options).unwrap();
    // The first frame on a blank screen: every cell that is not blank is written, as after a clear or a
    // resize (ratatui's clear asks the terminal where its cursor is, which a counting writer cannot answer).
    draw(&mut terminal, &rig.state, &rig.screen, &rig.theme, &rig.history);
    let kb = f64::from(u32::try_from(bytes.get()).unwrap()) / 1e3;
    println!("full repaint: {kb:.1} KB to the terminal (M6 ≤ 16 KB)");
    println!(
        "ROW|M6|bytes to the terminal for a full repaint (200×50, 200 positions, 50 staged, 100 alerts)|≤ 16 KB|{kb:.1} KB"
    );
}

/// `cargo bench` passes `--bench`; under `cargo test` (a debug build) the percentile runs shrink to a smoke
/// test: 5,000 debug frames would cost the quick tier minutes.
fn frames() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        5_000
    } else {
        20
    }
}

fn percentiles(name: &str, repaint: bool) {
    let mut rig = Rig::new();
    let mut times: Vec<u128> = (0..frames())
        .map(|_| {
            let start = Instant::now();
            rig.frame(repaint);
            start.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    let at = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)];
    println!(
        "{name}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} frames",
        ms(at(50)),
        ms(at(99)),
        ms(*times.last().unwrap()),
        times.len()
    );
    let budget = if repaint { "≤ 3 ms" } else { "p99 ≤ 2 ms" };
    println!(
        "ROW|M3|{name} (200×50, 200 positions, 50 staged, 100 alerts): p50 / p99|{budget}|{:.3} / {:.3} ms",
        ms(at(50)),
        ms(at(99))
    );
}

#[expect(clippy::cast_precision_loss, reason = "display only")]
fn ms(nanos: u128) -> f64 {
    nanos as f64 / 1e6
}

fn bench(c: &mut Criterion) {
    let mut rig = Rig::new();
    c.bench_function("frame, steady (200 positions, 50 staged, 100 alerts)", |b| {
        b.iter(|| rig.frame(false));
    });
    c.bench_function("frame, full repaint", |b| b.iter(|| rig.frame(true)));
    percentiles("steady frame", false);
    percentiles("full repaint", true);
    repaint_bytes();
}

criterion_group!(benches, bench);
criterion_main!(benches);
