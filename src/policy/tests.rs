//! The policy engine against `config.example.toml`, one rule at a time: every control and every tier, the
//! fingerprint, approval, and arithmetic that must never overflow, wrap or panic.
//!
//! Every test starts from the example config's profile (`Fx::on`), at a Wednesday 10:00 New York time with
//! fresh quotes (AAPL 100, MSFT 400, SPY 500), and changes only what the rule under test reads.
#![expect(clippy::unwrap_used, reason = "tests")]

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::LazyLock;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;

use super::{
    ApprovalError, Cause, Clearable, Cleared, Context, DailyCounters, Evidence, Fingerprint, Level,
    Requester, ResumeBy, Rule, Submitted, Tier, TradingState, UnapprovedSpend, Verdict, WorkingOrder,
    approve, check, fingerprint,
};
use crate::config::{Config, Mode, Permission, Policy, StepTo};
use crate::domain::{
    AccountId, Currency, Instrument, OrderTicket, OrderType, Price, Quantity, Quote, SecType, Side, Symbol,
    Tif,
};

// ---------------------------------------------------------------------------------------------------------
// Helpers.

static CONFIG: LazyLock<Config> = LazyLock::new(|| {
    Config::parse(
        include_str!("../../config.example.toml"),
        Path::new("config.example.toml"),
    )
    .unwrap()
});

/// The paper account of the example's paper and dry-run profiles.
const ACCOUNT: &str = "DU1234567";
/// A paper account that is in no profile.
const OTHER_ACCOUNT: &str = "DU7654321";

fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text).unwrap()
}

fn px(text: &str) -> Price {
    Price::parse(text).unwrap()
}

fn qty(text: &str) -> Quantity {
    Quantity::parse(text).unwrap()
}

fn acct(text: &str) -> AccountId {
    AccountId::parse(text).unwrap()
}

fn stock(symbol: &str, exchange: &str) -> Instrument {
    Instrument::stock(Symbol::parse(symbol).unwrap(), Currency::USD, exchange)
}

fn aapl() -> Instrument {
    stock("AAPL", "NASDAQ")
}

fn msft() -> Instrument {
    stock("MSFT", "NASDAQ")
}

fn spy() -> Instrument {
    stock("SPY", "ARCA")
}

/// Not in the symbol allowlist.
fn ibm() -> Instrument {
    stock("IBM", "NYSE")
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

/// Wednesday 2026-03-04 10:00 EST: a regular session, before the DST change.
fn wednesday_10am() -> DateTime<Utc> {
    utc(2026, 3, 4, 15, 0, 0)
}

/// A ticket in AAPL on the paper account, DAY, regular hours.
fn order(side: Side, q: &str, order_type: OrderType, limit: Option<&str>, stop: Option<&str>) -> OrderTicket {
    OrderTicket {
        account: acct(ACCOUNT),
        instrument: aapl(),
        side,
        quantity: qty(q),
        order_type,
        limit_price: limit.map(px),
        stop_price: stop.map(px),
        tif: Tif::Day,
        outside_rth: false,
    }
}

fn buy(q: &str, limit: &str) -> OrderTicket {
    order(Side::Buy, q, OrderType::Limit, Some(limit), None)
}

fn sell(q: &str, limit: &str) -> OrderTicket {
    order(Side::Sell, q, OrderType::Limit, Some(limit), None)
}

fn mkt(side: Side, q: &str) -> OrderTicket {
    order(side, q, OrderType::Market, None, None)
}

/// `t` in another instrument.
fn of(instrument: Instrument, t: OrderTicket) -> OrderTicket {
    OrderTicket { instrument, ..t }
}

/// `t` in another account.
fn on(account: &str, t: OrderTicket) -> OrderTicket {
    OrderTicket {
        account: acct(account),
        ..t
    }
}

/// `t` marked outside-RTH.
fn ext(t: OrderTicket) -> OrderTicket {
    OrderTicket {
        outside_rth: true,
        ..t
    }
}

/// A working order shaped like `t`, nothing filled yet.
fn working(t: &OrderTicket) -> WorkingOrder {
    WorkingOrder {
        account: t.account.clone(),
        instrument: t.instrument.clone(),
        side: t.side,
        remaining: t.quantity,
        order_type: t.order_type,
        limit_price: t.limit_price,
        stop_price: t.stop_price,
    }
}

/// `t`, submitted at `at`.
fn submitted(t: &OrderTicket, at: DateTime<Utc>) -> Submitted {
    Submitted {
        account: t.account.clone(),
        instrument: t.instrument.clone(),
        side: t.side,
        quantity: t.quantity,
        order_type: t.order_type,
        limit_price: t.limit_price,
        stop_price: t.stop_price,
        at,
    }
}

fn spend(agent: &str, instrument: Instrument, notional: &str, at: DateTime<Utc>) -> UnapprovedSpend {
    UnapprovedSpend {
        agent: agent.into(),
        instrument,
        notional: dec(notional),
        at,
    }
}

fn read_agent() -> Requester {
    Requester::Agent {
        name: "reader".into(),
        level: Permission::Read,
        unapproved_budget: Decimal::ZERO,
    }
}

/// Everything a check reads besides the ticket, owned, so a test changes one field and checks.
struct Fx {
    profile: String,
    mode: Mode,
    accounts: Vec<AccountId>,
    policy: Policy,
    requester: Requester,
    version: u32,
    positions: BTreeMap<(AccountId, Instrument), Decimal>,
    working: Vec<WorkingOrder>,
    recent: Vec<Submitted>,
    unapproved: Vec<UnapprovedSpend>,
    quotes: BTreeMap<Instrument, Quote>,
    counters: DailyCounters,
    trading: TradingState,
    now: DateTime<Utc>,
}

impl Fx {
    /// The example's `profile`, the trader asking, Active, Wednesday 10:00 ET, fresh quotes for the
    /// allowlisted symbols (AAPL mid 100, MSFT mid 400, SPY mid 500), nothing else.
    fn on(profile: &str) -> Self {
        let p = CONFIG.profile(Some(profile)).unwrap();
        let mut fx = Self {
            profile: p.name.clone(),
            mode: p.mode,
            accounts: p.accounts.clone(),
            policy: p.policy.clone(),
            requester: Requester::Trader,
            version: 1,
            positions: BTreeMap::new(),
            working: Vec::new(),
            recent: Vec::new(),
            unapproved: Vec::new(),
            quotes: BTreeMap::new(),
            counters: DailyCounters::default(),
            trading: TradingState::active(),
            now: wednesday_10am(),
        };
        fx.quote(aapl(), Some("99.9"), Some("100.1"), Some("100.05"));
        fx.quote(msft(), Some("399"), Some("401"), None);
        fx.quote(spy(), Some("499.5"), Some("500.5"), None);
        fx
    }

    fn paper() -> Self {
        Self::on("paper")
    }

    /// The example's agent `name`, at its effective level on this profile.
    fn agent(&mut self, name: &str) {
        let agent = CONFIG.agents.iter().find(|a| a.name == name).unwrap();
        let level = CONFIG
            .profile(Some(&self.profile))
            .unwrap()
            .effective_permission(agent);
        self.requester = Requester::Agent {
            name: name.into(),
            level,
            unapproved_budget: agent.unapproved_notional_budget,
        };
    }

    /// A quote received one second ago.
    fn quote(&mut self, i: Instrument, bid: Option<&str>, ask: Option<&str>, last: Option<&str>) {
        let at = self.now - secs(1);
        self.quote_at(i, bid, ask, last, at);
    }

    fn quote_at(
        &mut self,
        i: Instrument,
        bid: Option<&str>,
        ask: Option<&str>,
        last: Option<&str>,
        received_at: DateTime<Utc>,
    ) {
        let quote = Quote {
            bid: bid.map(px),
            ask: ask.map(px),
            last: last.map(px),
            ..Quote::empty(received_at)
        };
        self.quotes.insert(i, quote);
    }

    /// Moves the clock, and every quote with it (they stay as fresh as they were).
    fn at(&mut self, now: DateTime<Utc>) {
        let delta = now - self.now;
        for q in self.quotes.values_mut() {
            q.received_at += delta;
        }
        self.now = now;
    }

    fn position(&mut self, i: Instrument, q: &str) {
        self.position_in(ACCOUNT, i, q);
    }

    fn position_in(&mut self, account: &str, i: Instrument, q: &str) {
        self.positions.insert((acct(account), i), dec(q));
    }

    fn work(&mut self, t: &OrderTicket) {
        self.working.push(working(t));
    }

    fn ctx(&self) -> Context<'_> {
        Context {
            profile: &self.profile,
            mode: self.mode,
            accounts: &self.accounts,
            policy: &self.policy,
            requester: self.requester.clone(),
            version: self.version,
            positions: &self.positions,
            working: &self.working,
            recent: &self.recent,
            unapproved: &self.unapproved,
            quotes: &self.quotes,
            counters: &self.counters,
            trading: &self.trading,
            now: self.now,
        }
    }

    fn check(&self, t: &OrderTicket) -> Verdict {
        check(t, &self.ctx())
    }

    /// The violated rules (empty when clearable).
    fn rules(&self, t: &OrderTicket) -> Vec<Rule> {
        self.check(t).rules()
    }

    fn clearable(&self, t: &OrderTicket) -> Clearable {
        match self.check(t) {
            Verdict::Clearable(c) => *c,
            Verdict::Refused(v) => panic!("expected clearable, got {v:?}"),
        }
    }

    fn notional(&self, t: &OrderTicket) -> Decimal {
        self.clearable(t).notional
    }

    fn tier(&self, t: &OrderTicket) -> Tier {
        self.clearable(t).tier
    }

    /// The message of the one violation of `rule`.
    fn message(&self, t: &OrderTicket, rule: Rule) -> String {
        match self.check(t) {
            Verdict::Refused(v) => {
                let found: Vec<_> = v.iter().filter(|v| v.rule == rule).collect();
                assert_eq!(found.len(), 1, "{v:?}");
                found[0].message.clone()
            }
            Verdict::Clearable(c) => panic!("expected {rule} refused, got {c:?}"),
        }
    }
}

