//! A second, independent implementation of the policy check, written from `config.example.toml` alone, used
//! as a differential oracle for `cockpit::policy::check`.
//!
//! - `oracle`: the checker, in exact rational arithmetic (`BigRational`), so nothing overflows or rounds.
//! - `check_agrees_with_the_oracle`: seeded, boundary-weighted random tickets and contexts (every case is
//!   derived from its index, so a run is deterministic); limits are pinned at the exact value the oracle
//!   computes, one smallest unit below or above. Case count: `COCKPIT_ORACLE_CASES`, else 1 000 000 with
//!   `COCKPIT_HEAVY`, else 10 000. A disagreement is shrunk and reported with both answers.
//! - `boundary_grid`: every numeric control at limit − 1 unit, limit and limit + 1 unit, sessions around
//!   open and close on a normal day, both 2026 DST change days and a holiday, with the expected answer
//!   written out.
//! - Properties that garbage numbers and lookalike symbols never parse, so they cannot reach `check`.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::similar_names,
    clippy::many_single_char_names,
    clippy::needless_pass_by_value,
    clippy::items_after_statements,
    clippy::doc_markdown,
    clippy::too_many_arguments
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use cockpit::config::{Config, Mode, Permission, Policy, Session, StepDown, StepTo};
use cockpit::domain::{
    AccountId, Currency, Instrument, OrderTicket, OrderType, Price, Quantity, Quote, SecType, Side, Symbol,
    Tif,
};
use cockpit::policy::{
    Cause, Context, DailyCounters, Level, Requester, Rule, Submitted, Tier, TradingState, UnapprovedSpend,
    Verdict, WorkingOrder,
};
use num_traits::Zero;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use oracle::{Rat, int, rat};

// =========================================================================================================
// The oracle.
// =========================================================================================================

mod oracle {
    use std::collections::BTreeSet;
    use std::sync::LazyLock;

    use chrono::{DateTime, Datelike, Utc};
    use cockpit::config::{Mode, Permission};
    use cockpit::domain::{Instrument, OrderTicket, OrderType, Price, Quantity, Side};
    use cockpit::policy::{Context, Level, Requester, Submitted, Tier};
    use num_bigint::BigInt;
    use num_rational::BigRational;
    use num_traits::{Signed, ToPrimitive, Zero};
    use rust_decimal::Decimal;

    /// Exact numbers.
    pub type Rat = BigRational;

    /// The violated codes and, when nothing is violated, the tier.
    pub type Answer = (BTreeSet<&'static str>, Option<Tier>);

    const NANOS_PER_SEC: i128 = 1_000_000_000;

    /// The largest magnitude a `Decimal` represents: beyond it a result is "too large to represent".
    static REPRESENTABLE: LazyLock<Rat> = LazyLock::new(|| rat(Decimal::MAX));

    /// A `Decimal`, exactly (reduced with integer arithmetic first; every `Decimal` is `m / 10^s`, s <= 28).
    pub fn rat(d: Decimal) -> Rat {
        let mantissa = d.mantissa();
        let denominator = 10_u128.pow(d.scale());
        let divisor = gcd(mantissa.unsigned_abs(), denominator);
        let reduced = (mantissa.unsigned_abs() / divisor) as i128;
        Rat::new_raw(
            BigInt::from(if mantissa < 0 { -reduced } else { reduced }),
            BigInt::from(denominator / divisor),
        )
    }

    fn gcd(mut a: u128, mut b: u128) -> u128 {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a.max(1)
    }

    /// An integer, exactly.
    pub fn int(n: i64) -> Rat {
        Rat::from_integer(BigInt::from(n))
    }

    /// A rational as a `Decimal`, if it is one (terminating, at most 28 decimal places, in range).
    pub fn to_dec(r: &Rat) -> Option<Decimal> {
        // Reduced, so the denominator must be 2^a 5^b with max(a, b) <= 28.
        let mut rest = r.denom().to_u128()?;
        let (mut twos, mut fives) = (0_u32, 0_u32);
        while rest % 2 == 0 {
            rest /= 2;
            twos += 1;
        }
        while rest % 5 == 0 {
            rest /= 5;
            fives += 1;
        }
        let scale = twos.max(fives);
        if rest != 1 || scale > 28 {
            return None;
        }
        let factor = 10_u128.pow(scale) / r.denom().to_u128()?;
        let mantissa = (r.numer() * BigInt::from(factor)).to_i128()?;
        Decimal::try_from_i128_with_scale(mantissa, scale).ok()
    }

    fn too_large(x: &Rat) -> bool {
        x.abs() > *REPRESENTABLE
    }

    /// `value > limit`, where a result too large to represent counts as exceeding its limit.
    fn above(value: &Rat, limit: Decimal) -> bool {
        too_large(value) || *value > rat(limit)
    }

    /// Nanoseconds since the epoch.
    pub fn nanos(t: DateTime<Utc>) -> i128 {
        i128::from(t.timestamp()) * NANOS_PER_SEC + i128::from(t.timestamp_subsec_nanos())
    }

    /// "In the last N seconds": `now - at < N` seconds (a time in the future is in the last N seconds).
    pub fn in_last(now: DateTime<Utc>, at: DateTime<Utc>, secs: u32) -> bool {
        nanos(now) - nanos(at) < i128::from(secs) * NANOS_PER_SEC
    }

    /// An instrument matches only if symbol, security type, currency and primary exchange are all equal.
    pub fn same_instrument(a: &Instrument, b: &Instrument) -> bool {
        a.symbol.as_str() == b.symbol.as_str()
            && a.sec_type.as_ib() == b.sec_type.as_ib()
            && a.currency.as_str() == b.currency.as_str()
            && a.primary_exchange == b.primary_exchange
    }

    fn same_price(a: Option<Price>, b: Option<Price>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => rat(a.get()) == rat(b.get()),
            _ => false,
        }
    }

    fn same_quantity(a: Quantity, b: Quantity) -> bool {
        rat(a.get()) == rat(b.get())
    }

    /// Midpoint when both sides exist and bid <= ask, else last, else none; only from a fresh quote
    /// (0 <= now - received_at <= quote_max_age_secs).
    pub fn reference(ctx: &Context<'_>, instrument: &Instrument) -> Option<Rat> {
        let (_, quote) = ctx.quotes.iter().find(|(i, _)| same_instrument(i, instrument))?;
        let age = nanos(ctx.now) - nanos(quote.received_at);
        if age < 0 || age > i128::from(ctx.policy.quote_max_age_secs) * NANOS_PER_SEC {
            return None;
        }
        match (quote.bid, quote.ask) {
            (Some(bid), Some(ask)) if rat(bid.get()) <= rat(ask.get()) => {
                Some((rat(bid.get()) + rat(ask.get())) / int(2))
            }
            _ => quote.last.map(|last| rat(last.get())),
        }
    }

    /// `reference * (100 + price_collar_pct) / 100`.
    pub fn edge(ctx: &Context<'_>, instrument: &Instrument) -> Option<Rat> {
        let reference = reference(ctx, instrument)?;
        Some(reference * (int(100) + rat(ctx.policy.price_collar_pct)) / int(100))
    }

    /// A BUY with a limit price: the limit; any other order: the largest of its limit, its stop and the edge.
    pub fn worst(
        ctx: &Context<'_>,
        side: Side,
        limit: Option<Price>,
        stop: Option<Price>,
        instrument: &Instrument,
    ) -> Option<Rat> {
        if side == Side::Buy
            && let Some(limit) = limit
        {
            return Some(rat(limit.get()));
        }
        let mut worst = edge(ctx, instrument)?;
        for price in [limit, stop].into_iter().flatten() {
            let price = rat(price.get());
            if price > worst {
                worst = price;
            }
        }
        Some(worst)
    }

    /// The spec's terms for one ticket in one context.
    #[derive(Debug, Clone)]
    pub struct Terms {
        /// q.
        pub q: Rat,
        /// pos.
        pub pos: Rat,
        /// B.
        pub b: Rat,
        /// S.
        pub s: Rat,
        /// Whether the ticket only shrinks the position.
        pub reducing: bool,
        /// The ticket instrument's reference.
        pub reference: Option<Rat>,
        /// q * worst price.
        pub notional: Option<Rat>,
        /// The gross exposure sum (positions, working orders, notional), if every price exists.
        pub gross: Option<Rat>,
        /// The requesting agent's unapproved notional in this instrument over the budget window.
        pub spent: Rat,
        /// Orders submitted in the last 60 seconds.
        pub minute: u64,
    }

    pub fn terms(t: &OrderTicket, ctx: &Context<'_>) -> Terms {
        let q = rat(t.quantity.get());
        let mut pos = Rat::zero();
        for ((account, instrument), quantity) in ctx.positions {
            if *account == t.account && same_instrument(instrument, &t.instrument) {
                pos += rat(*quantity);
            }
        }
        let (mut b, mut s) = (Rat::zero(), Rat::zero());
        for w in ctx.working {
            if w.account == t.account && same_instrument(&w.instrument, &t.instrument) {
                match w.side {
                    Side::Buy => b += rat(w.remaining.get()),
                    Side::Sell => s += rat(w.remaining.get()),
                }
            }
        }
        let reducing = match t.side {
            Side::Buy => pos < Rat::zero() && &pos + &b + &q <= Rat::zero(),
            Side::Sell => pos > Rat::zero() && &pos - &s - &q >= Rat::zero(),
        };
        let notional = worst(ctx, t.side, t.limit_price, t.stop_price, &t.instrument).map(|w| &q * w);
        let gross = (|| {
            let mut sum = Rat::zero();
            for ((account, instrument), quantity) in ctx.positions {
                if *account == t.account && !quantity.is_zero() {
                    sum += rat(*quantity).abs() * reference(ctx, instrument)?;
                }
            }
            for w in ctx.working {
                if w.account == t.account {
                    sum += rat(w.remaining.get())
                        * worst(ctx, w.side, w.limit_price, w.stop_price, &w.instrument)?;
                }
            }
            Some(sum + notional.clone()?)
        })();
        let spent = match &ctx.requester {
            Requester::Agent { name, .. } => ctx
                .unapproved
                .iter()
                .filter(|u| {
                    u.agent == *name
                        && same_instrument(&u.instrument, &t.instrument)
                        && in_last(ctx.now, u.at, ctx.policy.agent_budget_window_secs)
                })
                .fold(Rat::zero(), |sum, u| sum + rat(u.notional)),
            Requester::Trader => Rat::zero(),
        };
        Terms {
            reference: reference(ctx, &t.instrument),
            q,
            pos,
            b,
            s,
            reducing,
            notional,
            gross,
            spent,
            minute: ctx.recent.iter().filter(|r| in_last(ctx.now, r.at, 60)).count() as u64,
        }
    }

    /// LMT and STP LMT need a limit price, STP and STP LMT a stop price; a price the type does not take
    /// must be absent.
    pub fn price_fields_ok(t: &OrderTicket) -> bool {
        let takes_limit = matches!(t.order_type, OrderType::Limit | OrderType::StopLimit);
        let takes_stop = matches!(t.order_type, OrderType::Stop | OrderType::StopLimit);
        t.limit_price.is_some() == takes_limit && t.stop_price.is_some() == takes_stop
    }

    /// always_open; or a listed day that is not a holiday with open <= t < close, or (outside-RTH ticket,
    /// extended hours set) extended_open <= t < extended_close — all in exchange local time.
    pub fn session_allows(t: &OrderTicket, ctx: &Context<'_>) -> bool {
        let session = &ctx.policy.session;
        if session.always_open {
            return true;
        }
        let local = ctx.now.with_timezone(&session.timezone);
        let date = local.date_naive();
        let time = local.time();
        if !session.days.contains(&date.weekday()) || session.holidays.contains(&date) {
            return false;
        }
        let regular = session.open <= time && time < session.close;
        let extended = t.outside_rth
            && session
                .extended
                .is_some_and(|(open, close)| open <= time && time < close);
        regular || extended
    }

    fn duplicate_of(s: &Submitted, t: &OrderTicket) -> bool {
        s.account == t.account
            && same_instrument(&s.instrument, &t.instrument)
            && s.side == t.side
            && same_quantity(s.quantity, t.quantity)
            && s.order_type == t.order_type
            && same_price(s.limit_price, t.limit_price)
            && same_price(s.stop_price, t.stop_price)
    }

    /// Every violated code, and the tier when none is.
    pub fn oracle(t: &OrderTicket, ctx: &Context<'_>) -> Answer {
        let p = ctx.policy;
        let tm = terms(t, ctx);
        let mut v: BTreeSet<&'static str> = BTreeSet::new();
        let mut no_quote = false;

        if matches!(
            ctx.requester,
            Requester::Agent {
                level: Permission::Read,
                ..
            }
        ) {
            v.insert("PERMISSION");
        }
        let level = ctx.trading.level();
        if level == Level::Halted {
            v.insert("HALTED");
        }
        if level == Level::Reducing && !tm.reducing {
            v.insert("REDUCING");
        }
        if !ctx.accounts.iter().any(|a| a.as_str() == t.account.as_str()) {
            v.insert("ACCOUNT");
        }
        if !p.symbols.iter().any(|s| same_instrument(s, &t.instrument)) {
            v.insert("SYMBOL");
        }
        if !p.order_types.contains(&t.order_type) {
            v.insert("ORDER_TYPE");
        }
        if !p.tifs.contains(&t.tif) {
            v.insert("TIF");
        }
        if !p.sides.contains(&t.side) {
            v.insert("SIDE");
        }
        if !price_fields_ok(t) {
            v.insert("PRICE_FIELDS");
        }
        if above(&tm.q, p.max_order_quantity) {
            v.insert("QUANTITY");
        }
        match &tm.notional {
            None => no_quote = true,
            Some(n) => {
                if above(n, p.max_order_notional) {
                    v.insert("NOTIONAL");
                }
            }
        }
        let position_passes = match t.side {
            Side::Buy => above(&(&tm.pos + &tm.b + &tm.q), p.max_position),
            Side::Sell => {
                let after = &tm.pos - &tm.s - &tm.q;
                too_large(&after) || after < -rat(p.max_position)
            }
        };
        if position_passes {
            v.insert("POSITION");
        }
        if !tm.reducing {
            match &tm.gross {
                None => no_quote = true,
                Some(gross) => {
                    if above(gross, p.max_gross_exposure) {
                        v.insert("GROSS");
                    }
                }
            }
        }
        if let Some(limit) = t.limit_price {
            match &tm.reference {
                None => no_quote = true,
                Some(reference) => {
                    let distance = (rat(limit.get()) - reference).abs() * int(100);
                    if too_large(&distance) || distance > rat(p.price_collar_pct) * reference {
                        v.insert("COLLAR");
                    }
                }
            }
        }
        if !session_allows(t, ctx) {
            v.insert("SESSION");
        }
        if ctx
            .recent
            .iter()
            .any(|s| duplicate_of(s, t) && in_last(ctx.now, s.at, p.duplicate_window_secs))
        {
            v.insert("DUPLICATE");
        }
        if u64::from(ctx.counters.orders) + 1 > u64::from(p.max_orders_per_day) {
            v.insert("DAILY_ORDERS");
        }
        match &tm.notional {
            None => no_quote = true,
            Some(n) => {
                if above(&(rat(ctx.counters.notional) + n), p.max_notional_per_day) {
                    v.insert("DAILY_NOTIONAL");
                }
            }
        }
        let in_symbol: u64 = ctx
            .counters
            .orders_by_symbol
            .iter()
            .filter(|(s, _)| s.as_str() == t.instrument.symbol.as_str())
            .map(|(_, n)| u64::from(*n))
            .sum();
        if in_symbol + 1 > u64::from(p.max_orders_per_symbol_per_day) {
            v.insert("DAILY_SYMBOL_ORDERS");
        }
        if tm.minute + 1 > u64::from(p.max_orders_per_minute) {
            v.insert("RATE");
        }
        if no_quote {
            v.insert("NO_QUOTE");
        }
        if !v.is_empty() {
            return (v, None);
        }
        // Clearable: every rule was evaluated, so the notional exists.
        let Some(n) = tm.notional else {
            unreachable!("a clearable ticket has a notional")
        };
        // The trader and prepare-level agents always confirm; an execute-level agent when its budget is
        // exceeded.
        let confirm_by_requester = match &ctx.requester {
            Requester::Agent {
                level: Permission::Execute,
                unapproved_budget,
                ..
            } => &tm.spent + &n > rat(*unapproved_budget),
            Requester::Trader | Requester::Agent { .. } => true,
        };
        let tier = if n > rat(p.typed_approval_notional)
            || (ctx.mode == Mode::Live && tm.q > rat(p.live_typed_quantity))
        {
            Tier::Typed
        } else if confirm_by_requester || n > rat(p.manual_approval_notional) {
            Tier::Confirm
        } else {
            Tier::None
        };
        (v, Some(tier))
    }
}

