//! The simulator's order book: orders as IB holds them, the checks IB makes when an order arrives, and
//! matching against the simulated quotes. It builds no frames; the exchange turns its results into messages.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::catalogue;
use super::market::Quote;
use super::proto;

/// Most completed orders and executions remembered (oldest forgotten first).
pub const HISTORY_LIMIT: usize = 20_000;

/// BUY or SELL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// BUY.
    Buy,
    /// SELL.
    Sell,
}

impl Action {
    /// The IB action string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "BUY",
            Self::Sell => "SELL",
        }
    }
    /// The execution side string (`BOT`/`SLD`).
    #[must_use]
    pub fn exec_side(self) -> &'static str {
        match self {
            Self::Buy => "BOT",
            Self::Sell => "SLD",
        }
    }
}

/// The order types the simulator matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// MKT.
    Market,
    /// LMT.
    Limit,
    /// STP.
    Stop,
    /// STP LMT.
    StopLimit,
}

impl Kind {
    /// The IB order-type string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Market => "MKT",
            Self::Limit => "LMT",
            Self::Stop => "STP",
            Self::StopLimit => "STP LMT",
        }
    }
}

/// Time in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tif {
    /// DAY.
    Day,
    /// GTC.
    Gtc,
    /// IOC.
    Ioc,
}

impl Tif {
    /// The IB TIF string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "DAY",
            Self::Gtc => "GTC",
            Self::Ioc => "IOC",
        }
    }
}

/// Order status strings exactly as TWS sends them (there is no `PartiallyFilled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Accepted, not yet working at the exchange (also an untriggered stop).
    PreSubmitted,
    /// Working (possibly partly filled).
    Submitted,
    /// Completely filled.
    Filled,
    /// Cancelled (possibly partly filled).
    Cancelled,
    /// Rejected or deactivated.
    Inactive,
}

impl Status {
    /// The TWS status string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreSubmitted => "PreSubmitted",
            Self::Submitted => "Submitted",
            Self::Filled => "Filled",
            Self::Cancelled => "Cancelled",
            Self::Inactive => "Inactive",
        }
    }
    /// Whether the order is done.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Filled | Self::Cancelled | Self::Inactive)
    }
}

/// What an incoming order asks for, once checked.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSpec {
    /// Listing index.
    pub listing: usize,
    /// Account code.
    pub account: String,
    /// BUY/SELL.
    pub action: Action,
    /// Total quantity.
    pub quantity: Decimal,
    /// Order type.
    pub kind: Kind,
    /// Limit price, cents.
    pub limit: Option<i64>,
    /// Stop (aux) price, cents.
    pub stop: Option<i64>,
    /// Time in force.
    pub tif: Tif,
    /// Outside regular trading hours.
    pub outside_rth: bool,
    /// The client's reference, echoed back.
    pub order_ref: Option<String>,
}

/// An order IB refuses, with IB's error code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// IB error code (200, 201, 110, …).
    pub code: i32,
    /// IB's message.
    pub message: String,
}

impl Refusal {
    pub(crate) fn rejected(reason: &str) -> Self {
        Self {
            code: 201,
            message: format!("Order rejected - reason:{reason}"),
        }
    }
}

