//! The trading state — Active, Reducing or Halted — with the causes that hold it down and an epoch that
//! every change bumps; it steps down on its own and up only through an explicit human resume.

use std::collections::BTreeMap;
use std::fmt;

use thiserror::Error;

use crate::config::StepTo;

/// How much may be traded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Every order the policy allows.
    Active,
    /// Only orders that shrink a position without flipping it.
    Reducing,
    /// Nothing but cancels.
    Halted,
}

impl Level {
    /// As shown on screen.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Reducing => "REDUCING",
            Self::Halted => "HALTED",
        }
    }
}

impl From<StepTo> for Level {
    fn from(to: StepTo) -> Self {
        match to {
            StepTo::Reducing => Self::Reducing,
            StepTo::Halted => Self::Halted,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why the state is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// The broker connection is down.
    Disconnected,
    /// Too many consecutive rejects.
    RejectStreak,
    /// IB reported a duplicate order id (error 103).
    DuplicateOrderId,
    /// Local state and broker state disagree.
    ReconciliationMismatch,
    /// A journal write or sync failed.
    JournalError,
    /// The trader pressed the kill switch.
    KillSwitch,
    /// The order stream died or an order's status is unknown.
    OrderStreamLost,
    /// Not yet reconciled after a (re)connect.
    Unreconciled,
}

impl Cause {
    /// As shown on screen and in the journal.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Disconnected => "disconnected",
            Self::RejectStreak => "reject streak",
            Self::DuplicateOrderId => "duplicate order id",
            Self::ReconciliationMismatch => "reconciliation mismatch",
            Self::JournalError => "journal error",
            Self::KillSwitch => "kill switch",
            Self::OrderStreamLost => "order stream lost",
            Self::Unreconciled => "not reconciled",
        }
    }
}

impl Cause {
    /// Every cause.
    pub const ALL: [Self; 8] = [
        Self::Disconnected,
        Self::RejectStreak,
        Self::DuplicateOrderId,
        Self::ReconciliationMismatch,
        Self::JournalError,
        Self::KillSwitch,
        Self::OrderStreamLost,
        Self::Unreconciled,
    ];

    /// The cause with this [`Cause::label`] (as the journal records it).
    #[must_use]
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.label() == label)
    }
}

/// The trading state. Only [`TradingState::step_down`], [`TradingState::clear`] and
/// [`TradingState::resume`] change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradingState {
    level: Level,
    causes: BTreeMap<Cause, Level>,
    epoch: u64,
}

impl Default for TradingState {
    fn default() -> Self {
        Self::active()
    }
}

/// Why a resume was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResumeError {
    /// Causes still hold the state down.
    #[error("cannot resume: still {}", .0.iter().map(|c| c.label()).collect::<Vec<_>>().join(", "))]
    CausesRemain(Vec<Cause>),
    /// Resuming from Halted needs `RESUME` typed.
    #[error("type RESUME to resume from HALTED")]
    NeedsTyped,
    /// Already active.
    #[error("trading is already active")]
    AlreadyActive,
}

/// How the trader asked to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeBy<'a> {
    /// A confirm key press (enough from Reducing).
    Confirm,
    /// Typed text (must be `RESUME` from Halted).
    Typed(&'a str),
}

impl TradingState {
    /// Active, epoch 0, no causes.
    #[must_use]
    pub fn active() -> Self {
        Self {
            level: Level::Active,
            causes: BTreeMap::new(),
            epoch: 0,
        }
    }

    /// Restored from the journal: `level` with `causes`, at `epoch`.
    #[must_use]
    pub fn restored(level: Level, causes: impl IntoIterator<Item = (Cause, Level)>, epoch: u64) -> Self {
        Self {
            level,
            causes: causes.into_iter().collect(),
            epoch,
        }
    }

    /// The current level.
    #[must_use]
    pub fn level(&self) -> Level {
        self.level
    }

