//! The cockpit's state: staged orders, the trading state, alerts, and the market and account view the
//! policy reads. Only `update` (in `update.rs`) changes it; the screen and agents read it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;

use super::lifecycle::Stage;
use super::msg::{Connection, JournalRecord};
use super::positions::PositionWatch;
use crate::config::{Agent, Profile};
use crate::domain::{
    AccountId, AccountSummary, Alert, AlertId, AlertSource, DataStatus, Instrument, OrderId, OrderStatus,
    OrderTicket, ProposalId, Quote, Severity,
};
use crate::journal::kinds;
use crate::policy::{
    Cleared, Context, DailyCounters, Fingerprint, Requester, Submitted, Tier, TradingState, UnapprovedSpend,
    Violation, WorkingOrder,
};

/// How long a staged order waits for approval before it expires.
pub const APPROVAL_TTL_SECS: i64 = 300;
/// The cushion below which a margin alert is raised, until the config says otherwise.
pub const DEFAULT_CUSHION_WARNING: Decimal = Decimal::from_parts(10, 0, 0, false, 2);
/// A maintenance-margin requirement that moves by more than this fraction at once is alerted.
pub const MAINT_MARGIN_JUMP: Decimal = Decimal::from_parts(20, 0, 0, false, 2);

/// How long the broker may hold a `Place` before it must drop it.
pub const PLACE_DEADLINE_SECS: i64 = 5;

/// One staged order and everything that happened to it.
#[derive(Debug)]
pub struct Proposal {
    /// Its id.
    pub id: ProposalId,
    /// Its version: an edit makes a new one.
    pub version: u32,
    /// The current version's order.
    pub ticket: OrderTicket,
    /// Who staged it.
    pub requester: Requester,
    /// The agent's uid, if an agent staged it.
    pub agent_uid: Option<u32>,
    /// Why it was staged.
    pub note: String,
    /// Where it stands.
    pub stage: Stage,
    /// The latest verdict's violations (empty when clearable).
    pub violations: Vec<Violation>,
    /// The tier the latest clearable verdict asked for.
    pub tier: Option<Tier>,
    /// The latest clearable verdict's fingerprint: what an approval must name.
    pub fingerprint: Option<Fingerprint>,
    /// The latest clearable verdict's notional.
    pub notional: Option<Decimal>,
    /// What a typed approval must read back.
    pub read_back: Option<String>,
    /// When it was staged (or last edited).
    pub staged_at: DateTime<Utc>,
    /// The approval, held only between approval and sending; never stored anywhere.
    pub(super) cleared: Option<Cleared>,
    /// The order id its intent uses.
    pub order_id: Option<OrderId>,
    /// The intent's `orderRef`.
    pub order_ref: Option<String>,
    /// The order's status at the broker, once sent.
    pub broker_status: Option<OrderStatus>,
    /// Shares filled so far.
    pub filled: Decimal,
    /// Whether the cockpit asked for its cancel (a cancel it did not ask for is alerted).
    pub cancel_requested: bool,
    /// The instrument's mid (or last) when it was staged, for the card: the quote at staging beside the
    /// quote now. `None` after a restart or without a quote.
    pub staged_mid: Option<Decimal>,
    /// The order before the trader's latest edit (what the agent proposed), for `get_orders`.
    pub previous: Option<OrderTicket>,
    /// Why it ended, when a person or the clock ended it (the trader's reject reason).
    pub end_reason: Option<String>,
}

impl Proposal {
    /// Whether the order counts as working or in flight for the policy.
    #[must_use]
    pub fn is_working(&self) -> bool {
        match self.stage {
            Stage::Approved | Stage::InDoubt => true,
            Stage::Sent => self.broker_status.is_none_or(|s| {
                !matches!(
                    s,
                    OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected
                )
            }),
            _ => false,
        }
    }
}

