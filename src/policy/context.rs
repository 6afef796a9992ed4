//! What `policy::check` reads and returns: the ticket's context (policy, positions, working orders, quotes,
//! counters, trading state, `now`), the rule codes and the verdict. Types only — no rule lives here, so a
//! second, independent checker can be written against them (see `tests/policy_oracle.rs`).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::config::{Mode, Permission, Policy};
use crate::domain::{AccountId, Instrument, OrderType, Price, Quantity, Quote, Side, Symbol};

use super::TradingState;

/// Who asks for the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    /// The trader at the keyboard.
    Trader,
    /// An agent, at its effective permission level on this profile (the lower of its own and the profile's).
    Agent {
        /// The agent's configured name.
        name: String,
        /// Its effective level.
        level: Permission,
        /// Its `unapproved_notional_budget` (money per instrument over the policy's budget window).
        unapproved_budget: Decimal,
    },
}

/// An order sent to the broker and not yet finished: working at the broker, or in flight (sent but not yet
/// acknowledged). Counted at its worst fill by the position, gross-exposure and reducing rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingOrder {
    /// Its account.
    pub account: AccountId,
    /// Its instrument.
    pub instrument: Instrument,
    /// Buy or sell.
    pub side: Side,
    /// Quantity not yet filled (> 0).
    pub remaining: Quantity,
    /// Its order type.
    pub order_type: OrderType,
    /// Its limit price, if it has one.
    pub limit_price: Option<Price>,
    /// Its stop price, if it has one.
    pub stop_price: Option<Price>,
}

/// An order submitted earlier (for the duplicate and rate rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// Its account.
    pub account: AccountId,
    /// Its instrument.
    pub instrument: Instrument,
    /// Buy or sell.
    pub side: Side,
    /// Its quantity.
    pub quantity: Quantity,
    /// Its order type.
    pub order_type: OrderType,
    /// Its limit price.
    pub limit_price: Option<Price>,
    /// Its stop price.
    pub stop_price: Option<Price>,
    /// When it was submitted.
    pub at: DateTime<Utc>,
}

/// Notional an agent sent without approval (tier `None`), for the rolling per-agent budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnapprovedSpend {
    /// The agent's name.
    pub agent: String,
    /// The instrument.
    pub instrument: Instrument,
    /// The order's notional at its worst price.
    pub notional: Decimal,
    /// When it was sent.
    pub at: DateTime<Utc>,
}

/// Today's counters (exchange-time day), of orders submitted on this profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyCounters {
    /// Orders submitted today.
    pub orders: u32,
    /// Their notional, at their worst prices.
    pub notional: Decimal,
    /// Orders submitted today per symbol.
    pub orders_by_symbol: BTreeMap<Symbol, u32>,
}

/// Everything a check reads besides the ticket.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The profile's name (part of the fingerprint).
    pub profile: &'a str,
    /// The profile's mode.
    pub mode: Mode,
    /// The profile's account allowlist.
    pub accounts: &'a [AccountId],
    /// The profile's effective policy.
    pub policy: &'a Policy,
    /// Who asks.
    pub requester: Requester,
    /// The proposal's version (part of the fingerprint; an edit makes a new version).
    pub version: u32,
    /// Positions: signed quantity by account and instrument.
    pub positions: &'a BTreeMap<(AccountId, Instrument), Decimal>,
    /// Working and in-flight orders.
    pub working: &'a [WorkingOrder],
    /// Orders submitted recently (at least the longest of the duplicate window and one minute).
    pub recent: &'a [Submitted],
    /// Unapproved agent spending in the budget window.
    pub unapproved: &'a [UnapprovedSpend],
    /// Latest quotes by instrument.
    pub quotes: &'a BTreeMap<Instrument, Quote>,
    /// Today's counters.
    pub counters: &'a DailyCounters,
    /// The trading state.
    pub trading: &'a TradingState,
    /// The time of the check.
    pub now: DateTime<Utc>,
}

