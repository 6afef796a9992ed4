//! The exchange's order handlers: place, modify, cancel, global cancel, open and completed orders,
//! executions, matching and fills — and the frames TWS sends for each, in TWS's order.

use chrono::Utc;
use rust_decimal::Decimal;

use super::accounts::{commission, dollars};
use super::book::{self, Action, Execution, Kind, Refusal, Status, Tif, to_f64};
use super::catalogue::{self, LISTINGS};
use super::exchange::Exchange;
use super::ledger::{EntryKind, LedgerEntry, Outcome};
use super::proto::{self, msg};
use super::wire;

/// What IB reports for an unset double.
const UNSET_DOUBLE: f64 = f64::MAX;

impl Exchange {
    pub(crate) fn on_place_order(&mut self, conn: u64, req: &proto::PlaceOrderRequest) {
        let client_id = self.client_id(conn);
        let order_id = req.order_id.unwrap_or_default();
        let existing = self.book.find(client_id, order_id);
        let kind = if existing.is_some_and(|k| !self.book.orders[&k].status.is_terminal()) {
            EntryKind::Modify
        } else {
            EntryKind::Place
        };
        let mut entry = ledger_entry(client_id, kind, Some(order_id), req);
        let result = self.accept_order(client_id, order_id, existing, req);
        match result {
            Ok(key) => {
                entry.perm_id = Some(self.book.orders[&key].perm_id);
                self.ledger.record(entry);
            }
            Err(refusal) => {
                entry.outcome = Outcome::Refused {
                    code: refusal.code,
                    message: refusal.message.clone(),
                };
                self.ledger.record(entry);
                tracing::info!(client_id, order_id, code = refusal.code, reason = %refusal.message, "sim: order refused");
                self.send_error(conn, order_id, refusal.code, &refusal.message);
            }
        }
    }

    fn accept_order(
        &mut self,
        client_id: i32,
        order_id: i32,
        existing: Option<usize>,
        req: &proto::PlaceOrderRequest,
    ) -> Result<usize, Refusal> {
        if let Some(key) = existing {
            return self.modify_order(key, req);
        }
        if order_id <= 0
            || self
                .book
                .max_order_id(client_id)
                .is_some_and(|max| order_id <= max)
        {
            return Err(Refusal {
                code: 103,
                message: "Duplicate order id".to_string(),
            });
        }
        if let Some((_, since)) = &mut self.stale_next_id {
            let max = since.entry(client_id).or_insert(order_id);
            *max = (*max).max(order_id);
        }
        let spec = book::check_order(req, &self.cfg.accounts)
            .inspect_err(|_| self.note_id_used(client_id, order_id))?;
        if let Some(reason) = self.reject_next.take() {
            self.note_id_used(client_id, order_id);
            return Err(Refusal {
                code: 201,
                message: format!("Order rejected - reason:{reason}"),
            });
        }
        if let Err(refusal) = self.check_margin(&spec) {
            self.note_id_used(client_id, order_id);
            return Err(refusal);
        }
        let key = self.book.insert(client_id, order_id, spec);
        tracing::info!(client_id, order_id, "sim: order accepted");
        self.order_event(key, true);
        let order = self.book.orders.get_mut(&key).expect("just inserted");
        let untriggered_stop = matches!(order.spec.kind, Kind::Stop | Kind::StopLimit)
            && !order.stop_triggers(self.market.quote(order.spec.listing));
        if !untriggered_stop {
            order.status = Status::Submitted;
            order.triggered = true;
            self.order_event(key, true);
        }
        self.match_order(key);
        self.expire_ioc(key);
        Ok(key)
    }

    /// Remembers that a refused order still used up its id (IB does not let an id be reused).
    fn note_id_used(&mut self, client_id: i32, order_id: i32) {
        self.book.note_id_used(client_id, order_id);
    }

