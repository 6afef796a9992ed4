//! Many real `ibapi` clients trading at once against one simulator: every order reaches the ledger exactly
//! once, perm ids are unique, every fill is accounted for in the positions, and no client ever trips IB's
//! limits. Small counts in the quick tier; the heavy tier (`COCKPIT_HEAVY=1`, release build) runs large ones.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use cockpit::sim::{self, EntryKind, Outcome, SimConfig};
use ibapi::orders::{Action, OrderStatusKind, order_builder};
use ibapi::prelude::*;
use rust_decimal::Decimal;

const SYMBOLS: &[&str] = &["AAPL", "MSFT", "SPY", "QQQ", "NVDA", "JPM", "XOM", "KO"];

struct Load {
    clients: i32,
    orders_per_client: usize,
}

fn load() -> Load {
    if std::env::var_os("COCKPIT_HEAVY").is_some() {
        Load {
            clients: 6,
            orders_per_client: 300,
        }
    } else {
        Load {
            clients: 3,
            orders_per_client: 20,
        }
    }
}

/// Places `n` small market orders, paced at 40 per second (IB allows 50), and waits for each to fill.
async fn trade(addr: String, client_id: i32, n: usize) -> HashMap<String, Decimal> {
    let client = tokio::time::timeout(Duration::from_secs(5), Client::connect(&addr, client_id))
        .await
        .expect("connect in time")
        .expect("connect");
    let mut updates = client.order_update_stream().await.expect("order update stream");
    let mut pace = tokio::time::interval(Duration::from_millis(25));
    let mut placed = HashMap::new();
    let mut net: HashMap<String, Decimal> = HashMap::new();
    let first_id = client.next_valid_order_id().await.expect("next id");
    for i in 0..n {
        pace.tick().await;
        let symbol = SYMBOLS[(i + usize::try_from(client_id).expect("positive")) % SYMBOLS.len()];
        let qty = f64::from(u32::try_from(i % 5).expect("small") + 1);
        let action = if i % 3 == 0 { Action::Sell } else { Action::Buy };
        let mut order = order_builder::market_order(action, qty);
        order.order_ref = format!("stress:{client_id}:{i}");
        let id = first_id + i32::try_from(i).expect("small");
        let contract = Contract::stock(symbol).build();
        client.submit_order(id, &contract, &order).await.expect("submit");
        placed.insert(
            id,
            (symbol.to_string(), if action == Action::Buy { qty } else { -qty }),
        );
    }
    let mut filled = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while filled.len() < n {
        let item = tokio::time::timeout_at(deadline, updates.next())
            .await
            .expect("every order fills within 30 s")
            .expect("stream open")
            .expect("no stream error");
        if let SubscriptionItem::Data(OrderUpdate::OrderStatus(status)) = item
            && status.status == OrderStatusKind::Filled
            && filled.insert(status.order_id)
        {
            let (symbol, qty) = &placed[&status.order_id];
            *net.entry(symbol.clone()).or_default() += Decimal::try_from(*qty).expect("finite");
        }
    }
    client.disconnect().await;
    net
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_every_order_once_and_every_fill_in_the_positions() {
    let Load {
        clients,
        orders_per_client,
    } = load();
    let cfg = SimConfig {
        tick_interval: Duration::from_millis(50),
        ..SimConfig::default()
    };
    let sim = sim::start("127.0.0.1:0".parse().expect("addr"), cfg)
        .await
        .expect("sim starts");
    let addr = sim.addr().to_string();
    let tasks: Vec<_> = (1..=clients)
        .map(|id| tokio::spawn(trade(addr.clone(), id, orders_per_client)))
        .collect();
    let mut expected: HashMap<String, Decimal> = HashMap::new();
    for task in tasks {
        for (symbol, qty) in task.await.expect("client task") {
            *expected.entry(symbol).or_default() += qty;
        }
    }

    let ledger = sim.ledger().await.expect("ledger");
    let total = usize::try_from(clients).expect("positive") * orders_per_client;
    assert_eq!(ledger.len(), total, "one ledger entry per order");
    assert!(
        ledger
            .iter()
            .all(|e| e.kind == EntryKind::Place && e.outcome == Outcome::Accepted)
    );
    let perm_ids: HashSet<_> = ledger.iter().filter_map(|e| e.perm_id).collect();
    assert_eq!(perm_ids.len(), total, "perm ids are unique");
    let refs: HashSet<_> = ledger.iter().filter_map(|e| e.order_ref.clone()).collect();
    assert_eq!(refs.len(), total, "every orderRef reached the gateway once");

    let checker = Client::connect(&addr, 99).await.expect("checker connects");
    let mut positions = checker.positions().await.expect("positions");
    let mut held: HashMap<String, Decimal> = HashMap::new();
    for _ in 0..=SYMBOLS.len() {
        let item = tokio::time::timeout(Duration::from_secs(5), positions.next())
            .await
            .expect("positions in time")
            .expect("open")
            .expect("ok");
        match item {
            SubscriptionItem::Data(PositionUpdate::Position(p)) => {
                held.insert(
                    p.contract.symbol.to_string(),
                    Decimal::try_from(p.position).expect("finite"),
                );
            }
            SubscriptionItem::Data(PositionUpdate::PositionEnd) => break,
            SubscriptionItem::Notice(_) => {}
        }
    }
    expected.retain(|_, q| !q.is_zero());
    held.retain(|_, q| !q.is_zero());
    assert_eq!(held, expected, "positions equal the net of every fill");

    let stats = sim.stats().await.expect("stats");
    assert_eq!(stats.errors(100), 0, "no client exceeded 50 msg/s");
    assert_eq!(stats.errors(101), 0);
    assert!(
        stats.max_messages_per_second.values().all(|&n| n <= 50),
        "{stats:?}"
    );
    sim.shutdown().await;
}
