//! The typed reading of each record kind's payload, as catalogued in [`crate::journal::kinds`]. Unknown kinds,
//! unknown fields and unknown `action`/`event` values are ignored; a known kind missing a field the report
//! needs, or holding it with the wrong type, is an error naming the field. Decimals are read from their JSON
//! text (string or number), never through `f64`.

use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::journal::{Record, kinds};

/// A decimal read from a JSON string or the literal text of a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dec(pub Decimal);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = match Value::deserialize(deserializer)? {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            other => return Err(D::Error::custom(format!("expected a decimal, found {other}"))),
        };
        let text = text.trim();
        Decimal::from_str_exact(text)
            .or_else(|_| Decimal::from_scientific(text))
            .map(Dec)
            .map_err(|e| D::Error::custom(format!("'{text}' is not a decimal: {e}")))
    }
}

/// A field that must be present but may be null.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// `verdict`.
#[derive(Debug, Deserialize)]
pub(super) struct Verdict {
    pub proposal: u64,
    #[serde(default)]
    pub version: Option<u64>,
    pub requester: String,
    #[serde(default)]
    pub codes: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub tier: Option<String>,
}

/// `proposal_refused`.
#[derive(Debug, Deserialize)]
pub(super) struct ProposalRefused {
    pub reason: String,
    #[serde(default)]
    pub proposal: Option<u64>,
}

/// A ticket as serde writes [`crate::domain::OrderTicket`]; only what the report shows.
#[derive(Debug, Deserialize)]
pub(super) struct TicketPayload {
    #[serde(default)]
    pub account: String,
    pub instrument: InstrumentPayload,
    pub side: String,
    pub quantity: Dec,
    pub order_type: String,
    #[serde(default)]
    pub limit_price: Option<Dec>,
    #[serde(default)]
    pub stop_price: Option<Dec>,
}

/// The instrument of a ticket.
#[derive(Debug, Deserialize)]
pub(super) struct InstrumentPayload {
    pub symbol: String,
}

/// `intent`.
#[derive(Debug, Deserialize)]
pub(super) struct Intent {
    pub proposal: u64,
    pub order_id: i64,
    pub ticket: TicketPayload,
    #[serde(default)]
    pub agent_unapproved: Option<bool>,
}

/// `sent`.
#[derive(Debug, Deserialize)]
pub(super) struct Sent {
    pub proposal: u64,
    pub order_id: i64,
    #[serde(default)]
    pub order_ref: Option<String>,
}

/// `not_sent`.
#[derive(Debug, Deserialize)]
pub(super) struct NotSent {
    pub proposal: u64,
    pub reason: String,
}

/// `in_doubt`.
#[derive(Debug, Deserialize)]
pub(super) struct InDoubt {
    pub proposal: u64,
    pub order_id: i64,
    #[serde(default)]
    pub order_ref: Option<String>,
    pub found: bool,
    #[serde(default)]
    pub status: Option<String>,
}

/// `trading_state`.
#[derive(Debug, Deserialize)]
pub(super) struct TradingState {
    pub level: String,
    pub cause: String,
    #[serde(default)]
    pub why: Option<String>,
}

/// `alert`.
#[derive(Debug, Deserialize)]
pub(super) struct Alert {
    pub id: u64,
    pub severity: String,
    pub text: String,
    #[serde(default)]
    pub source: Option<String>,
}

/// `tool_call`.
#[derive(Debug, Deserialize)]
pub(super) struct ToolCall {
    pub agent: String,
    pub tool: String,
    pub outcome: String,
}

