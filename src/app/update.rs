//! `State::update`: the only mutator. Deterministic — time comes in as `now`; the journal, the broker and
//! the clock are outside, reached only through the effects it returns.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::json;

use super::lifecycle::{End, Stage, Step, next};
use super::msg::{
    BrokerEvent, BrokerPosition, Connection, Effect, GLOBAL_CANCEL_READ_BACK, JournalRecord, Msg, PlaceOrder,
    Source,
};
use super::state::{APPROVAL_TTL_SECS, MAINT_MARGIN_JUMP, PLACE_DEADLINE_SECS, Proposal, State};
use crate::config::AfterLongDisconnect;
use crate::domain::{
    AccountId, AlertSource, DataStatus, Instrument, OrderEvent, OrderId, OrderStatus, OrderTicket,
    ProposalId, Severity, Side,
};
use crate::journal::kinds;
use crate::policy::{self, Cause, Evidence, Level, Requester, ResumeBy, Tier, UnapprovedSpend, Verdict};

/// The journal's name for a step a person (or the clock) takes on a pending order.
fn action(step: Step) -> &'static str {
    match step {
        Step::Reject => "reject",
        Step::Withdraw => "withdraw",
        Step::Expire => "expire",
        Step::Void => "void",
        _ => "other",
    }
}

fn record(kind: &'static str, data: serde_json::Value, sync: bool) -> Effect {
    Effect::Journal(JournalRecord { kind, data, sync })
}

fn ticket_json(t: &OrderTicket) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or(serde_json::Value::Null)
}

impl State {
    /// Applies `msg` at `now`; returns what the shell must do, in order.
    pub fn update(&mut self, msg: Msg, now: DateTime<Utc>) -> Vec<Effect> {
        let mut fx = Vec::new();
        self.roll_day(now);
        match msg {
            Msg::Propose { source, ticket, note } => self.propose(source, ticket, note, now, &mut fx),
            Msg::Withdraw { source, id } => self.withdraw(source, id, &mut fx),
            Msg::Approve { id, evidence } => {
                self.last_refusal = None;
                self.approve(id, &evidence, now, &mut fx);
            }
            Msg::Reject { id, reason } => self.finish_pending(id, Step::Reject, &reason, &mut fx),
            Msg::Edit { id, ticket } => self.edit(id, ticket, now, &mut fx),
            Msg::IntentCommitted { id } => self.send(id, now, &mut fx),
            Msg::JournalFailed { error } => {
                let to = self.profile.policy.step_down.on_journal_error.into();
                self.step_down(
                    Cause::JournalError,
                    to,
                    &format!("journal error: {error}"),
                    now,
                    &mut fx,
                );
            }
            Msg::Broker(event) => self.broker(event, now, &mut fx),
            Msg::Tick => {
                self.expire(now, &mut fx);
                self.restart_window(now);
                self.heartbeats(now);
            }
            Msg::Agent(agent) => self.agent(agent, now, &mut fx),
            Msg::KillSwitch => self.kill(now, &mut fx),
            Msg::CancelWorking { why } => {
                fx.push(record(
                    kinds::HUMAN_ACTION,
                    json!({"action": "cancel_working", "why": why}),
                    false,
                ));
                self.cancel_working(&mut fx);
            }
            Msg::Void { reason } => {
                let pending: Vec<ProposalId> = self
                    .proposals
                    .values()
                    .filter(|p| p.stage.is_pending())
                    .map(|p| p.id)
                    .collect();
                for id in pending {
                    self.finish_pending(id, Step::Void, &reason, &mut fx);
                }
            }
            Msg::Screen { action, detail } => fx.push(record(
                kinds::HUMAN_ACTION,
                json!({"action": action, "detail": detail}),
                false,
            )),
            Msg::GlobalCancel { typed } => {
                if typed == GLOBAL_CANCEL_READ_BACK {
                    fx.push(record(
                        kinds::HUMAN_ACTION,
                        json!({"action": "global_cancel"}),
                        false,
                    ));
                    self.kill(now, &mut fx);
                    fx.push(Effect::GlobalCancel);
                } else {
                    fx.push(record(
                        kinds::HUMAN_ACTION,
                        json!({"action": "global_cancel",
                               "refused": format!("type {GLOBAL_CANCEL_READ_BACK} to cancel every order of the account")}),
                        false,
                    ));
                }
            }
            Msg::Resume { typed } => self.resume(typed.as_deref(), now, &mut fx),
            Msg::AcknowledgeAlert { id } => {
                self.external_alerts.remove(&id);
                if let Some(alert) = self.alerts.iter_mut().find(|a| a.id == id)
                    && alert.acknowledge()
                {
                    fx.push(record(
                        kinds::HUMAN_ACTION,
                        json!({"action": "acknowledge", "alert": id.0}),
                        false,
                    ));
                }
            }
            Msg::PlaceDropped { id, reason } => {
                if let Some(p) = self.proposals.get_mut(&id)
                    && let Ok(stage) = next(p.stage, Step::Dropped)
                {
                    p.stage = stage;
                    fx.push(record(
                        kinds::NOT_SENT,
                        json!({"proposal": id.0, "reason": reason}),
                        false,
                    ));
                }
            }
        }
        fx.extend(self.outbox.drain(..).map(Effect::Journal));
        fx
    }

    fn requester(&self, source: Source) -> (Requester, Option<u32>) {
        match source {
            Source::Trader => (Requester::Trader, None),
            Source::Agent { uid } => {
                // An unknown uid gets the profile's level and no budget for unapproved orders.
                let (name, mut level) = self.agent_identity(uid);
                let budget = self
                    .agents
                    .iter()
                    .find(|a| a.uid == uid)
                    .map_or(Decimal::ZERO, |a| a.unapproved_notional_budget);
                if !self.external_alerts.is_empty() {
                    level = level.min(crate::config::Permission::Prepare);
                }
                (
                    Requester::Agent {
                        name,
                        level,
                        unapproved_budget: budget,
                    },
                    Some(uid),
                )
            }
        }
    }

