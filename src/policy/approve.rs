//! `approve`: turns a clearable verdict and the trader's evidence into a `Cleared` — the only value the
//! broker accepts for sending. A `Cleared` cannot be cloned, defaulted, serialised or built anywhere else.

use rust_decimal::Decimal;
use thiserror::Error;

use super::context::{Fingerprint, Rule, Tier, Verdict};
use crate::domain::OrderTicket;

/// What the approver offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// No human involved: enough only for tier `None`.
    Automatic,
    /// The trader confirmed the order with this fingerprint.
    Confirm(Fingerprint),
    /// The trader typed `text` for the order with this fingerprint.
    Typed(Fingerprint, String),
}

/// Why an approval was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApprovalError {
    /// The verdict refused the order.
    #[error("the order was refused: {}", .0.iter().map(|r| r.code()).collect::<Vec<_>>().join(", "))]
    Refused(Vec<Rule>),
    /// The evidence is weaker than the tier needs.
    #[error("this order needs {needed:?} approval")]
    Insufficient {
        /// The tier the verdict asked for.
        needed: Tier,
    },
    /// The evidence is for another order or version.
    #[error("the approval was for a different order or version (fingerprint {given}, order {expected})")]
    WrongOrder {
        /// The fingerprint the evidence names.
        given: Fingerprint,
        /// The order's fingerprint.
        expected: Fingerprint,
    },
    /// The typed text does not match the read-back.
    #[error("typed '{typed}' does not match '{expected}'")]
    ReadBackMismatch {
        /// What was typed (control characters escaped).
        typed: String,
        /// What had to be typed.
        expected: String,
    },
}

/// An order that passed the policy and was approved at its tier. Moved into the broker's `Place`; never
/// cloned, stored or rebuilt — an approval does not survive a restart.
#[derive(Debug, PartialEq, Eq)]
pub struct Cleared {
    ticket: OrderTicket,
    fingerprint: Fingerprint,
    tier: Tier,
    epoch: u64,
    notional: Decimal,
}

impl Cleared {
    /// The approved order.
    #[must_use]
    pub fn ticket(&self) -> &OrderTicket {
        &self.ticket
    }

    /// Its fingerprint.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The tier it was approved at.
    #[must_use]
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// The trading-state epoch it was checked under; the broker drops it if the epoch has moved on.
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Its notional at the worst price.
    #[must_use]
    pub fn notional(&self) -> Decimal {
        self.notional
    }
}

/// Builds a [`Cleared`] when `evidence` meets the verdict's tier for exactly this order.
pub fn approve(verdict: Verdict, evidence: &Evidence) -> Result<Cleared, ApprovalError> {
    let clearable = match verdict {
        Verdict::Refused(violations) => {
            return Err(ApprovalError::Refused(
                violations.iter().map(|v| v.rule).collect(),
            ));
        }
        Verdict::Clearable(c) => c,
    };
    let expected = clearable.fingerprint;
    let same = |given: &Fingerprint| {
        if *given == expected {
            Ok(())
        } else {
            Err(ApprovalError::WrongOrder {
                given: *given,
                expected,
            })
        }
    };
    match (clearable.tier, evidence) {
        (Tier::None, Evidence::Automatic) => {}
        (Tier::None | Tier::Confirm, Evidence::Confirm(given)) => same(given)?,
        (_, Evidence::Typed(given, text)) => {
            same(given)?;
            if normalise(text) != normalise(&clearable.read_back) {
                return Err(ApprovalError::ReadBackMismatch {
                    typed: text.chars().take(60).flat_map(char::escape_debug).collect(),
                    expected: clearable.read_back,
                });
            }
        }
        (needed, _) => return Err(ApprovalError::Insufficient { needed }),
    }
    Ok(Cleared {
        ticket: clearable.ticket,
        fingerprint: expected,
        tier: clearable.tier,
        epoch: clearable.epoch,
        notional: clearable.notional,
    })
}

/// Upper-case ASCII with runs of spaces collapsed; any other character stays as typed (so a lookalike
/// never matches).
fn normalise(text: &str) -> String {
    text.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}
