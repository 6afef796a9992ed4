//! `check`: every rule of `config.example.toml` against one ticket and its context, collecting every
//! violation, then the approval tier. Pure: `now` comes in with the context; arithmetic is exact
//! (see [`Amount`]), so no limit comparison rounds, wraps or panics.

use chrono::{DateTime, Datelike, Duration, Utc};
use std::fmt::Write as _;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::amount::Amount;
use super::context::{Clearable, Context, Fingerprint, Requester, Rule, Tier, Verdict, Violation};
use super::state::Level;
use crate::config::{Mode, Permission, Policy, Session};
use crate::domain::{Instrument, OrderTicket, OrderType, Price, Side};

/// A price the rules need but that does not exist (no fresh quote).
#[derive(Debug, Clone, Copy)]
struct Missing;

/// Every instrument a rule needed a fresh quote for and found none, each with the computations that
/// needed it, in the order first needed. The `NO_QUOTE` message names these instruments rather than the
/// ticket's: the gross exposure prices every holding and working order of the account, and when a held
/// instrument lacks a quote, the trader must be told which one (it is the one to look at, not the ticket).
#[derive(Debug, Default)]
struct NoQuote {
    missing: Vec<(Instrument, Vec<&'static str>)>,
}

impl NoQuote {
    /// `what` needed a fresh quote for `instrument` and there is none.
    fn need(&mut self, instrument: &Instrument, what: &'static str) {
        match self.missing.iter_mut().find(|(i, _)| i == instrument) {
            Some((_, needs)) if needs.contains(&what) => {}
            Some((_, needs)) => needs.push(what),
            None => self.missing.push((instrument.clone(), vec![what])),
        }
    }

    /// The violation's text, e.g. `no fresh quote for TSLA (needed for: gross exposure); a quote counts
    /// for 5 s`; `None` when every price was there.
    fn message(&self, quote_max_age_secs: u32) -> Option<String> {
        let groups: Vec<String> = self
            .missing
            .iter()
            .map(|(i, needs)| format!("{} (needed for: {})", i.symbol, needs.join(", ")))
            .collect();
        let named = match groups.as_slice() {
            [] => return None,
            [one] => one.clone(),
            [first @ .., last] => format!("{} and {last}", first.join(", ")),
        };
        Some(format!(
            "no fresh quote for {named}; a quote counts for {quote_max_age_secs} s"
        ))
    }
}

/// The instrument's reference price: the mid of a fresh, uncrossed two-sided quote, else its last price.
fn reference(ctx: &Context<'_>, instrument: &Instrument) -> Option<Amount> {
    let quote = ctx.quotes.get(instrument)?;
    let age = ctx.now.signed_duration_since(quote.received_at);
    if age < Duration::zero() || age > Duration::seconds(i64::from(ctx.policy.quote_max_age_secs)) {
        return None;
    }
    match (quote.bid, quote.ask) {
        // (bid + ask) / 2 = (bid + ask) * 5 / 10, exactly.
        (Some(bid), Some(ask)) if bid <= ask => Some(
            Amount::of(bid.get())
                .add(&Amount::of(ask.get()))
                .mul(&Amount::Small(5, 0))
                .shift_down(1),
        ),
        _ => quote.last.map(|p| Amount::of(p.get())),
    }
}

/// The worst price an order can fill at: a buy's limit, else the largest of limit, stop and the collar edge.
fn worst_price(
    ctx: &Context<'_>,
    instrument: &Instrument,
    side: Side,
    limit: Option<Price>,
    stop: Option<Price>,
) -> Result<Amount, Missing> {
    if let (Side::Buy, Some(limit)) = (side, limit) {
        return Ok(Amount::of(limit.get()));
    }
    let reference = reference(ctx, instrument).ok_or(Missing)?;
    let edge = reference
        .mul(&Amount::of(Decimal::ONE_HUNDRED).add(&Amount::of(ctx.policy.price_collar_pct)))
        .shift_down(2);
    Ok([limit, stop].into_iter().flatten().fold(edge, |worst, p| {
        let p = Amount::of(p.get());
        if p.cmp_to(&worst).is_gt() { p } else { worst }
    }))
}

/// What one ticket looks like to the rules.
struct Sizing {
    /// Signed position.
    pos: Decimal,
    buys: Amount,
    sells: Amount,
    quantity: Amount,
}

impl Sizing {
    fn of(ticket: &OrderTicket, ctx: &Context<'_>) -> Self {
        let pos = ctx
            .positions
            .get(&(ticket.account.clone(), ticket.instrument.clone()))
            .copied()
            .unwrap_or_default();
        let mut buys = Amount::ZERO;
        let mut sells = Amount::ZERO;
        for w in ctx
            .working
            .iter()
            .filter(|w| w.account == ticket.account && w.instrument == ticket.instrument)
        {
            let remaining = Amount::of(w.remaining.get());
            match w.side {
                Side::Buy => buys = buys.add(&remaining),
                Side::Sell => sells = sells.add(&remaining),
            }
        }
        Self {
            pos,
            buys,
            sells,
            quantity: Amount::of(ticket.quantity.get()),
        }
    }

