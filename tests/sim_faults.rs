//! Every fault of the simulator's fault script, driven through the real `ibapi` 5.5 async client: dropped
//! sockets and ibapi's automatic reconnect, refused connections and giving up, IB connectivity loss (1100,
//! 1101, 1102), rejects, frozen quotes, margin changes, a restart announcing a stale `nextValidId`, duplicate
//! executions, a fill while disconnected, and faults scheduled by a scenario file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use cockpit::sim::{self, EntryKind, FaultAction, Outcome, Scenario, SimConfig, SimHandle};
use ibapi::TRANSPORT_RECONNECT_CODE;
use ibapi::orders::{
    CommissionReport, ExecutionData, ExecutionSide, Executions, OrderStatus, OrderStatusKind, order_builder,
};
use ibapi::prelude::*;
use rust_decimal::Decimal;
use tokio::time::{Instant, timeout, timeout_at};

/// The bound on any single awaited event.
const WITHIN: Duration = Duration::from_secs(5);
/// How long a stream must stay quiet to count as drained.
const QUIET: Duration = Duration::from_millis(50);
/// With 20 ms market steps a listing moves ~30 times in this window.
const SILENCE: Duration = Duration::from_millis(600);

fn fast() -> SimConfig {
    SimConfig {
        tick_interval: Duration::from_millis(20),
        ..SimConfig::default()
    }
}

async fn start(cfg: SimConfig) -> SimHandle {
    sim::start("127.0.0.1:0".parse().expect("addr"), cfg)
        .await
        .expect("sim starts")
}

async fn connect(sim: &SimHandle, client_id: i32) -> (Client, NoticeStream) {
    let builder = Client::builder()
        .address(sim.addr().to_string())
        .client_id(client_id);
    timeout(WITHIN, builder.connect_with_notice_stream())
        .await
        .expect("connects in time")
        .expect("connects")
}

fn d(x: f64) -> Decimal {
    Decimal::try_from(x).expect("finite")
}

fn dec(text: &str) -> Decimal {
    text.parse().expect("a decimal")
}

/// The next notice with `code`, skipping the others.
async fn notice(notices: &mut NoticeStream, code: i32) -> Notice {
    let deadline = Instant::now() + WITHIN;
    for _ in 0..1_000 {
        let n = timeout_at(deadline, notices.next())
            .await
            .unwrap_or_else(|_| panic!("notice {code} within {WITHIN:?}"))
            .expect("notice stream open");
        if n.code == code {
            return n;
        }
    }
    panic!("no notice {code} among 1000 notices");
}

/// Notices already delivered, without waiting for new ones.
async fn drain_notices(notices: &mut NoticeStream) -> Vec<i32> {
    let mut codes = Vec::new();
    for _ in 0..1_000 {
        match timeout(QUIET, notices.next()).await {
            Ok(Some(n)) => codes.push(n.code),
            Ok(None) | Err(_) => break,
        }
    }
    codes
}

/// Waits for ibapi's reconnect: the −8 notice, then `wait_connected()`.
async fn reconnected(client: &Client, notices: &mut NoticeStream) {
    let n = notice(notices, TRANSPORT_RECONNECT_CODE).await;
    assert!(n.is_client_synthesized(), "{n:?}");
    timeout(WITHIN, client.wait_connected())
        .await
        .expect("wait_connected resolves in time")
        .expect("reconnected");
    assert!(client.is_connected());
}

/// A round trip: every frame the gateway sent before its answer has been routed when this returns.
async fn sync(client: &Client) {
    timeout(WITHIN, client.server_time())
        .await
        .expect("server time in time")
        .expect("server time");
}

async fn subscribe(client: &Client, symbol: &str) -> Subscription<TickTypes> {
    let contract = Contract::stock(symbol).build();
    timeout(WITHIN, client.market_data(&contract).subscribe())
        .await
        .expect("subscribes in time")
        .expect("market data")
}

fn is_quote_tick(tick: &TickTypes) -> bool {
    matches!(
        tick,
        TickTypes::Price(_) | TickTypes::PriceSize(_) | TickTypes::Size(_) | TickTypes::String(_)
    )
}

/// The next bid/ask/last/size tick.
async fn next_tick(sub: &mut Subscription<TickTypes>) -> TickTypes {
    let deadline = Instant::now() + WITHIN;
    for _ in 0..10_000 {
        match timeout_at(deadline, sub.next()).await.expect("a tick in time") {
            Some(Ok(SubscriptionItem::Data(tick))) if is_quote_tick(&tick) => return tick,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("market data ended: {e:?}"),
            None => panic!("market data closed"),
        }
    }
    panic!("no quote tick among 10000 items");
}

