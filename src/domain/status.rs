//! The cockpit's view of an order at the broker and the one table of how events move it; it does not track
//! fill quantities (the order record does) or decide what to do about a refused transition.
//!
//! Decisions the table encodes:
//! - Repeats are idempotent: IB re-sends statuses, so an event leading to the current state is `Ok(same)`,
//!   terminal states included (`Filled` + `Filled` is `Ok(Filled)`).
//! - Fills are facts: a part fill or fill is accepted from every open state. A part fill during
//!   `PendingCancel` (a fill racing the cancel) keeps `PendingCancel`; a full fill ends in `Filled`.
//! - `PendingCancel` ignores `Accepted`/`Working` echoes sent before the broker saw the cancel; it is left
//!   only by an end (`Filled`, `Cancelled`, `Rejected`, `Deactivated`) or `CancelRefused`, which returns to
//!   `Submitted` even after part fills (the fill quantity lives on the order record, and the broker's next
//!   status restores `PartiallyFilled`).
//! - A late `CancelRefused` (the cancel lost a race with the end) is absorbed by every terminal state.
//! - `Rejected` absorbs the `Cancelled`/`Deactivated` status IB sends after a reject (error 201).
//! - IB parks working orders (e.g. GTC between sessions) as `PreSubmitted`, so `Submitted` and
//!   `PartiallyFilled` accept `Accepted`.
//! - `Inactive` is not terminal: IB can reactivate, fill or cancel such an order, so it still counts as open.
//! - Everything else is refused with both names; the caller treats that as an unknown order status.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Where an order stands at the broker, as far as the cockpit knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Sent; the broker has not yet accepted it (IB `ApiPending`/`PendingSubmit`).
    PendingSubmit,
    /// Accepted by IB, held until it can go to the venue (IB `PreSubmitted`).
    PreSubmitted,
    /// Working at the venue, nothing filled (IB `Submitted`).
    Submitted,
    /// Working with part of it filled (IB `Submitted` with a fill).
    PartiallyFilled,
    /// A cancel has been sent or reported; the order may still fill.
    PendingCancel,
    /// Completely filled.
    Filled,
    /// Cancelled, possibly after part fills.
    Cancelled,
    /// Refused by the broker or the venue.
    Rejected,
    /// Held by the broker but not working (IB `Inactive`); it may still come back.
    Inactive,
}

/// Something the broker (or the cockpit's own cancel) said about an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderEvent {
    /// The broker has the order but has not accepted it yet (IB `PendingSubmit`).
    Acknowledged,
    /// IB accepted the order and holds it (IB `PreSubmitted`).
    Accepted,
    /// The order is working at the venue without fills (IB `Submitted`).
    Working,
    /// Part of the order filled.
    PartFilled,
    /// The whole order filled.
    Filled,
    /// A cancel was sent or the broker reports one pending (IB `PendingCancel`).
    CancelRequested,
    /// The broker refused the cancel (e.g. IB error 161); the order keeps working.
    CancelRefused,
    /// The order was cancelled.
    Cancelled,
    /// The order was rejected.
    Rejected,
    /// The order went inactive (IB `Inactive`).
    Deactivated,
}

/// A transition the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("order event '{event:?}' is not allowed in status '{status}'")]
pub struct TransitionError {
    /// The status the order was in.
    pub status: OrderStatus,
    /// The event that arrived.
    pub event: OrderEvent,
}

/// The status after `event`, or an error naming both if the pair is not in the table.
#[expect(
    clippy::match_same_arms,
    reason = "one arm per event reads as the table; merging by target hides it"
)]
pub fn transition(status: OrderStatus, event: OrderEvent) -> Result<OrderStatus, TransitionError> {
    use OrderEvent as E;
    use OrderStatus as S;
    let next = match (status, event) {
        (S::PendingSubmit, E::Acknowledged) => S::PendingSubmit,

        (
            S::PendingSubmit | S::PreSubmitted | S::Submitted | S::PartiallyFilled | S::Inactive,
            E::Accepted,
        ) => S::PreSubmitted,
        (S::PendingSubmit | S::PreSubmitted | S::Submitted | S::Inactive, E::Working) => S::Submitted,
        (
            S::PendingSubmit | S::PreSubmitted | S::Submitted | S::PartiallyFilled | S::Inactive,
            E::PartFilled,
        ) => S::PartiallyFilled,

        // The cancel is still pending: echoes sent before the broker saw it, and fills racing it.
        (S::PendingCancel, E::Accepted | E::Working | E::PartFilled | E::CancelRequested) => S::PendingCancel,
        (S::PendingCancel, E::CancelRefused) => S::Submitted,
        (
            S::PendingSubmit | S::PreSubmitted | S::Submitted | S::PartiallyFilled | S::Inactive,
            E::CancelRequested,
        ) => S::PendingCancel,

        (
            S::PendingSubmit
            | S::PreSubmitted
            | S::Submitted
            | S::PartiallyFilled
            | S::PendingCancel
            | S::Inactive
            | S::Filled,
            E::Filled,
        ) => S::Filled,
        (
            S::PendingSubmit
            | S::PreSubmitted
            | S::Submitted
            | S::PartiallyFilled
            | S::PendingCancel
            | S::Inactive
            | S::Cancelled,
            E::Cancelled,
        ) => S::Cancelled,
        (S::PendingSubmit | S::PreSubmitted | S::Submitted | S::PendingCancel | S::Inactive, E::Rejected) => {
            S::Rejected
        }
        (
            S::PendingSubmit
            | S::PreSubmitted
            | S::Submitted
            | S::PartiallyFilled
            | S::PendingCancel
            | S::Inactive,
            E::Deactivated,
        ) => S::Inactive,

        // Terminal states: repeats, a cancel refusal that lost the race, and IB's trailing status after a reject.
        (S::Filled, E::CancelRefused) => S::Filled,
        (S::Cancelled, E::CancelRefused) => S::Cancelled,
        (S::Rejected, E::Rejected | E::Cancelled | E::Deactivated | E::CancelRefused) => S::Rejected,

        _ => return Err(TransitionError { status, event }),
    };
    Ok(next)
}

