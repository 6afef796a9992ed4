//! Recovery on start: what survives a restart is read back from the journal, never from memory.
//!
//! Kept, for this profile and gateway: staged orders still awaiting approval (their verdict as recorded;
//! approving re-runs the policy), the trading state (a halted cockpit stays halted), today's counters
//! (exchange-time day) with the recent orders the duplicate, rate and agent-budget rules look back on, the
//! order-id high-water mark, executions already counted, a position mismatch the trader has not resumed
//! past, and every order sent and not yet ended. An intent that was committed but never acknowledged by
//! the broker (no status, no execution, no in-doubt resolution) is *in doubt*, whether or not it was
//! handed to the broker port: it comes back as [`Stage::InDoubt`], counts as working, blocks
//! reconciliation, and waits for the broker to say whether it has the order — it is never resent.
//! Approvals do not survive, and neither do positions: the first position check after the start takes
//! the broker's as its baseline. Proposal, intent and alert numbers continue after the highest used in
//! the whole journal, so `orderRef`s never repeat.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::lifecycle::Stage;
use super::state::{Proposal, State};
use crate::domain::{AlertSource, OrderId, OrderTicket, ProposalId, Severity};
use crate::journal::{Record, kinds};
use crate::policy::{self, Cause, Level, Requester, Rule, Tier, UnapprovedSpend, Violation};

/// Where a proposal stood at the end of the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Refused or awaiting approval.
    Pending,
    /// The intent is durable; no record says it was sent.
    Intended,
    /// Handed to the broker port, but the broker never acknowledged it (no status, no execution): with the
    /// broker adapter the order may still have been in its queue, so it is as much in doubt as `Intended`.
    Handed,
    /// The broker acknowledged it; not ended.
    Sent,
    /// Finished (or never sent).
    Ended,
}

/// One proposal as the journal tells it.
#[derive(Debug)]
struct Replayed {
    version: u32,
    ticket: Option<OrderTicket>,
    requester: String,
    note: String,
    staged_at: DateTime<Utc>,
    tier: Option<Tier>,
    codes: Vec<String>,
    messages: Vec<String>,
    fate: Fate,
    order_id: Option<OrderId>,
    order_ref: Option<String>,
    filled: Decimal,
}

