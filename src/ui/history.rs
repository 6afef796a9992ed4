//! Short histories for the sparklines: each instrument's mid and the account's daily P&L, sampled at most
//! once a second, the last [`SAMPLES`] kept. People would rather look at a trend than read one.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::app::State;
use crate::domain::Instrument;

/// Samples kept per series.
pub const SAMPLES: usize = 60;

/// The histories.
#[derive(Debug, Default)]
pub struct History {
    mids: BTreeMap<Instrument, VecDeque<Decimal>>,
    pnl: VecDeque<Decimal>,
    last: Option<DateTime<Utc>>,
}

fn push(series: &mut VecDeque<Decimal>, value: Decimal) {
    if series.len() == SAMPLES {
        series.pop_front();
    }
    series.push_back(value);
}

impl History {
    /// Samples `state` if a second has passed since the last sample; returns whether it did.
    pub fn sample(&mut self, state: &State, now: DateTime<Utc>) -> bool {
        if self
            .last
            .is_some_and(|at| now - at < chrono::Duration::seconds(1))
        {
            return false;
        }
        self.last = Some(now);
        for (instrument, quote) in &state.quotes {
            if let Some(mid) = quote.mid().or(quote.last.map(crate::domain::Price::get)) {
                push(self.mids.entry(instrument.clone()).or_default(), mid);
            }
        }
        if let Some(pnl) = state.accounts.values().find_map(|a| a.daily_pnl) {
            push(&mut self.pnl, pnl);
        }
        true
    }

    /// An instrument's mids as sparkline heights (offset from the window's low, in basis points of it).
    #[must_use]
    pub fn mids(&self, instrument: &Instrument) -> Vec<u64> {
        self.mids.get(instrument).map(heights).unwrap_or_default()
    }

    /// The daily P&L as sparkline heights.
    #[must_use]
    pub fn pnl(&self) -> Vec<u64> {
        heights(&self.pnl)
    }
}

/// Values as heights above the window's minimum, in hundredths.
fn heights(series: &VecDeque<Decimal>) -> Vec<u64> {
    let Some(low) = series.iter().min().copied() else {
        return Vec::new();
    };
    series
        .iter()
        .map(|v| ((*v - low) * Decimal::ONE_HUNDRED).to_u64().unwrap_or(0))
        .collect()
}