    fn propose(
        &mut self,
        source: Source,
        ticket: OrderTicket,
        note: String,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let (requester, agent_uid) = self.requester(source);
        self.last_proposal_refusal = None;
        if let (Requester::Agent { name, .. }, Some(uid)) = (&requester, agent_uid) {
            // max_proposals_per_day: a configured agent's staged orders per exchange-time day.
            let limit = self
                .agents
                .iter()
                .find(|a| a.uid == uid)
                .map(|a| a.max_proposals_per_day);
            let staged = self.agent_proposals_today.get(name).copied().unwrap_or(0);
            if let Some(limit) = limit.filter(|l| staged >= *l) {
                let why = format!(
                    "{name} has staged {staged} orders today, its max_proposals_per_day of {limit}; more are refused until tomorrow"
                );
                fx.push(record(
                    kinds::PROPOSAL_REFUSED,
                    json!({"reason": why, "ticket": ticket_json(&ticket)}),
                    true,
                ));
                self.last_proposal_refusal = Some(why);
                return;
            }
            *self.agent_proposals_today.entry(name.clone()).or_insert(0) += 1;
        }
        let id = ProposalId(self.next_proposal);
        self.next_proposal += 1;
        let staged_mid = self
            .quotes
            .get(&ticket.instrument)
            .and_then(|q| q.mid().or(q.last.map(crate::domain::Price::get)));
        self.proposals.insert(
            id,
            Proposal {
                id,
                version: 1,
                ticket,
                requester,
                agent_uid,
                note,
                stage: Stage::Refused,
                violations: Vec::new(),
                tier: None,
                fingerprint: None,
                notional: None,
                read_back: None,
                staged_at: now,
                cleared: None,
                order_id: None,
                order_ref: None,
                broker_status: None,
                filled: Decimal::ZERO,
                cancel_requested: false,
                staged_mid,
                previous: None,
                end_reason: None,
            },
        );
        // Even an order the policy clears without a human waits here: an execute-level agent sends it with
        // `submit_order`, which checks the policy once more at that moment.
        self.recheck(id, now, fx);
    }

    /// Runs the policy on the proposal's current version and records the verdict; returns it.
    fn recheck(&mut self, id: ProposalId, now: DateTime<Utc>, fx: &mut Vec<Effect>) -> Option<Verdict> {
        let working = self.working_orders();
        let p = self.proposals.get(&id)?;
        // The agent's level now, not at staging: an agent stepped down to prepare since (an external order)
        // cannot send what it was cleared for before.
        let requester = match p.agent_uid {
            Some(uid) => self.requester(Source::Agent { uid }).0,
            None => p.requester.clone(),
        };
        let ctx = self.context(&working, requester, p.version, now);
        let verdict = policy::check(&p.ticket, &ctx);
        let p = self.proposals.get_mut(&id)?;
        let clearable = matches!(verdict, Verdict::Clearable(_));
        p.stage = next(p.stage, Step::Verdict { clearable }).ok()?;
        match &verdict {
            Verdict::Refused(v) => {
                p.violations.clone_from(v);
                p.tier = None;
                p.fingerprint = None;
                p.notional = None;
                p.read_back = None;
            }
            Verdict::Clearable(c) => {
                p.violations.clear();
                p.tier = Some(c.tier);
                p.fingerprint = Some(c.fingerprint);
                p.notional = Some(c.notional);
                p.read_back = Some(c.read_back.clone());
            }
        }
        fx.push(record(
            kinds::VERDICT,
            json!({
                "proposal": id.0,
                "version": p.version,
                "requester": match &p.requester {
                    Requester::Trader => "trader".to_string(),
                    Requester::Agent { name, .. } => name.clone(),
                },
                "note": p.note,
                "ticket": ticket_json(&p.ticket),
                "codes": verdict.rules().iter().map(|r| r.code()).collect::<Vec<_>>(),
                "messages": p.violations.iter().map(|v| v.message.clone()).collect::<Vec<_>>(),
                "tier": p.tier.map(|t| format!("{t:?}")),
                "fingerprint": p.fingerprint.map(|f| f.to_string()),
            }),
            true,
        ));
        Some(verdict)
    }

    pub(super) fn approve(
        &mut self,
        id: ProposalId,
        evidence: &Evidence,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let refused = match self.proposals.get(&id) {
            None => Some(("no such proposal".to_owned(), false)),
            Some(p) if p.stage != Stage::AwaitingApproval => {
                Some((format!("the order is {}", p.stage), false))
            }
            Some(_) => None,
        };
        let refused = refused.or_else(|| {
            // The policy runs again at the moment of sending, against working and in-flight orders.
            let verdict = self.recheck(id, now, fx)?;
            // The gate: nothing but cancels goes out unless connected and reconciled (P12), whatever the
            // policy's level would allow; the card stays, to be approved again once the gate opens.
            if let Some(shut) = self.gate_shut() {
                return Some((shut, true));
            }
            match policy::approve(verdict, evidence) {
                Ok(cleared) => {
                    self.commit_intent(id, cleared, evidence, fx);
                    None
                }
                Err(e) => Some((e.to_string(), true)),
            }
        });
        if let Some((why, sync)) = refused {
            fx.push(record(
                kinds::HUMAN_ACTION,
                json!({"action": "approve", "proposal": id.0, "refused": why}),
                sync,
            ));
            self.last_refusal = Some((id, why));
        }
    }