const NONE: [Rule; 0] = [];

#[test]
fn the_example_config_is_what_these_tests_assume() {
    let p = &Fx::paper().policy;
    assert_eq!(p.order_types, [OrderType::Limit, OrderType::Market]);
    assert_eq!(p.tifs, [Tif::Day, Tif::Gtc]);
    assert_eq!(p.sides, [Side::Buy, Side::Sell]);
    assert_eq!(
        (
            p.max_order_quantity,
            p.max_order_notional,
            p.max_position,
            p.max_gross_exposure
        ),
        (dec("500"), dec("50000"), dec("2000"), dec("250000"))
    );
    assert_eq!(
        (p.price_collar_pct, p.quote_max_age_secs, p.duplicate_window_secs),
        (dec("5"), 5, 30)
    );
    assert_eq!(
        (
            p.max_orders_per_day,
            p.max_notional_per_day,
            p.max_orders_per_symbol_per_day,
            p.max_orders_per_minute
        ),
        (200, dec("500000"), 40, 10)
    );
    assert_eq!(
        (
            p.manual_approval_notional,
            p.typed_approval_notional,
            p.live_typed_quantity,
            p.agent_budget_window_secs
        ),
        (dec("5000"), dec("25000"), dec("100"), 3600)
    );
    assert_eq!(p.symbols, [aapl(), msft(), spy()]);
    let live = &Fx::on("live").policy;
    assert_eq!(
        (
            live.max_order_quantity,
            live.max_order_notional,
            live.live_typed_quantity
        ),
        (dec("200"), dec("20000"), dec("50"))
    );
}

#[test]
fn a_plain_ticket_is_clearable_with_its_notional_fingerprint_epoch_and_read_back() {
    let fx = Fx::paper();
    let t = buy("10", "100");
    let c = fx.clearable(&t);
    assert_eq!(c.ticket, t);
    assert_eq!(c.notional, dec("1000"));
    assert_eq!(c.tier, Tier::Confirm);
    assert_eq!(c.epoch, 0);
    assert_eq!(c.fingerprint, fingerprint(&t, "paper", 1));
    assert_eq!(c.read_back, "BUY 10 AAPL LMT 100");
    assert_eq!(Verdict::Clearable(Box::new(c)).rules(), NONE);
}

// ---------------------------------------------------------------------------------------------------------
// PERMISSION, HALTED, REDUCING.

#[test]
fn permission_a_read_level_agent_cannot_stage_orders() {
    let mut fx = Fx::paper();
    fx.requester = read_agent();
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::Permission]);
    assert_eq!(
        fx.message(&buy("10", "100"), Rule::Permission),
        "agent 'reader' has read permission on this profile and cannot stage orders"
    );
    fx.agent("momentum");
    assert_eq!(fx.rules(&buy("10", "100")), NONE, "prepare may stage");
}

#[test]
fn halted_refuses_every_new_order_even_a_reducing_one() {
    let mut fx = Fx::paper();
    fx.trading.step_down(Cause::KillSwitch, Level::Halted);
    fx.position(aapl(), "100");
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::Halted]);
    assert_eq!(fx.rules(&sell("10", "100")), [Rule::Halted], "not REDUCING");
    assert_eq!(
        fx.message(&sell("10", "100"), Rule::Halted),
        "trading is HALTED: only cancels are allowed"
    );
}

#[test]
fn reducing_admits_a_sell_that_cannot_flip_a_long() {
    let mut fx = Fx::paper();
    fx.trading.step_down(Cause::Disconnected, Level::Reducing);
    fx.position(aapl(), "100");
    assert_eq!(fx.rules(&sell("10", "100")), NONE);
    assert_eq!(fx.rules(&sell("100", "100")), NONE, "to exactly flat");
    assert_eq!(fx.rules(&sell("101", "100")), [Rule::Reducing], "would flip");
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::Reducing], "grows the long");
    assert!(
        fx.message(&buy("10", "100"), Rule::Reducing)
            .starts_with("trading is REDUCING")
    );
    // Working sells count (if every working order on the ticket's side fills) ...
    fx.work(&sell("60", "100"));
    assert_eq!(fx.rules(&sell("40", "100")), NONE);
    assert_eq!(fx.rules(&sell("41", "100")), [Rule::Reducing]);
    // ... but not working buys, nor other accounts' or instruments' sells.
    fx.work(&buy("500", "100"));
    fx.work(&on(OTHER_ACCOUNT, sell("500", "100")));
    fx.work(&of(msft(), sell("500", "400")));
    assert_eq!(fx.rules(&sell("40", "100")), NONE);
}

#[test]
fn reducing_admits_a_buy_that_cannot_flip_a_short() {
    let mut fx = Fx::paper();
    fx.trading.step_down(Cause::Disconnected, Level::Reducing);
    fx.position(aapl(), "-100");
    assert_eq!(fx.rules(&buy("100", "100")), NONE);
    assert_eq!(fx.rules(&buy("101", "100")), [Rule::Reducing]);
    assert_eq!(fx.rules(&sell("1", "100")), [Rule::Reducing]);
    fx.work(&buy("30", "100"));
    fx.work(&sell("500", "100"));
    fx.work(&on(OTHER_ACCOUNT, buy("500", "100")));
    assert_eq!(fx.rules(&buy("70", "100")), NONE);
    assert_eq!(fx.rules(&buy("71", "100")), [Rule::Reducing]);
}

#[test]
fn reducing_refuses_any_order_without_a_position_including_another_accounts_position() {
    let mut fx = Fx::paper();
    fx.trading.step_down(Cause::Disconnected, Level::Reducing);
    fx.position_in(OTHER_ACCOUNT, aapl(), "100");
    fx.position(msft(), "100");
    assert_eq!(fx.rules(&sell("10", "100")), [Rule::Reducing]);
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::Reducing]);
}

// ---------------------------------------------------------------------------------------------------------
// ACCOUNT, SYMBOL, ORDER_TYPE, TIF, SIDE, PRICE_FIELDS, QUANTITY.

#[test]
fn account_must_be_in_the_profiles_allowlist() {
    let fx = Fx::paper();
    assert_eq!(fx.rules(&on(OTHER_ACCOUNT, buy("10", "100"))), [Rule::Account]);
    assert_eq!(fx.rules(&on("U1234567", buy("10", "100"))), [Rule::Account]);
    assert_eq!(
        fx.message(&on(OTHER_ACCOUNT, buy("10", "100")), Rule::Account),
        "account DU7654321 is not allowed on profile 'paper'"
    );
    let live = Fx::on("live");
    assert_eq!(live.rules(&on("U1234567", buy("10", "100"))), NONE);
    assert_eq!(live.rules(&buy("10", "100")), [Rule::Account]);
}

#[test]
fn symbol_pins_the_whole_instrument_not_just_the_ticker() {
    let mut fx = Fx::paper();
    let other_exchange = stock("AAPL", "NYSE");
    let no_exchange = stock("AAPL", "");
    let other_currency = Instrument {
        currency: Currency::parse("EUR").unwrap(),
        ..aapl()
    };
    let other_sec_type = Instrument {
        sec_type: SecType::parse("CFD").unwrap(),
        ..aapl()
    };
    for i in [
        other_exchange,
        no_exchange.clone(),
        other_currency,
        other_sec_type,
        ibm(),
    ] {
        fx.quote(i.clone(), Some("99.9"), Some("100.1"), None);
        assert_eq!(
            fx.rules(&of(i.clone(), buy("10", "100"))),
            [Rule::Symbol],
            "{i:?}"
        );
    }
    assert_eq!(
        fx.message(&of(ibm(), buy("10", "100")), Rule::Symbol),
        "IBM STK USD on NYSE is not in the symbol allowlist"
    );
    assert_eq!(
        fx.message(&of(no_exchange, buy("10", "100")), Rule::Symbol),
        "AAPL STK USD on (no exchange) is not in the symbol allowlist"
    );
    assert_eq!(fx.rules(&of(msft(), buy("10", "400"))), NONE);
    assert_eq!(fx.rules(&of(spy(), buy("10", "500"))), NONE);
}

#[test]
fn order_type_must_be_allowed() {
    let mut fx = Fx::paper();
    let stop = order(Side::Buy, "10", OrderType::Stop, None, Some("101"));
    let stop_limit = order(Side::Buy, "10", OrderType::StopLimit, Some("101"), Some("100"));
    assert_eq!(fx.rules(&stop), [Rule::OrderType]);
    assert_eq!(fx.rules(&stop_limit), [Rule::OrderType]);
    assert_eq!(fx.rules(&mkt(Side::Buy, "10")), NONE);
    assert_eq!(
        fx.message(&stop_limit, Rule::OrderType),
        "order type STP LMT is not allowed"
    );
    fx.policy.order_types = vec![OrderType::Stop, OrderType::StopLimit];
    assert_eq!(fx.rules(&stop), NONE);
    assert_eq!(fx.rules(&stop_limit), NONE);
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::OrderType]);
}

#[test]
fn tif_must_be_allowed() {
    let mut fx = Fx::paper();
    let ioc = OrderTicket {
        tif: Tif::Ioc,
        ..buy("10", "100")
    };
    let gtc = OrderTicket {
        tif: Tif::Gtc,
        ..buy("10", "100")
    };
    assert_eq!(fx.rules(&ioc), [Rule::Tif]);
    assert_eq!(fx.message(&ioc, Rule::Tif), "time in force IOC is not allowed");
    assert_eq!(fx.rules(&gtc), NONE);
    fx.policy.tifs = vec![Tif::Ioc];
    assert_eq!(fx.rules(&ioc), NONE);
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::Tif]);
}

#[test]
fn side_must_be_allowed() {
    let mut fx = Fx::paper();
    fx.policy.sides = vec![Side::Buy];
    assert_eq!(fx.rules(&sell("10", "100")), [Rule::Side]);
    assert_eq!(
        fx.message(&sell("10", "100"), Rule::Side),
        "side SELL is not allowed"
    );
    assert_eq!(fx.rules(&buy("10", "100")), NONE);
    fx.policy.sides = vec![Side::Sell];
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::Side]);
}

