//! Reconciliation: the broker's open orders (of every client), completed orders and executions, read
//! after every (re)connect, every minute, after a route lost frames (−6) and when the core asks for a
//! position check; executions the core has not seen are applied, orders that ended while the stream could
//! not say so are ended, orders in doubt are answered for by `orderRef`, and a snapshot of the broker's
//! positions goes to the core to compare with its own.

use std::collections::BTreeMap;

use chrono::Utc;
use ibapi::accounts::PositionUpdate;
use ibapi::orders::{ExecutionFilter, Executions, Orders};
use ibapi::prelude::*;

use super::streams::commission;
use super::{Adapter, InDoubt, LOOKBACK, ORDER_REF_PREFIX, QUERY_TIMEOUT, convert};
use crate::app::{BrokerEvent, BrokerPosition, Connection, Msg};
use crate::domain::{AccountId, Instrument, OrderId, OrderStatus, Side};

/// One row of the gateway's orders or executions, as far as adopting an order in doubt needs it.
#[derive(Debug)]
struct Seen {
    client_id: i32,
    /// 0 or less when the gateway does not say (TWS omits it on completed orders; `ibapi` reads -1).
    order_id: i32,
    symbol: String,
    side: Side,
    /// The size ordered; `None` where the gateway does not say it (executions, completed orders).
    quantity: Option<f64>,
    status: OrderStatus,
}

impl Adapter {
    /// Open orders no journaled intent of this cockpit accounts for: another client's, typed into TWS, or
    /// without a cockpit `orderRef`.
    async fn report_external(&self, open: &[Orders]) {
        for row in open {
            if let Orders::OrderData(o) = row
                && (o.order.client_id != self.settings.client_id
                    || !o.order.order_ref.starts_with(ORDER_REF_PREFIX))
            {
                let summary = format!(
                    "{} {} {} {}",
                    o.order.action.as_str(),
                    o.order.total_quantity,
                    o.contract.symbol,
                    o.order.order_type
                );
                self.send(Msg::Broker(BrokerEvent::ExternalOrder {
                    order_id: o.order_id,
                    client_id: o.order.client_id,
                    order_ref: o.order.order_ref.clone(),
                    summary,
                }))
                .await;
            }
        }
    }

    /// Answers for every order in doubt from the gateway's rows by `orderRef`.
    async fn resolve_in_doubt(&mut self, by_ref: &BTreeMap<String, Vec<Seen>>) {
        let unacked: Vec<InDoubt> = std::mem::take(&mut self.unacked).into_values().collect();
        let mut unresolved = Vec::new();
        for (doubt, restarted) in std::mem::take(&mut self.in_doubt)
            .into_iter()
            .map(|d| (d, true))
            .chain(unacked.into_iter().map(|d| (d, false)))
        {
            let seen = by_ref.get(&doubt.order_ref).map_or(&[][..], Vec::as_slice);
            let status = match adopt(&doubt, seen, self.settings.client_id) {
                // The gateway reports executions of the current day only: an older order that is not
                // found may still have filled; the trader decides, trading stays stopped meanwhile.
                Adopt::Absent if Utc::now().signed_duration_since(doubt.staged_at) > LOOKBACK => {
                    if !self.beyond_lookback.insert(doubt.order_id.get()) {
                        // Said once; it stays in doubt, and trading stopped, until the trader decides.
                        if restarted {
                            unresolved.push(doubt);
                        }
                        continue;
                    }
                    self.send(Msg::Broker(BrokerEvent::Mismatch {
                        detail: format!(
                            "order {} ({}) from {} is older than the gateway's lookback and not found: the \
                             trader decides whether it was sent",
                            doubt.order_id.get(),
                            doubt.order_ref,
                            doubt.staged_at.format("%Y-%m-%d %H:%M UTC")
                        ),
                    }))
                    .await;
                    if restarted {
                        unresolved.push(doubt);
                    }
                    continue;
                }
                Adopt::Absent => None,
                Adopt::Found(status) => Some(status),
                Adopt::Mismatch(why) => {
                    // Something with its orderRef is at the gateway but it is not the approved order:
                    // neither adopted nor written off; trading stops until the trader decides.
                    self.send(Msg::Broker(BrokerEvent::Mismatch {
                        detail: format!(
                            "order {} ({}) at the gateway differs: {why}",
                            doubt.order_id.get(),
                            doubt.order_ref
                        ),
                    }))
                    .await;
                    if restarted {
                        unresolved.push(doubt);
                    }
                    continue;
                }
            };
            self.send(Msg::Broker(BrokerEvent::InDoubtResolved {
                order_id: doubt.order_id,
                status,
            }))
            .await;
        }
        self.in_doubt = unresolved;
    }

