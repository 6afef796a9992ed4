//! The policy engine: `check(ticket, ctx) -> Verdict`, `approve(verdict, evidence) -> Cleared`, and the
//! trading state. Pure and synchronous: no clock, socket or file; `now` comes in with the context.
//!
//! Every rule is written down in `config.example.toml`; `tests/policy_oracle.rs` holds a second checker,
//! written from that text alone, that every decision here must agree with.

mod amount;
mod approve;
mod check;
mod context;
mod state;

pub use approve::{ApprovalError, Cleared, Evidence, approve};
pub(crate) use check::read_back;
pub use check::{check, fingerprint};
pub use context::{
    Clearable, Context, DailyCounters, Fingerprint, Requester, Rule, Submitted, Tier, UnapprovedSpend,
    Verdict, Violation, WorkingOrder,
};
pub use state::{Cause, Level, ResumeBy, ResumeError, TradingState};

#[cfg(test)]
mod tests;
