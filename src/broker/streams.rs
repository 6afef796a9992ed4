//! Forwarding IB's streams to the core: the order-update stream (its own task), account values and quotes
//! (a task each), and the rows of the position stream (read by the adapter's task itself, which also
//! takes the snapshots it continues from).

use std::sync::Arc;

use chrono::Utc;
use ibapi::accounts::PositionUpdate;
use ibapi::contracts::Contract;
use ibapi::contracts::tick_types::TickType;
use ibapi::orders::OrderUpdate;
use ibapi::prelude::*;
use rust_decimal::Decimal;
use tokio::sync::mpsc;

use super::convert;
use crate::app::{BrokerEvent, Msg};
use crate::domain::{AccountId, DataStatus, Instrument, OrderId, Price, Quote};

pub(super) fn commission(c: &ibapi::orders::CommissionReport) -> Msg {
    Msg::Broker(BrokerEvent::Commission {
        exec_id: c.execution_id.clone(),
        commission: convert::decimal(c.commission).unwrap_or(Decimal::ZERO),
        currency: c.currency.clone(),
        realized_pnl: c.realized_pnl.and_then(convert::decimal),
    })
}

/// What one order-update item means for the core: `Ok(None)` to skip it, `Err` when the stream is over.
fn order_update(item: Result<SubscriptionItem<OrderUpdate>, ibapi::Error>) -> Result<Option<Msg>, String> {
    Ok(Some(match item {
        Ok(SubscriptionItem::Data(OrderUpdate::OrderStatus(s))) => {
            let Ok(order_id) = OrderId::new(s.order_id) else {
                return Ok(None);
            };
            match convert::order_event(&s.status, s.filled) {
                Some(event) => Msg::Broker(BrokerEvent::OrderStatus { order_id, event }),
                None => Msg::Broker(BrokerEvent::Mismatch {
                    detail: format!("order {}: unknown status {:?}", s.order_id, s.status),
                }),
            }
        }
        // IB copies the replies to the cockpit's own executions query onto the order stream: those are
        // the reconciliation's business, not fills happening now.
        Ok(SubscriptionItem::Data(OrderUpdate::ExecutionData(e))) if e.request_id != -1 => return Ok(None),
        Ok(SubscriptionItem::Data(OrderUpdate::ExecutionData(e))) => {
            let x = &e.execution;
            let (Ok(order_id), Some(quantity), Some(price)) = (
                OrderId::new(x.order_id),
                convert::decimal(x.shares),
                convert::decimal(x.price),
            ) else {
                return Ok(None);
            };
            Msg::Broker(BrokerEvent::Execution {
                order_id,
                exec_id: x.execution_id.clone(),
                quantity,
                price,
                replay: false,
            })
        }
        Ok(SubscriptionItem::Data(OrderUpdate::CommissionReport(c))) => commission(&c),
        Ok(SubscriptionItem::Notice(n)) => Msg::Broker(BrokerEvent::Error {
            order_id: n.request_id.and_then(|id| OrderId::new(id).ok()),
            code: n.code,
            text: n.message,
        }),
        Ok(SubscriptionItem::Data(_)) => return Ok(None),
        Err(e) if e.is_connection_lost() => return Ok(None),
        Err(e) => return Err(format!("the order update stream ended: {e}")),
    }))
}

/// The order-update stream (statuses, executions and commissions of this client's orders). It survives
/// reconnects but ends on a decode error (with no gap marker), which the core must hear about.
pub(super) async fn forward_orders(mut updates: Subscription<OrderUpdate>, feed: mpsc::Sender<Msg>) {
    while let Some(item) = updates.next().await {
        let msg = match order_update(item) {
            Ok(None) => continue,
            Ok(Some(msg)) => msg,
            Err(why) => {
                let _ = feed
                    .send(Msg::Broker(BrokerEvent::OrderStreamEnded { why }))
                    .await;
                return;
            }
        };
        if feed.send(msg).await.is_err() {
            return;
        }
    }
}

/// The next row of the position stream, if there is one (pending for ever when there is none).
pub(super) async fn next_position(
    positions: &mut Option<Subscription<PositionUpdate>>,
) -> Option<Result<SubscriptionItem<PositionUpdate>, ibapi::Error>> {
    match positions.as_mut() {
        Some(sub) => sub.next().await,
        None => std::future::pending().await,
    }
}

/// The account summary tags the cockpit shows and checks.
const ACCOUNT_TAGS: [&str; 7] = [
    "NetLiquidation",
    "TotalCashValue",
    "BuyingPower",
    "ExcessLiquidity",
    "Cushion",
    "InitMarginReq",
    "MaintMarginReq",
];