    /// Why no order may go out now, if the gate is shut: not connected, or not reconciled since connecting,
    /// or the order stream lost.
    #[must_use]
    pub fn gate_shut(&self) -> Option<String> {
        if !self.connected {
            return Some("the gate is shut: the broker is not connected".into());
        }
        let blocking: Vec<&str> = self
            .trading
            .causes()
            .filter(|(c, _)| {
                matches!(
                    c,
                    Cause::Disconnected | Cause::Unreconciled | Cause::OrderStreamLost
                )
            })
            .map(|(c, _)| c.label())
            .collect();
        (!blocking.is_empty()).then(|| format!("the gate is shut until reconciled: {}", blocking.join(", ")))
    }

    /// Holds the `Cleared` and asks the journal to commit the intent; sending waits for that commit.
    fn commit_intent(
        &mut self,
        id: ProposalId,
        cleared: policy::Cleared,
        evidence: &Evidence,
        fx: &mut Vec<Effect>,
    ) {
        let Some(order_id) = self.allocate_order_id() else {
            if let Some(p) = self.proposals.get_mut(&id) {
                p.stage = next(p.stage, Step::Verdict { clearable: true }).unwrap_or(p.stage);
            }
            fx.push(record(
                kinds::HUMAN_ACTION,
                json!({"action": "approve", "proposal": id.0, "refused": "no order id yet: the broker is not connected"}),
                true,
            ));
            return;
        };
        self.intent_seq += 1;
        let seq = self.intent_seq;
        let Some(p) = self.proposals.get_mut(&id) else {
            return;
        };
        let Ok(stage) = next(p.stage, Step::Approve) else {
            return;
        };
        let order_ref = format!("ck-p{}-v{}-i{seq}", id.0, p.version);
        p.stage = stage;
        p.order_id = Some(order_id);
        p.order_ref = Some(order_ref.clone());
        let how = match evidence {
            Evidence::Automatic => "automatic",
            Evidence::Confirm(_) => "confirm",
            Evidence::Typed(..) => "typed",
        };
        fx.push(record(
            kinds::HUMAN_ACTION,
            json!({"action": "approve", "proposal": id.0, "version": p.version, "by": how,
                   "fingerprint": cleared.fingerprint().to_string()}),
            false,
        ));
        fx.push(record(
            kinds::INTENT,
            json!({"proposal": id.0, "version": p.version, "order_id": order_id.get(), "order_ref": order_ref,
                   "high_water": order_id.get(), "epoch": cleared.epoch(), "ticket": ticket_json(cleared.ticket()),
                   "fingerprint": cleared.fingerprint().to_string(), "notional": cleared.notional(),
                   "intent_seq": seq,
                   "agent_unapproved": cleared.tier() == Tier::None && p.agent_uid.is_some()}),
            true,
        ));
        p.cleared = Some(cleared);
    }

    fn allocate_order_id(&mut self) -> Option<OrderId> {
        let candidate = self.next_order_id?;
        let id = match self.order_id_high_water.and_then(OrderId::next) {
            Some(after) if after > candidate => after,
            _ => candidate,
        };
        self.order_id_high_water = Some(id);
        self.next_order_id = id.next();
        Some(id)
    }

    /// The intent is durable: hand the order to the broker, unless the trading state moved meanwhile.
    fn send(&mut self, id: ProposalId, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let epoch = self.trading.epoch();
        let Some(p) = self.proposals.get_mut(&id) else {
            return;
        };
        if p.stage != Stage::Approved {
            return;
        }
        let Some(cleared) = p.cleared.take() else { return };
        if cleared.epoch() != epoch {
            p.stage = Stage::Done(End::NotSent);
            fx.push(record(
                kinds::NOT_SENT,
                json!({"proposal": id.0, "reason": "the trading state changed before sending"}),
                false,
            ));
            return;
        }
        let (Some(order_id), Some(order_ref)) = (p.order_id, p.order_ref.clone()) else {
            return;
        };
        p.stage = next(p.stage, Step::IntentCommitted).unwrap_or(Stage::Sent);
        p.broker_status = Some(OrderStatus::PendingSubmit);
        let t = cleared.ticket().clone();
        let notional = cleared.notional();
        if cleared.tier() == Tier::None
            && let Requester::Agent { name, .. } = &p.requester
        {
            self.unapproved.push(UnapprovedSpend {
                agent: name.clone(),
                instrument: t.instrument.clone(),
                notional,
                at: now,
            });
        }
        self.count_today(&t, notional);
        self.remember_sent(t, now);
        fx.push(Effect::Place(Box::new(PlaceOrder {
            proposal: id,
            cleared,
            order_id,
            order_ref,
            epoch,
            deadline: now + Duration::seconds(PLACE_DEADLINE_SECS),
        })));
    }

    fn withdraw(&mut self, source: Source, id: ProposalId, fx: &mut Vec<Effect>) {
        let Source::Agent { uid } = source else { return };
        let own = self.proposals.get(&id).is_some_and(|p| p.agent_uid == Some(uid));
        if own {
            self.finish_pending(id, Step::Withdraw, "withdrawn by its agent", fx);
        } else {
            fx.push(record(
                kinds::PROPOSAL_REFUSED,
                json!({"proposal": id.0, "reason": "not this agent's proposal"}),
                true,
            ));
        }
    }

    fn finish_pending(&mut self, id: ProposalId, step: Step, reason: &str, fx: &mut Vec<Effect>) {
        let Some(p) = self.proposals.get_mut(&id) else {
            return;
        };
        match next(p.stage, step) {
            Ok(stage) => {
                p.stage = stage;
                p.end_reason = Some(reason.to_owned());
                fx.push(record(
                    kinds::HUMAN_ACTION,
                    json!({"action": action(step), "proposal": id.0, "reason": reason}),
                    false,
                ));
            }
            Err(e) => fx.push(record(
                kinds::HUMAN_ACTION,
                json!({"action": action(step), "proposal": id.0, "refused": e.to_string()}),
                false,
            )),
        }
    }

