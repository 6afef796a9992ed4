//! The screen's own state — focus, selection, the open dialog — and what the trader's keys do. It never
//! changes [`State`]: a key becomes [`Command`]s (messages for the core, a reconnect, a profile switch,
//! quitting) that the shell carries out, so every action goes through `State::update` and the journal.
//!
//! Two rules keep a wrong approval hard. Selection follows a proposal id, never a row: an agent cancelling
//! and restaging cannot slide another order under the cursor. And when the selection or a dialog changes
//! under the trader (not by their own key), keys arriving within [`DISCARD_WINDOW`] are discarded and
//! journaled, so typing that was meant for what was there before never lands on what is there now.

mod dialogs;
mod form;
mod keys;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use rust_decimal::Decimal;
use serde_json::json;

pub use dialogs::{Dialog, ProfileChoice};
pub use form::{Field, Form, FormOutcome, Purpose};
pub use keys::{Keymap, code as key_code, label as key_label};

use super::lifecycle::Stage;
use super::msg::Msg;
use super::state::State;
use crate::config::Action;
use crate::domain::{AlertId, ProposalId, Severity};

/// Keys arriving this soon after the focus or a dialog changed under the trader are discarded.
pub const DISCARD_WINDOW: chrono::Duration = chrono::Duration::milliseconds(300);

/// How many finished orders the Staged Orders pane keeps below the open ones.
pub const FINISHED_SHOWN: usize = 8;

/// The panes, in focus order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// Staged orders and the detail card.
    Staged,
    /// Positions.
    Positions,
    /// Alerts.
    Alerts,
    /// Agents and their recommendations.
    Agents,
    /// The account.
    Account,
}

impl Pane {
    /// Focus order.
    pub const ALL: [Self; 5] = [
        Self::Staged,
        Self::Positions,
        Self::Alerts,
        Self::Agents,
        Self::Account,
    ];

    /// The pane's title.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Staged => "Staged Orders",
            Self::Positions => "Positions",
            Self::Alerts => "Alerts",
            Self::Agents => "Agents",
            Self::Account => "Account",
        }
    }

    /// The actions that mean something in this pane, for the footer.
    #[must_use]
    pub fn actions(self) -> &'static [Action] {
        match self {
            Self::Staged => &[
                Action::Approve,
                Action::Edit,
                Action::Reject,
                Action::NewOrder,
                Action::Open,
            ],
            Self::Alerts => &[Action::Acknowledge, Action::Open],
            Self::Positions | Self::Agents | Self::Account => &[Action::NewOrder],
        }
    }
}

/// What the shell must do for a key.
#[derive(Debug)]
pub enum Command {
    /// Feed the core.
    Core(Msg),
    /// Ask the broker adapter to reconnect now.
    Retry,
    /// Switch to another profile (the old one's staged orders are voided first).
    Switch {
        /// The profile's name.
        to: String,
        /// Whether the trader chose to cancel the working orders at the old gateway (else keep them).
        cancel_working: bool,
    },
    /// Leave the cockpit.
    Quit,
}

/// The screen's state.
#[derive(Debug)]
pub struct Screen {
    /// The focused pane.
    pub focus: Pane,
    /// The selected staged order.
    pub staged: Option<ProposalId>,
    /// The selected alert.
    pub alert: Option<AlertId>,
    /// The selected position row.
    pub position: usize,
    /// The open dialog.
    pub dialog: Option<Dialog>,
    /// The keymap.
    pub keymap: Keymap,
    /// The profiles the trader may switch to.
    pub profiles: Vec<ProfileChoice>,
    /// Ring the bell for new critical alerts.
    pub bell: bool,
    /// A bell is due (a new unacknowledged critical alert).
    pub bell_due: bool,
    /// When the focus or a dialog last changed under the trader.
    changed_at: Option<DateTime<Utc>>,
    /// The version of the selected order the screen last showed.
    shown_version: Option<(ProposalId, u32)>,
    /// Critical alerts already rung for.
    rung: BTreeSet<AlertId>,
}

