//! Quotes and how old they are, measured against a `now` passed in; it does not subscribe to market data or
//! read a clock.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Price;

/// Where an instrument's quotes come from, as the gateway says. Only `Live` quotes price orders: the
/// policy sees no quote for the others (rules that need one answer `NO_QUOTE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataStatus {
    /// Real-time data.
    Live,
    /// Delayed (typically 15 minutes; IB 10167 or market data type 3/4).
    Delayed,
    /// The last data before the market closed (market data type 2).
    Frozen,
    /// None: not subscribed (354), no such security (200), or the subscription ended.
    Unavailable {
        /// Why, in IB's words with its code.
        why: String,
    },
}

impl std::fmt::Display for DataStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Live => f.write_str("live"),
            Self::Delayed => f.write_str("delayed"),
            Self::Frozen => f.write_str("frozen"),
            Self::Unavailable { why } => write!(f, "unavailable: {why}"),
        }
    }
}

/// The latest top of book for one instrument, as the broker adapter last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Best bid, if any.
    pub bid: Option<Price>,
    /// Best ask, if any.
    pub ask: Option<Price>,
    /// Last trade price, if any.
    pub last: Option<Price>,
    /// Size at the bid.
    pub bid_size: Option<Decimal>,
    /// Size at the ask.
    pub ask_size: Option<Decimal>,
    /// Session volume.
    pub volume: Option<Decimal>,
    /// When the cockpit received the latest tick.
    pub received_at: DateTime<Utc>,
}

impl Quote {
    /// A quote with no prices yet, received at `received_at`.
    #[must_use]
    pub fn empty(received_at: DateTime<Utc>) -> Self {
        Self {
            bid: None,
            ask: None,
            last: None,
            bid_size: None,
            ask_size: None,
            volume: None,
            received_at,
        }
    }

    /// `now - received_at`; negative when the quote is stamped after `now`.
    #[must_use]
    pub fn age(&self, now: DateTime<Utc>) -> Duration {
        now - self.received_at
    }

    /// The midpoint of bid and ask; `None` if either is missing or the market is crossed (bid > ask).
    #[must_use]
    pub fn mid(&self) -> Option<Decimal> {
        let (bid, ask) = (self.bid?.get(), self.ask?.get());
        if bid > ask {
            return None;
        }
        bid.checked_add(ask)?.checked_div(Decimal::TWO)
    }

    /// The coarse age shown on screen; see [`AgeBucket`].
    #[must_use]
    pub fn bucket(&self, now: DateTime<Utc>, stale_after: Duration) -> AgeBucket {
        AgeBucket::of(self.age(now), stale_after)
    }
}

/// A quote's age in coarse steps, so an idle screen stays quiet.
///
/// Ordered from fresh to stale (`UnderOneSecond < … < Older < Stale`). `Stale` (age strictly greater than
/// `stale_after`) wins over every other bucket; an age of exactly one second is `UnderFiveSeconds`, and a
/// negative age (clock skew) counts as fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeBucket {
    /// Younger than one second.
    UnderOneSecond,
    /// One to five seconds old.
    UnderFiveSeconds,
    /// Five to sixty seconds old.
    UnderOneMinute,
    /// A minute or older, but not yet stale.
    Older,
    /// Older than the stale limit: not to be traded on.
    Stale,
}

impl AgeBucket {
    /// The bucket of `age` given the stale limit.
    #[must_use]
    pub fn of(age: Duration, stale_after: Duration) -> Self {
        if age > stale_after {
            Self::Stale
        } else if age < Duration::seconds(1) {
            Self::UnderOneSecond
        } else if age < Duration::seconds(5) {
            Self::UnderFiveSeconds
        } else if age < Duration::minutes(1) {
            Self::UnderOneMinute
        } else {
            Self::Older
        }
    }

    /// The short label for the screen.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::UnderOneSecond => "<1s",
            Self::UnderFiveSeconds => "<5s",
            Self::UnderOneMinute => "<1m",
            Self::Older => ">1m",
            Self::Stale => "STALE",
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 14, 30, 0).unwrap()
    }

    fn price(text: &str) -> Price {
        Price::parse(text).unwrap()
    }

    #[test]
    fn age_is_now_minus_received() {
        let quote = Quote::empty(t0());
        assert_eq!(
            quote.age(t0() + Duration::milliseconds(1500)),
            Duration::milliseconds(1500)
        );
        assert_eq!(quote.age(t0() - Duration::seconds(2)), Duration::seconds(-2));
    }

    #[test]
    fn buckets_at_their_boundaries() {
        let stale_after = Duration::minutes(5);
        let at = |millis: i64| AgeBucket::of(Duration::milliseconds(millis), stale_after);
        assert_eq!(at(-3000), AgeBucket::UnderOneSecond);
        assert_eq!(at(0), AgeBucket::UnderOneSecond);
        assert_eq!(at(999), AgeBucket::UnderOneSecond);
        assert_eq!(at(1000), AgeBucket::UnderFiveSeconds);
        assert_eq!(at(4999), AgeBucket::UnderFiveSeconds);
        assert_eq!(at(5000), AgeBucket::UnderOneMinute);
        assert_eq!(at(59_999), AgeBucket::UnderOneMinute);
        assert_eq!(at(60_000), AgeBucket::Older);
        assert_eq!(at(300_000), AgeBucket::Older);
        assert_eq!(at(300_001), AgeBucket::Stale);
    }

    #[test]
    fn stale_wins_over_a_short_limit() {
        let quote = Quote::empty(t0());
        let now = t0() + Duration::milliseconds(500);
        assert_eq!(quote.bucket(now, Duration::milliseconds(499)), AgeBucket::Stale);
        assert_eq!(
            quote.bucket(now, Duration::milliseconds(500)),
            AgeBucket::UnderOneSecond
        );
    }

    #[test]
    fn buckets_are_ordered_fresh_to_stale() {
        use AgeBucket::{Older, Stale, UnderFiveSeconds, UnderOneMinute, UnderOneSecond};
        assert!(UnderOneSecond < UnderFiveSeconds && UnderFiveSeconds < UnderOneMinute);
        assert!(UnderOneMinute < Older && Older < Stale);
        assert_eq!(Stale.label(), "STALE");
    }

    #[test]
    fn mid_needs_both_sides_and_an_uncrossed_market() {
        let mut quote = Quote {
            bid: Some(price("100.10")),
            ask: Some(price("100.20")),
            ..Quote::empty(t0())
        };
        assert_eq!(quote.mid(), Some(Decimal::from_str_exact("100.15").unwrap()));
        quote.ask = Some(price("100.10"));
        assert_eq!(quote.mid(), Some(Decimal::from_str_exact("100.10").unwrap()));
        quote.ask = Some(price("100.00"));
        assert_eq!(quote.mid(), None);
        quote.ask = None;
        assert_eq!(quote.mid(), None);
    }
}