/// Checks a `placeOrder` the way IB does. `managed` lists the accounts of this gateway.
pub fn check_order(req: &proto::PlaceOrderRequest, managed: &[String]) -> Result<OrderSpec, Refusal> {
    let no_definition = || Refusal {
        code: 200,
        message: "No security definition has been found for the request".to_string(),
    };
    let listing = req
        .contract
        .as_ref()
        .and_then(catalogue::resolve)
        .ok_or_else(no_definition)?;
    let order = req
        .order
        .as_ref()
        .ok_or_else(|| Refusal::rejected("the order is missing"))?;
    let action = match order.action.as_deref() {
        Some("BUY") => Action::Buy,
        Some("SELL") => Action::Sell,
        Some(other) => {
            return Err(Refusal::rejected(&format!(
                "Invalid action '{other}'; use BUY or SELL"
            )));
        }
        None => return Err(Refusal::rejected("the action is missing")),
    };
    let quantity = order_quantity(order.total_quantity.as_deref())?;
    let kind = match order.order_type.as_deref() {
        Some("MKT") => Kind::Market,
        Some("LMT") => Kind::Limit,
        Some("STP") => Kind::Stop,
        Some("STP LMT") => Kind::StopLimit,
        Some(_) => {
            return Err(Refusal {
                code: 387,
                message: "Unsupported order type for this exchange and security type.".to_string(),
            });
        }
        None => return Err(Refusal::rejected("the order type is missing")),
    };
    let limit = price(
        order.lmt_price,
        matches!(kind, Kind::Limit | Kind::StopLimit),
        "limit",
    )?;
    let stop = price(
        order.aux_price,
        matches!(kind, Kind::Stop | Kind::StopLimit),
        "stop",
    )?;
    let tif = match order.tif.as_deref() {
        None | Some("" | "DAY") => Tif::Day,
        Some("GTC") => Tif::Gtc,
        Some("IOC") => Tif::Ioc,
        Some(other) => return Err(Refusal::rejected(&format!("Invalid time in force '{other}'"))),
    };
    let account = match order.account.as_deref().filter(|a| !a.is_empty()) {
        Some(a) if managed.iter().any(|m| m == a) => a.to_string(),
        Some(a) => {
            return Err(Refusal {
                code: 321,
                message: format!(
                    "Error validating request.-'bN' : cause - The account code '{a}' is not managed"
                ),
            });
        }
        None if managed.len() == 1 => managed[0].clone(),
        None => {
            return Err(Refusal::rejected(
                "an account is required: this login manages several accounts",
            ));
        }
    };
    Ok(OrderSpec {
        listing,
        account,
        action,
        quantity,
        kind,
        limit,
        stop,
        tif,
        outside_rth: order.outside_rth.unwrap_or(false),
        order_ref: order.order_ref.clone().filter(|r| !r.is_empty()),
    })
}

/// The order's quantity: a positive whole number no larger than [`max_order_quantity`].
fn order_quantity(text: Option<&str>) -> Result<Decimal, Refusal> {
    let quantity = text
        .and_then(|q| q.parse::<Decimal>().ok())
        .filter(|q| q.is_sign_positive() && !q.is_zero())
        .ok_or_else(|| Refusal::rejected("the order quantity must be a positive number"))?;
    if quantity > max_order_quantity() {
        return Err(Refusal {
            code: 201,
            message: format!(
                "Order rejected - reason:The order quantity {quantity} exceeds the maximum of {} shares per order",
                max_order_quantity()
            ),
        });
    }
    if quantity.fract() != Decimal::ZERO {
        return Err(Refusal::rejected(
            "fractional share quantities are not supported for this contract",
        ));
    }
    Ok(quantity)
}

/// The largest quantity one order may carry. It keeps every notional, margin and cash sum far inside
/// `Decimal`'s range (prices are below 1e9 dollars), so no arithmetic on an order can overflow.
fn max_order_quantity() -> Decimal {
    Decimal::from(1_000_000_000_u64)
}

/// A price field: required or ignored by the order type; in whole cents (the listings' minimum tick).
fn price(value: Option<f64>, required: bool, which: &str) -> Result<Option<i64>, Refusal> {
    if !required {
        return Ok(None);
    }
    let value = value
        .filter(|v| v.is_finite() && *v > 0.0 && *v < 1e9)
        .ok_or_else(|| {
            Refusal::rejected(&format!("the {which} price is missing or not a positive number"))
        })?;
    let cents = value * 100.0;
    if (cents - cents.round()).abs() > 1e-6 {
        return Err(Refusal {
            code: 110,
            message: "The price does not conform to the minimum price variation for this contract."
                .to_string(),
        });
    }
    #[expect(clippy::cast_possible_truncation, reason = "bounded above to 1e11 cents")]
    Ok(Some(cents.round() as i64))
}

