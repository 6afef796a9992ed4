//! The dialogs: approval (confirm or typed read-back), refusals that stay until `Esc`, reject with a reason,
//! the order form, the trading state (kill switch, IB's global cancel, resume), the profile switch, quit.
//! Each takes every key while open, so nothing the trader types falls through to the panes.

use chrono::{DateTime, Utc};
use crossterm::event::{Event, KeyCode, KeyEvent};
use rust_decimal::Decimal;
use serde_json::json;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::form::{Form, FormOutcome, Purpose};
use super::{Command, Screen};
use crate::app::lifecycle::Stage;
use crate::app::msg::{GLOBAL_CANCEL_READ_BACK, Msg, Source};
use crate::app::state::State;
use crate::config::{Action, Mode};
use crate::domain::{AlertId, ProposalId};
use crate::policy::{self, Cause, Evidence, Fingerprint, Level, Tier, Verdict};

/// A profile the trader may switch to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChoice {
    /// Its name.
    pub name: String,
    /// Paper, live or dry-run.
    pub mode: Mode,
    /// Its first account (what entering live must type).
    pub account: String,
    /// Shown instead of the mode (e.g. `LIVE (SIM)` in the demo).
    pub label: String,
}

/// What the trader typed to approve a typed-tier order is checked against this.
#[derive(Debug, Clone)]
pub struct Approval {
    /// The proposal.
    pub id: ProposalId,
    /// Its version when the card was shown.
    pub version: u32,
    /// The fingerprint the card showed: the approval binds it.
    pub fingerprint: Fingerprint,
    /// The mid when the card was shown.
    pub mid: Option<Decimal>,
    /// The tolerance for a quote move, in percent.
    pub tolerance_pct: Decimal,
    /// The order in words.
    pub summary: String,
}

/// An open dialog.
#[derive(Debug, Clone)]
pub enum Dialog {
    /// Every key.
    Help,
    /// A staged order's full card.
    Detail(ProposalId),
    /// An alert's full text.
    AlertText(AlertId),
    /// `y` sends.
    Confirm(Approval),
    /// The trader types the read-back.
    Typed {
        /// What is approved.
        approval: Approval,
        /// What must be typed.
        read_back: String,
        /// What is typed.
        input: Input,
    },
    /// A refusal or a note: stays until `Esc`.
    Refused {
        /// The title.
        title: String,
        /// The reasons.
        lines: Vec<String>,
    },
    /// Reject with an optional reason.
    Reject {
        /// The proposal.
        id: ProposalId,
        /// The reason.
        input: Input,
    },
    /// The order form.
    Form(Form),
    /// The kill switch: `y` halts and cancels; `g` offers IB's global cancel.
    KillSwitch,
    /// IB's global cancel: type `CANCEL ALL`.
    GlobalCancel {
        /// What is typed.
        input: Input,
    },
    /// Resume from a stepped-down state: a confirm (`y`) from reducing, typed `RESUME` from halted.
    Resume {
        /// Whether `RESUME` must be typed.
        typed: bool,
        /// What is typed.
        input: Input,
    },
    /// Choose a profile.
    Profiles {
        /// The choices.
        choices: Vec<ProfileChoice>,
        /// The highlighted one.
        at: usize,
    },
    /// Orders still work at the old gateway: cancel (`c`) or keep (`k`) them before switching.
    Working {
        /// The profile to switch to.
        to: ProfileChoice,
        /// How many.
        count: usize,
    },
    /// Entering live: type the live account id.
    EnterLive {
        /// The profile.
        to: ProfileChoice,
        /// The trader's choice on working orders.
        cancel_working: bool,
        /// What is typed.
        input: Input,
    },
    /// Leaving live: `y` confirms.
    LeaveLive {
        /// The profile.
        to: ProfileChoice,
        /// The trader's choice on working orders.
        cancel_working: bool,
    },
    /// Quit with orders in flight: `y` quits.
    Quit {
        /// How many orders are working.
        in_flight: usize,
    },
}

type Outcome = (Option<Dialog>, Vec<Command>);

fn stay(d: Dialog) -> Outcome {
    (Some(d), Vec::new())
}

fn close(commands: Vec<Command>) -> Outcome {
    (None, commands)
}

fn typed(input: &mut Input, key: KeyEvent) {
    input.handle_event(&Event::Key(key));
}

