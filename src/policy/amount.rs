//! Exact decimal arithmetic for the policy's sums and products: an `i128` mantissa with a scale on the
//! fast path, a big integer when that overflows. Nothing rounds, wraps or panics, so a limit comparison
//! is exact at any size ("one smallest unit above a limit is refused" holds for 28-digit values too).

use std::cmp::Ordering;
use std::fmt;

use num_bigint::BigInt;
use rust_decimal::Decimal;

/// `mantissa / 10^scale`, exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Amount {
    /// Fits an `i128` mantissa.
    Small(i128, u32),
    /// Does not.
    Big(BigInt, u32),
}

/// `10^k` for every `k` whose power fits an `i128` (0..=38).
const POW10: [i128; 39] = {
    let mut table = [1_i128; 39];
    let mut k = 1;
    while k < table.len() {
        table[k] = table[k - 1] * 10;
        k += 1;
    }
    table
};

fn pow10(k: u32) -> Option<i128> {
    POW10.get(usize::try_from(k).ok()?).copied()
}

/// `m * 10^up`, if it fits.
fn raised(m: i128, up: u32) -> Option<i128> {
    if up == 0 {
        Some(m)
    } else {
        pow10(up).and_then(|f| m.checked_mul(f))
    }
}

impl Amount {
    /// Zero.
    pub(super) const ZERO: Self = Self::Small(0, 0);

    /// A decimal, exactly.
    pub(super) fn of(value: Decimal) -> Self {
        Self::Small(value.mantissa(), value.scale())
    }

    fn scale(&self) -> u32 {
        match self {
            Self::Small(_, s) | Self::Big(_, s) => *s,
        }
    }

    fn big(&self) -> BigInt {
        match self {
            Self::Small(m, _) => BigInt::from(*m),
            Self::Big(m, _) => m.clone(),
        }
    }

    /// The same value at `scale` (not below the current one).
    fn at_scale(&self, scale: u32) -> Self {
        let up = scale - self.scale();
        if let Self::Small(m, _) = self
            && let Some(m) = raised(*m, up)
        {
            return Self::Small(m, scale);
        }
        Self::Big(self.big() * BigInt::from(10).pow(up), scale)
    }

    /// `self + other`.
    pub(super) fn add(&self, other: &Self) -> Self {
        let scale = self.scale().max(other.scale());
        // Both fit an i128 at the common scale, and so does the sum: the common case. Else big integers.
        if let (Self::Small(a, sa), Self::Small(b, sb)) = (self, other)
            && let (Some(a), Some(b)) = (raised(*a, scale - sa), raised(*b, scale - sb))
            && let Some(sum) = a.checked_add(b)
        {
            return Self::Small(sum, scale);
        }
        Self::Big(self.at_scale(scale).big() + other.at_scale(scale).big(), scale)
    }

    /// `self * other`.
    pub(super) fn mul(&self, other: &Self) -> Self {
        let scale = self.scale() + other.scale();
        if let (Self::Small(a, _), Self::Small(b, _)) = (self, other)
            && let Some(product) = a.checked_mul(*b)
        {
            return Self::Small(product, scale);
        }
        Self::Big(self.big() * other.big(), scale)
    }

    /// `self / 10^k`.
    pub(super) fn shift_down(&self, k: u32) -> Self {
        match self {
            Self::Small(m, s) => Self::Small(*m, s + k),
            Self::Big(m, s) => Self::Big(m.clone(), s + k),
        }
    }

    /// `-self`.
    pub(super) fn neg(&self) -> Self {
        match self {
            Self::Small(m, s) if let Some(n) = m.checked_neg() => Self::Small(n, *s),
            other => Self::Big(-other.big(), other.scale()),
        }
    }

    /// `|self|`.
    pub(super) fn abs(&self) -> Self {
        if self.cmp_to(&Self::ZERO) == Ordering::Less {
            self.neg()
        } else {
            self.clone()
        }
    }

    /// Compares the values.
    pub(super) fn cmp_to(&self, other: &Self) -> Ordering {
        let scale = self.scale().max(other.scale());
        if let (Self::Small(a, sa), Self::Small(b, sb)) = (self, other)
            && let (Some(a), Some(b)) = (raised(*a, scale - sa), raised(*b, scale - sb))
        {
            return a.cmp(&b);
        }
        self.at_scale(scale).big().cmp(&other.at_scale(scale).big())
    }

