//! Positions and the account summary as the broker reports them; it does not compute P&L or margin itself.

use std::cmp::Ordering;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AccountId, Instrument, Side};

/// A holding in one account: signed quantity (negative is short) and IB's average cost per share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The account holding it.
    pub account: AccountId,
    /// What is held.
    pub instrument: Instrument,
    /// Shares held; negative when short. Fractional positions are possible at IB.
    pub quantity: Decimal,
    /// IB's average cost per share.
    pub average_cost: Decimal,
}

impl Position {
    /// Whether nothing is held.
    #[must_use]
    pub fn is_flat(&self) -> bool {
        self.quantity.is_zero()
    }

    /// `Buy` for a long position, `Sell` for a short one, `None` when flat.
    #[must_use]
    pub fn direction(&self) -> Option<Side> {
        match self.quantity.cmp(&Decimal::ZERO) {
            Ordering::Greater => Some(Side::Buy),
            Ordering::Less => Some(Side::Sell),
            Ordering::Equal => None,
        }
    }
}

/// The account values the cockpit shows and checks, in the account's base currency.
///
/// Every field is optional: IB sends them tag by tag, cash accounts omit the margin ones, and P&L comes from a
/// separate subscription. A missing value means "unknown", never zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    /// `NetLiquidation`.
    pub net_liquidation: Option<Decimal>,
    /// `TotalCashValue`.
    pub total_cash: Option<Decimal>,
    /// `BuyingPower`.
    pub buying_power: Option<Decimal>,
    /// `ExcessLiquidity`.
    pub excess_liquidity: Option<Decimal>,
    /// `Cushion`: excess liquidity as a fraction of net liquidation.
    pub cushion: Option<Decimal>,
    /// `InitMarginReq`.
    pub init_margin: Option<Decimal>,
    /// `MaintMarginReq`.
    pub maint_margin: Option<Decimal>,
    /// Today's P&L.
    pub daily_pnl: Option<Decimal>,
    /// Unrealised P&L.
    pub unrealized_pnl: Option<Decimal>,
    /// Realised P&L.
    pub realized_pnl: Option<Decimal>,
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::domain::{Currency, Symbol};

    fn position(quantity: i64) -> Position {
        Position {
            account: AccountId::parse("DU1").unwrap(),
            instrument: Instrument::stock(Symbol::parse("SPY").unwrap(), Currency::USD, "ARCA"),
            quantity: Decimal::from(quantity),
            average_cost: Decimal::from(500),
        }
    }

    #[test]
    fn direction_follows_the_sign() {
        assert_eq!(position(10).direction(), Some(Side::Buy));
        assert_eq!(position(-10).direction(), Some(Side::Sell));
        assert_eq!(position(0).direction(), None);
        assert!(position(0).is_flat());
    }

    #[test]
    fn summary_starts_unknown_and_serialises_decimals_as_text() {
        let summary = AccountSummary {
            net_liquidation: Some(Decimal::new(10_050, 1)),
            ..AccountSummary::default()
        };
        assert_eq!(summary.total_cash, None);
        let json = serde_json::to_string(&summary).unwrap();
        assert!(
            json.starts_with(r#"{"net_liquidation":"1005.0","total_cash":null"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<AccountSummary>(&json).unwrap(), summary);
    }
}
