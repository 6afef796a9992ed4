//! What agents do to the core, besides staging and withdrawing orders: sessions opening and closing,
//! `submit_order` and `cancel_order` (execute level), heartbeats with their strategy state, recommendations,
//! agent-written alerts (info or warning; they never touch the trading state), and the journal record of
//! every tool call. The agent gateway has already checked identity, level, rate and arguments.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::lifecycle::Stage;
use super::msg::{Effect, JournalRecord};
use super::state::State;
use crate::config::Permission;
use crate::domain::{AlertSource, OrderId, ProposalId, Severity};
use crate::journal::kinds;
use crate::policy::{Evidence, Tier};

/// How many recommendations the Agents pane keeps.
pub const RECOMMENDATIONS_KEPT: usize = 50;
/// A heartbeat (`report_status`) older than this raises a warning, until the config says otherwise.
pub const DEFAULT_HEARTBEAT_SECS: u32 = 120;

/// An agent's doing.
#[derive(Debug)]
pub enum AgentMsg {
    /// A session opened or closed.
    Session {
        /// The socket peer's uid.
        uid: u32,
        /// The name the MCP client declared (a label only).
        label: String,
        /// Whether it runs under the cockpit's own uid (a warning stays on screen on a live profile).
        same_uid: bool,
        /// Opened (`true`) or closed.
        open: bool,
    },
    /// `submit_order`: send a proposal the policy cleared without a human (tier none).
    Submit {
        /// Who.
        uid: u32,
        /// Which.
        id: ProposalId,
    },
    /// `cancel_order`: cancel a working order this agent originated.
    Cancel {
        /// Who.
        uid: u32,
        /// IB's order id.
        order_id: OrderId,
    },
    /// `report_status`: the heartbeat and strategy state.
    Status {
        /// Who.
        uid: u32,
        /// The strategy's name.
        strategy: String,
        /// Its state (e.g. `watching`, `waiting for fill`).
        state: String,
        /// Free text.
        message: String,
    },
    /// `recommend`: a note for the Agents pane.
    Recommend {
        /// Who.
        uid: u32,
        /// The note.
        text: String,
        /// The symbol it is about, if any.
        symbol: Option<String>,
    },
    /// `raise_alert`: an agent-written alert.
    Alert {
        /// Who.
        uid: u32,
        /// Info or warning (never critical).
        severity: Severity,
        /// The text.
        text: String,
    },
    /// The agent gateway could not start (the socket's directory is unsafe, another process answers).
    GatewayDown {
        /// Why.
        why: String,
    },
    /// The record of one tool call and its answer (every call, refused and malformed ones included).
    Call {
        /// Who.
        uid: u32,
        /// The socket peer's uid (another than `uid` when the agent came through its own socket).
        peer_uid: u32,
        /// The declared client name.
        label: String,
        /// The tool.
        tool: String,
        /// The arguments as received (bounded by the gateway).
        arguments: serde_json::Value,
        /// Whether the answer was an error.
        error: bool,
        /// The answer.
        answer: serde_json::Value,
    },
}

/// One agent as the Agents pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentView {
    /// The configured name (`uid N` when not configured).
    pub name: String,
    /// The declared client name of its latest session.
    pub label: String,
    /// Its effective level on this profile.
    pub level: Permission,
    /// Sessions open now.
    pub sessions: u32,
    /// Its strategy, state and message from its latest `report_status`.
    pub status: Option<(String, String, String)>,
    /// When it last reported.
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// Whether it runs under the cockpit's own uid.
    pub same_uid: bool,
    /// Its tool calls on this profile.
    pub calls: u64,
    /// Its latest call: the tool and when.
    pub last_call: Option<(String, DateTime<Utc>)>,
    /// Its latest refused call: the tool and the reason it was told.
    pub last_refusal: Option<(String, String)>,
    /// Whether the missing heartbeat was alerted.
    pub(super) warned: bool,
}

/// A recommendation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recommendation {
    /// When.
    pub at: DateTime<Utc>,
    /// The agent's name.
    pub agent: String,
    /// The symbol, if any.
    pub symbol: Option<String>,
    /// The text.
    pub text: String,
}

fn record(kind: &'static str, data: serde_json::Value, sync: bool) -> Effect {
    Effect::Journal(JournalRecord { kind, data, sync })
}

impl State {
    /// The configured name and effective level of `uid` (an unknown uid gets the profile's level, under
    /// the name `uid N`).
    #[must_use]
    pub fn agent_identity(&self, uid: u32) -> (String, Permission) {
        self.agents.iter().find(|a| a.uid == uid).map_or_else(
            || (format!("uid {uid}"), self.profile.agent_permission),
            |a| (a.name.clone(), self.profile.effective_permission(a)),
        )
    }

    /// The Agents pane's view of `uid`, made on first sight.
    fn agent_view(&mut self, uid: u32) -> &mut AgentView {
        let (name, level) = self.agent_identity(uid);
        self.agent_views.entry(uid).or_insert_with(|| AgentView {
            name,
            label: String::new(),
            level,
            sessions: 0,
            status: None,
            heartbeat_at: None,
            same_uid: false,
            calls: 0,
            last_call: None,
            last_refusal: None,
            warned: false,
        })
    }

