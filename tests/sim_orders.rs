//! Every order flow of the simulator, driven through the real `ibapi` 5.5 async client against pinned
//! quotes: market orders in TWS's exact event order with their commissions, partial fills, limit, stop and
//! stop-limit orders, IOC/GTC/DAY, `orderRef` echo, cancels (202, 10147, 10148) and global cancel, open and
//! completed orders, client 0 binding of TWS orders, executions queries and their filters, every refusal
//! code, modifications, the JSON Lines ledger, and order events reaching only the placing client.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use cockpit::sim::{self, EntryKind, FaultAction, Outcome, SimConfig, SimHandle, proto};
use ibapi::orders::{
    CancelOrder, CommissionReport, ExecutionData, Executions, Order, OrderBound, OrderData, OrderStatus,
    OrderStatusKind, TimeInForce,
};
use ibapi::prelude::*;
use rust_decimal::Decimal;
use tokio::time::{Instant, timeout, timeout_at};

/// The bound on any single awaited answer.
const WITHIN: Duration = Duration::from_secs(5);
/// How long a stream must stay quiet, after a round trip to the gateway, to count as drained.
const QUIET: Duration = Duration::from_millis(50);
/// The simulator's default (first) account.
const ACCOUNT: &str = "DU1234567";
/// A second managed account, for the account filter.
const OTHER_ACCOUNT: &str = "DU7654321";

type Update = SubscriptionItem<OrderUpdate>;

// ---- set-up ----

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

async fn updates_of(client: &Client) -> Subscription<OrderUpdate> {
    client.order_update_stream().await.expect("order update stream")
}

/// Sets a listing's quote (cents; `size` shares displayed on each side).
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

/// AAPL at 187.10 / 187.12 (last 187.11), `size` shares on each side.
async fn pin_aapl(sim: &SimHandle, size: i64) {
    pin(sim, "AAPL", 18_710, 18_712, 18_711, size).await;
}

fn stock(symbol: &str) -> Contract {
    Contract::stock(symbol).build()
}

fn market(client: &Client, contract: &Contract, action: Action, qty: u32) -> Order {
    let builder = client.order(contract);
    let builder = if action == Action::Buy {
        builder.buy(qty)
    } else {
        builder.sell(qty)
    };
    builder.market().build_order().expect("market order")
}

fn limit(client: &Client, contract: &Contract, action: Action, qty: u32, price: f64) -> Order {
    let builder = client.order(contract);
    let builder = if action == Action::Buy {
        builder.buy(qty)
    } else {
        builder.sell(qty)
    };
    builder.limit(price).build_order().expect("limit order")
}