// =========================================================================================================
// Cases: a ticket and everything its context borrows.
// =========================================================================================================

#[derive(Debug, Clone)]
struct Case {
    ticket: OrderTicket,
    policy: Policy,
    mode: Mode,
    accounts: Vec<AccountId>,
    requester: Requester,
    positions: BTreeMap<(AccountId, Instrument), Decimal>,
    working: Vec<WorkingOrder>,
    recent: Vec<Submitted>,
    unapproved: Vec<UnapprovedSpend>,
    quotes: BTreeMap<Instrument, Quote>,
    counters: DailyCounters,
    trading: TradingState,
    now: DateTime<Utc>,
}

impl Case {
    fn ctx(&self) -> Context<'_> {
        Context {
            profile: "oracle",
            mode: self.mode,
            accounts: &self.accounts,
            policy: &self.policy,
            requester: self.requester.clone(),
            version: 1,
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
}

type Answer = oracle::Answer;

/// What `check` said: the codes and tier, and the rules in the order given.
fn implementation(case: &Case) -> Result<(Answer, Vec<Rule>), String> {
    let ctx = case.ctx();
    let verdict = std::panic::catch_unwind(AssertUnwindSafe(|| cockpit::policy::check(&case.ticket, &ctx)))
        .map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "non-string panic".to_string())
    })?;
    let rules = verdict.rules();
    let tier = match &verdict {
        Verdict::Clearable(c) => Some(c.tier),
        Verdict::Refused(_) => None,
    };
    Ok(((rules.iter().map(|r| r.code()).collect(), tier), rules))
}

/// `None` when `check` and the oracle agree; else a short signature of the difference.
fn disagreement(case: &Case) -> Option<String> {
    let mine = oracle::oracle(&case.ticket, &case.ctx());
    disagreement_with(case, &mine)
}

fn disagreement_with(case: &Case, mine: &Answer) -> Option<String> {
    match implementation(case) {
        Err(panic) => Some(format!("check panicked: {panic}")),
        Ok((theirs, rules)) => {
            let mut problems = Vec::new();
            if theirs != *mine {
                let only_check: Vec<_> = theirs.0.difference(&mine.0).collect();
                let only_oracle: Vec<_> = mine.0.difference(&theirs.0).collect();
                problems.push(format!(
                    "only check {only_check:?}, only oracle {only_oracle:?}, tier check {:?} oracle {:?}",
                    theirs.1, mine.1
                ));
            }
            if !rules.windows(2).all(|w| w[0] < w[1]) {
                problems.push(format!("rules not once each in Rule::ALL order: {rules:?}"));
            }
            (!problems.is_empty()).then(|| problems.join("; "))
        }
    }
}

fn describe(case: &Case) -> String {
    let mut s = String::new();
    let p = &case.policy;
    let session = &p.session;
    let local = case.now.with_timezone(&session.timezone);
    let _ = writeln!(s, "  ticket:     {:?}", case.ticket);
    let _ = writeln!(
        s,
        "  now:        {} = {} {} in {}",
        case.now.to_rfc3339(),
        local.format("%Y-%m-%d %H:%M:%S%.9f %Z"),
        local.weekday(),
        session.timezone
    );
    let _ = writeln!(
        s,
        "  mode {:?}, accounts {:?}, trading {:?}, requester {:?}",
        case.mode,
        case.accounts.iter().map(AccountId::as_str).collect::<Vec<_>>(),
        case.trading.level(),
        case.requester
    );
    let _ = writeln!(
        s,
        "  policy: types {:?} tifs {:?} sides {:?} max_qty {} max_notional {} max_position {} max_gross {} \
         collar {}% quote_age {}s dup {}s per_day {} day_notional {} per_symbol {} per_minute {} manual {} \
         typed {} live_typed_qty {} budget_window {}s",
        p.order_types,
        p.tifs,
        p.sides,
        p.max_order_quantity,
        p.max_order_notional,
        p.max_position,
        p.max_gross_exposure,
        p.price_collar_pct,
        p.quote_max_age_secs,
        p.duplicate_window_secs,
        p.max_orders_per_day,
        p.max_notional_per_day,
        p.max_orders_per_symbol_per_day,
        p.max_orders_per_minute,
        p.manual_approval_notional,
        p.typed_approval_notional,
        p.live_typed_quantity,
        p.agent_budget_window_secs
    );
    let _ = writeln!(
        s,
        "  session: days {:?} {}-{} extended {:?} always_open {} holidays {:?}",
        session.days,
        session.open,
        session.close,
        session.extended,
        session.always_open,
        session
            .holidays
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    let _ = writeln!(
        s,
        "  symbols: {:?}",
        p.symbols.iter().map(show_instrument).collect::<Vec<_>>()
    );
    for ((account, instrument), quantity) in &case.positions {
        let _ = writeln!(
            s,
            "  position:   {account} {} {quantity}",
            show_instrument(instrument)
        );
    }
    for w in &case.working {
        let _ = writeln!(
            s,
            "  working:    {} {} {:?} {} {} limit {:?} stop {:?}",
            w.account,
            show_instrument(&w.instrument),
            w.side,
            w.remaining,
            w.order_type,
            w.limit_price.map(|p| p.to_string()),
            w.stop_price.map(|p| p.to_string())
        );
    }
    for r in &case.recent {
        let _ = writeln!(
            s,
            "  recent:     {} {} {:?} {} {} limit {:?} stop {:?} at now-{}ns",
            r.account,
            show_instrument(&r.instrument),
            r.side,
            r.quantity,
            r.order_type,
            r.limit_price.map(|p| p.to_string()),
            r.stop_price.map(|p| p.to_string()),
            oracle::nanos(case.now) - oracle::nanos(r.at)
        );
    }
    for u in &case.unapproved {
        let _ = writeln!(
            s,
            "  unapproved: {} {} {} at now-{}ns",
            u.agent,
            show_instrument(&u.instrument),
            u.notional,
            oracle::nanos(case.now) - oracle::nanos(u.at)
        );
    }
    for (instrument, q) in &case.quotes {
        let _ = writeln!(
            s,
            "  quote:      {} bid {:?} ask {:?} last {:?} age {}ns",
            show_instrument(instrument),
            q.bid.map(|p| p.to_string()),
            q.ask.map(|p| p.to_string()),
            q.last.map(|p| p.to_string()),
            oracle::nanos(case.now) - oracle::nanos(q.received_at)
        );
    }
    let _ = writeln!(
        s,
        "  counters:   orders {} notional {} by symbol {:?}",
        case.counters.orders, case.counters.notional, case.counters.orders_by_symbol
    );
    let ctx = case.ctx();
    let tm = oracle::terms(&case.ticket, &ctx);
    let _ = writeln!(
        s,
        "  oracle terms: q {} pos {} B {} S {} reducing {} reference {:?} notional {:?} gross {:?} spent {} \
         minute {}",
        tm.q,
        tm.pos,
        tm.b,
        tm.s,
        tm.reducing,
        tm.reference.as_ref().map(ToString::to_string),
        tm.notional.as_ref().map(ToString::to_string),
        tm.gross.as_ref().map(ToString::to_string),
        tm.spent,
        tm.minute
    );
    let mine = oracle::oracle(&case.ticket, &ctx);
    let _ = writeln!(s, "  oracle says: {:?} tier {:?}", mine.0, mine.1);
    match implementation(case) {
        Ok(((codes, tier), rules)) => {
            let _ = writeln!(s, "  check says:  {codes:?} tier {tier:?} (in order: {rules:?})");
        }
        Err(panic) => {
            let _ = writeln!(s, "  check panicked: {panic}");
        }
    }
    s
}

fn show_instrument(i: &Instrument) -> String {
    format!(
        "{}/{}/{}/{}",
        i.symbol, i.sec_type, i.currency, i.primary_exchange
    )
}

/// Smaller variants of a case, for shrinking.
fn smaller(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    for i in 0..case.working.len() {
        let mut c = case.clone();
        c.working.remove(i);
        out.push(c);
    }
    for key in case.positions.keys() {
        let mut c = case.clone();
        c.positions.remove(key);
        out.push(c);
    }
    for i in 0..case.recent.len() {
        let mut c = case.clone();
        c.recent.remove(i);
        out.push(c);
    }
    for i in 0..case.unapproved.len() {
        let mut c = case.clone();
        c.unapproved.remove(i);
        out.push(c);
    }
    for key in case.quotes.keys() {
        let mut c = case.clone();
        c.quotes.remove(key);
        out.push(c);
    }
    for key in case.counters.orders_by_symbol.keys() {
        let mut c = case.clone();
        c.counters.orders_by_symbol.remove(key);
        out.push(c);
    }
    let mut tweak = |f: &dyn Fn(&mut Case)| {
        let mut c = case.clone();
        f(&mut c);
        if format!("{c:?}") != format!("{case:?}") {
            out.push(c);
        }
    };
    tweak(&|c| c.trading = TradingState::active());
    tweak(&|c| c.requester = Requester::Trader);
    tweak(&|c| c.mode = Mode::Paper);
    tweak(&|c| c.counters.orders = 0);
    tweak(&|c| c.counters.notional = Decimal::ZERO);
    tweak(&|c| c.policy.session.always_open = true);
    tweak(&|c| c.ticket.outside_rth = false);
    tweak(&|c| c.ticket.tif = Tif::Day);
    tweak(&|c| c.policy.order_types = ALL_TYPES.to_vec());
    tweak(&|c| c.policy.tifs = vec![Tif::Day, Tif::Gtc, Tif::Ioc]);
    tweak(&|c| c.policy.sides = vec![Side::Buy, Side::Sell]);
    out
}

fn shrink(mut case: Case, signature: &str) -> Case {
    loop {
        let next = smaller(&case)
            .into_iter()
            .find(|c| disagreement(c).as_deref() == Some(signature));
        match next {
            Some(c) => case = c,
            None => return case,
        }
    }
}

// =========================================================================================================
// Building blocks.
// =========================================================================================================

const MAIN: &str = "DU1234567";
const OTHER: &str = "DU7654321";
const LIVE: &str = "U1234567";
const ALL_TYPES: [OrderType; 4] = [
    OrderType::Market,
    OrderType::Limit,
    OrderType::Stop,
    OrderType::StopLimit,
];
const WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];
const ALL_DAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];
const HOLIDAYS: [&str; 10] = [
    "2026-01-01",
    "2026-01-19",
    "2026-02-16",
    "2026-04-03",
    "2026-05-25",
    "2026-06-19",
    "2026-07-03",
    "2026-09-07",
    "2026-11-26",
    "2026-12-25",
];

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

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
}

fn instrument(symbol: &str, sec_type: &str, currency: &str, exchange: &str) -> Instrument {
    Instrument {
        symbol: Symbol::parse(symbol).unwrap(),
        sec_type: SecType::parse(sec_type).unwrap(),
        currency: Currency::parse(currency).unwrap(),
        primary_exchange: exchange.to_string(),
    }
}

/// The instruments cases draw from: the three allowlisted ones first, then lookalikes and an unlisted one.
static UNIVERSE: LazyLock<Vec<Instrument>> = LazyLock::new(|| {
    vec![
        instrument("AAPL", "STK", "USD", "NASDAQ"),
        instrument("MSFT", "STK", "USD", "NASDAQ"),
        instrument("SPY", "STK", "USD", "ARCA"),
        instrument("AAPL", "STK", "USD", "ARCA"),
        instrument("AAPL", "STK", "EUR", "NASDAQ"),
        instrument("AAPL", "OPT", "USD", "NASDAQ"),
        instrument("TSLA", "STK", "USD", "NASDAQ"),
        instrument("AAPL", "STK", "USD", ""),
    ]
});

fn aapl() -> Instrument {
    UNIVERSE[0].clone()
}

fn msft() -> Instrument {
    UNIVERSE[1].clone()
}

fn spy() -> Instrument {
    UNIVERSE[2].clone()
}

fn step_down() -> StepDown {
    StepDown {
        reject_streak: 3,
        on_reject_streak: StepTo::Halted,
        on_disconnect: StepTo::Reducing,
        on_duplicate_order_id: StepTo::Halted,
        on_reconciliation_mismatch: StepTo::Halted,
        on_journal_error: StepTo::Halted,
        long_disconnect_secs: 60,
        after_long_disconnect: cockpit::config::AfterLongDisconnect::CancelAgentOrders,
    }
}

fn new_york_session() -> Session {
    Session {
        timezone: chrono_tz::America::New_York,
        days: WEEKDAYS.to_vec(),
        open: hm(9, 30),
        close: hm(16, 0),
        extended: Some((hm(4, 0), hm(20, 0))),
        holidays: HOLIDAYS.iter().map(|d| date(d)).collect(),
        always_open: false,
    }
}