    fn edit(&mut self, id: ProposalId, ticket: OrderTicket, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let Some(p) = self.proposals.get_mut(&id) else {
            return;
        };
        if !p.stage.is_pending() {
            fx.push(record(
                kinds::HUMAN_ACTION,
                json!({"action": "edit", "proposal": id.0, "refused": format!("the order is {}", p.stage)}),
                false,
            ));
            return;
        }
        fx.push(record(
            kinds::HUMAN_ACTION,
            json!({"action": "edit", "proposal": id.0, "from_version": p.version,
                   "before": ticket_json(&p.ticket), "after": ticket_json(&ticket)}),
            true,
        ));
        p.version += 1;
        p.previous = Some(std::mem::replace(&mut p.ticket, ticket));
        p.staged_at = now;
        self.recheck(id, now, fx);
    }

    fn expire(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let ttl = Duration::seconds(APPROVAL_TTL_SECS);
        let stale: Vec<ProposalId> = self
            .proposals
            .values()
            .filter(|p| p.stage.is_pending() && now.signed_duration_since(p.staged_at) >= ttl)
            .map(|p| p.id)
            .collect();
        for id in stale {
            self.finish_pending(id, Step::Expire, "not approved in time", fx);
        }
        let keep = Duration::seconds(i64::from(self.profile.policy.duplicate_window_secs.max(60)));
        self.recent.retain(|s| now.signed_duration_since(s.at) < keep);
        let window = Duration::seconds(i64::from(self.profile.policy.agent_budget_window_secs));
        self.unapproved
            .retain(|s| now.signed_duration_since(s.at) < window);
    }

    /// Warns once a day, the configured minutes before the gateway's daily restart: the connection will
    /// drop and trading step down until it is back and reconciled.
    fn restart_window(&mut self, now: DateTime<Utc>) {
        let Some((at, before)) = self.gateway_restart else {
            return;
        };
        let local = now.with_timezone(&self.profile.policy.session.timezone);
        let today = local.date_naive();
        let until = at.signed_duration_since(local.time());
        if until > chrono::Duration::zero() && until <= before && self.restart_warned != Some(today) {
            self.restart_warned = Some(today);
            let mins = (until.num_seconds() + 59) / 60;
            self.alert(
                Severity::Warning,
                now,
                format!(
                    "the gateway restarts at {} (in {mins} min): the connection will drop and trading pause \
                     until it is back and reconciled",
                    at.format("%H:%M")
                ),
                AlertSource::System,
            );
        }
    }

    /// Resets the daily counters when the exchange-time day changes.
    fn roll_day(&mut self, now: DateTime<Utc>) {
        let today = now
            .with_timezone(&self.profile.policy.session.timezone)
            .date_naive();
        if self.counters_day != Some(today) {
            if self.counters_day.is_some() {
                self.counters = policy::DailyCounters::default();
                self.agent_proposals_today.clear();
            }
            self.counters_day = Some(today);
        }
    }

    pub(super) fn step_down(
        &mut self,
        cause: Cause,
        to: Level,
        why: &str,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        if !self.trading.step_down(cause, to) {
            return;
        }
        fx.push(record(
            kinds::TRADING_STATE,
            json!({"level": self.trading.level().label(), "cause": cause.label(), "epoch": self.trading.epoch(), "why": why}),
            true,
        ));
        self.alert(
            Severity::Critical,
            now,
            format!("trading {}: {why}", self.trading.level()),
            AlertSource::System,
        );
        // Anything approved but not yet sent is void: its epoch is gone.
        for p in self.proposals.values_mut().filter(|p| p.stage == Stage::Approved) {
            p.cleared = None;
            p.stage = Stage::Done(End::NotSent);
            fx.push(record(
                kinds::NOT_SENT,
                json!({"proposal": p.id.0, "reason": why}),
                false,
            ));
        }
    }

    fn kill(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        fx.push(record(
            kinds::HUMAN_ACTION,
            json!({"action": "kill_switch"}),
            false,
        ));
        // The epoch bump comes first, so nothing already in the pipe slips out.
        self.step_down(Cause::KillSwitch, Level::Halted, "kill switch", now, fx);
        self.cancel_working(fx);
    }

    /// Cancels every order the cockpit placed that is still working (or in doubt).
    fn cancel_working(&mut self, fx: &mut Vec<Effect>) {
        let working: Vec<OrderId> = self
            .proposals
            .values_mut()
            .filter(|p| matches!(p.stage, Stage::Sent | Stage::InDoubt) && p.is_working())
            .filter_map(|p| {
                p.cancel_requested = true;
                p.order_id
            })
            .collect();
        fx.extend(working.into_iter().map(|order_id| Effect::Cancel { order_id }));
    }

    fn resume(&mut self, typed: Option<&str>, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let by = typed.map_or(ResumeBy::Confirm, ResumeBy::Typed);
        // Causes only the trader can take responsibility for are cleared by the resume itself, when it is
        // made the way the level asks for; conditions (disconnected, unreconciled, journal error) are not.
        let deliberate = match self.trading.level() {
            Level::Halted => by == ResumeBy::Typed("RESUME"),
            Level::Reducing => true,
            Level::Active => false,
        };
        if deliberate {
            for cause in [Cause::KillSwitch, Cause::RejectStreak, Cause::DuplicateOrderId] {
                self.trading.clear(cause);
            }
            self.resume_past_position_mismatch();
        }
        let outcome = self.trading.resume(by);
        fx.push(record(
            kinds::HUMAN_ACTION,
            json!({"action": "resume", "typed": typed,
                   "refused": outcome.as_ref().err().map(ToString::to_string)}),
            false,
        ));
        if outcome.is_ok() {
            self.reject_streak = 0;
            fx.push(record(
                kinds::TRADING_STATE,
                json!({"level": "ACTIVE", "cause": "resume", "epoch": self.trading.epoch()}),
                true,
            ));
            self.alert(
                Severity::Info,
                now,
                "trading resumed by the trader",
                AlertSource::System,
            );
        }
    }