/// Counts the items already delivered to a stream, until it has been quiet for [`QUIET`].
async fn drain<S, T>(stream: &mut S) -> usize
where
    S: StreamExt<Item = Result<SubscriptionItem<T>, Error>> + Unpin,
    T: std::fmt::Debug,
{
    for count in 0..10_000 {
        match timeout(QUIET, stream.next()).await {
            Err(_) => return count,
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("stream ended while draining: {other:?}"),
        }
    }
    panic!("a stream that should be quiet delivered 10000 items");
}

/// Asserts a stream delivers nothing for `window`.
async fn assert_silent<S, T>(stream: &mut S, window: Duration, what: &str)
where
    S: StreamExt<Item = Result<SubscriptionItem<T>, Error>> + Unpin,
    T: std::fmt::Debug,
{
    if let Ok(item) = timeout(window, stream.next()).await {
        panic!("{what}: expected nothing within {window:?}, got {item:?}");
    }
}

/// Reads a stream until it ends with `ConnectionReset`, then checks it is closed.
async fn ends_with_reset<S, T>(stream: &mut S)
where
    S: StreamExt<Item = Result<SubscriptionItem<T>, Error>> + Unpin,
{
    let deadline = Instant::now() + WITHIN;
    for _ in 0..100_000 {
        match timeout_at(deadline, stream.next())
            .await
            .expect("the stream ends in time")
        {
            Some(Ok(_)) => {}
            Some(Err(Error::ConnectionReset)) => {
                let after = timeout(WITHIN, stream.next()).await.expect("closes in time");
                assert!(after.is_none(), "the stream ends after ConnectionReset");
                return;
            }
            Some(Err(e)) => panic!("expected ConnectionReset, got {e:?}"),
            None => panic!("the stream closed without ConnectionReset"),
        }
    }
    panic!("the stream never ended");
}

/// The next order update.
async fn next_update(
    updates: &mut Subscription<OrderUpdate>,
    deadline: Instant,
) -> SubscriptionItem<OrderUpdate> {
    timeout_at(deadline, updates.next())
        .await
        .expect("an order update in time")
        .expect("the order update stream is open")
        .expect("no order update error")
}

/// Skips order updates until `order_id` reports `status`.
async fn until_status(
    updates: &mut Subscription<OrderUpdate>,
    order_id: i32,
    status: &OrderStatusKind,
) -> OrderStatus {
    let deadline = Instant::now() + WITHIN;
    for _ in 0..10_000 {
        if let SubscriptionItem::Data(OrderUpdate::OrderStatus(s)) = next_update(updates, deadline).await
            && s.order_id == order_id
            && &s.status == status
        {
            return s;
        }
    }
    panic!("order {order_id} never reported {status:?}");
}

/// Skips order updates until the error `code` for `order_id` arrives as a notice.
async fn until_order_error(updates: &mut Subscription<OrderUpdate>, order_id: i32, code: i32) -> Notice {
    let deadline = Instant::now() + WITHIN;
    for _ in 0..10_000 {
        if let SubscriptionItem::Notice(n) = next_update(updates, deadline).await
            && n.request_id == Some(order_id)
        {
            assert_eq!(n.code, code, "order {order_id}: {n:?}");
            return n;
        }
    }
    panic!("order {order_id} never got error {code}");
}

/// Positions as reported by `positions()` (one snapshot, up to `PositionEnd`).
async fn positions(client: &Client) -> BTreeMap<String, Decimal> {
    let mut sub = timeout(WITHIN, client.positions())
        .await
        .expect("positions in time")
        .expect("positions");
    let deadline = Instant::now() + WITHIN;
    let mut held = BTreeMap::new();
    for _ in 0..1_000 {
        let item = timeout_at(deadline, sub.next())
            .await
            .expect("positions in time")
            .expect("open")
            .expect("no error");
        match item {
            SubscriptionItem::Data(PositionUpdate::Position(p)) => {
                held.insert(p.contract.symbol.to_string(), d(p.position));
            }
            SubscriptionItem::Data(PositionUpdate::PositionEnd) => return held,
            SubscriptionItem::Notice(_) => {}
        }
    }
    panic!("no PositionEnd");
}

fn far_below_limit(qty: f64) -> ibapi::orders::Order {
    order_builder::limit_order(Action::Buy, qty, 1.00)
}

// ---- socket drops and ibapi's reconnect ----