#[test]
fn price_fields_must_match_the_order_type() {
    let mut fx = Fx::paper();
    let limit_without_price = order(Side::Buy, "10", OrderType::Limit, None, None);
    let market_with_limit = order(Side::Buy, "10", OrderType::Market, Some("100"), None);
    assert_eq!(fx.rules(&limit_without_price), [Rule::PriceFields]);
    assert_eq!(fx.rules(&market_with_limit), [Rule::PriceFields]);
    assert_eq!(
        fx.message(&market_with_limit, Rule::PriceFields),
        "limit_price '100': must be empty when order_type is 'MKT'"
    );
    fx.policy.order_types.push(OrderType::StopLimit);
    let stop_limit_without_prices = order(Side::Buy, "10", OrderType::StopLimit, None, None);
    assert_eq!(fx.rules(&stop_limit_without_prices), [Rule::PriceFields]);
    assert_eq!(
        fx.message(&stop_limit_without_prices, Rule::PriceFields),
        "limit_price: required when order_type is 'STP LMT'; stop_price: required when order_type is 'STP LMT'"
    );
}

#[test]
fn quantity_at_most_max_order_quantity() {
    let mut fx = Fx::paper();
    fx.policy.max_order_quantity = dec("50");
    assert_eq!(fx.rules(&buy("50", "100")), NONE);
    assert_eq!(fx.rules(&buy("51", "100")), [Rule::Quantity]);
    assert_eq!(
        fx.message(&buy("51", "100"), Rule::Quantity),
        "quantity 51 is above the maximum of 50 per order"
    );
    assert_eq!(Fx::paper().rules(&buy("500", "100")), NONE);
    assert_eq!(Fx::paper().rules(&buy("501", "99")), [Rule::Quantity], "49 599");
}

// ---------------------------------------------------------------------------------------------------------
// NOTIONAL and worst prices.

#[test]
fn notional_at_most_max_order_notional() {
    let fx = Fx::paper();
    assert_eq!(
        fx.notional(&buy("500", "100")),
        dec("50000"),
        "equal to the limit passes"
    );
    assert_eq!(fx.rules(&buy("500", "100.01")), [Rule::Notional]);
    assert_eq!(
        fx.message(&buy("500", "100.01"), Rule::Notional),
        "notional 50005 at the worst fill is above the maximum of 50000 per order"
    );
}

#[test]
fn notional_of_a_market_order_is_at_the_collar_edge() {
    let fx = Fx::paper();
    // reference 100, collar 5 %: edge 105.
    assert_eq!(fx.notional(&mkt(Side::Buy, "10")), dec("1050"));
    assert_eq!(fx.notional(&mkt(Side::Buy, "476")), dec("49980"));
    assert_eq!(fx.rules(&mkt(Side::Buy, "477")), [Rule::Notional]);
    assert_eq!(fx.notional(&mkt(Side::Sell, "10")), dec("1050"));
}

#[test]
fn notional_of_a_sell_limit_is_at_the_larger_of_limit_and_edge() {
    let fx = Fx::paper();
    assert_eq!(
        fx.notional(&sell("10", "99")),
        dec("1050"),
        "edge above the limit"
    );
    assert_eq!(fx.notional(&sell("10", "105")), dec("1050"));
    // A limit above the edge is outside the collar, but its notional is still at the limit.
    assert_eq!(fx.rules(&sell("300", "200")), [Rule::Notional, Rule::Collar]);
    assert_eq!(
        fx.message(&sell("300", "200"), Rule::Notional),
        "notional 60000 at the worst fill is above the maximum of 50000 per order"
    );
}

#[test]
fn worst_price_of_stop_orders() {
    let mut fx = Fx::paper();
    fx.policy.order_types = vec![OrderType::Stop, OrderType::StopLimit];
    let stop = |side, stop| order(side, "10", OrderType::Stop, None, Some(stop));
    let stop_limit = |side, limit, stop| order(side, "10", OrderType::StopLimit, Some(limit), Some(stop));
    assert_eq!(
        fx.notional(&stop(Side::Buy, "110")),
        dec("1100"),
        "stop above edge"
    );
    assert_eq!(
        fx.notional(&stop(Side::Buy, "90")),
        dec("1050"),
        "edge above stop"
    );
    assert_eq!(fx.notional(&stop(Side::Sell, "90")), dec("1050"));
    assert_eq!(
        fx.notional(&stop_limit(Side::Buy, "101", "110")),
        dec("1010"),
        "a buy with a limit: its limit"
    );
    assert_eq!(
        fx.notional(&stop_limit(Side::Sell, "104", "110")),
        dec("1100"),
        "a sell: largest of limit, stop and edge"
    );
    assert_eq!(fx.notional(&stop_limit(Side::Sell, "104", "95")), dec("1050"));
}

#[test]
fn a_buy_limit_needs_no_quote_for_its_notional() {
    let mut fx = Fx::paper();
    fx.quotes.clear();
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::NoQuote]);
    assert_eq!(
        fx.message(&buy("10", "100"), Rule::NoQuote),
        "no fresh quote for AAPL (needed for: price collar); a quote counts for 5 s"
    );
}

// ---------------------------------------------------------------------------------------------------------
// POSITION.

#[test]
fn position_of_a_buy_counts_working_buys_of_the_same_account_and_instrument_only() {
    let mut fx = Fx::paper();
    fx.policy.max_gross_exposure = dec("100000000");
    fx.position(aapl(), "1500");
    fx.position_in(OTHER_ACCOUNT, aapl(), "1999");
    fx.work(&buy("300", "100"));
    fx.work(&sell("1000", "100"));
    fx.work(&on(OTHER_ACCOUNT, buy("1000", "100")));
    fx.work(&of(msft(), buy("1000", "400")));
    assert_eq!(fx.rules(&buy("200", "100")), NONE, "1500 + 300 + 200 = 2000");
    assert_eq!(fx.rules(&buy("201", "100")), [Rule::Position]);
    assert_eq!(
        fx.message(&buy("201", "100"), Rule::Position),
        "the position could reach 2001 long if working orders fill, above the limit of 2000"
    );
}

#[test]
fn position_of_a_sell_counts_working_sells_of_the_same_account_and_instrument_only() {
    let mut fx = Fx::paper();
    fx.policy.max_gross_exposure = dec("100000000");
    fx.position(aapl(), "-1500");
    fx.position_in(OTHER_ACCOUNT, aapl(), "-1999");
    fx.work(&sell("300", "100"));
    fx.work(&buy("1000", "100"));
    fx.work(&on(OTHER_ACCOUNT, sell("1000", "100")));
    fx.work(&of(msft(), sell("1000", "400")));
    assert_eq!(fx.rules(&sell("200", "100")), NONE, "-1500 - 300 - 200 = -2000");
    assert_eq!(fx.rules(&sell("201", "100")), [Rule::Position]);
    assert_eq!(
        fx.message(&sell("201", "100"), Rule::Position),
        "the position could reach 2001 short if working orders fill, above the limit of 2000"
    );
}

#[test]
fn position_a_sell_from_a_long_may_go_short_up_to_the_limit() {
    let mut fx = Fx::paper();
    fx.policy.max_order_quantity = dec("5000");
    fx.policy.max_order_notional = dec("1000000");
    fx.policy.max_gross_exposure = dec("100000000");
    fx.policy.max_notional_per_day = dec("100000000");
    fx.position(aapl(), "1000");
    assert_eq!(fx.rules(&sell("3000", "100")), NONE, "1000 - 3000 = -2000");
    assert_eq!(fx.rules(&sell("3001", "100")), [Rule::Position]);
    assert_eq!(fx.rules(&buy("1000", "100")), NONE);
    assert_eq!(fx.rules(&buy("1001", "100")), [Rule::Position]);
}

// ---------------------------------------------------------------------------------------------------------
// GROSS.

/// Positions and working orders in the paper account (and some in another account, which do not count).
fn gross_fixture() -> Fx {
    let mut fx = Fx::paper();
    fx.position(aapl(), "1000"); // at reference 100: 100 000
    fx.position(msft(), "-200"); // |-200| at reference 400: 80 000
    fx.position(spy(), "0");
    fx.position(ibm(), "0"); // zero: no price needed
    fx.position_in(OTHER_ACCOUNT, aapl(), "5000");
    fx.work(&of(msft(), sell("10", "401"))); // a sell at max(401, edge 420): 4 200
    fx.work(&mkt(Side::Buy, "10")); // at the edge 105: 1 050
    fx.work(&of(spy(), buy("20", "490"))); // a buy at its limit: 9 800
    fx.work(&on(OTHER_ACCOUNT, of(spy(), buy("1000", "500"))));
    fx
}

#[test]
fn gross_counts_positions_at_reference_and_working_orders_at_worst_price() {
    let mut fx = gross_fixture();
    let t = of(spy(), buy("100", "500")); // 50 000
    // 100 000 + 80 000 + 4 200 + 1 050 + 9 800 + 50 000 = 245 050
    fx.policy.max_gross_exposure = dec("245050");
    assert_eq!(fx.rules(&t), NONE);
    fx.policy.max_gross_exposure = dec("245049.99");
    assert_eq!(fx.rules(&t), [Rule::Gross]);
    assert_eq!(
        fx.message(&t, Rule::Gross),
        "gross exposure could reach 245050, above the limit of 245049.99"
    );
}