    pub(super) fn agent(&mut self, msg: AgentMsg, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        match msg {
            AgentMsg::Session {
                uid,
                label,
                same_uid,
                open,
            } => {
                let view = self.agent_view(uid);
                let name = view.name.clone();
                view.label.clone_from(&label);
                view.same_uid = same_uid;
                view.sessions = if open {
                    view.sessions + 1
                } else {
                    view.sessions.saturating_sub(1)
                };
                if open {
                    view.heartbeat_at.get_or_insert(now);
                }
                fx.push(record(
                    kinds::BROKER_EVENT,
                    json!({"event": if open { "agent_session_opened" } else { "agent_session_closed" },
                           "uid": uid, "agent": name, "label": label}),
                    false,
                ));
            }
            AgentMsg::Submit { uid, id } => self.submit(uid, id, now, fx),
            AgentMsg::Cancel { uid, order_id } => {
                // Only a working order this agent originated, and never a stop (a protective stop is the
                // trader's to cancel); the gateway says why before it gets here.
                if let Some(p) = self.proposals.values_mut().find(|p| {
                    p.order_id == Some(order_id)
                        && p.agent_uid == Some(uid)
                        && p.is_working()
                        && !p.ticket.order_type.needs_stop_price()
                }) {
                    p.cancel_requested = true;
                    fx.push(Effect::Cancel { order_id });
                }
            }
            AgentMsg::Status {
                uid,
                strategy,
                state,
                message,
            } => {
                let view = self.agent_view(uid);
                view.status = Some((strategy, state, message));
                view.heartbeat_at = Some(now);
                view.warned = false;
            }
            AgentMsg::Recommend { uid, text, symbol } => {
                let (agent, _) = self.agent_identity(uid);
                if self.recommendations.len() == RECOMMENDATIONS_KEPT {
                    self.recommendations.pop_front();
                }
                self.recommendations.push_back(Recommendation {
                    at: now,
                    agent,
                    symbol,
                    text,
                });
            }
            AgentMsg::Alert { uid, severity, text } => {
                let (agent, _) = self.agent_identity(uid);
                // Never critical, and never a step-down: an agent cannot move the trading state.
                let severity = if severity == Severity::Critical {
                    Severity::Warning
                } else {
                    severity
                };
                self.alert(severity, now, text, AlertSource::Agent(agent));
            }
            AgentMsg::GatewayDown { why } => {
                self.alert(Severity::Warning, now, why, AlertSource::System);
            }
            AgentMsg::Call {
                uid,
                peer_uid,
                label,
                tool,
                arguments,
                error,
                answer,
            } => {
                let (agent, level) = self.agent_identity(uid);
                let view = self.agent_view(uid);
                view.calls += 1;
                view.last_call = Some((tool.clone(), now));
                if error {
                    let why = answer["error"].as_str().unwrap_or("refused");
                    view.last_refusal = Some((tool.clone(), why.to_owned()));
                }
                fx.push(record(
                    kinds::TOOL_CALL,
                    json!({"uid": uid, "peer_uid": peer_uid, "agent": agent, "label": label, "level": level.as_str(),
                           "tool": tool, "arguments": arguments, "error": error, "answer": answer}),
                    false,
                ));
            }
        }
    }

    /// `submit_order`: only the agent's own proposal, awaiting approval at tier none (the policy found no
    /// human needed: execute level, below every threshold, within the budget), re-checked now.
    fn submit(&mut self, uid: u32, id: ProposalId, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let refusal = match self.proposals.get(&id) {
            None => Some(format!("proposal {} does not exist", id.0)),
            Some(p) if p.agent_uid != Some(uid) => Some(format!("proposal {} is not this agent's", id.0)),
            Some(p) if p.stage != Stage::AwaitingApproval => {
                Some(format!("proposal {} is {}", id.0, p.stage))
            }
            Some(p) if p.tier != Some(Tier::None) => Some(format!(
                "needs human approval: proposal {} needs the trader's {}; it stays staged for the trader",
                id.0,
                p.tier.map_or("refused", |t| if t == Tier::Typed {
                    "typed read-back"
                } else {
                    "confirm"
                })
            )),
            Some(_) => None,
        };
        if let Some(why) = refusal {
            self.last_refusal = Some((id, why));
            return;
        }
        self.last_refusal = None;
        self.approve(id, &Evidence::Automatic, now, fx);
    }

    /// Agents whose heartbeat is older than `heartbeat_secs` are alerted once (until they report again).
    pub(super) fn heartbeats(&mut self, now: DateTime<Utc>) {
        let limit = chrono::Duration::seconds(i64::from(self.heartbeat_secs));
        let late: Vec<(String, i64)> = self
            .agent_views
            .values_mut()
            .filter(|v| v.sessions > 0 && !v.warned)
            .filter_map(|v| {
                let at = v.heartbeat_at?;
                (now - at > limit).then(|| {
                    v.warned = true;
                    (v.name.clone(), (now - at).num_seconds())
                })
            })
            .collect();
        for (name, secs) in late {
            self.alert(
                Severity::Warning,
                now,
                format!("agent {name} has not reported its status for {secs} s"),
                AlertSource::System,
            );
        }
    }
}

/// Recommendations, newest last.
pub type Recommendations = VecDeque<Recommendation>;