    /// The epoch: bumped by every change.
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The causes still holding the state down, with the level each asks for.
    pub fn causes(&self) -> impl Iterator<Item = (Cause, Level)> + '_ {
        self.causes.iter().map(|(c, l)| (*c, *l))
    }

    /// Records `cause` asking for `to` and steps down if that is lower than now. The epoch is bumped whenever
    /// the level or the causes change. Returns whether anything changed.
    pub fn step_down(&mut self, cause: Cause, to: Level) -> bool {
        let to = if cause == Cause::KillSwitch {
            Level::Halted
        } else {
            to
        };
        let previous = self.causes.get(&cause).copied();
        if previous.is_some_and(|p| p >= to) {
            return false;
        }
        self.causes.insert(cause, to);
        self.level = self.level.max(to);
        self.epoch = self.epoch.saturating_add(1);
        true
    }

    /// Marks `cause` as cleared. The level does not change: only [`TradingState::resume`] steps up.
    pub fn clear(&mut self, cause: Cause) -> bool {
        if self.causes.remove(&cause).is_some() {
            self.epoch = self.epoch.saturating_add(1);
            true
        } else {
            false
        }
    }

    /// Steps back to Active once every cause is cleared: a confirm from Reducing, `RESUME` typed from Halted.
    pub fn resume(&mut self, by: ResumeBy<'_>) -> Result<(), ResumeError> {
        if self.level == Level::Active {
            return Err(ResumeError::AlreadyActive);
        }
        if !self.causes.is_empty() {
            return Err(ResumeError::CausesRemain(self.causes.keys().copied().collect()));
        }
        if self.level == Level::Halted && by != ResumeBy::Typed("RESUME") {
            return Err(ResumeError::NeedsTyped);
        }
        self.level = Level::Active;
        self.epoch = self.epoch.saturating_add(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_down_bumps_the_epoch_and_takes_the_lowest_level() {
        let mut s = TradingState::active();
        assert!(s.step_down(Cause::Disconnected, Level::Reducing));
        assert_eq!((s.level(), s.epoch()), (Level::Reducing, 1));
        assert!(s.step_down(Cause::JournalError, Level::Halted));
        assert_eq!((s.level(), s.epoch()), (Level::Halted, 2));
        assert!(
            !s.step_down(Cause::Disconnected, Level::Reducing),
            "same cause again changes nothing"
        );
        assert_eq!(s.epoch(), 2);
        assert!(
            s.step_down(Cause::Disconnected, Level::Halted),
            "a cause may ask for more"
        );
        assert_eq!(s.epoch(), 3);
    }

    #[test]
    fn every_cause_round_trips_through_its_label() {
        for cause in Cause::ALL {
            assert_eq!(Cause::from_label(cause.label()), Some(cause));
        }
        assert_eq!(Cause::from_label("resume"), None);
    }

    #[test]
    fn kill_switch_always_halts() {
        let mut s = TradingState::active();
        s.step_down(Cause::KillSwitch, Level::Reducing);
        assert_eq!(s.level(), Level::Halted);
    }

    #[test]
    fn clearing_causes_never_steps_up_by_itself() {
        let mut s = TradingState::active();
        s.step_down(Cause::Disconnected, Level::Reducing);
        assert!(s.clear(Cause::Disconnected));
        assert_eq!((s.level(), s.epoch()), (Level::Reducing, 2));
        assert!(!s.clear(Cause::Disconnected));
        assert_eq!(s.epoch(), 2);
    }

    #[test]
    fn resume_needs_every_cause_cleared() {
        let mut s = TradingState::active();
        s.step_down(Cause::Disconnected, Level::Reducing);
        s.step_down(Cause::RejectStreak, Level::Reducing);
        s.clear(Cause::Disconnected);
        assert_eq!(
            s.resume(ResumeBy::Confirm),
            Err(ResumeError::CausesRemain(vec![Cause::RejectStreak]))
        );
        s.clear(Cause::RejectStreak);
        let before = s.epoch();
        assert_eq!(s.resume(ResumeBy::Confirm), Ok(()));
        assert_eq!((s.level(), s.epoch()), (Level::Active, before + 1));
        assert_eq!(s.resume(ResumeBy::Confirm), Err(ResumeError::AlreadyActive));
    }

    #[test]
    fn resume_from_halted_needs_resume_typed() {
        let mut s = TradingState::active();
        s.step_down(Cause::KillSwitch, Level::Halted);
        s.clear(Cause::KillSwitch);
        assert_eq!(s.resume(ResumeBy::Confirm), Err(ResumeError::NeedsTyped));
        assert_eq!(s.resume(ResumeBy::Typed("resume")), Err(ResumeError::NeedsTyped));
        assert_eq!(s.level(), Level::Halted);
        assert_eq!(s.resume(ResumeBy::Typed("RESUME")), Ok(()));
        assert_eq!(s.level(), Level::Active);
    }
}