#[test]
fn gross_needs_every_price_else_no_quote() {
    let mut fx = Fx::paper();
    fx.position(ibm(), "10");
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::NoQuote]);
    assert_eq!(
        fx.message(&buy("10", "100"), Rule::NoQuote),
        "no fresh quote for IBM (needed for: gross exposure); a quote counts for 5 s",
        "the held instrument without a quote is named, not the ticket's"
    );

    let mut fx = Fx::paper();
    fx.work(&of(ibm(), mkt(Side::Buy, "10")));
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::NoQuote]);
    assert_eq!(
        fx.message(&buy("10", "100"), Rule::NoQuote),
        "no fresh quote for IBM (needed for: gross exposure); a quote counts for 5 s",
        "the working order's instrument without a quote is named"
    );

    let mut fx = Fx::paper();
    fx.work(&of(ibm(), buy("10", "100")));
    assert_eq!(
        fx.rules(&buy("10", "100")),
        NONE,
        "a working buy limit is priced at its limit"
    );
    fx.work(&on(OTHER_ACCOUNT, of(ibm(), mkt(Side::Sell, "10"))));
    assert_eq!(
        fx.rules(&buy("10", "100")),
        NONE,
        "another account's order is not counted"
    );
}

#[test]
fn no_quote_names_each_instrument_without_a_quote_with_what_needed_it() {
    // The issue: an account holding an instrument outside the allowlist (TSLA) that has no quote. A buy
    // of AAPL, quoted, within every limit, is refused for the gross exposure: the message must send the
    // trader to TSLA, not to AAPL.
    let tsla = stock("TSLA", "NASDAQ");
    let mut fx = Fx::paper();
    fx.position(aapl(), "200");
    fx.position(tsla.clone(), "-30");
    let t = buy("10", "100");
    assert_eq!(fx.rules(&t), [Rule::NoQuote]);
    let message = fx.message(&t, Rule::NoQuote);
    assert_eq!(
        message,
        "no fresh quote for TSLA (needed for: gross exposure); a quote counts for 5 s"
    );
    assert!(!message.contains("AAPL"), "{message}");
    // With a quote for TSLA the same ticket passes.
    fx.quote(tsla.clone(), Some("249"), Some("250"), None);
    assert_eq!(fx.rules(&t), NONE);

    // The ticket's own instrument and two holdings without quotes: each named once, with what needed it,
    // in the order first needed (the ticket's, then the account's positions in order).
    let mut fx = Fx::paper();
    fx.quotes.remove(&aapl());
    fx.position(tsla, "-30");
    fx.position(ibm(), "10");
    fx.position_in(OTHER_ACCOUNT, stock("NVDA", "NASDAQ"), "5");
    assert_eq!(fx.rules(&mkt(Side::Buy, "10")), [Rule::NoQuote]);
    assert_eq!(
        fx.message(&mkt(Side::Buy, "10"), Rule::NoQuote),
        "no fresh quote for AAPL (needed for: notional, gross exposure, daily notional), IBM (needed for: \
         gross exposure) and TSLA (needed for: gross exposure); a quote counts for 5 s",
        "another account's holding is not named"
    );
}

#[test]
fn gross_is_skipped_for_a_reducing_ticket() {
    let mut fx = Fx::paper();
    fx.policy.max_gross_exposure = dec("1");
    fx.position(aapl(), "1000");
    assert_eq!(fx.rules(&sell("100", "100")), NONE);
    assert_eq!(fx.rules(&buy("1", "100")), [Rule::Gross]);

    let mut fx = Fx::paper();
    fx.position(aapl(), "1000");
    fx.position(ibm(), "10");
    assert_eq!(
        fx.rules(&sell("100", "100")),
        NONE,
        "its prices are not needed either"
    );
    assert_eq!(fx.rules(&buy("1", "100")), [Rule::NoQuote]);
}

// ---------------------------------------------------------------------------------------------------------
// COLLAR.

#[test]
fn collar_limit_within_pct_of_reference() {
    let fx = Fx::paper();
    for (limit, rules) in [
        ("105", &NONE[..]),
        ("105.01", &[Rule::Collar][..]),
        ("95", &NONE[..]),
        ("94.99", &[Rule::Collar][..]),
    ] {
        assert_eq!(fx.rules(&buy("10", limit)), rules, "buy {limit}");
        assert_eq!(fx.rules(&sell("10", limit)), rules, "sell {limit}");
    }
    assert_eq!(
        fx.message(&buy("10", "105.01"), Rule::Collar),
        "limit 105.01 is more than 5% from the reference price 100"
    );
}

#[test]
fn collar_follows_the_percentage_and_ignores_stop_prices() {
    let mut fx = Fx::paper();
    fx.policy.price_collar_pct = dec("10");
    assert_eq!(fx.rules(&buy("10", "110")), NONE);
    assert_eq!(fx.rules(&buy("10", "110.01")), [Rule::Collar]);
    assert_eq!(fx.rules(&buy("10", "89.99")), [Rule::Collar]);
    let mut fx = Fx::paper();
    fx.policy.order_types = vec![OrderType::Stop, OrderType::StopLimit];
    assert_eq!(
        fx.rules(&order(
            Side::Buy,
            "10",
            OrderType::StopLimit,
            Some("100"),
            Some("150")
        )),
        NONE
    );
    assert_eq!(
        fx.rules(&order(Side::Buy, "10", OrderType::Stop, None, Some("150"))),
        NONE
    );
}

// ---------------------------------------------------------------------------------------------------------
// NO_QUOTE.

#[test]
fn no_quote_is_reported_once_for_a_market_order_without_a_quote() {
    let mut fx = Fx::paper();
    fx.quotes.remove(&aapl());
    assert_eq!(fx.rules(&mkt(Side::Buy, "10")), [Rule::NoQuote]);
    assert_eq!(
        fx.message(&mkt(Side::Buy, "10"), Rule::NoQuote),
        "no fresh quote for AAPL (needed for: notional, gross exposure, daily notional); a quote counts for 5 s"
    );
    assert_eq!(
        fx.message(&sell("10", "100"), Rule::NoQuote),
        "no fresh quote for AAPL (needed for: notional, gross exposure, price collar, daily notional); a quote counts for 5 s"
    );
}

#[test]
fn no_quote_for_a_stale_or_future_stamped_quote() {
    let mut fx = Fx::paper();
    let now = fx.now;
    let at = |fx: &mut Fx, received: DateTime<Utc>| {
        fx.quote_at(aapl(), Some("99.9"), Some("100.1"), None, received);
        fx.rules(&mkt(Side::Buy, "10"))
    };
    assert_eq!(at(&mut fx, now), NONE);
    assert_eq!(at(&mut fx, now - secs(5)), NONE, "exactly quote_max_age_secs old");
    assert_eq!(at(&mut fx, now - Duration::milliseconds(5001)), [Rule::NoQuote]);
    assert_eq!(at(&mut fx, now + Duration::milliseconds(1)), [Rule::NoQuote]);
    fx.policy.quote_max_age_secs = 10;
    assert_eq!(at(&mut fx, now - secs(10)), NONE);
    assert_eq!(at(&mut fx, now - secs(11)), [Rule::NoQuote]);
}

#[test]
fn reference_is_the_mid_of_an_uncrossed_quote_else_the_last() {
    let mut fx = Fx::paper();
    let mut notional = |bid: Option<&str>, ask: Option<&str>, last: Option<&str>| {
        fx.quote(aapl(), bid, ask, last);
        match fx.check(&mkt(Side::Buy, "10")) {
            Verdict::Clearable(c) => Ok(c.notional),
            Verdict::Refused(v) => Err(v.iter().map(|v| v.rule).collect::<Vec<_>>()),
        }
    };
    // Market orders are priced at reference × 1.05.
    assert_eq!(
        notional(Some("99"), Some("101"), Some("50")),
        Ok(dec("1050")),
        "the mid"
    );
    assert_eq!(
        notional(Some("100"), Some("100"), Some("50")),
        Ok(dec("1050")),
        "locked: the mid"
    );
    assert_eq!(
        notional(Some("101"), Some("99"), Some("100.5")),
        Ok(dec("1055.25")),
        "crossed: the last"
    );
    assert_eq!(notional(Some("101"), Some("99"), None), Err(vec![Rule::NoQuote]));
    assert_eq!(
        notional(Some("98"), None, Some("100")),
        Ok(dec("1050")),
        "one-sided: the last"
    );
    assert_eq!(notional(None, Some("98"), Some("100")), Ok(dec("1050")));
    assert_eq!(notional(Some("98"), None, None), Err(vec![Rule::NoQuote]));
    assert_eq!(notional(None, None, Some("100")), Ok(dec("1050")));
    assert_eq!(notional(None, None, None), Err(vec![Rule::NoQuote]));
}

#[test]
fn no_quote_is_reported_next_to_every_rule_that_can_be_evaluated() {
    let mut fx = Fx::paper();
    fx.quotes.remove(&aapl());
    fx.at(utc(2026, 3, 7, 15, 0, 0)); // Saturday
    let ioc = OrderTicket {
        tif: Tif::Ioc,
        ..mkt(Side::Buy, "501")
    };
    assert_eq!(
        fx.rules(&ioc),
        [Rule::Tif, Rule::Quantity, Rule::NoQuote, Rule::Session]
    );
}

// ---------------------------------------------------------------------------------------------------------
// SESSION.

#[test]
fn session_regular_hours_open_inclusive_close_exclusive() {
    let mut fx = Fx::paper();
    let t = buy("10", "100");
    for (now, rules) in [
        (utc(2026, 3, 4, 14, 29, 59), &[Rule::Session][..]), // 09:29:59 EST
        (utc(2026, 3, 4, 14, 30, 0), &NONE[..]),             // 09:30
        (utc(2026, 3, 4, 20, 59, 59), &NONE[..]),            // 15:59:59
        (utc(2026, 3, 4, 21, 0, 0), &[Rule::Session][..]),   // 16:00
    ] {
        fx.at(now);
        assert_eq!(fx.rules(&t), rules, "{now}");
    }
    assert_eq!(
        fx.message(&t, Rule::Session),
        "Wed 2026-03-04 16:00 EST is outside the session 09:30-16:00 (mark the order outside-RTH for extended hours)"
    );
}