    fn modify_order(&mut self, key: usize, req: &proto::PlaceOrderRequest) -> Result<usize, Refusal> {
        let order = &self.book.orders[&key];
        if order.status == Status::Filled {
            return Err(Refusal {
                code: 104,
                message: "Can't modify a filled order.".to_string(),
            });
        }
        if order.status.is_terminal() {
            return Err(Refusal {
                code: 103,
                message: "Duplicate order id".to_string(),
            });
        }
        let spec = book::check_order(req, &self.cfg.accounts)?;
        if spec.listing != order.spec.listing
            || spec.action != order.spec.action
            || spec.account != order.spec.account
        {
            return Err(Refusal {
                code: 201,
                message: "Order rejected - reason:a modification cannot change the contract, side or account"
                    .to_string(),
            });
        }
        if spec.quantity < order.filled {
            return Err(Refusal {
                code: 201,
                message: "Order rejected - reason:the new quantity is below the quantity already filled"
                    .to_string(),
            });
        }
        let order = self.book.orders.get_mut(&key).expect("exists");
        order.spec = spec;
        self.order_event(key, true);
        self.match_order(key);
        Ok(key)
    }

    /// IB refuses an order whose initial margin the account cannot carry.
    fn check_margin(&self, spec: &book::OrderSpec) -> Result<(), Refusal> {
        let Some(account) = self.accounts.iter().find(|a| a.code == spec.account) else {
            return Ok(());
        };
        let held = account
            .holdings
            .get(&spec.listing)
            .map_or(Decimal::ZERO, |h| h.quantity);
        let signed = if spec.action == Action::Buy {
            spec.quantity
        } else {
            -spec.quantity
        };
        if (held + signed).abs() <= held.abs() {
            return Ok(()); // reduces exposure
        }
        let quote = self.market.quote(spec.listing);
        let price = spec.limit.unwrap_or(if spec.action == Action::Buy {
            quote.ask
        } else {
            quote.bid
        });
        let v = account.valuation(&self.market, self.rates);
        // Checked: a position grown by many large orders must refuse, never overflow the exchange.
        let added = held
            .checked_add(signed)
            .map(|after| after.abs() - held.abs())
            .and_then(|more| more.checked_mul(dollars(price)))
            .and_then(|notional| notional.checked_mul(self.rates.initial));
        let Some(added) = added else {
            return Err(Refusal::rejected("the resulting position is too large to margin"));
        };
        if added <= v.available_funds {
            return Ok(());
        }
        Err(Refusal {
            code: 201,
            message: format!(
                "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH LOAN VALUE [{:.2} USD] MUST EXCEED THE INITIAL MARGIN [{:.2} USD]",
                v.equity_with_loan.round_dp(2),
                (v.init_margin + added).round_dp(2)
            ),
        })
    }

    pub(crate) fn on_cancel_order(&mut self, conn: u64, req: &proto::CancelOrderRequest) {
        let client_id = self.client_id(conn);
        let order_id = req.order_id.unwrap_or_default();
        let mut entry = LedgerEntry {
            order_id: Some(order_id),
            ..blank_entry(client_id, EntryKind::Cancel)
        };
        let Some(key) = self.book.find(client_id, order_id) else {
            let text = format!("OrderId {order_id} that needs to be cancelled is not found.");
            entry.outcome = Outcome::Refused {
                code: 10147,
                message: text.clone(),
            };
            self.ledger.record(entry);
            self.send_error(conn, order_id, 10147, &text);
            return;
        };
        let order = &self.book.orders[&key];
        fill_entry_from_order(&mut entry, order);
        if order.status.is_terminal() {
            let text = format!(
                "OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {}.",
                order.status.as_str()
            );
            entry.outcome = Outcome::Refused {
                code: 10148,
                message: text.clone(),
            };
            self.ledger.record(entry);
            self.send_error(conn, order_id, 10148, &text);
            return;
        }
        self.ledger.record(entry);
        self.cancel(key, "Cancelled by Trader", true);
    }

    pub(crate) fn on_global_cancel(&mut self, conn: u64) {
        let client_id = self.client_id(conn);
        self.ledger
            .record(blank_entry(client_id, EntryKind::GlobalCancel));
        for key in self.book.live_keys() {
            self.cancel(key, "Cancelled by Global Cancel", true);
        }
    }