    fn broker(&mut self, event: BrokerEvent, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let sd = self.profile.policy.step_down;
        match event {
            BrokerEvent::Connected { next_valid_id } => self.connected(next_valid_id, now, fx),
            BrokerEvent::Disconnected => self.disconnected(now, fx),
            BrokerEvent::Connection(connection) => self.connection(connection, now, fx),
            BrokerEvent::DryRun { order_id, summary } => self.dry_run(order_id, &summary, now, fx),
            BrokerEvent::ExternalOrder {
                order_id,
                client_id,
                order_ref,
                summary,
            } => self.external_order(order_id, client_id, &order_ref, &summary, now, fx),
            BrokerEvent::Reconciled => self.reconciled(fx),
            BrokerEvent::OrderStreamEnded { why } => {
                self.step_down(
                    Cause::OrderStreamLost,
                    sd.on_reconciliation_mismatch.into(),
                    &why,
                    now,
                    fx,
                );
            }
            BrokerEvent::Mismatch { detail } => {
                self.mismatch_open = true;
                self.step_down(
                    Cause::ReconciliationMismatch,
                    sd.on_reconciliation_mismatch.into(),
                    &detail,
                    now,
                    fx,
                );
            }
            BrokerEvent::Quote { instrument, quote } => {
                if self
                    .market_data
                    .get(&instrument)
                    .is_none_or(|s| *s == DataStatus::Live)
                {
                    self.quotes.insert(instrument, quote);
                }
            }
            BrokerEvent::AccountValue { account, tag, value } => {
                self.account_value(&account, &tag, value, now, fx);
            }
            BrokerEvent::MarketData { instrument, status } => self.market_data(instrument, status, now, fx),
            BrokerEvent::Position {
                account,
                instrument,
                quantity,
                average_cost,
            } => self.position_cost(
                (account, instrument),
                BrokerPosition {
                    quantity,
                    average_cost,
                },
            ),
            BrokerEvent::PositionCheck { positions } => self.position_check(positions, now, fx),
            BrokerEvent::OrderStatus { order_id, event } => self.order_status(order_id, event, now, fx),
            BrokerEvent::Execution {
                order_id,
                exec_id,
                quantity,
                price,
                replay,
            } => self.execution(order_id, &exec_id, (quantity, price), replay, fx),
            BrokerEvent::StatusFound { order_ref, status } => self.status_found(&order_ref, status, now, fx),
            BrokerEvent::Commission {
                exec_id,
                commission,
                currency,
                realized_pnl,
            } => {
                // Once per execution: reconciliations and IB's copies on the order stream repeat them.
                if self.seen_commissions.insert(exec_id.clone()) {
                    fx.push(record(
                        kinds::BROKER_EVENT,
                        json!({"event": "commission", "exec_id": exec_id, "commission": commission,
                               "currency": currency, "realized_pnl": realized_pnl}),
                        false,
                    ));
                }
            }
            BrokerEvent::InDoubtResolved { order_id, status } => self.resolve(order_id, status, now, fx),
            BrokerEvent::Error { order_id, code, text } => self.broker_error(order_id, code, &text, now, fx),
        }
    }

    /// An order in doubt since the restart: the broker either has it (it was sent; its status from now on
    /// comes from the broker) or has never seen it (not sent, and never resent blindly).
    fn resolve(
        &mut self,
        order_id: OrderId,
        status: Option<OrderStatus>,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        // In doubt since a restart, or sent this session and never acknowledged by the gateway.
        let Some(p) = self.proposals.values_mut().find(|p| {
            p.order_id == Some(order_id)
                && (p.stage == Stage::InDoubt
                    || (p.stage == Stage::Sent
                        && p.broker_status.is_none_or(|s| s == OrderStatus::PendingSubmit)))
        }) else {
            return;
        };
        let restarted = p.stage == Stage::InDoubt;
        let found = status.is_some();
        // A sent order that is found stays sent; one that is not was never there.
        let step = match (restarted, found) {
            (true, _) => Some(Step::Resolved { found }),
            (false, false) => Some(Step::Dropped),
            (false, true) => None,
        };
        if let Some(step) = step {
            let Ok(stage) = next(p.stage, step) else {
                return;
            };
            p.stage = stage;
        }
        p.broker_status = status;
        let end = match status {
            Some(OrderStatus::Filled) => Some(End::Filled),
            Some(OrderStatus::Cancelled) => Some(End::Cancelled),
            Some(OrderStatus::Rejected) => Some(End::BrokerRejected),
            _ => None,
        };
        if let Some(end) = end
            && let Ok(stage) = next(p.stage, Step::BrokerEnded(end))
        {
            p.stage = stage;
        }
        let (id, order_ref) = (p.id, p.order_ref.clone());
        fx.push(record(
            kinds::IN_DOUBT,
            json!({"proposal": id.0, "order_id": order_id.get(), "order_ref": order_ref, "found": found,
                   "status": status.map(|s| format!("{s:?}"))}),
            true,
        ));
        let when = if restarted {
            "from before the restart"
        } else {
            "sent but never acknowledged"
        };
        let text = if found {
            format!("order {} {when} reached the broker", order_id.get())
        } else {
            format!(
                "order {} {when} never reached the broker: not sent, and not resent",
                order_id.get()
            )
        };
        self.alert(Severity::Warning, now, text, AlertSource::System);
    }