#[test]
fn session_extended_hours_only_for_outside_rth_tickets() {
    let mut fx = Fx::paper();
    let t = buy("10", "100");
    for (now, rth, outside) in [
        (utc(2026, 3, 4, 8, 59, 59), false, false), // 03:59:59 EST
        (utc(2026, 3, 4, 9, 0, 0), false, true),    // 04:00
        (utc(2026, 3, 4, 14, 0, 0), false, true),   // 09:00
        (utc(2026, 3, 4, 15, 0, 0), true, true),    // 10:00
        (utc(2026, 3, 5, 0, 59, 59), false, true),  // 19:59:59
        (utc(2026, 3, 5, 1, 0, 0), false, false),   // 20:00
    ] {
        fx.at(now);
        assert_eq!(fx.rules(&t).is_empty(), rth, "{now}");
        assert_eq!(fx.rules(&ext(t.clone())).is_empty(), outside, "{now} outside RTH");
    }
    fx.at(utc(2026, 3, 4, 8, 0, 0));
    assert_eq!(
        fx.message(&ext(t.clone()), Rule::Session),
        "Wed 2026-03-04 03:00 EST is outside the session 09:30-16:00 or extended 04:00-20:00"
    );
    fx.at(utc(2026, 3, 4, 13, 0, 0));
    assert_eq!(fx.rules(&ext(t.clone())), NONE, "08:00 EST");
    fx.policy.session.extended = None;
    assert_eq!(
        fx.rules(&ext(t.clone())),
        [Rule::Session],
        "no extended hours set"
    );
    assert_eq!(
        fx.message(&ext(t), Rule::Session),
        "Wed 2026-03-04 08:00 EST is outside the session 09:30-16:00"
    );
}

#[test]
fn session_closed_on_holidays_and_weekends_judged_by_the_exchanges_date() {
    let mut fx = Fx::paper();
    let t = buy("10", "100");
    fx.at(utc(2026, 1, 19, 15, 0, 0)); // Monday, Martin Luther King Jr. Day, 10:00 EST
    assert_eq!(fx.rules(&t), [Rule::Session]);
    assert_eq!(
        fx.message(&t, Rule::Session),
        "Mon 2026-01-19 10:00 EST is an exchange holiday"
    );
    fx.at(utc(2026, 1, 20, 0, 30, 0)); // Tuesday in UTC, still the holiday 19:30 in New York
    assert_eq!(fx.rules(&ext(t.clone())), [Rule::Session]);
    fx.at(utc(2026, 1, 20, 15, 0, 0));
    assert_eq!(fx.rules(&t), NONE);

    fx.at(utc(2026, 3, 7, 15, 0, 0)); // Saturday
    assert_eq!(fx.rules(&ext(t.clone())), [Rule::Session]);
    assert_eq!(
        fx.message(&t, Rule::Session),
        "Sat 2026-03-07 10:00 EST is not a trading day"
    );
    fx.at(utc(2026, 3, 7, 0, 30, 0)); // Saturday in UTC, Friday 19:30 in New York
    assert_eq!(fx.rules(&ext(t.clone())), NONE);
    assert_eq!(fx.rules(&t), [Rule::Session]);

    fx.policy.session.days = vec![chrono::Weekday::Sat];
    fx.at(utc(2026, 3, 7, 15, 0, 0));
    assert_eq!(fx.rules(&t), NONE);
    fx.at(wednesday_10am());
    assert_eq!(fx.rules(&t), [Rule::Session]);
}

#[test]
fn session_always_open_trades_around_the_clock() {
    let mut fx = Fx::paper();
    fx.policy.session.always_open = true;
    let t = buy("10", "100");
    for now in [
        utc(2026, 3, 7, 15, 0, 0),   // Saturday
        utc(2026, 1, 19, 15, 0, 0),  // holiday
        utc(2026, 3, 4, 3, 0, 0),    // Tuesday 22:00 New York
        utc(2026, 12, 25, 12, 0, 0), // Christmas
    ] {
        fx.at(now);
        assert_eq!(fx.rules(&t), NONE, "{now}");
    }
}

#[test]
fn session_follows_daylight_saving_time() {
    let mut fx = Fx::paper();
    let t = buy("10", "100");
    for (now, open) in [
        (utc(2026, 3, 6, 13, 30, 0), false),  // Fri before the change: 08:30 EST
        (utc(2026, 3, 6, 14, 30, 0), true),   // 09:30 EST
        (utc(2026, 3, 6, 20, 30, 0), true),   // 15:30 EST
        (utc(2026, 3, 9, 13, 29, 59), false), // Mon after: 09:29:59 EDT
        (utc(2026, 3, 9, 13, 30, 0), true),   // 09:30 EDT
        (utc(2026, 3, 9, 20, 30, 0), false),  // 16:30 EDT
        (utc(2026, 10, 30, 13, 30, 0), true), // Fri before fall-back: 09:30 EDT
        (utc(2026, 10, 30, 20, 0, 0), false), // 16:00 EDT
        (utc(2026, 11, 2, 13, 30, 0), false), // Mon after: 08:30 EST
        (utc(2026, 11, 2, 20, 0, 0), true),   // 15:00 EST
    ] {
        fx.at(now);
        assert_eq!(fx.rules(&t).is_empty(), open, "{now}");
    }
    fx.at(utc(2026, 3, 9, 13, 29, 0));
    assert_eq!(
        fx.message(&t, Rule::Session),
        "Mon 2026-03-09 09:29 EDT is outside the session 09:30-16:00 (mark the order outside-RTH for extended hours)"
    );
}

// ---------------------------------------------------------------------------------------------------------
// DUPLICATE, DAILY_ORDERS, DAILY_NOTIONAL, DAILY_SYMBOL_ORDERS, RATE.

#[test]
fn duplicate_within_the_window_only() {
    let mut fx = Fx::paper();
    let t = buy("10", "100");
    fx.recent = vec![submitted(&t, fx.now - secs(29))];
    assert_eq!(fx.rules(&t), [Rule::Duplicate]);
    assert_eq!(
        fx.message(&t, Rule::Duplicate),
        "the same order was submitted at 14:59:31 UTC (within 30 s)"
    );
    let gtc = OrderTicket {
        tif: Tif::Gtc,
        ..t.clone()
    };
    assert_eq!(
        fx.rules(&ext(gtc)),
        [Rule::Duplicate],
        "TIF and outside-RTH are not compared"
    );
    fx.recent = vec![submitted(&t, fx.now - secs(30))];
    assert_eq!(fx.rules(&t), NONE, "30 s ago is outside a 30 s window");
    fx.policy.duplicate_window_secs = 31;
    assert_eq!(fx.rules(&t), [Rule::Duplicate]);
}

#[test]
fn duplicate_needs_every_compared_field_equal() {
    let mut fx = Fx::paper();
    fx.policy.order_types.push(OrderType::StopLimit);
    let t = order(Side::Buy, "10", OrderType::StopLimit, Some("100"), Some("99"));
    let at = fx.now - secs(1);
    fx.recent = vec![submitted(&t, at)];
    assert_eq!(fx.rules(&t), [Rule::Duplicate]);
    let base = submitted(&t, at);
    let variants = [
        Submitted {
            account: acct(OTHER_ACCOUNT),
            ..base.clone()
        },
        Submitted {
            instrument: msft(),
            ..base.clone()
        },
        Submitted {
            side: Side::Sell,
            ..base.clone()
        },
        Submitted {
            quantity: qty("11"),
            ..base.clone()
        },
        Submitted {
            order_type: OrderType::Limit,
            ..base.clone()
        },
        Submitted {
            limit_price: Some(px("100.5")),
            ..base.clone()
        },
        Submitted {
            limit_price: None,
            ..base.clone()
        },
        Submitted {
            stop_price: Some(px("98")),
            ..base.clone()
        },
        Submitted {
            stop_price: None,
            ..base.clone()
        },
    ];
    for v in variants {
        fx.recent = vec![v.clone()];
        assert_eq!(fx.rules(&t), NONE, "{v:?}");
    }
}

#[test]
fn daily_orders_counts_today_plus_this_one() {
    let mut fx = Fx::paper();
    fx.counters.orders = 199;
    assert_eq!(fx.rules(&buy("10", "100")), NONE);
    fx.counters.orders = 200;
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::DailyOrders]);
    assert_eq!(
        fx.message(&buy("10", "100"), Rule::DailyOrders),
        "200 orders today already: the daily limit is 200"
    );
}

#[test]
fn daily_notional_counts_today_plus_this_notional() {
    let mut fx = Fx::paper();
    fx.counters.notional = dec("499000");
    assert_eq!(fx.rules(&buy("10", "100")), NONE, "exactly 500 000");
    fx.counters.notional = dec("499000.01");
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::DailyNotional]);
    assert_eq!(
        fx.message(&buy("10", "100"), Rule::DailyNotional),
        "today's notional would reach 500000.01, above the daily limit of 500000"
    );
    // At the worst price: a market order counts at the edge.
    fx.counters.notional = dec("498950");
    assert_eq!(fx.rules(&mkt(Side::Buy, "10")), NONE);
    fx.counters.notional = dec("498950.01");
    assert_eq!(fx.rules(&mkt(Side::Buy, "10")), [Rule::DailyNotional]);
}

#[test]
fn daily_symbol_orders_counts_the_tickets_symbol_only() {
    let mut fx = Fx::paper();
    fx.counters.orders_by_symbol = BTreeMap::from([
        (Symbol::parse("AAPL").unwrap(), 39),
        (Symbol::parse("MSFT").unwrap(), 40),
    ]);
    assert_eq!(fx.rules(&buy("10", "100")), NONE);
    assert_eq!(fx.rules(&of(msft(), buy("10", "400"))), [Rule::DailySymbolOrders]);
    assert_eq!(
        fx.message(&of(msft(), buy("10", "400")), Rule::DailySymbolOrders),
        "40 orders in MSFT today already: the limit is 40"
    );
    assert_eq!(fx.rules(&of(spy(), buy("10", "500"))), NONE, "none yet");
    fx.counters
        .orders_by_symbol
        .insert(Symbol::parse("AAPL").unwrap(), 40);
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::DailySymbolOrders]);
}

