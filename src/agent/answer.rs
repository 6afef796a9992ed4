//! The shell's side of a tool call: the level check, the arguments, the action through the engine
//! (`State::update` and the journal), the answer — and the `tool_call` record of every call, refused and
//! malformed ones included, committed before the answer is returned.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::args::Args;
use super::tools;
use super::{AgentCall, Answer};
use crate::app::{AgentMsg, BrokerPort, Engine, Msg, Proposal, Source, Stage, State};
use crate::config::{Mode, Permission};
use crate::domain::{
    AccountId, Currency, Instrument, OrderId, OrderTicket, OrderType, Price, ProposalId, Quantity, Severity,
    Side, Symbol, Tif,
};
use crate::policy::Tier;

/// What the journal keeps of arguments: at most this many bytes of their JSON.
const JOURNALED_ARGUMENT_BYTES: usize = 4 * 1024;
/// What the journal keeps of an answer: the answer itself up to this many bytes of JSON; past it, its size
/// and SHA-256 (a busy agent's reads would otherwise write megabytes a second of what the journal already
/// holds record by record).
const JOURNALED_ANSWER_BYTES: usize = 4 * 1024;
/// How many of an agent's finished proposals `get_orders` lists (the most recent); every open one is
/// listed, and the older finished ones are counted.
const FINISHED_LISTED: usize = 50;

/// Answers `call` through `engine`, journals it, and sends the answer back.
pub async fn serve<B: BrokerPort + std::fmt::Debug>(
    call: AgentCall,
    engine: &mut Engine<B>,
    allow_same_uid: bool,
    now: DateTime<Utc>,
) {
    serve_all(vec![call], engine, allow_same_uid, now).await;
}

/// Answers `calls` through `engine` in order, journals them, and only then sends the answers back. Their
/// `tool_call` records share one journal commit (one sync of the disk, not one per call): an agent flood
/// costs a commit per batch. What a call does (a proposal staged, an order submitted) is still carried out
/// and committed by the engine as it is answered, before its `tool_call` record; every call is journaled
/// before its answer leaves.
pub async fn serve_all<B: BrokerPort + std::fmt::Debug>(
    calls: Vec<AgentCall>,
    engine: &mut Engine<B>,
    allow_same_uid: bool,
    now: DateTime<Utc>,
) {
    let mut records = Vec::with_capacity(calls.len());
    let mut replies = Vec::with_capacity(calls.len());
    for call in calls {
        let outcome = respond(&call, engine, allow_same_uid, now).await;
        let (error, body) = match outcome {
            Ok(body) => (false, body),
            Err(why) => (true, json!({"error": why})),
        };
        records.push(Msg::Agent(AgentMsg::Call {
            uid: call.uid,
            peer_uid: call.peer_uid,
            arguments: journaled_arguments(&call.arguments),
            label: call.label,
            tool: call.tool,
            error,
            answer: journaled_answer(&body),
        }));
        replies.push((call.reply, Answer { error, body }));
    }
    engine.handle_all(records, now).await;
    for (reply, answer) in replies {
        let _ = reply.send(answer);
    }
}