/// An order typed into TWS by hand: a GTC limit order.
fn manual_limit(symbol: &str, action: &str, qty: &str, price: f64) -> proto::PlaceOrderRequest {
    proto::PlaceOrderRequest {
        contract: Some(proto::Contract {
            symbol: Some(symbol.into()),
            sec_type: Some("STK".into()),
            exchange: Some("SMART".into()),
            currency: Some("USD".into()),
            ..Default::default()
        }),
        order: Some(proto::Order {
            action: Some(action.into()),
            total_quantity: Some(qty.into()),
            order_type: Some("LMT".into()),
            lmt_price: Some(price),
            tif: Some("GTC".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn d(x: f64) -> Decimal {
    Decimal::try_from(x).expect("finite").round_dp(6)
}

fn dec(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

// ---- reading order events ----

/// A round trip: every frame the gateway sent before its answer has been routed when this returns.
async fn sync(client: &Client) {
    timeout(WITHIN, client.server_time())
        .await
        .expect("server time in time")
        .expect("server time");
}

/// Exactly the next `n` order updates.
async fn take(updates: &mut Subscription<OrderUpdate>, n: usize) -> Vec<Update> {
    let deadline = Instant::now() + WITHIN;
    let mut items = Vec::with_capacity(n);
    while items.len() < n {
        let Ok(next) = timeout_at(deadline, updates.next()).await else {
            panic!(
                "only {} of {n} order updates within {WITHIN:?}: {:?}",
                items.len(),
                shapes(&items)
            );
        };
        items.push(
            next.expect("the order update stream is open")
                .expect("no order update error"),
        );
    }
    items
}

/// Whatever is left on the stream after a round trip to the gateway (the tests expect nothing).
async fn leftover(client: &Client, updates: &mut Subscription<OrderUpdate>) -> Vec<String> {
    sync(client).await;
    let mut rest = Vec::new();
    for _ in 0..1_000 {
        match timeout(QUIET, updates.next()).await {
            Err(_) => return rest,
            Ok(Some(Ok(item))) => rest.push(shape(&item)),
            Ok(other) => panic!("the order update stream ended: {other:?}"),
        }
    }
    panic!("a stream that should be quiet delivered 1000 items: {rest:?}");
}

fn nothing() -> Vec<String> {
    Vec::new()
}

/// One order update as a line: kind, order id, status or side, quantities and prices.
fn shape(item: &Update) -> String {
    match item {
        SubscriptionItem::Data(OrderUpdate::OpenOrder(o)) => {
            format!("OpenOrder {} {}", o.order_id, o.order_state.status.as_str())
        }
        SubscriptionItem::Data(OrderUpdate::OrderStatus(s)) => format!(
            "OrderStatus {} {} {}/{}",
            s.order_id,
            s.status.as_str(),
            s.filled,
            s.remaining
        ),
        SubscriptionItem::Data(OrderUpdate::ExecutionData(e)) => format!(
            "ExecutionData {} {} {}@{}",
            e.execution.order_id,
            e.execution.side.as_str(),
            e.execution.shares,
            e.execution.price
        ),
        SubscriptionItem::Data(OrderUpdate::CommissionReport(c)) => {
            format!("CommissionReport {}", c.commission)
        }
        SubscriptionItem::Data(OrderUpdate::OrderBound(b)) => {
            format!("OrderBound {} client {}", b.order_id, b.client_id)
        }
        SubscriptionItem::Notice(n) => format!(
            "Notice {} {}",
            n.request_id.map_or_else(|| "-".to_string(), |id| id.to_string()),
            n.code
        ),
    }
}

fn shapes(items: &[Update]) -> Vec<String> {
    items.iter().map(shape).collect()
}

/// `shape` without quantities and prices.
fn kind(item: &Update) -> String {
    let line = shape(item);
    let words: Vec<&str> = line.split(' ').collect();
    let keep = match words[0] {
        "OpenOrder" | "OrderStatus" | "Notice" => 3,
        "ExecutionData" => 2,
        _ => 1,
    };
    words[..keep.min(words.len())].join(" ")
}

/// The opening of an order that is accepted and works at once.
fn accepted(id: i32, qty: u32) -> Vec<String> {
    vec![
        format!("OpenOrder {id} PreSubmitted"),
        format!("OrderStatus {id} PreSubmitted 0/{qty}"),
        format!("OpenOrder {id} Submitted"),
        format!("OrderStatus {id} Submitted 0/{qty}"),
    ]
}

fn opens(items: &[Update]) -> Vec<&OrderData> {
    items
        .iter()
        .filter_map(|i| match i {
            SubscriptionItem::Data(OrderUpdate::OpenOrder(o)) => Some(o),
            _ => None,
        })
        .collect()
}

fn statuses(items: &[Update]) -> Vec<&OrderStatus> {
    items
        .iter()
        .filter_map(|i| match i {
            SubscriptionItem::Data(OrderUpdate::OrderStatus(s)) => Some(s),
            _ => None,
        })
        .collect()
}

fn execs(items: &[Update]) -> Vec<&ExecutionData> {
    items
        .iter()
        .filter_map(|i| match i {
            SubscriptionItem::Data(OrderUpdate::ExecutionData(e)) => Some(e),
            _ => None,
        })
        .collect()
}

fn commissions(items: &[Update]) -> Vec<&CommissionReport> {
    items
        .iter()
        .filter_map(|i| match i {
            SubscriptionItem::Data(OrderUpdate::CommissionReport(c)) => Some(c),
            _ => None,
        })
        .collect()
}

/// Places an order that must rest (accepted, working, not marketable); returns its id and events.
async fn place_resting(
    client: &Client,
    updates: &mut Subscription<OrderUpdate>,
    contract: &Contract,
    order: &Order,
) -> (i32, Vec<Update>) {
    let id = client.next_order_id();
    client.submit_order(id, contract, order).await.expect("submit");
    let items = take(updates, 4).await;
    let qty = order.total_quantity.to_string();
    assert_eq!(
        shapes(&items),
        [
            format!("OpenOrder {id} PreSubmitted"),
            format!("OrderStatus {id} PreSubmitted 0/{qty}"),
            format!("OpenOrder {id} Submitted"),
            format!("OrderStatus {id} Submitted 0/{qty}"),
        ]
    );
    assert_eq!(leftover(client, updates).await, nothing(), "order {id} rests");
    (id, items)
}

/// Places an order that must fill at once in one execution; returns its id and its eight events.
async fn place_filled(
    client: &Client,
    updates: &mut Subscription<OrderUpdate>,
    contract: &Contract,
    order: &Order,
) -> (i32, Vec<Update>) {
    let id = client.next_order_id();
    client.submit_order(id, contract, order).await.expect("submit");
    let items = take(updates, 8).await;
    let kinds: Vec<String> = items.iter().map(kind).collect();
    assert_eq!(
        kinds,
        [
            format!("OpenOrder {id} PreSubmitted"),
            format!("OrderStatus {id} PreSubmitted"),
            format!("OpenOrder {id} Submitted"),
            format!("OrderStatus {id} Submitted"),
            format!("ExecutionData {id}"),
            format!("OrderStatus {id} Filled"),
            format!("OpenOrder {id} Filled"),
            "CommissionReport".to_string(),
        ]
    );
    (id, items)
}

/// Cancels a working order and checks TWS's answer: `PendingCancel`, then `Cancelled`, then notice 202.
async fn cancel_working(client: &Client, updates: &mut Subscription<OrderUpdate>, id: i32, qty: u32) {
    let cancel = client.cancel_order(id, "").await.expect("cancel");
    let items = take(updates, 4).await;
    assert_eq!(
        shapes(&items),
        [
            format!("OrderStatus {id} PendingCancel 0/{qty}"),
            format!("OpenOrder {id} Cancelled"),
            format!("OrderStatus {id} Cancelled 0/{qty}"),
            format!("Notice {id} 202"),
        ]
    );
    drop(cancel);
}

/// Rows of an open- or completed-orders request, up to its end marker.
async fn rows(request: Result<Subscription<Orders>, Error>) -> Vec<Orders> {
    let mut sub = request.expect("orders request");
    sub.collect_to_end_within(WITHIN)
        .await
        .expect("rows up to the end marker")
}

/// One open-orders row as a line.
fn row(r: &Orders) -> String {
    match r {
        Orders::OrderData(o) => format!(
            "OpenOrder client {} id {} {} {} {} {}",
            o.order.client_id,
            o.order_id,
            o.contract.symbol,
            o.order.action.as_str(),
            o.order.total_quantity,
            o.order_state.status.as_str()
        ),
        Orders::OrderStatus(s) => format!(
            "OrderStatus client {} id {} {} {}/{}",
            s.client_id,
            s.order_id,
            s.status.as_str(),
            s.filled,
            s.remaining
        ),
    }
}

fn row_lines(rows: &[Orders]) -> Vec<String> {
    rows.iter().map(row).collect()
}

// ---- market orders ----

#[tokio::test]
async fn market_buy_fills_at_the_ask_in_tws_event_order_with_its_commission() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 500).await;
    let client = connect(&sim, 1).await;
    let mut updates = updates_of(&client).await;
    let aapl = stock("AAPL");

    let mut order = client
        .order(&aapl)
        .buy(300)
        .market()
        .build_order()
        .expect("order");
    order.order_ref = "mkt-300".into();
    let id = client.next_order_id();
    client.submit_order(id, &aapl, &order).await.expect("submit");
    let items = take(&mut updates, 8).await;
    let mut expected = accepted(id, 300);
    expected.extend([
        format!("ExecutionData {id} BOT 300@187.12"),
        format!("OrderStatus {id} Filled 300/0"),
        format!("OpenOrder {id} Filled"),
        "CommissionReport 1.5".to_string(), // 300 × $0.005
    ]);
    assert_eq!(shapes(&items), expected);
    assert_eq!(leftover(&client, &mut updates).await, nothing());

    let [exec] = execs(&items)[..] else {
        panic!("one execution")
    };
    let e = &exec.execution;
    assert_eq!(exec.request_id, -1, "a live execution");
    assert_eq!(exec.contract.symbol.to_string(), "AAPL");
    assert_eq!(e.side, ExecutionSide::Bought);
    assert_eq!(
        (
            d(e.shares),
            d(e.price),
            d(e.cumulative_quantity),
            d(e.average_price)
        ),
        (dec("300"), dec("187.12"), dec("300"), dec("187.12"))
    );
    assert_eq!(e.order_reference, "mkt-300");
    assert_eq!((e.account_number.as_str(), e.client_id), (ACCOUNT, 1));
    let [commission] = commissions(&items)[..] else {
        panic!("one commission report")
    };
    assert_eq!(commission.execution_id, e.execution_id);
    assert_eq!(commission.currency, "USD");
    let filled = statuses(&items)[2];
    assert_eq!(filled.average_fill_price.map(d), Some(dec("187.12")));
    assert_eq!(filled.last_fill_price.map(d), Some(dec("187.12")));
    for s in statuses(&items) {
        assert_eq!((s.perm_id, s.client_id), (e.perm_id, 1), "{s:?}");
    }
    for o in opens(&items) {
        assert_eq!(o.order.order_ref, "mkt-300");
        assert_eq!(
            (o.order.order_type.as_str(), o.order.action),
            ("MKT", Action::Buy)
        );
        assert_eq!(d(o.order.total_quantity), dec("300"));
        assert_eq!((o.order.limit_price, o.order.perm_id), (None, e.perm_id));
    }

    // 100 shares × $0.005 = $0.50: IB charges its $1.00 minimum.
    let small = client
        .order(&aapl)
        .buy(100)
        .market()
        .submit()
        .await
        .expect("submit")
        .value();
    let items = take(&mut updates, 8).await;
    assert_eq!(
        shapes(&items)[4..],
        [
            format!("ExecutionData {small} BOT 100@187.12"),
            format!("OrderStatus {small} Filled 100/0"),
            format!("OpenOrder {small} Filled"),
            "CommissionReport 1".to_string(),
        ]
    );
    let ledger = sim.ledger().await.expect("ledger");
    let recorded: Vec<_> = ledger
        .iter()
        .map(|e| (e.kind, e.order_id, e.order_type.as_deref(), e.outcome.clone()))
        .collect();
    assert_eq!(
        recorded,
        [
            (EntryKind::Place, Some(id), Some("MKT"), Outcome::Accepted),
            (EntryKind::Place, Some(small), Some("MKT"), Outcome::Accepted),
        ]
    );
    assert_eq!(ledger[0].perm_id, Some(e.perm_id));
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn quantity_above_the_displayed_size_fills_in_several_executions_never_partially_filled() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 100).await;
    let client = connect(&sim, 1).await;
    let mut updates = updates_of(&client).await;
    let aapl = stock("AAPL");

    let id = client.next_order_id();
    let order = market(&client, &aapl, Action::Buy, 250);
    client.submit_order(id, &aapl, &order).await.expect("submit");
    let mut items = take(&mut updates, 7).await;
    let mut expected = accepted(id, 250);
    expected.extend([
        format!("ExecutionData {id} BOT 100@187.12"),
        format!("OrderStatus {id} Submitted 100/150"),
        "CommissionReport 1".to_string(),
    ]);
    assert_eq!(shapes(&items), expected);
    assert_eq!(
        leftover(&client, &mut updates).await,
        nothing(),
        "the displayed 100 were taken; the rest waits"
    );

    quote(&sim, "AAPL", 18_712, 18_714, 18_713, 100).await;
    let second = take(&mut updates, 3).await;
    assert_eq!(
        shapes(&second),
        [
            format!("ExecutionData {id} BOT 100@187.14"),
            format!("OrderStatus {id} Submitted 200/50"),
            "CommissionReport 1".to_string(),
        ]
    );
    quote(&sim, "AAPL", 18_718, 18_720, 18_719, 100).await;
    let third = take(&mut updates, 4).await;
    assert_eq!(
        shapes(&third),
        [
            format!("ExecutionData {id} BOT 50@187.2"),
            format!("OrderStatus {id} Filled 250/0"),
            format!("OpenOrder {id} Filled"),
            "CommissionReport 1".to_string(),
        ]
    );
    assert_eq!(leftover(&client, &mut updates).await, nothing());
    items.extend(second);
    items.extend(third);

    assert!(
        !shapes(&items).iter().any(|s| s.contains("PartiallyFilled")),
        "TWS has no PartiallyFilled status"
    );
    let fills: Vec<_> = execs(&items)
        .iter()
        .map(|e| (d(e.execution.cumulative_quantity), d(e.execution.average_price)))
        .collect();
    assert_eq!(
        fills,
        [
            (dec("100"), dec("187.12")),
            (dec("200"), dec("187.13")),
            (dec("250"), dec("187.144")),
        ]
    );
    let exec_ids: Vec<_> = execs(&items)
        .iter()
        .map(|e| e.execution.execution_id.clone())
        .collect();
    let reported: Vec<_> = commissions(&items)
        .iter()
        .map(|c| c.execution_id.clone())
        .collect();
    assert_eq!(reported, exec_ids, "one commission report per execution");
    assert_eq!(exec_ids.iter().collect::<HashSet<_>>().len(), 3);
    let last = statuses(&items).last().copied().expect("statuses");
    assert_eq!(last.average_fill_price.map(d), Some(dec("187.144")));
    assert_eq!(sim.ledger().await.expect("ledger").len(), 1, "one order");
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- limit, stop and stop-limit orders ----

#[tokio::test]
async fn limit_orders_rest_until_the_quote_crosses_them_and_fill_at_the_better_touch() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 1_000).await;
    let client = connect(&sim, 1).await;
    let mut updates = updates_of(&client).await;
    let aapl = stock("AAPL");

    let buy = limit(&client, &aapl, Action::Buy, 100, 187.00);
    let (buy_id, items) = place_resting(&client, &mut updates, &aapl, &buy).await;
    assert_eq!(opens(&items)[1].order.limit_price.map(d), Some(dec("187")));
    let sell = limit(&client, &aapl, Action::Sell, 50, 188.00);
    let (sell_id, _) = place_resting(&client, &mut updates, &aapl, &sell).await;

    quote(&sim, "AAPL", 18_690, 18_695, 18_692, 1_000).await; // ask 186.95 ≤ 187.00
    assert_eq!(
        shapes(&take(&mut updates, 4).await),
        [
            format!("ExecutionData {buy_id} BOT 100@186.95"),
            format!("OrderStatus {buy_id} Filled 100/0"),
            format!("OpenOrder {buy_id} Filled"),
            "CommissionReport 1".to_string(),
        ]
    );
    assert_eq!(
        leftover(&client, &mut updates).await,
        nothing(),
        "the sell still rests"
    );

    quote(&sim, "AAPL", 18_805, 18_807, 18_806, 1_000).await; // bid 188.05 ≥ 188.00
    assert_eq!(
        shapes(&take(&mut updates, 4).await),
        [
            format!("ExecutionData {sell_id} SLD 50@188.05"),
            format!("OrderStatus {sell_id} Filled 50/0"),
            format!("OpenOrder {sell_id} Filled"),
            "CommissionReport 1".to_string(),
        ]
    );
    assert_eq!(leftover(&client, &mut updates).await, nothing());
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn stop_order_stays_presubmitted_until_triggered_then_submits_and_fills() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 1_000).await;
    let client = connect(&sim, 1).await;
    let mut updates = updates_of(&client).await;
    let aapl = stock("AAPL");

    let order = client
        .order(&aapl)
        .buy(100)
        .stop(190.00)
        .build_order()
        .expect("stop");
    let id = client.next_order_id();
    client.submit_order(id, &aapl, &order).await.expect("submit");
    let items = take(&mut updates, 2).await;
    assert_eq!(
        shapes(&items),
        [
            format!("OpenOrder {id} PreSubmitted"),
            format!("OrderStatus {id} PreSubmitted 0/100"),
        ]
    );
    let open = opens(&items)[0];
    assert_eq!(open.order.order_type, "STP");
    assert_eq!(open.order.aux_price.map(d), Some(dec("190")));
    assert_eq!(leftover(&client, &mut updates).await, nothing());

    quote(&sim, "AAPL", 18_990, 18_998, 18_995, 1_000).await; // below the stop
    assert_eq!(
        leftover(&client, &mut updates).await,
        nothing(),
        "not triggered below 190.00"
    );

    quote(&sim, "AAPL", 18_999, 19_001, 19_000, 1_000).await; // last 190.00 reaches the stop
    assert_eq!(
        shapes(&take(&mut updates, 6).await),
        [
            format!("OpenOrder {id} Submitted"),
            format!("OrderStatus {id} Submitted 0/100"),
            format!("ExecutionData {id} BOT 100@190.01"),
            format!("OrderStatus {id} Filled 100/0"),
            format!("OpenOrder {id} Filled"),
            "CommissionReport 1".to_string(),
        ]
    );
    assert_eq!(leftover(&client, &mut updates).await, nothing());
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn stop_limit_triggers_then_fills_only_at_or_better_than_its_limit() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 1_000).await;
    let client = connect(&sim, 1).await;
    let mut updates = updates_of(&client).await;
    let aapl = stock("AAPL");

    let order = client
        .order(&aapl)
        .sell(100)
        .stop_limit(185.00, 184.90)
        .build_order()
        .expect("stop limit");
    let id = client.next_order_id();
    client.submit_order(id, &aapl, &order).await.expect("submit");
    let items = take(&mut updates, 2).await;
    assert_eq!(
        shapes(&items),
        [
            format!("OpenOrder {id} PreSubmitted"),
            format!("OrderStatus {id} PreSubmitted 0/100"),
        ]
    );
    let open = opens(&items)[0];
    assert_eq!(open.order.order_type, "STP LMT");
    assert_eq!(
        (open.order.aux_price.map(d), open.order.limit_price.map(d)),
        (Some(dec("185")), Some(dec("184.9")))
    );
    assert_eq!(leftover(&client, &mut updates).await, nothing());

    // Last 184.81 triggers the stop, but the bid 184.80 is below the 184.90 limit.
    quote(&sim, "AAPL", 18_480, 18_482, 18_481, 1_000).await;
    assert_eq!(
        shapes(&take(&mut updates, 2).await),
        [
            format!("OpenOrder {id} Submitted"),
            format!("OrderStatus {id} Submitted 0/100"),
        ]
    );
    assert_eq!(
        leftover(&client, &mut updates).await,
        nothing(),
        "no fill below the limit"
    );

    quote(&sim, "AAPL", 18_495, 18_497, 18_496, 1_000).await; // bid 184.95 ≥ 184.90
    let fill = take(&mut updates, 4).await;
    assert_eq!(
        shapes(&fill),
        [
            format!("ExecutionData {id} SLD 100@184.95"),
            format!("OrderStatus {id} Filled 100/0"),
            format!("OpenOrder {id} Filled"),
            "CommissionReport 1".to_string(),
        ]
    );
    assert!(d(execs(&fill)[0].execution.price) >= dec("184.90"));
    assert_eq!(leftover(&client, &mut updates).await, nothing());
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- time in force ----

#[tokio::test]
async fn ioc_fills_what_is_displayed_and_cancels_the_rest_or_cancels_at_once() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 100).await;
    let client = connect(&sim, 1).await;
    let mut updates = updates_of(&client).await;
    let aapl = stock("AAPL");

    let ioc = |qty: u32, price: f64| {
        client
            .order(&aapl)
            .buy(qty)
            .limit(price)
            .immediate_or_cancel()
            .build_order()
            .expect("IOC")
    };
    let id = client.next_order_id();
    client
        .submit_order(id, &aapl, &ioc(300, 187.20))
        .await
        .expect("submit");
    let items = take(&mut updates, 10).await;
    let mut expected = accepted(id, 300);
    expected.extend([
        format!("ExecutionData {id} BOT 100@187.12"),
        format!("OrderStatus {id} Submitted 100/200"),
        "CommissionReport 1".to_string(),
        format!("OpenOrder {id} Cancelled"),
        format!("OrderStatus {id} Cancelled 100/200"),
        format!("Notice {id} 202"),
    ]);
    assert_eq!(shapes(&items), expected);
    assert_eq!(opens(&items)[0].order.tif, TimeInForce::ImmediateOrCancel);

    let none = client.next_order_id();
    client
        .submit_order(none, &aapl, &ioc(100, 180.00))
        .await
        .expect("submit");
    let mut expected = accepted(none, 100);
    expected.extend([
        format!("OpenOrder {none} Cancelled"),
        format!("OrderStatus {none} Cancelled 0/100"),
        format!("Notice {none} 202"),
    ]);
    assert_eq!(shapes(&take(&mut updates, 7).await), expected);
    assert_eq!(leftover(&client, &mut updates).await, nothing());
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn gtc_and_day_limit_orders_rest_and_echo_their_time_in_force() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 1_000).await;
    let client = connect(&sim, 1).await;
    let mut updates = updates_of(&client).await;
    let aapl = stock("AAPL");

    let gtc = client
        .order(&aapl)
        .buy(100)
        .limit(180.00)
        .good_till_canceled()
        .build_order()
        .expect("GTC");
    let day = client
        .order(&aapl)
        .buy(100)
        .limit(181.00)
        .day_order()
        .build_order()
        .expect("DAY");
    let (gtc_id, gtc_items) = place_resting(&client, &mut updates, &aapl, &gtc).await;
    let (day_id, day_items) = place_resting(&client, &mut updates, &aapl, &day).await;
    assert_eq!(opens(&gtc_items)[1].order.tif, TimeInForce::GoodTillCanceled);
    assert_eq!(opens(&day_items)[1].order.tif, TimeInForce::Day);

    let open = rows(client.open_orders().await).await;
    let tifs: Vec<_> = open
        .iter()
        .filter_map(|r| match r {
            Orders::OrderData(o) => Some((o.order_id, o.order.tif.clone(), o.order_state.status.clone())),
            Orders::OrderStatus(_) => None,
        })
        .collect();
    assert_eq!(
        tifs,
        [
            (gtc_id, TimeInForce::GoodTillCanceled, OrderStatusKind::Submitted),
            (day_id, TimeInForce::Day, OrderStatusKind::Submitted),
        ]
    );
    let ledger = sim.ledger().await.expect("ledger");
    let recorded: Vec<_> = ledger.iter().map(|e| e.tif.as_deref()).collect();
    assert_eq!(recorded, [Some("GTC"), Some("DAY")]);
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- orderRef ----