#[test]
fn rate_counts_orders_in_the_last_sixty_seconds() {
    let mut fx = Fx::paper();
    let other = of(msft(), buy("10", "400"));
    fx.recent = (0..9).map(|_| submitted(&other, fx.now - secs(59))).collect();
    fx.recent.push(submitted(&other, fx.now - secs(60)));
    assert_eq!(
        fx.rules(&buy("10", "100")),
        NONE,
        "9 in the last minute, 1 just outside"
    );
    fx.recent.push(submitted(&other, fx.now - secs(1)));
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::Rate]);
    assert_eq!(
        fx.message(&buy("10", "100"), Rule::Rate),
        "10 orders in the last minute: the limit is 10 per minute"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Every violation at once.

#[test]
fn every_violation_is_reported_together_in_rule_order() {
    let mut fx = Fx::paper();
    fx.requester = read_agent();
    fx.trading.step_down(Cause::KillSwitch, Level::Halted);
    fx.policy.sides = vec![Side::Sell];
    fx.at(utc(2026, 3, 7, 15, 0, 0)); // Saturday
    fx.counters.orders = 200;
    fx.counters.notional = dec("1");
    fx.counters
        .orders_by_symbol
        .insert(Symbol::parse("IBM").unwrap(), 40);
    let t = OrderTicket {
        account: acct(OTHER_ACCOUNT),
        instrument: ibm(),
        side: Side::Buy,
        quantity: qty("3000"),
        order_type: OrderType::StopLimit,
        limit_price: Some(px("1000")),
        stop_price: None,
        tif: Tif::Ioc,
        outside_rth: false,
    };
    fx.recent = (0..10).map(|_| submitted(&t, fx.now - secs(1))).collect();
    let Verdict::Refused(violations) = fx.check(&t) else {
        panic!("refused expected")
    };
    let rules: Vec<Rule> = violations.iter().map(|v| v.rule).collect();
    assert_eq!(
        rules,
        [
            Rule::Permission,
            Rule::Halted,
            Rule::Account,
            Rule::Symbol,
            Rule::OrderType,
            Rule::Tif,
            Rule::Side,
            Rule::PriceFields,
            Rule::Quantity,
            Rule::Notional,
            Rule::Position,
            Rule::Gross,
            Rule::NoQuote,
            Rule::Session,
            Rule::Duplicate,
            Rule::DailyOrders,
            Rule::DailyNotional,
            Rule::DailySymbolOrders,
            Rule::Rate,
        ]
    );
    assert!(violations.iter().all(|v| !v.message.is_empty()));

    let mut fx = Fx::paper();
    fx.trading.step_down(Cause::Disconnected, Level::Reducing);
    assert_eq!(fx.rules(&buy("10", "200")), [Rule::Reducing, Rule::Collar]);
}

#[test]
fn rule_codes_are_stable() {
    let codes: Vec<String> = Rule::ALL.iter().map(ToString::to_string).collect();
    assert_eq!(
        codes,
        [
            "PERMISSION",
            "HALTED",
            "REDUCING",
            "ACCOUNT",
            "SYMBOL",
            "ORDER_TYPE",
            "TIF",
            "SIDE",
            "PRICE_FIELDS",
            "QUANTITY",
            "NOTIONAL",
            "POSITION",
            "GROSS",
            "COLLAR",
            "NO_QUOTE",
            "SESSION",
            "DUPLICATE",
            "DAILY_ORDERS",
            "DAILY_NOTIONAL",
            "DAILY_SYMBOL_ORDERS",
            "RATE",
        ]
    );
    assert!(
        Rule::ALL.windows(2).all(|w| w[0] < w[1]),
        "ALL is in declaration order"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Tiers.

/// The dry-run profile grants execute, and the rebalancer has it: tier `None` is possible there.
fn execute_agent() -> Fx {
    let mut fx = Fx::on("dry-run");
    fx.agent("rebalancer");
    assert_eq!(
        fx.requester,
        Requester::Agent {
            name: "rebalancer".into(),
            level: Permission::Execute,
            unapproved_budget: dec("10000"),
        }
    );
    fx
}

#[test]
fn tier_none_for_an_execute_agent_below_every_threshold() {
    let fx = execute_agent();
    assert_eq!(fx.tier(&buy("10", "100")), Tier::None);
    assert_eq!(
        fx.tier(&buy("50", "100")),
        Tier::None,
        "exactly manual_approval_notional"
    );
}

#[test]
fn tier_confirm_for_the_trader_and_for_prepare_agents() {
    let mut fx = Fx::paper();
    assert_eq!(fx.tier(&buy("1", "100")), Tier::Confirm);
    fx.agent("momentum");
    assert_eq!(fx.tier(&buy("1", "100")), Tier::Confirm);
    fx.agent("rebalancer"); // execute, narrowed to prepare by the paper profile
    assert_eq!(fx.tier(&buy("1", "100")), Tier::Confirm);
    let mut fx = Fx::on("dry-run");
    assert_eq!(fx.tier(&buy("1", "100")), Tier::Confirm, "the trader on dry-run");
    fx.agent("momentum");
    assert_eq!(fx.tier(&buy("1", "100")), Tier::Confirm);
}

#[test]
fn tier_confirm_above_manual_approval_notional() {
    let fx = execute_agent();
    assert_eq!(fx.notional(&buy("50", "100.0002")), dec("5000.01"));
    assert_eq!(fx.tier(&buy("50", "100.0002")), Tier::Confirm);
    assert_eq!(fx.tier(&mkt(Side::Buy, "47")), Tier::None, "4935 at the edge");
    assert_eq!(fx.tier(&mkt(Side::Buy, "48")), Tier::Confirm, "5040 at the edge");
}

#[test]
fn tier_confirm_when_the_agents_rolling_budget_would_be_exceeded() {
    let mut fx = execute_agent();
    let now = fx.now;
    fx.unapproved = vec![
        spend("rebalancer", aapl(), "9000", now - secs(3599)),
        spend("momentum", aapl(), "100000", now - secs(1)),
        spend("rebalancer", msft(), "100000", now - secs(1)),
        spend("rebalancer", aapl(), "100000", now - secs(3600)),
    ];
    assert_eq!(fx.tier(&buy("10", "100")), Tier::None, "9000 + 1000 = the budget");
    fx.unapproved.push(spend("rebalancer", aapl(), "0.01", now));
    assert_eq!(fx.tier(&buy("10", "100")), Tier::Confirm);
    assert_eq!(
        fx.tier(&of(msft(), buy("10", "400"))),
        Tier::Confirm,
        "100000 in MSFT"
    );
    assert_eq!(
        fx.tier(&of(spy(), buy("10", "500"))),
        Tier::None,
        "SPY is untouched"
    );

    let mut fx = execute_agent();
    fx.requester = Requester::Agent {
        name: "rebalancer".into(),
        level: Permission::Execute,
        unapproved_budget: Decimal::ZERO,
    };
    assert_eq!(fx.tier(&buy("1", "100")), Tier::Confirm, "a zero budget");
}

#[test]
fn tier_typed_above_typed_approval_notional() {
    let fx = execute_agent();
    assert_eq!(fx.tier(&buy("250", "100")), Tier::Confirm);
    assert_eq!(fx.notional(&buy("250", "100.00004")), dec("25000.01"));
    assert_eq!(fx.tier(&buy("250", "100.00004")), Tier::Typed);
    assert_eq!(
        Fx::paper().tier(&buy("250", "100.00004")),
        Tier::Typed,
        "the trader too"
    );
}

#[test]
fn tier_typed_on_live_above_live_typed_quantity() {
    let live = Fx::on("live");
    assert_eq!(live.tier(&on("U1234567", buy("50", "100"))), Tier::Confirm);
    assert_eq!(live.tier(&on("U1234567", buy("51", "100"))), Tier::Typed);
    assert_eq!(live.tier(&on("U1234567", sell("51", "100"))), Tier::Typed);
    // Not on paper or dry-run, whose live_typed_quantity (100) is then just a number.
    assert_eq!(Fx::paper().tier(&buy("101", "100")), Tier::Confirm);
    let mut dry = execute_agent();
    dry.quote(aapl(), Some("49.5"), Some("49.5"), None);
    assert_eq!(dry.tier(&buy("101", "49.5")), Tier::None, "4999.5 on dry-run");
}

// ---------------------------------------------------------------------------------------------------------
// Fingerprint.

#[test]
fn fingerprint_changes_with_every_field_the_profile_and_the_version() {
    let t = buy("10", "100");
    let fp = |t: &OrderTicket| fingerprint(t, "paper", 1);
    let all = [
        fp(&t),
        fingerprint(&t, "live", 1),
        fingerprint(&t, "paper", 2),
        fp(&on(OTHER_ACCOUNT, t.clone())),
        fp(&of(msft(), t.clone())),
        fp(&of(stock("AAPL", "NYSE"), t.clone())),
        fp(&of(
            Instrument {
                currency: Currency::parse("EUR").unwrap(),
                ..aapl()
            },
            t.clone(),
        )),
        fp(&of(
            Instrument {
                sec_type: SecType::parse("CFD").unwrap(),
                ..aapl()
            },
            t.clone(),
        )),
        fp(&OrderTicket {
            side: Side::Sell,
            ..t.clone()
        }),
        fp(&OrderTicket {
            quantity: qty("11"),
            ..t.clone()
        }),
        fp(&OrderTicket {
            order_type: OrderType::StopLimit,
            ..t.clone()
        }),
        fp(&OrderTicket {
            limit_price: Some(px("100.01")),
            ..t.clone()
        }),
        fp(&OrderTicket {
            limit_price: None,
            ..t.clone()
        }),
        fp(&OrderTicket {
            stop_price: Some(px("100")),
            ..t.clone()
        }),
        fp(&OrderTicket {
            tif: Tif::Gtc,
            ..t.clone()
        }),
        fp(&ext(t.clone())),
        // Field boundaries are part of the digest: "paper" + "DU1234567" is not "paperD" + "U1234567".
        fingerprint(&on("U1234567", t.clone()), "paperD", 1),
    ];
    let distinct: HashSet<Fingerprint> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len());
    assert_eq!(fp(&t.clone()), fp(&t), "deterministic");
    // Shown as the first eight bytes in lower-case hex.
    let mut bytes = [0_u8; 32];
    bytes[..9].copy_from_slice(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xff]);
    assert_eq!(Fingerprint(bytes).to_string(), "0123456789abcdef");
}

#[test]
fn check_fingerprints_with_the_contexts_profile_and_version() {
    let mut fx = Fx::paper();
    fx.version = 7;
    let t = buy("10", "100");
    assert_eq!(fx.clearable(&t).fingerprint, fingerprint(&t, "paper", 7));
    assert_ne!(fx.clearable(&t).fingerprint, fingerprint(&t, "paper", 1));
    let dry = Fx::on("dry-run");
    assert_eq!(dry.clearable(&t).fingerprint, fingerprint(&t, "dry-run", 1));
}

#[test]
fn read_back_names_side_quantity_symbol_type_and_prices() {
    let mut fx = Fx::paper();
    fx.policy.order_types = vec![
        OrderType::Market,
        OrderType::Limit,
        OrderType::Stop,
        OrderType::StopLimit,
    ];
    let rb = |t: &OrderTicket| fx.clearable(t).read_back;
    assert_eq!(rb(&buy("10", "100.5")), "BUY 10 AAPL LMT 100.5");
    assert_eq!(rb(&mkt(Side::Sell, "10")), "SELL 10 AAPL MKT");
    assert_eq!(
        rb(&order(Side::Sell, "10", OrderType::Stop, None, Some("95"))),
        "SELL 10 AAPL STP 95"
    );
    assert_eq!(
        rb(&order(
            Side::Buy,
            "10",
            OrderType::StopLimit,
            Some("101"),
            Some("100")
        )),
        "BUY 10 AAPL STP LMT 101"
    );
}

// ---------------------------------------------------------------------------------------------------------
// approve.

#[test]
fn approve_automatic_only_for_tier_none() {
    let fx = execute_agent();
    let t = buy("10", "100");
    let cleared = approve(fx.check(&t), &Evidence::Automatic).unwrap();
    assert_eq!(cleared.tier(), Tier::None);
    assert_eq!(cleared.ticket(), &t);
    assert_eq!(cleared.notional(), dec("1000"));
    assert_eq!(cleared.fingerprint(), fingerprint(&t, "dry-run", 1));

    let trader = Fx::paper();
    assert_eq!(
        approve(trader.check(&t), &Evidence::Automatic),
        Err(ApprovalError::Insufficient {
            needed: Tier::Confirm
        })
    );
    assert_eq!(
        approve(trader.check(&buy("251", "100")), &Evidence::Automatic),
        Err(ApprovalError::Insufficient { needed: Tier::Typed })
    );
}

#[test]
fn approve_confirm_needs_the_orders_fingerprint() {
    let fx = Fx::paper();
    let t = buy("10", "100");
    let right = fingerprint(&t, "paper", 1);
    let cleared = approve(fx.check(&t), &Evidence::Confirm(right)).unwrap();
    assert_eq!(
        (cleared.tier(), cleared.fingerprint(), cleared.notional()),
        (Tier::Confirm, right, dec("1000"))
    );
    assert_eq!(cleared.ticket(), &t);
    let wrong = fingerprint(&t, "paper", 2);
    assert_eq!(
        approve(fx.check(&t), &Evidence::Confirm(wrong)),
        Err(ApprovalError::WrongOrder {
            given: wrong,
            expected: right,
        })
    );
    // A confirm is also enough (and checked) for tier None.
    let agent = execute_agent();
    let right = fingerprint(&t, "dry-run", 1);
    assert_eq!(
        approve(agent.check(&t), &Evidence::Confirm(right))
            .unwrap()
            .tier(),
        Tier::None
    );
    assert!(matches!(
        approve(agent.check(&t), &Evidence::Confirm(wrong)),
        Err(ApprovalError::WrongOrder { .. })
    ));
    // But not for Typed.
    let big = buy("251", "100");
    assert_eq!(
        approve(fx.check(&big), &Evidence::Confirm(fingerprint(&big, "paper", 1))),
        Err(ApprovalError::Insufficient { needed: Tier::Typed })
    );
}

#[test]
fn approve_typed_matches_the_read_back_ignoring_case_and_extra_spaces() {
    let fx = Fx::paper();
    let t = buy("251", "100");
    let fp = fingerprint(&t, "paper", 1);
    let typed = |text: &str| approve(fx.check(&t), &Evidence::Typed(fp, text.into()));
    assert_eq!(fx.clearable(&t).read_back, "BUY 251 AAPL LMT 100");
    assert_eq!(typed("BUY 251 AAPL LMT 100").unwrap().tier(), Tier::Typed);
    assert_eq!(typed("  buy 251   aapl  Lmt 100 ").unwrap().tier(), Tier::Typed);
    let mismatch = |text: &str, shown: &str| {
        assert_eq!(
            typed(text),
            Err(ApprovalError::ReadBackMismatch {
                typed: shown.into(),
                expected: "BUY 251 AAPL LMT 100".into(),
            }),
            "{text:?}"
        );
    };
    mismatch("BUY 251 \u{391}APL LMT 100", "BUY 251 \u{391}APL LMT 100"); // Greek capital alpha
    mismatch("BUY 251 ААPL LMT 100", "BUY 251 ААPL LMT 100"); // Cyrillic А
    mismatch("BUY 250 AAPL LMT 100", "BUY 250 AAPL LMT 100");
    mismatch("BUY 251 AAPL", "BUY 251 AAPL");
    mismatch("BUY 251 AAPL LMT 100 x", "BUY 251 AAPL LMT 100 x");
    mismatch("BUY251 AAPL LMT 100", "BUY251 AAPL LMT 100");
    mismatch("", "");
    mismatch("BUY\t251 AAPL LMT 100", "BUY\\t251 AAPL LMT 100");
    mismatch(&"X".repeat(100), &"X".repeat(60));
    assert_eq!(
        typed("yes").unwrap_err().to_string(),
        "typed 'yes' does not match 'BUY 251 AAPL LMT 100'"
    );
    // The right text for another order (or version) is refused.
    let other = fingerprint(&t, "paper", 2);
    assert_eq!(
        approve(
            fx.check(&t),
            &Evidence::Typed(other, "BUY 251 AAPL LMT 100".into())
        ),
        Err(ApprovalError::WrongOrder {
            given: other,
            expected: fp,
        })
    );
    // Typing is enough for a lower tier too, and still checked.
    let small = buy("10", "100");
    let small_fp = fingerprint(&small, "paper", 1);
    assert_eq!(
        approve(
            fx.check(&small),
            &Evidence::Typed(small_fp, "buy 10 aapl lmt 100".into())
        )
        .unwrap()
        .tier(),
        Tier::Confirm
    );
    assert!(matches!(
        approve(
            fx.check(&small),
            &Evidence::Typed(small_fp, "buy 11 aapl lmt 100".into())
        ),
        Err(ApprovalError::ReadBackMismatch { .. })
    ));
}

#[test]
fn approve_a_refused_verdict_never_clears() {
    let mut fx = Fx::paper();
    fx.trading.step_down(Cause::KillSwitch, Level::Halted);
    let t = buy("10", "100.01");
    let fp = fingerprint(&t, "paper", 1);
    for evidence in [
        Evidence::Automatic,
        Evidence::Confirm(fp),
        Evidence::Typed(fp, "BUY 10 AAPL LMT 100.01".into()),
    ] {
        assert_eq!(
            approve(fx.check(&t), &evidence),
            Err(ApprovalError::Refused(vec![Rule::Halted]))
        );
    }
    assert_eq!(
        ApprovalError::Refused(vec![Rule::Halted, Rule::Collar]).to_string(),
        "the order was refused: HALTED, COLLAR"
    );
}

#[test]
fn cleared_carries_the_epoch_it_was_checked_under() {
    let mut fx = execute_agent();
    fx.trading = TradingState::restored(Level::Active, [], 42);
    let t = buy("10", "100");
    assert_eq!(fx.clearable(&t).epoch, 42);
    let cleared: Cleared = approve(fx.check(&t), &Evidence::Automatic).unwrap();
    assert_eq!(cleared.epoch(), 42);

    let mut fx = Fx::paper();
    fx.trading.step_down(Cause::Disconnected, Level::Reducing);
    fx.trading.clear(Cause::Disconnected);
    fx.trading.resume(ResumeBy::Confirm).unwrap();
    let fp = fingerprint(&t, "paper", 1);
    assert_eq!(approve(fx.check(&t), &Evidence::Confirm(fp)).unwrap().epoch(), 3);
}

/// `Cleared` is not `Clone`, `Copy`, `Default`, `Serialize` or `Deserialize`, proved at compile time: if it
/// implemented any of them, `<Cleared as AmbiguousIfImpl<_>>` would match two impls and fail to compile
/// (the `static_assertions::assert_not_impl_any!` trick, by hand).
#[allow(dead_code, reason = "the markers exist only for type inference")]
mod cleared_is_move_only {
    use super::Cleared;

    trait AmbiguousIfImpl<A> {
        fn some_item() {}
    }

    impl<T: ?Sized> AmbiguousIfImpl<()> for T {}

    struct ViaClone;
    struct ViaDefault;
    struct ViaSerialize;
    struct ViaDeserialize;

    impl<T: Clone> AmbiguousIfImpl<ViaClone> for T {}
    impl<T: Default> AmbiguousIfImpl<ViaDefault> for T {}
    impl<T: ?Sized + serde::Serialize> AmbiguousIfImpl<ViaSerialize> for T {}
    impl<T: serde::de::DeserializeOwned> AmbiguousIfImpl<ViaDeserialize> for T {}

    const _: fn() = || {
        let _ = <Cleared as AmbiguousIfImpl<_>>::some_item;
    };
}

// ---------------------------------------------------------------------------------------------------------
// Overflow: never a panic, always a refusal.

#[test]
fn a_plain_decimal_addition_panics_on_overflow_so_check_uses_checked_arithmetic() {
    let plain = std::panic::catch_unwind(|| Decimal::MAX + Decimal::ONE);
    assert!(plain.is_err(), "Decimal's + panics on overflow");
    assert_eq!(Decimal::MAX.checked_add(Decimal::ONE), None);
    assert_eq!(Decimal::MAX.checked_mul(Decimal::TWO), None);
}

/// 28 nines: the largest `Quantity`.
fn huge() -> String {
    "9".repeat(28)
}

#[test]
fn overflow_a_28_digit_quantity_at_a_20_digit_price_is_refused() {
    let fx = Fx::paper();
    let t = buy(&huge(), &"9".repeat(20));
    assert_eq!(
        fx.rules(&t),
        [
            Rule::Quantity,
            Rule::Notional,
            Rule::Position,
            Rule::Gross,
            Rule::Collar,
            Rule::DailyNotional,
        ]
    );
    assert_eq!(
        fx.message(&t, Rule::Notional),
        "notional more than can be represented at the worst fill is above the maximum of 50000 per order"
    );
    assert_eq!(
        fx.message(&t, Rule::Gross),
        "gross exposure could reach more than can be represented, above the limit of 250000"
    );
    assert_eq!(
        fx.message(&t, Rule::DailyNotional),
        "today's notional would reach more than can be represented, above the daily limit of 500000"
    );
}

#[test]
fn overflow_huge_positions_never_panic() {
    let mut fx = Fx::paper();
    fx.position(aapl(), &Decimal::MAX.to_string());
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::Position, Rule::Gross]);
    assert_eq!(
        fx.message(&buy("10", "100"), Rule::Position),
        "the position could reach more than can be represented long if working orders fill, above the limit of 2000"
    );
    assert_eq!(fx.rules(&sell("10", "100")), NONE, "reducing a huge long");

    fx.position(aapl(), &Decimal::MIN.to_string());
    assert_eq!(fx.rules(&sell("10", "100")), [Rule::Position, Rule::Gross]);
    assert_eq!(fx.rules(&buy("10", "100")), NONE, "reducing a huge short");

    let mut fx = Fx::paper();
    fx.position(msft(), &format!("{}0", "1".repeat(27)));
    assert_eq!(
        fx.rules(&buy("10", "100")),
        [Rule::Gross],
        "an overflowing product"
    );
}

