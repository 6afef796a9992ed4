//! The adapter's connection: connecting with a timeout and a backoff (then failed, until the trader's
//! retry), the checks and subscriptions of a new session, and the session's loop over the streams, the
//! engine's commands, IB's notices and the timers (the connection watch, the periodic reconciliation, the
//! position re-check the core asked for).

use std::sync::Arc;
use std::time::Duration;

use ibapi::RateLimiter;
use ibapi::accounts::PositionUpdate;
use ibapi::prelude::*;
use rust_decimal::Decimal;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{
    Adapter, CHANNEL_CAPACITY, CONNECT_TIMEOUT, Command, End, MESSAGES_PER_SECOND, QUERY_TIMEOUT,
    WATCH_EVERY, convert, streams,
};
use crate::app::{BrokerEvent, Connection, Msg};
use crate::domain::{AccountId, Instrument};

impl Adapter {
    pub(super) async fn run(mut self) {
        let mut attempt = 0_u32;
        self.connection(Connection::Connecting).await;
        loop {
            let connect = Client::builder()
                .address(self.settings.address.clone())
                .client_id(self.settings.client_id)
                .rate_limiter(RateLimiter::per_second(MESSAGES_PER_SECOND))
                .channel_capacity(CHANNEL_CAPACITY)
                .connect();
            let connected = tokio::select! {
                () = self.cancel.cancelled() => return,
                c = tokio::time::timeout(CONNECT_TIMEOUT, connect) => c,
            };
            let why = match connected {
                Ok(Ok(client)) => {
                    attempt = 0;
                    let client = Arc::new(client);
                    let end = self.session(&client).await;
                    client.disconnect().await;
                    match end {
                        End::Cancelled => return,
                        End::Lost(why) => why,
                    }
                }
                Ok(Err(e)) => format!("cannot connect to {}: {e}", self.settings.address),
                Err(_) => format!(
                    "no answer from {} within {} s",
                    self.settings.address,
                    CONNECT_TIMEOUT.as_secs()
                ),
            };
            tracing::warn!(%why, "broker connection down");
            self.send(Msg::Broker(BrokerEvent::Disconnected)).await;
            attempt += 1;
            let wait = if let Some(&wait) = self.settings.backoff.get(attempt as usize - 1) {
                self.connection(Connection::Reconnecting {
                    attempt,
                    next_try_secs: wait.as_secs(),
                })
                .await;
                Some(wait)
            } else {
                // Given up: only the trader's retry (or the end) moves on.
                self.connection(Connection::Failed { why }).await;
                None
            };
            if !self.wait(wait).await {
                return;
            }
            if wait.is_none() {
                attempt = 0;
            }
        }
    }