#[tokio::test]
async fn order_ref_is_echoed_on_open_order_executions_completed_orders_and_the_ledger() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 1_000).await;
    let client = connect(&sim, 1).await;
    let mut updates = updates_of(&client).await;
    let aapl = stock("AAPL");
    let reference = "cockpit/plan-7:leg-1";

    let mut order = market(&client, &aapl, Action::Buy, 10);
    order.order_ref = reference.into();
    let (_, items) = place_filled(&client, &mut updates, &aapl, &order).await;
    let refs: Vec<_> = opens(&items).iter().map(|o| o.order.order_ref.as_str()).collect();
    assert_eq!(refs, [reference; 3]);
    let exec = execs(&items)[0];
    assert_eq!(exec.execution.order_reference, reference);
    let perm_id = exec.execution.perm_id;
    drop(updates); // the queries below would echo their rows on it

    let completed = rows(client.completed_orders(false).await).await;
    let [Orders::OrderData(done)] = &completed[..] else {
        panic!("one completed order: {:?}", completed.len())
    };
    assert_eq!(
        (done.order.order_ref.as_str(), done.order.perm_id),
        (reference, perm_id)
    );

    let mut sub = client
        .executions(ExecutionFilter::default())
        .await
        .expect("executions");
    let found = sub.collect_to_end_within(WITHIN).await.expect("executions end");
    let [Executions::ExecutionData(e), Executions::CommissionReport(_)] = &found[..] else {
        panic!("one execution and its commission: {} rows", found.len())
    };
    assert_eq!(e.execution.order_reference, reference);

    let ledger = sim.ledger().await.expect("ledger");
    assert_eq!(ledger[0].order_ref.as_deref(), Some(reference));
    assert_eq!(ledger[0].perm_id, Some(perm_id));
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- cancels ----