    /// Cancels a working order: `PendingCancel`, `Cancelled`, then error 202 to its owner.
    fn cancel(&mut self, key: usize, why: &str, pending_first: bool) {
        let now = Utc::now();
        let Some(order) = self.book.orders.get_mut(&key) else {
            return;
        };
        let (client_id, order_id) = (order.client_id, order.order_id);
        if pending_first {
            let status = status_message(order, "PendingCancel");
            for conn in self.owner_conns(client_id) {
                self.send(conn, msg::IN_ORDER_STATUS, &status);
            }
        }
        let order = self.book.orders.get_mut(&key).expect("exists");
        order.status = Status::Cancelled;
        order.completed_at = Some(now);
        order.completed_status = Some(why.to_string());
        self.order_event(key, true);
        for conn in self.owner_conns(client_id) {
            self.send_error(conn, order_id, 202, "Order Canceled - reason:");
        }
    }

    /// An IOC order cancels whatever did not fill at once.
    fn expire_ioc(&mut self, key: usize) {
        if let Some(order) = self.book.orders.get(&key)
            && order.spec.tif == Tif::Ioc
            && !order.status.is_terminal()
        {
            self.cancel(key, "Cancelled: IOC remainder", false);
        }
    }

    pub(crate) fn on_open_orders(&mut self, conn: u64, all: bool) {
        let client_id = self.client_id(conn);
        if client_id == 0 {
            self.bind_manual_orders(conn);
        }
        let mut bytes = Vec::new();
        for key in self.book.live_keys() {
            let order = &self.book.orders[&key];
            if all || order.client_id == client_id {
                bytes.extend(wire::encode_frame(msg::IN_OPEN_ORDER, &open_order_message(order)));
                bytes.extend(wire::encode_frame(
                    msg::IN_ORDER_STATUS,
                    &status_message(order, order.status.as_str()),
                ));
            }
        }
        bytes.extend(wire::encode_frame(
            msg::IN_OPEN_ORDER_END,
            &proto::OpenOrdersEnd {},
        ));
        self.send_bytes(conn, bytes);
    }

    pub(crate) fn on_auto_open_orders(&mut self, conn: u64, req: &proto::AutoOpenOrdersRequest) {
        if self.client_id(conn) != 0 {
            let text =
                "Error validating request.-'bd' : cause - reqAutoOpenOrders is only valid for client id 0";
            self.send_error(conn, -1, 321, text);
            return;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.auto_bind = req.auto_bind.unwrap_or(false);
        }
        if req.auto_bind.unwrap_or(false) {
            self.bind_manual_orders(conn);
        }
    }

    /// Binds orders typed into TWS (negative ids) to client 0, as TWS does, with `OrderBound`.
    fn bind_manual_orders(&mut self, conn: u64) {
        for key in self.book.live_keys() {
            let order = &self.book.orders[&key];
            if order.client_id != 0 || order.order_id >= 0 {
                continue;
            }
            let api_id = self.next_valid_id(0);
            let perm_id = order.perm_id;
            self.book.rebind(key, api_id);
            let bound = proto::OrderBound {
                perm_id: Some(perm_id),
                client_id: Some(0),
                order_id: Some(api_id),
            };
            self.send(conn, msg::IN_ORDER_BOUND, &bound);
        }
    }

    pub(crate) fn on_completed_orders(&mut self, conn: u64, req: &proto::CompletedOrdersRequest) {
        let api_only = req.api_only.unwrap_or(false);
        let mut bytes = Vec::new();
        for key in &self.book.order_keys {
            let order = &self.book.orders[key];
            if !order.status.is_terminal() || (api_only && order.client_id == 0) {
                continue;
            }
            let mut o = order_body(order);
            o.order_id = None; // TWS does not report the API order id on completed orders
            // …and reports as total quantity what was left unfilled (0 once filled), not the size ordered.
            o.total_quantity = Some(order.remaining().max(Decimal::ZERO).normalize().to_string());
            let mut state = order_state(order, order.status.as_str());
            state.completed_time = order.completed_at.map(super::exchange::ib_time);
            state.completed_status.clone_from(&order.completed_status);
            let completed = proto::CompletedOrder {
                contract: Some(catalogue::contract(order.spec.listing)),
                order: Some(o),
                order_state: Some(state),
            };
            bytes.extend(wire::encode_frame(msg::IN_COMPLETED_ORDER, &completed));
        }
        bytes.extend(wire::encode_frame(
            msg::IN_COMPLETED_ORDERS_END,
            &proto::CompletedOrdersEnd {},
        ));
        self.send_bytes(conn, bytes);
    }