impl Dialog {
    /// A note that stays until `Esc`.
    #[must_use]
    pub fn note(title: &str, text: &str) -> Self {
        Self::Refused {
            title: title.to_owned(),
            lines: vec![text.to_owned()],
        }
    }

    /// The dialog of approve, edit or reject on proposal `id`.
    #[must_use]
    pub fn for_order(action: Action, id: ProposalId, state: &State, now: DateTime<Utc>) -> Self {
        let Some(p) = state.proposals.get(&id) else {
            return Self::note("No such order", "The order is gone.");
        };
        if !p.stage.is_pending() {
            return Self::note("Nothing to do", &format!("Order #{} is {}.", id.0, p.stage));
        }
        match action {
            Action::Edit => Self::Form(Form::edit(id, &p.ticket, state, now)),
            Action::Reject => Self::Reject {
                id,
                input: Input::default(),
            },
            _ => Self::approval(id, state, now),
        }
    }

    /// Approve: the policy runs now; refused ⇒ the reasons, else the confirm or typed dialog bound to the
    /// fingerprint the card shows.
    fn approval(id: ProposalId, state: &State, now: DateTime<Utc>) -> Self {
        let Some(p) = state.proposals.get(&id) else {
            return Self::note("No such order", "The order is gone.");
        };
        let working = state.working_orders();
        let ctx = state.context(&working, p.requester.clone(), p.version, now);
        let clearable = match policy::check(&p.ticket, &ctx) {
            Verdict::Refused(violations) => {
                return Self::Refused {
                    title: format!("Order #{} refused by the policy", id.0),
                    lines: violations
                        .iter()
                        .map(|v| format!("{}: {}", v.rule.code(), v.message))
                        .collect(),
                };
            }
            Verdict::Clearable(c) => c,
        };
        if let Some(shut) = state.gate_shut() {
            return Self::note("Cannot approve now", &shut);
        }
        if p.fingerprint != Some(clearable.fingerprint) {
            return Self::note(
                "The order changed",
                "The order is not what the card showed; look at it again.",
            );
        }
        let approval = Approval {
            id,
            version: p.version,
            fingerprint: clearable.fingerprint,
            mid: state
                .quotes
                .get(&p.ticket.instrument)
                .and_then(crate::domain::Quote::mid),
            tolerance_pct: state.profile.policy.approval_quote_tolerance_pct,
            summary: format!(
                "{} — notional {}",
                clearable.read_back,
                clearable.notional.round_dp(2)
            ),
        };
        match clearable.tier {
            Tier::Typed => Self::Typed {
                approval,
                read_back: clearable.read_back.clone(),
                input: Input::default(),
            },
            Tier::Confirm | Tier::None => Self::Confirm(approval),
        }
    }

    /// The trading-state dialog: the kill switch when active; else the causes, and resume when they allow.
    #[must_use]
    pub fn trading_state(state: &State) -> Self {
        let level = state.trading.level();
        if level == Level::Active {
            return Self::KillSwitch;
        }
        let conditions: Vec<String> = state
            .trading
            .causes()
            .filter(|(c, _)| {
                !matches!(
                    c,
                    Cause::KillSwitch | Cause::RejectStreak | Cause::DuplicateOrderId
                )
            })
            .map(|(c, _)| c.label().to_owned())
            .collect();
        if !conditions.is_empty() {
            let mut lines = vec!["Trading cannot resume until these clear:".to_owned()];
            lines.extend(conditions);
            return Self::Refused {
                title: format!("Trading is {level:?}"),
                lines,
            };
        }
        Self::Resume {
            typed: level == Level::Halted,
            input: Input::default(),
        }
    }

    /// The profile list.
    #[must_use]
    pub fn profiles(screen: &Screen, state: &State) -> Self {
        let at = screen
            .profiles
            .iter()
            .position(|p| p.name != state.profile.name)
            .unwrap_or(0);
        Self::Profiles {
            choices: screen.profiles.clone(),
            at,
        }
    }

    /// Why an open approval no longer holds, if it does not: the order changed or left approval.
    #[must_use]
    pub fn invalidated(&self, state: &State) -> Option<String> {
        let (Self::Confirm(approval) | Self::Typed { approval, .. }) = self else {
            return None;
        };
        match state.proposals.get(&approval.id) {
            None => Some(format!("Order #{} is gone.", approval.id.0)),
            Some(p) if p.version != approval.version => {
                Some(format!("Order #{} changed (now version {}).", p.id.0, p.version))
            }
            Some(p) if p.stage != Stage::AwaitingApproval => {
                Some(format!("Order #{} is now {}.", p.id.0, p.stage))
            }
            Some(_) => None,
        }
    }