/// The `[policy]` of `config.example.toml`, written out.
fn example_policy() -> Policy {
    Policy {
        order_types: vec![OrderType::Limit, OrderType::Market],
        tifs: vec![Tif::Day, Tif::Gtc],
        sides: vec![Side::Buy, Side::Sell],
        max_order_quantity: dec("500"),
        max_order_notional: dec("50000.00"),
        max_position: dec("2000"),
        max_gross_exposure: dec("250000.00"),
        price_collar_pct: dec("5"),
        quote_max_age_secs: 5,
        duplicate_window_secs: 30,
        max_orders_per_day: 200,
        max_notional_per_day: dec("500000.00"),
        max_orders_per_symbol_per_day: 40,
        max_orders_per_minute: 10,
        manual_approval_notional: dec("5000.00"),
        typed_approval_notional: dec("25000.00"),
        live_typed_quantity: dec("100"),
        approval_quote_tolerance_pct: dec("0.5"),
        agent_budget_window_secs: 3600,
        step_down: step_down(),
        session: new_york_session(),
        symbols: UNIVERSE[..3].to_vec(),
    }
}

fn quote(bid: Option<&str>, ask: Option<&str>, last: Option<&str>, received_at: DateTime<Utc>) -> Quote {
    Quote {
        bid: bid.map(px),
        ask: ask.map(px),
        last: last.map(px),
        bid_size: None,
        ask_size: None,
        volume: None,
        received_at,
    }
}

fn trading(level: Level) -> TradingState {
    let mut state = TradingState::active();
    match level {
        Level::Active => {}
        Level::Reducing => {
            state.step_down(Cause::Disconnected, Level::Reducing);
        }
        Level::Halted => {
            state.step_down(Cause::KillSwitch, Level::Halted);
        }
    }
    state
}

fn agent(name: &str, level: Permission, budget: &str) -> Requester {
    Requester::Agent {
        name: name.to_string(),
        level,
        unapproved_budget: dec(budget),
    }
}

/// Midpoint or last, ignoring freshness: where a generated price should sit.
fn nominal_reference(q: &Quote) -> Option<Rat> {
    match (q.bid, q.ask) {
        (Some(b), Some(a)) if b <= a => Some((rat(b.get()) + rat(a.get())) / int(2)),
        _ => q.last.map(|l| rat(l.get())),
    }
}

fn price_of(r: &Rat) -> Option<Price> {
    oracle::to_dec(r).and_then(|d| Price::new(d).ok())
}

fn cents_of(r: &Rat) -> Rat {
    (r * int(100)).floor() / int(100)
}

fn non_negative(r: &Rat) -> Option<Decimal> {
    (*r >= Rat::zero()).then(|| oracle::to_dec(r)).flatten()
}

// =========================================================================================================
// The random generator: seeded per case, boundary-weighted.
// =========================================================================================================

#[derive(Debug)]
struct Gen(ChaCha8Rng);

impl Gen {
    fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n)
    }

    fn percent(&mut self, p: u32) -> bool {
        self.0.random_range(0..100) < p
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        self.0.random_range(lo..=hi)
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }

    fn weighted<T: Clone>(&mut self, xs: &[(T, u32)]) -> T {
        let total: u32 = xs.iter().map(|(_, w)| w).sum();
        let mut roll = self.0.random_range(0..total);
        for (x, w) in xs {
            if roll < *w {
                return x.clone();
            }
            roll -= w;
        }
        unreachable!("weights cover the roll")
    }

    fn subset<T: Clone>(&mut self, xs: &[T]) -> Vec<T> {
        xs.iter().filter(|_| self.percent(50)).cloned().collect()
    }

    fn side(&mut self) -> Side {
        if self.percent(50) { Side::Buy } else { Side::Sell }
    }

    fn decimal(&mut self, xs: &[(&str, u32)]) -> Decimal {
        dec(self.weighted(xs))
    }

    /// One of -0.01, 0, +0.01.
    fn money_step(&mut self) -> Rat {
        int(self.range(-1, 1)) / int(100)
    }

    /// One of -1, 0, +1.
    fn share_step(&mut self) -> Rat {
        int(self.range(-1, 1))
    }

    fn cents(&mut self, lo: i64, hi: i64) -> Decimal {
        Decimal::new(self.range(lo, hi), 2)
    }
}

fn gen_session(g: &mut Gen) -> Session {
    let timezone: Tz = g.weighted(&[
        (chrono_tz::America::New_York, 8),
        (chrono_tz::Europe::London, 1),
        (chrono_tz::Asia::Tokyo, 1),
    ]);
    let odd_hours = g.percent(10);
    let (open, close) = if odd_hours {
        (hm(1, 59), hm(3, 1))
    } else {
        (hm(9, 30), hm(16, 0))
    };
    let extended = match g.below(10) {
        0..=5 => Some((hm(4, 0), hm(20, 0))),
        6 => Some((hm(1, 0), hm(4, 0))),
        _ => None,
    };
    Session {
        timezone,
        days: if g.percent(30) {
            ALL_DAYS.to_vec()
        } else {
            WEEKDAYS.to_vec()
        },
        open,
        close,
        extended,
        holidays: HOLIDAYS.iter().map(|d| date(d)).collect(),
        always_open: g.percent(15),
    }
}

fn gen_policy(g: &mut Gen, session: Session) -> Policy {
    let order_types = match g.below(10) {
        0..=5 => ALL_TYPES.to_vec(),
        6..=8 => vec![OrderType::Limit, OrderType::Market],
        _ => g.subset(&ALL_TYPES),
    };
    let tifs = match g.below(10) {
        0..=6 => vec![Tif::Day, Tif::Gtc, Tif::Ioc],
        7 | 8 => vec![Tif::Day, Tif::Gtc],
        _ => g.subset(&[Tif::Day, Tif::Gtc, Tif::Ioc]),
    };
    let sides = if g.percent(90) {
        vec![Side::Buy, Side::Sell]
    } else {
        vec![g.side()]
    };
    let symbols = match g.below(10) {
        0..=7 => UNIVERSE[..3].to_vec(),
        8 => {
            let mut s = UNIVERSE[..3].to_vec();
            s.push(UNIVERSE[6].clone());
            s
        }
        _ => g.subset(&UNIVERSE),
    };
    Policy {
        order_types,
        tifs,
        sides,
        max_order_quantity: g.decimal(&[("500", 5), ("100", 2), ("1", 1), ("0", 1), ("999999999999", 1)]),
        max_order_notional: g.decimal(&[
            ("50000.00", 5),
            ("20000.00", 2),
            ("0.01", 1),
            ("1000000000000", 1),
        ]),
        max_position: g.decimal(&[("2000", 5), ("100", 2), ("0", 1), ("1000000", 1)]),
        max_gross_exposure: g.decimal(&[("250000.00", 5), ("1000000000.00", 3), ("10000.00", 1)]),
        price_collar_pct: g.decimal(&[
            ("5", 5),
            ("2.5", 2),
            ("0", 1),
            ("10", 1),
            ("0.01", 1),
            ("100", 1),
            ("2.5555", 1),
            ("0.0001", 1),
        ]),
        quote_max_age_secs: g.weighted(&[(5, 5), (0, 1), (1, 1), (60, 1)]),
        duplicate_window_secs: g.weighted(&[(30, 5), (0, 1), (1, 1), (60, 1)]),
        max_orders_per_day: g.weighted(&[(200, 5), (1, 1), (0, 1), (5, 1), (u32::MAX, 1)]),
        max_notional_per_day: g.decimal(&[("500000.00", 5), ("1000.00", 1), ("100000000000", 1)]),
        max_orders_per_symbol_per_day: g.weighted(&[(40, 5), (1, 1), (0, 1), (3, 1)]),
        max_orders_per_minute: g.weighted(&[(10, 5), (1, 1), (0, 1), (3, 1)]),
        manual_approval_notional: g.decimal(&[("5000.00", 5), ("0", 1), ("100000", 1)]),
        typed_approval_notional: g.decimal(&[("25000.00", 5), ("0", 1), ("1000000", 1)]),
        live_typed_quantity: g.decimal(&[("100", 5), ("50", 2), ("0", 1)]),
        approval_quote_tolerance_pct: dec("0.5"),
        agent_budget_window_secs: g.weighted(&[(3600, 5), (0, 1), (60, 1)]),
        step_down: step_down(),
        session,
        symbols,
    }
}