fn decimal_of(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn order_id_of(v: &Value) -> Option<OrderId> {
    v.as_i64()
        .and_then(|v| i32::try_from(v).ok())
        .and_then(|v| OrderId::new(v).ok())
}

fn tier_of(v: &Value) -> Option<Tier> {
    match v.as_str()? {
        "None" => Some(Tier::None),
        "Confirm" => Some(Tier::Confirm),
        "Typed" => Some(Tier::Typed),
        _ => None,
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Each agent's orders staged today on this profile and gateway (`max_proposals_per_day`), by their first
/// verdict: re-checks and edits write verdicts too, and must not count again.
fn count_agent_proposals(state: &mut State, records: &[Record], now: DateTime<Utc>) {
    let gateway = format!("{}:{}", state.profile.host, state.profile.port);
    let tz = state.profile.policy.session.timezone;
    let today = now.with_timezone(&tz).date_naive();
    let mut first_verdicts: BTreeSet<u64> = BTreeSet::new();
    for r in records.iter().filter(|r| r.kind == kinds::VERDICT) {
        let Some(id) = r.data.get("proposal").and_then(Value::as_u64) else {
            continue;
        };
        if !first_verdicts.insert(id)
            || r.envelope.profile != state.profile.name
            || r.envelope.gateway != gateway
            || r.at.with_timezone(&tz).date_naive() != today
        {
            continue;
        }
        if let Some(name) = r.data["requester"].as_str().filter(|n| *n != "trader") {
            *state.agent_proposals_today.entry(name.to_owned()).or_insert(0) += 1;
        }
    }
}

/// Human (or clock) actions that end a pending staged order.
const ENDING_ACTIONS: [&str; 4] = ["reject", "withdraw", "expire", "void"];

/// Replays `records` (the whole journal, in seq order) into `state`, as of `now`.
pub(super) fn recover(state: &mut State, records: &[Record], now: DateTime<Utc>) {
    replay(state, records, now);
    count_agent_proposals(state, records, now);
}

/// The replay itself: proposals, trading state, counters and windows, ids.
fn replay(state: &mut State, records: &[Record], now: DateTime<Utc>) {
    let gateway = format!("{}:{}", state.profile.host, state.profile.port);
    let tz = state.profile.policy.session.timezone;
    let today = now.with_timezone(&tz).date_naive();
    let mut replayed: BTreeMap<u64, Replayed> = BTreeMap::new();
    let mut intents: Vec<(u64, &Record)> = Vec::new();
    let mut unsent: BTreeSet<u64> = BTreeSet::new();

    for r in records {
        // Numbers continue across profiles: a proposal id or orderRef never repeats in one journal.
        if let Some(id) = r.data.get("proposal").and_then(Value::as_u64) {
            state.next_proposal = state.next_proposal.max(id.saturating_add(1));
        }
        if r.kind == kinds::INTENT
            && let Some(seq) = r.data.get("intent_seq").and_then(Value::as_u64)
        {
            state.intent_seq = state.intent_seq.max(seq);
        }
        if r.kind == kinds::ALERT
            && let Some(id) = r.data.get("id").and_then(Value::as_u64)
        {
            state.next_alert = state.next_alert.max(id.saturating_add(1));
        }
        if r.envelope.profile != state.profile.name || r.envelope.gateway != gateway {
            continue;
        }
        let d = &r.data;
        let proposal = d.get("proposal").and_then(Value::as_u64);
        match r.kind.as_str() {
            kinds::VERDICT => {
                if let Some(id) = proposal {
                    verdict(&mut replayed, id, r);
                }
            }
            kinds::HUMAN_ACTION if d.get("refused").is_none_or(Value::is_null) => {
                let ends = ENDING_ACTIONS.contains(&d["action"].as_str().unwrap_or_default());
                if let (true, Some(p)) = (ends, proposal.and_then(|id| replayed.get_mut(&id))) {
                    p.fate = Fate::Ended;
                }
            }
            kinds::INTENT => {
                if let Some(id) = order_id_of(&d["high_water"])
                    && state.order_id_high_water.is_none_or(|hw| id > hw)
                {
                    state.order_id_high_water = Some(id);
                }
                let Some(id) = proposal else { continue };
                intents.push((id, r));
                if let Some(p) = replayed.get_mut(&id) {
                    p.fate = Fate::Intended;
                    p.order_id = order_id_of(&d["order_id"]);
                    p.order_ref = d["order_ref"].as_str().map(str::to_owned);
                    if let Ok(ticket) = serde_json::from_value(d["ticket"].clone()) {
                        p.ticket = Some(ticket);
                    }
                }
            }
            kinds::SENT => {
                if let Some(p) = proposal.and_then(|id| replayed.get_mut(&id))
                    && p.fate == Fate::Intended
                {
                    p.fate = Fate::Handed;
                }
            }
            kinds::NOT_SENT => {
                unsent.extend(proposal);
                set_fate(&mut replayed, proposal, Fate::Ended);
            }
            kinds::IN_DOUBT => {
                let fate = match (d["found"].as_bool(), d["status"].as_str()) {
                    (Some(true), Some("Filled" | "Cancelled" | "Rejected")) | (Some(false), _) => Fate::Ended,
                    _ => Fate::Sent,
                };
                set_fate(&mut replayed, proposal, fate);
            }
            kinds::BROKER_EVENT => broker_event(state, &mut replayed, d, proposal),
            kinds::TRADING_STATE | kinds::POSITION_MISMATCH => trading(state, &r.kind, d),
            _ => {}
        }
    }
    // Today's counters and the look-back windows, from every intent not known to be unsent.
    let keep = Duration::seconds(i64::from(state.profile.policy.duplicate_window_secs.max(60)));
    let window = Duration::seconds(i64::from(state.profile.policy.agent_budget_window_secs));
    for (id, r) in intents {
        if !unsent.contains(&id) {
            let agent = replayed.get(&id).map(|p| p.requester.as_str());
            count_intent(state, r, agent, today, (keep, window), now);
        }
    }

    for (id, p) in replayed {
        restore(state, ProposalId(id), p);
    }
    let doubtful = state.in_doubt().len();
    if doubtful > 0 {
        state.alert(
            Severity::Critical,
            now,
            format!(
                "{doubtful} order(s) from before the restart are in doubt: nothing is sent until the broker \
                 says whether it has them"
            ),
            AlertSource::System,
        );
    }
}

/// A verdict (first, re-check, or after an edit) sets the proposal's current version as recorded.
fn verdict(replayed: &mut BTreeMap<u64, Replayed>, id: u64, r: &Record) {
    let d = &r.data;
    let version = d["version"]
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(1);
    let p = replayed.entry(id).or_insert_with(|| Replayed {
        version,
        ticket: None,
        requester: String::new(),
        note: String::new(),
        staged_at: r.at,
        tier: None,
        codes: Vec::new(),
        messages: Vec::new(),
        fate: Fate::Pending,
        order_id: None,
        order_ref: None,
        filled: Decimal::ZERO,
    });
    if version != p.version {
        p.staged_at = r.at; // an edit restarts the approval window
    }
    p.version = version;
    p.ticket = serde_json::from_value(d["ticket"].clone()).ok();
    d["requester"].as_str().unwrap_or("").clone_into(&mut p.requester);
    d["note"].as_str().unwrap_or("").clone_into(&mut p.note);
    p.tier = tier_of(&d["tier"]);
    p.codes = strings(&d["codes"]);
    p.messages = strings(&d["messages"]);
}

fn set_fate(replayed: &mut BTreeMap<u64, Replayed>, proposal: Option<u64>, fate: Fate) {
    if let Some(p) = proposal.and_then(|id| replayed.get_mut(&id)) {
        p.fate = fate;
    }
}

fn broker_event(state: &mut State, replayed: &mut BTreeMap<u64, Replayed>, d: &Value, proposal: Option<u64>) {
    let p = proposal.and_then(|id| replayed.get_mut(&id));
    match (d["event"].as_str(), p) {
        (Some("commission"), _) => {
            if let Some(exec_id) = d["exec_id"].as_str() {
                state.seen_commissions.insert(exec_id.to_owned());
            }
        }
        (Some("execution"), p) => {
            if let Some(exec_id) = d["exec_id"].as_str() {
                state.seen_executions.insert(exec_id.to_owned());
            }
            if let Some(p) = p {
                // The broker has it: an intent in doubt was sent after all.
                if matches!(p.fate, Fate::Intended | Fate::Handed) {
                    p.fate = Fate::Sent;
                }
                if let Some(q) = decimal_of(&d["quantity"]) {
                    p.filled = p.filled.checked_add(q).unwrap_or(p.filled);
                }
            }
        }
        (Some("dry_run"), Some(p)) => p.fate = Fate::Ended,
        (Some("order_status"), Some(p)) => {
            p.fate = match d["status"].as_str() {
                Some("Filled" | "Cancelled" | "Rejected") => Fate::Ended,
                _ => Fate::Sent,
            };
        }
        _ => {}
    }
}

/// What holds trading down: the trading state, and a position mismatch (until the trader resumes, which
/// records an `ACTIVE` trading state).
fn trading(state: &mut State, kind: &str, d: &Value) {
    if kind == kinds::POSITION_MISMATCH {
        state.position_watch.mismatch = true;
        return;
    }
    let level = match d["level"].as_str() {
        Some("HALTED") => Level::Halted,
        Some("REDUCING") => Level::Reducing,
        _ => Level::Active,
    };
    let cause = d["cause"].as_str().and_then(Cause::from_label);
    match (level, cause) {
        (Level::Active, _) => {
            state.trading = policy::TradingState::active();
            state.position_watch.mismatch = false;
        }
        (_, Some(cause)) => {
            state.trading.step_down(cause, level);
        }
        (_, None) => {}
    }
}

/// Counts one intent into today's counters (if it is of today) and the look-back windows `(duplicate and
/// rate, agent budget)` (if recent enough).
fn count_intent(
    state: &mut State,
    r: &Record,
    agent: Option<&str>,
    today: chrono::NaiveDate,
    (keep, window): (Duration, Duration),
    now: DateTime<Utc>,
) {
    let Ok(t) = serde_json::from_value::<OrderTicket>(r.data["ticket"].clone()) else {
        return;
    };
    let notional = decimal_of(&r.data["notional"]).unwrap_or(Decimal::ZERO);
    let tz = state.profile.policy.session.timezone;
    if r.at.with_timezone(&tz).date_naive() == today {
        state.count_today(&t, notional);
    }
    let age = now.signed_duration_since(r.at);
    if age < window
        && r.data["agent_unapproved"].as_bool() == Some(true)
        && let Some(agent) = agent
    {
        state.unapproved.push(UnapprovedSpend {
            agent: agent.to_owned(),
            instrument: t.instrument.clone(),
            notional,
            at: r.at,
        });
    }
    if age < keep {
        state.remember_sent(t, r.at);
    }
}

/// Puts a replayed proposal back, if it is still live; an agent no longer in the config cannot be
/// re-approved under its old identity, so its pending proposals are left out (and said so).
fn restore(state: &mut State, id: ProposalId, p: Replayed) {
    let at = match p.fate {
        Fate::Ended => return,
        Fate::Pending if p.tier.is_some() => Stage::AwaitingApproval,
        Fate::Pending => Stage::Refused,
        Fate::Intended | Fate::Handed => Stage::InDoubt,
        Fate::Sent => Stage::Sent,
    };
    let Some(ticket) = p.ticket else { return };
    let (requester, agent_uid) = if p.requester == "trader" {
        (Requester::Trader, None)
    } else if let Some(agent) = state.agents.iter().find(|a| a.name == p.requester) {
        (
            Requester::Agent {
                name: agent.name.clone(),
                level: state.profile.effective_permission(agent),
                unapproved_budget: agent.unapproved_notional_budget,
            },
            Some(agent.uid),
        )
    } else if at.is_pending() {
        return;
    } else {
        (
            Requester::Agent {
                name: p.requester.clone(),
                level: crate::config::Permission::Read,
                unapproved_budget: Decimal::ZERO,
            },
            None,
        )
    };
    let clearable = at == Stage::AwaitingApproval;
    let violations = p
        .codes
        .iter()
        .zip(p.messages.iter().map(Some).chain(std::iter::repeat(None)))
        .filter_map(|(code, message)| {
            let rule = Rule::ALL.into_iter().find(|r| r.code() == code)?;
            Some(Violation {
                rule,
                message: message.cloned().unwrap_or_default(),
            })
        })
        .collect();
    state.proposals.insert(
        id,
        Proposal {
            id,
            version: p.version,
            fingerprint: clearable.then(|| policy::fingerprint(&ticket, &state.profile.name, p.version)),
            read_back: clearable.then(|| policy::read_back(&ticket)),
            ticket,
            requester,
            agent_uid,
            note: p.note,
            stage: at,
            violations,
            tier: if clearable { p.tier } else { None },
            notional: None,
            staged_at: p.staged_at,
            cleared: None,
            order_id: p.order_id,
            order_ref: p.order_ref,
            broker_status: None,
            filled: p.filled,
            cancel_requested: false,
            staged_mid: None,
            previous: None,
            end_reason: None,
        },
    );
}
