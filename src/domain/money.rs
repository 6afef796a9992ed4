//! Prices, quantities and money as exact `Decimal`s, parsed from their literal text; it never goes through
//! `f64` and knows nothing of currencies' exchange rates or tick sizes.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::DomainError;

/// The most significant digits a number may carry (a `Decimal` holds 28 for sure).
pub const MAX_SIGNIFICANT_DIGITS: usize = 28;

/// Parses plain decimal text (`150.25`, `-3`, `0.5`): no exponent, `+`, separators or bare dots, at most
/// [`MAX_SIGNIFICANT_DIGITS`] digits, and nothing `Decimal` would have to round.
fn parse_decimal(what: &'static str, text: &str) -> Result<Decimal, DomainError> {
    let text = super::trim_blanks(text);
    let refuse = |rule: &str| Err(DomainError::invalid(what, text, rule));
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return refuse("expected a plain decimal number such as '150.25' (no exponent, '+' or separators)");
    }
    let significant = unsigned
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|&b| b == b'0')
        .count();
    if significant > MAX_SIGNIFICANT_DIGITS {
        return refuse("more than 28 significant digits");
    }
    match Decimal::from_str_exact(text) {
        Ok(value) => Ok(value.normalize()),
        Err(_) => refuse("out of range"),
    }
}

/// Whether `value` fits in [`MAX_SIGNIFICANT_DIGITS`] once trailing zeros are dropped.
fn fits(value: Decimal) -> bool {
    value.normalize().mantissa().unsigned_abs() < 10_u128.pow(28)
}

/// `Display`, `FromStr` and the serde string conversions of a newtype over `Decimal` with a `parse`.
macro_rules! text_conversions {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $t {
            type Err = DomainError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }

        impl TryFrom<String> for $t {
            type Error = DomainError;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                Self::parse(&text)
            }
        }

        impl From<$t> for String {
            fn from(value: $t) -> Self {
                value.to_string()
            }
        }
    };
}

/// A limit or stop price: positive, at most [`Price::MAX_SCALE`] decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Price(Decimal);

impl Price {
    /// The most decimal places a price may have.
    pub const MAX_SCALE: u32 = 8;

    /// Checks `value`: positive, at most eight decimal places (after dropping trailing zeros), ≤ 28 digits.
    pub fn new(value: Decimal) -> Result<Self, DomainError> {
        Self::check(value, &value.to_string())
    }

    /// Parses plain decimal text such as `"150.25"`.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        Self::check(parse_decimal("price", text)?, super::trim_blanks(text))
    }

    fn check(value: Decimal, shown: &str) -> Result<Self, DomainError> {
        let value = value.normalize();
        let refuse = |rule: &str| Err(DomainError::invalid("price", shown, rule));
        if value <= Decimal::ZERO {
            refuse("must be greater than 0")
        } else if value.scale() > Self::MAX_SCALE {
            refuse("at most 8 decimal places")
        } else if !fits(value) {
            refuse("more than 28 significant digits")
        } else {
            Ok(Self(value))
        }
    }

    /// The price as a `Decimal`.
    #[must_use]
    pub fn get(self) -> Decimal {
        self.0
    }
}

text_conversions!(Price);

/// An order quantity: a positive whole number of shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Quantity(Decimal);

impl Quantity {
    /// Checks `value`: positive, whole, ≤ 28 digits. `100.0` is accepted as `100`.
    pub fn new(value: Decimal) -> Result<Self, DomainError> {
        Self::check(value, &value.to_string())
    }

    /// Parses plain decimal text such as `"100"` or `"100.0"`; `"1e2"` and `"100.5"` are refused.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        Self::check(parse_decimal("quantity", text)?, super::trim_blanks(text))
    }

    fn check(value: Decimal, shown: &str) -> Result<Self, DomainError> {
        let value = value.normalize();
        let refuse = |rule: &str| Err(DomainError::invalid("quantity", shown, rule));
        if value <= Decimal::ZERO {
            refuse("must be greater than 0")
        } else if !value.is_integer() {
            refuse("whole shares only")
        } else if !fits(value) {
            refuse("more than 28 significant digits")
        } else {
            Ok(Self(value))
        }
    }

    /// The quantity as a `Decimal`.
    #[must_use]
    pub fn get(self) -> Decimal {
        self.0
    }
}

text_conversions!(Quantity);

/// A signed amount of money in the account's currency; arithmetic is checked and never panics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(pub Decimal);

impl Money {
    /// No money.
    pub const ZERO: Self = Self(Decimal::ZERO);