#[test]
fn overflow_the_position_is_the_final_result_not_an_intermediate_sum() {
    // Seven working orders of 28 nines and one of the rest add up to exactly Decimal::MAX.
    let rest = "9228162514264337593543950342";
    let mut fx = Fx::paper();
    // A sell: pos - S - q = MAX - MAX - 10 = -10, well within the limit (S + q alone would overflow).
    fx.position(aapl(), &Decimal::MAX.to_string());
    for _ in 0..7 {
        fx.work(&sell(&huge(), "100"));
    }
    fx.work(&sell(rest, "100"));
    assert_eq!(
        fx.rules(&sell("10", "100")),
        [Rule::Gross],
        "MAX shares at 100 is over the gross limit"
    );
    // A buy: pos + B + q = MIN + MAX + 10 = 10.
    fx.position(aapl(), &Decimal::MIN.to_string());
    fx.working.clear();
    for _ in 0..7 {
        fx.work(&buy(&huge(), "100"));
    }
    fx.work(&buy(rest, "100"));
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::Gross]);
}

#[test]
fn overflow_many_huge_working_orders_never_panic() {
    let mut fx = Fx::paper();
    for _ in 0..9 {
        fx.work(&buy(&huge(), "100"));
    }
    assert_eq!(fx.rules(&buy("10", "100")), [Rule::Position, Rule::Gross]);
    let mut fx = Fx::paper();
    for _ in 0..9 {
        fx.work(&sell(&huge(), "100"));
    }
    assert_eq!(fx.rules(&sell("10", "100")), [Rule::Position, Rule::Gross]);
}