#[tokio::test]
async fn dropped_socket_resets_subscriptions_and_the_client_reconnects_by_itself() {
    let sim = start(fast()).await;
    let (client, mut notices) = connect(&sim, 1).await;
    let mut updates = client.order_update_stream().await.expect("order updates");
    let mut aapl = subscribe(&client, "AAPL").await;
    next_tick(&mut aapl).await;
    let mut held = client.positions().await.expect("positions");

    let dropped = Instant::now();
    sim.inject(FaultAction::DropSocket { client_id: None })
        .await
        .expect("inject");
    ends_with_reset(&mut aapl).await;
    ends_with_reset(&mut held).await;
    assert!(!client.is_connected(), "disconnected until the reconnect");
    let during = client
        .market_data(&Contract::stock("MSFT").build())
        .subscribe()
        .await;
    assert!(
        matches!(during, Err(Error::ConnectionReset)),
        "a new request while reconnecting fails fast: {:?}",
        during.err()
    );

    reconnected(&client, &mut notices).await;
    let waited = dropped.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(2_500),
        "ibapi's first attempt, ~1 s after the drop, reconnects; not {waited:?}"
    );

    let mut again = subscribe(&client, "AAPL").await;
    next_tick(&mut again).await;
    let id = client.next_order_id();
    let market = order_builder::market_order(Action::Buy, 5.0);
    client
        .submit_order(id, &Contract::stock("AAPL").build(), &market)
        .await
        .expect("submit after the reconnect");
    let filled = until_status(&mut updates, id, &OrderStatusKind::Filled).await;
    assert_eq!(
        d(filled.filled),
        Decimal::from(5),
        "the order update stream survived"
    );

    let stats = sim.stats().await.expect("stats");
    assert_eq!(stats.connections, 2, "client 1 connected twice");
    assert_eq!(stats.live_clients, vec![1]);
    assert_eq!(stats.faults_applied, 1);
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn dropping_one_client_id_leaves_the_other_client_connected() {
    let sim = start(fast()).await;
    let (one, mut one_notices) = connect(&sim, 1).await;
    let (two, mut two_notices) = connect(&sim, 2).await;
    let mut one_aapl = subscribe(&one, "AAPL").await;
    let mut two_aapl = subscribe(&two, "AAPL").await;
    next_tick(&mut one_aapl).await;
    next_tick(&mut two_aapl).await;

    sim.inject(FaultAction::DropSocket { client_id: Some(1) })
        .await
        .expect("inject");
    ends_with_reset(&mut one_aapl).await;
    assert!(!one.is_connected());
    assert!(two.is_connected());
    sync(&two).await;
    drain(&mut two_aapl).await;
    next_tick(&mut two_aapl).await;

    reconnected(&one, &mut one_notices).await;
    let mut one_again = subscribe(&one, "AAPL").await;
    next_tick(&mut one_again).await;
    sync(&two).await;
    let seen = drain_notices(&mut two_notices).await;
    assert!(
        !seen.contains(&TRANSPORT_RECONNECT_CODE),
        "client 2 never reconnected: {seen:?}"
    );
    next_tick(&mut two_aapl).await;

    let mut stats = sim.stats().await.expect("stats");
    stats.live_clients.sort_unstable();
    assert_eq!(stats.connections, 3, "client 1 twice, client 2 once");
    assert_eq!(stats.live_clients, vec![1, 2]);
    one.disconnect().await;
    two.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn refused_connections_fail_reconnect_attempts_until_the_gateway_is_back() {
    let sim = start(fast()).await;
    let (client, mut notices) = connect(&sim, 1).await;
    let mut aapl = subscribe(&client, "AAPL").await;
    next_tick(&mut aapl).await;

    let refused_at = Instant::now();
    sim.inject(FaultAction::RefuseConnections {
        duration: Duration::from_millis(1_500),
    })
    .await
    .expect("inject");
    ends_with_reset(&mut aapl).await;
    let newcomer = timeout(WITHIN, Client::connect(&sim.addr().to_string(), 9))
        .await
        .expect("refused in time");
    assert!(
        newcomer.is_err(),
        "a new connection is refused while the gateway is down"
    );

    reconnected(&client, &mut notices).await;
    let waited = refused_at.elapsed();
    // Attempts come 1 s, then 2 s more, after the drop: the first fell in the refusal, the second did not.
    assert!(
        waited >= Duration::from_millis(2_500) && waited < Duration::from_millis(5_500),
        "reconnected on the second attempt (~3 s), not after {waited:?}"
    );
    let mut again = subscribe(&client, "AAPL").await;
    next_tick(&mut again).await;

    let stats = sim.stats().await.expect("stats");
    assert_eq!(stats.connections, 2, "refused attempts never reach the handshake");
    assert_eq!(stats.live_clients, vec![1]);
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn client_gives_up_when_the_refusal_outlasts_its_reconnect_attempts() {
    let sim = start(fast()).await;
    let builder = Client::builder()
        .address(sim.addr().to_string())
        .client_id(1)
        .max_reconnect_attempts(1);
    let (client, mut notices) = timeout(WITHIN, builder.connect_with_notice_stream())
        .await
        .expect("connects in time")
        .expect("connects");
    let mut updates = client.order_update_stream().await.expect("order updates");
    let mut aapl = subscribe(&client, "AAPL").await;

    sim.inject(FaultAction::RefuseConnections {
        duration: Duration::from_mins(1),
    })
    .await
    .expect("inject");
    ends_with_reset(&mut aapl).await;
    let outcome = timeout(WITHIN, client.wait_connected())
        .await
        .expect("gives up in time");
    assert!(
        matches!(outcome, Err(Error::ConnectionFailed)),
        "wait_connected after giving up: {outcome:?}"
    );
    assert!(!client.is_connected());
    let late = timeout(WITHIN, client.server_time())
        .await
        .expect("fails in time");
    assert!(
        matches!(late, Err(Error::ConnectionFailed)),
        "requests after giving up: {late:?}"
    );

    let mut codes = Vec::new();
    for _ in 0..1_000 {
        match timeout(WITHIN, notices.next())
            .await
            .expect("the notice stream ends")
        {
            Some(n) => codes.push(n.code),
            None => break,
        }
    }
    assert!(!codes.contains(&TRANSPORT_RECONNECT_CODE), "{codes:?}");
    let last = timeout(WITHIN, updates.next()).await.expect("order updates end");
    assert!(
        matches!(last, Some(Err(Error::Shutdown))),
        "the order update stream ends: {last:?}"
    );

    let stats = sim.stats().await.expect("stats");
    assert_eq!(stats.connections, 1);
    assert!(stats.live_clients.is_empty());
    sim.shutdown().await;
}

// ---- IB connectivity ----

#[tokio::test]
async fn connectivity_lost_pauses_ticks_and_data_maintained_resumes_them_on_the_same_subscription() {
    let sim = start(fast()).await;
    let (client, mut notices) = connect(&sim, 1).await;
    let mut aapl = subscribe(&client, "AAPL").await;
    next_tick(&mut aapl).await;

    sim.inject(FaultAction::ConnectivityLost {
        restore_after: None,
        data_lost: false,
    })
    .await
    .expect("inject");
    let lost = notice(&mut notices, 1100).await;
    assert!(lost.is_system_message(), "{lost:?}");
    assert_eq!(
        lost.message,
        "Connectivity between IB and Trader Workstation has been lost."
    );
    drain(&mut aapl).await; // ticks sent before the 1100
    assert_silent(&mut aapl, SILENCE, "AAPL while IB connectivity is lost").await;
    assert!(client.is_connected(), "1100 is not a socket drop");

    sim.inject(FaultAction::ConnectivityRestored { data_lost: false })
        .await
        .expect("inject");
    let restored = notice(&mut notices, 1102).await;
    assert!(restored.is_system_message(), "{restored:?}");
    next_tick(&mut aapl).await;

    let stats = sim.stats().await.expect("stats");
    assert_eq!(
        (stats.errors(1100), stats.errors(1101), stats.errors(1102)),
        (1, 0, 1)
    );
    assert_eq!(stats.connections, 1);
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn restored_with_data_lost_ends_market_data_until_the_client_resubscribes() {
    let sim = start(fast()).await;
    let (client, mut notices) = connect(&sim, 1).await;
    let mut aapl = subscribe(&client, "AAPL").await;
    next_tick(&mut aapl).await;

    sim.inject(FaultAction::ConnectivityLost {
        restore_after: None,
        data_lost: true,
    })
    .await
    .expect("inject");
    notice(&mut notices, 1100).await;
    sim.inject(FaultAction::ConnectivityRestored { data_lost: true })
        .await
        .expect("inject");
    let restored = notice(&mut notices, 1101).await;
    assert!(restored.is_system_message(), "{restored:?}");
    assert_eq!(
        restored.message,
        "Connectivity between IB and Trader Workstation has been restored - data lost."
    );
    drain(&mut aapl).await;
    assert_silent(&mut aapl, SILENCE, "AAPL after 1101 without resubscribing").await;

    let mut resubscribed = subscribe(&client, "AAPL").await;
    next_tick(&mut resubscribed).await;
    next_tick(&mut resubscribed).await;
    assert_eq!(drain(&mut aapl).await, 0, "the lost subscription stays silent");
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn connectivity_lost_with_restore_after_restores_by_itself() {
    let sim = start(fast()).await;
    let (client, mut notices) = connect(&sim, 1).await;
    let mut aapl = subscribe(&client, "AAPL").await;
    next_tick(&mut aapl).await;

    let lost_at = Instant::now();
    sim.inject(FaultAction::ConnectivityLost {
        restore_after: Some(Duration::from_millis(400)),
        data_lost: false,
    })
    .await
    .expect("inject");
    notice(&mut notices, 1100).await;
    notice(&mut notices, 1102).await;
    let waited = lost_at.elapsed();
    assert!(waited >= Duration::from_millis(400), "restored after {waited:?}");
    next_tick(&mut aapl).await;
    let stats = sim.stats().await.expect("stats");
    assert_eq!((stats.errors(1100), stats.errors(1102)), (1, 1));
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- orders and quotes ----

#[tokio::test]
async fn reject_next_order_refuses_one_order_with_201_and_accepts_the_next() {
    let sim = start(fast()).await;
    let (client, _notices) = connect(&sim, 1).await;
    let mut updates = client.order_update_stream().await.expect("order updates");
    sim.inject(FaultAction::RejectNextOrder {
        reason: "risk check failed".into(),
    })
    .await
    .expect("inject");

    let msft = Contract::stock("MSFT").build();
    let first = client.next_order_id();
    client
        .submit_order(first, &msft, &far_below_limit(10.0))
        .await
        .expect("submit");
    let rejected = until_order_error(&mut updates, first, 201).await;
    assert_eq!(rejected.message, "Order rejected - reason:risk check failed");

    let second = client.next_order_id();
    client
        .submit_order(second, &msft, &far_below_limit(10.0))
        .await
        .expect("submit");
    let deadline = Instant::now() + WITHIN;
    for _ in 0..100 {
        match next_update(&mut updates, deadline).await {
            SubscriptionItem::Data(OrderUpdate::OrderStatus(s)) if s.status == OrderStatusKind::Submitted => {
                assert_eq!(s.order_id, second);
                break;
            }
            SubscriptionItem::Data(OrderUpdate::OrderStatus(s)) => assert_eq!(s.order_id, second),
            SubscriptionItem::Data(OrderUpdate::OpenOrder(o)) => assert_eq!(o.order_id, second),
            other => panic!("unexpected update before order {second} works: {other:?}"),
        }
    }

    let ledger = sim.ledger().await.expect("ledger");
    let outcomes: Vec<_> = ledger.iter().map(|e| (e.order_id, e.outcome.clone())).collect();
    assert_eq!(
        outcomes,
        vec![
            (
                Some(first),
                Outcome::Refused {
                    code: 201,
                    message: "Order rejected - reason:risk check failed".into()
                }
            ),
            (Some(second), Outcome::Accepted),
        ]
    );
    assert_eq!(sim.stats().await.expect("stats").errors(201), 1);
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn frozen_symbol_gets_no_ticks_while_another_keeps_ticking_until_thawed() {
    let sim = start(fast()).await;
    let (client, _notices) = connect(&sim, 1).await;
    let mut aapl = subscribe(&client, "AAPL").await;
    let mut msft = subscribe(&client, "MSFT").await;
    next_tick(&mut aapl).await;

    sim.inject(FaultAction::FreezeQuotes {
        symbol: "AAPL".into(),
    })
    .await
    .expect("inject");
    sync(&client).await;
    drain(&mut aapl).await; // ticks sent before the freeze
    drain(&mut msft).await;
    for _ in 0..10 {
        next_tick(&mut msft).await;
    }
    assert_eq!(
        drain(&mut aapl).await,
        0,
        "AAPL is frozen while MSFT ticked 10 times"
    );
    assert_silent(&mut aapl, SILENCE, "frozen AAPL").await;

    sim.inject(FaultAction::ThawQuotes {
        symbol: "AAPL".into(),
    })
    .await
    .expect("inject");
    next_tick(&mut aapl).await;
    client.disconnect().await;
    sim.shutdown().await;
}

/// Reads account-summary rows until every tag in `tags` has a row; returns the last value of each.
async fn summary_rows(
    sub: &mut Subscription<AccountSummaryResult>,
    tags: &[&str],
) -> HashMap<String, Decimal> {
    let deadline = Instant::now() + WITHIN;
    let mut values = HashMap::new();
    for _ in 0..1_000 {
        if tags.iter().all(|t| values.contains_key(*t)) {
            return values;
        }
        let item = timeout_at(deadline, sub.next())
            .await
            .expect("account summary in time")
            .expect("open")
            .expect("no error");
        if let SubscriptionItem::Data(AccountSummaryResult::Summary(row)) = item {
            assert_eq!(row.account, "DU1234567");
            values.insert(row.tag.clone(), dec(&row.value));
        }
    }
    panic!("missing account summary tags: {values:?}");
}

/// Account-summary tags the margin test reads.
const MARGIN_TAGS: [&str; 5] = [
    "GrossPositionValue",
    "EquityWithLoanValue",
    "InitMarginReq",
    "MaintMarginReq",
    "ExcessLiquidity",
];

#[tokio::test]
async fn margin_change_pushes_higher_requirements_and_lower_excess_liquidity() {
    let cfg = SimConfig {
        account_push_interval: Duration::from_millis(100),
        ..fast()
    }
    .with_sample_positions();
    let sim = start(cfg).await;
    let (client, _notices) = connect(&sim, 1).await;
    for symbol in ["AAPL", "MSFT", "SPY", "TSLA"] {
        sim.inject(FaultAction::FreezeQuotes {
            symbol: symbol.into(),
        })
        .await
        .expect("freeze the held listings so only the margin rates move the figures");
    }
    let mut summary = client
        .account_summary(&AccountGroup("All".into()), &MARGIN_TAGS)
        .await
        .expect("account summary");
    let before = summary_rows(&mut summary, &MARGIN_TAGS).await;
    let gross = before["GrossPositionValue"];
    let equity = before["EquityWithLoanValue"];
    assert!(gross > Decimal::ZERO, "sample positions are held");
    assert_eq!(before["InitMarginReq"], (gross * dec("0.5")).round_dp(2));
    assert_eq!(before["MaintMarginReq"], (gross * dec("0.25")).round_dp(2));

    sim.inject(FaultAction::MarginChange {
        initial: dec("0.9"),
        maintenance: dec("0.75"),
    })
    .await
    .expect("inject");
    let pushed = summary_rows(
        &mut summary,
        &["InitMarginReq", "MaintMarginReq", "ExcessLiquidity"],
    )
    .await;
    let maint = (gross * dec("0.75")).round_dp(2);
    assert_eq!(pushed["InitMarginReq"], (gross * dec("0.9")).round_dp(2));
    assert_eq!(pushed["MaintMarginReq"], maint);
    assert_eq!(pushed["ExcessLiquidity"], equity - maint);
    assert!(pushed["InitMarginReq"] > before["InitMarginReq"]);
    assert!(pushed["MaintMarginReq"] > before["MaintMarginReq"]);
    assert!(pushed["ExcessLiquidity"] < before["ExcessLiquidity"]);
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn restart_announces_a_stale_next_valid_id_and_reused_ids_are_refused() {
    let sim = start(fast()).await;
    let (client, mut notices) = connect(&sim, 1).await;
    let mut updates = client.order_update_stream().await.expect("order updates");
    let aapl = Contract::stock("AAPL").build();
    for expected in 1..=4 {
        let id = client.next_order_id();
        assert_eq!(id, expected);
        client
            .submit_order(id, &aapl, &far_below_limit(1.0))
            .await
            .expect("submit");
        until_status(&mut updates, id, &OrderStatusKind::Submitted).await;
    }
    let five = client.next_order_id();
    assert_eq!(five, 5);
    let market = order_builder::market_order(Action::Buy, 1.0);
    client.submit_order(five, &aapl, &market).await.expect("submit");
    until_status(&mut updates, five, &OrderStatusKind::Filled).await;
    client.global_cancel().await.expect("global cancel");
    let mut cancelled = HashSet::new();
    while cancelled.len() < 4 {
        let deadline = Instant::now() + WITHIN;
        if let SubscriptionItem::Data(OrderUpdate::OrderStatus(s)) = next_update(&mut updates, deadline).await
            && s.status == OrderStatusKind::Cancelled
        {
            cancelled.insert(s.order_id);
        }
    }
    assert_eq!(cancelled, HashSet::from([1, 2, 3, 4]));

    sim.inject(FaultAction::Restart {
        next_valid_id: 1,
        down: Duration::from_millis(300),
    })
    .await
    .expect("inject");
    reconnected(&client, &mut notices).await;
    let announced = timeout(WITHIN, client.next_valid_order_id())
        .await
        .expect("in time")
        .expect("next valid id");
    assert_eq!(announced, 1, "the restarted gateway announces a stale id below 6");

    client
        .submit_order(1, &aapl, &far_below_limit(1.0))
        .await
        .expect("submit");
    let duplicate = until_order_error(&mut updates, 1, 103).await;
    assert_eq!(duplicate.message, "Duplicate order id");
    client.submit_order(5, &aapl, &market).await.expect("submit");
    until_order_error(&mut updates, 5, 104).await; // id of a filled order: TWS reads it as a modify
    let six = client.next_order_id();
    assert_eq!(six, 6, "ibapi's own generator stayed monotonic");
    client
        .submit_order(six, &aapl, &far_below_limit(1.0))
        .await
        .expect("submit");
    until_status(&mut updates, six, &OrderStatusKind::Submitted).await;

    let ledger = sim.ledger().await.expect("ledger");
    let tail: Vec<_> = ledger[ledger.len() - 3..]
        .iter()
        .map(|e| (e.kind, e.order_id, e.outcome.clone()))
        .collect();
    let refused = |code: i32, message: &str| Outcome::Refused {
        code,
        message: message.into(),
    };
    assert_eq!(
        tail,
        vec![
            (EntryKind::Place, Some(1), refused(103, "Duplicate order id")),
            (
                EntryKind::Place,
                Some(5),
                refused(104, "Can't modify a filled order.")
            ),
            (EntryKind::Place, Some(6), Outcome::Accepted),
        ]
    );
    assert_eq!(sim.stats().await.expect("stats").connections, 2);
    client.disconnect().await;
    sim.shutdown().await;
}

/// Order updates for fills until `reports` commission reports have arrived.
async fn fills_until_reports(
    updates: &mut Subscription<OrderUpdate>,
    reports: usize,
) -> (Vec<ExecutionData>, Vec<CommissionReport>) {
    let deadline = Instant::now() + WITHIN;
    let (mut executions, mut commissions) = (Vec::new(), Vec::new());
    for _ in 0..1_000 {
        if commissions.len() >= reports {
            return (executions, commissions);
        }
        match next_update(updates, deadline).await {
            SubscriptionItem::Data(OrderUpdate::ExecutionData(e)) => executions.push(e),
            SubscriptionItem::Data(OrderUpdate::CommissionReport(c)) => commissions.push(c),
            _ => {}
        }
    }
    panic!("only {} commission reports", commissions.len());
}

#[tokio::test]
async fn duplicate_execution_repeats_the_next_fill_with_the_same_exec_id() {
    let sim = start(fast()).await;
    let (client, _notices) = connect(&sim, 1).await;
    let mut updates = client.order_update_stream().await.expect("order updates");
    let aapl = Contract::stock("AAPL").build();
    let market = order_builder::market_order(Action::Buy, 10.0);

    sim.inject(FaultAction::DuplicateExecution).await.expect("inject");
    let first = client.next_order_id();
    client.submit_order(first, &aapl, &market).await.expect("submit");
    let (executions, commissions) = fills_until_reports(&mut updates, 2).await;
    assert_eq!(executions.len(), 2, "{executions:?}");
    let exec_id = executions[0].execution.execution_id.clone();
    for e in &executions {
        assert_eq!(e.execution.order_id, first);
        assert_eq!(e.execution.execution_id, exec_id);
        assert_eq!(d(e.execution.shares), Decimal::from(10));
    }
    assert_eq!(commissions[0].execution_id, exec_id);
    assert_eq!(commissions[1].execution_id, exec_id);
    assert_eq!(d(commissions[0].commission), d(commissions[1].commission));
    sync(&client).await;
    assert_eq!(drain(&mut updates).await, 0, "exactly one repeat");

    let second = client.next_order_id();
    client.submit_order(second, &aapl, &market).await.expect("submit");
    let (executions, commissions) = fills_until_reports(&mut updates, 1).await;
    sync(&client).await;
    assert_eq!(drain(&mut updates).await, 0, "only the next fill is repeated");
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].execution.order_id, second);
    assert_ne!(executions[0].execution.execution_id, exec_id);
    assert_eq!(commissions[0].execution_id, executions[0].execution.execution_id);
    client.disconnect().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn fill_while_disconnected_is_not_pushed_but_shows_after_the_reconnect() {
    let sim = start(fast()).await;
    let (client, mut notices) = connect(&sim, 1).await;
    let mut updates = client.order_update_stream().await.expect("order updates");
    let id = client.next_order_id();
    client
        .submit_order(id, &Contract::stock("AAPL").build(), &far_below_limit(10.0))
        .await
        .expect("submit");
    until_status(&mut updates, id, &OrderStatusKind::Submitted).await;

    sim.inject(FaultAction::RefuseConnections {
        duration: Duration::from_millis(500),
    })
    .await
    .expect("inject");
    assert!(sim.stats().await.expect("stats").live_clients.is_empty());
    sim.inject(FaultAction::FillWorkingOrders).await.expect("inject");
    reconnected(&client, &mut notices).await;
    sync(&client).await;
    assert_eq!(drain(&mut updates).await, 0, "nothing about the fill was pushed");

    let mut executions = client
        .executions(ExecutionFilter::default())
        .await
        .expect("executions");
    let rows = executions
        .collect_to_end_within(WITHIN)
        .await
        .expect("executions end");
    let [Executions::ExecutionData(e), Executions::CommissionReport(c)] = &rows[..] else {
        panic!("one execution and its commission report: {rows:?}");
    };
    assert_eq!(e.execution.order_id, id);
    assert_eq!(e.execution.side, ExecutionSide::Bought);
    assert_eq!(d(e.execution.shares), Decimal::from(10));
    assert_eq!(d(e.execution.price), dec("1"), "filled at its limit");
    assert_eq!(c.execution_id, e.execution.execution_id);

    let mut completed = client.completed_orders(false).await.expect("completed orders");
    let rows = completed
        .collect_to_end_within(WITHIN)
        .await
        .expect("completed orders end");
    let [Orders::OrderData(done)] = &rows[..] else {
        panic!("one completed order: {rows:?}");
    };
    assert_eq!(done.order_state.status, OrderStatusKind::Filled);
    assert_eq!(done.order.perm_id, e.execution.perm_id);
    assert_eq!(d(done.order.filled_quantity), Decimal::from(10));

    assert_eq!(
        positions(&client).await,
        BTreeMap::from([("AAPL".to_string(), Decimal::from(10))])
    );
    client.disconnect().await;
    sim.shutdown().await;
}

// ---- scenario files ----

/// A scenario file in the temp dir, removed on drop.
struct TempScenario(PathBuf);

impl TempScenario {
    fn write(name: &str, text: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "cockpit-sim-faults-{name}-{}-{nanos}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).expect("write the scenario");
        Self(path)
    }
}

impl Drop for TempScenario {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn scenario_file_fires_a_timed_fault_and_a_message_count_fault() {
    let file = TempScenario::write(
        "good",
        r#"
            unsubscribed = ["NFLX"]

            [[fault]]
            at_secs = 0.3
            action = "connectivity_lost"

            [[fault]]
            after_messages = 1
            action = "reject_next_order"
            reason = "scenario says no"
        "#,
    );
    let scenario = Scenario::load(&file.0).expect("a valid scenario");
    drop(file);
    assert_eq!(scenario.faults.len(), 2);
    let sim = start(SimConfig { scenario, ..fast() }).await;
    let (client, mut notices) = connect(&sim, 1).await;
    let mut updates = client.order_update_stream().await.expect("order updates");

    let lost = notice(&mut notices, 1100).await; // live, or in the handshake if we connected late
    assert!(lost.is_system_message());
    sync(&client).await; // at least one message: the after_messages fault has fired
    let id = client.next_order_id();
    client
        .submit_order(id, &Contract::stock("MSFT").build(), &far_below_limit(1.0))
        .await
        .expect("submit");
    let rejected = until_order_error(&mut updates, id, 201).await;
    assert_eq!(rejected.message, "Order rejected - reason:scenario says no");

    let mut nflx = subscribe(&client, "NFLX").await;
    let refused = timeout(WITHIN, nflx.next()).await.expect("in time");
    assert!(
        matches!(&refused, Some(Err(Error::Notice(n))) if n.code == 354),
        "NFLX is unsubscribed in the scenario: {refused:?}"
    );
    let stats = sim.stats().await.expect("stats");
    assert_eq!(stats.faults_applied, 2);
    assert_eq!((stats.errors(1100), stats.errors(201)), (1, 1));
    client.disconnect().await;
    sim.shutdown().await;
}

#[test]
fn scenario_file_with_mistakes_names_each_problem_and_the_file() {
    let file = TempScenario::write(
        "bad",
        r#"
            delayed = ["AAPL"]

            [[fault]]
            at_secs = -1
            action = "freeze_quotes"
            symbol = "NOPE"

            [[fault]]
            after_messages = 3
            action = "margin_change"
            initial = "0.5"
        "#,
    );
    let err = Scenario::load(&file.0).expect_err("invalid");
    assert_eq!(err.source_name, file.0.display().to_string());
    assert_eq!(
        err.problems,
        vec![
            "delayed: 'AAPL' must also be listed in unsubscribed".to_string(),
            "fault[0] (action 'freeze_quotes'): at_secs = -1: expected a number of seconds ≥ 0".to_string(),
            "fault[0] (action 'freeze_quotes'): symbol = 'NOPE' is not a simulated instrument".to_string(),
            "fault[1] (action 'margin_change'): missing maintenance, e.g. maintenance = \"0.5\"".to_string(),
        ]
    );
    let missing = file.0.with_extension("absent.toml");
    let err = Scenario::load(&missing).expect_err("no such file");
    assert_eq!(err.problems.len(), 1);
    assert!(err.problems[0].starts_with("cannot read: "), "{err}");
}
