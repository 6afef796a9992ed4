//! The simulated market: one quote per listing, moved by a seeded random walk. Prices are integer cents
//! (every catalogue listing trades in $0.01 ticks). It knows nothing of orders or subscribers.

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::catalogue::LISTINGS;

/// The top of book and session statistics of one listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// Best bid, cents.
    pub bid: i64,
    /// Best ask, cents.
    pub ask: i64,
    /// Last trade, cents.
    pub last: i64,
    /// Shares displayed at the bid.
    pub bid_size: i64,
    /// Shares displayed at the ask.
    pub ask_size: i64,
    /// Size of the last trade.
    pub last_size: i64,
    /// Session volume, shares.
    pub volume: i64,
    /// Session high, cents.
    pub high: i64,
    /// Session low, cents.
    pub low: i64,
    /// Session open, cents.
    pub open: i64,
    /// Previous close, cents.
    pub close: i64,
    /// When the last trade printed.
    pub last_time: DateTime<Utc>,
}

/// Which parts of a quote changed in one step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changed {
    /// Bid price or size.
    pub bid: bool,
    /// Ask price or size.
    pub ask: bool,
    /// A trade printed (last, last size, volume, maybe high/low).
    pub trade: bool,
}

impl Changed {
    /// Whether anything changed.
    #[must_use]
    pub fn any(self) -> bool {
        self.bid || self.ask || self.trade
    }
}

/// All quotes, and the walk that moves them.
#[derive(Debug)]
pub struct Market {
    rng: ChaCha8Rng,
    quotes: Vec<Quote>,
    frozen: Vec<bool>,
}

impl Market {
    /// A market at the catalogue's opening prices, walking with `seed`.
    #[must_use]
    pub fn new(seed: u64, now: DateTime<Utc>) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let quotes = LISTINGS
            .iter()
            .map(|l| {
                let mid = l.start_cents;
                let spread = if l.stock_type == "ETF" {
                    1
                } else {
                    rng.random_range(1..=3)
                };
                Quote {
                    bid: mid - spread / 2 - spread % 2,
                    ask: mid + spread / 2,
                    last: mid,
                    bid_size: rng.random_range(1..=20) * 100,
                    ask_size: rng.random_range(1..=20) * 100,
                    last_size: 100,
                    volume: rng.random_range(100..=5_000) * 100,
                    high: mid + rng.random_range(0..=mid / 100),
                    low: mid - rng.random_range(0..=mid / 100),
                    open: mid,
                    close: mid + rng.random_range(-(mid / 100)..=mid / 100),
                    last_time: now,
                }
            })
            .collect::<Vec<_>>();
        let frozen = vec![false; quotes.len()];
        Self { rng, quotes, frozen }
    }

    /// The quote of listing `index`.
    #[must_use]
    pub fn quote(&self, index: usize) -> &Quote {
        &self.quotes[index]
    }

    /// Whether listing `index`'s quotes are frozen by a fault.
    #[must_use]
    pub fn is_frozen(&self, index: usize) -> bool {
        self.frozen[index]
    }

    /// Freezes or thaws a listing's quotes.
    pub fn set_frozen(&mut self, index: usize, frozen: bool) {
        self.frozen[index] = frozen;
    }

    /// Sets a listing's top of book (tests and scenarios); a trade prints at `last`.
    pub fn set_quote(&mut self, index: usize, bid: i64, ask: i64, last: i64, size: i64, now: DateTime<Utc>) {
        let q = &mut self.quotes[index];
        q.bid = bid;
        q.ask = ask;
        q.bid_size = size;
        q.ask_size = size;
        print_trade(q, last, 100, now);
    }

    /// Takes `shares` off the displayed size at the touch after a simulated fill.
    pub fn consume(&mut self, index: usize, buy: bool, shares: i64) {
        let q = &mut self.quotes[index];
        let side = if buy { &mut q.ask_size } else { &mut q.bid_size };
        *side = (*side - shares).max(0);
    }

    /// One step of the walk (IB streams ≈ 250 ms snapshots). Returns what changed, per listing.
    pub fn step(&mut self, now: DateTime<Utc>) -> Vec<Changed> {
        let mut changes = vec![Changed::default(); self.quotes.len()];
        for (i, change) in changes.iter_mut().enumerate() {
            if self.frozen[i] || !self.rng.random_bool(0.6) {
                continue;
            }
            *change = self.nudge(i, now);
        }
        changes
    }

    /// Moves listing `i` one step of the walk (nothing if it is frozen): a new top of book, and a trade
    /// half the time. Returns what changed.
    pub fn nudge(&mut self, i: usize, now: DateTime<Utc>) -> Changed {
        let mut change = Changed::default();
        if self.frozen[i] {
            return change;
        }
        let q = &mut self.quotes[i];
        let scale = (q.last / 10_000).max(1);
        let drift = self.rng.random_range(-2..=2) * scale;
        let spread = if LISTINGS[i].stock_type == "ETF" {
            1
        } else {
            self.rng.random_range(1..=3)
        };
        // The midpoint rounds down, so an odd spread puts its extra cent above it: the mid of the new quote
        // is `mid` again, and the walk has no drift of its own (with the cent below, it fell a cent a step).
        let mid = q.bid.midpoint(q.ask) + drift;
        let (bid, ask) = ((mid - spread / 2).max(1), (mid + spread / 2 + spread % 2).max(2));
        let (bid_size, ask_size) = (
            self.rng.random_range(1..=20) * 100,
            self.rng.random_range(1..=20) * 100,
        );
        change.bid = bid != q.bid || bid_size != q.bid_size;
        change.ask = ask != q.ask || ask_size != q.ask_size;
        (q.bid, q.ask, q.bid_size, q.ask_size) = (bid, ask.max(bid + 1), bid_size, ask_size);
        if self.rng.random_bool(0.5) {
            let price = if self.rng.random_bool(0.5) { q.bid } else { q.ask };
            let size = self.rng.random_range(1..=5) * 100;
            print_trade(q, price, size, now);
            change.trade = true;
        }
        change
    }
}

