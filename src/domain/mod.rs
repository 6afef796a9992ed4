//! The shared vocabulary of the cockpit — ids, instruments, sides, order types, money, tickets, the
//! order-status table, positions, quotes and alerts — as validated values; no I/O, no clock, no async.
//!
//! Every constructor that takes outside text checks it once and names the value and the rule when it refuses;
//! everything past that trusts the types.

mod account;
mod alert;
mod error;
mod ids;
mod instrument;
mod money;
mod order;
mod quote;
mod status;

/// Strips surrounding spaces and tabs only. Every other whitespace or control character (newline, NEL,
/// no-break space, …) stays in, so the parser refuses it instead of silently accepting `"AAPL\n"`.
fn trim_blanks(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

pub use account::{AccountSummary, Position};
pub use alert::{Alert, AlertId, AlertSource, Severity};
pub use error::DomainError;
pub use ids::{AccountId, AccountKind, ClientId, ContractId, OrderId, ProposalId, Symbol};
pub use instrument::{Currency, Instrument, SecType};
pub use money::{MAX_SIGNIFICANT_DIGITS, Money, Price, Quantity, notional};
pub use order::{OrderTicket, OrderType, Side, Tif};
pub use quote::{AgeBucket, DataStatus, Quote};
pub use status::{OrderEvent, OrderStatus, TransitionError, transition};