/// The whole state.
#[derive(Debug)]
pub struct State {
    /// The profile traded on.
    pub profile: Profile,
    /// The configured agents.
    pub agents: Vec<Agent>,
    /// Staged orders by id.
    pub proposals: BTreeMap<ProposalId, Proposal>,
    /// The trading state.
    pub trading: TradingState,
    /// Alerts, newest last.
    pub alerts: Vec<Alert>,
    /// Account values by account, as IB reports them.
    pub accounts: BTreeMap<AccountId, AccountSummary>,
    /// A cushion (excess liquidity / net liquidation) below this is alerted (`alerts.margin_cushion_warning`).
    pub cushion_warning: Decimal,
    /// The gateway's daily restart, in exchange time, and how long before it to warn (`[alerts]`).
    pub gateway_restart: Option<(NaiveTime, chrono::Duration)>,
    /// The exchange day whose restart was warned of.
    pub(super) restart_warned: Option<NaiveDate>,
    /// Positions by account and instrument, as the cockpit counts them: the broker's, taken as a
    /// baseline, moved by every fill the cockpit applies, and compared with the broker's at every
    /// reconciliation (`positions.rs`). What the policy reads.
    pub positions: BTreeMap<(AccountId, Instrument), Decimal>,
    /// Each position's average cost per share as the broker reports it (commissions included), for the
    /// screen's average cost and unrealized P&L; absent for a flat position or when IB sends none.
    pub position_costs: BTreeMap<(AccountId, Instrument), Decimal>,
    /// How the cockpit's positions stand against the broker's.
    pub position_watch: PositionWatch,
    /// Latest quotes the policy may price with (live data only).
    pub quotes: BTreeMap<Instrument, Quote>,
    /// Each instrument's market-data source; absent means not reported (treated as live).
    pub market_data: BTreeMap<Instrument, DataStatus>,
    /// Orders submitted recently (for the duplicate and rate rules).
    pub recent: Vec<Submitted>,
    /// Notional agents sent without approval.
    pub unapproved: Vec<UnapprovedSpend>,
    /// Today's counters.
    pub counters: DailyCounters,
    /// The exchange-time day the counters belong to.
    pub counters_day: Option<NaiveDate>,
    /// Whether the broker is connected.
    pub connected: bool,
    /// The connection as the broker adapter last reported it.
    pub connection: Connection,
    /// When it was reported (the reconnect countdown counts from it).
    pub connection_at: Option<DateTime<Utc>>,
    /// Since when the broker has been disconnected (after having been connected).
    pub disconnected_since: Option<DateTime<Utc>>,
    /// Orders at the broker that the cockpit did not place, by IB order id and client id.
    pub external_orders: BTreeSet<(i32, i32)>,
    /// The alerts of external orders not yet acknowledged: while any is, agents are stepped down to
    /// `prepare` (nothing they stage goes out without the trader).
    pub external_alerts: BTreeSet<AlertId>,
    /// The next order id to use; `None` until the broker announced one.
    pub next_order_id: Option<OrderId>,
    /// The highest order id used, from the journal (ids never repeat).
    pub order_id_high_water: Option<OrderId>,
    /// Rejects in a row.
    pub reject_streak: u32,
    /// Agents seen this run, by uid, for the Agents pane.
    pub agent_views: BTreeMap<u32, super::agents::AgentView>,
    /// Agents' recommendations, newest last.
    pub recommendations: super::agents::Recommendations,
    /// A heartbeat older than this (seconds) is alerted (`alerts.agent_heartbeat_secs`).
    pub heartbeat_secs: u32,
    /// Orders each agent (by name) staged today, exchange time (`max_proposals_per_day`).
    pub agent_proposals_today: BTreeMap<String, u32>,
    /// Why the last proposal was refused before it was staged (an agent past its daily proposals).
    pub last_proposal_refusal: Option<String>,
    /// Why the last approval was refused, for the screen (cleared at every approval).
    pub last_refusal: Option<(ProposalId, String)>,
    /// A reconciliation mismatch about orders (`BrokerEvent::Mismatch`) not yet followed by a clean
    /// reconciliation: a resume past a position mismatch must not clear the cause it also holds.
    pub(super) mismatch_open: bool,
    pub(super) next_proposal: u64,
    pub(super) next_alert: u64,
    pub(super) intent_seq: u64,
    pub(super) seen_executions: BTreeSet<String>,
    pub(super) seen_commissions: BTreeSet<String>,
    /// Records raised outside the message's own flow (alerts), appended to the effects of the update.
    pub(super) outbox: Vec<JournalRecord>,
}