    /// Reads the broker's orders and executions, applies what the core has not seen (executions are
    /// idempotent by exec id), answers for every order in doubt, then hands the core a snapshot of the
    /// broker's positions to compare with its own (taken after the executions, so that every fill it
    /// holds up to the executions query has been applied), and says `Reconciled` only when every query
    /// came back complete.
    pub(super) async fn reconcile(&mut self, client: &Client) {
        // This reconciliation is the position check the core may have asked for.
        self.recheck = None;
        self.connection(Connection::Reconciling).await;
        let open = collect(client.all_open_orders().await).await;
        let completed = collect(client.completed_orders(false).await).await;
        let executions = match client.executions(ExecutionFilter::default()).await {
            Ok(mut sub) => tokio::time::timeout(QUERY_TIMEOUT, sub.collect_to_end_within(QUERY_TIMEOUT))
                .await
                .ok()
                .and_then(Result::ok),
            Err(_) => None,
        };
        let (Some(open), Some(completed), Some(executions)) = (open, completed, executions) else {
            self.incomplete(client, "a query").await;
            return;
        };
        self.report_external(&open).await;
        let mut by_ref = orders_by_ref(&open, &completed);
        self.replay_executions(&executions, &mut by_ref).await;
        // Orders that ended while the stream could not say so (filled or cancelled during an outage).
        for (order_ref, seen) in &by_ref {
            if !order_ref.starts_with(ORDER_REF_PREFIX) {
                continue;
            }
            let ours = seen.iter().filter(|s| s.client_id == self.settings.client_id);
            if let Some(status) = ours
                .map(|s| s.status)
                .filter(|s| *s != OrderStatus::PartiallyFilled)
                .max_by_key(|s| s.is_terminal())
            {
                self.send(Msg::Broker(BrokerEvent::StatusFound {
                    order_ref: order_ref.clone(),
                    status,
                }))
                .await;
            }
        }
        self.resolve_in_doubt(&by_ref).await;
        let Some(positions) = self.snapshot(client).await else {
            self.incomplete(client, "the positions query").await;
            return;
        };
        self.send(Msg::Broker(BrokerEvent::PositionCheck { positions }))
            .await;
        self.send(Msg::Broker(BrokerEvent::Reconciled)).await;
        self.connection(Connection::Ready).await;
    }

    /// A query cut short by a lost connection is the disconnect's business (the gate is already shut, and
    /// the reconnect reconciles again); a gateway that does not answer while connected is a fault.
    async fn incomplete(&self, client: &Client, what: &str) {
        if client.is_connected() {
            self.send(Msg::Broker(BrokerEvent::Mismatch {
                detail: format!("reconciliation incomplete: the gateway did not answer {what}"),
            }))
            .await;
        }
    }

    /// Hands every execution and commission report to the core (it drops those it has seen by exec id)
    /// and adds each execution to the rows by `orderRef`.
    async fn replay_executions(&self, executions: &[Executions], by_ref: &mut BTreeMap<String, Vec<Seen>>) {
        for row in executions {
            match row {
                Executions::ExecutionData(e) => {
                    let x = &e.execution;
                    by_ref.entry(x.order_reference.clone()).or_default().push(Seen {
                        client_id: x.client_id,
                        order_id: x.order_id,
                        symbol: e.contract.symbol.to_string(),
                        side: convert::execution_side(&x.side),
                        quantity: None,
                        status: OrderStatus::PartiallyFilled,
                    });
                    if let (Ok(order_id), Some(quantity), Some(price)) = (
                        OrderId::new(x.order_id),
                        convert::decimal(x.shares),
                        convert::decimal(x.price),
                    ) {
                        self.send(Msg::Broker(BrokerEvent::Execution {
                            order_id,
                            exec_id: x.execution_id.clone(),
                            quantity,
                            price,
                            replay: true,
                        }))
                        .await;
                    }
                }
                Executions::CommissionReport(c) => self.send(commission(c)).await,
            }
        }
    }

