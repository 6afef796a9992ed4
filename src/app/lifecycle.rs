//! The staged-order lifecycle before and around the broker: one table of which step moves a proposal
//! where. What happens at the broker after sending is `domain::OrderStatus`'s own table; this one only
//! records that the order ended.

use std::fmt;

use thiserror::Error;

/// Where a staged order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The policy refused the current version; an edit may make a new one.
    Refused,
    /// Clearable; waiting for the trader (or, for tier `None`, about to be approved automatically).
    AwaitingApproval,
    /// Approved: holds a `Cleared`; its intent is being committed to the journal.
    Approved,
    /// The intent is durable and the order was handed to the broker.
    Sent,
    /// Restored after a restart: the intent was durable but whether the order left is unknown until the
    /// broker's open orders and executions say; counted as working meanwhile, never resent.
    InDoubt,
    /// Finished.
    Done(End),
}

/// How a staged order ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// Completely filled.
    Filled,
    /// Cancelled at the broker (possibly after part fills).
    Cancelled,
    /// Rejected by the broker.
    BrokerRejected,
    /// Rejected by the trader.
    TraderRejected,
    /// Not approved in time.
    Expired,
    /// Withdrawn by the agent that staged it.
    Withdrawn,
    /// Approved but never sent: the intent could not be made durable, or trading stepped down first.
    NotSent,
    /// A dry-run profile: the broker adapter recorded the order instead of sending it.
    DryRun,
    /// Voided when the trader switched profile: an order staged for one account and gateway is never
    /// carried to another.
    Voided,
}

/// What can happen to a staged order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// A policy verdict on the current version (first check, re-check, or after an edit).
    Verdict {
        /// Whether the verdict was clearable.
        clearable: bool,
    },
    /// The approval was accepted; a `Cleared` exists.
    Approve,
    /// The intent's commit (with its full sync) finished.
    IntentCommitted,
    /// The intent could not be committed, or the trading state moved before it was sent.
    IntentFailed,
    /// The trader rejected it.
    Reject,
    /// Its approval window passed.
    Expire,
    /// The agent withdrew it.
    Withdraw,
    /// The broker ended it.
    BrokerEnded(End),
    /// The shell could not hand a durable intent's order to the broker (its records failed to commit).
    Dropped,
    /// A dry-run profile's broker adapter recorded the order instead of sending it.
    Recorded,
    /// The trader switched profile while it waited.
    Void,
    /// The broker said whether an in-doubt order reached it.
    Resolved {
        /// Whether the broker knows the order.
        found: bool,
    },
}

/// A step the table does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{step:?} is not allowed when the staged order is {stage}")]
pub struct LifecycleError {
    /// Where it was.
    pub stage: Stage,
    /// What was tried.
    pub step: Step,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Refused => "refused",
            Self::AwaitingApproval => "awaiting approval",
            Self::Approved => "approved",
            Self::Sent => "sent",
            Self::InDoubt => "in doubt",
            Self::Done(End::Filled) => "filled",
            Self::Done(End::Cancelled) => "cancelled",
            Self::Done(End::BrokerRejected) => "rejected by the broker",
            Self::Done(End::TraderRejected) => "rejected by the trader",
            Self::Done(End::Expired) => "expired",
            Self::Done(End::Withdrawn) => "withdrawn",
            Self::Done(End::NotSent) => "not sent",
            Self::Done(End::DryRun) => "recorded (dry run)",
            Self::Done(End::Voided) => "voided (profile switch)",
        };
        f.write_str(text)
    }
}

impl Stage {
    /// Whether the trader can still act on it (approve, edit, reject).
    #[must_use]
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Refused | Self::AwaitingApproval)
    }
}

