//! The crash harness's child (built only with the `failpoints` feature): a headless engine that stages and
//! approves orders as fast as the journal allows, handing each to a "broker" that is an append-only ledger
//! file, until it has sent `COUNT` orders (0: forever) — or until a failpoint (`COCKPIT_FAILPOINT`) aborts
//! it, or the harness kills it. On start it resolves every intent in doubt against the ledger, as the
//! broker adapter does against IB's open orders, before anything else is sent.
//!
//! Usage: `cockpit-crash-child STATE_DIR LEDGER COUNT`, or `cockpit-crash-child STATE_DIR --gateway PORT
//! COUNT` to trade through the real broker adapter against a simulator on 127.0.0.1:PORT (real time,
//! marketable limit orders at the simulator's ask; in-doubt intents resolved by the adapter at the gateway). Standard output: `intent ORDER_REF` once an order's
//! intent is durable, `done` at a clean end. Time is simulated: one second per order, starting past the duplicate
//! window after the journal's last record, so the policy's session and windows behave the same on every run.

#![allow(
    clippy::print_stderr,
    reason = "a test child reports to the harness on stderr"
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cockpit::app::{BrokerEvent, BrokerPort, Connection, Engine, Msg, PlaceOrder, Source, Stage};
use cockpit::broker::BrokerHandle;
use cockpit::config::Config;
use cockpit::domain::{
    AccountId, Currency, Instrument, OrderId, OrderStatus, OrderTicket, OrderType, Price, Quantity, Quote,
    Side, Symbol, Tif,
};
use cockpit::journal::Reader;
use cockpit::policy::Evidence;

/// The "broker": every order handed over is one line `ORDER_REF ORDER_ID`, written with one `write` to
/// a file opened for appending, so a kill after `place` returns cannot lose it.
#[derive(Debug)]
struct Ledger {
    file: std::fs::File,
}

impl BrokerPort for Ledger {
    fn place(&mut self, order: PlaceOrder) {
        let line = format!("{} {}\n", order.order_ref, order.order_id.get());
        if let Err(e) = self.file.write_all(line.as_bytes()) {
            // The harness checks the ledger against the journal; a lost line would be reported there.
            eprintln!("crash child: cannot write the ledger: {e}");
            std::process::abort();
        }
    }
    fn cancel(&mut self, _order_id: OrderId) {}
    fn global_cancel(&mut self) {}
    fn check_positions(&mut self) {}
}

/// The example config with limits wide enough that nothing but the crash harness stops the orders.
fn config() -> Result<Config, String> {
    let mut text = include_str!("../../config.example.toml").to_owned();
    for (from, to) in [
        ("always_open = false", "always_open = true"),
        ("max_position = \"2000\"", "max_position = \"1000000000\""),
        (
            "max_gross_exposure = \"250000.00\"",
            "max_gross_exposure = \"1000000000000.00\"",
        ),
        ("max_orders_per_day = 200", "max_orders_per_day = 1000000"),
        (
            "max_notional_per_day = \"500000.00\"",
            "max_notional_per_day = \"1000000000000.00\"",
        ),
        (
            "max_orders_per_symbol_per_day = 40",
            "max_orders_per_symbol_per_day = 1000000",
        ),
        ("max_orders_per_minute = 10", "max_orders_per_minute = 3000"),
    ] {
        if !text.contains(from) {
            return Err(format!("config.example.toml no longer has `{from}`"));
        }
        text = text.replacen(from, to, 1);
    }
    Config::parse(&text, Path::new("crash-child.toml")).map_err(|e| e.to_string())
}

fn instrument(i: u64) -> Instrument {
    let (symbol, exchange) = [("AAPL", "NASDAQ"), ("MSFT", "NASDAQ"), ("SPY", "ARCA")][(i % 3) as usize];
    Instrument::stock(
        Symbol::parse(symbol).unwrap_or_else(|_| unreachable!()),
        Currency::USD,
        exchange,
    )
}

fn quote(now: DateTime<Utc>) -> Quote {
    Quote {
        bid: Price::parse("100.00").ok(),
        ask: Price::parse("100.02").ok(),
        last: None,
        bid_size: None,
        ask_size: None,
        volume: None,
        received_at: now,
    }
}

/// Order `i`: BUY 1..=40 shares at 100.01, the quantity varying so that no two in a row are duplicates.
fn ticket(i: u64) -> Option<OrderTicket> {
    Some(OrderTicket {
        account: AccountId::parse("DU1234567").ok()?,
        instrument: instrument(i),
        side: Side::Buy,
        quantity: Quantity::parse(&(1 + i % 40).to_string()).ok()?,
        order_type: OrderType::Limit,
        limit_price: Price::parse("100.01").ok(),
        stop_price: None,
        tif: Tif::Day,
        outside_rth: false,
    })
}