fn print_trade(q: &mut Quote, price: i64, size: i64, now: DateTime<Utc>) {
    q.last = price;
    q.last_size = size;
    q.volume += size;
    q.high = q.high.max(price);
    q.low = q.low.min(price);
    q.last_time = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000, 0).expect("valid time")
    }

    #[test]
    fn same_seed_walks_the_same_path() {
        let (mut a, mut b) = (Market::new(7, t0()), Market::new(7, t0()));
        for _ in 0..50 {
            a.step(t0());
            b.step(t0());
        }
        assert_eq!(a.quotes, b.quotes);
        let mut c = Market::new(8, t0());
        for _ in 0..50 {
            c.step(t0());
        }
        assert_ne!(a.quotes, c.quotes);
    }

    #[test]
    fn quotes_stay_sane_over_a_long_walk() {
        let mut m = Market::new(3, t0());
        for _ in 0..5_000 {
            m.step(t0());
        }
        for q in &m.quotes {
            assert!(q.bid > 0 && q.ask > q.bid, "{q:?}");
            assert!(q.bid_size > 0 && q.ask_size > 0);
            assert!(q.low <= q.last && q.last <= q.high, "{q:?}");
        }
    }

    #[test]
    fn the_walk_has_no_drift_of_its_own() {
        // ±2 cents a step at random: after 20,000 steps the mid is within a few dollars of where it began
        // (a cent lost per step would be $200).
        let mut m = Market::new(3, t0());
        for i in [
            0,
            LISTINGS
                .iter()
                .position(|l| l.stock_type == "ETF")
                .expect("an ETF listing"),
        ] {
            let start = m.quote(i).bid.midpoint(m.quote(i).ask);
            for _ in 0..20_000 {
                m.nudge(i, t0());
            }
            let q = m.quote(i);
            let moved = (q.bid.midpoint(q.ask) - start).abs();
            assert!(moved < 40 * 100, "{} moved {moved} cents", LISTINGS[i].symbol);
        }
    }

    #[test]
    fn frozen_listing_does_not_move() {
        let mut m = Market::new(3, t0());
        m.set_frozen(0, true);
        let before = *m.quote(0);
        for _ in 0..100 {
            assert!(!m.step(t0())[0].any());
        }
        assert_eq!(*m.quote(0), before);
    }
}
