//! Every data flow the simulator serves, driven through the real `ibapi` 5.5 async client: the connect
//! handshake (server version, connection time, managed accounts, next order id, server time), several
//! clients at once and a refused live client id (326), account summary and account updates with their
//! pushes, positions and positions multi, P&L and single-position P&L, contract details (and 200), streaming
//! market data, snapshots, delayed data (10167, 354), the market-data line limit (101), the message rate
//! limit (100; the disconnects on a raw socket, which sees the exact frames before the close) and the
//! seeded market's determinism. Quotes are pinned, so every figure is checked to the cent.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::time::Duration;

use chrono::Utc;
use cockpit::sim::proto::{self, msg};
use cockpit::sim::wire::{self, Frame};
use cockpit::sim::{
    self, FaultAction, MAX_MARKET_DATA_LINES, MAX_MESSAGES_PER_SECOND, Scenario, SeedPosition, SimConfig,
    SimHandle,
};
use ibapi::RateLimiter;
use ibapi::accounts::{AccountPortfolioValue, Position, PositionMulti};
use ibapi::contracts::tick_types::TickType;
use ibapi::prelude::*;
use rust_decimal::Decimal;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::{Instant, timeout, timeout_at};

/// The bound on any single awaited answer.
const WITHIN: Duration = Duration::from_secs(5);
/// How long a stream must stay quiet, after a round trip to the gateway, to count as drained.
const QUIET: Duration = Duration::from_millis(50);
/// Bound on the items any one wait may skip.
const MAX_ITEMS: usize = 10_000;
/// The simulator's default (first) account.
const ACCOUNT: &str = "DU1234567";
/// A second managed account.
const OTHER_ACCOUNT: &str = "DU7654321";
/// AAPL's IB contract id.
const AAPL_CON_ID: i32 = 265_598;
/// Summary tags requested, each checked against [`Figures`].
const TAGS: &[&str] = &[
    "NetLiquidation",
    "TotalCashValue",
    "BuyingPower",
    "AvailableFunds",
    "ExcessLiquidity",
    "InitMarginReq",
    "MaintMarginReq",
    "GrossPositionValue",
    "EquityWithLoanValue",
];
/// Last-trade marks (cents) every held listing is pinned at.
const MARKS: &[(&str, i64)] = &[
    ("AAPL", 23_000),
    ("MSFT", 42_000),
    ("SPY", 60_000),
    ("TSLA", 25_000),
    ("QQQ", 51_000),
    ("KO", 6_200),
];

// ---- set-up ----

fn fast() -> SimConfig {
    SimConfig {
        tick_interval: Duration::from_millis(20),
        account_push_interval: Duration::from_millis(100),
        ..SimConfig::default()
    }
}

fn seed(account: &str, symbol: &str, quantity: i64, cost_cents: i64) -> SeedPosition {
    SeedPosition {
        account: account.to_string(),
        symbol: symbol.to_string(),
        quantity: Decimal::from(quantity),
        average_cost: cents(cost_cents),
    }
}

/// Two accounts: the sample positions in the first, a long and a short in the second.
fn two_accounts() -> SimConfig {
    let mut cfg = SimConfig {
        accounts: vec![ACCOUNT.to_string(), OTHER_ACCOUNT.to_string()],
        ..fast()
    }
    .with_sample_positions();
    cfg.positions.push(seed(OTHER_ACCOUNT, "QQQ", 10, 50_000));
    cfg.positions.push(seed(OTHER_ACCOUNT, "KO", -100, 6_300));
    cfg
}

async fn start(cfg: SimConfig) -> SimHandle {
    sim::start("127.0.0.1:0".parse().expect("addr"), cfg)
        .await
        .expect("sim starts")
}

async fn connect(sim: &SimHandle, client_id: i32) -> Client {
    timeout(WITHIN, Client::connect(&sim.addr().to_string(), client_id))
        .await
        .expect("connects in time")
        .expect("connects")
}

async fn connect_with_notices(sim: &SimHandle, client_id: i32) -> (Client, NoticeStream) {
    let builder = Client::builder()
        .address(sim.addr().to_string())
        .client_id(client_id);
    timeout(WITHIN, builder.connect_with_notice_stream())
        .await
        .expect("connects in time")
        .expect("connects")
}

/// Sets a listing's quote (cents; `size` shares displayed on each side; a trade of 100 prints at `last`).
async fn quote(sim: &SimHandle, symbol: &str, bid: i64, ask: i64, last: i64, size: i64) {
    let known = sim
        .set_quote(symbol, bid, ask, last, size)
        .await
        .expect("set quote");
    assert!(known, "{symbol} is a simulated listing");
}

/// Freezes a listing, so the random walk never moves it, and sets its quote.
async fn pin(sim: &SimHandle, symbol: &str, bid: i64, ask: i64, last: i64, size: i64) {
    sim.inject(FaultAction::FreezeQuotes {
        symbol: symbol.into(),
    })
    .await
    .expect("freeze");
    quote(sim, symbol, bid, ask, last, size).await;
}

/// Pins every held listing at its mark in [`MARKS`], a cent either side.
async fn pin_marks(sim: &SimHandle) {
    for &(symbol, last) in MARKS {
        pin(sim, symbol, last - 1, last + 1, last, 500).await;
    }
}

fn stock(symbol: &str) -> Contract {
    Contract::stock(symbol).build()
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

fn d(x: f64) -> Decimal {
    Decimal::try_from(x).expect("finite").round_dp(6)
}

fn dec(text: &str) -> Decimal {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} is not a decimal: {e}"))
}

fn now_secs() -> i64 {
    Utc::now().timestamp()
}

// ---- the figures IB should report ----

type Marks = BTreeMap<&'static str, Decimal>;

fn marks() -> Marks {
    MARKS.iter().map(|&(s, c)| (s, cents(c))).collect()
}

/// An account's figures computed here from the config and the marks, by the Reg T rules the simulator
/// applies: seeded positions were paid from the starting cash, initial margin is 50 % and maintenance 25 %
/// of the gross position value, buying power is four times the available funds.
#[derive(Debug, Clone, Copy)]
struct Figures {
    cash: Decimal,
    gross: Decimal,
    net_liquidation: Decimal,
    init_margin: Decimal,
    maint_margin: Decimal,
    unrealized: Decimal,
}

impl Figures {
    fn of(cfg: &SimConfig, account: &str, marks: &Marks) -> Self {
        let (mut cash, mut value, mut gross, mut unrealized) =
            (cfg.starting_cash, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        for p in cfg.positions.iter().filter(|p| p.account == account) {
            let mark = marks[p.symbol.as_str()];
            cash -= p.quantity * p.average_cost;
            value += p.quantity * mark;
            gross += (p.quantity * mark).abs();
            unrealized += p.quantity * (mark - p.average_cost);
        }
        Self {
            cash,
            gross,
            net_liquidation: cash + value,
            init_margin: gross * dec("0.5"),
            maint_margin: gross * dec("0.25"),
            unrealized,
        }
    }

    fn available_funds(&self) -> Decimal {
        self.net_liquidation - self.init_margin
    }

    fn excess_liquidity(&self) -> Decimal {
        self.net_liquidation - self.maint_margin
    }

    /// The value of each of [`TAGS`].
    fn tags(&self) -> BTreeMap<&'static str, Decimal> {
        BTreeMap::from([
            ("NetLiquidation", self.net_liquidation),
            ("TotalCashValue", self.cash),
            ("BuyingPower", self.available_funds() * Decimal::from(4)),
            ("AvailableFunds", self.available_funds()),
            ("ExcessLiquidity", self.excess_liquidity()),
            ("InitMarginReq", self.init_margin),
            ("MaintMarginReq", self.maint_margin),
            ("GrossPositionValue", self.gross),
            ("EquityWithLoanValue", self.net_liquidation),
        ])
    }
}