/// A time of check, mostly around a session edge on an interesting date, in exchange local time.
fn gen_now(g: &mut Gen, s: &Session) -> DateTime<Utc> {
    let start = utc("2026-01-01 00:00:00");
    if g.percent(5) {
        return start + TimeDelta::seconds(g.range(0, 365 * 86_400));
    }
    let day = if g.percent(15) {
        start.date_naive() + TimeDelta::days(g.range(0, 364))
    } else {
        date(g.pick(&[
            "2026-03-02", // a Monday (EST)
            "2026-03-06", // Friday
            "2026-03-07", // Saturday
            "2026-03-08", // US DST starts (Sunday)
            "2026-03-09", // the Monday after (EDT)
            "2026-03-29", // UK DST starts
            "2026-03-30",
            "2026-10-25", // UK DST ends
            "2026-11-01", // US DST ends (Sunday)
            "2026-11-02",
            "2026-07-02",
            "2026-07-03", // holiday (Friday)
            "2026-12-25",
            "2026-01-01",
            "2026-12-31",
        ]))
    };
    let mut anchors = vec![s.open, s.close, hm(2, 0), hm(2, 30), hm(0, 0), hm(12, 0)];
    if let Some((open, close)) = s.extended {
        anchors.extend([open, open, close, close]);
    }
    let anchor = g.pick(&anchors);
    let offset = match g.below(9) {
        0 | 1 => TimeDelta::zero(),
        2 => TimeDelta::minutes(1),
        3 => TimeDelta::minutes(-1),
        4 => TimeDelta::seconds(1),
        5 => TimeDelta::seconds(-1),
        6 => TimeDelta::nanoseconds(-1),
        7 => TimeDelta::nanoseconds(1),
        _ => TimeDelta::seconds(g.range(-3 * 3600, 3 * 3600)),
    };
    let local = day.and_time(anchor) + offset;
    let resolved = s.timezone.from_local_datetime(&local);
    let chosen = if g.percent(50) {
        resolved.earliest()
    } else {
        resolved.latest()
    };
    chosen.map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

fn gen_base(g: &mut Gen) -> Decimal {
    match g.below(10) {
        0..=3 => dec("150.00"),
        4 => dec("100.25"),
        5 => dec("0.01"),
        6 => dec("12345.6789"),
        7 => dec("1.00000001"),
        8 if g.percent(20) => dec("99999999.99"),
        8 if g.percent(10) => dec("9999999999999999999.99999999"),
        8 if g.percent(10) => dec("1234567890123456789.12345679"),
        _ => g.cents(1, 5_000_000),
    }
}

fn gen_quote(g: &mut Gen, base: Decimal, now: DateTime<Utc>, max_age: u32) -> Quote {
    let spread = g.decimal(&[("0", 2), ("0.01", 4), ("0.005", 2), ("0.5", 1), ("0.00000001", 1)]);
    let mut bid = Price::new(base - spread).ok();
    let mut ask = Price::new(base + spread).ok();
    if g.percent(8) {
        std::mem::swap(&mut bid, &mut ask);
    }
    if g.percent(12) {
        bid = None;
    }
    if g.percent(12) {
        ask = None;
    }
    let last = match g.below(10) {
        0 | 1 => None,
        2 => Price::new(base + dec("0.37")).ok(),
        3 => Price::new(base * dec("1.2")).ok(),
        _ => Price::new(base).ok(),
    };
    let max = TimeDelta::seconds(i64::from(max_age));
    let age = match g.below(12) {
        0 => TimeDelta::zero(),
        1 | 2 => max,
        3 => max + TimeDelta::seconds(1),
        4 => max - TimeDelta::seconds(1),
        5 => max + TimeDelta::nanoseconds(1),
        6 => TimeDelta::seconds(-1),
        7 => TimeDelta::nanoseconds(-1),
        8 => TimeDelta::milliseconds(1),
        _ => TimeDelta::milliseconds(g.range(0, i64::from(max_age) * 1000)),
    };
    Quote {
        bid,
        ask,
        last,
        bid_size: None,
        ask_size: None,
        volume: None,
        received_at: now - age,
    }
}

/// A price near the collar edges of `reference` (either side, ± one cent or one 1e-8), or elsewhere.
fn gen_price(g: &mut Gen, reference: &Rat, pct: Decimal) -> Price {
    let pct = rat(pct);
    let x = match g.below(12) {
        0..=2 => reference * (int(100) + &pct) / int(100),
        3..=5 => reference * (int(100) - &pct) / int(100),
        6 => reference.clone(),
        7..=9 => cents_of(&(reference * int(g.range(90, 110)) / int(100))),
        10 => int(1) / int(100),
        _ => int(g.range(1, 10_000_000)) / int(100),
    };
    // The finest grid a price lives on: the edge rounded down or up to 8 decimal places.
    let x = match g.below(4) {
        0 => (&x * int(100_000_000)).floor() / int(100_000_000),
        1 => (&x * int(100_000_000)).ceil() / int(100_000_000),
        _ => x,
    };
    let tweak = match g.below(6) {
        0 => int(1) / int(100),
        1 => -int(1) / int(100),
        2 => int(1) / int(100_000_000),
        3 => -int(1) / int(100_000_000),
        _ => Rat::zero(),
    };
    price_of(&(&x + tweak))
        .or_else(|| price_of(&cents_of(&x)))
        .unwrap_or_else(|| px("1"))
}

fn gen_quantity(g: &mut Gen, max: Decimal) -> Quantity {
    let candidate = match g.below(12) {
        0 => Decimal::ONE,
        1 => max - Decimal::ONE,
        2 | 3 => max,
        4 => max + Decimal::ONE,
        5 => dec("999999999999"),
        6 if g.percent(30) => dec("9999999999999999999999999999"),
        7 | 8 => Decimal::from(g.range(1, 100)),
        _ => Decimal::from(g.range(1, 1000)),
    };
    Quantity::new(candidate).unwrap_or_else(|_| qty("1"))
}

fn gen_case(seed: u64) -> Case {
    let g = &mut Gen::new(seed);
    let session = gen_session(g);
    let policy = gen_policy(g, session);
    let now = gen_now(g, &policy.session);
    let mode = g.weighted(&[(Mode::Paper, 6), (Mode::Live, 3), (Mode::DryRun, 1)]);
    let home = acct(if mode == Mode::Live { LIVE } else { MAIN });
    let accounts = match g.below(12) {
        0 => vec![],
        1 | 2 => vec![home.clone(), acct(OTHER)],
        _ => vec![home.clone()],
    };
    let account = if g.percent(85) {
        home.clone()
    } else {
        acct(g.pick(&[MAIN, OTHER, LIVE]))
    };
    let ti = if g.percent(75) { g.below(3) } else { 3 + g.below(5) };
    let bases: Vec<Decimal> = (0..UNIVERSE.len()).map(|_| gen_base(g)).collect();
    let mut quotes = BTreeMap::new();
    for (i, ins) in UNIVERSE.iter().enumerate() {
        if g.percent(if i == ti { 88 } else { 80 }) {
            quotes.insert(
                ins.clone(),
                gen_quote(g, bases[i], now, policy.quote_max_age_secs),
            );
        }
    }
    let nominal = |i: usize| {
        quotes
            .get(&UNIVERSE[i])
            .and_then(nominal_reference)
            .unwrap_or_else(|| rat(bases[i]))
    };
    let pct = policy.price_collar_pct;

    // The ticket.
    let side = g.side();
    let order_type = g.weighted(&[
        (OrderType::Limit, 40),
        (OrderType::Market, 30),
        (OrderType::Stop, 15),
        (OrderType::StopLimit, 15),
    ]);
    let tif = g.weighted(&[(Tif::Day, 50), (Tif::Gtc, 30), (Tif::Ioc, 20)]);
    let outside_rth = g.percent(30);
    let quantity = gen_quantity(g, policy.max_order_quantity);
    let (want_limit, want_stop) = if g.percent(85) {
        (order_type.needs_limit_price(), order_type.needs_stop_price())
    } else {
        (g.percent(50), g.percent(50))
    };
    let reference = nominal(ti);
    let limit_price = want_limit.then(|| gen_price(g, &reference, pct));
    let stop_price = want_stop.then(|| gen_price(g, &reference, pct));
    let ticket = OrderTicket {
        account: account.clone(),
        instrument: UNIVERSE[ti].clone(),
        side,
        quantity,
        order_type,
        limit_price,
        stop_price,
        tif,
        outside_rth,
    };
    let q = quantity.get();

    // Working orders, on both sides, in this and other accounts and instruments.
    let mut working = Vec::new();
    for _ in 0..g.weighted(&[(0, 35), (1, 25), (2, 20), (3, 12), (5, 8)]) {
        let wa = match g.below(10) {
            0..=5 => account.clone(),
            6 | 7 => acct(OTHER),
            8 => acct(MAIN),
            _ => acct(LIVE),
        };
        let wi = if g.percent(55) {
            ti
        } else {
            g.below(UNIVERSE.len())
        };
        let wtype = g.pick(&ALL_TYPES);
        let remaining = match g.below(6) {
            0 => qty("1"),
            1 => qty("100"),
            2 => quantity,
            3 => qty("999999"),
            _ => Quantity::new(Decimal::from(g.range(1, 500))).unwrap(),
        };
        let r = nominal(wi);
        let limit_price = wtype.needs_limit_price().then(|| gen_price(g, &r, pct));
        let stop_price = wtype.needs_stop_price().then(|| gen_price(g, &r, pct));
        working.push(WorkingOrder {
            account: wa,
            instrument: UNIVERSE[wi].clone(),
            side: g.side(),
            remaining,
            order_type: wtype,
            limit_price,
            stop_price,
        });
    }
    let b: Decimal = working
        .iter()
        .filter(|w| w.account == account && w.instrument == ticket.instrument && w.side == Side::Buy)
        .map(|w| w.remaining.get())
        .sum();
    let s: Decimal = working
        .iter()
        .filter(|w| w.account == account && w.instrument == ticket.instrument && w.side == Side::Sell)
        .map(|w| w.remaining.get())
        .sum();

    // Positions: near zero, near max_position, exactly reducing or one share past it.
    let mut positions = BTreeMap::new();
    if g.percent(70) {
        let max = policy.max_position;
        let p = match g.below(16) {
            0 => Decimal::ZERO,
            1 => Decimal::ONE,
            2 => Decimal::NEGATIVE_ONE,
            3 => dec("100"),
            4 => dec("-100"),
            5 => -(q + b),
            6 => s + q,
            7 => -(q + b) - Decimal::ONE,
            8 => s + q - Decimal::ONE,
            9 => max,
            10 => -max,
            11 => dec("0.5"),
            12 => dec("-0.5"),
            13 => max - q - b,
            14 => s + q - max,
            _ => Decimal::from(g.range(-3000, 3000)),
        };
        positions.insert((account.clone(), ticket.instrument.clone()), p);
    }
    for _ in 0..g.below(4) {
        let pa = if g.percent(70) {
            account.clone()
        } else {
            acct(OTHER)
        };
        let pi = UNIVERSE[g.below(UNIVERSE.len())].clone();
        let p = if g.percent(15) {
            Decimal::ZERO
        } else {
            Decimal::from(g.range(-1000, 1000))
        };
        positions.insert((pa, pi), p);
    }

    // Recent submissions: a duplicate around the window's edge, maybe differing in one field; fillers
    // around the minute's edge, in this and other accounts.
    let mut recent = Vec::new();
    if g.percent(35) {
        let window = TimeDelta::seconds(i64::from(policy.duplicate_window_secs));
        let ago = match g.below(8) {
            0 => window - TimeDelta::seconds(1),
            1 | 2 => window,
            3 => window + TimeDelta::seconds(1),
            4 => window - TimeDelta::nanoseconds(1),
            5 => TimeDelta::seconds(-1),
            6 => TimeDelta::zero(),
            _ => TimeDelta::milliseconds(g.range(0, i64::from(policy.duplicate_window_secs) * 1000)),
        };
        let mut dup = Submitted {
            account: account.clone(),
            instrument: ticket.instrument.clone(),
            side,
            quantity,
            order_type,
            limit_price,
            stop_price,
            at: now - ago,
        };
        if g.percent(40) {
            match g.below(8) {
                0 => dup.account = acct(OTHER),
                1 => dup.instrument = UNIVERSE[g.below(UNIVERSE.len())].clone(),
                2 => dup.side = dup.side.opposite(),
                3 => dup.quantity = Quantity::new(q + Decimal::ONE).unwrap_or(dup.quantity),
                4 => dup.order_type = g.pick(&ALL_TYPES),
                5 => {
                    dup.limit_price = match dup.limit_price {
                        None => Some(px("150")),
                        Some(p) if g.percent(50) => Price::new(p.get() + dec("0.01")).ok(),
                        Some(_) => None,
                    }
                }
                6 => {
                    dup.stop_price = if dup.stop_price.is_some() {
                        None
                    } else {
                        Some(px("140"))
                    }
                }
                _ => {}
            }
        }
        recent.push(dup);
    }
    if g.percent(50) {
        let m = i64::from(policy.max_orders_per_minute);
        let random = g.range(0, 3);
        let k = g.pick(&[m - 1, m, m + 1, random]).clamp(0, 40);
        for _ in 0..k {
            let ago = match g.below(10) {
                0 => TimeDelta::nanoseconds(59_999_999_999),
                1 => TimeDelta::seconds(60),
                2 => TimeDelta::seconds(61),
                3 => TimeDelta::seconds(-1),
                _ => TimeDelta::milliseconds(g.range(0, 59_000)),
            };
            recent.push(Submitted {
                account: if g.percent(70) {
                    account.clone()
                } else {
                    acct(OTHER)
                },
                instrument: UNIVERSE[g.below(UNIVERSE.len())].clone(),
                side: g.side(),
                quantity: Quantity::new(Decimal::from(g.range(1, 1000))).unwrap(),
                order_type: OrderType::Limit,
                limit_price: Some(Price::new(g.cents(1, 100_000)).unwrap()),
                stop_price: None,
                at: now - ago,
            });
        }
    }

    // Who asks.
    let name = if g.percent(80) { "rebalancer" } else { "momentum" };
    let budget = g.weighted(&[("0", 1), ("10000.00", 3), ("1234.56", 1), ("1000000000", 1)]);
    let requester = match g.below(100) {
        0..=29 => Requester::Trader,
        30..=37 => agent(name, Permission::Read, budget),
        38..=59 => agent(name, Permission::Prepare, budget),
        _ => agent(name, Permission::Execute, budget),
    };
    let mut unapproved = Vec::new();
    if matches!(requester, Requester::Agent { .. }) {
        let window = TimeDelta::seconds(i64::from(policy.agent_budget_window_secs));
        for _ in 0..g.below(4) {
            let ago = match g.below(7) {
                0 => window - TimeDelta::seconds(1),
                1 => window,
                2 => window + TimeDelta::seconds(1),
                3 => TimeDelta::seconds(-1),
                4 => TimeDelta::zero(),
                _ => TimeDelta::seconds(g.range(0, i64::from(policy.agent_budget_window_secs))),
            };
            unapproved.push(UnapprovedSpend {
                agent: if g.percent(70) { name } else { "momentum" }.to_string(),
                instrument: if g.percent(70) {
                    ticket.instrument.clone()
                } else {
                    UNIVERSE[g.below(UNIVERSE.len())].clone()
                },
                notional: g.cents(0, 2_000_000),
                at: now - ago,
            });
        }
    }

    // Today's counters.
    let per_day = policy.max_orders_per_day;
    let per_symbol = policy.max_orders_per_symbol_per_day;
    let mut counters = DailyCounters {
        orders: match g.below(10) {
            0 | 1 => 0,
            2 => per_day.saturating_sub(2),
            3 => per_day.saturating_sub(1),
            4 => per_day,
            5 if g.percent(10) => u32::MAX,
            _ => g.range(0, 250) as u32,
        },
        notional: if g.percent(30) {
            Decimal::ZERO
        } else {
            g.cents(0, 60_000_000)
        },
        orders_by_symbol: BTreeMap::new(),
    };
    if g.percent(60) {
        let n = match g.below(4) {
            0 => per_symbol.saturating_sub(1),
            1 => per_symbol,
            _ => g.range(0, 50) as u32,
        };
        counters
            .orders_by_symbol
            .insert(ticket.instrument.symbol.clone(), n);
    }
    if g.percent(40) {
        let other = UNIVERSE[g.below(3)].symbol.clone();
        counters.orders_by_symbol.insert(other, g.range(0, 100) as u32);
    }

    let level = g.weighted(&[(Level::Active, 70), (Level::Reducing, 15), (Level::Halted, 15)]);
    let mut trading = trading(level);
    if g.percent(5) {
        trading.step_down(Cause::Disconnected, Level::Reducing);
    }
    let mut case = Case {
        ticket,
        policy,
        mode,
        accounts,
        requester,
        positions,
        working,
        recent,
        unapproved,
        quotes,
        counters,
        trading,
        now,
    };
    if g.percent(65) {
        calm(g, &mut case);
    }
    pin(g, &mut case);
    case
}

/// Resets most dimensions of a case to clean values, keeping each as generated with a small probability,
/// so that clearable tickets (and single violations) are common.
fn calm(g: &mut Gen, c: &mut Case) {
    let big = dec("100000000000000000000");
    let keep = |g: &mut Gen| g.percent(8);
    if !keep(g) {
        c.policy.session.always_open = true;
    }
    if !keep(g) {
        if !c.accounts.contains(&c.ticket.account) {
            c.accounts.push(c.ticket.account.clone());
        }
        if !c.policy.symbols.contains(&c.ticket.instrument) {
            c.policy.symbols.push(c.ticket.instrument.clone());
        }
        if !c.policy.order_types.contains(&c.ticket.order_type) {
            c.policy.order_types.push(c.ticket.order_type);
        }
        if !c.policy.tifs.contains(&c.ticket.tif) {
            c.policy.tifs.push(c.ticket.tif);
        }
        if !c.policy.sides.contains(&c.ticket.side) {
            c.policy.sides.push(c.ticket.side);
        }
    }
    if !keep(g) {
        let t = &mut c.ticket;
        let fallback = c
            .quotes
            .get(&t.instrument)
            .and_then(nominal_reference)
            .and_then(|r| price_of(&r))
            .unwrap_or_else(|| px("150"));
        t.limit_price = if t.order_type.needs_limit_price() {
            Some(t.limit_price.unwrap_or(fallback))
        } else {
            None
        };
        t.stop_price = if t.order_type.needs_stop_price() {
            Some(t.stop_price.unwrap_or(fallback))
        } else {
            None
        };
    }
    if !keep(g) {
        let fresh =
            c.now - TimeDelta::milliseconds(g.range(0, i64::from(c.policy.quote_max_age_secs) * 1000));
        for ins in UNIVERSE.iter() {
            let q = c.quotes.entry(ins.clone()).or_insert_with(|| Quote::empty(fresh));
            q.received_at = fresh;
            if nominal_reference(q).is_none() {
                q.last = q.bid.or(q.ask).or_else(|| Some(px("100")));
            }
        }
    }
    if !keep(g) {
        let t = c.ticket.clone();
        c.recent.retain(|r| {
            !(r.account == t.account
                && r.instrument == t.instrument
                && r.side == t.side
                && r.quantity == t.quantity
                && r.order_type == t.order_type
                && r.limit_price == t.limit_price
                && r.stop_price == t.stop_price)
        });
    }
    if !keep(g) {
        c.policy.max_orders_per_minute = 1000;
    }
    if !keep(g) {
        c.counters = DailyCounters::default();
        c.policy.max_orders_per_day = 1_000_000;
        c.policy.max_orders_per_symbol_per_day = 1_000_000;
    }
    if !keep(g) {
        c.trading = TradingState::active();
    }
    if !keep(g)
        && let Requester::Agent { level, .. } = &mut c.requester
        && *level == Permission::Read
    {
        *level = g.pick(&[Permission::Prepare, Permission::Execute]);
    }
    let p = &mut c.policy;
    if !keep(g) {
        p.max_order_quantity = big;
    }
    if !keep(g) {
        p.max_order_notional = big;
    }
    if !keep(g) {
        p.max_position = big;
    }
    if !keep(g) {
        p.max_gross_exposure = big;
    }
    if !keep(g) {
        p.max_notional_per_day = big;
    }
    if !keep(g) {
        p.price_collar_pct = dec("100");
    }
    if g.percent(50) {
        p.manual_approval_notional = big;
        p.typed_approval_notional = big;
        p.live_typed_quantity = big;
        if let Requester::Agent {
            unapproved_budget, ..
        } = &mut c.requester
        {
            *unapproved_budget = big;
        }
    }
}

/// Moves some limits onto the exact value the oracle computes for this case, or one smallest unit off.
fn pin(g: &mut Gen, case: &mut Case) {
    let tm = {
        let ctx = case.ctx();
        oracle::terms(&case.ticket, &ctx)
    };
    let p = &mut case.policy;
    if g.percent(20)
        && let Some(d) = non_negative(&(&tm.q + g.share_step()))
    {
        p.max_order_quantity = d;
    }
    if g.percent(20) {
        let after = match case.ticket.side {
            Side::Buy => &tm.pos + &tm.b + &tm.q,
            Side::Sell => -(&tm.pos - &tm.s - &tm.q),
        };
        if let Some(d) = non_negative(&(after + g.share_step())) {
            p.max_position = d;
        }
    }
    if g.percent(20)
        && let Some(d) = non_negative(&(&tm.q + g.share_step()))
    {
        p.live_typed_quantity = d;
    }
    if let Some(n) = &tm.notional {
        if g.percent(20)
            && let Some(d) = non_negative(&(n + g.money_step()))
        {
            p.max_order_notional = d;
        }
        if g.percent(20)
            && let Some(d) = non_negative(&(rat(case.counters.notional) + n + g.money_step()))
        {
            p.max_notional_per_day = d;
        }
        if g.percent(15)
            && let Some(d) = non_negative(&(n + g.money_step()))
        {
            p.manual_approval_notional = d;
        }
        if g.percent(15)
            && let Some(d) = non_negative(&(n + g.money_step()))
        {
            p.typed_approval_notional = d;
        }
        if g.percent(30)
            && let Requester::Agent {
                level: Permission::Execute,
                unapproved_budget,
                ..
            } = &mut case.requester
            && let Some(d) = non_negative(&(&tm.spent + n + g.money_step()))
        {
            *unapproved_budget = d;
        }
    }
    if let Some(gross) = &tm.gross
        && g.percent(20)
        && let Some(d) = non_negative(&(gross + g.money_step()))
    {
        p.max_gross_exposure = d;
    }
    if g.percent(15) {
        case.counters.orders = p.max_orders_per_day.saturating_sub(g.pick(&[0, 1, 2]));
    }
    if g.percent(15) {
        let n = p.max_orders_per_symbol_per_day.saturating_sub(g.pick(&[0, 1, 2]));
        case.counters
            .orders_by_symbol
            .insert(case.ticket.instrument.symbol.clone(), n);
    }
    if g.percent(15) {
        p.max_orders_per_minute = u32::try_from(tm.minute)
            .unwrap_or(u32::MAX)
            .saturating_add(g.pick(&[0, 1]));
    }
}

fn case_count() -> u64 {
    if let Ok(text) = std::env::var("COCKPIT_ORACLE_CASES") {
        return text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("COCKPIT_ORACLE_CASES must be a whole number, got {text:?}"));
    }
    if std::env::var_os("COCKPIT_HEAVY").is_some() {
        1_000_000
    } else {
        10_000
    }
}