/// What the broker adapter does after a restart: answers every order in doubt from the broker's memory
/// (here the ledger), then connects, reconciles and resumes.
async fn connect(e: &mut Engine<Ledger>, sent_before: &str, now: DateTime<Utc>) {
    // The broker's answer for every order in doubt: the ledger is the broker's memory.
    let doubtful: Vec<(OrderId, String)> = e
        .state()
        .in_doubt()
        .iter()
        .filter_map(|p| Some((p.order_id?, p.order_ref.clone()?)))
        .collect();
    for (order_id, order_ref) in doubtful {
        let known = sent_before
            .lines()
            .any(|l| l.split(' ').next() == Some(order_ref.as_str()));
        let status = known.then_some(OrderStatus::Submitted);
        e.handle(
            Msg::Broker(BrokerEvent::InDoubtResolved { order_id, status }),
            now,
        )
        .await;
    }
    e.handle(Msg::Broker(BrokerEvent::Connected { next_valid_id: 1 }), now)
        .await;
    e.handle(Msg::Broker(BrokerEvent::Reconciled), now).await;
    e.handle(
        Msg::Resume {
            typed: Some("RESUME".into()),
        },
        now,
    )
    .await;
}

async fn run(state_dir: PathBuf, ledger: PathBuf, count: u64) -> Result<(), String> {
    let config = config()?;
    let start = Reader::open(&state_dir)
        .ok()
        .and_then(|r| r.last_record().ok().flatten())
        .map_or_else(
            || Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).single(),
            |r| Some(r.at),
        )
        .ok_or("no start time")?;
    // Past the duplicate window of the last run's orders: each run starts its quantities again.
    let window = i64::from(config.profiles["paper"].policy.duplicate_window_secs);
    let mut now = start + Duration::seconds(window + 1);
    let sent_before = std::fs::read_to_string(&ledger).unwrap_or_default();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&ledger)
        .map_err(|e| format!("{}: {e}", ledger.display()))?;
    let mut e = Engine::start(
        &state_dir,
        config.profiles["paper"].clone(),
        config.agents.clone(),
        &config.hash,
        Ledger { file },
        now,
    )
    .await
    .map_err(|e| e.to_string())?;

    connect(&mut e, &sent_before, now).await;

    let mut out = std::io::stdout().lock();
    let mut i = 0;
    while count == 0 || i < count {
        now += Duration::seconds(1);
        let instrument = instrument(i);
        let ticket = ticket(i).ok_or("bad ticket")?;
        e.handle(
            Msg::Broker(BrokerEvent::Quote {
                instrument,
                quote: quote(now),
            }),
            now,
        )
        .await;
        let (_, order_ref) = stage_and_send(&mut e, ticket, now).await?;
        // Only said once it is true: the intent is durable (the order was handed over too).
        writeln!(out, "intent {order_ref}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        i += 1;
    }
    e.stop().await.map_err(|e| e.to_string())?;
    writeln!(out, "done").map_err(|e| e.to_string())?;
    Ok(())
}

/// Feeds the adapter's messages to the engine until `done` holds, for at most `within`: what is ready
/// at once (up to 256 messages) as one batch, its records committed together.
async fn pump(
    e: &mut Engine<BrokerHandle>,
    events: &mut tokio::sync::mpsc::Receiver<Msg>,
    within: std::time::Duration,
    done: impl Fn(&cockpit::app::State) -> bool,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + within;
    while !done(e.state()) {
        let msg = tokio::time::timeout_at(deadline, events.recv())
            .await
            .map_err(|_| {
                let alerts: Vec<&str> = e.state().alerts.iter().map(|a| a.text.as_str()).collect();
                format!(
                    "timed out; connection {}; alerts {alerts:?}",
                    e.state().connection
                )
            })?
            .ok_or("the adapter stopped")?;
        let mut batch = vec![msg];
        while batch.len() < 256
            && let Ok(msg) = events.try_recv()
        {
            batch.push(msg);
        }
        e.handle_all(batch, Utc::now()).await;
    }
    Ok(())
}