    pub(crate) fn on_executions(&mut self, conn: u64, req: &proto::ExecutionRequest) {
        let req_id = req.req_id.unwrap_or_default();
        let filter = req.execution_filter.clone().unwrap_or_default();
        let since = filter
            .time
            .as_deref()
            .filter(|t| !t.is_empty())
            .and_then(parse_filter_time);
        let mut bytes = Vec::new();
        for exec in &self.book.executions {
            let Some(order) = self.book.orders.get(&exec.order_key) else {
                continue;
            };
            let l = &LISTINGS[order.spec.listing];
            let keep = filter.client_id.is_none_or(|c| c == 0 || c == order.client_id)
                && non_empty(filter.acct_code.as_deref()).is_none_or(|a| a == order.spec.account)
                && non_empty(filter.symbol.as_deref()).is_none_or(|s| s.eq_ignore_ascii_case(l.symbol))
                && non_empty(filter.sec_type.as_deref()).is_none_or(|s| s == "STK")
                && non_empty(filter.side.as_deref()).is_none_or(|s| {
                    s.eq_ignore_ascii_case(order.spec.action.as_str()) || s == order.spec.action.exec_side()
                })
                && since.is_none_or(|t| exec.time >= t);
            if keep {
                bytes.extend(wire::encode_frame(
                    msg::IN_EXECUTION_DATA,
                    &execution_details(req_id, order, exec),
                ));
                bytes.extend(wire::encode_frame(
                    msg::IN_COMMISSIONS_REPORT,
                    &commission_report(exec),
                ));
            }
        }
        bytes.extend(wire::encode_frame(
            msg::IN_EXECUTION_DATA_END,
            &proto::ExecutionDetailsEnd { req_id: Some(req_id) },
        ));
        self.send_bytes(conn, bytes);
    }

    /// Matches every working order against the current quotes.
    pub(crate) fn match_orders(&mut self) {
        for key in self.book.live_keys() {
            self.match_order(key);
        }
    }

    fn match_order(&mut self, key: usize) {
        let Some(order) = self.book.orders.get(&key) else {
            return;
        };
        let quote = *self.market.quote(order.spec.listing);
        if !order.triggered && order.stop_triggers(&quote) {
            let order = self.book.orders.get_mut(&key).expect("exists");
            order.triggered = true;
            order.status = Status::Submitted;
            self.order_event(key, true);
        }
        let order = &self.book.orders[&key];
        if let Some((shares, price)) = order.match_against(&quote) {
            let buy = order.spec.action == Action::Buy;
            self.market.consume(
                order.spec.listing,
                buy,
                rust_decimal::prelude::ToPrimitive::to_i64(&shares).unwrap_or(0),
            );
            self.fill(key, shares, dollars(price));
        }
    }

    /// The fill-while-disconnected fault: every working order trades now at the touch, in full.
    pub(crate) fn fill_working_orders(&mut self) {
        for key in self.book.live_keys() {
            let order = &self.book.orders[&key];
            let quote = self.market.quote(order.spec.listing);
            let price = match (order.spec.action, order.spec.limit) {
                (Action::Buy, Some(limit)) => quote.ask.min(limit),
                (Action::Sell, Some(limit)) => quote.bid.max(limit),
                (Action::Buy, None) => quote.ask,
                (Action::Sell, None) => quote.bid,
            };
            let remaining = order.remaining();
            if let Some(order) = self.book.orders.get_mut(&key) {
                order.triggered = true;
                order.status = Status::Submitted;
            }
            self.fill(key, remaining, dollars(price));
        }
    }