impl State {
    /// A fresh state for `profile`.
    #[must_use]
    pub fn new(profile: Profile, agents: Vec<Agent>) -> Self {
        Self {
            profile,
            agents,
            proposals: BTreeMap::new(),
            trading: TradingState::active(),
            alerts: Vec::new(),
            accounts: BTreeMap::new(),
            cushion_warning: DEFAULT_CUSHION_WARNING,
            gateway_restart: None,
            restart_warned: None,
            positions: BTreeMap::new(),
            position_costs: BTreeMap::new(),
            position_watch: PositionWatch::default(),
            quotes: BTreeMap::new(),
            market_data: BTreeMap::new(),
            recent: Vec::new(),
            unapproved: Vec::new(),
            counters: DailyCounters::default(),
            counters_day: None,
            connected: false,
            connection: Connection::Connecting,
            connection_at: None,
            disconnected_since: None,
            external_orders: BTreeSet::new(),
            external_alerts: BTreeSet::new(),
            next_order_id: None,
            order_id_high_water: None,
            reject_streak: 0,
            last_refusal: None,
            agent_proposals_today: BTreeMap::new(),
            last_proposal_refusal: None,
            agent_views: BTreeMap::new(),
            recommendations: super::agents::Recommendations::new(),
            heartbeat_secs: super::agents::DEFAULT_HEARTBEAT_SECS,
            mismatch_open: false,
            next_proposal: 1,
            next_alert: 1,
            intent_seq: 0,
            seen_executions: BTreeSet::new(),
            seen_commissions: BTreeSet::new(),
            outbox: Vec::new(),
        }
    }

    /// Working and in-flight orders, for the policy.
    #[must_use]
    pub fn working_orders(&self) -> Vec<WorkingOrder> {
        self.proposals
            .values()
            .filter(|p| p.is_working())
            .filter_map(|p| {
                let remaining = crate::domain::Quantity::new(p.ticket.quantity.get() - p.filled).ok()?;
                Some(WorkingOrder {
                    account: p.ticket.account.clone(),
                    instrument: p.ticket.instrument.clone(),
                    side: p.ticket.side,
                    remaining,
                    order_type: p.ticket.order_type,
                    limit_price: p.ticket.limit_price,
                    stop_price: p.ticket.stop_price,
                })
            })
            .collect()
    }

    /// The policy context for a check at `now`.
    pub(super) fn context<'a>(
        &'a self,
        working: &'a [WorkingOrder],
        requester: Requester,
        version: u32,
        now: DateTime<Utc>,
    ) -> Context<'a> {
        Context {
            profile: &self.profile.name,
            mode: self.profile.mode,
            accounts: &self.profile.accounts,
            policy: &self.profile.policy,
            requester,
            version,
            positions: &self.positions,
            working,
            recent: &self.recent,
            unapproved: &self.unapproved,
            quotes: &self.quotes,
            counters: &self.counters,
            trading: &self.trading,
            now,
        }
    }

    /// Counts an order sent (or possibly sent) today into the daily counters.
    pub(super) fn count_today(&mut self, ticket: &OrderTicket, notional: Decimal) {
        let c = &mut self.counters;
        c.orders = c.orders.saturating_add(1);
        c.notional = c.notional.checked_add(notional).unwrap_or(Decimal::MAX);
        *c.orders_by_symbol
            .entry(ticket.instrument.symbol.clone())
            .or_insert(0) += 1;
    }

    /// Remembers an order sent at `at`, for the duplicate and rate rules.
    pub(super) fn remember_sent(&mut self, t: OrderTicket, at: DateTime<Utc>) {
        self.recent.push(Submitted {
            account: t.account,
            instrument: t.instrument,
            side: t.side,
            quantity: t.quantity,
            order_type: t.order_type,
            limit_price: t.limit_price,
            stop_price: t.stop_price,
            at,
        });
    }

    /// Raises an alert; returns its id.
    pub(super) fn alert(
        &mut self,
        severity: Severity,
        now: DateTime<Utc>,
        text: impl Into<String>,
        source: AlertSource,
    ) -> AlertId {
        let id = AlertId(self.next_alert);
        self.next_alert += 1;
        let text = text.into();
        let label = match &source {
            AlertSource::System => "system".to_owned(),
            AlertSource::Broker => "broker".to_owned(),
            AlertSource::Agent(name) => format!("agent:{name}"),
        };
        self.outbox.push(JournalRecord {
            kind: kinds::ALERT,
            data: serde_json::json!({"id": id.0, "severity": severity, "text": text, "source": label}),
            sync: false,
        });
        self.alerts.push(Alert::new(id, severity, now, text, source));
        id
    }

    /// The proposal that sent `order_id`.
    pub(super) fn by_order_id(&mut self, order_id: OrderId) -> Option<&mut Proposal> {
        self.proposals.values_mut().find(|p| p.order_id == Some(order_id))
    }
}