/// An order held by the simulated gateway.
#[derive(Debug, Clone)]
pub struct SimOrder {
    /// Permanent id, unique across clients.
    pub perm_id: i64,
    /// The placing client (0 for orders typed into TWS).
    pub client_id: i32,
    /// The client's order id (negative for TWS orders).
    pub order_id: i32,
    /// What was asked.
    pub spec: OrderSpec,
    /// TWS status.
    pub status: Status,
    /// Whether a stop has triggered.
    pub triggered: bool,
    /// Filled quantity.
    pub filled: Decimal,
    /// Average fill price.
    pub avg_price: Decimal,
    /// Last fill price.
    pub last_fill: Decimal,
    /// Commissions so far.
    pub commission: Decimal,
    /// When it completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Why it completed (`Filled size …`, `Cancelled by …`).
    pub completed_status: Option<String>,
}

impl SimOrder {
    /// Quantity still to fill.
    #[must_use]
    pub fn remaining(&self) -> Decimal {
        self.spec.quantity - self.filled
    }

    /// Shares and price (cents) this order would trade now against `quote`, or `None`.
    /// Marketable size is capped by the displayed size at the touch (partial fills beyond it).
    #[must_use]
    pub fn match_against(&self, quote: &Quote) -> Option<(Decimal, i64)> {
        if self.status.is_terminal() || self.remaining() <= Decimal::ZERO {
            return None;
        }
        let buy = self.spec.action == Action::Buy;
        let (touch, displayed) = if buy {
            (quote.ask, quote.ask_size)
        } else {
            (quote.bid, quote.bid_size)
        };
        let triggered = self.triggered || self.stop_triggers(quote);
        let marketable = match self.spec.kind {
            Kind::Market => true,
            Kind::Stop => triggered,
            Kind::Limit => self.limit_crosses(touch),
            Kind::StopLimit => triggered && self.limit_crosses(touch),
        };
        if !marketable || displayed <= 0 {
            return None;
        }
        let shares = self.remaining().min(Decimal::from(displayed));
        Some((shares, touch))
    }

    /// Whether the stop price has been reached by the last trade or the touch.
    #[must_use]
    pub fn stop_triggers(&self, quote: &Quote) -> bool {
        match (self.spec.kind, self.spec.stop) {
            (Kind::Stop | Kind::StopLimit, Some(stop)) => match self.spec.action {
                Action::Buy => quote.last >= stop || quote.ask >= stop,
                Action::Sell => quote.last <= stop || quote.bid <= stop,
            },
            _ => false,
        }
    }

    fn limit_crosses(&self, touch: i64) -> bool {
        match (self.spec.action, self.spec.limit) {
            (Action::Buy, Some(limit)) => touch <= limit,
            (Action::Sell, Some(limit)) => touch >= limit,
            _ => false,
        }
    }

    /// Books a fill of `shares` at `price` cents; returns the new cumulative quantity.
    pub fn book_fill(&mut self, shares: Decimal, price: Decimal) -> Decimal {
        let total = self.avg_price * self.filled + price * shares;
        self.filled += shares;
        self.avg_price = (total / self.filled).round_dp(6);
        self.last_fill = price;
        self.filled
    }
}

/// One execution (fill), kept for `reqExecutions`.
#[derive(Debug, Clone)]
pub struct Execution {
    /// Unique execution id.
    pub exec_id: String,
    /// Owning order's key in the book.
    pub order_key: usize,
    /// When it traded.
    pub time: DateTime<Utc>,
    /// Shares.
    pub shares: Decimal,
    /// Price.
    pub price: Decimal,
    /// Cumulative quantity of the order after this fill.
    pub cum_qty: Decimal,
    /// Average price of the order after this fill.
    pub avg_price: Decimal,
    /// Commission on this fill.
    pub commission: Decimal,
    /// Realized P&L of this fill, when it closed a position.
    pub realized_pnl: Option<Decimal>,
}

/// All orders and executions of the gateway.
#[derive(Debug, Default)]
pub struct Book {
    /// Orders by key (keys are never reused).
    pub orders: HashMap<usize, SimOrder>,
    /// Insertion order of keys, for stable listings.
    pub order_keys: VecDeque<usize>,
    next_key: usize,
    by_client: HashMap<(i32, i32), usize>,
    max_id: HashMap<i32, i32>,
    next_perm: i64,
    next_manual_id: i32,
    exec_seq: u64,
    /// Executions, oldest first.
    pub executions: VecDeque<Execution>,
}