    /// Largest long (buy: `pos + B + q`) or short (sell: `S + q - pos`, as a positive number) the
    /// position can reach.
    fn worst_size(&self, side: Side) -> Amount {
        let pos = Amount::of(self.pos);
        match side {
            Side::Buy => pos.add(&self.buys).add(&self.quantity),
            Side::Sell => self.sells.add(&self.quantity).add(&pos.neg()),
        }
    }

    /// The ticket only shrinks the position, even if every working order on its side fills.
    fn reducing(&self, side: Side) -> bool {
        match side {
            Side::Buy => self.pos < Decimal::ZERO && !self.worst_size(Side::Buy).exceeds(Decimal::ZERO),
            Side::Sell => self.pos > Decimal::ZERO && !self.worst_size(Side::Sell).exceeds(Decimal::ZERO),
        }
    }
}

/// Checks `ticket` against every rule; returns every violation, or the tier it needs.
#[must_use]
pub fn check(ticket: &OrderTicket, ctx: &Context<'_>) -> Verdict {
    let p = ctx.policy;
    let mut out: Vec<Violation> = Vec::new();
    let mut refuse = |rule: Rule, message: String| out.push(Violation { rule, message });
    let mut no_quote = NoQuote::default();
    let sizing = Sizing::of(ticket, ctx);
    let reducing = sizing.reducing(ticket.side);

    if let Requester::Agent {
        name,
        level: Permission::Read,
        ..
    } = &ctx.requester
    {
        refuse(
            Rule::Permission,
            format!("agent '{name}' has read permission on this profile and cannot stage orders"),
        );
    }
    match ctx.trading.level() {
        Level::Halted => refuse(Rule::Halted, "trading is HALTED: only cancels are allowed".into()),
        Level::Reducing if !reducing => refuse(
            Rule::Reducing,
            "trading is REDUCING: only orders that shrink a position without flipping it are allowed".into(),
        ),
        _ => {}
    }
    allowlists(ticket, ctx, &mut refuse);
    if let Err(problems) = ticket.validate() {
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        refuse(Rule::PriceFields, text.join("; "));
    }
    if ticket.quantity.get() > p.max_order_quantity {
        refuse(
            Rule::Quantity,
            format!(
                "quantity {} is above the maximum of {} per order",
                ticket.quantity, p.max_order_quantity
            ),
        );
    }

    let notional = exposure(ticket, ctx, &sizing, reducing, &mut refuse, &mut no_quote);
    if !session_open(&p.session, ctx.now, ticket.outside_rth) {
        refuse(
            Rule::Session,
            session_message(&p.session, ctx.now, ticket.outside_rth),
        );
    }
    activity(ticket, ctx, notional.as_ref(), &mut refuse, &mut no_quote);
    if let Some(message) = no_quote.message(p.quote_max_age_secs) {
        refuse(Rule::NoQuote, message);
    }

    if !out.is_empty() {
        out.sort_by_key(|v| Rule::ALL.iter().position(|r| *r == v.rule));
        return Verdict::Refused(out);
    }
    // A clearable ticket always has a notional: a missing price has refused it with NO_QUOTE.
    let Ok(notional) = notional else {
        return Verdict::Refused(vec![Violation {
            rule: Rule::NoQuote,
            message: "the notional cannot be computed without a fresh quote".into(),
        }]);
    };
    Verdict::Clearable(Box::new(Clearable {
        tier: tier(ticket, ctx, &notional),
        ticket: ticket.clone(),
        fingerprint: fingerprint(ticket, ctx.profile, ctx.version),
        notional: notional.to_decimal(),
        epoch: ctx.trading.epoch(),
        read_back: read_back(ticket),
    }))
}

/// Notional, position, gross-exposure and collar rules; returns the ticket's notional.
fn exposure(
    ticket: &OrderTicket,
    ctx: &Context<'_>,
    sizing: &Sizing,
    reducing: bool,
    refuse: &mut impl FnMut(Rule, String),
    no_quote: &mut NoQuote,
) -> Result<Amount, Missing> {
    let p = ctx.policy;
    let worst = worst_price(
        ctx,
        &ticket.instrument,
        ticket.side,
        ticket.limit_price,
        ticket.stop_price,
    );
    let notional = worst.map(|w| sizing.quantity.mul(&w));
    match &notional {
        Ok(n) if n.exceeds(p.max_order_notional) => refuse(
            Rule::Notional,
            format!(
                "notional {} at the worst fill is above the maximum of {} per order",
                n.shown(),
                p.max_order_notional
            ),
        ),
        Ok(_) => {}
        Err(Missing) => no_quote.need(&ticket.instrument, "notional"),
    }
    let size = sizing.worst_size(ticket.side);
    if size.exceeds(p.max_position) {
        let direction = if ticket.side == Side::Buy { "long" } else { "short" };
        refuse(
            Rule::Position,
            format!(
                "the position could reach {} {direction} if working orders fill, above the limit of {}",
                size.shown(),
                p.max_position
            ),
        );
    }
    if !reducing {
        match gross(ticket, ctx, notional.as_ref()) {
            Ok(g) if g.exceeds(p.max_gross_exposure) => refuse(
                Rule::Gross,
                format!(
                    "gross exposure could reach {}, above the limit of {}",
                    g.shown(),
                    p.max_gross_exposure
                ),
            ),
            Ok(_) => {}
            Err(unquoted) => {
                for instrument in unquoted {
                    no_quote.need(instrument, "gross exposure");
                }
            }
        }
    }
    if let Some(limit) = ticket.limit_price {
        match collar(ctx, &ticket.instrument, limit) {
            Ok(Some(message)) => refuse(Rule::Collar, message),
            Ok(None) => {}
            Err(Missing) => no_quote.need(&ticket.instrument, "price collar"),
        }
    }
    notional
}

fn allowlists(ticket: &OrderTicket, ctx: &Context<'_>, refuse: &mut impl FnMut(Rule, String)) {
    let p = ctx.policy;
    if !ctx.accounts.contains(&ticket.account) {
        refuse(
            Rule::Account,
            format!(
                "account {} is not allowed on profile '{}'",
                ticket.account, ctx.profile
            ),
        );
    }
    if !p.symbols.contains(&ticket.instrument) {
        let i = &ticket.instrument;
        refuse(
            Rule::Symbol,
            format!(
                "{} {} {} on {} is not in the symbol allowlist",
                i.symbol,
                i.sec_type,
                i.currency,
                if i.primary_exchange.is_empty() {
                    "(no exchange)"
                } else {
                    &i.primary_exchange
                }
            ),
        );
    }
    if !p.order_types.contains(&ticket.order_type) {
        refuse(
            Rule::OrderType,
            format!("order type {} is not allowed", ticket.order_type.as_ib()),
        );
    }
    if !p.tifs.contains(&ticket.tif) {
        refuse(
            Rule::Tif,
            format!("time in force {} is not allowed", ticket.tif.as_ib()),
        );
    }
    if !p.sides.contains(&ticket.side) {
        refuse(Rule::Side, format!("side {} is not allowed", ticket.side.as_ib()));
    }
}

/// Gross exposure after the ticket: positions at reference, working orders and the ticket at worst price.
/// Without a price for all of them, every instrument that lacks one (the ticket's, a holding's, a working
/// order's): the sum is not computed, but the trader is told what to look at.
fn gross<'c>(
    ticket: &'c OrderTicket,
    ctx: &'c Context<'_>,
    notional: Result<&Amount, &Missing>,
) -> Result<Amount, Vec<&'c Instrument>> {
    let mut unquoted: Vec<&Instrument> = Vec::new();
    let mut total = if let Ok(n) = notional {
        n.clone()
    } else {
        unquoted.push(&ticket.instrument);
        Amount::ZERO
    };
    for ((account, instrument), qty) in ctx.positions {
        if *account != ticket.account || qty.is_zero() {
            continue;
        }
        match reference(ctx, instrument) {
            Some(r) => total = total.add(&Amount::of(qty.abs()).mul(&r)),
            None => unquoted.push(instrument),
        }
    }
    for w in ctx.working.iter().filter(|w| w.account == ticket.account) {
        match worst_price(ctx, &w.instrument, w.side, w.limit_price, w.stop_price) {
            Ok(price) => total = total.add(&Amount::of(w.remaining.get()).mul(&price)),
            Err(Missing) => unquoted.push(&w.instrument),
        }
    }
    if unquoted.is_empty() {
        Ok(total)
    } else {
        Err(unquoted)
    }
}