fn seed(index: u64) -> u64 {
    0x0C0C_4B17_0A4C_1E00 ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[derive(Debug, Default)]
struct Tally {
    /// First case index per distinct disagreement.
    failures: BTreeMap<String, u64>,
    /// How often the oracle reported each code.
    codes: BTreeMap<&'static str, u64>,
    /// How often each tier came out.
    tiers: BTreeMap<Option<Tier>, u64>,
}

const MAX_DISTINCT_FAILURES: usize = 12;

#[test]
fn check_agrees_with_the_oracle() {
    let n = case_count();
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, 8) as u64;
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|k| {
                scope.spawn(move || {
                    let mut tally = Tally::default();
                    let mut i = k;
                    while i < n {
                        let case = gen_case(seed(i));
                        let mine = oracle::oracle(&case.ticket, &case.ctx());
                        for code in &mine.0 {
                            *tally.codes.entry(code).or_default() += 1;
                        }
                        *tally.tiers.entry(mine.1).or_default() += 1;
                        if let Some(signature) = disagreement_with(&case, &mine)
                            && tally.failures.len() < MAX_DISTINCT_FAILURES
                        {
                            tally.failures.entry(signature).or_insert(i);
                        }
                        i += threads;
                    }
                    tally
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut total = Tally::default();
    for t in tallies {
        for (sig, i) in t.failures {
            let first = total.failures.entry(sig).or_insert(i);
            *first = (*first).min(i);
        }
        for (code, c) in t.codes {
            *total.codes.entry(code).or_default() += c;
        }
        for (tier, c) in t.tiers {
            *total.tiers.entry(tier).or_default() += c;
        }
    }
    if !total.failures.is_empty() {
        let mut report = format!(
            "check and the oracle disagree ({} distinct kinds in {n} cases; each shrunk):\n",
            total.failures.len()
        );
        for (signature, index) in &total.failures {
            let case = shrink(gen_case(seed(*index)), signature);
            let _ = writeln!(report, "\n== case #{index}: {signature}\n{}", describe(&case));
        }
        panic!("{report}");
    }
    if n >= 10_000 {
        for rule in Rule::ALL {
            assert!(
                total.codes.get(rule.code()).copied().unwrap_or(0) > 0,
                "the generator never produced {}: {:?}",
                rule.code(),
                total.codes
            );
        }
        for tier in [Tier::None, Tier::Confirm, Tier::Typed] {
            assert!(
                total.tiers.get(&Some(tier)).copied().unwrap_or(0) > 0,
                "the generator never produced tier {tier:?}: {:?}",
                total.tiers
            );
        }
    }
}

// =========================================================================================================
// The boundary grid: every control at limit - 1 unit, limit, limit + 1 unit, with the answer written out.
// =========================================================================================================

/// Monday 2026-03-02 10:00 EST.
fn base_now() -> DateTime<Utc> {
    utc("2026-03-02 15:00:00")
}

/// A clean case: the trader buys 100 AAPL LMT 150.00 (mid 150.00) at 10:00 on a Monday; clearable, Confirm.
fn base() -> Case {
    let now = base_now();
    let fresh = now - TimeDelta::seconds(1);
    let mut quotes = BTreeMap::new();
    for (i, ins) in UNIVERSE.iter().enumerate() {
        let q = match i {
            1 => quote(Some("299.99"), Some("300.01"), Some("300.00"), fresh),
            2 => quote(Some("499.99"), Some("500.01"), Some("500.00"), fresh),
            _ => quote(Some("149.99"), Some("150.01"), Some("150.00"), fresh),
        };
        quotes.insert(ins.clone(), q);
    }
    Case {
        ticket: OrderTicket {
            account: acct(MAIN),
            instrument: aapl(),
            side: Side::Buy,
            quantity: qty("100"),
            order_type: OrderType::Limit,
            limit_price: Some(px("150.00")),
            stop_price: None,
            tif: Tif::Day,
            outside_rth: false,
        },
        policy: example_policy(),
        mode: Mode::Paper,
        accounts: vec![acct(MAIN)],
        requester: Requester::Trader,
        positions: BTreeMap::new(),
        working: Vec::new(),
        recent: Vec::new(),
        unapproved: Vec::new(),
        quotes,
        counters: DailyCounters::default(),
        trading: TradingState::active(),
        now,
    }
}

fn with(f: impl FnOnce(&mut Case)) -> Case {
    let mut c = base();
    f(&mut c);
    c
}

/// Sets the AAPL quote to `bid`/`ask` (fresh), for a different reference.
fn aapl_quote(c: &mut Case, bid: &str, ask: &str) {
    let at = c.now - TimeDelta::seconds(1);
    c.quotes.insert(aapl(), quote(Some(bid), Some(ask), None, at));
}

fn working(account: &str, ins: Instrument, side: Side, remaining: &str, limit: Option<&str>) -> WorkingOrder {
    WorkingOrder {
        account: acct(account),
        instrument: ins,
        side,
        remaining: qty(remaining),
        order_type: if limit.is_some() {
            OrderType::Limit
        } else {
            OrderType::Market
        },
        limit_price: limit.map(px),
        stop_price: None,
    }
}

fn submitted_like(t: &OrderTicket, at: DateTime<Utc>) -> Submitted {
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

#[derive(Debug, Default)]
struct Grid {
    points: usize,
    failures: Vec<String>,
}

impl Grid {
    /// Expects exactly `codes` (and, when none, `tier`), from the oracle and from `check`.
    fn point(&mut self, label: &str, case: &Case, codes: &[&'static str], tier: Option<Tier>) {
        self.points += 1;
        let expected: Answer = (
            codes.iter().copied().collect(),
            if codes.is_empty() { tier } else { None },
        );
        let mine = oracle::oracle(&case.ticket, &case.ctx());
        let mut wrong = Vec::new();
        if mine != expected {
            wrong.push(format!("ORACLE says {mine:?}"));
        }
        match implementation(case) {
            Ok((theirs, rules)) => {
                if theirs != expected {
                    wrong.push(format!("CHECK says {theirs:?}"));
                }
                if !rules.windows(2).all(|w| w[0] < w[1]) {
                    wrong.push(format!("CHECK lists rules out of order or twice: {rules:?}"));
                }
            }
            Err(panic) => wrong.push(format!("CHECK panicked: {panic}")),
        }
        if !wrong.is_empty() {
            self.failures.push(format!(
                "[{label}] expected {expected:?}; {}\n{}",
                wrong.join("; "),
                describe(case)
            ));
        }
    }

    /// Three points: one unit below the limit, at it, one unit above it (refused with `codes`).
    fn triple(
        &mut self,
        label: &str,
        [below, at, above]: [Case; 3],
        tiers: [Tier; 2],
        codes: &[&'static str],
    ) {
        self.point(&format!("{label}: limit - 1 unit"), &below, &[], Some(tiers[0]));
        self.point(&format!("{label}: at the limit"), &at, &[], Some(tiers[1]));
        self.point(&format!("{label}: limit + 1 unit"), &above, codes, None);
    }
}

fn three(f: impl Fn(&mut Case, usize)) -> [Case; 3] {
    [0, 1, 2].map(|i| with(|c| f(c, i)))
}

#[test]
fn boundary_grid() {
    use Tier::{Confirm, Typed};
    let mut g = Grid::default();
    let secs = TimeDelta::seconds;

    g.point("the base case", &base(), &[], Some(Confirm));

    // QUANTITY: 499 / 500 / 501 at a reference of 1.00.
    g.triple(
        "QUANTITY",
        three(|c, i| {
            aapl_quote(c, "0.99", "1.01");
            c.ticket.limit_price = Some(px("1.00"));
            c.ticket.quantity = qty(["499", "500", "501"][i]);
        }),
        [Confirm, Confirm],
        &["QUANTITY"],
    );

    // NOTIONAL: 100 x 150.00 = 15000.00 against 15000.01 / 15000.00 / 14999.99.
    g.triple(
        "NOTIONAL (BUY LMT at its limit)",
        three(|c, i| c.policy.max_order_notional = dec(["15000.01", "15000.00", "14999.99"][i])),
        [Confirm, Confirm],
        &["NOTIONAL"],
    );
    // A BUY MKT counts at the edge: 150 * 1.05 = 157.50 -> 15750.00.
    g.triple(
        "NOTIONAL (BUY MKT at the edge)",
        three(|c, i| {
            c.ticket.order_type = OrderType::Market;
            c.ticket.limit_price = None;
            c.policy.max_order_notional = dec(["15750.01", "15750.00", "15749.99"][i]);
        }),
        [Confirm, Confirm],
        &["NOTIONAL"],
    );
    // A SELL LMT at 150 counts at max(limit, edge) = 157.50.
    g.triple(
        "NOTIONAL (SELL LMT at max(limit, edge))",
        three(|c, i| {
            c.ticket.side = Side::Sell;
            c.policy.max_order_notional = dec(["15750.01", "15750.00", "15749.99"][i]);
        }),
        [Confirm, Confirm],
        &["NOTIONAL"],
    );
    // With a 10% collar a SELL LMT at 158.00 is inside it and counts at the edge 165.00 -> 16500.00.
    g.triple(
        "NOTIONAL (SELL LMT below a 10% edge counts at the edge)",
        three(|c, i| {
            c.ticket.side = Side::Sell;
            c.ticket.limit_price = Some(px("158.00"));
            c.policy.price_collar_pct = dec("10");
            c.policy.max_order_notional = dec(["16500.01", "16500.00", "16499.99"][i]);
        }),
        [Confirm, Confirm],
        &["NOTIONAL"],
    );
    // A BUY STP above the edge counts at its stop: 160.00 -> 16000.00.
    g.triple(
        "NOTIONAL (BUY STP counts at max(stop, edge))",
        three(|c, i| {
            c.policy.order_types = ALL_TYPES.to_vec();
            c.ticket.order_type = OrderType::Stop;
            c.ticket.limit_price = None;
            c.ticket.stop_price = Some(px("160.00"));
            c.policy.max_order_notional = dec(["16000.01", "16000.00", "15999.99"][i]);
        }),
        [Confirm, Confirm],
        &["NOTIONAL"],
    );
    // A BUY STP LMT counts at its limit even when the stop is higher: 151.00 -> 15100.00.
    g.triple(
        "NOTIONAL (BUY STP LMT counts at its limit)",
        three(|c, i| {
            c.policy.order_types = ALL_TYPES.to_vec();
            c.ticket.order_type = OrderType::StopLimit;
            c.ticket.limit_price = Some(px("151.00"));
            c.ticket.stop_price = Some(px("155.00"));
            c.policy.max_order_notional = dec(["15100.01", "15100.00", "15099.99"][i]);
        }),
        [Confirm, Confirm],
        &["NOTIONAL"],
    );

    // POSITION (BUY): pos 1800 + B 100 + q 99/100/101 against 2000. Working orders on the other side, in
    // another account and in another instrument do not count.
    g.triple(
        "POSITION (BUY)",
        three(|c, i| {
            c.policy.max_gross_exposure = dec("1000000000");
            c.positions.insert((acct(MAIN), aapl()), dec("1800"));
            c.positions.insert((acct(OTHER), aapl()), dec("5000"));
            c.working
                .push(working(MAIN, aapl(), Side::Buy, "100", Some("150")));
            c.working
                .push(working(MAIN, aapl(), Side::Sell, "500", Some("150")));
            c.working
                .push(working(OTHER, aapl(), Side::Buy, "1000", Some("150")));
            c.working
                .push(working(MAIN, msft(), Side::Buy, "1000", Some("300")));
            c.ticket.quantity = qty(["99", "100", "101"][i]);
        }),
        [Confirm, Confirm],
        &["POSITION"],
    );
    // POSITION (SELL): pos -1800 - S 100 - q 99/100/101 against -2000.
    g.triple(
        "POSITION (SELL)",
        three(|c, i| {
            c.policy.max_gross_exposure = dec("1000000000");
            c.ticket.side = Side::Sell;
            c.positions.insert((acct(MAIN), aapl()), dec("-1800"));
            c.positions.insert((acct(OTHER), aapl()), dec("-5000"));
            c.working
                .push(working(MAIN, aapl(), Side::Sell, "100", Some("150")));
            c.working
                .push(working(MAIN, aapl(), Side::Buy, "500", Some("150")));
            c.working
                .push(working(OTHER, aapl(), Side::Sell, "1000", Some("150")));
            c.ticket.quantity = qty(["99", "100", "101"][i]);
        }),
        [Confirm, Confirm],
        &["POSITION"],
    );

    // GROSS: MSFT 10 x 300 + SPY |-4| x 500 + BUY MSFT 10 LMT 299 + SELL SPY 2 MKT at the edge 525
    // + the ticket 15000 = 3000 + 2000 + 2990 + 1050 + 15000 = 24040.00.
    let gross_setup = |c: &mut Case| {
        c.positions.insert((acct(MAIN), aapl()), Decimal::ZERO);
        c.positions.insert((acct(MAIN), msft()), dec("10"));
        c.positions.insert((acct(MAIN), spy()), dec("-4"));
        c.positions.insert((acct(OTHER), spy()), dec("1000"));
        c.working
            .push(working(MAIN, msft(), Side::Buy, "10", Some("299")));
        c.working.push(working(MAIN, spy(), Side::Sell, "2", None));
        c.working
            .push(working(OTHER, aapl(), Side::Buy, "1000", Some("150")));
    };
    g.triple(
        "GROSS",
        three(|c, i| {
            gross_setup(c);
            c.policy.max_gross_exposure = dec(["24040.01", "24040.00", "24039.99"][i]);
        }),
        [Confirm, Confirm],
        &["GROSS"],
    );
    g.point(
        "GROSS needs every price: a held instrument without a quote",
        &with(|c| {
            gross_setup(c);
            c.quotes.remove(&msft());
        }),
        &["NO_QUOTE"],
        None,
    );
    g.point(
        "GROSS is not evaluated for a reducing ticket (pos -200, BUY 100, limit 0, unquoted holding)",
        &with(|c| {
            c.positions.insert((acct(MAIN), aapl()), dec("-200"));
            c.positions.insert((acct(MAIN), UNIVERSE[6].clone()), dec("10"));
            c.quotes.remove(&UNIVERSE[6]);
            c.policy.max_gross_exposure = Decimal::ZERO;
        }),
        &[],
        Some(Confirm),
    );

    // COLLAR: reference 150, 5%: 142.50 ..= 157.50.
    g.triple(
        "COLLAR above the reference",
        three(|c, i| c.ticket.limit_price = Some(px(["157.49", "157.50", "157.51"][i]))),
        [Confirm, Confirm],
        &["COLLAR"],
    );
    g.triple(
        "COLLAR below the reference",
        three(|c, i| c.ticket.limit_price = Some(px(["142.51", "142.50", "142.49"][i]))),
        [Confirm, Confirm],
        &["COLLAR"],
    );
    g.triple(
        "COLLAR above, SELL",
        three(|c, i| {
            c.ticket.side = Side::Sell;
            c.ticket.limit_price = Some(px(["157.49", "157.50", "157.51"][i]));
        }),
        [Confirm, Confirm],
        &["COLLAR"],
    );
    // Exact arithmetic: mid (100.00 + 100.01) / 2 = 100.005; 2.5% -> edge 102.505125, low 97.504875.
    g.triple(
        "COLLAR at an odd mid, above",
        three(|c, i| {
            aapl_quote(c, "100.00", "100.01");
            c.policy.price_collar_pct = dec("2.5");
            c.ticket.limit_price = Some(px(["102.50512499", "102.505125", "102.50512501"][i]));
        }),
        [Confirm, Confirm],
        &["COLLAR"],
    );
    g.triple(
        "COLLAR at an odd mid, below",
        three(|c, i| {
            aapl_quote(c, "100.00", "100.01");
            c.policy.price_collar_pct = dec("2.5");
            c.ticket.limit_price = Some(px(["97.50487501", "97.504875", "97.50487499"][i]));
        }),
        [Confirm, Confirm],
        &["COLLAR"],
    );
    g.point(
        "COLLAR: a crossed market uses the last price",
        &with(|c| {
            let at = c.now - secs(1);
            c.quotes
                .insert(aapl(), quote(Some("200.00"), Some("100.00"), Some("150.00"), at));
        }),
        &[],
        Some(Confirm),
    );
    g.point(
        "COLLAR: a crossed market and no last price: no reference",
        &with(|c| {
            let at = c.now - secs(1);
            c.quotes
                .insert(aapl(), quote(Some("150.01"), Some("149.99"), None, at));
        }),
        &["NO_QUOTE"],
        None,
    );
    g.point(
        "COLLAR: only a bid, no last: no reference",
        &with(|c| {
            let at = c.now - secs(1);
            c.quotes.insert(aapl(), quote(Some("150.00"), None, None, at));
        }),
        &["NO_QUOTE"],
        None,
    );
    g.point(
        "COLLAR: bid == ask is not crossed",
        &with(|c| {
            let at = c.now - secs(1);
            c.quotes
                .insert(aapl(), quote(Some("150.00"), Some("150.00"), Some("1.00"), at));
        }),
        &[],
        Some(Confirm),
    );

    // Quote freshness: 4 s / 5 s / 6 s old against 5 s.
    g.triple(
        "quote_max_age_secs",
        three(|c, i| {
            let at = c.now - secs([4, 5, 6][i]);
            c.quotes
                .insert(aapl(), quote(Some("149.99"), Some("150.01"), None, at));
        }),
        [Confirm, Confirm],
        &["NO_QUOTE"],
    );
    for (label, age) in [
        (
            "a quote one nanosecond past the limit is stale",
            secs(5) + TimeDelta::nanoseconds(1),
        ),
        ("a quote stamped one second in the future is stale", secs(-1)),
        (
            "a quote stamped one nanosecond in the future is stale",
            TimeDelta::nanoseconds(-1),
        ),
    ] {
        g.point(
            label,
            &with(|c| {
                let at = c.now - age;
                c.quotes
                    .insert(aapl(), quote(Some("149.99"), Some("150.01"), None, at));
            }),
            &["NO_QUOTE"],
            None,
        );
    }
    g.point(
        "a quote received exactly now is fresh",
        &with(|c| {
            let at = c.now;
            c.quotes
                .insert(aapl(), quote(Some("149.99"), Some("150.01"), None, at));
        }),
        &[],
        Some(Confirm),
    );
    g.point(
        "a MKT order with no quote: NO_QUOTE once, QUANTITY and DAILY_ORDERS still evaluated",
        &with(|c| {
            c.quotes.remove(&aapl());
            c.ticket.order_type = OrderType::Market;
            c.ticket.limit_price = None;
            c.ticket.quantity = qty("501");
            c.counters.orders = 200;
        }),
        &["QUANTITY", "NO_QUOTE", "DAILY_ORDERS"],
        None,
    );
    g.point(
        "a BUY LMT with a stale quote and a tiny notional limit: NOTIONAL still evaluated at the limit",
        &with(|c| {
            c.quotes.remove(&aapl());
            c.policy.max_order_notional = dec("14999.99");
        }),
        &["NOTIONAL", "NO_QUOTE"],
        None,
    );

    // DUPLICATE: the same order 29 s / 30 s / 31 s ago against 30 s.
    g.point(
        "DUPLICATE 29 s ago",
        &with(|c| c.recent.push(submitted_like(&c.ticket, c.now - secs(29)))),
        &["DUPLICATE"],
        None,
    );
    g.point(
        "DUPLICATE 29.999999999 s ago",
        &with(|c| {
            c.recent.push(submitted_like(
                &c.ticket,
                c.now - secs(30) + TimeDelta::nanoseconds(1),
            ));
        }),
        &["DUPLICATE"],
        None,
    );
    g.point(
        "DUPLICATE exactly 30 s ago is outside the window",
        &with(|c| c.recent.push(submitted_like(&c.ticket, c.now - secs(30)))),
        &[],
        Some(Confirm),
    );
    g.point(
        "DUPLICATE 31 s ago",
        &with(|c| c.recent.push(submitted_like(&c.ticket, c.now - secs(31)))),
        &[],
        Some(Confirm),
    );
    type Change = fn(&mut Submitted);
    let differing: [(&str, Change); 7] = [
        ("account", |s| s.account = acct(OTHER)),
        ("instrument (exchange)", |s| s.instrument = UNIVERSE[3].clone()),
        ("side", |s| s.side = Side::Sell),
        ("quantity", |s| s.quantity = qty("101")),
        ("order type", |s| s.order_type = OrderType::StopLimit),
        ("limit price", |s| s.limit_price = Some(px("150.01"))),
        ("stop price", |s| s.stop_price = Some(px("150.00"))),
    ];
    for (field, change) in differing {
        g.point(
            &format!("not a DUPLICATE: a different {field}"),
            &with(|c| {
                let mut s = submitted_like(&c.ticket, c.now - secs(1));
                change(&mut s);
                c.recent.push(s);
            }),
            &[],
            Some(Confirm),
        );
    }
    g.point(
        "a DUPLICATE at the same limit written differently (150 vs 150.00)",
        &with(|c| {
            let mut s = submitted_like(&c.ticket, c.now - secs(1));
            s.limit_price = Some(Price::new(Decimal::new(150, 0)).unwrap());
            c.recent.push(s);
        }),
        &["DUPLICATE"],
        None,
    );

    // DAILY_ORDERS: 198 / 199 / 200 submitted today against 200.
    g.triple(
        "DAILY_ORDERS",
        three(|c, i| c.counters.orders = [198, 199, 200][i]),
        [Confirm, Confirm],
        &["DAILY_ORDERS"],
    );
    g.point(
        "DAILY_ORDERS at u32::MAX",
        &with(|c| {
            c.counters.orders = u32::MAX;
            c.policy.max_orders_per_day = u32::MAX;
        }),
        &["DAILY_ORDERS"],
        None,
    );
    // DAILY_NOTIONAL: today + 15000.00 against 500000.00.
    g.triple(
        "DAILY_NOTIONAL",
        three(|c, i| c.counters.notional = dec(["484999.99", "485000.00", "485000.01"][i])),
        [Confirm, Confirm],
        &["DAILY_NOTIONAL"],
    );
    // DAILY_SYMBOL_ORDERS: 38 / 39 / 40 in AAPL against 40; other symbols do not count.
    g.triple(
        "DAILY_SYMBOL_ORDERS",
        three(|c, i| {
            c.counters
                .orders_by_symbol
                .insert(Symbol::parse("AAPL").unwrap(), [38, 39, 40][i]);
            c.counters
                .orders_by_symbol
                .insert(Symbol::parse("MSFT").unwrap(), 1000);
        }),
        [Confirm, Confirm],
        &["DAILY_SYMBOL_ORDERS"],
    );
    // RATE: 8 / 9 / 10 other orders in the last minute against 10; ones exactly 60 s ago do not count.
    let filler = |c: &Case, j: usize, ago: TimeDelta| Submitted {
        account: acct(MAIN),
        instrument: msft(),
        side: Side::Buy,
        quantity: Quantity::new(Decimal::from(j + 1)).unwrap(),
        order_type: OrderType::Limit,
        limit_price: Some(px("300")),
        stop_price: None,
        at: c.now - ago,
    };
    g.triple(
        "RATE",
        three(|c, i| {
            for j in 0..[8, 9, 10][i] {
                let s = filler(c, j, secs(59));
                c.recent.push(s);
            }
            for j in 0..5 {
                let s = filler(c, 100 + j, secs(60));
                c.recent.push(s);
            }
        }),
        [Confirm, Confirm],
        &["RATE"],
    );

    // Tiers. manual_approval_notional: an execute agent with room in its budget, notional 4999.99 /
    // 5000.00 / 5000.01 (100 x 49.9999 / 50 / 50.0001 at a reference of 50).
    let manual = three(|c, i| {
        aapl_quote(c, "49.99", "50.01");
        c.requester = agent("rebalancer", Permission::Execute, "1000000");
        c.ticket.limit_price = Some(px(["49.9999", "50", "50.0001"][i]));
    });
    g.point(
        "manual_approval_notional - 0.01",
        &manual[0],
        &[],
        Some(Tier::None),
    );
    g.point("manual_approval_notional", &manual[1], &[], Some(Tier::None));
    g.point("manual_approval_notional + 0.01", &manual[2], &[], Some(Confirm));
    // typed_approval_notional: the trader, 24999.99 / 25000.00 / 25000.01.
    let typed = three(|c, i| {
        aapl_quote(c, "249.99", "250.01");
        c.ticket.limit_price = Some(px(["249.9999", "250", "250.0001"][i]));
    });
    g.point("typed_approval_notional - 0.01", &typed[0], &[], Some(Confirm));
    g.point("typed_approval_notional", &typed[1], &[], Some(Confirm));
    g.point("typed_approval_notional + 0.01", &typed[2], &[], Some(Typed));
    // live_typed_quantity: live profile, q 99 / 100 / 101 at 10.00.
    let live = |c: &mut Case, q: &str| {
        c.mode = Mode::Live;
        c.accounts = vec![acct(LIVE)];
        c.ticket.account = acct(LIVE);
        aapl_quote(c, "9.99", "10.01");
        c.ticket.limit_price = Some(px("10.00"));
        c.ticket.quantity = qty(q);
    };
    g.point(
        "live_typed_quantity - 1 (trader)",
        &with(|c| live(c, "99")),
        &[],
        Some(Confirm),
    );
    g.point(
        "live_typed_quantity (trader)",
        &with(|c| live(c, "100")),
        &[],
        Some(Confirm),
    );
    g.point(
        "live_typed_quantity + 1 (trader)",
        &with(|c| live(c, "101")),
        &[],
        Some(Typed),
    );
    let live_agent = |c: &mut Case, q: &str| {
        live(c, q);
        c.requester = agent("rebalancer", Permission::Execute, "1000000");
    };
    g.point(
        "live_typed_quantity (execute agent)",
        &with(|c| live_agent(c, "100")),
        &[],
        Some(Tier::None),
    );
    g.point(
        "live_typed_quantity + 1 (execute agent)",
        &with(|c| live_agent(c, "101")),
        &[],
        Some(Typed),
    );
    g.point(
        "live_typed_quantity + 1 on paper is not typed",
        &with(|c| {
            live(c, "101");
            c.mode = Mode::Paper;
        }),
        &[],
        Some(Confirm),
    );
    g.point(
        "live_typed_quantity + 1 on dry-run is not typed",
        &with(|c| {
            live(c, "101");
            c.mode = Mode::DryRun;
        }),
        &[],
        Some(Confirm),
    );
    // Agent budget 10000: 5999.99 + 0.01 spent in the window (same agent, same instrument); other agents,
    // other instruments and spends exactly a window ago do not count; notional 3999.99 / 4000 / 4000.01.
    let budget = three(|c, i| {
        aapl_quote(c, "39.99", "40.01");
        c.requester = agent("rebalancer", Permission::Execute, "10000.00");
        c.ticket.limit_price = Some(px(["39.9999", "40", "40.0001"][i]));
        let spend = |who: &str, ins: Instrument, notional: &str, ago: TimeDelta| UnapprovedSpend {
            agent: who.to_string(),
            instrument: ins,
            notional: dec(notional),
            at: c.now - ago,
        };
        c.unapproved = vec![
            spend("rebalancer", aapl(), "5999.99", secs(100)),
            spend("rebalancer", aapl(), "0.01", secs(3599)),
            spend("rebalancer", aapl(), "50000", secs(3600)),
            spend("momentum", aapl(), "50000", secs(10)),
            spend("rebalancer", msft(), "50000", secs(10)),
            spend("rebalancer", UNIVERSE[3].clone(), "50000", secs(10)),
        ];
    });
    g.point("agent budget - 0.01", &budget[0], &[], Some(Tier::None));
    g.point("agent budget", &budget[1], &[], Some(Tier::None));
    g.point("agent budget + 0.01", &budget[2], &[], Some(Confirm));
    let small = |c: &mut Case| {
        aapl_quote(c, "9.99", "10.01");
        c.ticket.limit_price = Some(px("10.00"));
    };
    g.point("a small order from the trader", &with(small), &[], Some(Confirm));
    g.point(
        "a small order from a prepare agent",
        &with(|c| {
            small(c);
            c.requester = agent("momentum", Permission::Prepare, "1000000");
        }),
        &[],
        Some(Confirm),
    );
    g.point(
        "a small order from an execute agent",
        &with(|c| {
            small(c);
            c.requester = agent("rebalancer", Permission::Execute, "1000000");
        }),
        &[],
        Some(Tier::None),
    );
    g.point(
        "PERMISSION: a read agent",
        &with(|c| {
            small(c);
            c.requester = agent("momentum", Permission::Read, "1000000");
        }),
        &["PERMISSION"],
        None,
    );

    // SESSION, New York. A normal Monday in EST: 09:30 = 14:30 UTC, 16:00 = 21:00 UTC.
    let at = |t: &str, outside_rth: bool, all_days: bool| {
        with(move |c| {
            c.now = utc(t);
            c.ticket.outside_rth = outside_rth;
            if all_days {
                c.policy.session.days = ALL_DAYS.to_vec();
            }
            // Keep the quote fresh whatever the time.
            let fresh = c.now - secs(1);
            for q in c.quotes.values_mut() {
                q.received_at = fresh;
            }
        })
    };
    let session_points: &[(&str, &str, bool, bool, bool)] = &[
        // (label, UTC time, outside_rth, all seven days, refused)
        (
            "Mon 2026-03-02 09:29 EST",
            "2026-03-02 14:29:00",
            false,
            false,
            true,
        ),
        (
            "Mon 2026-03-02 09:30 EST",
            "2026-03-02 14:30:00",
            false,
            false,
            false,
        ),
        (
            "Mon 2026-03-02 09:31 EST",
            "2026-03-02 14:31:00",
            false,
            false,
            false,
        ),
        (
            "Mon 2026-03-02 09:29:59 EST",
            "2026-03-02 14:29:59",
            false,
            false,
            true,
        ),
        (
            "Mon 2026-03-02 15:59 EST",
            "2026-03-02 20:59:00",
            false,
            false,
            false,
        ),
        (
            "Mon 2026-03-02 16:00 EST",
            "2026-03-02 21:00:00",
            false,
            false,
            true,
        ),
        (
            "Mon 2026-03-02 16:01 EST",
            "2026-03-02 21:01:00",
            false,
            false,
            true,
        ),
        // Spring forward, Sunday 2026-03-08 (all seven days listed): EDT, 09:30 = 13:30 UTC.
        (
            "Sun 2026-03-08 09:29 EDT",
            "2026-03-08 13:29:00",
            false,
            true,
            true,
        ),
        (
            "Sun 2026-03-08 09:30 EDT",
            "2026-03-08 13:30:00",
            false,
            true,
            false,
        ),
        (
            "Sun 2026-03-08 09:31 EDT",
            "2026-03-08 13:31:00",
            false,
            true,
            false,
        ),
        (
            "Sun 2026-03-08 15:59 EDT",
            "2026-03-08 19:59:00",
            false,
            true,
            false,
        ),
        (
            "Sun 2026-03-08 16:00 EDT",
            "2026-03-08 20:00:00",
            false,
            true,
            true,
        ),
        (
            "Sun 2026-03-08 16:01 EDT",
            "2026-03-08 20:01:00",
            false,
            true,
            true,
        ),
        (
            "Sun 2026-03-08 10:00 EDT, Mon-Fri only",
            "2026-03-08 14:00:00",
            false,
            false,
            true,
        ),
        (
            "Sun 2026-03-08 04:00 EDT extended",
            "2026-03-08 08:00:00",
            true,
            true,
            false,
        ),
        (
            "Sun 2026-03-08 03:59 EDT extended",
            "2026-03-08 07:59:00",
            true,
            true,
            true,
        ),
        // Fall back, Sunday 2026-11-01: EST, 09:30 = 14:30 UTC.
        (
            "Sun 2026-11-01 09:29 EST",
            "2026-11-01 14:29:00",
            false,
            true,
            true,
        ),
        (
            "Sun 2026-11-01 09:30 EST",
            "2026-11-01 14:30:00",
            false,
            true,
            false,
        ),
        (
            "Sun 2026-11-01 09:31 EST",
            "2026-11-01 14:31:00",
            false,
            true,
            false,
        ),
        (
            "Sun 2026-11-01 15:59 EST",
            "2026-11-01 20:59:00",
            false,
            true,
            false,
        ),
        (
            "Sun 2026-11-01 16:00 EST",
            "2026-11-01 21:00:00",
            false,
            true,
            true,
        ),
        (
            "Sun 2026-11-01 16:01 EST",
            "2026-11-01 21:01:00",
            false,
            true,
            true,
        ),
        (
            "Sun 2026-11-01 03:59 EST extended",
            "2026-11-01 08:59:00",
            true,
            true,
            true,
        ),
        (
            "Sun 2026-11-01 04:00 EST extended",
            "2026-11-01 09:00:00",
            true,
            true,
            false,
        ),
        // The Monday after spring forward, Mon-Fri: EDT.
        (
            "Mon 2026-03-09 09:29 EDT",
            "2026-03-09 13:29:00",
            false,
            false,
            true,
        ),
        (
            "Mon 2026-03-09 09:30 EDT",
            "2026-03-09 13:30:00",
            false,
            false,
            false,
        ),
        (
            "Mon 2026-03-09 16:00 EDT",
            "2026-03-09 20:00:00",
            false,
            false,
            true,
        ),
        // Holiday, Friday 2026-07-03: closed all day, extended too.
        (
            "holiday 2026-07-03 09:29 EDT",
            "2026-07-03 13:29:00",
            false,
            false,
            true,
        ),
        (
            "holiday 2026-07-03 09:30 EDT",
            "2026-07-03 13:30:00",
            false,
            false,
            true,
        ),
        (
            "holiday 2026-07-03 09:31 EDT",
            "2026-07-03 13:31:00",
            false,
            false,
            true,
        ),
        (
            "holiday 2026-07-03 08:00 EDT extended",
            "2026-07-03 12:00:00",
            true,
            false,
            true,
        ),
        // Extended hours on a normal Monday (EST): 04:00 = 09:00 UTC, 20:00 = 01:00 UTC the next day.
        ("Mon 03:59 EST extended", "2026-03-02 08:59:00", true, false, true),
        (
            "Mon 04:00 EST extended",
            "2026-03-02 09:00:00",
            true,
            false,
            false,
        ),
        (
            "Mon 04:01 EST extended",
            "2026-03-02 09:01:00",
            true,
            false,
            false,
        ),
        (
            "Mon 19:59 EST extended (Tue in UTC)",
            "2026-03-03 00:59:00",
            true,
            false,
            false,
        ),
        ("Mon 20:00 EST extended", "2026-03-03 01:00:00", true, false, true),
        ("Mon 20:01 EST extended", "2026-03-03 01:01:00", true, false, true),
        (
            "Mon 04:01 EST, not outside-RTH",
            "2026-03-02 09:01:00",
            false,
            false,
            true,
        ),
    ];
    for &(label, t, outside_rth, all_days, refused) in session_points {
        let case = at(t, outside_rth, all_days);
        if refused {
            g.point(&format!("SESSION {label}"), &case, &["SESSION"], None);
        } else {
            g.point(&format!("SESSION {label}"), &case, &[], Some(Confirm));
        }
    }
    g.point(
        "SESSION: Fri 2026-03-06 19:30 EST extended is Saturday in UTC but Friday locally",
        &at("2026-03-07 00:30:00", true, false),
        &[],
        Some(Confirm),
    );
    g.point(
        "SESSION: Sat 2026-03-07 05:00 EST extended",
        &at("2026-03-07 10:00:00", true, false),
        &["SESSION"],
        None,
    );
    g.point(
        "SESSION: Thu 2026-07-02 21:00 EDT (Jul 3 in UTC) with extended to 23:00: not the holiday",
        &with(|c| {
            c.now = utc("2026-07-03 01:00:00");
            c.ticket.outside_rth = true;
            c.policy.session.extended = Some((hm(4, 0), hm(23, 0)));
            let fresh = c.now - secs(1);
            for q in c.quotes.values_mut() {
                q.received_at = fresh;
            }
        }),
        &[],
        Some(Confirm),
    );
    g.point(
        "SESSION: extended hours not set, outside-RTH ticket at 08:00",
        &with(|c| {
            c.now = utc("2026-03-02 13:00:00");
            c.ticket.outside_rth = true;
            c.policy.session.extended = None;
            let fresh = c.now - secs(1);
            for q in c.quotes.values_mut() {
                q.received_at = fresh;
            }
        }),
        &["SESSION"],
        None,
    );
    g.point(
        "SESSION: always_open on the holiday at midnight",
        &with(|c| {
            c.now = utc("2026-07-03 04:00:00");
            c.policy.session.always_open = true;
            let fresh = c.now - secs(1);
            for q in c.quotes.values_mut() {
                q.received_at = fresh;
            }
        }),
        &[],
        Some(Confirm),
    );
    // London: BST from Sunday 2026-03-29; Monday 2026-03-30 09:30 BST = 08:30 UTC.
    for (t, refused) in [("2026-03-30 08:29:00", true), ("2026-03-30 08:30:00", false)] {
        let case = with(|c| {
            c.now = utc(t);
            c.policy.session.timezone = chrono_tz::Europe::London;
            let fresh = c.now - secs(1);
            for q in c.quotes.values_mut() {
                q.received_at = fresh;
            }
        });
        let codes: &[&str] = if refused { &["SESSION"] } else { &[] };
        g.point(&format!("SESSION London {t} UTC"), &case, codes, Some(Confirm));
    }

    // Trading state.
    let reducing = |c: &mut Case, side: Side, pos: &str, q: &str| {
        c.trading = trading(Level::Reducing);
        c.ticket.side = side;
        c.positions.insert((acct(MAIN), aapl()), dec(pos));
        c.ticket.quantity = qty(q);
    };
    g.point(
        "REDUCING: BUY 99 against -100",
        &with(|c| reducing(c, Side::Buy, "-100", "99")),
        &[],
        Some(Confirm),
    );
    g.point(
        "REDUCING: BUY 100 against -100",
        &with(|c| reducing(c, Side::Buy, "-100", "100")),
        &[],
        Some(Confirm),
    );
    g.point(
        "REDUCING: BUY 101 against -100 flips",
        &with(|c| reducing(c, Side::Buy, "-100", "101")),
        &["REDUCING"],
        None,
    );
    g.point(
        "REDUCING: BUY 100 against -100 with a working BUY 1",
        &with(|c| {
            reducing(c, Side::Buy, "-100", "100");
            c.working.push(working(MAIN, aapl(), Side::Buy, "1", Some("150")));
        }),
        &["REDUCING"],
        None,
    );
    g.point(
        "REDUCING: BUY 100 against -100 with a working BUY 1 in another account",
        &with(|c| {
            reducing(c, Side::Buy, "-100", "100");
            c.working
                .push(working(OTHER, aapl(), Side::Buy, "1", Some("150")));
        }),
        &[],
        Some(Confirm),
    );
    g.point(
        "REDUCING: SELL 100 against +100",
        &with(|c| reducing(c, Side::Sell, "100", "100")),
        &[],
        Some(Confirm),
    );
    g.point(
        "REDUCING: SELL 101 against +100",
        &with(|c| reducing(c, Side::Sell, "100", "101")),
        &["REDUCING"],
        None,
    );
    g.point(
        "REDUCING: SELL 100 against +100 held in another account",
        &with(|c| {
            reducing(c, Side::Sell, "100", "100");
            c.positions.clear();
            c.positions.insert((acct(OTHER), aapl()), dec("100"));
        }),
        &["REDUCING"],
        None,
    );
    g.point(
        "REDUCING: BUY from flat",
        &with(|c| reducing(c, Side::Buy, "0", "1")),
        &["REDUCING"],
        None,
    );
    g.point(
        "HALTED refuses even a reducing ticket",
        &with(|c| {
            reducing(c, Side::Buy, "-100", "100");
            c.trading = trading(Level::Halted);
        }),
        &["HALTED"],
        None,
    );
    g.point(
        "HALTED, not reducing: HALTED only",
        &with(|c| c.trading = trading(Level::Halted)),
        &["HALTED"],
        None,
    );

    // Allowlists and shape.
    g.point(
        "ACCOUNT",
        &with(|c| c.ticket.account = acct(OTHER)),
        &["ACCOUNT"],
        None,
    );
    for i in 3..UNIVERSE.len() {
        g.point(
            &format!("SYMBOL {}", show_instrument(&UNIVERSE[i])),
            &with(|c| c.ticket.instrument = UNIVERSE[i].clone()),
            &["SYMBOL"],
            None,
        );
    }
    g.point(
        "ORDER_TYPE STP LMT not allowed",
        &with(|c| {
            c.ticket.order_type = OrderType::StopLimit;
            c.ticket.stop_price = Some(px("149"));
        }),
        &["ORDER_TYPE"],
        None,
    );
    g.point(
        "TIF IOC not allowed",
        &with(|c| c.ticket.tif = Tif::Ioc),
        &["TIF"],
        None,
    );
    g.point(
        "SIDE SELL not allowed",
        &with(|c| {
            c.policy.sides = vec![Side::Buy];
            c.ticket.side = Side::Sell;
        }),
        &["SIDE"],
        None,
    );
    g.point(
        "PRICE_FIELDS: LMT without a limit (counts at the edge 157.50)",
        &with(|c| {
            c.ticket.limit_price = None;
            c.policy.max_order_notional = dec("15750.00");
        }),
        &["PRICE_FIELDS"],
        None,
    );
    g.point(
        "PRICE_FIELDS: LMT without a limit, edge over the notional limit",
        &with(|c| {
            c.ticket.limit_price = None;
            c.policy.max_order_notional = dec("15749.99");
        }),
        &["PRICE_FIELDS", "NOTIONAL"],
        None,
    );
    g.point(
        "PRICE_FIELDS: BUY MKT carrying a limit counts at the limit",
        &with(|c| {
            c.ticket.order_type = OrderType::Market;
            c.policy.max_order_notional = dec("15000.00");
        }),
        &["PRICE_FIELDS"],
        None,
    );
    g.point(
        "PRICE_FIELDS: BUY MKT carrying a limit outside the collar",
        &with(|c| {
            c.ticket.order_type = OrderType::Market;
            c.ticket.limit_price = Some(px("157.51"));
        }),
        &["PRICE_FIELDS", "COLLAR"],
        None,
    );
    g.point(
        "PRICE_FIELDS: LMT carrying a stop",
        &with(|c| c.ticket.stop_price = Some(px("149"))),
        &["PRICE_FIELDS"],
        None,
    );

    // Too large to represent counts as exceeding: 28 nines x 157.50.
    g.point(
        "a notional too large to represent",
        &with(|c| {
            c.ticket.order_type = OrderType::Market;
            c.ticket.limit_price = None;
            c.ticket.quantity = qty("9999999999999999999999999999");
        }),
        &["QUANTITY", "NOTIONAL", "POSITION", "GROSS", "DAILY_NOTIONAL"],
        None,
    );

    assert!(
        g.failures.is_empty(),
        "{} of {} grid points failed:\n\n{}",
        g.failures.len(),
        g.points,
        g.failures.join("\n")
    );
}

/// "Limits are inclusive: a value equal to a limit passes, one smallest unit above it is refused", even where
/// the exact result has more significant digits than a `Decimal` holds (rounding it would land on the limit).
#[test]
fn one_unit_above_a_limit_is_refused_beyond_decimal_precision() {
    let mut g = Grid::default();
    let huge = "9999999999999999999999999999";
    let wide_open = |c: &mut Case| {
        let p = &mut c.policy;
        p.max_order_quantity = dec(huge);
        p.max_position = dec(huge);
        p.max_order_notional = Decimal::MAX;
        p.max_gross_exposure = Decimal::MAX;
        p.max_notional_per_day = Decimal::MAX;
        p.typed_approval_notional = Decimal::MAX;
    };
    // 9999999999999999999999999999 x 0.99 = 9899999999999999999999999999.01 exactly.
    g.point(
        "NOTIONAL: 28 nines x 0.99 against 9899999999999999999999999999",
        &with(|c| {
            wide_open(c);
            aapl_quote(c, "0.98", "1.00");
            c.ticket.quantity = qty(huge);
            c.ticket.limit_price = Some(px("0.99"));
            c.policy.max_order_notional = dec("9899999999999999999999999999");
        }),
        &["NOTIONAL"],
        None,
    );
    g.point(
        "NOTIONAL: the same against 9900000000000000000000000000 (the next representable) passes",
        &with(|c| {
            wide_open(c);
            aapl_quote(c, "0.98", "1.00");
            c.ticket.quantity = qty(huge);
            c.ticket.limit_price = Some(px("0.99"));
            c.policy.max_order_notional = dec("9900000000000000000000000000");
        }),
        &[],
        Some(Tier::Confirm),
    );
    // Today 1e27 + 0.01 = 1000000000000000000000000000.01 against 1e27.
    let penny = |c: &mut Case| {
        wide_open(c);
        aapl_quote(c, "0.01", "0.01");
        c.ticket.quantity = qty("1");
        c.ticket.limit_price = Some(px("0.01"));
    };
    g.point(
        "DAILY_NOTIONAL: 1e27 today + 0.01 against 1e27",
        &with(|c| {
            penny(c);
            c.counters.notional = dec("1000000000000000000000000000");
            c.policy.max_notional_per_day = dec("1000000000000000000000000000");
        }),
        &["DAILY_NOTIONAL"],
        None,
    );
    // Gross: |1e26| x 10.00 + 0.01 against 1e27.
    g.point(
        "GROSS: 1e27 held + 0.01 against 1e27",
        &with(|c| {
            penny(c);
            c.positions
                .insert((acct(MAIN), msft()), dec("100000000000000000000000000"));
            c.quotes
                .insert(msft(), quote(Some("10.00"), Some("10.00"), None, c.now));
            c.policy.max_gross_exposure = dec("1000000000000000000000000000");
        }),
        &["GROSS"],
        None,
    );
    // Position: 0.4 + 28 nines against 28 nines.
    g.point(
        "POSITION: pos 0.4 + 28 nines against 28 nines",
        &with(|c| {
            wide_open(c);
            aapl_quote(c, "0.01", "0.01");
            c.ticket.limit_price = Some(px("0.01"));
            c.ticket.quantity = qty(huge);
            c.positions.insert((acct(MAIN), aapl()), dec("0.4"));
        }),
        &["POSITION"],
        None,
    );
    // Reference 9999999999999999999.99999999 (bid = ask), 5%: edge 10499999999999999999.9999999895 exactly
    // (30 digits); 600 at the edge = 6299999999999999999999.9999937, equal to the limit: passes.
    g.point(
        "NOTIONAL: a SELL MKT at an edge of 30 digits, exactly at the limit",
        &with(|c| {
            wide_open(c);
            let price = "9999999999999999999.99999999";
            c.quotes
                .insert(aapl(), quote(Some(price), Some(price), None, c.now));
            c.ticket.side = Side::Sell;
            c.ticket.order_type = OrderType::Market;
            c.ticket.limit_price = None;
            c.ticket.quantity = qty("600");
            c.policy.max_order_notional = dec("6299999999999999999999.9999937");
        }),
        &[],
        Some(Tier::Confirm),
    );
    assert!(
        g.failures.is_empty(),
        "{} of {} points failed:\n\n{}",
        g.failures.len(),
        g.points,
        g.failures.join("\n")
    );
}

#[test]
fn the_oracle_arithmetic_is_exact() {
    use num_traits::One;
    let third = int(1) / int(3);
    assert_eq!(oracle::to_dec(&third), None);
    assert_eq!(rat(dec("0.1")) + rat(dec("0.2")), rat(dec("0.3")));
    assert_eq!(rat(dec("150.25")), int(601) / int(4));
    assert_eq!(rat(dec("-0.5")), -(Rat::one() / int(2)));
    assert_eq!(rat(dec("100.000")), int(100));
    for text in [
        "0",
        "1",
        "-1",
        "0.00000001",
        "150.000000015",
        "79228162514264337593543950335",
        "-79228162514264337593543950335",
        "7.9228162514264337593543950335",
        "0.0000000000000000000000000001",
        "9899999999999999999999999999",
    ] {
        assert_eq!(oracle::to_dec(&rat(dec(text))), Some(dec(text)), "{text}");
    }
    let over = rat(Decimal::MAX) + int(1);
    assert_eq!(oracle::to_dec(&over), None);
    let too_fine = Rat::one() / rat(dec("10000000000000000000000000000")) / int(10);
    assert_eq!(oracle::to_dec(&too_fine), None);
    // 28 nines x 0.99 is exact, and more digits than a Decimal holds.
    let product = rat(dec("9999999999999999999999999999")) * rat(dec("0.99"));
    assert_eq!(
        product,
        rat(dec("9899999999999999999999999999")) + int(1) / int(100)
    );
    assert_eq!(oracle::to_dec(&product), None);
}

#[test]
fn example_config_policy_is_the_grid_policy() {
    let text = include_str!("../config.example.toml");
    let config = Config::parse(text, Path::new("config.example.toml")).unwrap();
    assert_eq!(config.profiles["paper"].policy, example_policy());
}

// =========================================================================================================
// Garbage cannot reach `check`: lookalike symbols and non-plain numbers are refused when parsed.
// =========================================================================================================

/// Never part of an accepted symbol, wherever they appear (these are not whitespace, so never trimmed).
const REFUSED_IN_SYMBOLS: &[char] = &[
    '\u{410}',  // Cyrillic А
    '\u{415}',  // Cyrillic Е
    '\u{41E}',  // Cyrillic О
    '\u{420}',  // Cyrillic Р
    '\u{FF21}', // fullwidth Ａ
    '\u{FF10}', // fullwidth ０
    '\u{FF0E}', // fullwidth ．
    '\u{212A}', // Kelvin sign
    '\u{131}',  // dotless ı
    '\u{200B}', // zero-width space
    '\u{200C}', // zero-width non-joiner
    '\u{200D}', // zero-width joiner
    '\u{2060}', // word joiner
    '\u{FEFF}', // byte-order mark
    '\u{301}',  // combining acute
    '\u{AD}',   // soft hyphen
    '\u{2011}', // non-breaking hyphen
    '\u{0}', '\u{7}', '\u{1B}', '\u{7F}', '\u{9F}', '_', '/', '$', '*', '\'',
];

/// Refused inside a symbol (at its ends they are whitespace and trimmed).
const REFUSED_INSIDE_SYMBOLS: &[char] = &[
    ' ', '\t', '\n', '\r', '\u{B}', '\u{C}', '\u{85}', '\u{A0}', '\u{2003}', '\u{3000}',
];

/// Never part of an accepted number.
const REFUSED_IN_NUMBERS: &[char] = &[
    '\u{FF10}', '\u{FF11}', '\u{FF15}', '\u{660}', '\u{663}', '\u{966}', 'e', 'E', '_', ',', '+', 'x',
    '\u{200B}', '\u{0}', '\u{7F}', '\u{1B}', '\u{221E}', '\u{B2}', '\u{2212}', '\u{2024}', '\u{FE52}', '/',
    'i', 'N',
];

const GARBAGE_NUMBERS: &[&str] = &[
    "NaN",
    "nan",
    "-NaN",
    "inf",
    "-inf",
    "+inf",
    "Infinity",
    "-Infinity",
    "\u{221E}",
    "1e5",
    "1E5",
    "1e-5",
    "0x10",
    "\u{FF11}\u{FF10}\u{FF10}",
    "\u{661}\u{660}\u{660}",
    "1_000",
    "1,000",
    "1 000",
    "",
    " ",
    ".",
    "-",
    "+1",
    "--1",
    "1.2.3",
    ".5",
    "5.",
    "1\u{200B}00",
    "100\u{0}",
    "100\u{7F}",
    "1/2",
    "\u{B2}",
    "10000000000000000000000000000",
    "0.1e1",
];

#[test]
fn garbage_numbers_are_refused() {
    for text in GARBAGE_NUMBERS {
        assert!(Quantity::parse(text).is_err(), "quantity {text:?} was accepted");
        assert!(Price::parse(text).is_err(), "price {text:?} was accepted");
    }
    for text in ["0", "-1", "1.5", "0.0", "-0"] {
        assert!(Quantity::parse(text).is_err(), "quantity {text:?} was accepted");
    }
    for text in ["0", "-1", "0.000000001", "-0.01", "0.00"] {
        assert!(Price::parse(text).is_err(), "price {text:?} was accepted");
    }
}

fn plain_number(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if std::env::var_os("COCKPIT_HEAVY").is_some() { 20_000 } else { 1_000 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn lookalike_symbols_are_refused(
        base in "[A-Z][A-Z0-9.-]{0,10}",
        at in 0_usize..=12,
        which in 0..REFUSED_IN_SYMBOLS.len(),
    ) {
        let mut chars: Vec<char> = base.chars().collect();
        chars.insert(at.min(chars.len()), REFUSED_IN_SYMBOLS[which]);
        let text: String = chars.into_iter().collect();
        prop_assert!(Symbol::parse(&text).is_err(), "symbol {:?} was accepted", text);
    }

    #[test]
    fn whitespace_inside_a_symbol_is_refused(
        base in "[A-Z][A-Z0-9]{1,10}",
        at in 1_usize..=10,
        which in 0..REFUSED_INSIDE_SYMBOLS.len(),
    ) {
        let mut chars: Vec<char> = base.chars().collect();
        chars.insert(at.min(chars.len() - 1), REFUSED_INSIDE_SYMBOLS[which]);
        let text: String = chars.into_iter().collect();
        prop_assert!(Symbol::parse(&text).is_err(), "symbol {:?} was accepted", text);
    }

    #[test]
    fn an_accepted_symbol_is_plain_ascii(text in any::<String>()) {
        if let Ok(symbol) = Symbol::parse(&text) {
            let s = symbol.as_str();
            prop_assert!((1..=12).contains(&s.len()), "{:?} -> {:?}", text, s);
            prop_assert!(
                s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.' || b == b'-'),
                "{:?} -> {:?}", text, s
            );
            prop_assert_eq!(s, text.trim().to_ascii_uppercase());
        }
    }

    #[test]
    fn numbers_with_foreign_characters_are_refused(
        base in "-?[0-9]{1,6}(\\.[0-9]{1,4})?",
        at in 0_usize..=12,
        which in 0..REFUSED_IN_NUMBERS.len(),
    ) {
        let mut chars: Vec<char> = base.chars().collect();
        chars.insert(at.min(chars.len()), REFUSED_IN_NUMBERS[which]);
        let text: String = chars.into_iter().collect();
        prop_assert!(Quantity::parse(&text).is_err(), "quantity {:?} was accepted", text);
        prop_assert!(Price::parse(&text).is_err(), "price {:?} was accepted", text);
    }

    #[test]
    fn an_accepted_number_is_plain_positive_and_exact(
        text in prop_oneof![
            any::<String>(),
            "[ ]?-?[0-9]{0,30}(\\.[0-9]{0,12})?[ ]?",
            "[-+0-9.eE_, a-zA-Z\u{FF10}-\u{FF19}]{0,12}",
        ],
    ) {
        if let Ok(q) = Quantity::parse(&text) {
            prop_assert!(plain_number(text.trim()), "quantity {:?} accepted", text);
            prop_assert!(q.get() > Decimal::ZERO && q.get().is_integer(), "quantity {:?} -> {}", text, q);
            prop_assert_eq!(rat(q.get()), rat(Decimal::from_str_exact(text.trim()).unwrap()));
        }
        if let Ok(p) = Price::parse(&text) {
            prop_assert!(plain_number(text.trim()), "price {:?} accepted", text);
            prop_assert!(p.get() > Decimal::ZERO, "price {:?} -> {}", text, p);
            prop_assert_eq!(rat(p.get()), rat(Decimal::from_str_exact(text.trim()).unwrap()));
        }
    }
}