    /// Whether the value is strictly greater than `limit`.
    pub(super) fn exceeds(&self, limit: Decimal) -> bool {
        self.cmp_to(&Self::of(limit)) == Ordering::Greater
    }

    /// For messages: rounded to cents, or "more than can be represented" beyond `Decimal`'s range.
    pub(super) fn shown(&self) -> String {
        if self.cmp_to(&Self::of(Decimal::MAX)).is_gt() || self.cmp_to(&Self::of(Decimal::MIN)).is_lt() {
            "more than can be represented".to_string()
        } else {
            self.to_decimal().round_dp(2).normalize().to_string()
        }
    }

    /// The nearest `Decimal` (exact when it fits; rounded to 28 digits, or `Decimal::MAX`, when not).
    pub(super) fn to_decimal(&self) -> Decimal {
        if let Self::Small(m, s) = self
            && let Ok(d) = Decimal::try_from_i128_with_scale(*m, *s)
        {
            return d;
        }
        let text = self.to_string();
        text.parse::<Decimal>().unwrap_or(if text.starts_with('-') {
            Decimal::MIN
        } else {
            Decimal::MAX
        })
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.big();
        let digits = m.magnitude().to_string();
        let scale = usize::try_from(self.scale()).unwrap_or(usize::MAX);
        let sign = if m.sign() == num_bigint::Sign::Minus {
            "-"
        } else {
            ""
        };
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            write!(f, "{sign}{int}")
        } else {
            write!(f, "{sign}{int}.{frac}")
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn a(text: &str) -> Amount {
        Amount::of(Decimal::from_str(text).unwrap())
    }

    #[test]
    fn sums_and_products_past_decimal_stay_exact() {
        let nines = a("9999999999999999999999999999");
        let n = nines.mul(&a("0.99"));
        assert_eq!(n.to_string(), "9899999999999999999999999999.01");
        assert!(n.exceeds(Decimal::from_str("9899999999999999999999999999").unwrap()));
        assert!(!n.exceeds(Decimal::from_str("9900000000000000000000000000").unwrap()));
        let huge = nines.mul(&nines).mul(&nines);
        assert!(matches!(huge, Amount::Big(..)));
        assert!(huge.exceeds(Decimal::MAX));
        assert_eq!(huge.add(&huge.neg()).cmp_to(&Amount::ZERO), Ordering::Equal);
        let max = Amount::of(Decimal::MAX);
        assert_eq!(max.add(&max).to_string(), "158456325028528675187087900670");
    }

    #[test]
    fn scales_align_and_shift() {
        assert_eq!(a("1.5").add(&a("0.25")).to_string(), "1.75");
        assert_eq!(a("105").mul(&a("100.02")).shift_down(2).to_string(), "105.021");
        assert_eq!(a("-3.10").abs().to_string(), "3.1");
        assert_eq!(a("0.001").cmp_to(&a("0.0010")), Ordering::Equal);
        assert_eq!(a("-0.5").to_string(), "-0.5");
        assert_eq!(
            a("1").shift_down(40).to_string(),
            format!("0.{}1", "0".repeat(39))
        );
        assert!(a("1").shift_down(40).exceeds(Decimal::ZERO));
        assert_eq!(a("12.5").to_decimal(), Decimal::from_str("12.5").unwrap());
    }

    #[test]
    fn a_sum_or_comparison_whose_rescaled_operand_overflows_goes_big_and_stays_exact() {
        // 10^37 at scale 0 against 1 at scale 2: rescaling the first overflows an i128 (10^39).
        let big = Amount::Small(10_i128.pow(37), 0);
        let cent = Amount::Small(1, 2);
        let sum = big.add(&cent);
        assert!(matches!(sum, Amount::Big(..)), "{sum:?}");
        assert_eq!(sum.to_string(), format!("1{}.01", "0".repeat(37)));
        assert_eq!(big.cmp_to(&cent), Ordering::Greater);
        assert_eq!(cent.cmp_to(&big), Ordering::Less);
        assert_eq!(pow10(38), Some(10_i128.pow(38)));
        assert_eq!(pow10(39), None);
    }
}