    /// Handles a key; returns the dialog to keep open (if any) and what to do.
    #[expect(clippy::too_many_lines, reason = "one arm per dialog")]
    pub fn key(self, key: KeyEvent, screen: &Screen, state: &State, now: DateTime<Utc>) -> Outcome {
        if key.code == KeyCode::Esc {
            return close(Vec::new());
        }
        match self {
            Self::Help | Self::Detail(_) | Self::AlertText(_) => {
                if key.code == KeyCode::Enter {
                    close(Vec::new())
                } else {
                    stay(self)
                }
            }
            // Only Esc: an Enter that ends what the trader was typing must not close it and let the
            // keys after it fall through to the panes.
            Self::Refused { .. } => stay(self),
            Self::Confirm(approval) => match key.code {
                KeyCode::Char('y') => approve(&approval, Evidence::Confirm, None, state),
                KeyCode::Char('n') => close(Vec::new()),
                _ => stay(Self::Confirm(approval)),
            },
            Self::Typed {
                approval,
                read_back,
                mut input,
            } => {
                if key.code == KeyCode::Enter {
                    let text = input.value().to_owned();
                    return approve(&approval, Evidence::Confirm, Some(text), state);
                }
                typed(&mut input, key);
                stay(Self::Typed {
                    approval,
                    read_back,
                    input,
                })
            }
            Self::Reject { id, mut input } => {
                if key.code == KeyCode::Enter {
                    let reason = input.value().trim().to_owned();
                    return close(vec![Command::Core(Msg::Reject { id, reason })]);
                }
                typed(&mut input, key);
                stay(Self::Reject { id, input })
            }
            Self::Form(mut form) => match form.key(key, state, now) {
                FormOutcome::Editing => stay(Self::Form(form)),
                FormOutcome::Cancelled => close(Vec::new()),
                FormOutcome::Submit(ticket) => close(vec![Command::Core(match form.purpose {
                    Purpose::Edit(id) => Msg::Edit { id, ticket },
                    Purpose::New => Msg::Propose {
                        source: Source::Trader,
                        ticket,
                        note: "the trader's own ticket".into(),
                    },
                })]),
            },
            Self::KillSwitch => match key.code {
                KeyCode::Char('y') => close(vec![Command::Core(Msg::KillSwitch)]),
                KeyCode::Char('g') => stay(Self::GlobalCancel {
                    input: Input::default(),
                }),
                _ => stay(Self::KillSwitch),
            },
            Self::GlobalCancel { mut input } => {
                if key.code == KeyCode::Enter {
                    let typed = input.value().to_owned();
                    if typed != GLOBAL_CANCEL_READ_BACK {
                        return stay(Self::note(
                            "Global cancel not sent",
                            &format!(
                                "Typed '{typed}', not '{GLOBAL_CANCEL_READ_BACK}'. Nothing was cancelled."
                            ),
                        ));
                    }
                    return close(vec![Command::Core(Msg::GlobalCancel { typed })]);
                }
                typed(&mut input, key);
                stay(Self::GlobalCancel { input })
            }
            Self::Resume {
                typed: needs_typing,
                mut input,
            } => {
                if !needs_typing {
                    return match key.code {
                        KeyCode::Char('y') => close(vec![Command::Core(Msg::Resume { typed: None })]),
                        _ => stay(Self::Resume { typed: false, input }),
                    };
                }
                if key.code == KeyCode::Enter {
                    let text = input.value().to_owned();
                    return close(vec![Command::Core(Msg::Resume { typed: Some(text) })]);
                }
                typed(&mut input, key);
                stay(Self::Resume { typed: true, input })
            }
            Self::Profiles { choices, at } => profiles_key(choices, at, key, screen, state),
            Self::Working { to, count } => match key.code {
                KeyCode::Char('c') => next_switch_step(to, true, state),
                KeyCode::Char('k') => next_switch_step(to, false, state),
                _ => stay(Self::Working { to, count }),
            },
            Self::EnterLive {
                to,
                cancel_working,
                mut input,
            } => {
                if key.code == KeyCode::Enter {
                    if input.value().trim() == to.account {
                        return switch(&to, cancel_working, state);
                    }
                    return stay(Self::note(
                        "Not switched",
                        &format!(
                            "Typed '{}', not the live account id. The profile is unchanged.",
                            input.value()
                        ),
                    ));
                }
                typed(&mut input, key);
                stay(Self::EnterLive {
                    to,
                    cancel_working,
                    input,
                })
            }
            Self::LeaveLive { to, cancel_working } => match key.code {
                KeyCode::Char('y') => switch(&to, cancel_working, state),
                _ => stay(Self::LeaveLive { to, cancel_working }),
            },
            Self::Quit { in_flight } => match key.code {
                KeyCode::Char('y') => close(vec![Command::Quit]),
                _ => stay(Self::Quit { in_flight }),
            },
        }
    }
}