#[tokio::test]
async fn cancel_answers_pending_cancel_cancelled_and_202_and_refuses_unknown_or_done_orders() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 1_000).await;
    let client = connect(&sim, 1).await;
    let mut updates = updates_of(&client).await;
    let aapl = stock("AAPL");

    let resting = limit(&client, &aapl, Action::Buy, 100, 180.00);
    let (working, _) = place_resting(&client, &mut updates, &aapl, &resting).await;
    let mut cancel = client.cancel_order(working, "").await.expect("cancel");
    assert_eq!(
        shapes(&take(&mut updates, 4).await),
        [
            format!("OrderStatus {working} PendingCancel 0/100"),
            format!("OpenOrder {working} Cancelled"),
            format!("OrderStatus {working} Cancelled 0/100"),
            format!("Notice {working} 202"),
        ]
    );
    let deadline = Instant::now() + WITHIN;
    let mut seen = Vec::new();
    for _ in 0..10 {
        match timeout_at(deadline, cancel.next())
            .await
            .expect("cancel answers in time")
        {
            Some(Ok(SubscriptionItem::Data(CancelOrder::OrderStatus(s)))) => {
                seen.push(s.status.as_str().to_string());
            }
            Some(Ok(SubscriptionItem::Notice(n))) => {
                assert!(n.is_cancellation(), "{n:?}");
                assert_eq!(n.message, "Order Canceled - reason:");
                seen.push(n.code.to_string());
                break;
            }
            other => panic!("unexpected on the cancel subscription: {other:?}"),
        }
    }
    assert_eq!(seen, ["PendingCancel", "Cancelled", "202"]);
    drop(cancel);

    let mut unknown = client.cancel_order(999, "").await.expect("cancel");
    let refused = timeout(WITHIN, unknown.next()).await.expect("in time");
    assert!(
        matches!(&refused, Some(Err(Error::Notice(n))) if n.code == 10147),
        "{refused:?}"
    );
    drop(unknown);
    let items = take(&mut updates, 1).await;
    assert_eq!(shapes(&items), ["Notice 999 10147"]);

    let (filled, _) = place_filled(
        &client,
        &mut updates,
        &aapl,
        &market(&client, &aapl, Action::Buy, 10),
    )
    .await;
    let done = client.cancel_order(filled, "").await.expect("cancel");
    assert_eq!(
        shapes(&take(&mut updates, 1).await),
        [format!("Notice {filled} 10148")]
    );
    drop(done);
    assert_eq!(leftover(&client, &mut updates).await, nothing());

    let ledger = sim.ledger().await.expect("ledger");
    let recorded: Vec<_> = ledger
        .iter()
        .map(|e| (e.kind, e.order_id, e.symbol.as_deref(), e.outcome.clone()))
        .collect();
    let refused = |code: i32, message: String| Outcome::Refused { code, message };
    assert_eq!(
        recorded,
        [
            (EntryKind::Place, Some(working), Some("AAPL"), Outcome::Accepted),
            (EntryKind::Cancel, Some(working), Some("AAPL"), Outcome::Accepted),
            (
                EntryKind::Cancel,
                Some(999),
                None,
                refused(
                    10147,
                    "OrderId 999 that needs to be cancelled is not found.".into()
                )
            ),
            (EntryKind::Place, Some(filled), Some("AAPL"), Outcome::Accepted),
            (
                EntryKind::Cancel,
                Some(filled),
                Some("AAPL"),
                refused(
                    10148,
                    format!(
                        "OrderId {filled} that needs to be cancelled cannot be cancelled, state: Filled."
                    )
                )
            ),
        ]
    );
    assert_eq!(ledger[1].perm_id, ledger[0].perm_id, "the cancel names the order");
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn global_cancel_cancels_every_working_order_of_every_client_and_is_in_the_ledger() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 1_000).await;
    pin(&sim, "MSFT", 41_270, 41_275, 41_272, 1_000).await;
    let one = connect(&sim, 1).await;
    let two = connect(&sim, 2).await;
    let mut one_updates = updates_of(&one).await;
    let mut two_updates = updates_of(&two).await;
    let (aapl, msft) = (stock("AAPL"), stock("MSFT"));

    let low = limit(&one, &aapl, Action::Buy, 100, 180.00);
    let (first, _) = place_resting(&one, &mut one_updates, &aapl, &low).await;
    let (second, _) = place_resting(&one, &mut one_updates, &aapl, &low).await;
    let bought = market(&one, &aapl, Action::Buy, 10);
    place_filled(&one, &mut one_updates, &aapl, &bought).await;
    let high = limit(&two, &msft, Action::Sell, 20, 450.00);
    let (theirs, _) = place_resting(&two, &mut two_updates, &msft, &high).await;
    let manual = sim
        .place_manual_order(manual_limit("MSFT", "BUY", "25", 300.0))
        .await
        .expect("sim")
        .expect("a TWS order");

    one.global_cancel().await.expect("global cancel");
    let mut expected = Vec::new();
    for id in [first, second] {
        expected.extend([
            format!("OrderStatus {id} PendingCancel 0/100"),
            format!("OpenOrder {id} Cancelled"),
            format!("OrderStatus {id} Cancelled 0/100"),
            format!("Notice {id} 202"),
        ]);
    }
    assert_eq!(shapes(&take(&mut one_updates, 8).await), expected);
    assert_eq!(
        shapes(&take(&mut two_updates, 4).await),
        [
            format!("OrderStatus {theirs} PendingCancel 0/20"),
            format!("OpenOrder {theirs} Cancelled"),
            format!("OrderStatus {theirs} Cancelled 0/20"),
            format!("Notice {theirs} 202"),
        ]
    );
    assert_eq!(leftover(&one, &mut one_updates).await, nothing());
    assert_eq!(leftover(&two, &mut two_updates).await, nothing());
    assert_eq!(
        row_lines(&rows(one.all_open_orders().await).await),
        nothing(),
        "nothing works any more, the TWS order {manual} included"
    );

    let ledger = sim.ledger().await.expect("ledger");
    let last = ledger.last().expect("entries");
    assert_eq!(
        (last.kind, last.client_id, last.order_id, &last.outcome),
        (EntryKind::GlobalCancel, 1, None, &Outcome::Accepted)
    );
    assert_eq!(ledger.len(), 5, "four orders and the global cancel");
    one.disconnect().await;
    two.disconnect().await;
    sim.shutdown().await;
}