/// The trader stages `ticket` and confirms it at `now`; returns the proposal and its `orderRef` once its
/// intent is durable and the order handed to the broker port.
async fn stage_and_send<B: BrokerPort + std::fmt::Debug>(
    e: &mut Engine<B>,
    ticket: OrderTicket,
    now: DateTime<Utc>,
) -> Result<(cockpit::domain::ProposalId, String), String> {
    e.handle(
        Msg::Propose {
            source: Source::Trader,
            ticket,
            note: String::new(),
        },
        now,
    )
    .await;
    let Some((&id, p)) = e.state().proposals.last_key_value() else {
        return Err("no proposal".into());
    };
    let fingerprint = p.fingerprint.ok_or_else(|| refused(e.state(), p))?;
    e.handle(
        Msg::Approve {
            id,
            evidence: Evidence::Confirm(fingerprint),
        },
        now,
    )
    .await;
    let p = &e.state().proposals[&id];
    if p.stage != Stage::Sent {
        return Err(format!(
            "proposal {} is {} (trading {})",
            id.0,
            p.stage,
            e.state().trading.level()
        ));
    }
    Ok((id, p.order_ref.clone().unwrap_or_default()))
}

/// Why the proposal was refused, with the trading state's causes and the alerts, for the harness.
fn refused(s: &cockpit::app::State, p: &cockpit::app::Proposal) -> String {
    let causes: Vec<_> = s.trading.causes().collect();
    let alerts: Vec<&str> = s.alerts.iter().map(|a| a.text.as_str()).collect();
    format!(
        "refused: {:?}; causes {causes:?}; alerts {alerts:?}",
        p.violations
    )
}

/// The gateway mode: the engine trades through the broker adapter against the simulator at `port`.
async fn run_gateway(state_dir: PathBuf, port: u16, count: u64) -> Result<(), String> {
    let config = config()?;
    // Each order a new index across runs (the intents so far), so that none repeats within the
    // duplicate window in real time.
    let first: u64 = Reader::open(&state_dir)
        .and_then(|r| r.records(1))
        .map_or(0, |records| {
            records
                .iter()
                .filter(|r| r.kind == cockpit::journal::kinds::INTENT)
                .count() as u64
        });
    let mut profile = config.profiles["paper"].clone();
    profile.port = port;
    let (tx, mut events) = tokio::sync::mpsc::channel(4096);
    let cancel = tokio_util::sync::CancellationToken::new();
    let (handle, adapter) =
        cockpit::broker::spawn(cockpit::broker::Settings::of(&profile), tx, cancel.clone());
    let mut e = Engine::start(
        &state_dir,
        profile,
        config.agents.clone(),
        &config.hash,
        handle.clone(),
        Utc::now(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let in_doubt = cockpit::broker::InDoubt::all(e.state());
    handle.resolve(in_doubt);
    let within = std::time::Duration::from_secs(20);
    let instruments: Vec<Instrument> = (0..3).map(instrument).collect();
    pump(&mut e, &mut events, within, |s| {
        s.connection == Connection::Ready
            && s.in_doubt().is_empty()
            && instruments
                .iter()
                .all(|i| s.quotes.get(i).is_some_and(|q| q.ask.is_some()))
    })
    .await?;
    e.handle(
        Msg::Resume {
            typed: Some("RESUME".into()),
        },
        Utc::now(),
    )
    .await;
    let mut out = std::io::stdout().lock();
    let mut i = 0;
    while count == 0 || i < count {
        let mut ticket = ticket(first + i).ok_or("bad ticket")?;
        ticket.limit_price = e.state().quotes.get(&ticket.instrument).and_then(|q| q.ask);
        let (id, order_ref) = stage_and_send(&mut e, ticket, Utc::now()).await?;
        writeln!(out, "intent {order_ref}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        // Until the gateway has it: each order is acknowledged before the next.
        pump(&mut e, &mut events, within, |s| {
            s.proposals[&id].broker_status != Some(OrderStatus::PendingSubmit)
        })
        .await?;
        i += 1;
    }
    e.stop().await.map_err(|e| e.to_string())?;
    cancel.cancel();
    let _ = adapter.await;
    writeln!(out, "done").map_err(|e| e.to_string())?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (state_dir, ledger, count, gateway) = match args.as_slice() {
        [state_dir, flag, port, count] if flag == "--gateway" => (state_dir, None, count, port.parse().ok()),
        [state_dir, ledger, count] => (state_dir, Some(ledger), count, None),
        _ => {
            eprintln!("usage: cockpit-crash-child STATE_DIR (LEDGER | --gateway PORT) COUNT");
            return ExitCode::from(2);
        }
    };
    let Ok(count) = count.parse() else {
        eprintln!("crash child: COUNT must be a whole number, not {count:?}");
        return ExitCode::from(2);
    };
    // Warnings (a failed connect, a dropped order) go to stderr, which the harness shows on failure.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("crash child: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match (ledger, gateway) {
        (Some(ledger), _) => runtime.block_on(run(state_dir.into(), ledger.into(), count)),
        (None, Some(port)) => runtime.block_on(run_gateway(state_dir.into(), port, count)),
        (None, None) => Err("--gateway needs a port number".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash child: {e}");
            ExitCode::FAILURE
        }
    }
}