impl Screen {
    /// A screen with the staged orders focused.
    #[must_use]
    pub fn new(keymap: Keymap, profiles: Vec<ProfileChoice>, bell: bool) -> Self {
        Self {
            focus: Pane::Staged,
            staged: None,
            alert: None,
            position: 0,
            dialog: None,
            keymap,
            profiles,
            bell,
            bell_due: false,
            changed_at: None,
            shown_version: None,
            rung: BTreeSet::new(),
        }
    }

    /// The staged orders in the pane's order: open ones by id, then the latest finished ones.
    #[must_use]
    pub fn staged_rows(state: &State) -> Vec<ProposalId> {
        let mut rows: Vec<ProposalId> = state
            .proposals
            .values()
            .filter(|p| !matches!(p.stage, Stage::Done(_)))
            .map(|p| p.id)
            .collect();
        rows.extend(
            state
                .proposals
                .values()
                .rev()
                .filter(|p| matches!(p.stage, Stage::Done(_)))
                .take(FINISHED_SHOWN)
                .map(|p| p.id),
        );
        rows
    }

    /// Alerts newest first.
    #[must_use]
    pub fn alert_rows(state: &State) -> Vec<AlertId> {
        state.alerts.iter().rev().map(|a| a.id).collect()
    }

    /// Brings the screen up to date after the state changed at `now`: keeps the selection on its
    /// proposal, moves it (and notes the change under the trader) when that proposal left the list or
    /// changed, invalidates an approval dialog whose order changed, and notes new critical alerts.
    pub fn sync(&mut self, state: &State, now: DateTime<Utc>) {
        let rows = Self::staged_rows(state);
        let before = self.staged;
        if self.staged.is_none_or(|id| !rows.contains(&id)) {
            // The nearest remaining row by id, so the cursor stays where the trader was looking.
            self.staged = before
                .and_then(|gone| rows.iter().copied().min_by_key(|id| id.0.abs_diff(gone.0)))
                .or_else(|| rows.first().copied());
        }
        let version = self
            .staged
            .and_then(|id| state.proposals.get(&id).map(|p| (id, p.version)));
        if self.staged != before || (before.is_some() && version != self.shown_version) {
            self.changed_at = Some(now);
        }
        self.shown_version = version;
        if let Some(dialog) = &self.dialog
            && let Some(why) = dialog.invalidated(state)
        {
            self.dialog = Some(Dialog::Refused {
                title: "Approval withdrawn".into(),
                lines: vec![why, "The card has been redrawn: look at it again.".into()],
            });
            self.changed_at = Some(now);
        }
        let alerts = Self::alert_rows(state);
        if self.alert.is_none_or(|id| !alerts.contains(&id)) {
            self.alert = alerts.first().copied();
        }
        let positions = state.positions.len();
        if self.position >= positions {
            self.position = positions.saturating_sub(1);
        }
        for alert in &state.alerts {
            if alert.severity == Severity::Critical && !alert.acknowledged && self.rung.insert(alert.id) {
                self.bell_due |= self.bell;
            }
        }
    }

    /// Whether a key at `now` falls in the window after a change under the trader.
    #[must_use]
    pub fn in_discard_window(&self, now: DateTime<Utc>) -> bool {
        self.changed_at
            .is_some_and(|at| now >= at && now - at < DISCARD_WINDOW)
    }

    /// Handles one key press at `now`.
    pub fn key(&mut self, key: KeyEvent, state: &State, now: DateTime<Utc>) -> Vec<Command> {
        if self.in_discard_window(now) {
            return vec![Command::Core(Msg::Screen {
                action: "key_discarded",
                detail: json!({"key": key_label(key.code),
                               "why": "the selection or a dialog changed under the trader less than 300 ms before"}),
            })];
        }
        if let Some(dialog) = self.dialog.take() {
            let (next, commands) = dialog.key(key, self, state, now);
            self.dialog = next;
            return commands;
        }
        let Some(action) = self.keymap.action(key) else {
            return Vec::new();
        };
        self.act(action, state, now)
    }