// ---- open orders, client 0 binding, completed orders ----

#[tokio::test]
async fn open_orders_lists_this_clients_working_orders_and_all_open_orders_everyones() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 1_000).await;
    pin(&sim, "MSFT", 41_270, 41_275, 41_272, 1_000).await;
    let one = connect(&sim, 1).await;
    let two = connect(&sim, 2).await;
    let mut one_updates = updates_of(&one).await;
    let mut two_updates = updates_of(&two).await;
    let aapl = stock("AAPL");

    let bid = limit(&one, &aapl, Action::Buy, 100, 180.00);
    place_resting(&one, &mut one_updates, &aapl, &bid).await;
    let bought = market(&one, &aapl, Action::Buy, 10);
    place_filled(&one, &mut one_updates, &aapl, &bought).await;
    let offer = limit(&two, &aapl, Action::Sell, 50, 200.00);
    place_resting(&two, &mut two_updates, &aapl, &offer).await;
    let manual = sim
        .place_manual_order(manual_limit("MSFT", "BUY", "25", 300.0))
        .await
        .expect("sim")
        .expect("a TWS order");
    assert_eq!(manual, -1, "TWS orders have negative ids");
    drop(one_updates);
    drop(two_updates);

    let mine = [
        "OpenOrder client 1 id 1 AAPL BUY 100 Submitted",
        "OrderStatus client 1 id 1 Submitted 0/100",
    ];
    let theirs = [
        "OpenOrder client 2 id 1 AAPL SELL 50 Submitted",
        "OrderStatus client 2 id 1 Submitted 0/50",
    ];
    let typed = [
        "OpenOrder client 0 id -1 MSFT BUY 25 Submitted",
        "OrderStatus client 0 id -1 Submitted 0/25",
    ];
    assert_eq!(row_lines(&rows(one.open_orders().await).await), mine);
    assert_eq!(row_lines(&rows(two.open_orders().await).await), theirs);
    let everyone: Vec<&str> = mine.iter().chain(&theirs).chain(&typed).copied().collect();
    assert_eq!(row_lines(&rows(one.all_open_orders().await).await), everyone);
    one.disconnect().await;
    two.disconnect().await;
    sim.shutdown().await;
}

/// A TWS order, then client 0; returns the order's id and the client with its order update stream.
async fn manual_order_and_client_zero(sim: &SimHandle) -> (i32, Client, Subscription<OrderUpdate>) {
    pin(sim, "MSFT", 41_270, 41_275, 41_272, 1_000).await;
    let manual = sim
        .place_manual_order(manual_limit("MSFT", "BUY", "25", 300.0))
        .await
        .expect("sim")
        .expect("a TWS order");
    let zero = connect(sim, 0).await;
    let updates = updates_of(&zero).await;
    (manual, zero, updates)
}

/// Checks the TWS order is now client 0's order `bound.order_id`.
async fn assert_bound(zero: &Client, bound: &OrderBound) {
    assert_eq!((bound.client_id, bound.order_id), (0, 1), "{bound:?}");
    let open = rows(zero.open_orders().await).await;
    assert_eq!(
        row_lines(&open),
        [
            "OpenOrder client 0 id 1 MSFT BUY 25 Submitted",
            "OrderStatus client 0 id 1 Submitted 0/25",
        ]
    );
    let Orders::OrderData(o) = &open[0] else {
        panic!("an open order first")
    };
    assert_eq!(o.order.perm_id, bound.perm_id);
}

#[tokio::test]
async fn client_zero_auto_open_orders_binds_the_tws_order_with_order_bound() {
    let sim = start(SimConfig::default()).await;
    let (manual, zero, mut updates) = manual_order_and_client_zero(&sim).await;
    assert_eq!(manual, -1);
    let auto = zero.auto_open_orders(true).await.expect("auto open orders");
    let items = take(&mut updates, 1).await;
    let [SubscriptionItem::Data(OrderUpdate::OrderBound(bound))] = &items[..] else {
        panic!("OrderBound first: {:?}", shapes(&items))
    };
    assert_eq!(leftover(&zero, &mut updates).await, nothing());
    drop(auto);
    drop(updates);
    assert_bound(&zero, bound).await;
    zero.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn client_zero_open_orders_binds_the_tws_order_with_order_bound() {
    let sim = start(SimConfig::default()).await;
    let (manual, zero, mut updates) = manual_order_and_client_zero(&sim).await;
    assert_eq!(manual, -1);
    let open = rows(zero.open_orders().await).await;
    assert_eq!(
        row_lines(&open),
        [
            "OpenOrder client 0 id 1 MSFT BUY 25 Submitted",
            "OrderStatus client 0 id 1 Submitted 0/25",
        ]
    );
    let items = take(&mut updates, 1).await;
    let [SubscriptionItem::Data(OrderUpdate::OrderBound(bound))] = &items[..] else {
        panic!("OrderBound first: {:?}", shapes(&items))
    };
    drop(updates);
    assert_bound(&zero, bound).await;
    zero.disconnect().await;
    sim.shutdown().await;
}

/// A completed-order time, `yyyymmdd hh:mm:ss <IANA zone>`.
fn ib_time(text: &str) -> DateTime<Tz> {
    let (local, zone) = text.rsplit_once(' ').expect("time and zone");
    let zone: Tz = zone.parse().expect("an IANA zone");
    NaiveDateTime::parse_from_str(local, "%Y%m%d %H:%M:%S")
        .expect("yyyymmdd hh:mm:ss")
        .and_local_timezone(zone)
        .single()
        .expect("an unambiguous time")
}

#[tokio::test]
async fn completed_orders_report_filled_and_cancelled_orders_with_status_time_ref_and_perm_id() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 1_000).await;
    let client = connect(&sim, 1).await;
    let mut updates = updates_of(&client).await;
    let aapl = stock("AAPL");
    let with_ref = |mut order: Order, reference: &str| {
        order.order_ref = reference.into();
        order
    };

    let fill = with_ref(market(&client, &aapl, Action::Buy, 10), "done-fill");
    let (_, items) = place_filled(&client, &mut updates, &aapl, &fill).await;
    let filled_perm = statuses(&items)[0].perm_id;
    let rest = with_ref(limit(&client, &aapl, Action::Buy, 100, 150.00), "done-cancel");
    let (cancelled, items) = place_resting(&client, &mut updates, &aapl, &rest).await;
    let cancelled_perm = statuses(&items)[0].perm_id;
    cancel_working(&client, &mut updates, cancelled, 100).await;
    quote(&sim, "AAPL", 18_710, 18_712, 18_711, 100).await;
    let mut ioc = with_ref(limit(&client, &aapl, Action::Buy, 300, 187.20), "done-ioc");
    ioc.tif = TimeInForce::ImmediateOrCancel;
    client
        .submit_order(client.next_order_id(), &aapl, &ioc)
        .await
        .expect("submit");
    let ioc_perm = statuses(&take(&mut updates, 10).await)[0].perm_id;
    let working = with_ref(limit(&client, &aapl, Action::Buy, 100, 150.00), "working");
    place_resting(&client, &mut updates, &aapl, &working).await;
    drop(updates);

    let completed = rows(client.completed_orders(false).await).await;
    let now = Utc::now();
    let mut reported = Vec::new();
    for r in &completed {
        let Orders::OrderData(o) = r else {
            panic!("completed orders are order rows: {r:?}")
        };
        let at = ib_time(&o.order_state.completed_time);
        assert!(
            (now - at.with_timezone(&Utc)).abs() < TimeDelta::seconds(60),
            "completed just now: {}",
            o.order_state.completed_time
        );
        assert_eq!(o.order.client_id, 1);
        reported.push((
            o.order.order_ref.clone(),
            o.order_state.status.clone(),
            o.order_state.completed_status.clone(),
            d(o.order.filled_quantity),
            d(o.order.total_quantity),
            o.order.perm_id,
        ));
    }
    // TWS reports a completed order's total quantity as what was left unfilled.
    assert_eq!(
        reported,
        [
            (
                "done-fill".to_string(),
                OrderStatusKind::Filled,
                "Filled Size: 10".to_string(),
                dec("10"),
                dec("0"),
                filled_perm
            ),
            (
                "done-cancel".to_string(),
                OrderStatusKind::Cancelled,
                "Cancelled by Trader".to_string(),
                dec("0"),
                dec("100"),
                cancelled_perm
            ),
            (
                "done-ioc".to_string(),
                OrderStatusKind::Cancelled,
                "Cancelled: IOC remainder".to_string(),
                dec("100"),
                dec("200"),
                ioc_perm
            ),
        ]
    );
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- executions ----