/// A `human_action` on a proposal.
#[derive(Debug, Deserialize)]
pub(super) struct OnProposal {
    pub proposal: u64,
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `human_action` `acknowledge`.
#[derive(Debug, Deserialize)]
pub(super) struct Acknowledge {
    pub alert: u64,
}

/// `human_action` `discarded_keys`.
#[derive(Debug, Deserialize)]
pub(super) struct DiscardedKeys {
    pub keys: Value,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `human_action` `profile_switch`.
#[derive(Debug, Deserialize)]
pub(super) struct ProfileSwitch {
    pub from: String,
    pub to: String,
}

/// `broker_event` `order_status`.
#[derive(Debug, Deserialize)]
pub(super) struct OrderStatus {
    #[serde(default)]
    pub proposal: Option<u64>,
    pub order_id: i64,
    pub status: String,
}

/// `broker_event` `dry_run`.
#[derive(Debug, Deserialize)]
pub(super) struct DryRun {
    pub proposal: u64,
}

/// `broker_event` `execution`.
#[derive(Debug, Deserialize)]
pub(super) struct Execution {
    #[serde(default)]
    pub proposal: Option<u64>,
    pub order_id: i64,
    pub exec_id: String,
    pub quantity: Dec,
    pub price: Dec,
}

/// `broker_event` `commission`.
#[derive(Debug, Deserialize)]
pub(super) struct Commission {
    pub exec_id: String,
    #[serde(rename = "commission")]
    pub amount: Dec,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub realized_pnl: Option<Dec>,
}

/// `broker_event` `error`.
#[derive(Debug, Deserialize)]
pub(super) struct BrokerError {
    #[serde(deserialize_with = "nullable")]
    pub order_id: Option<i64>,
    pub code: i64,
    pub text: String,
}

/// What a `human_action` did.
#[derive(Debug)]
pub(super) enum Human {
    /// Any action with `refused`: not carried out.
    Refused {
        action: String,
    },
    Approve(OnProposal),
    Edit(OnProposal),
    Reject(OnProposal),
    Withdraw(OnProposal),
    Expire(OnProposal),
    Acknowledge(Acknowledge),
    KillSwitch,
    Resume,
    DiscardedKeys {
        keys: u64,
        reason: Option<String>,
    },
    ProfileSwitch(ProfileSwitch),
}

/// What a `broker_event` reported.
#[derive(Debug)]
pub(super) enum Broker {
    Connected,
    Disconnected,
    /// A dry-run profile recorded this order instead of sending it.
    DryRun(DryRun),
    OrderStatus(OrderStatus),
    Execution(Execution),
    Commission(Commission),
    Error(BrokerError),
}

/// A record, read.
#[derive(Debug)]
pub(super) enum Event {
    Verdict(Verdict),
    ProposalRefused(ProposalRefused),
    Human(Human),
    Intent(Intent),
    Sent(Sent),
    NotSent(NotSent),
    InDoubt(InDoubt),
    Broker(Broker),
    TradingState(TradingState),
    Alert(Alert),
    ToolCall(ToolCall),
    /// A kind, action or event the report does not use.
    Ignored,
}

/// Reads `record`'s payload; an error names what is wrong.
pub(super) fn read(record: &Record) -> Result<Event, String> {
    let data = &record.data;
    Ok(match record.kind.as_str() {
        kinds::VERDICT => Event::Verdict(typed(data)?),
        kinds::PROPOSAL_REFUSED => Event::ProposalRefused(typed(data)?),
        kinds::HUMAN_ACTION => human(data)?.map_or(Event::Ignored, Event::Human),
        kinds::INTENT => Event::Intent(typed(data)?),
        kinds::SENT => Event::Sent(typed(data)?),
        kinds::NOT_SENT => Event::NotSent(typed(data)?),
        kinds::IN_DOUBT => Event::InDoubt(typed(data)?),
        kinds::BROKER_EVENT => broker(data)?.map_or(Event::Ignored, Event::Broker),
        kinds::TRADING_STATE => Event::TradingState(typed(data)?),
        kinds::ALERT => Event::Alert(typed(data)?),
        kinds::TOOL_CALL => Event::ToolCall(typed(data)?),
        _ => Event::Ignored,
    })
}

fn typed<T: DeserializeOwned>(data: &Value) -> Result<T, String> {
    T::deserialize(data).map_err(|e| e.to_string())
}

/// The value of the tag field (`action`, `event`), normalised to `snake_case`. The cockpit writes lowercase
/// `snake_case` labels (`kill_switch`); other spellings (`KillSwitch`, `Kill Switch`) read the same.
fn tag(data: &Value, field: &str) -> Result<String, String> {
    match data.get(field) {
        Some(Value::String(s)) => Ok(snake(s)),
        Some(other) => Err(format!("`{field}` is not text: {other}")),
        None => Err(format!("missing field `{field}`")),
    }
}

/// `KillSwitch`, `kill-switch`, `Kill Switch` and `kill_switch` all become `kill_switch`.
pub(super) fn snake(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut prev_lower = false;
    for c in text.trim().chars() {
        if c == '-' || c == ' ' || c == '_' {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        } else if c.is_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.extend(c.to_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

fn human(data: &Value) -> Result<Option<Human>, String> {
    let action = tag(data, "action")?;
    if data.get("refused").is_some_and(|r| !r.is_null()) {
        return Ok(Some(Human::Refused { action }));
    }
    Ok(Some(match action.as_str() {
        "approve" => Human::Approve(typed(data)?),
        "edit" => Human::Edit(typed(data)?),
        "reject" => Human::Reject(typed(data)?),
        "withdraw" => Human::Withdraw(typed(data)?),
        "expire" => Human::Expire(typed(data)?),
        "acknowledge" => Human::Acknowledge(typed(data)?),
        "kill_switch" => Human::KillSwitch,
        "resume" => Human::Resume,
        "discarded_keys" => {
            let d: DiscardedKeys = typed(data)?;
            let keys = match &d.keys {
                Value::Number(n) => n.as_u64().ok_or_else(|| format!("`keys` is not a count: {n}"))?,
                Value::Array(keys) => keys.len() as u64,
                other => return Err(format!("`keys` is neither a count nor a list: {other}")),
            };
            Human::DiscardedKeys {
                keys,
                reason: d.reason,
            }
        }
        "profile_switch" => Human::ProfileSwitch(typed(data)?),
        _ => return Ok(None),
    }))
}

fn broker(data: &Value) -> Result<Option<Broker>, String> {
    Ok(Some(match tag(data, "event")?.as_str() {
        "connected" => Broker::Connected,
        "disconnected" => Broker::Disconnected,
        "dry_run" => Broker::DryRun(typed(data)?),
        "order_status" => Broker::OrderStatus(typed(data)?),
        "execution" => Broker::Execution(typed(data)?),
        "commission" => Broker::Commission(typed(data)?),
        "error" => Broker::Error(typed(data)?),
        _ => return Ok(None),
    }))
}