impl Book {
    /// An empty book.
    #[must_use]
    pub fn new() -> Self {
        Self {
            next_perm: 1_376_327_563,
            next_manual_id: -1,
            ..Self::default()
        }
    }

    /// The order a client's id refers to.
    #[must_use]
    pub fn find(&self, client_id: i32, order_id: i32) -> Option<usize> {
        self.by_client.get(&(client_id, order_id)).copied()
    }

    /// The highest order id a client has used.
    #[must_use]
    pub fn max_order_id(&self, client_id: i32) -> Option<i32> {
        self.max_id.get(&client_id).copied()
    }

    /// Adds a new order; returns its key.
    pub fn insert(&mut self, client_id: i32, order_id: i32, spec: OrderSpec) -> usize {
        let key = self.next_key;
        self.next_key += 1;
        self.next_perm += 1;
        let order = SimOrder {
            perm_id: self.next_perm,
            client_id,
            order_id,
            spec,
            status: Status::PreSubmitted,
            triggered: false,
            filled: Decimal::ZERO,
            avg_price: Decimal::ZERO,
            last_fill: Decimal::ZERO,
            commission: Decimal::ZERO,
            completed_at: None,
            completed_status: None,
        };
        self.orders.insert(key, order);
        self.order_keys.push_back(key);
        self.by_client.insert((client_id, order_id), key);
        if order_id > 0 {
            self.note_id_used(client_id, order_id);
        }
        self.forget_old();
        key
    }

    /// Records that a client used an order id, even for an order that was refused.
    pub fn note_id_used(&mut self, client_id: i32, order_id: i32) {
        let max = self.max_id.entry(client_id).or_insert(order_id);
        *max = (*max).max(order_id);
    }

    /// Gives an order typed into TWS the API id it is bound to.
    pub fn rebind(&mut self, key: usize, order_id: i32) {
        let Some(order) = self.orders.get_mut(&key) else {
            return;
        };
        let client_id = order.client_id;
        self.by_client.remove(&(client_id, order.order_id));
        order.order_id = order_id;
        self.by_client.insert((client_id, order_id), key);
        self.note_id_used(client_id, order_id);
    }

    /// The next id for an order typed into TWS (negative, client 0).
    pub fn next_manual_id(&mut self) -> i32 {
        let id = self.next_manual_id;
        self.next_manual_id -= 1;
        id
    }

    /// A fresh execution id in IB's format.
    pub fn next_exec_id(&mut self) -> String {
        self.exec_seq += 1;
        format!("0000e0d5.{:08x}.01.01", self.exec_seq)
    }

    /// Records an execution.
    pub fn record_execution(&mut self, execution: Execution) {
        self.executions.push_back(execution);
        while self.executions.len() > HISTORY_LIMIT {
            self.executions.pop_front();
        }
    }

    /// Keys of orders still working, in arrival order.
    #[must_use]
    pub fn live_keys(&self) -> Vec<usize> {
        self.order_keys
            .iter()
            .copied()
            .filter(|k| self.orders.get(k).is_some_and(|o| !o.status.is_terminal()))
            .collect()
    }

    fn forget_old(&mut self) {
        while self.order_keys.len() > HISTORY_LIMIT {
            let Some(&oldest) = self.order_keys.front() else {
                break;
            };
            if self.orders.get(&oldest).is_some_and(|o| !o.status.is_terminal()) {
                break; // never forget a working order
            }
            self.order_keys.pop_front();
            if let Some(o) = self.orders.remove(&oldest) {
                self.by_client.remove(&(o.client_id, o.order_id));
            }
        }
    }
}

