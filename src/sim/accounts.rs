//! Simulated brokerage accounts: cash, positions with average cost, realized P&L, and the margin and
//! P&L figures IB reports, all moved by fills and by marks. No orders, no protocol.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::market::Market;

/// Converts integer cents to dollars.
#[must_use]
pub fn dollars(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// One position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// Signed quantity (negative is short).
    pub quantity: Decimal,
    /// IB's average cost: price per share including commissions.
    pub average_cost: Decimal,
    /// Cost basis for today's P&L: the previous close for shares held overnight, else the fill price.
    pub day_basis: Decimal,
    /// Realized P&L today on this instrument, after commissions.
    pub realized_today: Decimal,
}

/// Margin requirement rates (Reg T style), changed by the margin fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarginRates {
    /// Initial margin as a fraction of gross position value.
    pub initial: Decimal,
    /// Maintenance margin as a fraction of gross position value.
    pub maintenance: Decimal,
}

impl Default for MarginRates {
    fn default() -> Self {
        Self {
            initial: Decimal::new(50, 2),
            maintenance: Decimal::new(25, 2),
        }
    }
}

/// A snapshot of an account's figures, as the account summary reports them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Valuation {
    /// Net liquidation value.
    pub net_liquidation: Decimal,
    /// Cash.
    pub total_cash: Decimal,
    /// Sum of |position value|.
    pub gross_position_value: Decimal,
    /// Equity with loan value.
    pub equity_with_loan: Decimal,
    /// Initial margin requirement.
    pub init_margin: Decimal,
    /// Maintenance margin requirement.
    pub maint_margin: Decimal,
    /// Equity with loan minus initial margin.
    pub available_funds: Decimal,
    /// Equity with loan minus maintenance margin.
    pub excess_liquidity: Decimal,
    /// Available funds × 4 (intraday margin).
    pub buying_power: Decimal,
    /// Excess liquidity / net liquidation.
    pub cushion: Decimal,
    /// Unrealized P&L.
    pub unrealized_pnl: Decimal,
    /// Realized P&L today.
    pub realized_pnl: Decimal,
    /// Today's P&L (realized + move against the day basis).
    pub daily_pnl: Decimal,
}

/// One account.
#[derive(Debug, Clone)]
pub struct Account {
    /// IB account code (paper codes start with DU).
    pub code: String,
    /// Cash balance.
    pub cash: Decimal,
    /// Positions by listing index.
    pub holdings: BTreeMap<usize, Holding>,
}

impl Account {
    /// An account holding only cash.
    #[must_use]
    pub fn new(code: &str, cash: Decimal) -> Self {
        Self {
            code: code.to_string(),
            cash,
            holdings: BTreeMap::new(),
        }
    }

    /// Adds a position held since yesterday (its day basis is the previous close).
    pub fn seed_position(
        &mut self,
        listing: usize,
        quantity: Decimal,
        average_cost: Decimal,
        close: Decimal,
    ) {
        self.cash -= quantity * average_cost;
        self.holdings.insert(
            listing,
            Holding {
                quantity,
                average_cost,
                day_basis: close,
                realized_today: Decimal::ZERO,
            },
        );
    }

    /// Books a fill: `signed_qty` > 0 buys. Returns the realized P&L of the fill (after its commission), or
    /// `None` when the fill only opened or added to a position.
    pub fn apply_fill(
        &mut self,
        listing: usize,
        signed_qty: Decimal,
        price: Decimal,
        commission: Decimal,
    ) -> Option<Decimal> {
        self.cash -= signed_qty * price + commission;
        let holding = self.holdings.entry(listing).or_insert(Holding {
            quantity: Decimal::ZERO,
            average_cost: Decimal::ZERO,
            day_basis: price,
            realized_today: Decimal::ZERO,
        });
        let old = holding.quantity;
        let new = old + signed_qty;
        let opening = old.is_zero() || old.is_sign_positive() == signed_qty.is_sign_positive();
        if opening {
            let cost = old * holding.average_cost + signed_qty * price + commission;
            let basis = old * holding.day_basis + signed_qty * price;
            holding.average_cost = cost / new;
            holding.day_basis = basis / new;
            holding.quantity = new;
            return None;
        }
        // Closing (maybe flipping): realize against the average cost on the closed part.
        let closed = signed_qty.abs().min(old.abs());
        let direction = if old.is_sign_positive() {
            Decimal::ONE
        } else {
            Decimal::NEGATIVE_ONE
        };
        let realized = (price - holding.average_cost) * closed * direction - commission;
        let day_realized = (price - holding.day_basis) * closed * direction - commission;
        holding.realized_today += day_realized;
        holding.quantity = new;
        if new.is_zero() {
            holding.average_cost = Decimal::ZERO;
        } else if new.is_sign_positive() != old.is_sign_positive() {
            holding.average_cost = price;
            holding.day_basis = price;
        }
        Some(realized)
    }