    /// Proposals whose order may or may not have left before a restart.
    #[must_use]
    pub fn in_doubt(&self) -> Vec<&Proposal> {
        self.proposals
            .values()
            .filter(|p| p.stage == Stage::InDoubt)
            .collect()
    }

    /// Connected (or back): IB's next id, and trading stays stepped down until reconciled.
    fn connected(&mut self, next_valid_id: i32, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let sd = self.profile.policy.step_down;
        // The first connection of this run: nothing went wrong, so the gate stays shut until the
        // reconciliation without stepping the level down (and without a resume to ask the trader for).
        let first = self.next_order_id.is_none() && self.disconnected_since.is_none();
        self.connected = true;
        self.after_disconnect(now, fx);
        self.next_order_id = OrderId::new(next_valid_id).ok();
        self.trading.clear(Cause::Disconnected);
        if first {
            if self.trading.step_down(Cause::Unreconciled, Level::Active) {
                fx.push(record(
                    kinds::TRADING_STATE,
                    json!({"level": self.trading.level().label(), "cause": Cause::Unreconciled.label(),
                           "epoch": self.trading.epoch(),
                           "why": "first connection: no order leaves before the reconciliation"}),
                    true,
                ));
            }
        } else {
            self.step_down(
                Cause::Unreconciled,
                sd.on_disconnect.into(),
                "connected, not yet reconciled",
                now,
                fx,
            );
        }
        fx.push(record(
            kinds::BROKER_EVENT,
            json!({"event": "connected", "next_valid_id": next_valid_id}),
            false,
        ));
    }

    fn disconnected(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let sd = self.profile.policy.step_down;
        if self.connected {
            self.disconnected_since.get_or_insert(now);
        }
        self.connected = false;
        fx.push(record(
            kinds::BROKER_EVENT,
            json!({"event": "disconnected"}),
            false,
        ));
        self.step_down(
            Cause::Disconnected,
            sd.on_disconnect.into(),
            "the broker connection is lost",
            now,
            fx,
        );
    }

    /// The broker's orders and executions agree with the journal: clears the reconciliation causes,
    /// unless an order from before the restart is still in doubt (and leaves a position mismatch's to the
    /// trader's resume).
    fn reconciled(&mut self, fx: &mut Vec<Effect>) {
        let in_doubt = self.in_doubt().len();
        if in_doubt > 0 {
            // Nothing new may be sent while an order from before the restart might be live.
            fx.push(record(
                kinds::BROKER_EVENT,
                json!({"event": "reconciled",
                       "refused": format!("{in_doubt} order(s) still in doubt from before the restart")}),
                false,
            ));
            return;
        }
        self.mismatch_open = false;
        self.trading.clear(Cause::Unreconciled);
        self.trading.clear(Cause::OrderStreamLost);
        // A position mismatch holds the cause until the trader resumes (`positions.rs`).
        if !self.position_watch.mismatch {
            self.trading.clear(Cause::ReconciliationMismatch);
        }
        fx.push(record(kinds::BROKER_EVENT, json!({"event": "reconciled"}), false));
    }

    /// One account value; margin changes beyond the thresholds are alerted (and journaled with the alert):
    /// the cushion falling below `cushion_warning`, excess liquidity at or below zero, and the maintenance
    /// requirement moving by more than [`MAINT_MARGIN_JUMP`] at once.
    fn account_value(
        &mut self,
        account: &AccountId,
        tag: &str,
        value: Decimal,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let warning = self.cushion_warning;
        let summary = self.accounts.entry(account.clone()).or_default();
        let slot = match tag {
            "NetLiquidation" => &mut summary.net_liquidation,
            "TotalCashValue" => &mut summary.total_cash,
            "BuyingPower" => &mut summary.buying_power,
            "ExcessLiquidity" => &mut summary.excess_liquidity,
            "Cushion" => &mut summary.cushion,
            "InitMarginReq" => &mut summary.init_margin,
            "MaintMarginReq" => &mut summary.maint_margin,
            // From IB's PnL subscription (reqPnL), as the adapter names them.
            "DailyPnL" => &mut summary.daily_pnl,
            "UnrealizedPnL" => &mut summary.unrealized_pnl,
            "RealizedPnL" => &mut summary.realized_pnl,
            _ => return,
        };
        let before = slot.replace(value);
        let alert = match (tag, before) {
            ("Cushion", Some(b)) if b >= warning && value < warning => Some((
                Severity::Warning,
                format!("{account}: margin cushion {value} fell below {warning}"),
            )),
            ("Cushion", None) if value < warning => Some((
                Severity::Warning,
                format!("{account}: margin cushion {value} is below {warning}"),
            )),
            ("ExcessLiquidity", b) if value <= Decimal::ZERO && b.is_none_or(|b| b > Decimal::ZERO) => {
                Some((
                    Severity::Critical,
                    format!("{account}: excess liquidity is {value}: IB may liquidate positions"),
                ))
            }
            ("MaintMarginReq", Some(b)) if b > Decimal::ZERO => {
                let change = ((value - b) / b).abs();
                (change > MAINT_MARGIN_JUMP).then(|| {
                    (
                        Severity::Warning,
                        format!("{account}: maintenance margin moved from {b} to {value}"),
                    )
                })
            }
            _ => None,
        };
        if let Some((severity, text)) = alert {
            fx.push(record(
                kinds::BROKER_EVENT,
                json!({"event": "margin", "account": account.as_str(), "tag": tag, "value": value, "before": before}),
                false,
            ));
            self.alert(severity, now, text, AlertSource::Broker);
        }
    }

