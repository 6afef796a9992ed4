//! What the engine asks of the adapter, carried out: orders (never while disconnected: dropped, and said
//! so), cancels (queued while disconnected and sent on the reconnect), the resolution of orders in doubt,
//! and the position re-check the core asks for.

use chrono::Utc;
use ibapi::prelude::*;
use std::sync::atomic::Ordering;

use super::{Adapter, Command, InDoubt, convert};
use crate::app::{BrokerEvent, Msg, PlaceOrder};

impl Adapter {
    /// A command while there is no connection.
    pub(super) async fn offline(&mut self, cmd: Command) {
        match cmd {
            Command::Place(order) => {
                self.send(Msg::PlaceDropped {
                    id: order.proposal,
                    reason: "the broker is not connected".into(),
                })
                .await;
            }
            Command::Cancel(id) => self.queued_cancels.push(id),
            Command::GlobalCancel => self.queued_global_cancel = true,
            Command::Resolve(list) => self.in_doubt.extend(list),
            // The reconnect reconciles, and checks the positions with it.
            Command::Retry | Command::CheckPositions => {}
        }
    }

    /// The cancels asked for while the connection was down.
    pub(super) async fn send_queued_cancels(&mut self, client: &Client) {
        if std::mem::take(&mut self.queued_global_cancel) {
            let _ = client.global_cancel().await;
        }
        for id in std::mem::take(&mut self.queued_cancels) {
            let _ = client.cancel_order(id.get(), "").await;
        }
    }

    pub(super) async fn command(&mut self, client: &Client, cmd: Command) {
        match cmd {
            Command::Place(order) => self.place(client, *order).await,
            Command::Cancel(id) => {
                if let Err(e) = client.cancel_order(id.get(), "").await {
                    tracing::warn!(order_id = id.get(), error = %e, "cancel failed; queued for the reconnect");
                    self.queued_cancels.push(id);
                }
            }
            Command::Resolve(list) => {
                if !list.is_empty() {
                    self.in_doubt.extend(list);
                    self.reconcile(client).await;
                }
            }
            Command::Retry => {}
            Command::CheckPositions => {
                let due = tokio::time::Instant::now() + self.settings.recheck_after;
                self.recheck = Some(self.recheck.map_or(due, |at| at.min(due)));
            }
            Command::GlobalCancel => {
                if let Err(e) = client.global_cancel().await {
                    tracing::warn!(error = %e, "global cancel failed; queued for the reconnect");
                    self.queued_global_cancel = true;
                }
            }
        }
    }

    /// Sends an approved order, unless its deadline passed or its instrument is unresolved.
    async fn place(&mut self, client: &Client, order: PlaceOrder) {
        let proposal = order.proposal;
        let drop_it = |reason: String| Msg::PlaceDropped { id: proposal, reason };
        if order.epoch != self.epoch.load(Ordering::SeqCst) {
            self.send(drop_it("the trading state changed before sending".into()))
                .await;
            return;
        }
        if Utc::now() > order.deadline {
            self.send(drop_it("its send deadline passed".into())).await;
            return;
        }
        let ticket = order.cleared.ticket();
        let Some(contract) = self.contracts.get(&ticket.instrument) else {
            let why = format!("{} is not resolved at the gateway", ticket.instrument);
            self.send(drop_it(why)).await;
            return;
        };
        let ib = convert::order(ticket, order.order_id.get(), &order.order_ref);
        if self.settings.dry_run {
            let summary = format!(
                "{} {} {} {}{} {}",
                ticket.side.as_ib(),
                ticket.quantity,
                ticket.instrument.symbol,
                ticket.order_type.as_ib(),
                ticket.limit_price.map(|p| format!(" {p}")).unwrap_or_default(),
                ticket.tif.as_ib()
            );
            self.send(Msg::Broker(BrokerEvent::DryRun {
                order_id: order.order_id,
                summary,
            }))
            .await;
            return;
        }
        // Until the gateway acknowledges it, the order is looked for at every reconciliation.
        self.unacked.insert(
            order.order_id.get(),
            InDoubt {
                order_id: order.order_id,
                order_ref: order.order_ref.clone(),
                ticket: ticket.clone(),
                staged_at: Utc::now(),
            },
        );
        let sent = client.submit_order(order.order_id.get(), contract, &ib).await;
        if sent.is_ok() {
            crate::app::failpoint("after_gateway_send");
        }
        if let Err(e) = sent {
            // Whether it left is unknown: the next reconciliation finds it by its orderRef.
            tracing::error!(order_id = order.order_id.get(), error = %e, "submit failed");
            self.send(Msg::Broker(BrokerEvent::Mismatch {
                detail: format!("order {} may not have reached IB: {e}", order.order_id.get()),
            }))
            .await;
        }
    }
}