    /// The account's figures at the market's current marks.
    #[must_use]
    pub fn valuation(&self, market: &Market, rates: MarginRates) -> Valuation {
        let mut v = Valuation {
            total_cash: self.cash,
            ..Valuation::default()
        };
        let mut position_value = Decimal::ZERO;
        for (&listing, h) in &self.holdings {
            let mark = dollars(market.quote(listing).last);
            let value = h.quantity * mark;
            position_value += value;
            v.gross_position_value += value.abs();
            if !h.quantity.is_zero() {
                v.unrealized_pnl += value - h.quantity * h.average_cost;
            }
            v.realized_pnl += h.realized_today;
            v.daily_pnl += h.realized_today + h.quantity * (mark - h.day_basis);
        }
        v.net_liquidation = self.cash + position_value;
        v.equity_with_loan = v.net_liquidation;
        v.init_margin = (v.gross_position_value * rates.initial).round_dp(2);
        v.maint_margin = (v.gross_position_value * rates.maintenance).round_dp(2);
        v.available_funds = v.equity_with_loan - v.init_margin;
        v.excess_liquidity = v.equity_with_loan - v.maint_margin;
        v.buying_power = (v.available_funds * Decimal::from(4)).max(Decimal::ZERO);
        v.cushion = if v.net_liquidation.is_zero() {
            Decimal::ZERO
        } else {
            (v.excess_liquidity / v.net_liquidation).round_dp(6)
        };
        v.unrealized_pnl = v.unrealized_pnl.round_dp(2);
        v.daily_pnl = v.daily_pnl.round_dp(2);
        v.realized_pnl = v.realized_pnl.round_dp(2);
        v
    }

    /// One position's figures: (quantity, daily P&L, unrealized P&L, realized today, market value).
    #[must_use]
    pub fn position_pnl(
        &self,
        listing: usize,
        market: &Market,
    ) -> (Decimal, Decimal, Decimal, Decimal, Decimal) {
        let Some(h) = self.holdings.get(&listing) else {
            return (
                Decimal::ZERO,
                Decimal::ZERO,
                Decimal::ZERO,
                Decimal::ZERO,
                Decimal::ZERO,
            );
        };
        let mark = dollars(market.quote(listing).last);
        let value = h.quantity * mark;
        let unrealized = if h.quantity.is_zero() {
            Decimal::ZERO
        } else {
            value - h.quantity * h.average_cost
        };
        let daily = h.realized_today + h.quantity * (mark - h.day_basis);
        (
            h.quantity,
            daily.round_dp(2),
            unrealized.round_dp(2),
            h.realized_today.round_dp(2),
            value.round_dp(2),
        )
    }
}

/// IB's fixed-rate commission: $0.005 a share, at least $1.00, at most 1% of the trade value.
#[must_use]
pub fn commission(shares: Decimal, price: Decimal) -> Decimal {
    let per_share = shares * Decimal::new(5, 3);
    let cap = shares * price / Decimal::from(100);
    per_share
        .max(Decimal::ONE)
        .min(cap.max(Decimal::new(1, 2)))
        .round_dp(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros_free::d;

    /// Tiny decimal literal helper, so tests read like money.
    mod rust_decimal_macros_free {
        pub fn d(s: &str) -> rust_decimal::Decimal {
            s.parse().expect("decimal literal")
        }
    }

    #[test]
    fn buying_then_selling_realizes_against_average_cost_including_commissions() {
        let mut a = Account::new("DU1", d("100000"));
        assert_eq!(a.apply_fill(0, d("100"), d("10.00"), d("1.00")), None);
        assert_eq!(a.holdings[&0].average_cost, d("10.01"));
        assert_eq!(a.cash, d("98999.00"));
        let realized = a.apply_fill(0, d("-40"), d("11.00"), d("1.00")).expect("closing");
        assert_eq!(realized, d("38.60")); // (11 - 10.01) * 40 - 1
        assert_eq!(a.holdings[&0].quantity, d("60"));
    }

    #[test]
    fn selling_through_zero_flips_and_resets_cost() {
        let mut a = Account::new("DU1", d("0"));
        a.apply_fill(0, d("10"), d("5"), d("0"));
        a.apply_fill(0, d("-30"), d("6"), d("0"));
        let h = &a.holdings[&0];
        assert_eq!(h.quantity, d("-20"));
        assert_eq!(h.average_cost, d("6"));
    }

    #[test]
    fn commission_follows_ib_fixed_rates() {
        assert_eq!(commission(d("100"), d("50")), d("1.00"));
        assert_eq!(commission(d("1000"), d("50")), d("5.00"));
        assert_eq!(commission(d("1"), d("5")), d("0.05")); // capped at 1% of $5
    }

    #[test]
    fn valuation_moves_with_marks_and_margin_rates() {
        let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("time");
        let mut market = Market::new(1, now);
        market.set_quote(0, 9_999, 10_001, 10_000, 100, now);
        let mut a = Account::new("DU1", d("100000"));
        a.apply_fill(0, d("100"), d("90.00"), d("0"));
        let v = a.valuation(&market, MarginRates::default());
        assert_eq!(v.net_liquidation, d("101000.00"));
        assert_eq!(v.unrealized_pnl, d("1000.00"));
        assert_eq!(v.init_margin, d("5000.00"));
        let tighter = MarginRates {
            initial: d("1"),
            maintenance: d("0.5"),
        };
        assert_eq!(a.valuation(&market, tighter).init_margin, d("10000.00"));
    }
}