/// One execution row of an executions query.
#[derive(Debug, PartialEq)]
struct Fill {
    symbol: String,
    side: &'static str,
    shares: Decimal,
    client_id: i32,
    account: String,
}

/// Runs an executions query; checks every execution is followed by its commission report and carries the
/// request id, and returns the executions.
async fn fills(client: &Client, filter: ExecutionFilter) -> Vec<Fill> {
    let mut sub = client.executions(filter).await.expect("executions");
    let found = sub.collect_to_end_within(WITHIN).await.expect("executions end");
    assert_eq!(found.len() % 2, 0, "pairs: {found:?}");
    let req_ids: HashSet<i32> = found
        .iter()
        .filter_map(|r| match r {
            Executions::ExecutionData(e) => Some(e.request_id),
            Executions::CommissionReport(_) => None,
        })
        .collect();
    assert!(
        req_ids.len() <= 1 && req_ids.iter().all(|id| *id >= 1_500_000_000),
        "every row echoes the query's request id: {req_ids:?}"
    );
    found
        .chunks(2)
        .map(|pair| {
            let [Executions::ExecutionData(e), Executions::CommissionReport(c)] = pair else {
                panic!("an execution, then its commission report: {pair:?}")
            };
            assert_eq!(c.execution_id, e.execution.execution_id);
            Fill {
                symbol: e.contract.symbol.to_string(),
                side: e.execution.side.as_str(),
                shares: d(e.execution.shares),
                client_id: e.execution.client_id,
                account: e.execution.account_number.clone(),
            }
        })
        .collect()
}

fn fill(symbol: &str, side: &'static str, shares: u32, client_id: i32, account: &str) -> Fill {
    Fill {
        symbol: symbol.into(),
        side,
        shares: Decimal::from(shares),
        client_id,
        account: account.into(),
    }
}

/// Fills in two accounts from two clients: client 1 buys 10 AAPL and sells 5 MSFT (second account),
/// client 2 buys 7 MSFT. Returns the time of the last execution.
async fn trade_for_executions(one: &Client, two: &Client) -> DateTime<Tz> {
    let (aapl, msft) = (stock("AAPL"), stock("MSFT"));
    let mut one_updates = updates_of(one).await;
    let mut two_updates = updates_of(two).await;
    let mut buy = market(one, &aapl, Action::Buy, 10);
    buy.account = ACCOUNT.into();
    place_filled(one, &mut one_updates, &aapl, &buy).await;
    let mut sell = market(one, &msft, Action::Sell, 5);
    sell.account = OTHER_ACCOUNT.into();
    place_filled(one, &mut one_updates, &msft, &sell).await;
    let mut theirs = market(two, &msft, Action::Buy, 7);
    theirs.account = ACCOUNT.into();
    let (_, items) = place_filled(two, &mut two_updates, &msft, &theirs).await;
    ib_time(&execs(&items)[0].execution.time)
}

#[tokio::test]
async fn executions_query_returns_each_fill_with_its_commission_and_honours_every_filter() {
    let cfg = SimConfig {
        accounts: vec![ACCOUNT.into(), OTHER_ACCOUNT.into()],
        ..SimConfig::default()
    };
    let sim = start(cfg).await;
    pin_aapl(&sim, 1_000).await;
    pin(&sim, "MSFT", 41_270, 41_275, 41_272, 1_000).await;
    let one = connect(&sim, 1).await;
    let two = connect(&sim, 2).await;
    let last = trade_for_executions(&one, &two).await;

    let aapl_buy = fill("AAPL", "BOT", 10, 1, ACCOUNT);
    let msft_sell = fill("MSFT", "SLD", 5, 1, OTHER_ACCOUNT);
    let msft_buy = fill("MSFT", "BOT", 7, 2, ACCOUNT);
    let by = |f: ExecutionFilter| fills(&one, f);
    assert_eq!(
        by(ExecutionFilter::default()).await,
        [aapl_buy, msft_sell, msft_buy]
    );
    let symbol = ExecutionFilter {
        symbol: "MSFT".into(),
        ..ExecutionFilter::default()
    };
    assert_eq!(
        by(symbol).await,
        [
            fill("MSFT", "SLD", 5, 1, OTHER_ACCOUNT),
            fill("MSFT", "BOT", 7, 2, ACCOUNT)
        ]
    );
    let sells = ExecutionFilter {
        side: Some(ExecutionFilterSide::Sell),
        ..ExecutionFilter::default()
    };
    assert_eq!(by(sells).await, [fill("MSFT", "SLD", 5, 1, OTHER_ACCOUNT)]);
    let buys = ExecutionFilter {
        side: Some(ExecutionFilterSide::Buy),
        ..ExecutionFilter::default()
    };
    assert_eq!(
        by(buys).await,
        [
            fill("AAPL", "BOT", 10, 1, ACCOUNT),
            fill("MSFT", "BOT", 7, 2, ACCOUNT)
        ]
    );
    let account = ExecutionFilter {
        account_code: OTHER_ACCOUNT.into(),
        ..ExecutionFilter::default()
    };
    assert_eq!(by(account).await, [fill("MSFT", "SLD", 5, 1, OTHER_ACCOUNT)]);
    let client = |id: i32| ExecutionFilter {
        client_id: Some(id),
        ..ExecutionFilter::default()
    };
    assert_eq!(by(client(2)).await, [fill("MSFT", "BOT", 7, 2, ACCOUNT)]);
    assert_eq!(by(client(1)).await.len(), 2);
    assert_eq!(by(client(0)).await.len(), 3, "client id 0 means every client");
    assert_eq!(
        fills(&two, ExecutionFilter::default()).await.len(),
        3,
        "client 2 sees all too"
    );

    let at = |time: String| ExecutionFilter {
        time,
        ..ExecutionFilter::default()
    };
    let after = last + TimeDelta::seconds(1);
    let hour_ago = last - TimeDelta::hours(1);
    let zoned = |t: DateTime<Tz>| t.format("%Y%m%d %H:%M:%S America/New_York").to_string();
    let utc = |t: DateTime<Tz>| t.with_timezone(&Utc).format("%Y%m%d-%H:%M:%S").to_string();
    let plain = |t: DateTime<Tz>| t.format("%Y%m%d %H:%M:%S").to_string(); // TWS's own zone
    assert_eq!(by(at(zoned(hour_ago))).await.len(), 3);
    assert_eq!(by(at(utc(hour_ago))).await.len(), 3);
    assert_eq!(by(at(plain(hour_ago))).await.len(), 3);
    let latest = by(at(zoned(last))).await;
    assert_eq!(
        latest.last(),
        Some(&fill("MSFT", "BOT", 7, 2, ACCOUNT)),
        "at the last fill's second"
    );
    assert_eq!(
        by(at(zoned(after))).await.len(),
        0,
        "zoned, a second after every fill"
    );
    assert_eq!(
        by(at(utc(after))).await.len(),
        0,
        "UTC, a second after every fill"
    );
    assert_eq!(
        by(at(plain(after))).await.len(),
        0,
        "TWS's zone, a second after every fill"
    );
    one.disconnect().await;
    two.disconnect().await;
    sim.shutdown().await;
}