/// The one table.
pub fn next(stage: Stage, step: Step) -> Result<Stage, LifecycleError> {
    use Stage::{Approved, AwaitingApproval, Done, InDoubt, Refused, Sent};
    let to = match (stage, step) {
        (Refused | AwaitingApproval, Step::Verdict { clearable: true }) => AwaitingApproval,
        (Refused | AwaitingApproval, Step::Verdict { clearable: false }) => Refused,
        (AwaitingApproval, Step::Approve) => Approved,
        (Refused | AwaitingApproval, Step::Reject) => Done(End::TraderRejected),
        (Refused | AwaitingApproval, Step::Expire) => Done(End::Expired),
        (Refused | AwaitingApproval, Step::Withdraw) => Done(End::Withdrawn),
        (Refused | AwaitingApproval, Step::Void) => Done(End::Voided),
        (Approved, Step::IntentCommitted) | (InDoubt, Step::Resolved { found: true }) => Sent,
        (Approved, Step::IntentFailed)
        | (Sent, Step::Dropped)
        | (InDoubt, Step::Resolved { found: false }) => Done(End::NotSent),
        (Sent, Step::BrokerEnded(end @ (End::Filled | End::Cancelled | End::BrokerRejected))) => Done(end),
        (Sent, Step::Recorded) => Done(End::DryRun),
        _ => return Err(LifecycleError { stage, step }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENDS: [End; 8] = [
        End::Filled,
        End::Cancelled,
        End::BrokerRejected,
        End::TraderRejected,
        End::Expired,
        End::Withdrawn,
        End::NotSent,
        End::DryRun,
    ];

    fn stages() -> Vec<Stage> {
        let mut all = vec![
            Stage::Refused,
            Stage::AwaitingApproval,
            Stage::Approved,
            Stage::Sent,
            Stage::InDoubt,
        ];
        all.extend(ENDS.map(Stage::Done));
        all
    }

    fn steps() -> Vec<Step> {
        let mut all = vec![
            Step::Verdict { clearable: true },
            Step::Verdict { clearable: false },
            Step::Approve,
            Step::IntentCommitted,
            Step::IntentFailed,
            Step::Reject,
            Step::Expire,
            Step::Withdraw,
            Step::Dropped,
            Step::Recorded,
            Step::Resolved { found: true },
            Step::Resolved { found: false },
        ];
        all.extend(ENDS.map(Step::BrokerEnded));
        all
    }

    /// The table written out by hand: every allowed pair and where it goes.
    fn expected(stage: Stage, step: Step) -> Option<Stage> {
        use Stage::{Approved, AwaitingApproval, Done, InDoubt, Refused, Sent};
        let pending = matches!(stage, Refused | AwaitingApproval);
        match step {
            Step::Verdict { clearable } if pending => {
                Some(if clearable { AwaitingApproval } else { Refused })
            }
            Step::Approve if stage == AwaitingApproval => Some(Approved),
            Step::Reject if pending => Some(Done(End::TraderRejected)),
            Step::Expire if pending => Some(Done(End::Expired)),
            Step::Withdraw if pending => Some(Done(End::Withdrawn)),
            Step::IntentCommitted if stage == Approved => Some(Sent),
            Step::IntentFailed if stage == Approved => Some(Done(End::NotSent)),
            Step::BrokerEnded(end) if stage == Sent => {
                matches!(end, End::Filled | End::Cancelled | End::BrokerRejected).then_some(Done(end))
            }
            Step::Dropped if stage == Sent => Some(Done(End::NotSent)),
            Step::Recorded if stage == Sent => Some(Done(End::DryRun)),
            Step::Resolved { found } if stage == InDoubt => {
                Some(if found { Sent } else { Done(End::NotSent) })
            }
            _ => None,
        }
    }

    #[test]
    fn every_pair_of_stage_and_step() {
        let mut allowed = 0;
        for stage in stages() {
            for step in steps() {
                let got = next(stage, step).ok();
                assert_eq!(got, expected(stage, step), "{stage:?} + {step:?}");
                if got.is_none() {
                    assert_eq!(next(stage, step), Err(LifecycleError { stage, step }));
                } else {
                    allowed += 1;
                }
            }
        }
        assert_eq!(allowed, 20, "the number of allowed transitions");
    }

    #[test]
    fn a_refused_order_cannot_be_approved_and_a_sent_one_cannot_be_rejected() {
        assert!(next(Stage::Refused, Step::Approve).is_err());
        assert!(next(Stage::Sent, Step::Reject).is_err());
        assert!(next(Stage::Approved, Step::Approve).is_err(), "approving twice");
        assert!(next(Stage::Done(End::Filled), Step::Verdict { clearable: true }).is_err());
    }

    #[test]
    fn only_refused_and_awaiting_are_pending() {
        let pending: Vec<Stage> = stages().into_iter().filter(|s| s.is_pending()).collect();
        assert_eq!(pending, [Stage::Refused, Stage::AwaitingApproval]);
        assert_eq!(Stage::Done(End::NotSent).to_string(), "not sent");
    }
}