    /// Books a fill and tells the owner: execution, status, (open order if done), commission report.
    fn fill(&mut self, key: usize, shares: Decimal, price: Decimal) {
        let now = Utc::now();
        let exec_id = self.book.next_exec_id();
        let order = self.book.orders.get_mut(&key).expect("filling a known order");
        let cum_qty = order.book_fill(shares, price);
        let fee = commission(shares, price);
        order.commission += fee;
        let done = order.remaining() <= Decimal::ZERO;
        if done {
            order.status = Status::Filled;
            order.completed_at = Some(now);
            order.completed_status = Some(format!("Filled Size: {}", order.filled));
        }
        let (listing, client_id, account_code) =
            (order.spec.listing, order.client_id, order.spec.account.clone());
        let signed = if order.spec.action == Action::Buy {
            shares
        } else {
            -shares
        };
        let avg_price = order.avg_price;
        let realized = self
            .accounts
            .iter_mut()
            .find(|a| a.code == account_code)
            .and_then(|a| a.apply_fill(listing, signed, price, fee));
        let exec = Execution {
            exec_id,
            order_key: key,
            time: now,
            shares,
            price,
            cum_qty,
            avg_price,
            commission: fee,
            realized_pnl: realized,
        };
        tracing::info!(client_id, exec_id = %exec.exec_id, %shares, %price, "sim: fill");
        let order = &self.book.orders[&key];
        let mut bytes = wire::encode_frame(msg::IN_EXECUTION_DATA, &execution_details(-1, order, &exec));
        bytes.extend(wire::encode_frame(
            msg::IN_ORDER_STATUS,
            &status_message(order, order.status.as_str()),
        ));
        if done {
            bytes.extend(wire::encode_frame(msg::IN_OPEN_ORDER, &open_order_message(order)));
        }
        bytes.extend(wire::encode_frame(
            msg::IN_COMMISSIONS_REPORT,
            &commission_report(&exec),
        ));
        if std::mem::take(&mut self.duplicate_next_execution) {
            bytes.extend(wire::encode_frame(
                msg::IN_EXECUTION_DATA,
                &execution_details(-1, order, &exec),
            ));
            bytes.extend(wire::encode_frame(
                msg::IN_COMMISSIONS_REPORT,
                &commission_report(&exec),
            ));
        }
        for conn in self.owner_conns(client_id) {
            self.send_bytes(conn, bytes.clone());
        }
        self.book.record_execution(exec);
        self.push_position_change(&account_code, listing);
        self.push_account_changes();
    }

    /// Sends `OpenOrder` (optionally) and `OrderStatus` for an order to its owner.
    fn order_event(&mut self, key: usize, with_open_order: bool) {
        let Some(order) = self.book.orders.get(&key) else {
            return;
        };
        let mut bytes = Vec::new();
        if with_open_order {
            bytes.extend(wire::encode_frame(msg::IN_OPEN_ORDER, &open_order_message(order)));
        }
        bytes.extend(wire::encode_frame(
            msg::IN_ORDER_STATUS,
            &status_message(order, order.status.as_str()),
        ));
        let mut conns = self.owner_conns(order.client_id);
        if order.client_id == 0 {
            conns.retain(|c| self.conns.get(c).is_some_and(|s| s.auto_bind));
        }
        for conn in conns {
            self.send_bytes(conn, bytes.clone());
        }
    }