    /// Waits `wait` (or, for `None`, for a retry), handling commands meanwhile: orders cannot go (the gate
    /// is shut), cancels queue. Returns `false` when cancelled.
    async fn wait(&mut self, wait: Option<Duration>) -> bool {
        let sleep = tokio::time::sleep(wait.unwrap_or(Duration::MAX / 4));
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => return false,
                () = &mut sleep, if wait.is_some() => return true,
                Some(cmd) = self.commands.recv() => {
                    if matches!(cmd, Command::Retry) {
                        self.connection(Connection::Connecting).await;
                        return true;
                    }
                    self.offline(cmd).await;
                }
            }
        }
    }

    /// One connected session: set-up, reconciliation, then the streams and commands until it ends.
    async fn session(&mut self, client: &Arc<Client>) -> End {
        if let Some(why) = self.check_accounts(client) {
            self.send(Msg::Broker(BrokerEvent::Mismatch { detail: why }))
                .await;
        }
        let next_valid_id = match client.next_valid_order_id().await {
            Ok(id) => id,
            Err(e) => return End::Lost(format!("next valid id: {e}")),
        };
        self.send(Msg::Broker(BrokerEvent::Connected { next_valid_id }))
            .await;
        self.resolve_contracts(client).await;
        let mut notices = match client.notice_stream() {
            Ok(n) => n,
            Err(e) => return End::Lost(format!("notice stream: {e}")),
        };
        let updates = match client.order_update_stream().await {
            Ok(u) => u,
            Err(e) => return End::Lost(format!("order update stream: {e}")),
        };
        let (feed_tx, mut feed) = mpsc::channel::<Msg>(1024);
        let mut order_task = tokio::spawn(streams::forward_orders(updates, feed_tx.clone()));
        let mut data_tasks = self.subscribe(client, &feed_tx);
        self.reconcile(client).await;
        // The reconciliation's snapshot names what the account holds outside the allowlist.
        self.subscribe_held(client, &feed_tx, &mut data_tasks);
        self.send_queued_cancels(client).await;
        let mut watch = tokio::time::interval(WATCH_EVERY);
        let every = self.settings.reconcile_every;
        let mut periodic = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut up = true;
        let end = loop {
            let recheck = self.recheck;
            tokio::select! {
                () = self.cancel.cancelled() => break End::Cancelled,
                Some(msg) = feed.recv() => {
                    if let Msg::Broker(
                        BrokerEvent::OrderStatus { order_id, .. } | BrokerEvent::Execution { order_id, .. },
                    ) = &msg
                    {
                        self.unacked.remove(&order_id.get());
                    }
                    self.send(msg).await;
                }
                item = streams::next_position(&mut self.positions) => self.streamed_position(item).await,
                Some(cmd) = self.commands.recv() => self.command(client, cmd).await,
                notice = notices.next() => match notice {
                    None => break End::Lost("the connection gave up".into()),
                    Some(n) => {
                        up |= matches!(n.code, -8 | 1101 | 1102);
                        self.notice(client, &n, &mut data_tasks, &feed_tx).await;
                    }
                },
                _ = &mut order_task => {
                    // The order-update stream ended (a decode error ends it, with no gap marker): the
                    // core has stepped down; subscribe again and reconcile what was missed.
                    match client.order_update_stream().await {
                        Ok(updates) => {
                            order_task = tokio::spawn(streams::forward_orders(updates, feed_tx.clone()));
                            self.reconcile(client).await;
                        }
                        Err(e) => break End::Lost(format!("order update stream: {e}")),
                    }
                }
                _ = watch.tick() => {
                    if up && !client.is_connected() {
                        up = false;
                        self.send(Msg::Broker(BrokerEvent::Disconnected)).await;
                        self.connection(Connection::SocketLost).await;
                    }
                }
                _ = periodic.tick(), if up => self.reconcile(client).await,
                () = tokio::time::sleep_until(recheck.unwrap_or_else(tokio::time::Instant::now)),
                    if up && recheck.is_some() => self.reconcile(client).await,
            }
            // A position row (streamed, or in a reconciliation's snapshot) may have named a new holding
            // outside the allowlist, e.g. after a fill of an order typed into TWS: quote it now, not at
            // the next reconnect.
            self.subscribe_held(client, &feed_tx, &mut data_tasks);
        };
        order_task.abort();
        for task in data_tasks {
            task.abort();
        }
        self.positions = None;
        end
    }

    /// One of IB's notices (or `ibapi`'s): 1100 is a disconnect; −8, 1101 and 1102 are a way back; −6 (a
    /// route fell behind and lost frames: what was missed is unknown) reconciles at once.
    async fn notice(
        &mut self,
        client: &Arc<Client>,
        n: &Notice,
        data_tasks: &mut Vec<JoinHandle<()>>,
        feed: &mpsc::Sender<Msg>,
    ) {
        match n.code {
            1100 => {
                self.send(Msg::Broker(BrokerEvent::Disconnected)).await;
                self.connection(Connection::ConnectivityLost).await;
            }
            -8 | 1101 | 1102 => self.back(client, n.code, data_tasks, feed).await,
            -6 => self.reconcile(client).await,
            code => tracing::debug!(code, message = %n.message, "notice"),
        }
    }

    /// A row of the position stream: its average cost for the screen. The stream ends with the
    /// connection; the next reconciliation's snapshot starts a fresh one.
    async fn streamed_position(
        &mut self,
        item: Option<Result<SubscriptionItem<PositionUpdate>, ibapi::Error>>,
    ) {
        match item {
            Some(Ok(SubscriptionItem::Data(PositionUpdate::Position(p)))) => {
                if let Some((key, held)) = convert::position(&p, &self.contracts) {
                    self.note_held(&key, held.quantity, p.contract.contract_id);
                    let (account, instrument) = key;
                    self.send(Msg::Broker(BrokerEvent::Position {
                        account,
                        instrument,
                        quantity: held.quantity,
                        average_cost: held.average_cost,
                    }))
                    .await;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => self.positions = None,
        }
    }

    /// Back after a drop (-8) or IB's own outage (1101 data lost, 1102 data kept): a fresh id, fresh
    /// market-data subscriptions unless IB kept them, a full reconciliation before anything risky, then
    /// the cancels that waited.
    async fn back(
        &mut self,
        client: &Arc<Client>,
        code: i32,
        data_tasks: &mut Vec<JoinHandle<()>>,
        feed: &mpsc::Sender<Msg>,
    ) {
        if let Ok(next_valid_id) = client.next_valid_order_id().await {
            self.send(Msg::Broker(BrokerEvent::Connected { next_valid_id }))
                .await;
            self.connection(Connection::Connected).await;
        }
        if code != 1102 {
            for task in data_tasks.drain(..) {
                task.abort();
            }
            *data_tasks = self.subscribe(client, feed);
        }
        self.reconcile(client).await;
        self.send_queued_cancels(client).await;
    }

    /// Every profile account must be managed by the gateway, and the gateway may manage no other.
    fn check_accounts(&self, client: &Client) -> Option<String> {
        let managed = client.handshake_managed_accounts();
        let missing: Vec<String> = self
            .settings
            .accounts
            .iter()
            .map(ToString::to_string)
            .filter(|a| !managed.contains(a))
            .collect();
        let foreign: Vec<&String> = managed
            .iter()
            .filter(|m| !self.settings.accounts.iter().any(|a| a.as_str() == m.as_str()))
            .collect();
        match (missing.is_empty(), foreign.is_empty()) {
            (true, true) => None,
            (false, _) => Some(format!(
                "the gateway does not manage {}: refusing to trade",
                missing.join(", ")
            )),
            (true, false) => Some(format!(
                "the gateway manages accounts outside the profile's allowlist ({}): refusing to trade",
                foreign.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Pins each allowlisted instrument's contract id; one IB cannot resolve stays unresolved, and
    /// orders for it are refused.
    async fn resolve_contracts(&mut self, client: &Client) {
        for instrument in &self.settings.instruments {
            let wanted = convert::contract(instrument, None);
            let found = tokio::time::timeout(QUERY_TIMEOUT, client.contract_details(&wanted)).await;
            match found {
                Ok(Ok(details)) => {
                    if let [one] = details.as_slice() {
                        let id = one.contract.contract_id;
                        self.contracts
                            .insert(instrument.clone(), convert::contract(instrument, Some(id)));
                    } else {
                        tracing::warn!(%instrument, matches = details.len(), "contract not resolved to one");
                    }
                }
                Ok(Err(e)) => tracing::warn!(%instrument, error = %e, "contract details failed"),
                Err(_) => tracing::warn!(%instrument, "contract details timed out"),
            }
        }
    }

    /// Subscribes account values, each account's P&L and quotes (the allowlist's and the holdings' outside it); returns the
    /// forwarding tasks.
    fn subscribe(&mut self, client: &Arc<Client>, feed: &mpsc::Sender<Msg>) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![tokio::spawn(streams::forward_account(
            Arc::clone(client),
            feed.clone(),
        ))];
        for account in &self.settings.accounts {
            tasks.push(tokio::spawn(streams::forward_pnl(
                Arc::clone(client),
                account.clone(),
                feed.clone(),
            )));
        }
        // Every holding known so far is subscribed here: none is left waiting.
        self.held_unsubscribed.clear();
        let held = self
            .held
            .iter()
            .filter(|(instrument, _)| !self.contracts.contains_key(*instrument));
        for (instrument, contract) in self.contracts.iter().chain(held) {
            tasks.push(tokio::spawn(streams::forward_quotes(
                Arc::clone(client),
                instrument.clone(),
                contract.clone(),
                feed.clone(),
            )));
        }
        tasks
    }

    /// A position row's instrument, if it is held (a non-zero position) in an allowlisted account and the
    /// adapter does not quote it yet, is noted for a quote-only subscription: the gross-exposure rule needs
    /// a fresh quote for every holding of the account, and would refuse every order (`NO_QUOTE`) for as long
    /// as one has none. Its contract is the row's contract id (IB's position rows carry it; without one,
    /// IB resolves the contract by its symbol, type, currency and exchange). It goes into `held`, never
    /// into `contracts`: an order for it stays refused by the policy's SYMBOL rule and unroutable here.
    pub(super) fn note_held(
        &mut self,
        (account, instrument): &(AccountId, Instrument),
        quantity: Decimal,
        contract_id: i32,
    ) {
        if quantity.is_zero()
            || !self.settings.accounts.contains(account)
            || self.contracts.contains_key(instrument)
            || self.held.contains_key(instrument)
        {
            return;
        }
        tracing::info!(%instrument, contract_id, "held outside the allowlist: subscribing its quotes");
        let contract = convert::contract(instrument, (contract_id != 0).then_some(contract_id));
        self.held.insert(instrument.clone(), contract);
        self.held_unsubscribed.insert(instrument.clone());
    }

    /// Asks for the quotes of the holdings noted since the last subscription (a request each, through the
    /// client's rate limiter like every other); their tasks join the session's data tasks, so they end and
    /// are renewed with the allowlist's.
    fn subscribe_held(
        &mut self,
        client: &Arc<Client>,
        feed: &mpsc::Sender<Msg>,
        data_tasks: &mut Vec<JoinHandle<()>>,
    ) {
        for instrument in std::mem::take(&mut self.held_unsubscribed) {
            let Some(contract) = self.held.get(&instrument) else {
                continue;
            };
            if self.contracts.contains_key(&instrument) {
                continue;
            }
            data_tasks.push(tokio::spawn(streams::forward_quotes(
                Arc::clone(client),
                instrument,
                contract.clone(),
                feed.clone(),
            )));
        }
    }
}