// ---- refusals ----

/// Places `order` with `place_order` and checks TWS refuses it with `code` and `message`: the placing
/// subscription ends with that error, the order update stream gets it as a notice and nothing else, and
/// the ledger's last entry records the refusal.
#[expect(clippy::too_many_arguments, reason = "one refusal, fully described")]
async fn assert_refused(
    sim: &SimHandle,
    client: &Client,
    updates: &mut Subscription<OrderUpdate>,
    id: i32,
    contract: &Contract,
    order: &Order,
    code: i32,
    message: &str,
) {
    let mut placed = client.place_order(id, contract, order).await.expect("place");
    match timeout(WITHIN, placed.next()).await.expect("answered in time") {
        Some(Err(Error::Notice(n))) => {
            assert_eq!(
                (n.request_id, n.code, n.message.as_str()),
                (Some(id), code, message)
            );
        }
        other => panic!("expected error {code} for order {id}, got {other:?}"),
    }
    let end = timeout(WITHIN, placed.next()).await.expect("ends in time");
    assert!(end.is_none(), "the placing subscription ends: {end:?}");
    let items = take(updates, 1).await;
    assert_eq!(shapes(&items), [format!("Notice {id} {code}")]);
    let SubscriptionItem::Notice(n) = &items[0] else {
        panic!("a notice")
    };
    assert_eq!(n.message, message);
    assert_eq!(leftover(client, updates).await, nothing());
    let ledger = sim.ledger().await.expect("ledger");
    let last = ledger.last().expect("recorded");
    assert_eq!(
        (last.kind, last.order_id, last.perm_id),
        (EntryKind::Place, Some(id), None)
    );
    assert_eq!(
        last.outcome,
        Outcome::Refused {
            code,
            message: message.into()
        }
    );
}

/// A simulator with AAPL pinned, client 1 and its order update stream.
async fn refusal_setup(cfg: SimConfig) -> (SimHandle, Client, Subscription<OrderUpdate>) {
    let sim = start(cfg).await;
    pin_aapl(&sim, 1_000).await;
    let client = connect(&sim, 1).await;
    let updates = updates_of(&client).await;
    (sim, client, updates)
}