/// `Some(message)` when `limit` is outside the collar: `|limit - reference| * 100 > pct * reference`.
fn collar(ctx: &Context<'_>, instrument: &Instrument, limit: Price) -> Result<Option<String>, Missing> {
    let reference = reference(ctx, instrument).ok_or(Missing)?;
    let pct = ctx.policy.price_collar_pct;
    let distance = Amount::of(limit.get())
        .add(&reference.neg())
        .abs()
        .mul(&Amount::of(Decimal::ONE_HUNDRED));
    let allowed = Amount::of(pct).mul(&reference);
    Ok(distance.cmp_to(&allowed).is_gt().then(|| {
        format!(
            "limit {limit} is more than {pct}% from the reference price {}",
            reference.to_decimal().round_dp(4).normalize()
        )
    }))
}

/// Whether an order may be sent at `now`.
#[must_use]
pub(crate) fn session_open(session: &Session, now: DateTime<Utc>, outside_rth: bool) -> bool {
    if session.always_open {
        return true;
    }
    let local = now.with_timezone(&session.timezone);
    let date = local.date_naive();
    if !session.days.contains(&date.weekday()) || session.holidays.contains(&date) {
        return false;
    }
    let t = local.time();
    let regular = session.open <= t && t < session.close;
    let extended = outside_rth
        && session
            .extended
            .is_some_and(|(open, close)| open <= t && t < close);
    regular || extended
}