    fn act(&mut self, action: Action, state: &State, now: DateTime<Utc>) -> Vec<Command> {
        match action {
            Action::FocusNext | Action::FocusPrev => {
                let at = Pane::ALL.iter().position(|p| *p == self.focus).unwrap_or(0);
                let n = Pane::ALL.len();
                let to = if action == Action::FocusNext {
                    at + 1
                } else {
                    at + n - 1
                };
                self.focus = Pane::ALL[to % n];
            }
            Action::Up | Action::Down => self.move_selection(action == Action::Down, state),
            Action::Open => {
                self.dialog = match self.focus {
                    Pane::Staged => self.staged.map(Dialog::Detail),
                    Pane::Alerts => self.alert.map(Dialog::AlertText),
                    _ => None,
                };
            }
            Action::Close => self.dialog = None,
            Action::Approve | Action::Edit | Action::Reject => {
                self.focus = Pane::Staged;
                self.dialog = Some(match self.staged {
                    Some(id) => Dialog::for_order(action, id, state, now),
                    None => Dialog::note("No staged order", "There is no order to act on."),
                });
            }
            Action::NewOrder => self.dialog = Some(Dialog::Form(Form::new_ticket(state, now))),
            Action::Acknowledge => {
                if let Some(id) = self.alert {
                    return vec![Command::Core(Msg::AcknowledgeAlert { id })];
                }
            }
            Action::SwitchProfile => self.dialog = Some(Dialog::profiles(self, state)),
            Action::TradingState => self.dialog = Some(Dialog::trading_state(state)),
            Action::Reconnect => {
                if matches!(state.connection, super::msg::Connection::Failed { .. }) {
                    return vec![Command::Retry];
                }
                self.dialog = Some(Dialog::note(
                    "Reconnect",
                    &format!(
                        "The connection is {}; the cockpit reconnects on its own. `c` retries after it gave up.",
                        state.connection
                    ),
                ));
            }
            Action::Help => self.dialog = Some(Dialog::Help),
            Action::Quit => {
                let in_flight = state.proposals.values().filter(|p| p.is_working()).count();
                if in_flight == 0 {
                    return vec![Command::Quit];
                }
                self.dialog = Some(Dialog::Quit { in_flight });
            }
        }
        Vec::new()
    }

    fn move_selection(&mut self, down: bool, state: &State) {
        let step = |at: usize, len: usize| {
            if down {
                (at + 1).min(len.saturating_sub(1))
            } else {
                at.saturating_sub(1)
            }
        };
        match self.focus {
            Pane::Staged => {
                let rows = Self::staged_rows(state);
                let at = self
                    .staged
                    .and_then(|id| rows.iter().position(|r| *r == id))
                    .unwrap_or(0);
                self.staged = rows.get(step(at, rows.len())).copied();
                self.shown_version = self
                    .staged
                    .and_then(|id| state.proposals.get(&id).map(|p| (id, p.version)));
            }
            Pane::Alerts => {
                let rows = Self::alert_rows(state);
                let at = self
                    .alert
                    .and_then(|id| rows.iter().position(|r| *r == id))
                    .unwrap_or(0);
                self.alert = rows.get(step(at, rows.len())).copied();
            }
            Pane::Positions => self.position = step(self.position, state.positions.len()),
            Pane::Agents | Pane::Account => {}
        }
    }

    /// The number of unacknowledged critical alerts (always in the header).
    #[must_use]
    pub fn unacknowledged_critical(state: &State) -> usize {
        state
            .alerts
            .iter()
            .filter(|a| a.severity == Severity::Critical && !a.acknowledged)
            .count()
    }

    /// How far the mid moved from `shown` to now, in percent, if both exist.
    #[must_use]
    pub fn moved_pct(shown: Option<Decimal>, now: Option<Decimal>) -> Option<Decimal> {
        let (shown, now) = (shown?, now?);
        if shown.is_zero() {
            return None;
        }
        Some(((now - shown).abs() * Decimal::ONE_HUNDRED / shown).round_dp(4))
    }
}

#[cfg(test)]
mod tests;