/// `y` (or the typed read-back): refused if the order or its quote moved since the card was shown,
/// else the approval goes to the core, which runs the policy once more.
fn approve(
    approval: &Approval,
    confirm: fn(Fingerprint) -> Evidence,
    read_back: Option<String>,
    state: &State,
) -> Outcome {
    let withdrawn = |why: String| {
        let commands = vec![Command::Core(Msg::Screen {
            action: "approval_stale",
            detail: json!({"proposal": approval.id.0, "why": why}),
        })];
        (
            Some(Dialog::Refused {
                title: "Not approved".into(),
                lines: vec![why, "The card has been redrawn: look at it again.".into()],
            }),
            commands,
        )
    };
    let Some(p) = state.proposals.get(&approval.id) else {
        return withdrawn(format!("Order #{} is gone.", approval.id.0));
    };
    if p.version != approval.version || p.fingerprint != Some(approval.fingerprint) {
        return withdrawn(format!("Order #{} changed since the card was shown.", p.id.0));
    }
    let mid_now = state
        .quotes
        .get(&p.ticket.instrument)
        .and_then(crate::domain::Quote::mid);
    if let Some(moved) = Screen::moved_pct(approval.mid, mid_now)
        && moved > approval.tolerance_pct
    {
        return withdrawn(format!(
            "The quote moved {moved} % (from {} to {}), more than the {} % tolerance.",
            approval.mid.unwrap_or_default(),
            mid_now.unwrap_or_default(),
            approval.tolerance_pct
        ));
    }
    let evidence = match read_back {
        Some(text) => Evidence::Typed(approval.fingerprint, text),
        None => confirm(approval.fingerprint),
    };
    close(vec![Command::Core(Msg::Approve {
        id: approval.id,
        evidence,
    })])
}

fn profiles_key(
    choices: Vec<ProfileChoice>,
    at: usize,
    key: KeyEvent,
    screen: &Screen,
    state: &State,
) -> Outcome {
    let n = choices.len().max(1);
    let down = matches!(screen.keymap.action(key), Some(Action::Down));
    let up = matches!(screen.keymap.action(key), Some(Action::Up));
    if down || up {
        let at = if down { (at + 1) % n } else { (at + n - 1) % n };
        return stay(Dialog::Profiles { choices, at });
    }
    if key.code != KeyCode::Enter {
        return stay(Dialog::Profiles { choices, at });
    }
    let Some(to) = choices.get(at).cloned() else {
        return close(Vec::new());
    };
    if to.name == state.profile.name {
        return stay(Dialog::note(
            "Not switched",
            &format!("'{}' is the profile in use.", to.name),
        ));
    }
    let working = state.proposals.values().filter(|p| p.is_working()).count();
    if working > 0 {
        return stay(Dialog::Working { to, count: working });
    }
    next_switch_step(to, false, state)
}

/// After the working-orders choice: entering live needs the account typed, leaving live a confirm.
fn next_switch_step(to: ProfileChoice, cancel_working: bool, state: &State) -> Outcome {
    if to.mode == Mode::Live {
        return stay(Dialog::EnterLive {
            to,
            cancel_working,
            input: Input::default(),
        });
    }
    if state.profile.mode == Mode::Live {
        return stay(Dialog::LeaveLive { to, cancel_working });
    }
    switch(&to, cancel_working, state)
}

fn switch(to: &ProfileChoice, cancel_working: bool, state: &State) -> Outcome {
    close(vec![
        Command::Core(Msg::Screen {
            action: "switch_profile",
            detail: json!({"from": state.profile.name, "to": to.name,
                           "working_orders": if cancel_working { "cancel" } else { "keep" }}),
        }),
        Command::Switch {
            to: to.name.clone(),
            cancel_working,
        },
    ])
}