fn session_message(session: &Session, now: DateTime<Utc>, outside_rth: bool) -> String {
    let local = now.with_timezone(&session.timezone);
    let date = local.date_naive();
    let when = local.format("%a %Y-%m-%d %H:%M %Z");
    if session.holidays.contains(&date) {
        format!("{when} is an exchange holiday")
    } else if !session.days.contains(&date.weekday()) {
        format!("{when} is not a trading day")
    } else {
        let mut hours = format!(
            "{}-{}",
            session.open.format("%H:%M"),
            session.close.format("%H:%M")
        );
        if let Some((open, close)) = session.extended {
            if outside_rth {
                hours = format!(
                    "{hours} or extended {}-{}",
                    open.format("%H:%M"),
                    close.format("%H:%M")
                );
            } else {
                hours.push_str(" (mark the order outside-RTH for extended hours)");
            }
        }
        format!("{when} is outside the session {hours}")
    }
}

/// Duplicate, daily and rate rules.
fn activity(
    ticket: &OrderTicket,
    ctx: &Context<'_>,
    notional: Result<&Amount, &Missing>,
    refuse: &mut impl FnMut(Rule, String),
    no_quote: &mut NoQuote,
) {
    let p = ctx.policy;
    let within =
        |at: DateTime<Utc>, secs: u32| ctx.now.signed_duration_since(at) < Duration::seconds(i64::from(secs));
    if let Some(dup) = ctx.recent.iter().find(|r| {
        r.account == ticket.account
            && r.instrument == ticket.instrument
            && r.side == ticket.side
            && r.quantity == ticket.quantity
            && r.order_type == ticket.order_type
            && r.limit_price == ticket.limit_price
            && r.stop_price == ticket.stop_price
            && within(r.at, p.duplicate_window_secs)
    }) {
        refuse(
            Rule::Duplicate,
            format!(
                "the same order was submitted at {} (within {} s)",
                dup.at.format("%H:%M:%S UTC"),
                p.duplicate_window_secs
            ),
        );
    }
    let c = ctx.counters;
    if c.orders >= p.max_orders_per_day {
        refuse(
            Rule::DailyOrders,
            format!(
                "{} orders today already: the daily limit is {}",
                c.orders, p.max_orders_per_day
            ),
        );
    }
    match notional {
        Ok(n) => {
            let total = Amount::of(c.notional).add(n);
            if total.exceeds(p.max_notional_per_day) {
                refuse(
                    Rule::DailyNotional,
                    format!(
                        "today's notional would reach {}, above the daily limit of {}",
                        total.shown(),
                        p.max_notional_per_day
                    ),
                );
            }
        }
        Err(_) => no_quote.need(&ticket.instrument, "daily notional"),
    }
    let by_symbol = c
        .orders_by_symbol
        .get(&ticket.instrument.symbol)
        .copied()
        .unwrap_or(0);
    if by_symbol >= p.max_orders_per_symbol_per_day {
        refuse(
            Rule::DailySymbolOrders,
            format!(
                "{by_symbol} orders in {} today already: the limit is {}",
                ticket.instrument.symbol, p.max_orders_per_symbol_per_day
            ),
        );
    }
    let last_minute = ctx.recent.iter().filter(|r| within(r.at, 60)).count();
    if last_minute >= usize::try_from(p.max_orders_per_minute).unwrap_or(usize::MAX) {
        refuse(
            Rule::Rate,
            format!(
                "{last_minute} orders in the last minute: the limit is {} per minute",
                p.max_orders_per_minute
            ),
        );
    }
}