#[tokio::test]
async fn reject_fault_refuses_the_next_order_with_201_on_both_streams() {
    let (sim, client, mut updates) = refusal_setup(SimConfig::default()).await;
    let aapl = stock("AAPL");
    sim.inject(FaultAction::RejectNextOrder {
        reason: "simulated risk check".into(),
    })
    .await
    .expect("inject");
    let order = limit(&client, &aapl, Action::Buy, 100, 180.00);
    let id = client.next_order_id();
    let text = "Order rejected - reason:simulated risk check";
    assert_refused(&sim, &client, &mut updates, id, &aapl, &order, 201, text).await;
    place_resting(&client, &mut updates, &aapl, &order).await; // only the next one
    assert_eq!(sim.stats().await.expect("stats").errors(201), 1);
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn reused_and_lower_order_ids_are_refused_with_103() {
    let (sim, client, mut updates) = refusal_setup(SimConfig::default()).await;
    let aapl = stock("AAPL");
    let order = limit(&client, &aapl, Action::Buy, 100, 180.00);
    let (first, _) = place_resting(&client, &mut updates, &aapl, &order).await;
    cancel_working(&client, &mut updates, first, 100).await;
    let dup = "Duplicate order id";
    assert_refused(&sim, &client, &mut updates, first, &aapl, &order, 103, dup).await;

    client.submit_order(5, &aapl, &order).await.expect("submit");
    assert_eq!(shapes(&take(&mut updates, 4).await), accepted(5, 100));
    assert_refused(&sim, &client, &mut updates, 3, &aapl, &order, 103, dup).await;

    let off_tick = limit(&client, &aapl, Action::Buy, 100, 180.005);
    let tick = "The price does not conform to the minimum price variation for this contract.";
    assert_refused(&sim, &client, &mut updates, 6, &aapl, &off_tick, 110, tick).await;
    assert_refused(&sim, &client, &mut updates, 6, &aapl, &order, 103, dup).await;
    let codes: Vec<_> = sim
        .ledger()
        .await
        .expect("ledger")
        .iter()
        .map(|e| match &e.outcome {
            Outcome::Accepted => (e.kind, e.order_id, 0),
            Outcome::Refused { code, .. } => (e.kind, e.order_id, *code),
        })
        .collect();
    assert_eq!(
        codes,
        [
            (EntryKind::Place, Some(first), 0),
            (EntryKind::Cancel, Some(first), 0),
            (EntryKind::Place, Some(first), 103),
            (EntryKind::Place, Some(5), 0),
            (EntryKind::Place, Some(3), 103),
            (EntryKind::Place, Some(6), 110),
            (EntryKind::Place, Some(6), 103),
        ]
    );
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn off_tick_limit_price_is_refused_with_110() {
    let (sim, client, mut updates) = refusal_setup(SimConfig::default()).await;
    let aapl = stock("AAPL");
    let order = limit(&client, &aapl, Action::Buy, 100, 100.005);
    let text = "The price does not conform to the minimum price variation for this contract.";
    let id = client.next_order_id();
    assert_refused(&sim, &client, &mut updates, id, &aapl, &order, 110, text).await;
    assert_eq!(sim.ledger().await.expect("ledger")[0].limit_price, Some(100.005));
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_symbol_is_refused_with_200() {
    let (sim, client, mut updates) = refusal_setup(SimConfig::default()).await;
    let nope = stock("NOPE");
    let order = market(&client, &nope, Action::Buy, 10);
    let text = "No security definition has been found for the request";
    let id = client.next_order_id();
    assert_refused(&sim, &client, &mut updates, id, &nope, &order, 200, text).await;
    let ledger = sim.ledger().await.expect("ledger");
    assert_eq!(
        (ledger[0].symbol.as_deref(), ledger[0].con_id),
        (Some("NOPE"), None)
    );
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn unsupported_order_type_is_refused_with_387() {
    let (sim, client, mut updates) = refusal_setup(SimConfig::default()).await;
    let aapl = stock("AAPL");
    let mut order = market(&client, &aapl, Action::Sell, 100);
    order.order_type = "TRAIL".into();
    order.aux_price = Some(1.00);
    let text = "Unsupported order type for this exchange and security type.";
    let id = client.next_order_id();
    assert_refused(&sim, &client, &mut updates, id, &aapl, &order, 387, text).await;
    let ledger = sim.ledger().await.expect("ledger");
    assert_eq!(ledger[0].order_type.as_deref(), Some("TRAIL"));
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn unmanaged_account_is_refused_with_321() {
    let (sim, client, mut updates) = refusal_setup(SimConfig::default()).await;
    let aapl = stock("AAPL");
    let mut order = limit(&client, &aapl, Action::Buy, 100, 180.00);
    order.account = "DU999".into();
    let text = "Error validating request.-'bN' : cause - The account code 'DU999' is not managed";
    let id = client.next_order_id();
    assert_refused(&sim, &client, &mut updates, id, &aapl, &order, 321, text).await;
    let ledger = sim.ledger().await.expect("ledger");
    assert_eq!(ledger[0].account.as_deref(), Some("DU999"));
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn order_beyond_the_accounts_margin_is_refused_with_201_and_ibs_margin_text() {
    let (sim, client, mut updates) = refusal_setup(SimConfig::default()).await;
    pin(&sim, "SPY", 59_999, 60_000, 60_000, 1_000).await;
    let spy = stock("SPY");
    let order = market(&client, &spy, Action::Buy, 100_000);
    // $1,000,000 of cash against 100,000 × $600.00 × 50% initial margin.
    let text = "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION \
                YOUR EQUITY WITH LOAN VALUE [1000000.00 USD] MUST EXCEED THE INITIAL MARGIN [30000000.00 USD]";
    let id = client.next_order_id();
    assert_refused(&sim, &client, &mut updates, id, &spy, &order, 201, text).await;
    place_filled(
        &client,
        &mut updates,
        &spy,
        &market(&client, &spy, Action::Buy, 100),
    )
    .await;
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- modifications ----

#[tokio::test]
async fn placing_again_with_a_working_orders_id_modifies_it_and_a_filled_one_is_refused_with_104() {
    let (sim, client, mut updates) = refusal_setup(SimConfig::default()).await;
    let aapl = stock("AAPL");
    let (id, _) = place_resting(
        &client,
        &mut updates,
        &aapl,
        &limit(&client, &aapl, Action::Buy, 100, 180.00),
    )
    .await;

    let higher = limit(&client, &aapl, Action::Buy, 100, 181.00);
    client.submit_order(id, &aapl, &higher).await.expect("modify");
    let items = take(&mut updates, 2).await;
    assert_eq!(
        shapes(&items),
        [
            format!("OpenOrder {id} Submitted"),
            format!("OrderStatus {id} Submitted 0/100")
        ]
    );
    assert_eq!(opens(&items)[0].order.limit_price.map(d), Some(dec("181")));
    assert_eq!(leftover(&client, &mut updates).await, nothing());

    let marketable = limit(&client, &aapl, Action::Buy, 100, 187.50);
    client.submit_order(id, &aapl, &marketable).await.expect("modify");
    let items = take(&mut updates, 6).await;
    assert_eq!(
        shapes(&items),
        [
            format!("OpenOrder {id} Submitted"),
            format!("OrderStatus {id} Submitted 0/100"),
            format!("ExecutionData {id} BOT 100@187.12"),
            format!("OrderStatus {id} Filled 100/0"),
            format!("OpenOrder {id} Filled"),
            "CommissionReport 1".to_string(),
        ]
    );
    assert_eq!(opens(&items)[0].order.limit_price.map(d), Some(dec("187.5")));

    let text = "Can't modify a filled order.";
    assert_refused(&sim, &client, &mut updates, id, &aapl, &higher, 104, text).await;
    let ledger = sim.ledger().await.expect("ledger");
    let recorded: Vec<_> = ledger
        .iter()
        .map(|e| (e.kind, e.order_id, e.limit_price, e.perm_id.is_some()))
        .collect();
    assert_eq!(
        recorded,
        [
            (EntryKind::Place, Some(id), Some(180.0), true),
            (EntryKind::Modify, Some(id), Some(181.0), true),
            (EntryKind::Modify, Some(id), Some(187.5), true),
            (EntryKind::Place, Some(id), Some(181.0), false),
        ]
    );
    assert_eq!(ledger[1].perm_id, ledger[0].perm_id, "a modify keeps the perm id");
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- the ledger file ----

/// A ledger file in the temp dir, removed on drop.
struct TempLedger(PathBuf);

impl TempLedger {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        Self(std::env::temp_dir().join(format!(
            "cockpit-sim-orders-ledger-{}-{nanos}.jsonl",
            std::process::id()
        )))
    }
}

impl Drop for TempLedger {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn ledger_file_holds_one_json_object_per_entry_in_the_same_order() {
    let file = TempLedger::new();
    let cfg = SimConfig {
        ledger_path: Some(file.0.clone()),
        ..SimConfig::default()
    };
    let (sim, client, mut updates) = refusal_setup(cfg).await;
    let aapl = stock("AAPL");
    let resting = limit(&client, &aapl, Action::Buy, 100, 180.00);
    let (id, _) = place_resting(&client, &mut updates, &aapl, &resting).await;
    client
        .submit_order(id, &aapl, &limit(&client, &aapl, Action::Buy, 100, 181.00))
        .await
        .expect("modify");
    take(&mut updates, 2).await;
    cancel_working(&client, &mut updates, id, 100).await;
    let off_tick = limit(&client, &aapl, Action::Buy, 100, 180.005);
    let tick = "The price does not conform to the minimum price variation for this contract.";
    let next = client.next_order_id();
    assert_refused(&sim, &client, &mut updates, next, &aapl, &off_tick, 110, tick).await;
    place_filled(
        &client,
        &mut updates,
        &aapl,
        &market(&client, &aapl, Action::Sell, 10),
    )
    .await;
    place_resting(&client, &mut updates, &aapl, &resting).await;
    client.global_cancel().await.expect("global cancel");
    take(&mut updates, 4).await;

    let ledger = sim.ledger().await.expect("ledger");
    let kinds: Vec<_> = ledger.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::Place,
            EntryKind::Modify,
            EntryKind::Cancel,
            EntryKind::Place,
            EntryKind::Place,
            EntryKind::Place,
            EntryKind::GlobalCancel,
        ]
    );
    let text = std::fs::read_to_string(&file.0).expect("the ledger file");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), ledger.len(), "one line per entry");
    assert!(text.ends_with('\n'));
    for (n, (line, entry)) in lines.iter().zip(&ledger).enumerate() {
        let parsed: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        assert!(parsed.is_object(), "line {n}: {line}");
        assert_eq!(
            parsed,
            serde_json::to_value(entry).expect("serializes"),
            "line {n}"
        );
        assert_eq!(
            entry.seq,
            u64::try_from(n + 1).expect("small"),
            "seq counts from 1"
        );
    }
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- several clients ----

/// Places five market orders tagged with the client id and reads exactly their 40 events.
async fn trade_five(client: &Client, updates: &mut Subscription<OrderUpdate>, client_id: i32) -> Vec<Update> {
    let aapl = stock("AAPL");
    for qty in 1..=5 {
        let mut order = market(client, &aapl, Action::Buy, qty);
        order.order_ref = format!("client-{client_id}:{qty}");
        client
            .submit_order(client.next_order_id(), &aapl, &order)
            .await
            .expect("submit");
    }
    take(updates, 40).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_get_only_their_own_order_events_and_unique_perm_ids() {
    let sim = start(SimConfig::default()).await;
    pin_aapl(&sim, 10_000).await;
    let (one, two, three) = (
        connect(&sim, 1).await,
        connect(&sim, 2).await,
        connect(&sim, 3).await,
    );
    let mut streams = [
        updates_of(&one).await,
        updates_of(&two).await,
        updates_of(&three).await,
    ];
    let [s1, s2, s3] = &mut streams;
    let (e1, e2, e3) = tokio::join!(
        trade_five(&one, s1, 1),
        trade_five(&two, s2, 2),
        trade_five(&three, s3, 3)
    );
    let clients = [&one, &two, &three];
    let mut perm_ids = HashSet::new();
    for (k, (client, events)) in clients.iter().zip([e1, e2, e3]).enumerate() {
        let client_id = i32::try_from(k + 1).expect("small");
        assert_eq!(leftover(client, &mut streams[k]).await, nothing());
        let filled: HashSet<i32> = statuses(&events)
            .iter()
            .filter(|s| s.status == OrderStatusKind::Filled)
            .map(|s| s.order_id)
            .collect();
        assert_eq!(filled, HashSet::from([1, 2, 3, 4, 5]), "client {client_id}");
        for o in opens(&events) {
            assert_eq!(o.order.client_id, client_id);
            assert!(
                o.order.order_ref.starts_with(&format!("client-{client_id}:")),
                "{o:?}"
            );
        }
        for s in statuses(&events) {
            assert_eq!(s.client_id, client_id);
            perm_ids.insert(s.perm_id);
        }
        for e in execs(&events) {
            assert_eq!(e.execution.client_id, client_id);
            assert!(
                e.execution
                    .order_reference
                    .starts_with(&format!("client-{client_id}:"))
            );
        }
        assert_eq!(commissions(&events).len(), 5);
    }
    assert_eq!(perm_ids.len(), 15, "a perm id per order, across clients");
    let ledger = sim.ledger().await.expect("ledger");
    let recorded: HashSet<i64> = ledger.iter().filter_map(|e| e.perm_id).collect();
    assert_eq!(recorded, perm_ids);
    for c in clients {
        c.disconnect().await;
    }
    sim.shutdown().await;
}