/// Account values as IB's account summary pushes them.
pub(super) async fn forward_account(client: Arc<Client>, feed: mpsc::Sender<Msg>) {
    use ibapi::accounts::AccountSummaryResult;
    use ibapi::accounts::types::AccountGroup;
    let Ok(mut sub) = client
        .account_summary(&AccountGroup("All".into()), &ACCOUNT_TAGS)
        .await
    else {
        return;
    };
    while let Some(Ok(item)) = sub.next().await {
        let SubscriptionItem::Data(AccountSummaryResult::Summary(row)) = item else {
            continue;
        };
        let (Ok(account), Ok(value)) = (AccountId::parse(&row.account), row.value.parse::<Decimal>()) else {
            continue;
        };
        let msg = Msg::Broker(BrokerEvent::AccountValue {
            account,
            tag: row.tag,
            value,
        });
        if feed.send(msg).await.is_err() {
            return;
        }
    }
}

/// The account's daily, unrealized and realized P&L (IB's `reqPnL`), as account values tagged `DailyPnL`,
/// `UnrealizedPnL` and `RealizedPnL`; IB pushes them about once a second while they change.
pub(super) async fn forward_pnl(client: Arc<Client>, account: AccountId, feed: mpsc::Sender<Msg>) {
    let ib_account = ibapi::accounts::types::AccountId(account.to_string());
    let Ok(mut sub) = client.pnl(&ib_account, None).await else {
        return;
    };
    while let Some(Ok(item)) = sub.next().await {
        let SubscriptionItem::Data(pnl) = item else {
            continue;
        };
        let values = [
            ("DailyPnL", convert::decimal(pnl.daily_pnl)),
            ("UnrealizedPnL", pnl.unrealized_pnl.and_then(convert::decimal)),
            ("RealizedPnL", pnl.realized_pnl.and_then(convert::decimal)),
        ];
        for (tag, value) in values {
            let Some(value) = value else { continue };
            let msg = Msg::Broker(BrokerEvent::AccountValue {
                account: account.clone(),
                tag: tag.to_owned(),
                value,
            });
            if feed.send(msg).await.is_err() {
                return;
            }
        }
    }
}

/// Top of book for one instrument: each change of bid, ask or last is a fresh quote.
pub(super) async fn forward_quotes(
    client: Arc<Client>,
    instrument: Instrument,
    contract: Contract,
    feed: mpsc::Sender<Msg>,
) {
    use ibapi::market_data::MarketDataType;
    use ibapi::market_data::realtime::TickTypes;
    let status = |status: DataStatus| {
        Msg::Broker(BrokerEvent::MarketData {
            instrument: instrument.clone(),
            status,
        })
    };
    let mut sub = match client.market_data(&contract).subscribe().await {
        Ok(sub) => sub,
        Err(e) => {
            if !e.is_connection_lost() {
                let _ = feed.send(status(unavailable(&e))).await;
            }
            return;
        }
    };
    let mut quote = Quote::empty(Utc::now());
    while let Some(item) = sub.next().await {
        let msg = match item {
            Ok(SubscriptionItem::Data(TickTypes::MarketDataType(kind))) => status(match kind {
                MarketDataType::Realtime => DataStatus::Live,
                MarketDataType::Frozen => DataStatus::Frozen,
                MarketDataType::Delayed | MarketDataType::DelayedFrozen => DataStatus::Delayed,
                MarketDataType::Unknown => continue,
            }),
            Ok(SubscriptionItem::Data(tick)) => {
                let price = |v: f64| convert::decimal(v).and_then(|d| Price::new(d).ok());
                let changed = match tick {
                    TickTypes::PriceSize(t) => set_price(&mut quote, t.price_tick_type, price(t.price)),
                    TickTypes::Price(t) => set_price(&mut quote, t.tick_type, price(t.price)),
                    _ => false,
                };
                if !changed {
                    continue;
                }
                quote.received_at = Utc::now();
                Msg::Broker(BrokerEvent::Quote {
                    instrument: instrument.clone(),
                    quote: quote.clone(),
                })
            }
            Ok(SubscriptionItem::Notice(n)) if n.code == 10167 => status(DataStatus::Delayed),
            Ok(SubscriptionItem::Notice(n)) if matches!(n.code, 354 | 200 | 10168) => {
                status(DataStatus::Unavailable {
                    why: format!("{} ({})", n.message, n.code),
                })
            }
            Ok(SubscriptionItem::Notice(_)) => continue,
            // A lost connection ends every subscription; the reconnect subscribes again.
            Err(e) if e.is_connection_lost() => return,
            Err(e) => {
                let _ = feed.send(status(unavailable(&e))).await;
                return;
            }
        };
        if feed.send(msg).await.is_err() {
            return;
        }
    }
}

/// Why a market-data subscription failed or ended, in IB's words.
fn unavailable(e: &ibapi::Error) -> DataStatus {
    DataStatus::Unavailable {
        why: match e {
            ibapi::Error::Notice(n) => format!("{} ({})", n.message, n.code),
            other => other.to_string(),
        },
    }
}

/// Sets the price a tick is about; returns whether it was one of bid, ask and last.
fn set_price(
    q: &mut Quote,
    kind: ibapi::contracts::tick_types::TickType,
    p: Option<crate::domain::Price>,
) -> bool {
    match kind {
        TickType::Bid | TickType::DelayedBid => q.bid = p,
        TickType::Ask | TickType::DelayedAsk => q.ask = p,
        TickType::Last | TickType::DelayedLast => q.last = p,
        _ => return false,
    }
    true
}