/// Decimal → f64 for the wire.
#[must_use]
pub fn to_f64(value: Decimal) -> f64 {
    value.to_f64().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        action: &str,
        qty: &str,
        kind: &str,
        lmt: Option<f64>,
        aux: Option<f64>,
    ) -> proto::PlaceOrderRequest {
        proto::PlaceOrderRequest {
            order_id: Some(1),
            contract: Some(proto::Contract {
                symbol: Some("AAPL".into()),
                sec_type: Some("STK".into()),
                exchange: Some("SMART".into()),
                currency: Some("USD".into()),
                ..Default::default()
            }),
            order: Some(proto::Order {
                action: Some(action.into()),
                total_quantity: Some(qty.into()),
                order_type: Some(kind.into()),
                lmt_price: lmt,
                aux_price: aux,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn managed() -> Vec<String> {
        vec!["DU1234567".to_string()]
    }

    fn quote(bid: i64, ask: i64, size: i64) -> Quote {
        Quote {
            bid,
            ask,
            last: bid,
            bid_size: size,
            ask_size: size,
            last_size: 100,
            volume: 0,
            high: ask,
            low: bid,
            open: bid,
            close: bid,
            last_time: DateTime::from_timestamp(0, 0).expect("epoch"),
        }
    }

    #[test]
    fn checks_accept_a_plain_limit_order_and_default_the_account() {
        let spec = check_order(&request("BUY", "100", "LMT", Some(187.12), None), &managed()).expect("ok");
        assert_eq!(spec.limit, Some(18_712));
        assert_eq!(spec.account, "DU1234567");
        assert_eq!(spec.tif, Tif::Day);
    }

    #[test]
    fn checks_refuse_what_ib_refuses() {
        let cases = [
            (request("BUY", "100", "LMT", Some(187.125), None), 110),
            (request("BUY", "100", "LMT", None, None), 201),
            (request("SSHORT", "100", "MKT", None, None), 201),
            (request("BUY", "0", "MKT", None, None), 201),
            (request("BUY", "1.5", "MKT", None, None), 201),
            (request("BUY", "100", "TRAIL", None, None), 387),
            (request("BUY", "100", "STP", None, None), 201),
        ];
        for (req, code) in cases {
            assert_eq!(
                check_order(&req, &managed()).map_err(|r| r.code),
                Err(code),
                "{req:?}"
            );
        }
        let mut unknown = request("BUY", "1", "MKT", None, None);
        unknown.contract.as_mut().expect("contract").symbol = Some("NOPE".into());
        assert_eq!(check_order(&unknown, &managed()).map_err(|r| r.code), Err(200));
        let mut foreign = request("BUY", "1", "MKT", None, None);
        foreign.order.as_mut().expect("order").account = Some("DU999".into());
        assert_eq!(check_order(&foreign, &managed()).map_err(|r| r.code), Err(321));
    }

    #[test]
    fn market_order_fills_only_the_displayed_size() {
        let mut book = Book::new();
        let spec = check_order(&request("BUY", "500", "MKT", None, None), &managed()).expect("ok");
        let key = book.insert(7, 1, spec);
        let order = &book.orders[&key];
        assert_eq!(
            order.match_against(&quote(100, 101, 200)),
            Some((Decimal::from(200), 101))
        );
    }

    #[test]
    fn limit_and_stop_orders_wait_for_their_prices() {
        let mut book = Book::new();
        let buy_limit = check_order(&request("BUY", "100", "LMT", Some(1.00), None), &managed()).expect("ok");
        let key = book.insert(7, 1, buy_limit);
        assert_eq!(book.orders[&key].match_against(&quote(100, 102, 500)), None);
        assert_eq!(
            book.orders[&key].match_against(&quote(99, 100, 500)),
            Some((Decimal::from(100), 100))
        );
        let sell_stop =
            check_order(&request("SELL", "100", "STP", None, Some(0.95)), &managed()).expect("ok");
        let key = book.insert(7, 2, sell_stop);
        assert_eq!(book.orders[&key].match_against(&quote(96, 97, 500)), None);
        assert_eq!(
            book.orders[&key].match_against(&quote(95, 96, 500)),
            Some((Decimal::from(100), 95))
        );
    }

    #[test]
    fn book_tracks_max_id_per_client_and_unique_perm_ids() {
        let mut book = Book::new();
        let spec = check_order(&request("BUY", "1", "MKT", None, None), &managed()).expect("ok");
        let a = book.insert(7, 5, spec.clone());
        let b = book.insert(8, 5, spec);
        assert_ne!(book.orders[&a].perm_id, book.orders[&b].perm_id);
        assert_eq!(book.max_order_id(7), Some(5));
        assert_eq!(book.find(8, 5), Some(b));
        assert_eq!(book.find(9, 5), None);
    }
}