    /// The broker's positions: a fresh subscription read to IB's end marker (within the query timeout;
    /// `None` if it fails, ends or times out). It then becomes the position stream, replacing the previous
    /// one, so that only ever one snapshot is in flight: a subscription made while another's snapshot is
    /// arriving would see the rest of that snapshot and its end marker (every live subscription sees every
    /// position frame), and take a part for the whole.
    async fn snapshot(
        &mut self,
        client: &Client,
    ) -> Option<BTreeMap<(AccountId, Instrument), BrokerPosition>> {
        let mut sub = client.positions().await.ok()?;
        let deadline = tokio::time::Instant::now() + QUERY_TIMEOUT;
        let mut rows = BTreeMap::new();
        loop {
            match tokio::time::timeout_at(deadline, sub.next()).await {
                Ok(Some(Ok(SubscriptionItem::Data(PositionUpdate::Position(p))))) => {
                    if let Some((key, held)) = convert::position(&p, &self.contracts) {
                        self.note_held(&key, held.quantity, p.contract.contract_id);
                        rows.entry(key)
                            .and_modify(|had: &mut BrokerPosition| {
                                // Two rows for one key (contracts the cockpit does not tell apart): summed,
                                // with no average cost.
                                had.quantity =
                                    had.quantity.checked_add(held.quantity).unwrap_or(had.quantity);
                                had.average_cost = None;
                            })
                            .or_insert(held);
                    }
                }
                Ok(Some(Ok(SubscriptionItem::Data(PositionUpdate::PositionEnd)))) => break,
                Ok(Some(Ok(SubscriptionItem::Notice(_)))) => {}
                Ok(Some(Err(_)) | None) | Err(_) => return None,
            }
        }
        self.positions = Some(sub);
        Some(rows)
    }
}

/// The open and completed orders' rows by `orderRef`.
fn orders_by_ref(open: &[Orders], completed: &[Orders]) -> BTreeMap<String, Vec<Seen>> {
    let mut by_ref: BTreeMap<String, Vec<Seen>> = BTreeMap::new();
    // TWS reports on a completed order what was left unfilled as its quantity, not the size ordered.
    let rows = open
        .iter()
        .map(|r| (r, true))
        .chain(completed.iter().map(|r| (r, false)));
    for (row, is_open) in rows {
        if let Orders::OrderData(o) = row {
            let status = convert::order_event(&o.order_state.status, 0.0)
                .and_then(|e| crate::domain::transition(OrderStatus::PendingSubmit, e).ok())
                .unwrap_or(OrderStatus::Submitted);
            by_ref.entry(o.order.order_ref.clone()).or_default().push(Seen {
                client_id: o.order.client_id,
                order_id: o.order_id,
                symbol: o.contract.symbol.to_string(),
                side: convert::side(o.order.action),
                quantity: is_open.then_some(o.order.total_quantity),
                status,
            });
        }
    }
    by_ref
}

/// What the gateway's rows with an in-doubt order's `orderRef` say about it.
#[derive(Debug, PartialEq)]
enum Adopt {
    /// Nothing with its `orderRef`: it never reached the gateway.
    Absent,
    /// The approved order is there, in this status.
    Found(OrderStatus),
    /// Something with its `orderRef` is there, but not the approved order (why).
    Mismatch(String),
}