// ---- reading streams ----

/// A round trip: every frame the gateway sent before its answer has been routed when this returns.
async fn sync(client: &Client) {
    timeout(WITHIN, client.server_time())
        .await
        .expect("server time in time")
        .expect("server time");
}

/// Every item up to and including the first one `done` accepts; panics on an error or the end.
async fn items_until<S, T>(
    stream: &mut S,
    what: &str,
    mut done: impl FnMut(&SubscriptionItem<T>) -> bool,
) -> Vec<SubscriptionItem<T>>
where
    S: StreamExt<Item = Result<SubscriptionItem<T>, Error>> + Unpin,
    T: Debug,
{
    let deadline = Instant::now() + WITHIN;
    let mut items = Vec::new();
    for _ in 0..MAX_ITEMS {
        let Ok(next) = timeout_at(deadline, stream.next()).await else {
            panic!("no {what} within {WITHIN:?}; got {items:?}");
        };
        match next {
            Some(Ok(item)) => {
                let last = done(&item);
                items.push(item);
                if last {
                    return items;
                }
            }
            other => panic!("the stream ended before {what}: {other:?} after {items:?}"),
        }
    }
    panic!("no {what} among {MAX_ITEMS} items");
}

/// The data items of `items`; panics on a notice.
fn data<T: Debug>(items: Vec<SubscriptionItem<T>>) -> Vec<T> {
    items
        .into_iter()
        .map(|item| match item {
            SubscriptionItem::Data(t) => t,
            SubscriptionItem::Notice(n) => panic!("unexpected notice {n:?}"),
        })
        .collect()
}

/// The next data item; panics on a notice, an error or the end.
async fn next_data<S, T>(stream: &mut S, what: &str) -> T
where
    S: StreamExt<Item = Result<SubscriptionItem<T>, Error>> + Unpin,
    T: Debug,
{
    data(items_until(stream, what, |_| true).await)
        .pop()
        .expect("one item")
}

/// The next `Data` item that `pick` maps to `Some`, skipping others.
async fn next_matching<S, T, U>(stream: &mut S, what: &str, mut pick: impl FnMut(&T) -> Option<U>) -> U
where
    S: StreamExt<Item = Result<SubscriptionItem<T>, Error>> + Unpin,
    T: Debug,
{
    let mut found = None;
    items_until(stream, what, |item| {
        found = match item {
            SubscriptionItem::Data(t) => pick(t),
            SubscriptionItem::Notice(_) => None,
        };
        found.is_some()
    })
    .await;
    found.expect("the item that ended the wait")
}

/// The terminal error notice a request ends with, then the end of its stream.
async fn refused<S, T>(stream: &mut S) -> Notice
where
    S: StreamExt<Item = Result<SubscriptionItem<T>, Error>> + Unpin,
    T: Debug,
{
    let first = timeout(WITHIN, stream.next()).await.expect("an answer in time");
    let Some(Err(Error::Notice(notice))) = first else {
        panic!("expected a refusal, got {first:?}");
    };
    let after = timeout(WITHIN, stream.next()).await.expect("ends in time");
    assert!(after.is_none(), "the refused request ends: {after:?}");
    notice
}

/// Asserts a stream delivers nothing for `window`.
async fn assert_silent<S, T>(stream: &mut S, window: Duration, what: &str)
where
    S: StreamExt<Item = Result<SubscriptionItem<T>, Error>> + Unpin,
    T: Debug,
{
    if let Ok(item) = timeout(window, stream.next()).await {
        panic!("{what}: expected nothing within {window:?}, got {item:?}");
    }
}

/// The next notice with `code`, skipping the others.
async fn notice(notices: &mut NoticeStream, code: i32) -> Notice {
    let deadline = Instant::now() + WITHIN;
    for _ in 0..MAX_ITEMS {
        let n = timeout_at(deadline, notices.next())
            .await
            .unwrap_or_else(|_| panic!("notice {code} within {WITHIN:?}"))
            .expect("notice stream open");
        if n.code == code {
            return n;
        }
    }
    panic!("no notice {code} among {MAX_ITEMS} notices");
}

/// Codes of the notices already delivered, without waiting for new ones.
async fn drain_notices(notices: &mut NoticeStream) -> Vec<i32> {
    let mut codes = Vec::new();
    for _ in 0..MAX_ITEMS {
        match timeout(QUIET, notices.next()).await {
            Ok(Some(n)) => codes.push(n.code),
            Ok(None) | Err(_) => break,
        }
    }
    codes
}

// ---- market data ----

type Ticks = Vec<SubscriptionItem<TickTypes>>;

async fn subscribe(client: &Client, symbol: &str) -> Subscription<TickTypes> {
    timeout(WITHIN, client.market_data(&stock(symbol)).subscribe())
        .await
        .expect("subscribes in time")
        .expect("market data request sent")
}

fn is_close(item: &SubscriptionItem<TickTypes>) -> bool {
    matches!(item, SubscriptionItem::Data(TickTypes::Price(p))
        if matches!(p.tick_type, TickType::Close | TickType::DelayedClose))
}

/// A market-data request's first answer: everything up to its (delayed) close tick, which comes last.
async fn first_answer(sub: &mut Subscription<TickTypes>) -> Ticks {
    items_until(sub, "the close tick", is_close).await
}

/// The price and size of the last bid/ask/last tick of `kind`, checking its size tick type.
fn price_size(
    items: &[SubscriptionItem<TickTypes>],
    kind: TickType,
    size_kind: TickType,
) -> (Decimal, Decimal) {
    let found = items.iter().rev().find_map(|item| match item {
        SubscriptionItem::Data(TickTypes::PriceSize(t)) if t.price_tick_type == kind => {
            assert_eq!(t.size_tick_type, size_kind, "{t:?}");
            Some((d(t.price), d(t.size)))
        }
        _ => None,
    });
    found.unwrap_or_else(|| panic!("no {kind:?} tick in {items:?}"))
}

/// The price of the last size-less price tick of `kind`.
fn price_of(items: &[SubscriptionItem<TickTypes>], kind: TickType) -> Decimal {
    let found = items.iter().rev().find_map(|item| match item {
        SubscriptionItem::Data(TickTypes::Price(t)) if t.tick_type == kind => Some(d(t.price)),
        _ => None,
    });
    found.unwrap_or_else(|| panic!("no {kind:?} price in {items:?}"))
}

/// The value of the last size tick of `kind`.
fn size_of(items: &[SubscriptionItem<TickTypes>], kind: TickType) -> Decimal {
    let found = items.iter().rev().find_map(|item| match item {
        SubscriptionItem::Data(TickTypes::Size(t)) if t.tick_type == kind => Some(d(t.size)),
        _ => None,
    });
    found.unwrap_or_else(|| panic!("no {kind:?} size in {items:?}"))
}

/// The value of the last string tick of `kind`.
fn string_of(items: &[SubscriptionItem<TickTypes>], kind: TickType) -> String {
    let found = items.iter().rev().find_map(|item| match item {
        SubscriptionItem::Data(TickTypes::String(t)) if t.tick_type == kind => Some(t.value.clone()),
        _ => None,
    });
    found.unwrap_or_else(|| panic!("no {kind:?} string in {items:?}"))
}