/// The approval a clearable ticket needs.
fn tier(ticket: &OrderTicket, ctx: &Context<'_>, notional: &Amount) -> Tier {
    let p: &Policy = ctx.policy;
    if notional.exceeds(p.typed_approval_notional)
        || (ctx.mode == Mode::Live && ticket.quantity.get() > p.live_typed_quantity)
    {
        return Tier::Typed;
    }
    let Requester::Agent {
        name,
        level: Permission::Execute,
        unapproved_budget,
    } = &ctx.requester
    else {
        return Tier::Confirm;
    };
    if notional.exceeds(p.manual_approval_notional) {
        return Tier::Confirm;
    }
    let window = Duration::seconds(i64::from(p.agent_budget_window_secs));
    let spent = ctx
        .unapproved
        .iter()
        .filter(|s| {
            s.agent == *name
                && s.instrument == ticket.instrument
                && ctx.now.signed_duration_since(s.at) < window
        })
        .fold(notional.clone(), |sum, s| sum.add(&Amount::of(s.notional)));
    if spent.exceeds(*unapproved_budget) {
        Tier::Confirm
    } else {
        Tier::None
    }
}

/// What the trader types for a `Typed` approval, e.g. `BUY 100 AAPL LMT 187.5`.
#[must_use]
pub(crate) fn read_back(ticket: &OrderTicket) -> String {
    let mut text = format!(
        "{} {} {} {}",
        ticket.side.as_ib(),
        ticket.quantity,
        ticket.instrument.symbol,
        ticket.order_type.as_ib()
    );
    if let Some(limit) = ticket.limit_price {
        let _ = write!(text, " {limit}");
    }
    if ticket.order_type == OrderType::Stop
        && let Some(stop) = ticket.stop_price
    {
        let _ = write!(text, " {stop}");
    }
    text
}

/// SHA-256 over the ticket's every field, the profile and the proposal version.
#[must_use]
pub fn fingerprint(ticket: &OrderTicket, profile: &str, version: u32) -> Fingerprint {
    let i = &ticket.instrument;
    let fields = [
        profile.to_string(),
        ticket.account.to_string(),
        i.symbol.to_string(),
        i.sec_type.to_string(),
        i.currency.to_string(),
        i.primary_exchange.clone(),
        ticket.side.as_ib().to_string(),
        ticket.quantity.to_string(),
        ticket.order_type.as_ib().to_string(),
        ticket.limit_price.map(|p| p.to_string()).unwrap_or_default(),
        ticket.stop_price.map(|p| p.to_string()).unwrap_or_default(),
        ticket.tif.as_ib().to_string(),
        ticket.outside_rth.to_string(),
        version.to_string(),
    ];
    let mut hasher = Sha256::new();
    for f in fields {
        hasher.update(f.len().to_le_bytes());
        hasher.update(f.as_bytes());
    }
    Fingerprint(hasher.finalize().into())
}