    /// A change of market-data source: anything but live takes the instrument's quote away from the
    /// policy, journaled and alerted.
    fn market_data(
        &mut self,
        instrument: Instrument,
        status: DataStatus,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let live = status == DataStatus::Live;
        let text = status.to_string();
        let symbol = instrument.symbol.clone();
        if !live {
            self.quotes.remove(&instrument);
        }
        let before = self.market_data.insert(instrument, status);
        if before.as_ref().map(ToString::to_string) == Some(text.clone()) || (before.is_none() && live) {
            return;
        }
        fx.push(record(
            kinds::BROKER_EVENT,
            json!({"event": "market_data", "symbol": symbol.as_str(), "status": text}),
            false,
        ));
        let (severity, says) = if live {
            (Severity::Info, format!("{symbol}: live market data again"))
        } else {
            (
                Severity::Warning,
                format!("{symbol}: market data {text}; orders that need a price are refused"),
            )
        };
        self.alert(severity, now, says, AlertSource::Broker);
    }

    /// Back after a disconnect: says how long it lasted, and after a long one applies the profile's choice
    /// for agents' working orders.
    fn after_disconnect(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let Some(since) = self.disconnected_since.take() else {
            return;
        };
        let secs = now.signed_duration_since(since).num_seconds().max(0);
        let sd = self.profile.policy.step_down;
        let long = secs >= i64::from(sd.long_disconnect_secs);
        let cancel: Vec<OrderId> =
            if long && sd.after_long_disconnect == AfterLongDisconnect::CancelAgentOrders {
                self.proposals
                    .values_mut()
                    .filter(|p| p.stage == Stage::Sent && p.is_working() && p.agent_uid.is_some())
                    .filter_map(|p| {
                        p.cancel_requested = true;
                        p.order_id
                    })
                    .collect()
            } else {
                Vec::new()
            };
        fx.push(record(
            kinds::BROKER_EVENT,
            json!({"event": "reconnected", "disconnected_secs": secs, "long": long,
                   "cancelled": cancel.iter().map(|id| id.get()).collect::<Vec<_>>()}),
            false,
        ));
        let then = match (long, sd.after_long_disconnect) {
            (false, _) => String::new(),
            (true, AfterLongDisconnect::CancelAgentOrders) => format!(
                " (a long disconnect): cancelling {} working agent order(s)",
                cancel.len()
            ),
            (true, AfterLongDisconnect::LeaveOrders) => {
                " (a long disconnect): agents' working orders left as they are".to_owned()
            }
        };
        let text = format!("broker connection back after {secs} s{then}");
        let severity = if long { Severity::Warning } else { Severity::Info };
        self.alert(severity, now, text, AlertSource::Broker);
        fx.extend(cancel.into_iter().map(|order_id| Effect::Cancel { order_id }));
    }

    /// A dry-run profile's adapter recorded an order instead of sending it.
    fn dry_run(&mut self, order_id: OrderId, summary: &str, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let Some(p) = self.by_order_id(order_id) else {
            return;
        };
        let Ok(stage) = next(p.stage, Step::Recorded) else {
            return;
        };
        p.stage = stage;
        let id = p.id;
        fx.push(record(
            kinds::BROKER_EVENT,
            json!({"event": "dry_run", "proposal": id.0, "order_id": order_id.get(), "order": summary}),
            true,
        ));
        self.alert(
            Severity::Info,
            now,
            format!("dry run: order {} recorded, not sent: {summary}", order_id.get()),
            AlertSource::System,
        );
    }

    fn connection(&mut self, connection: Connection, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        if matches!(
            connection,
            Connection::Failed { .. } | Connection::ConnectivityLost
        ) {
            fx.push(record(
                kinds::BROKER_EVENT,
                json!({"event": "connection", "state": connection.to_string()}),
                false,
            ));
        }
        if let Connection::Failed { why } = &connection {
            self.alert(
                Severity::Critical,
                now,
                format!("the broker connection failed: {why} (press c to retry)"),
                AlertSource::Broker,
            );
        }
        self.connection = connection;
        self.connection_at = Some(now);
    }

    /// An order at the broker the cockpit did not place: journaled and alerted once.
    fn external_order(
        &mut self,
        order_id: i32,
        client_id: i32,
        order_ref: &str,
        summary: &str,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        if !self.external_orders.insert((order_id, client_id)) {
            return;
        }
        fx.push(record(
            kinds::BROKER_EVENT,
            json!({"event": "external_order", "order_id": order_id, "client_id": client_id,
                   "order_ref": order_ref, "summary": summary}),
            false,
        ));
        let alert = self.alert(
            Severity::Warning,
            now,
            format!(
                "order {order_id} at the broker was not placed by this cockpit (client {client_id}): \
                 {summary}; agents may only prepare until this is acknowledged"
            ),
            AlertSource::Broker,
        );
        // Agents step down to `prepare` until the trader has looked at it (acknowledged the alert).
        self.external_alerts.insert(alert);
    }

    /// A fill `(quantity, price)`, applied once per exec id, streamed or found by a reconciliation: it
    /// moves the order's fill and the cockpit's position (which the position check compares with the
    /// broker's).
    fn execution(
        &mut self,
        order_id: OrderId,
        exec_id: &str,
        (quantity, price): (Decimal, Decimal),
        replay: bool,
        fx: &mut Vec<Effect>,
    ) {
        if !self.seen_executions.insert(exec_id.to_owned()) {
            return; // a duplicate execution report: already counted
        }
        let Some(p) = self.by_order_id(order_id) else {
            return;
        };
        p.filled = p.filled.checked_add(quantity).unwrap_or(p.filled);
        let key = (p.ticket.account.clone(), p.ticket.instrument.clone());
        let signed = if p.ticket.side == Side::Buy {
            quantity
        } else {
            -quantity
        };
        let id = p.id;
        let position = self.positions.entry(key).or_insert(Decimal::ZERO);
        *position = position.checked_add(signed).unwrap_or(*position);
        fx.push(record(
            kinds::BROKER_EVENT,
            json!({"event": "execution", "proposal": id.0, "order_id": order_id.get(), "exec_id": exec_id,
                   "quantity": quantity, "price": price, "replay": replay}),
            false,
        ));
    }