/// Every tick type among `items` (price ticks by their price type).
fn kinds(items: &[SubscriptionItem<TickTypes>]) -> BTreeSet<i32> {
    items
        .iter()
        .filter_map(|item| match item {
            SubscriptionItem::Data(TickTypes::PriceSize(t)) => Some(t.price_tick_type as i32),
            SubscriptionItem::Data(TickTypes::Price(t)) => Some(t.tick_type as i32),
            SubscriptionItem::Data(TickTypes::Size(t)) => Some(t.tick_type as i32),
            SubscriptionItem::Data(TickTypes::String(t)) => Some(t.tick_type as i32),
            _ => None,
        })
        .collect()
}

fn data_types(items: &[SubscriptionItem<TickTypes>]) -> Vec<MarketDataType> {
    items
        .iter()
        .filter_map(|item| match item {
            SubscriptionItem::Data(TickTypes::MarketDataType(t)) => Some(*t),
            _ => None,
        })
        .collect()
}

fn notice_codes<T>(items: &[SubscriptionItem<T>]) -> Vec<i32> {
    items
        .iter()
        .filter_map(|item| match item {
            SubscriptionItem::Notice(n) => Some(n.code),
            SubscriptionItem::Data(_) => None,
        })
        .collect()
}

// ---- connect ----