#[expect(clippy::too_many_lines, reason = "one arm per tool, each short")]
async fn respond<B: BrokerPort + std::fmt::Debug>(
    call: &AgentCall,
    engine: &mut Engine<B>,
    allow_same_uid: bool,
    now: DateTime<Utc>,
) -> Result<Value, String> {
    if let Some(why) = &call.refused {
        return Err(why.clone());
    }
    let state = engine.state();
    if call.same_uid && state.profile.mode == Mode::Live && !allow_same_uid {
        return Err(
            "this agent runs under the cockpit's own uid, which a live profile refuses; run it as \
                    its own user, or set allow_same_uid_agents = true in the config"
                .into(),
        );
    }
    let Some(tool) = tools::find(&call.tool) else {
        let names: Vec<&str> = tools::TOOLS.iter().map(|t| t.name).collect();
        return Err(format!(
            "unknown tool '{}'; the tools are: {}",
            call.tool,
            names.join(", ")
        ));
    };
    let (name, level) = state.agent_identity(call.uid);
    if level < tool.level {
        return Err(format!(
            "{} needs the {} level; {name} has {} on profile {}",
            tool.name,
            tool.level.as_str(),
            level.as_str(),
            state.profile.name
        ));
    }
    let empty = serde_json::Map::new();
    let map = match &call.arguments {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => return Err("arguments must be a JSON object".into()),
    };
    let mut args = Args::new(map);
    let uid = call.uid;
    match tool.name {
        "get_account" => finish(&args, account(state)),
        "get_positions" => finish(&args, positions(state, now)),
        "get_orders" => finish(&args, orders(state, uid)),
        "get_quote" => {
            let symbol = symbol(&args.text("symbol")?)?;
            args.finish()?;
            quote(state, &symbol, now)
        }
        "get_alerts" => finish(&args, alerts(state)),
        "get_policy" => finish(&args, policy(state, uid)),
        "stage_order" => {
            let (ticket, rationale) = ticket(&mut args, state)?;
            args.finish()?;
            let before = state.proposals.keys().next_back().copied();
            engine
                .handle(
                    Msg::Propose {
                        source: Source::Agent { uid },
                        ticket,
                        note: rationale,
                    },
                    now,
                )
                .await;
            let state = engine.state();
            match state.proposals.values().next_back() {
                Some(p) if Some(p.id) != before => Ok(verdict(p)),
                _ => Err(state
                    .last_proposal_refusal
                    .clone()
                    .unwrap_or_else(|| "the proposal was not staged".to_owned())),
            }
        }
        "recommend" => {
            let text = args.text("text")?;
            let symbol = args.text_opt("symbol")?;
            args.finish()?;
            engine
                .handle(Msg::Agent(AgentMsg::Recommend { uid, text, symbol }), now)
                .await;
            Ok(json!({"posted": true}))
        }
        "raise_alert" => {
            let severity = match args.text("severity")?.as_str() {
                "info" => Severity::Info,
                "warning" => Severity::Warning,
                other => {
                    return Err(format!(
                        "severity: '{other}' is not allowed; agents raise info or warning"
                    ));
                }
            };
            let text = args.text("text")?;
            args.finish()?;
            engine
                .handle(Msg::Agent(AgentMsg::Alert { uid, severity, text }), now)
                .await;
            Ok(
                json!({"raised": true, "note": "shown as written by you; it does not change the trading state"}),
            )
        }
        "cancel_proposal" => {
            let id = ProposalId(args.id("proposal_id")?);
            args.finish()?;
            own_pending(engine.state(), uid, id)?;
            engine
                .handle(
                    Msg::Withdraw {
                        source: Source::Agent { uid },
                        id,
                    },
                    now,
                )
                .await;
            Ok(json!({"proposal_id": id.0, "fate": "withdrawn"}))
        }
        "report_status" => {
            let strategy = args.text("strategy")?;
            let state_text = args.text("state")?;
            let message = args.text("message")?;
            args.finish()?;
            engine
                .handle(
                    Msg::Agent(AgentMsg::Status {
                        uid,
                        strategy,
                        state: state_text,
                        message,
                    }),
                    now,
                )
                .await;
            Ok(json!({"recorded": true}))
        }
        "submit_order" => {
            let id = ProposalId(args.id("proposal_id")?);
            args.finish()?;
            let before = engine.state().proposals.get(&id).map(|p| p.stage);
            engine.handle(Msg::Agent(AgentMsg::Submit { uid, id }), now).await;
            let state = engine.state();
            match state.proposals.get(&id) {
                // Sent by this call; a replay of an id already submitted is refused, never sent again.
                Some(p)
                    if before == Some(Stage::AwaitingApproval)
                        && matches!(p.stage, Stage::Approved | Stage::Sent | Stage::Done(_)) =>
                {
                    Ok(verdict(p))
                }
                _ => Err(state.last_refusal.as_ref().filter(|(p, _)| *p == id).map_or_else(
                    || format!("proposal {} was not sent", id.0),
                    |(_, why)| why.clone(),
                )),
            }
        }
        "cancel_order" => {
            let order_id = args.id("order_id")?;
            args.finish()?;
            let order_id = i32::try_from(order_id)
                .ok()
                .and_then(|id| OrderId::new(id).ok())
                .ok_or("order_id: not a broker order id")?;
            let p = engine
                .state()
                .proposals
                .values()
                .find(|p| p.order_id == Some(order_id))
                .ok_or_else(|| format!("order {} is not one of the cockpit's orders", order_id.get()))?;
            if p.agent_uid != Some(uid) {
                return Err(format!("order {} was not originated by you", order_id.get()));
            }
            if !p.is_working() {
                return Err(format!(
                    "order {} is {}: nothing to cancel",
                    order_id.get(),
                    p.stage
                ));
            }
            if p.ticket.order_type.needs_stop_price() {
                return Err(format!(
                    "order {} is a stop: cancelling a protective stop needs the trader",
                    order_id.get()
                ));
            }
            engine
                .handle(Msg::Agent(AgentMsg::Cancel { uid, order_id }), now)
                .await;
            Ok(json!({"order_id": order_id.get(), "cancel": "sent"}))
        }
        other => Err(format!("the tool {other} is not served")),
    }
}