    /// An order typed into TWS by hand (client 0, negative id); returns its id.
    pub(crate) fn place_manual_order(&mut self, req: &proto::PlaceOrderRequest) -> Result<i32, String> {
        let spec = book::check_order(req, &self.cfg.accounts).map_err(|r| r.message)?;
        let id = self.book.next_manual_id();
        let key = self.book.insert(0, id, spec);
        self.book.orders.get_mut(&key).expect("inserted").status = Status::Submitted;
        self.order_event(key, true);
        self.match_order(key);
        Ok(id)
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// An execution filter's time as TWS reads it: `yyyymmdd-hh:mm:ss` is UTC; `yyyymmdd hh:mm:ss <zone>` is in
/// that zone (an IANA name); `yyyymmdd hh:mm:ss` alone is in TWS's own zone, New York for this gateway
/// (its handshake and execution times say so). `None` for anything else.
fn parse_filter_time(text: &str) -> Option<chrono::DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, "%Y%m%d-%H:%M:%S") {
        return Some(t.and_utc());
    }
    let mut words = text.split_whitespace();
    let (date, time) = (words.next()?, words.next()?);
    let local = chrono::NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y%m%d %H:%M:%S").ok()?;
    let zone: chrono_tz::Tz = match words.next() {
        None => chrono_tz::America::New_York,
        Some(name) => name.parse().ok()?,
    };
    local
        .and_local_timezone(zone)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

fn blank_entry(client_id: i32, kind: EntryKind) -> LedgerEntry {
    LedgerEntry {
        seq: 0,
        time: Utc::now(),
        client_id,
        kind,
        order_id: None,
        perm_id: None,
        order_ref: None,
        account: None,
        symbol: None,
        con_id: None,
        action: None,
        quantity: None,
        order_type: None,
        limit_price: None,
        stop_price: None,
        tif: None,
        outcome: Outcome::Accepted,
    }
}

fn ledger_entry(
    client_id: i32,
    kind: EntryKind,
    order_id: Option<i32>,
    req: &proto::PlaceOrderRequest,
) -> LedgerEntry {
    let order = req.order.clone().unwrap_or_default();
    let contract = req.contract.clone().unwrap_or_default();
    let resolved = catalogue::resolve(&contract);
    LedgerEntry {
        order_id,
        order_ref: order.order_ref.filter(|r| !r.is_empty()),
        account: order.account.filter(|a| !a.is_empty()),
        symbol: resolved
            .map(|l| LISTINGS[l].symbol.to_string())
            .or(contract.symbol),
        con_id: resolved.map(|l| LISTINGS[l].con_id),
        action: order.action,
        quantity: order.total_quantity,
        order_type: order.order_type,
        limit_price: order.lmt_price,
        stop_price: order.aux_price,
        tif: order.tif,
        ..blank_entry(client_id, kind)
    }
}

fn fill_entry_from_order(entry: &mut LedgerEntry, order: &book::SimOrder) {
    let l = &LISTINGS[order.spec.listing];
    entry.perm_id = Some(order.perm_id);
    entry.order_ref.clone_from(&order.spec.order_ref);
    entry.account = Some(order.spec.account.clone());
    entry.symbol = Some(l.symbol.to_string());
    entry.con_id = Some(l.con_id);
}

/// The `Order` body as TWS echoes it.
pub(crate) fn order_body(order: &book::SimOrder) -> proto::Order {
    let s = &order.spec;
    proto::Order {
        client_id: Some(order.client_id),
        order_id: Some(order.order_id),
        perm_id: Some(order.perm_id),
        parent_id: Some(0),
        action: Some(s.action.as_str().to_string()),
        total_quantity: Some(s.quantity.normalize().to_string()),
        order_type: Some(s.kind.as_str().to_string()),
        lmt_price: Some(s.limit.map_or(UNSET_DOUBLE, |c| to_f64(dollars(c)))),
        aux_price: Some(s.stop.map_or(UNSET_DOUBLE, |c| to_f64(dollars(c)))),
        tif: Some(s.tif.as_str().to_string()),
        account: Some(s.account.clone()),
        outside_rth: Some(s.outside_rth),
        order_ref: s.order_ref.clone(),
        transmit: Some(true),
        filled_quantity: Some(order.filled.normalize().to_string()),
        ..Default::default()
    }
}

fn order_state(order: &book::SimOrder, status: &str) -> proto::OrderState {
    proto::OrderState {
        status: Some(status.to_string()),
        commission_and_fees: Some(if order.filled.is_zero() {
            UNSET_DOUBLE
        } else {
            to_f64(order.commission)
        }),
        commission_and_fees_currency: Some("USD".to_string()),
        ..Default::default()
    }
}

pub(crate) fn open_order_message(order: &book::SimOrder) -> proto::OpenOrder {
    proto::OpenOrder {
        order_id: Some(order.order_id),
        contract: Some(catalogue::contract(order.spec.listing)),
        order: Some(order_body(order)),
        order_state: Some(order_state(order, order.status.as_str())),
    }
}

pub(crate) fn status_message(order: &book::SimOrder, status: &str) -> proto::OrderStatus {
    proto::OrderStatus {
        order_id: Some(order.order_id),
        status: Some(status.to_string()),
        filled: Some(order.filled.normalize().to_string()),
        remaining: Some(order.remaining().max(Decimal::ZERO).normalize().to_string()),
        avg_fill_price: Some(to_f64(order.avg_price)),
        perm_id: Some(order.perm_id),
        parent_id: Some(0),
        last_fill_price: Some(to_f64(order.last_fill)),
        client_id: Some(order.client_id),
        why_held: None,
        mkt_cap_price: Some(0.0),
    }
}

fn execution_details(req_id: i32, order: &book::SimOrder, exec: &Execution) -> proto::ExecutionDetails {
    let l = &LISTINGS[order.spec.listing];
    proto::ExecutionDetails {
        req_id: Some(req_id),
        contract: Some(catalogue::contract(order.spec.listing)),
        execution: Some(proto::Execution {
            order_id: Some(order.order_id),
            exec_id: Some(exec.exec_id.clone()),
            time: Some(super::exchange::ib_time(exec.time)),
            acct_number: Some(order.spec.account.clone()),
            exchange: Some(l.primary_exchange.to_string()),
            side: Some(order.spec.action.exec_side().to_string()),
            shares: Some(exec.shares.normalize().to_string()),
            price: Some(to_f64(exec.price)),
            perm_id: Some(order.perm_id),
            client_id: Some(order.client_id),
            is_liquidation: Some(false),
            cum_qty: Some(exec.cum_qty.normalize().to_string()),
            avg_price: Some(to_f64(exec.avg_price)),
            order_ref: order.spec.order_ref.clone(),
            last_liquidity: Some(2),
            ..Default::default()
        }),
    }
}

fn commission_report(exec: &Execution) -> proto::CommissionAndFeesReport {
    proto::CommissionAndFeesReport {
        exec_id: Some(exec.exec_id.clone()),
        commission_and_fees: Some(to_f64(exec.commission)),
        currency: Some("USD".to_string()),
        realized_pnl: Some(exec.realized_pnl.map_or(UNSET_DOUBLE, to_f64)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> chrono::DateTime<Utc> {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .expect("a test time")
            .and_utc()
    }

    #[test]
    fn filter_time_is_utc_with_a_dash_else_in_its_zone_or_new_york() {
        assert_eq!(
            parse_filter_time("20260115-14:30:00"),
            Some(utc("2026-01-15 14:30:00"))
        );
        assert_eq!(
            parse_filter_time("20260115 09:30:00"),
            Some(utc("2026-01-15 14:30:00")),
            "EST"
        );
        assert_eq!(
            parse_filter_time("20260715 09:30:00"),
            Some(utc("2026-07-15 13:30:00")),
            "EDT"
        );
        assert_eq!(
            parse_filter_time("20260715 09:30:00 America/New_York"),
            Some(utc("2026-07-15 13:30:00"))
        );
        assert_eq!(
            parse_filter_time("20260715 09:30:00 UTC"),
            Some(utc("2026-07-15 09:30:00"))
        );
        assert_eq!(
            parse_filter_time("20260715 15:30:00 Europe/London"),
            Some(utc("2026-07-15 14:30:00"))
        );
        assert_eq!(parse_filter_time("20260715 09:30:00 Nowhere/Else"), None);
        assert_eq!(parse_filter_time("yesterday"), None);
    }
}