/// The rules, each with a stable code (documented in `config.example.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Read-level agents cannot stage orders.
    Permission,
    /// The trading state is Halted.
    Halted,
    /// The trading state is Reducing and the ticket is not reducing.
    Reducing,
    /// The account is not in the profile's allowlist.
    Account,
    /// The instrument is not in the symbol allowlist.
    Symbol,
    /// The order type is not allowed.
    OrderType,
    /// The time in force is not allowed.
    Tif,
    /// The side is not allowed.
    Side,
    /// The prices do not match the order type.
    PriceFields,
    /// Quantity above the per-order maximum.
    Quantity,
    /// Notional above the per-order maximum.
    Notional,
    /// The position limit would be passed.
    Position,
    /// The gross exposure limit would be passed.
    Gross,
    /// Limit price outside the collar.
    Collar,
    /// A rule needed a fresh quote that does not exist.
    NoQuote,
    /// Outside the session.
    Session,
    /// Same order submitted within the duplicate window.
    Duplicate,
    /// Orders per day.
    DailyOrders,
    /// Notional per day.
    DailyNotional,
    /// Orders per symbol per day.
    DailySymbolOrders,
    /// Orders per minute.
    Rate,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Self; 21] = [
        Self::Permission,
        Self::Halted,
        Self::Reducing,
        Self::Account,
        Self::Symbol,
        Self::OrderType,
        Self::Tif,
        Self::Side,
        Self::PriceFields,
        Self::Quantity,
        Self::Notional,
        Self::Position,
        Self::Gross,
        Self::Collar,
        Self::NoQuote,
        Self::Session,
        Self::Duplicate,
        Self::DailyOrders,
        Self::DailyNotional,
        Self::DailySymbolOrders,
        Self::Rate,
    ];

    /// The stable code, e.g. `"NOTIONAL"`.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Permission => "PERMISSION",
            Self::Halted => "HALTED",
            Self::Reducing => "REDUCING",
            Self::Account => "ACCOUNT",
            Self::Symbol => "SYMBOL",
            Self::OrderType => "ORDER_TYPE",
            Self::Tif => "TIF",
            Self::Side => "SIDE",
            Self::PriceFields => "PRICE_FIELDS",
            Self::Quantity => "QUANTITY",
            Self::Notional => "NOTIONAL",
            Self::Position => "POSITION",
            Self::Gross => "GROSS",
            Self::Collar => "COLLAR",
            Self::NoQuote => "NO_QUOTE",
            Self::Session => "SESSION",
            Self::Duplicate => "DUPLICATE",
            Self::DailyOrders => "DAILY_ORDERS",
            Self::DailyNotional => "DAILY_NOTIONAL",
            Self::DailySymbolOrders => "DAILY_SYMBOL_ORDERS",
            Self::Rate => "RATE",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One violated rule and a sentence for the trader or agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// What is wrong, with the numbers.
    pub message: String,
}

/// The approval a clearable ticket needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// None: an execute-level agent below every threshold.
    None,
    /// The trader confirms the exact order.
    Confirm,
    /// The trader types the read-back.
    Typed,
}

/// A digest of everything that was checked: profile, account, instrument, side, quantity, order type,
/// prices, TIF, outside-RTH and proposal version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().take(8).try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// The result of `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Refused: every violated rule, in [`Rule::ALL`] order.
    Refused(Vec<Violation>),
    /// May go out once approved at `tier`.
    Clearable(Box<Clearable>),
}

/// A ticket that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clearable {
    /// The approval it needs.
    pub tier: Tier,
    /// What was checked.
    pub ticket: crate::domain::OrderTicket,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// Its notional at the worst price.
    pub notional: Decimal,
    /// The trading-state epoch it was checked under.
    pub epoch: u64,
    /// The read-back a `Typed` approval must type, e.g. `BUY 100 AAPL`.
    pub read_back: String,
}

impl Verdict {
    /// The violated rules' codes (empty when clearable).
    #[must_use]
    pub fn rules(&self) -> Vec<Rule> {
        match self {
            Self::Refused(v) => v.iter().map(|v| v.rule).collect(),
            Self::Clearable(_) => Vec::new(),
        }
    }
}