fn finish(args: &Args<'_>, value: Value) -> Result<Value, String> {
    args.finish()?;
    Ok(value)
}

fn own_pending(state: &State, uid: u32, id: ProposalId) -> Result<(), String> {
    match state.proposals.get(&id) {
        None => Err(format!("proposal {} does not exist", id.0)),
        Some(p) if p.agent_uid != Some(uid) => Err(format!("proposal {} is not yours", id.0)),
        Some(p) if !p.stage.is_pending() => Err(format!("proposal {} is {}", id.0, p.stage)),
        Some(_) => Ok(()),
    }
}

/// A symbol as an agent writes it: trimmed and upper-cased ASCII; lookalikes are refused by `Symbol`.
fn symbol(text: &str) -> Result<Symbol, String> {
    Symbol::parse(&text.trim().to_ascii_uppercase()).map_err(|e| format!("symbol: {e}"))
}

fn ticket(args: &mut Args<'_>, state: &State) -> Result<(OrderTicket, String), String> {
    let symbol = symbol(&args.text("symbol")?)?;
    let side = Side::parse(&args.text("side")?.to_ascii_uppercase()).map_err(|e| format!("side: {e}"))?;
    let quantity = Quantity::new(args.decimal("quantity")?).map_err(|e| format!("quantity: {e}"))?;
    let order_type = OrderType::parse(&args.text("order_type")?.to_ascii_uppercase())
        .map_err(|e| format!("order_type: {e}"))?;
    let price = |v: Option<Decimal>, field: &str| -> Result<Option<Price>, String> {
        v.map(|p| Price::new(p).map_err(|e| format!("{field}: {e}")))
            .transpose()
    };
    let limit_price = price(args.decimal_opt("limit_price")?, "limit_price")?;
    let stop_price = price(args.decimal_opt("stop_price")?, "stop_price")?;
    let tif = match args.text_opt("tif")? {
        Some(t) => Tif::parse(&t.to_ascii_uppercase()).map_err(|e| format!("tif: {e}"))?,
        None => Tif::Day,
    };
    let account = match args.text_opt("account")? {
        Some(a) => AccountId::parse(a.trim()).map_err(|e| format!("account: {e}"))?,
        None => state
            .profile
            .accounts
            .first()
            .cloned()
            .ok_or("account: the profile has no account")?,
    };
    let rationale = args.text("rationale")?;
    // The allowlist pins the instrument; a symbol outside it is staged as a plain stock so the policy
    // refuses it by name (SYMBOL) and the trader sees the attempt.
    let instrument = state
        .profile
        .policy
        .symbols
        .iter()
        .find(|i| i.symbol == symbol)
        .cloned()
        .unwrap_or_else(|| Instrument::stock(symbol, Currency::USD, ""));
    let ticket = OrderTicket {
        account,
        instrument,
        side,
        quantity,
        order_type,
        limit_price,
        stop_price,
        tif,
        outside_rth: false,
    };
    ticket.validate().map_err(|problems| {
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    Ok((ticket, rationale))
}

fn fate(p: &Proposal) -> String {
    match p.stage {
        Stage::AwaitingApproval if p.tier == Some(Tier::None) => "cleared for submit_order".into(),
        Stage::AwaitingApproval => "staged for the trader's approval".into(),
        Stage::Refused => "refused by the policy".into(),
        Stage::Sent if !p.filled.is_zero() => {
            format!("partially filled ({} of {})", p.filled, p.ticket.quantity)
        }
        other => other.to_string(),
    }
}

fn verdict(p: &Proposal) -> Value {
    json!({
        "proposal_id": p.id.0,
        "version": p.version,
        "fate": fate(p),
        "order": format!("{} {} {} {}{}", p.ticket.side.as_ib(), p.ticket.quantity, p.ticket.instrument.symbol,
                         p.ticket.order_type.as_ib(),
                         p.ticket.limit_price.map(|l| format!(" {l}")).unwrap_or_default()),
        "notional": p.notional.map(|n| n.round_dp(2).to_string()),
        "approval": p.tier.map(|t| match t { Tier::None => "none", Tier::Confirm => "trader confirms", Tier::Typed => "trader types a read-back" }),
        "refused": p.violations.iter().map(|v| json!({"rule": v.rule.code(), "why": v.message})).collect::<Vec<_>>(),
        "order_id": p.order_id.map(OrderId::get),
        "filled": p.filled.to_string(),
        "edited_from": p.previous.as_ref().map(|t| format!("{} {} {} {}{}", t.side.as_ib(), t.quantity,
                         t.instrument.symbol, t.order_type.as_ib(),
                         t.limit_price.map(|l| format!(" {l}")).unwrap_or_default())),
        "reason": p.end_reason,
    })
}

/// What the journal keeps of `arguments`: their JSON text, cut at [`JOURNALED_ARGUMENT_BYTES`].
fn journaled_arguments(arguments: &Value) -> Value {
    let mut text = arguments.to_string();
    if text.len() > JOURNALED_ARGUMENT_BYTES {
        let mut cut = JOURNALED_ARGUMENT_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("…(cut)");
    }
    Value::String(text)
}

/// What the journal keeps of `answer`: itself, or past [`JOURNALED_ANSWER_BYTES`] its size and digest.
fn journaled_answer(answer: &Value) -> Value {
    use sha2::{Digest, Sha256};
    let text = answer.to_string();
    if text.len() <= JOURNALED_ANSWER_BYTES {
        return answer.clone();
    }
    json!({"cut": true, "bytes": text.len(), "sha256": crate::journal::hex(&Sha256::digest(text.as_bytes()))})
}

/// The agent's proposals, oldest first: every open one, and the [`FINISHED_LISTED`] most recent finished.
fn orders(state: &State, uid: u32) -> Value {
    let done = |p: &Proposal| matches!(p.stage, Stage::Done(_));
    let mine = || state.proposals.values().filter(|p| p.agent_uid == Some(uid));
    let older = mine().filter(|p| done(p)).count().saturating_sub(FINISHED_LISTED);
    let mut skip = older;
    let listed: Vec<Value> = mine()
        .filter(|p| {
            let hide = skip > 0 && done(p);
            skip -= usize::from(hide);
            !hide
        })
        .map(verdict)
        .collect();
    json!({"orders": listed, "older_finished_not_listed": older})
}

fn account(state: &State) -> Value {
    let accounts: Vec<Value> = state
        .accounts
        .iter()
        .map(|(id, a)| {
            let s = |v: Option<Decimal>| v.map(|v| v.to_string());
            json!({"account": id.to_string(), "net_liquidation": s(a.net_liquidation), "cash": s(a.total_cash),
                   "buying_power": s(a.buying_power), "excess_liquidity": s(a.excess_liquidity),
                   "cushion": s(a.cushion), "initial_margin": s(a.init_margin), "maintenance_margin": s(a.maint_margin),
                   "daily_pnl": s(a.daily_pnl), "unrealized_pnl": s(a.unrealized_pnl), "realized_pnl": s(a.realized_pnl)})
        })
        .collect();
    json!({"accounts": accounts, "trading_state": state.trading.level().label(),
           "causes": state.trading.causes().map(|(c, _)| c.label()).collect::<Vec<_>>()})
}

fn positions(state: &State, now: DateTime<Utc>) -> Value {
    let rows: Vec<Value> = state
        .positions
        .iter()
        .map(|(key, qty)| {
            let q = state.quotes.get(&key.1);
            json!({"account": key.0.to_string(), "symbol": key.1.symbol.to_string(), "quantity": qty.to_string(),
                   "average_cost": state.position_costs.get(key).map(ToString::to_string),
                   "mid": q.and_then(crate::domain::Quote::mid).map(|m| m.to_string()),
                   "quote_age_secs": q.map(|q| q.age(now).num_seconds())})
        })
        .collect();
    json!({"positions": rows})
}

fn quote(state: &State, symbol: &Symbol, now: DateTime<Utc>) -> Result<Value, String> {
    let (instrument, q) = state
        .quotes
        .iter()
        .find(|(i, _)| i.symbol == *symbol)
        .ok_or_else(|| {
            format!("no quote for {symbol}: it is not subscribed (see get_policy for the symbols)")
        })?;
    let source = state
        .market_data
        .get(instrument)
        .map_or_else(|| "live".to_owned(), ToString::to_string);
    let p = |v: Option<Price>| v.map(|p| p.to_string());
    Ok(
        json!({"symbol": symbol.to_string(), "bid": p(q.bid), "ask": p(q.ask), "last": p(q.last),
              "age_secs": q.age(now).num_seconds(), "data": source}),
    )
}

fn alerts(state: &State) -> Value {
    let rows: Vec<Value> = state
        .alerts
        .iter()
        .rev()
        .take(50)
        .map(|a| {
            json!({"id": a.id.0, "severity": a.severity, "at": a.raised_at.to_rfc3339(), "text": a.text,
                        "acknowledged": a.acknowledged})
        })
        .collect();
    json!({"alerts": rows})
}

fn policy(state: &State, uid: u32) -> Value {
    let p = &state.profile.policy;
    let (name, level) = state.agent_identity(uid);
    let budget = state
        .agents
        .iter()
        .find(|a| a.uid == uid)
        .map_or(Decimal::ZERO, |a| a.unapproved_notional_budget);
    json!({
        "profile": state.profile.name, "mode": state.profile.mode.as_str(),
        "you": {"name": name, "level": level.as_str(), "unapproved_notional_budget": budget.to_string(),
                "can_submit": level == Permission::Execute},
        "symbols": p.symbols.iter().map(|i| i.symbol.to_string()).collect::<Vec<_>>(),
        "order_types": p.order_types.iter().map(|t| t.as_ib()).collect::<Vec<_>>(),
        "tifs": p.tifs.iter().map(|t| t.as_ib()).collect::<Vec<_>>(),
        "max_order_quantity": p.max_order_quantity.to_string(),
        "max_order_notional": p.max_order_notional.to_string(),
        "max_position": p.max_position.to_string(),
        "price_collar_pct": p.price_collar_pct.to_string(),
        "max_orders_per_day": p.max_orders_per_day,
        "manual_approval_notional": p.manual_approval_notional.to_string(),
        "typed_approval_notional": p.typed_approval_notional.to_string(),
        "quote_max_age_secs": p.quote_max_age_secs,
        "session_always_open": p.session.always_open,
    })
}