    /// `self + other`, or `None` on overflow.
    #[must_use]
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// `self - other`, or `None` on overflow.
    #[must_use]
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }

    /// `self × factor`, or `None` on overflow.
    #[must_use]
    pub fn checked_mul(self, factor: Decimal) -> Option<Self> {
        self.0.checked_mul(factor).map(Self)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `quantity × price`, or `None` on overflow.
#[must_use]
pub fn notional(quantity: Quantity, price: Price) -> Option<Decimal> {
    quantity.0.checked_mul(price.0)
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).unwrap()
    }

    #[test]
    fn quantity_accepts_whole_numbers_written_plainly() {
        assert_eq!(Quantity::parse("100").unwrap().get(), dec("100"));
        assert_eq!(Quantity::parse(" 100.0 ").unwrap().to_string(), "100");
        assert_eq!(Quantity::new(dec("25.000")).unwrap().to_string(), "25");
    }

    #[test]
    fn quantity_refusals_name_the_value_and_the_rule() {
        let msg = |text: &str| Quantity::parse(text).unwrap_err().to_string();
        let plain = "expected a plain decimal number such as '150.25' (no exponent, '+' or separators)";
        assert_eq!(msg("1e2"), format!("quantity '1e2': {plain}"));
        assert_eq!(msg("1,000"), format!("quantity '1,000': {plain}"));
        assert_eq!(msg("+5"), format!("quantity '+5': {plain}"));
        assert_eq!(msg("5."), format!("quantity '5.': {plain}"));
        assert_eq!(msg(""), format!("quantity '': {plain}"));
        assert_eq!(msg("NaN"), format!("quantity 'NaN': {plain}"));
        assert_eq!(msg("100.5"), "quantity '100.5': whole shares only");
        assert_eq!(msg("0"), "quantity '0': must be greater than 0");
        assert_eq!(msg("-5"), "quantity '-5': must be greater than 0");
        assert_eq!(
            msg(&"9".repeat(29)),
            format!("quantity '{}': more than 28 significant digits", "9".repeat(29))
        );
    }

    #[test]
    fn price_rules() {
        assert_eq!(Price::parse("150.25").unwrap().get(), dec("150.25"));
        assert_eq!(Price::parse("0.00000001").unwrap().to_string(), "0.00000001");
        assert_eq!(Price::parse("1.5000000000").unwrap().to_string(), "1.5");
        let msg = |text: &str| Price::parse(text).unwrap_err().to_string();
        assert_eq!(
            msg("0.000000001"),
            "price '0.000000001': at most 8 decimal places"
        );
        assert_eq!(msg("0"), "price '0': must be greater than 0");
        assert_eq!(msg("-1.5"), "price '-1.5': must be greater than 0");
        assert_eq!(
            msg("0.00000000000000000000000000001"),
            "price '0.00000000000000000000000000001': out of range"
        );
        assert!(Price::new(Decimal::MAX).is_err());
        assert!(Price::new(dec("-0.01")).is_err());
    }

    #[test]
    fn leading_zeros_are_not_significant() {
        let text = format!("{}1", "0".repeat(40));
        assert_eq!(Quantity::parse(&text).unwrap().to_string(), "1");
    }

    #[test]
    fn serde_goes_through_the_validating_parser() {
        let price: Price = serde_json::from_str("\"101.50\"").unwrap();
        assert_eq!(serde_json::to_string(&price).unwrap(), "\"101.5\"");
        assert!(serde_json::from_str::<Quantity>("\"1e2\"").is_err());
        assert!(serde_json::from_str::<Price>("\"0\"").is_err());
        assert_eq!(serde_json::to_string(&Money(dec("-2.5"))).unwrap(), "\"-2.5\"");
    }

    #[test]
    fn notional_multiplies_and_overflow_is_none() {
        let qty = Quantity::parse("300").unwrap();
        assert_eq!(notional(qty, Price::parse("10.25").unwrap()), Some(dec("3075")));
        let huge_qty = Quantity::parse(&"9".repeat(28)).unwrap();
        let huge_price = Price::parse(&"9".repeat(20)).unwrap();
        assert_eq!(notional(huge_qty, huge_price), None);
    }

    #[test]
    fn money_arithmetic_is_checked() {
        let max = Money(Decimal::MAX);
        assert_eq!(max.checked_add(Money(Decimal::ONE)), None);
        assert_eq!(Money(Decimal::MIN).checked_sub(Money(Decimal::ONE)), None);
        assert_eq!(max.checked_mul(Decimal::TWO), None);
        assert_eq!(
            Money(dec("1.5")).checked_add(Money(dec("2"))),
            Some(Money(dec("3.5")))
        );
        assert_eq!(
            Money(dec("1.5")).checked_sub(Money(dec("2"))),
            Some(Money(dec("-0.5")))
        );
        assert_eq!(Money(dec("1.5")).checked_mul(dec("-2")), Some(Money(dec("-3"))));
        assert_eq!(Money::ZERO, Money::default());
    }

    proptest! {
        #[test]
        fn quantity_display_parse_round_trip(n in 1_u64..) {
            let qty = Quantity::parse(&n.to_string()).unwrap();
            prop_assert_eq!(qty.to_string(), n.to_string());
            prop_assert_eq!(Quantity::parse(&qty.to_string()).unwrap(), qty);
        }

        #[test]
        fn price_display_parse_round_trip(mantissa in 1_i64.., scale in 0_u32..=8) {
            let price = Price::new(Decimal::new(mantissa, scale)).unwrap();
            prop_assert_eq!(Price::parse(&price.to_string()).unwrap(), price);
        }

        #[test]
        fn decimal_parsers_never_panic(text in any::<String>()) {
            let _ = Quantity::parse(&text);
            let _ = Price::parse(&text);
        }
    }
}