/// Adopts an in-doubt order only if every row with its `orderRef` is this client's, has its order id (or
/// none, as on completed orders) and is the approved instrument, side and quantity.
fn adopt(doubt: &InDoubt, seen: &[Seen], client_id: i32) -> Adopt {
    if seen.is_empty() {
        return Adopt::Absent;
    }
    let t = &doubt.ticket;
    let quantity = Some(convert::float(t.quantity.get()));
    for s in seen {
        let why = if s.client_id != client_id {
            format!("placed by client {}, not {client_id}", s.client_id)
        } else if s.order_id > 0 && s.order_id != doubt.order_id.get() {
            format!("order id {}, not {}", s.order_id, doubt.order_id.get())
        } else if s.symbol != t.instrument.symbol.as_str() {
            format!("symbol {}, not {}", s.symbol, t.instrument.symbol)
        } else if s.side != t.side {
            format!("side {}, not {}", s.side.as_ib(), t.side.as_ib())
        } else if s.quantity.is_some() && s.quantity != quantity {
            format!("quantity {:?}, not {}", s.quantity, t.quantity)
        } else {
            continue;
        };
        return Adopt::Mismatch(why);
    }
    // The most advanced status any row shows: a completed order's over a partial execution's.
    let status = seen
        .iter()
        .map(|s| s.status)
        .max_by_key(|s| match s {
            OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected => 2,
            OrderStatus::PartiallyFilled => 1,
            _ => 0,
        })
        .unwrap_or(OrderStatus::Submitted);
    Adopt::Found(status)
}

async fn collect(request: Result<Subscription<Orders>, ibapi::Error>) -> Option<Vec<Orders>> {
    let mut sub = request.ok()?;
    tokio::time::timeout(QUERY_TIMEOUT, sub.collect_to_end_within(QUERY_TIMEOUT))
        .await
        .ok()?
        .ok()
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::domain::{Currency, OrderTicket, OrderType, Quantity, Symbol, Tif};

    fn doubt() -> InDoubt {
        InDoubt {
            order_id: OrderId::new(7).unwrap(),
            order_ref: "ck-p3-v1-i2".into(),
            ticket: OrderTicket {
                account: AccountId::parse("DU1234567").unwrap(),
                instrument: Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ"),
                side: Side::Buy,
                quantity: Quantity::parse("10").unwrap(),
                order_type: OrderType::Limit,
                limit_price: None,
                stop_price: None,
                tif: Tif::Day,
                outside_rth: false,
            },
            staged_at: Utc::now(),
        }
    }

    fn seen(client_id: i32, order_id: i32, side: Side, quantity: Option<f64>, status: OrderStatus) -> Seen {
        Seen {
            client_id,
            order_id,
            symbol: "AAPL".into(),
            side,
            quantity,
            status,
        }
    }

    #[test]
    fn an_order_in_doubt_is_adopted_only_when_it_is_the_approved_order() {
        let d = doubt();
        assert_eq!(adopt(&d, &[], 1), Adopt::Absent);
        let open = seen(1, 7, Side::Buy, Some(10.0), OrderStatus::Submitted);
        assert_eq!(adopt(&d, &[open], 1), Adopt::Found(OrderStatus::Submitted));
        // Completed orders carry no order id and their unfilled rest as quantity; an execution is partial.
        let done = [
            seen(1, -1, Side::Buy, None, OrderStatus::Filled),
            seen(1, 7, Side::Buy, None, OrderStatus::PartiallyFilled),
        ];
        assert_eq!(adopt(&d, &done, 1), Adopt::Found(OrderStatus::Filled));
        for (wrong, says) in [
            (
                seen(2, 7, Side::Buy, Some(10.0), OrderStatus::Submitted),
                "client 2",
            ),
            (
                seen(1, 8, Side::Buy, Some(10.0), OrderStatus::Submitted),
                "order id 8",
            ),
            (seen(1, 7, Side::Sell, Some(10.0), OrderStatus::Submitted), "side"),
            (
                seen(1, 7, Side::Buy, Some(11.0), OrderStatus::Submitted),
                "quantity",
            ),
        ] {
            let Adopt::Mismatch(why) = adopt(&d, &[wrong], 1) else {
                panic!("{says}")
            };
            assert!(why.contains(says), "{why}");
        }
    }
}