impl OrderStatus {
    /// Every status, in declaration order.
    pub const ALL: [Self; 9] = [
        Self::PendingSubmit,
        Self::PreSubmitted,
        Self::Submitted,
        Self::PartiallyFilled,
        Self::PendingCancel,
        Self::Filled,
        Self::Cancelled,
        Self::Rejected,
        Self::Inactive,
    ];

    /// Whether the order is over: `Filled`, `Cancelled` or `Rejected`.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Filled | Self::Cancelled | Self::Rejected)
    }

    /// Whether the broker has accepted the order and it can fill now (a pending cancel still can).
    #[must_use]
    pub fn is_working(self) -> bool {
        matches!(
            self,
            Self::PreSubmitted | Self::Submitted | Self::PartiallyFilled | Self::PendingCancel
        )
    }

    /// Whether the order might still fill: everything not terminal, in-flight and inactive included.
    /// This is what risk checks count.
    #[must_use]
    pub fn is_open(self) -> bool {
        !self.is_terminal()
    }

    /// Maps a TWS `orderStatus` string; `None` for a status the cockpit does not know (treat as unknown).
    ///
    /// TWS has no partially-filled status: `Submitted` with `filled > 0` is `PartiallyFilled` while
    /// `remaining > 0`, and `Filled` once nothing remains (TWS's own `Filled` then repeats it). Other statuses
    /// are taken as TWS says them, fills or not. Status names are matched exactly, as TWS sends them.
    #[must_use]
    pub fn from_ib(status: &str, filled: Decimal, remaining: Decimal) -> Option<Self> {
        let has_fills = filled > Decimal::ZERO;
        Some(match status {
            "ApiPending" | "PendingSubmit" => Self::PendingSubmit,
            "PreSubmitted" => Self::PreSubmitted,
            "Submitted" if has_fills && remaining > Decimal::ZERO => Self::PartiallyFilled,
            "Submitted" if has_fills => Self::Filled,
            "Submitted" => Self::Submitted,
            "PendingCancel" => Self::PendingCancel,
            "ApiCancelled" | "Cancelled" => Self::Cancelled,
            "Filled" => Self::Filled,
            "Inactive" => Self::Inactive,
            _ => return None,
        })
    }

    /// The status's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingSubmit => "PendingSubmit",
            Self::PreSubmitted => "PreSubmitted",
            Self::Submitted => "Submitted",
            Self::PartiallyFilled => "PartiallyFilled",
            Self::PendingCancel => "PendingCancel",
            Self::Filled => "Filled",
            Self::Cancelled => "Cancelled",
            Self::Rejected => "Rejected",
            Self::Inactive => "Inactive",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl OrderEvent {
    /// Every event, in declaration order.
    pub const ALL: [Self; 10] = [
        Self::Acknowledged,
        Self::Accepted,
        Self::Working,
        Self::PartFilled,
        Self::Filled,
        Self::CancelRequested,
        Self::CancelRefused,
        Self::Cancelled,
        Self::Rejected,
        Self::Deactivated,
    ];

    /// The event a broker status report stands for (`CancelRefused` has no status of its own).
    #[must_use]
    pub fn reported(status: OrderStatus) -> Self {
        match status {
            OrderStatus::PendingSubmit => Self::Acknowledged,
            OrderStatus::PreSubmitted => Self::Accepted,
            OrderStatus::Submitted => Self::Working,
            OrderStatus::PartiallyFilled => Self::PartFilled,
            OrderStatus::PendingCancel => Self::CancelRequested,
            OrderStatus::Filled => Self::Filled,
            OrderStatus::Cancelled => Self::Cancelled,
            OrderStatus::Rejected => Self::Rejected,
            OrderStatus::Inactive => Self::Deactivated,
        }
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