#[tokio::test]
async fn connect_reports_version_time_account_next_order_id_and_server_time() {
    let sim = start(SimConfig {
        first_order_id: 1_000,
        ..fast()
    })
    .await;
    let (client, mut notices) = connect_with_notices(&sim, 7).await;

    assert_eq!(client.server_version(), 226);
    assert_eq!(client.client_id(), 7);
    let connected = client.connection_time().expect("a connection time ibapi parses");
    let skew = (connected.unix_timestamp() - now_secs()).abs();
    assert!(skew <= 5, "connection time {connected} is {skew} s from now");
    assert_eq!(client.handshake_managed_accounts(), [ACCOUNT]);
    let accounts = timeout(WITHIN, client.managed_accounts()).await.expect("in time");
    assert_eq!(accounts.expect("managed accounts"), [ACCOUNT]);

    let next = timeout(WITHIN, client.next_valid_order_id())
        .await
        .expect("in time");
    assert_eq!(
        next.expect("next valid id"),
        1_000,
        "the configured first order id"
    );
    assert_eq!(client.next_order_id(), 1_000);
    assert_eq!(
        client.next_order_id(),
        1_001,
        "ibapi counts on from the gateway's id"
    );

    let server = timeout(WITHIN, client.server_time()).await.expect("in time");
    let skew = (server.expect("server time").unix_timestamp() - now_secs()).abs();
    assert!(skew <= 2, "server time is {skew} s from now");
    let millis = timeout(WITHIN, client.server_time_millis())
        .await
        .expect("in time");
    let millis = millis.expect("server time in millis").unix_timestamp_nanos() / 1_000_000;
    let skew = (millis - i128::from(Utc::now().timestamp_millis())).abs();
    assert!(skew <= 2_000, "server time in millis is {skew} ms from now");

    let codes = drain_notices(&mut notices).await;
    for farm in [2104, 2106, 2158] {
        assert!(codes.contains(&farm), "farm notice {farm} at connect: {codes:?}");
    }
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn connect_lists_every_configured_account() {
    let accounts = [ACCOUNT, OTHER_ACCOUNT, "U9876543"];
    let sim = start(SimConfig {
        accounts: accounts.map(String::from).to_vec(),
        ..fast()
    })
    .await;
    let client = connect(&sim, 1).await;
    assert_eq!(client.handshake_managed_accounts(), accounts);
    let listed = timeout(WITHIN, client.managed_accounts()).await.expect("in time");
    assert_eq!(listed.expect("managed accounts"), accounts);
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn two_clients_are_served_at_once_and_a_live_client_id_is_refused_with_326() {
    let sim = start(fast()).await;
    pin(&sim, "AAPL", 18_710, 18_712, 18_711, 300).await;
    let one = connect(&sim, 1).await;
    let two = connect(&sim, 2).await;
    let mut one_aapl = subscribe(&one, "AAPL").await;
    let mut two_aapl = subscribe(&two, "AAPL").await;
    for sub in [&mut one_aapl, &mut two_aapl] {
        let first = first_answer(sub).await;
        let bid = price_size(&first, TickType::Bid, TickType::BidSize);
        assert_eq!(bid, (dec("187.10"), dec("300")));
    }

    // ibapi turns 326 during the handshake into a connect error, with or without a notice stream.
    let again = timeout(WITHIN, Client::connect(&sim.addr().to_string(), 1))
        .await
        .expect("refused in time");
    assert!(
        matches!(again, Err(Error::ClientIdInUse { client_id: 1 })),
        "{:?}",
        again.err()
    );
    let builder = Client::builder().address(sim.addr().to_string()).client_id(2);
    let again = timeout(WITHIN, builder.connect_with_notice_stream())
        .await
        .expect("refused in time");
    assert!(
        matches!(again, Err(Error::ClientIdInUse { client_id: 2 })),
        "{:?}",
        again.err()
    );

    // Both original sessions are untouched and still streaming.
    quote(&sim, "AAPL", 18_720, 18_722, 18_721, 400).await;
    for sub in [&mut one_aapl, &mut two_aapl] {
        let bid = next_matching(sub, "the new bid", |t| match t {
            TickTypes::PriceSize(p) if p.price_tick_type == TickType::Bid => Some(d(p.price)),
            _ => None,
        })
        .await;
        assert_eq!(bid, dec("187.20"));
    }
    sync(&one).await;
    sync(&two).await;
    let mut stats = sim.stats().await.expect("stats");
    stats.live_clients.sort_unstable();
    assert_eq!(stats.live_clients, vec![1, 2]);
    assert_eq!(stats.errors(326), 2);
    assert_eq!(stats.connections, 4, "two sessions and two refused StartApi");
    one.disconnect().await;
    two.disconnect().await;
    sim.shutdown().await;
}

// ---- accounts ----

/// Account-summary rows up to the end marker, by (account, tag): (value, currency).
async fn summary_rows(
    sub: &mut Subscription<AccountSummaryResult>,
) -> BTreeMap<(String, String), (String, String)> {
    let items = items_until(sub, "AccountSummaryEnd", |item| {
        matches!(item, SubscriptionItem::Data(AccountSummaryResult::End))
    })
    .await;
    let mut rows = BTreeMap::new();
    for item in data(items) {
        if let AccountSummaryResult::Summary(s) = item {
            let old = rows.insert((s.account, s.tag), (s.value, s.currency));
            assert!(old.is_none(), "one row per account and tag");
        }
    }
    rows
}

#[tokio::test]
async fn account_summary_reports_each_accounts_figures_in_usd_then_pushes_what_changes() {
    let cfg = two_accounts();
    let sim = start(cfg.clone()).await;
    pin_marks(&sim).await;
    let client = connect(&sim, 1).await;
    let mut sub = timeout(WITHIN, client.account_summary(&AccountGroup("All".into()), TAGS))
        .await
        .expect("in time")
        .expect("account summary");

    let rows = summary_rows(&mut sub).await;
    assert_eq!(rows.len(), 2 * TAGS.len(), "{rows:?}");
    for account in [ACCOUNT, OTHER_ACCOUNT] {
        for (tag, want) in Figures::of(&cfg, account, &marks()).tags() {
            let (value, currency) = &rows[&(account.to_string(), tag.to_string())];
            assert_eq!(dec(value), want, "{account} {tag}");
            assert_eq!(currency, "USD", "{account} {tag}");
        }
    }
    // Anchors for the model: $1,000,000 less $115,541.50 paid, plus $119,500 of positions at the marks.
    let net = |account: &str| dec(&rows[&(account.to_string(), "NetLiquidation".to_string())].0);
    assert_eq!(net(ACCOUNT), dec("1003958.50"));
    assert_eq!(net(OTHER_ACCOUNT), dec("1000200.00"));

    // AAPL up a dollar: the first account's figures move (cash does not); the second account's do not.
    quote(&sim, "AAPL", 23_099, 23_101, 23_100, 500).await;
    let mut moved = marks();
    moved.insert("AAPL", dec("231.00"));
    let want = Figures::of(&cfg, ACCOUNT, &moved).tags();
    let mut pushed = BTreeMap::new();
    let deadline = Instant::now() + WITHIN;
    for _ in 0..MAX_ITEMS {
        let item = timeout_at(deadline, sub.next()).await.expect("pushes in time");
        match item {
            Some(Ok(SubscriptionItem::Data(AccountSummaryResult::Summary(s)))) => {
                assert_eq!(s.account, ACCOUNT, "only changed rows are pushed: {s:?}");
                pushed.insert(s.tag, dec(&s.value));
            }
            other => panic!("unexpected {other:?}"),
        }
        if pushed.len() == TAGS.len() - 1 {
            break;
        }
    }
    let changed: BTreeMap<String, Decimal> = want
        .iter()
        .filter(|(tag, _)| **tag != "TotalCashValue")
        .map(|(tag, value)| ((*tag).to_string(), *value))
        .collect();
    assert_eq!(pushed, changed);
    assert_eq!(pushed["NetLiquidation"], dec("1004158.50"));
    sync(&client).await;
    assert_silent(&mut sub, 3 * QUIET, "nothing else changed").await;
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn account_updates_send_values_portfolio_time_and_end_then_push_only_changes() {
    let cfg = fast().with_sample_positions();
    let sim = start(cfg.clone()).await;
    pin_marks(&sim).await;
    let client = connect(&sim, 1).await;
    let mut sub = timeout(WITHIN, client.account_updates(&AccountId(ACCOUNT.into())))
        .await
        .expect("in time")
        .expect("account updates");
    let items = data(
        items_until(&mut sub, "AccountDownloadEnd", |i| {
            matches!(i, SubscriptionItem::Data(AccountUpdate::End))
        })
        .await,
    );

    let mut values = BTreeMap::new();
    let mut portfolio: BTreeMap<String, AccountPortfolioValue> = BTreeMap::new();
    let mut times = Vec::new();
    for item in items {
        match item {
            AccountUpdate::AccountValue(v) => {
                assert_eq!(v.account.as_deref(), Some(ACCOUNT), "{v:?}");
                values.insert(v.key, (v.value, v.currency));
            }
            AccountUpdate::PortfolioValue(p) => {
                assert!(times.is_empty(), "portfolio values come before the update time");
                portfolio.insert(p.contract.symbol.to_string(), p);
            }
            AccountUpdate::UpdateTime(t) => times.push(t.timestamp),
            AccountUpdate::End => {}
        }
    }
    assert_eq!(values["AccountCode"].0, ACCOUNT);
    let figures = Figures::of(&cfg, ACCOUNT, &marks());
    let mut want = figures.tags();
    want.insert("CashBalance", figures.cash);
    want.insert("UnrealizedPnL", figures.unrealized);
    want.insert("RealizedPnL", Decimal::ZERO);
    for (key, value) in want {
        let (got, currency) = &values[key];
        assert_eq!((dec(got), currency.as_str()), (value, "USD"), "{key}");
    }
    assert_eq!(
        values["UnrealizedPnL"].0.parse::<Decimal>().ok(),
        Some(dec("3958.50"))
    );

    assert_eq!(portfolio.len(), cfg.positions.len(), "{portfolio:?}");
    for p in &cfg.positions {
        let got = &portfolio[&p.symbol];
        let mark = marks()[p.symbol.as_str()];
        assert_eq!(d(got.position), p.quantity, "{}", p.symbol);
        assert_eq!(d(got.average_cost), p.average_cost, "{}", p.symbol);
        assert_eq!(d(got.market_price), mark, "{}", p.symbol);
        assert_eq!(d(got.market_value), p.quantity * mark, "{}", p.symbol);
        let unrealized = p.quantity * (mark - p.average_cost);
        assert_eq!(d(got.unrealized_pnl), unrealized, "{}", p.symbol);
        assert_eq!(d(got.realized_pnl), Decimal::ZERO, "{}", p.symbol);
        assert_eq!(got.account.as_deref(), Some(ACCOUNT));
    }
    assert_eq!(portfolio["AAPL"].contract.contract_id, AAPL_CON_ID);
    let [time] = times.as_slice() else {
        panic!("one update time: {times:?}")
    };
    let hh_mm = time
        .split_once(':')
        .map(|(h, m)| (h.parse::<u32>(), m.parse::<u32>()));
    assert!(
        time.len() == 5 && matches!(hh_mm, Some((Ok(0..24), Ok(0..60)))),
        "update time {time:?} is HH:MM"
    );

    // Nothing changes while every holding is pinned: IB pushes account values on change, not at once again.
    sync(&client).await;
    assert_silent(&mut sub, Duration::from_millis(350), "unchanged account values").await;
    quote(&sim, "AAPL", 23_099, 23_101, 23_100, 500).await;
    let net = next_matching(&mut sub, "the new NetLiquidation", |u| match u {
        AccountUpdate::AccountValue(v) if v.key == "NetLiquidation" => Some(dec(&v.value)),
        _ => None,
    })
    .await;
    assert_eq!(net, dec("1004158.50"), "AAPL up a dollar on 200 shares");
    let aapl = next_matching(&mut sub, "AAPL's new portfolio value", |u| match u {
        AccountUpdate::PortfolioValue(p) if p.contract.symbol == "AAPL" => {
            Some((d(p.market_price), d(p.market_value)))
        }
        _ => None,
    })
    .await;
    assert_eq!(aapl, (dec("231"), dec("46200")));
    client.disconnect().await;
    sim.shutdown().await;
}

type Held = BTreeSet<(String, String, Decimal, Decimal)>;

fn held(cfg: &SimConfig, account: Option<&str>) -> Held {
    cfg.positions
        .iter()
        .filter(|p| account.is_none_or(|a| a == p.account))
        .map(|p| (p.account.clone(), p.symbol.clone(), p.quantity, p.average_cost))
        .collect()
}

fn position_row(p: &Position) -> (String, String, Decimal, Decimal) {
    (
        p.account.clone(),
        p.contract.symbol.to_string(),
        d(p.position),
        d(p.average_cost),
    )
}

fn multi_row(p: &PositionMulti) -> (String, String, Decimal, Decimal) {
    (
        p.account.clone(),
        p.contract.symbol.to_string(),
        d(p.position),
        d(p.average_cost),
    )
}

async fn positions_multi(client: &Client, account: Option<&str>) -> Held {
    let account = account.map(|a| AccountId(a.to_string()));
    let mut sub = timeout(WITHIN, client.positions_multi(account.as_ref(), None))
        .await
        .expect("in time")
        .expect("positions multi");
    let items = data(
        items_until(&mut sub, "PositionMultiEnd", |i| {
            matches!(i, SubscriptionItem::Data(PositionUpdateMulti::PositionEnd))
        })
        .await,
    );
    items
        .iter()
        .filter_map(|u| match u {
            PositionUpdateMulti::Position(p) => Some(multi_row(p)),
            PositionUpdateMulti::PositionEnd => None,
        })
        .collect()
}

#[tokio::test]
async fn positions_and_positions_multi_list_every_accounts_holdings_with_average_cost() {
    let cfg = two_accounts();
    let sim = start(cfg.clone()).await;
    let client = connect(&sim, 1).await;
    let mut sub = timeout(WITHIN, client.positions())
        .await
        .expect("in time")
        .expect("positions");
    let items = data(
        items_until(&mut sub, "PositionEnd", |i| {
            matches!(i, SubscriptionItem::Data(PositionUpdate::PositionEnd))
        })
        .await,
    );
    let positions: Vec<&Position> = items
        .iter()
        .filter_map(|u| match u {
            PositionUpdate::Position(p) => Some(p),
            PositionUpdate::PositionEnd => None,
        })
        .collect();
    assert_eq!(positions.len(), 6, "{positions:?}");
    let rows: Held = positions.iter().map(|p| position_row(p)).collect();
    assert_eq!(rows, held(&cfg, None));
    assert!(rows.contains(&(ACCOUNT.into(), "TSLA".into(), dec("-30"), dec("256.20"))));
    for p in &positions {
        assert_eq!(p.contract.currency.to_string(), "USD");
        assert_eq!(p.contract.security_type, SecurityType::Stock);
        if p.contract.symbol == "AAPL" {
            assert_eq!(p.contract.contract_id, AAPL_CON_ID);
            assert_eq!(p.contract.primary_exchange.to_string(), "NASDAQ");
        }
    }

    assert_eq!(positions_multi(&client, None).await, held(&cfg, None));
    let other = positions_multi(&client, Some(OTHER_ACCOUNT)).await;
    assert_eq!(other, held(&cfg, Some(OTHER_ACCOUNT)));
    assert_eq!(other.len(), 2);
    assert_eq!(
        positions_multi(&client, Some(ACCOUNT)).await,
        held(&cfg, Some(ACCOUNT))
    );
    client.disconnect().await;
    sim.shutdown().await;
}

/// The previous close each held listing reports in a snapshot (its daily P&L basis).
async fn closes(client: &Client, cfg: &SimConfig) -> BTreeMap<String, Decimal> {
    let mut closes = BTreeMap::new();
    for p in &cfg.positions {
        let mut snap = timeout(
            WITHIN,
            client.market_data(&stock(&p.symbol)).snapshot().subscribe(),
        )
        .await
        .expect("in time")
        .expect("snapshot");
        let ticks = items_until(&mut snap, "SnapshotEnd", |i| {
            matches!(i, SubscriptionItem::Data(TickTypes::SnapshotEnd))
        })
        .await;
        closes.insert(p.symbol.clone(), price_of(&ticks, TickType::Close));
    }
    closes
}

#[tokio::test]
async fn pnl_and_single_position_pnl_follow_the_marks() {
    let cfg = fast().with_sample_positions();
    let sim = start(cfg.clone()).await;
    pin_marks(&sim).await;
    let client = connect(&sim, 1).await;
    let closes = closes(&client, &cfg).await;
    let marks = marks();
    let daily: Decimal = cfg
        .positions
        .iter()
        .map(|p| p.quantity * (marks[p.symbol.as_str()] - closes[&p.symbol]))
        .sum();

    let account = AccountId(ACCOUNT.into());
    let mut pnl = timeout(WITHIN, client.pnl(&account, None))
        .await
        .expect("in time")
        .expect("pnl");
    let first = next_data(&mut pnl, "PnL").await;
    assert_eq!(d(first.daily_pnl), daily, "{first:?}, closes {closes:?}");
    assert_eq!(first.unrealized_pnl.map(d), Some(dec("3958.50")));
    assert_eq!(first.realized_pnl.map(d), Some(Decimal::ZERO));

    let mut aapl = timeout(WITHIN, client.pnl_single(&account, ContractId(AAPL_CON_ID), None))
        .await
        .expect("in time")
        .expect("pnl single");
    let single = next_data(&mut aapl, "PnLSingle").await;
    assert_eq!(d(single.position), dec("200"));
    assert_eq!(d(single.daily_pnl), dec("200") * (dec("230") - closes["AAPL"]));
    assert_eq!(d(single.unrealized_pnl), dec("2320"), "200 × (230.00 − 218.40)");
    assert_eq!(d(single.realized_pnl), Decimal::ZERO);
    assert_eq!(d(single.value), dec("46000"));

    // IB pushes P&L about once a second: the next pushes carry AAPL's new mark.
    quote(&sim, "AAPL", 23_099, 23_101, 23_100, 500).await;
    let unrealized = next_matching(&mut pnl, "PnL at the new mark", |p: &PnL| {
        p.unrealized_pnl.map(d).filter(|u| *u != dec("3958.50"))
    })
    .await;
    assert_eq!(unrealized, dec("4158.50"));
    let single = next_matching(&mut aapl, "PnLSingle at the new mark", |p: &PnLSingle| {
        (d(p.value) != dec("46000")).then(|| (d(p.unrealized_pnl), d(p.value)))
    })
    .await;
    assert_eq!(single, (dec("2520"), dec("46200")));

    let mut unknown = timeout(WITHIN, client.pnl(&AccountId("DU0000000".into()), None))
        .await
        .expect("in time")
        .expect("request sent");
    assert_eq!(refused(&mut unknown).await.code, 321);
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- contracts ----

#[tokio::test]
async fn contract_details_describe_known_listings_and_refuse_unknown_ones_with_200() {
    let sim = start(fast()).await;
    let client = connect(&sim, 1).await;
    for (symbol, con_id, primary, long_name) in [
        ("AAPL", AAPL_CON_ID, "NASDAQ", "APPLE INC"),
        ("SPY", 756_733, "ARCA", "SPDR S&P 500 ETF TRUST"),
        ("IBM", 8_314, "NYSE", "INTL BUSINESS MACHINES CORP"),
    ] {
        let found = timeout(WITHIN, client.contract_details(&stock(symbol)))
            .await
            .expect("in time")
            .expect("contract details");
        let [details] = found.as_slice() else {
            panic!("one match for {symbol}: {found:?}")
        };
        let c = &details.contract;
        assert_eq!(c.contract_id, con_id, "{symbol}");
        assert_eq!(c.symbol.to_string(), symbol);
        assert_eq!(c.security_type, SecurityType::Stock);
        assert_eq!(c.primary_exchange.to_string(), primary, "{symbol}");
        assert_eq!(c.exchange.to_string(), "SMART");
        assert_eq!(c.currency.to_string(), "USD");
        assert_eq!(d(details.min_tick), dec("0.01"), "{symbol}");
        assert_eq!(details.long_name, long_name);
        assert!(
            details.valid_exchanges.iter().any(|e| e == primary),
            "{details:?}"
        );
    }

    let by_id = Contract {
        contract_id: AAPL_CON_ID,
        ..Contract::default()
    };
    let found = timeout(WITHIN, client.contract_details(&by_id))
        .await
        .expect("in time")
        .expect("contract details by conId");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].contract.symbol.to_string(), "AAPL");

    let unknown = timeout(WITHIN, client.contract_details(&stock("NOPE")))
        .await
        .expect("in time");
    match unknown {
        Err(Error::Notice(n)) => {
            assert_eq!(n.code, 200, "{n:?}");
            assert!(n.message.contains("No security definition"), "{n:?}");
        }
        other => panic!("expected error 200, got {other:?}"),
    }
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- market data ----

#[tokio::test]
async fn market_data_streams_the_pinned_quote_then_each_change() {
    let sim = start(fast()).await;
    pin(&sim, "AAPL", 18_710, 18_712, 18_711, 300).await;
    let client = connect(&sim, 1).await;
    let mut sub = subscribe(&client, "AAPL").await;
    let first = first_answer(&mut sub).await;

    assert!(notice_codes(&first).is_empty(), "{first:?}");
    assert_eq!(data_types(&first), [MarketDataType::Realtime]);
    let params = first.iter().find_map(|i| match i {
        SubscriptionItem::Data(TickTypes::RequestParameters(p)) => Some(p),
        _ => None,
    });
    assert_eq!(params.map(|p| d(p.min_tick)), Some(dec("0.01")));
    assert_eq!(
        price_size(&first, TickType::Bid, TickType::BidSize),
        (dec("187.10"), dec("300"))
    );
    assert_eq!(
        price_size(&first, TickType::Ask, TickType::AskSize),
        (dec("187.12"), dec("300"))
    );
    assert_eq!(
        price_size(&first, TickType::Last, TickType::LastSize),
        (dec("187.11"), dec("100"))
    );
    let volume = size_of(&first, TickType::Volume);
    let stamp: i64 = string_of(&first, TickType::LastTimestamp)
        .parse()
        .expect("unix seconds");
    assert!((stamp - now_secs()).abs() <= 5, "last trade at {stamp}");
    assert_eq!(
        price_of(&first, TickType::Open),
        dec("232.50"),
        "AAPL opens at its catalogue price"
    );
    let (high, low) = (price_of(&first, TickType::High), price_of(&first, TickType::Low));
    assert!(low <= dec("187.11") && dec("187.11") <= high, "{low}..{high}");
    price_of(&first, TickType::Close);

    quote(&sim, "AAPL", 18_720, 18_723, 18_722, 500).await;
    let change = items_until(&mut sub, "the last-trade time", |i| {
        matches!(i, SubscriptionItem::Data(TickTypes::String(t)) if t.tick_type == TickType::LastTimestamp)
    })
    .await;
    assert_eq!(
        price_size(&change, TickType::Bid, TickType::BidSize),
        (dec("187.20"), dec("500"))
    );
    assert_eq!(
        price_size(&change, TickType::Ask, TickType::AskSize),
        (dec("187.23"), dec("500"))
    );
    assert_eq!(
        price_size(&change, TickType::Last, TickType::LastSize),
        (dec("187.22"), dec("100"))
    );
    assert_eq!(size_of(&change, TickType::Volume), volume + dec("100"));
    let streamed: BTreeSet<i32> = [1, 2, 4, 8, 45].into();
    assert_eq!(
        kinds(&change),
        streamed,
        "a change streams only what moved: {change:?}"
    );
    sync(&client).await;
    assert_silent(&mut sub, 3 * QUIET, "a pinned quote").await;
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn snapshot_answers_the_quote_once_and_ends_with_snapshot_end() {
    let sim = start(fast()).await;
    pin(&sim, "MSFT", 42_010, 42_014, 42_012, 700).await;
    let client = connect(&sim, 1).await;
    let mut snap = timeout(WITHIN, client.market_data(&stock("MSFT")).snapshot().subscribe())
        .await
        .expect("in time")
        .expect("snapshot");
    let ticks = items_until(&mut snap, "SnapshotEnd", |i| {
        matches!(i, SubscriptionItem::Data(TickTypes::SnapshotEnd))
    })
    .await;
    assert_eq!(
        price_size(&ticks, TickType::Bid, TickType::BidSize),
        (dec("420.10"), dec("700"))
    );
    assert_eq!(
        price_size(&ticks, TickType::Ask, TickType::AskSize),
        (dec("420.14"), dec("700"))
    );
    assert_eq!(
        price_size(&ticks, TickType::Last, TickType::LastSize),
        (dec("420.12"), dec("100"))
    );
    assert!(ticks.iter().any(is_close), "the full quote: {ticks:?}");

    // A snapshot is not a subscription: a later change is not sent to it.
    quote(&sim, "MSFT", 42_020, 42_024, 42_022, 700).await;
    sync(&client).await;
    assert_silent(&mut snap, 3 * QUIET, "a finished snapshot").await;
    let again = timeout(WITHIN, client.market_data(&stock("MSFT")).snapshot_once(WITHIN))
        .await
        .expect("in time")
        .expect("snapshot");
    let bid = again.iter().find_map(|t| match t {
        TickTypes::PriceSize(p) if p.price_tick_type == TickType::Bid => Some(d(p.price)),
        _ => None,
    });
    assert_eq!(bid, Some(dec("420.20")));
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn delayed_data_type_gets_10167_and_delayed_ticks_where_offered_and_354_elsewhere() {
    let sim = start(SimConfig {
        scenario: Scenario {
            unsubscribed: vec!["NFLX".into(), "META".into()],
            delayed: vec!["NFLX".into()],
            faults: Vec::new(),
        },
        ..fast()
    })
    .await;
    pin(&sim, "NFLX", 70_200, 70_204, 70_202, 400).await;
    let client = connect(&sim, 1).await;

    let mut realtime = subscribe(&client, "NFLX").await;
    let n = refused(&mut realtime).await;
    assert_eq!((n.code, n.request_id), (354, realtime.request_id()), "{n:?}");

    client
        .switch_market_data_type(MarketDataType::Delayed)
        .await
        .expect("switched");
    let mut nflx = subscribe(&client, "NFLX").await;
    let first = first_answer(&mut nflx).await;
    assert_eq!(notice_codes(&first), [10167], "{first:?}");
    assert_eq!(data_types(&first), [MarketDataType::Delayed]);
    assert_eq!(
        price_size(&first, TickType::DelayedBid, TickType::DelayedBidSize),
        (dec("702.00"), dec("400"))
    );
    assert_eq!(
        price_size(&first, TickType::DelayedAsk, TickType::DelayedAskSize),
        (dec("702.04"), dec("400"))
    );
    assert_eq!(
        price_size(&first, TickType::DelayedLast, TickType::DelayedLastSize),
        (dec("702.02"), dec("100"))
    );
    size_of(&first, TickType::DelayedVolume);
    string_of(&first, TickType::DelayedLastTimestamp);
    let delayed: BTreeSet<i32> = [66, 67, 68, 72, 73, 74, 75, 76, 88].into();
    assert_eq!(kinds(&first), delayed, "delayed tick types only");

    quote(&sim, "NFLX", 70_300, 70_304, 70_302, 400).await;
    let bid = next_matching(&mut nflx, "the new delayed bid", |t| match t {
        TickTypes::PriceSize(p) if p.price_tick_type == TickType::DelayedBid => Some(d(p.price)),
        TickTypes::PriceSize(p) => panic!("only delayed ticks: {p:?}"),
        _ => None,
    })
    .await;
    assert_eq!(bid, dec("703.00"));

    // No delayed offer for META: still 354. AAPL is entitled: real-time data despite the delayed type.
    let mut meta = subscribe(&client, "META").await;
    assert_eq!(refused(&mut meta).await.code, 354);
    let mut aapl = subscribe(&client, "AAPL").await;
    let aapl_first = first_answer(&mut aapl).await;
    assert_eq!(data_types(&aapl_first), [MarketDataType::Realtime]);
    assert!(notice_codes(&aapl_first).is_empty());
    assert!(kinds(&aapl_first).contains(&1), "real-time bid: {aapl_first:?}");

    client
        .switch_market_data_type(MarketDataType::Realtime)
        .await
        .expect("switched back");
    let mut back = subscribe(&client, "NFLX").await;
    assert_eq!(refused(&mut back).await.code, 354);
    let stats = sim.stats().await.expect("stats");
    assert_eq!((stats.errors(354), stats.errors(10167)), (3, 1));
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_request_beyond_the_market_data_line_limit_is_refused_with_101_until_a_line_is_freed() {
    const SYMBOLS: &[&str] = &["AAPL", "MSFT", "SPY", "QQQ", "NVDA", "JPM", "XOM", "KO"];
    // Quotes stand still after the first step, so a hundred lines carry only their first answers.
    let sim = start(SimConfig {
        tick_interval: Duration::from_hours(1),
        ..SimConfig::default()
    })
    .await;
    // Paced below IB's 50 messages per second, so only the line limit can refuse.
    let builder = Client::builder()
        .address(sim.addr().to_string())
        .client_id(4)
        .rate_limiter(RateLimiter::per_second(45));
    let client = timeout(WITHIN, builder.connect())
        .await
        .expect("in time")
        .expect("connects");
    let mut lines = Vec::with_capacity(MAX_MARKET_DATA_LINES);
    for i in 0..MAX_MARKET_DATA_LINES {
        lines.push(subscribe(&client, SYMBOLS[i % SYMBOLS.len()]).await);
    }
    let last = lines.last_mut().expect("lines");
    let answer = first_answer(last).await;
    assert!(
        notice_codes(&answer).is_empty(),
        "line {MAX_MARKET_DATA_LINES} is served"
    );

    let mut over = subscribe(&client, "IBM").await;
    let n = refused(&mut over).await;
    assert_eq!((n.code, n.request_id), (101, over.request_id()), "{n:?}");
    assert!(n.message.contains("Max number of tickers"), "{n:?}");

    lines.pop().expect("a line").cancel().await;
    let mut freed = subscribe(&client, "IBM").await;
    let answer = first_answer(&mut freed).await;
    assert!(notice_codes(&answer).is_empty(), "{answer:?}");
    assert!(kinds(&answer).contains(&1), "IBM's bid: {answer:?}");

    let stats = sim.stats().await.expect("stats");
    assert_eq!((stats.errors(101), stats.errors(100)), (1, 0));
    let busiest = stats.max_messages_per_second.get(&4).copied().unwrap_or_default();
    assert!(busiest <= MAX_MESSAGES_PER_SECOND, "paced: {busiest} in a second");
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- the message rate limit ----

#[tokio::test]
async fn the_51st_message_in_a_second_is_answered_with_100_and_the_session_survives() {
    let sim = start(fast()).await;
    let begun = Instant::now();
    let (client, mut notices) = connect_with_notices(&sim, 3).await;
    // ibapi does not throttle without a rate limiter. 49 requests that have no answer, then a round trip:
    // 50 messages, all inside the first second (the window opens at StartApi).
    for _ in 1..MAX_MESSAGES_PER_SECOND {
        client
            .switch_market_data_type(MarketDataType::Realtime)
            .await
            .expect("sent");
    }
    sync(&client).await;
    let stats = sim.stats().await.expect("stats");
    let took = begun.elapsed();
    assert_eq!(stats.max_messages_per_second.get(&3), Some(&50), "in {took:?}");
    assert_eq!(stats.errors(100), 0, "50 a second are allowed");

    client
        .switch_market_data_type(MarketDataType::Realtime)
        .await
        .expect("sent");
    let n = notice(&mut notices, 100).await;
    assert_eq!(n.request_id, None, "a request-less error: {n:?}");
    assert!(n.message.contains("max=50 rec=51"), "{n:?}");

    // Warned once per second, and one second over is not enough to be disconnected.
    sync(&client).await;
    assert!(client.is_connected());
    let again = drain_notices(&mut notices).await;
    assert!(!again.contains(&100), "{again:?}");
    let stats = sim.stats().await.expect("stats");
    assert_eq!((stats.errors(100), stats.rate_disconnects), (1, 0));
    assert_eq!(stats.max_messages_per_second.get(&3), Some(&52));
    assert_eq!(stats.live_clients, vec![3]);
    client.disconnect().await;
    sim.shutdown().await;
}

/// A bare TWS API session on a socket, for floods ibapi cannot be made to send.
struct Raw {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Raw {
    /// Hello, `StartApi`, and the start-up frames up to the last farm notice.
    async fn connect(sim: &SimHandle, client_id: i32) -> Self {
        let stream = timeout(WITHIN, TcpStream::connect(sim.addr()))
            .await
            .expect("connects in time")
            .expect("connects");
        stream.set_nodelay(true).expect("nodelay");
        let (reader, writer) = stream.into_split();
        let mut raw = Self {
            reader: BufReader::new(reader),
            writer,
        };
        let versions = b"v213..226";
        let mut hello = b"API\0".to_vec();
        hello.extend_from_slice(&u32::try_from(versions.len()).expect("short").to_be_bytes());
        hello.extend_from_slice(versions);
        raw.write(&hello).await;
        // The reply is one length-prefixed block too: "226\0<time>\0".
        raw.until("the handshake reply", |_| true).await;
        let start = proto::StartApiRequest {
            client_id: Some(client_id),
            optional_capabilities: None,
        };
        raw.write(&wire::encode_frame(msg::OUT_START_API, &start)).await;
        raw.until("farm notice 2158", |f| error_code(f) == Some(2158))
            .await;
        raw
    }

    async fn write(&mut self, bytes: &[u8]) {
        timeout(WITHIN, self.writer.write_all(bytes))
            .await
            .expect("written in time")
            .expect("written");
    }

    /// `n` market-data-type requests (which have no answer) in one write.
    async fn flood(&mut self, n: u32) {
        let one = wire::encode_frame(
            msg::OUT_REQUEST_MARKET_DATA_TYPE,
            &proto::MarketDataTypeRequest {
                market_data_type: Some(1),
            },
        );
        let n = usize::try_from(n).expect("small");
        self.write(&one.repeat(n)).await;
    }

    /// Every frame up to and including the first one `done` accepts.
    async fn until(&mut self, what: &str, mut done: impl FnMut(&Frame) -> bool) -> Vec<Frame> {
        let deadline = Instant::now() + WITHIN;
        let mut frames = Vec::new();
        for _ in 0..MAX_ITEMS {
            let read = timeout_at(deadline, wire::read_frame(&mut self.reader))
                .await
                .unwrap_or_else(|_| panic!("no {what} within {WITHIN:?}"));
            let frame = read
                .unwrap_or_else(|e| panic!("reading {what}: {e}"))
                .unwrap_or_else(|| panic!("the simulator closed the connection before {what}"));
            let last = done(&frame);
            frames.push(frame);
            if last {
                return frames;
            }
        }
        panic!("no {what} among {MAX_ITEMS} frames");
    }

    /// Frames until the simulator closes the connection.
    async fn closed(&mut self) -> Vec<Frame> {
        let deadline = Instant::now() + WITHIN;
        let mut frames = Vec::new();
        for _ in 0..MAX_ITEMS {
            let read = timeout_at(deadline, wire::read_frame(&mut self.reader))
                .await
                .expect("the simulator closes the connection in time");
            match read {
                Ok(Some(frame)) => frames.push(frame),
                // A clean close, or a reset: either way the session is over.
                Ok(None) | Err(_) => return frames,
            }
        }
        panic!("the connection stayed open for {MAX_ITEMS} frames");
    }
}

fn error_code(frame: &Frame) -> Option<i32> {
    (frame.message_id() == Some(msg::IN_ERROR))
        .then(|| wire::decode::<proto::ErrorMessage>(frame).expect("an ErrorMessage"))
        .and_then(|e| e.error_code)
}

/// The `(id, text)` of each error 100 among `frames`.
fn rate_errors(frames: &[Frame]) -> Vec<(Option<i32>, String)> {
    frames
        .iter()
        .filter(|f| error_code(f) == Some(100))
        .map(|f| {
            let e = wire::decode::<proto::ErrorMessage>(f).expect("an ErrorMessage");
            (e.id, e.error_msg.unwrap_or_default())
        })
        .collect()
}

#[tokio::test]
async fn over_twice_the_rate_in_one_second_is_answered_with_100_and_disconnected() {
    let sim = start(fast()).await;
    let mut raw = Raw::connect(&sim, 5).await;
    raw.flood(2 * MAX_MESSAGES_PER_SECOND + 1).await;
    let frames = raw.closed().await;
    let errors = rate_errors(&frames);
    assert_eq!(errors.len(), 1, "one warning per second: {errors:?}");
    assert_eq!(errors[0].0, Some(-1));
    assert!(errors[0].1.contains("max=50 rec=51"), "{errors:?}");
    let stats = sim.stats().await.expect("stats");
    assert_eq!((stats.rate_disconnects, stats.errors(100)), (1, 1));
    assert_eq!(stats.max_messages_per_second.get(&5), Some(&101));
    assert!(stats.live_clients.is_empty(), "{:?}", stats.live_clients);
    sim.shutdown().await;
}

#[tokio::test]
async fn three_seconds_in_a_row_over_the_rate_disconnect_but_a_quiet_second_breaks_the_run() {
    let over = MAX_MESSAGES_PER_SECOND + 1;
    let sim = start(fast()).await;
    let mut raw = Raw::connect(&sim, 6).await;
    // The first window opened at StartApi, before the start-up frames just read.
    let opened = Instant::now();
    raw.flood(over).await;
    raw.until("error 100 in second 1", |f| error_code(f) == Some(100))
        .await;
    // The rule counts seconds of the gateway's clock, so only waiting opens the next one. A whole quiet
    // second passes first: the run of seconds over the limit starts again.
    tokio::time::sleep_until(opened + Duration::from_millis(2_100)).await;
    for second in 2..=3 {
        raw.flood(over).await;
        raw.until(&format!("error 100 in second {second}"), |f| {
            error_code(f) == Some(100)
        })
        .await;
        // This window opened at the flood's first message, before its error came back.
        let opened = Instant::now();
        let stats = sim.stats().await.expect("stats");
        assert_eq!(stats.rate_disconnects, 0, "still connected after second {second}");
        tokio::time::sleep_until(opened + Duration::from_millis(1_050)).await;
    }
    // The third second over the limit in a row.
    raw.flood(over).await;
    let frames = raw.closed().await;
    assert_eq!(rate_errors(&frames).len(), 1, "warned, then disconnected");
    let stats = sim.stats().await.expect("stats");
    assert_eq!((stats.rate_disconnects, stats.errors(100)), (1, 4));
    assert!(stats.live_clients.is_empty(), "{:?}", stats.live_clients);
    sim.shutdown().await;
}

// ---- determinism ----

/// The first `n` bid (price, size) pairs AAPL streams: its current bid, then each change.
async fn bid_path(sim: &SimHandle, n: usize) -> Vec<(Decimal, Decimal)> {
    let client = connect(sim, 1).await;
    let mut sub = subscribe(&client, "AAPL").await;
    let mut path = Vec::with_capacity(n);
    while path.len() < n {
        let bid = next_matching(&mut sub, "a bid", |t| match t {
            TickTypes::PriceSize(p) if p.price_tick_type == TickType::Bid => Some((d(p.price), d(p.size))),
            _ => None,
        })
        .await;
        path.push(bid);
    }
    client.disconnect().await;
    path
}

/// How many leading items of one path to skip so the two agree on at least `min` items, if any.
///
/// Two subscribers may join the same walk a few steps apart; after that they must see the same moves.
fn alignment<T: PartialEq>(a: &[T], b: &[T], min: usize) -> Option<(usize, usize)> {
    let agrees = |x: &[T], y: &[T]| {
        let n = x.len().min(y.len());
        n >= min && x[..n] == y[..n]
    };
    (0..a.len())
        .find(|&skip| agrees(&a[skip..], b))
        .map(|skip| (skip, 0))
        .or_else(|| {
            (0..b.len())
                .find(|&skip| agrees(a, &b[skip..]))
                .map(|skip| (0, skip))
        })
}

#[tokio::test]
async fn the_same_seed_streams_the_same_ticks_and_another_seed_does_not() {
    const N: usize = 50;
    let seeded = |seed| SimConfig {
        seed,
        tick_interval: Duration::from_millis(10),
        ..SimConfig::default()
    };
    let (a, b, c) = tokio::join!(start(seeded(7)), start(seeded(7)), start(seeded(8)));
    let (path_a, path_b, path_c) = tokio::join!(bid_path(&a, N), bid_path(&b, N), bid_path(&c, N));
    let same = alignment(&path_a, &path_b, N / 2);
    assert!(same.is_some(), "seed 7 twice:\n{path_a:?}\n{path_b:?}");
    assert_eq!(
        alignment(&path_a, &path_c, N / 2),
        None,
        "seeds 7 and 8:\n{path_a:?}\n{path_c:?}"
    );
    for sim in [a, b, c] {
        sim.shutdown().await;
    }
}

// ---- flood (benchmarks) ----

#[tokio::test]
async fn a_flood_streams_its_rate_of_quote_changes_over_the_first_k_subscribed_instruments_only() {
    let cfg = SimConfig {
        // The walk barely moves: what arrives is the flood's.
        tick_interval: Duration::from_hours(1),
        flood: Some(cockpit::sim::Flood {
            ticks_per_sec: 20_000,
            symbols: 1,
        }),
        ..SimConfig::default()
    };
    let sim = start(cfg).await;
    let client = connect(&sim, 1).await;
    // AAPL is the first simulated instrument, so with K = 1 it is the one flooded; MSFT is not.
    let mut aapl = subscribe(&client, "AAPL").await;
    let mut msft = subscribe(&client, "MSFT").await;
    first_answer(&mut aapl).await;
    first_answer(&mut msft).await;
    let flooded = items_until(&mut aapl, "500 flooded ticks", {
        let mut n = 0;
        move |_| {
            n += 1;
            n >= 500
        }
    })
    .await;
    assert!(
        flooded.iter().all(|i| matches!(i, SubscriptionItem::Data(_))),
        "{flooded:?}"
    );
    let quiet = timeout(Duration::from_millis(300), msft.next()).await;
    assert!(quiet.is_err(), "nothing for MSFT, beyond K: {quiet:?}");
    let stats = sim.stats().await.expect("stats");
    assert!(stats.flood_ticks >= 100, "{stats:?}");
    drop(client);
    sim.shutdown().await;

    let bad = SimConfig {
        flood: Some(cockpit::sim::Flood {
            ticks_per_sec: 0,
            symbols: 1,
        }),
        ..SimConfig::default()
    };
    let err = bad.validate().expect_err("refused").to_string();
    assert!(
        err.contains("flood of 0 ticks/s over 1 symbols: expected 1 to 1000000"),
        "{err}"
    );
}
