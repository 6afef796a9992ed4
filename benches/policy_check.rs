//! `policy::check` on a busy context: the example config, 3 allowlisted symbols plus 20 other positions,
//! 30 working orders, 50 recent submissions, fresh quotes for all. Criterion measures the mean; a second
//! pass times 200,000 single calls and prints p50/p99/max (PERFORMANCE.md budget: p99 <= 10 us).
//!
//! Run: `cargo bench --bench policy_check`

#![expect(clippy::unwrap_used, clippy::print_stdout, reason = "a benchmark")]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use cockpit::config::Config;
use cockpit::domain::{
    AccountId, Currency, Instrument, OrderTicket, OrderType, Price, Quantity, Quote, Side, Symbol, Tif,
};
use cockpit::policy::{
    Context, DailyCounters, Requester, Submitted, TradingState, UnapprovedSpend, WorkingOrder, check,
};
use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;

struct World {
    config: Config,
    positions: BTreeMap<(AccountId, Instrument), Decimal>,
    working: Vec<WorkingOrder>,
    recent: Vec<Submitted>,
    unapproved: Vec<UnapprovedSpend>,
    quotes: BTreeMap<Instrument, Quote>,
    counters: DailyCounters,
    trading: TradingState,
}

fn stock(symbol: &str, exchange: &str) -> Instrument {
    Instrument::stock(Symbol::parse(symbol).unwrap(), Currency::USD, exchange)
}

fn price(text: &str) -> Price {
    Price::parse(text).unwrap()
}

fn world() -> World {
    let text = include_str!("../config.example.toml");
    let config = Config::parse(text, Path::new("config.example.toml")).unwrap();
    let account = AccountId::parse("DU1234567").unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
    let mut instruments = vec![
        stock("AAPL", "NASDAQ"),
        stock("MSFT", "NASDAQ"),
        stock("SPY", "ARCA"),
    ];
    instruments.extend((0..20).map(|i| stock(&format!("X{i}"), "NYSE")));
    let quote = Quote {
        bid: Some(price("99.98")),
        ask: Some(price("100.02")),
        last: Some(price("100.00")),
        bid_size: None,
        ask_size: None,
        volume: None,
        received_at: now,
    };
    let quotes = instruments.iter().map(|i| (i.clone(), quote.clone())).collect();
    let positions = instruments
        .iter()
        .map(|i| ((account.clone(), i.clone()), Decimal::from(10)))
        .collect();
    let working = (0..30)
        .map(|i| WorkingOrder {
            account: account.clone(),
            instrument: instruments[i % instruments.len()].clone(),
            side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
            remaining: Quantity::parse("5").unwrap(),
            order_type: OrderType::Limit,
            limit_price: Some(price("99.50")),
            stop_price: None,
        })
        .collect();
    let recent = (0..50_i64)
        .map(|i| Submitted {
            account: account.clone(),
            instrument: instruments[usize::try_from(i).unwrap() % 3].clone(),
            side: Side::Buy,
            quantity: Quantity::parse("7").unwrap(),
            order_type: OrderType::Limit,
            limit_price: Some(price("99.00")),
            stop_price: None,
            at: now - chrono::Duration::seconds(i * 30),
        })
        .collect();
    let unapproved = (0..10_i64)
        .map(|i| UnapprovedSpend {
            agent: "rebalancer".into(),
            instrument: instruments[0].clone(),
            notional: Decimal::from(100),
            at: now - chrono::Duration::seconds(i * 60),
        })
        .collect();
    World {
        config,
        positions,
        working,
        recent,
        unapproved,
        quotes,
        counters: DailyCounters {
            orders: 12,
            notional: Decimal::from(20_000),
            orders_by_symbol: BTreeMap::new(),
        },
        trading: TradingState::active(),
    }
}

fn bench(c: &mut Criterion) {
    let w = world();
    let profile = &w.config.profiles["dry-run"];
    let ctx = Context {
        profile: &profile.name,
        mode: profile.mode,
        accounts: &profile.accounts,
        policy: &profile.policy,
        requester: Requester::Agent {
            name: "rebalancer".into(),
            level: cockpit::config::Permission::Execute,
            unapproved_budget: Decimal::from(10_000),
        },
        version: 1,
        positions: &w.positions,
        working: &w.working,
        recent: &w.recent,
        unapproved: &w.unapproved,
        quotes: &w.quotes,
        counters: &w.counters,
        trading: &w.trading,
        now: Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap(),
    };
    let ticket = OrderTicket {
        account: AccountId::parse("DU1234567").unwrap(),
        instrument: stock("AAPL", "NASDAQ"),
        side: Side::Buy,
        quantity: Quantity::parse("20").unwrap(),
        order_type: OrderType::Limit,
        limit_price: Some(price("100.10")),
        stop_price: None,
        tif: Tif::Day,
        outside_rth: false,
    };
    assert!(matches!(
        check(&ticket, &ctx),
        cockpit::policy::Verdict::Clearable(_)
    ));
    c.bench_function("policy_check_clearable", |b| {
        b.iter(|| check(black_box(&ticket), black_box(&ctx)));
    });

    let mut samples: Vec<u128> = (0..200_000)
        .map(|_| {
            let start = Instant::now();
            black_box(check(black_box(&ticket), black_box(&ctx)));
            start.elapsed().as_nanos()
        })
        .collect();
    samples.sort_unstable();
    let at = |q: f64| {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into the samples"
        )]
        let i = ((samples.len() - 1) as f64 * q) as usize;
        samples[i]
    };
    println!(
        "policy::check single calls (200000): p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
        at(0.50),
        at(0.99),
        at(0.999),
        samples[samples.len() - 1]
    );
    println!(
        "ROW|M10|policy check, single calls: p50 / p99|p99 ≤ 10 µs|{:.1} / {:.1} µs",
        micros(at(0.50)),
        micros(at(0.99))
    );
}

#[expect(clippy::cast_precision_loss, reason = "display only")]
fn micros(nanos: u128) -> f64 {
    nanos as f64 / 1e3
}

criterion_group!(benches, bench);
criterion_main!(benches);