#[test]
fn overflow_huge_counters_and_spends_never_panic() {
    let mut fx = Fx::paper();
    fx.counters.notional = Decimal::MAX;
    fx.counters.orders = u32::MAX;
    fx.counters
        .orders_by_symbol
        .insert(Symbol::parse("AAPL").unwrap(), u32::MAX);
    assert_eq!(
        fx.rules(&buy("10", "100")),
        [Rule::DailyOrders, Rule::DailyNotional, Rule::DailySymbolOrders]
    );

    let mut fx = execute_agent();
    fx.unapproved = vec![
        spend("rebalancer", aapl(), &Decimal::MAX.to_string(), fx.now),
        spend("rebalancer", aapl(), &Decimal::MAX.to_string(), fx.now),
    ];
    assert_eq!(fx.tier(&buy("10", "100")), Tier::Confirm);
}

#[test]
fn overflow_huge_quotes_and_collars_never_panic() {
    let mut fx = Fx::paper();
    let big = huge();
    fx.quote(aapl(), Some(&big), Some(&big), Some(&big));
    assert_eq!(
        fx.rules(&mkt(Side::Buy, "1")),
        [Rule::Notional, Rule::Gross, Rule::DailyNotional],
        "the edge overflows"
    );
    assert_eq!(
        fx.rules(&sell("1", "1")),
        [Rule::Notional, Rule::Gross, Rule::Collar, Rule::DailyNotional],
        "so does a sell limit's worst price, and the collar's distance"
    );

    let mut fx = Fx::paper();
    fx.policy.price_collar_pct = Decimal::MAX;
    assert_eq!(
        fx.rules(&mkt(Side::Buy, "1")),
        [Rule::Notional, Rule::Gross, Rule::DailyNotional]
    );
    assert_eq!(
        fx.rules(&buy("1", "10000")),
        NONE,
        "a collar too wide to represent holds every limit"
    );
}

// ---------------------------------------------------------------------------------------------------------
// The trading state (besides state.rs's own tests).

#[test]
fn trading_state_restored_labels_and_step_to() {
    let s = TradingState::restored(Level::Reducing, [(Cause::Disconnected, Level::Reducing)], 9);
    assert_eq!((s.level(), s.epoch()), (Level::Reducing, 9));
    assert_eq!(
        s.causes().collect::<Vec<_>>(),
        [(Cause::Disconnected, Level::Reducing)]
    );
    assert_eq!(TradingState::default(), TradingState::active());
    assert_eq!(TradingState::active().causes().count(), 0);
    assert_eq!(
        [Level::Active, Level::Reducing, Level::Halted].map(|l| l.to_string()),
        ["ACTIVE", "REDUCING", "HALTED"]
    );
    assert_eq!(Level::from(StepTo::Reducing), Level::Reducing);
    assert_eq!(Level::from(StepTo::Halted), Level::Halted);
    let labels = [
        Cause::Disconnected,
        Cause::RejectStreak,
        Cause::DuplicateOrderId,
        Cause::ReconciliationMismatch,
        Cause::JournalError,
        Cause::KillSwitch,
        Cause::OrderStreamLost,
        Cause::Unreconciled,
    ]
    .map(Cause::label);
    assert_eq!(
        labels,
        [
            "disconnected",
            "reject streak",
            "duplicate order id",
            "reconciliation mismatch",
            "journal error",
            "kill switch",
            "order stream lost",
            "not reconciled",
        ]
    );
}

#[test]
fn trading_state_steps_down_never_up_by_itself() {
    let mut s = TradingState::active();
    assert!(s.step_down(Cause::JournalError, Level::Halted));
    assert!(
        s.step_down(Cause::Disconnected, Level::Reducing),
        "a new cause is recorded"
    );
    assert_eq!((s.level(), s.epoch()), (Level::Halted, 2), "but does not step up");
    assert!(
        !s.step_down(Cause::JournalError, Level::Reducing),
        "nor lowers a cause"
    );
    assert_eq!(
        s.causes().collect::<Vec<_>>(),
        [
            (Cause::Disconnected, Level::Reducing),
            (Cause::JournalError, Level::Halted)
        ]
    );
    assert_eq!(
        s.resume(ResumeBy::Typed("RESUME")).unwrap_err().to_string(),
        "cannot resume: still disconnected, journal error"
    );
    s.clear(Cause::Disconnected);
    s.clear(Cause::JournalError);
    assert_eq!(s.resume(ResumeBy::Typed("RESUME")), Ok(()));
    assert_eq!((s.level(), s.epoch()), (Level::Active, 5));
}

// ---------------------------------------------------------------------------------------------------------
// Exactness: "one smallest unit above a limit is refused" at any precision, even where the sums and
// products no longer fit 128 bits.

#[test]
fn gross_is_exact_for_a_fractional_position_at_full_precision() {
    let mut fx = Fx::paper();
    fx.quote(spy(), Some("99.99999999"), Some("100.00000001"), None); // mid exactly 100
    fx.position(spy(), "7.9228162514264337593543950335"); // 28 decimals: 792.28162514… at 100
    let t = buy("10", "100"); // 1 000
    fx.policy.max_gross_exposure = dec("1792.29");
    assert_eq!(fx.rules(&t), NONE);
    fx.policy.max_gross_exposure = dec("1792.28");
    assert_eq!(fx.rules(&t), [Rule::Gross]);
}

#[test]
fn notional_is_exact_at_the_edge_of_a_full_precision_collar() {
    let mut fx = Fx::paper();
    fx.quote(aapl(), Some("99.99999999"), Some("100.00000001"), None); // mid exactly 100
    fx.policy.price_collar_pct = dec("5.000000000000000000000000001");
    // edge = 100 × 105.000000000000000000000000001 / 100; ten at the edge is
    // 1050.00000000000000000000000001: one unit above 1050.
    fx.policy.max_order_notional = dec("1050.01");
    assert_eq!(fx.rules(&mkt(Side::Buy, "10")), NONE);
    fx.policy.max_order_notional = dec("1050");
    assert_eq!(fx.rules(&mkt(Side::Buy, "10")), [Rule::Notional]);
}