    /// The gateway's status of an order found by reconciliation. It ends an order the stream did not
    /// (filled, cancelled or rejected while the cockpit was cut off), or acknowledges one never
    /// acknowledged; a working order's status is left to the stream (IB says `Submitted` for a partly
    /// filled one).
    fn status_found(
        &mut self,
        order_ref: &str,
        status: OrderStatus,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let Some(p) = self
            .proposals
            .values()
            .find(|p| p.stage == Stage::Sent && p.order_ref.as_deref() == Some(order_ref))
        else {
            return;
        };
        let (Some(order_id), local) = (p.order_id, p.broker_status) else {
            return;
        };
        let unacknowledged = local.is_none_or(|l| l == OrderStatus::PendingSubmit);
        let event = match status {
            OrderStatus::Filled => OrderEvent::Filled,
            OrderStatus::Cancelled => OrderEvent::Cancelled,
            OrderStatus::Rejected => OrderEvent::Rejected,
            OrderStatus::Inactive => OrderEvent::Deactivated,
            OrderStatus::PreSubmitted if unacknowledged => OrderEvent::Accepted,
            OrderStatus::Submitted if unacknowledged => OrderEvent::Working,
            OrderStatus::PartiallyFilled if unacknowledged => OrderEvent::PartFilled,
            OrderStatus::PendingCancel if unacknowledged => OrderEvent::CancelRequested,
            _ => return,
        };
        if local == Some(status) {
            return;
        }
        self.order_status(order_id, event, now, fx);
    }

    fn order_status(
        &mut self,
        order_id: OrderId,
        event: OrderEvent,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let Some(p) = self.by_order_id(order_id) else {
            return;
        };
        let from = p.broker_status.unwrap_or(OrderStatus::PendingSubmit);
        let to = match crate::domain::transition(from, event) {
            Ok(to) => to,
            // An order that is over cannot come back: a working status after it is a stale echo (IB
            // repeats open-order rows on the order stream when asked for them), not a broken stream.
            Err(_) if from.is_terminal() => {
                let id = p.id;
                fx.push(record(
                    kinds::BROKER_EVENT,
                    json!({"event": "stale_status", "proposal": id.0, "order_id": order_id.get(),
                           "status": format!("{from:?}"), "ignored": format!("{event:?}")}),
                    false,
                ));
                return;
            }
            Err(e) => {
                let why = format!("order {}: {e}", order_id.get());
                self.step_down(Cause::OrderStreamLost, Level::Reducing, &why, now, fx);
                return;
            }
        };
        p.broker_status = Some(to);
        let end = match to {
            OrderStatus::Filled => Some(End::Filled),
            OrderStatus::Cancelled => Some(End::Cancelled),
            OrderStatus::Rejected => Some(End::BrokerRejected),
            _ => None,
        };
        if let Some(end) = end
            && let Ok(stage) = next(p.stage, Step::BrokerEnded(end))
        {
            p.stage = stage;
        }
        let id = p.id;
        let unrequested = end == Some(End::Cancelled) && !p.cancel_requested;
        let part = to == OrderStatus::PartiallyFilled && from != OrderStatus::PartiallyFilled;
        let what = format!(
            "order {} ({} {} {})",
            order_id.get(),
            p.ticket.side.as_ib(),
            p.ticket.quantity,
            p.ticket.instrument.symbol
        );
        fx.push(record(
            kinds::BROKER_EVENT,
            json!({"event": "order_status", "proposal": id.0, "order_id": order_id.get(), "status": format!("{to:?}")}),
            false,
        ));
        if end == Some(End::Filled) {
            self.reject_streak = 0;
        }
        if part {
            self.alert(
                Severity::Info,
                now,
                format!("{what} partially filled"),
                AlertSource::Broker,
            );
        }
        if unrequested {
            self.alert(
                Severity::Warning,
                now,
                format!("{what} was cancelled at the broker, not by the cockpit"),
                AlertSource::Broker,
            );
        }
    }

    fn broker_error(
        &mut self,
        order_id: Option<OrderId>,
        code: i32,
        text: &str,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let sd = self.profile.policy.step_down;
        fx.push(record(
            kinds::BROKER_EVENT,
            json!({"event": "error", "order_id": order_id.map(OrderId::get), "code": code, "text": text}),
            false,
        ));
        if code == 103 {
            self.step_down(
                Cause::DuplicateOrderId,
                sd.on_duplicate_order_id.into(),
                "IB reports a duplicate order id (103)",
                now,
                fx,
            );
            return;
        }
        let Some(order_id) = order_id else { return };
        let ours = self.by_order_id(order_id).is_some();
        if !ours || !matches!(code, 110 | 200 | 201 | 202 | 203 | 321 | 387 | 10147 | 10148) {
            return;
        }
        self.alert(
            Severity::Warning,
            now,
            format!("order {} rejected ({code}): {text}", order_id.get()),
            AlertSource::Broker,
        );
        self.reject_streak += 1;
        if self.reject_streak >= sd.reject_streak {
            let why = format!("{} rejects in a row", self.reject_streak);
            self.step_down(Cause::RejectStreak, sd.on_reject_streak.into(), &why, now, fx);
        }
    }
}
