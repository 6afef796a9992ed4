//! [`build`]: the pure aggregation of one day's records into a [`Report`]. No I/O and no clock: the day, the
//! journal head and the connection state at the start of the day come in through [`Scope`].
//!
//! Joins: a proposal's requester comes from its `verdict` — in the day, or before it ([`Scope::before`]):
//! proposal ids are unique in a journal (recovery continues them after the highest used), so an approval
//! after a restart, or of a proposal staged on an earlier day, is counted for the requester who staged it. An
//! order's ticket comes from its `intent` and its fills from `execution` records (both keyed by gateway and
//! order id); commissions from `commission` records by exec id. A repeated exec id is counted once. The
//! joins and sums made at the end are in `finish`.

mod finish;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::payload::{self, Broker, Event, Human, snake};
use super::text::inert;
use super::{
    Alerts, BrokerError, CriticalAlert, HumanActions, InDoubt, NotSent, OrderEnd, OrderFill, ProfileSwitch,
    Refusal, Report, Scope, SentOrder, Ticket, TradingStateChange, Unreadable,
};
use crate::journal::Record;

#[cfg(test)]
pub(super) use finish::average;

/// Aggregates one day's `records` (in seq order) into the report for `scope`.
#[must_use]
pub fn build(records: &[Record], scope: &Scope) -> Report {
    let mut acc = Acc::default();
    for record in &scope.before {
        acc.before(record);
    }
    for record in records {
        acc.see(record);
        match payload::read(record) {
            Ok(event) => acc.add(record, event),
            Err(problem) => acc.unreadable(record, &problem),
        }
    }
    acc.finish(scope)
}

/// A proposal id (unique in a journal).
type Key = u64;
/// An order at a gateway.
type OrderKey = (String, i64);

/// Proposal versions (with their version number, when recorded) and the rule codes refusing each.
type Versions = BTreeMap<(Key, Option<u64>), BTreeSet<String>>;

/// What was done to a proposal.
enum Act {
    Approved(String),
    Edited,
    Rejected(String),
    Withdrawn,
    Expired,
}

/// One order's executions so far.
struct FillAcc {
    fill: OrderFill,
    key: OrderKey,
}

#[derive(Default)]
struct Acc {
    profiles: BTreeSet<String>,
    accounts: BTreeSet<String>,
    records: u64,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    requesters: HashMap<Key, String>,
    /// Proposals with a verdict before the day: staged earlier, not counted as staged today.
    staged_before: HashSet<Key>,
    staged: BTreeMap<String, BTreeSet<Key>>,
    /// Refused proposal versions per requester, with the rule codes of each.
    refused: BTreeMap<String, Versions>,
    acts: Vec<(Key, Act)>,
    refused_unstaged: Vec<Refusal>,
    intents: HashMap<OrderKey, (Ticket, bool, u64)>,
    sent: Vec<(Key, SentOrder)>,
    not_sent: Vec<(Key, NotSent)>,
    in_doubt: Vec<(Key, InDoubt)>,
    fills: Vec<FillAcc>,
    fill_index: HashMap<OrderKey, usize>,
    exec_order: HashMap<String, usize>,
    commissions: Vec<(u64, payload::Commission)>,
    duplicates: u64,
    rejected: Vec<OrderEnd>,
    cancelled: Vec<OrderEnd>,
    ended: HashSet<(OrderKey, bool)>,
    /// Proposals a dry-run profile recorded instead of sending.
    dry_run: HashSet<Key>,
    order_errors: Vec<BrokerError>,
    other_errors: u64,
    connection: Vec<(DateTime<Utc>, bool)>,
    disconnected: u64,
    alerts: Alerts,
    critical: Vec<CriticalAlert>,
    acknowledged: HashSet<u64>,
    tools: BTreeMap<(String, String, String), u64>,
    trading_state: Vec<TradingStateChange>,
    human: HumanActions,
    unreadable: Vec<Unreadable>,
}

impl Acc {
    fn see(&mut self, r: &Record) {
        self.records += 1;
        self.first_seq.get_or_insert(r.seq);
        self.last_seq = Some(r.seq);
        if !r.envelope.profile.is_empty() {
            self.profiles.insert(inert(&r.envelope.profile));
        }
        if !r.envelope.account.is_empty() {
            self.accounts.insert(inert(&r.envelope.account));
        }
    }

    /// A record from before the day: a verdict names its proposal's requester, an intent its order's ticket.
    /// Unreadable ones are skipped (they belong to another day's report).
    fn before(&mut self, r: &Record) {
        match payload::read(r) {
            Ok(Event::Verdict(v)) => {
                self.requesters.insert(v.proposal, inert(&v.requester));
                self.staged_before.insert(v.proposal);
            }
            Ok(Event::Intent(i)) => self.intent(r.envelope.gateway.clone(), i),
            _ => {}
        }
    }

    fn unreadable(&mut self, r: &Record, problem: &str) {
        self.unreadable.push(Unreadable {
            seq: r.seq,
            kind: inert(&r.kind),
            problem: inert(problem),
        });
    }

    fn add(&mut self, r: &Record, event: Event) {
        let gateway = r.envelope.gateway.clone();
        match event {
            Event::Verdict(v) => self.verdict(&v),
            Event::ProposalRefused(p) => self.refused_unstaged.push(Refusal {
                seq: r.seq,
                at: r.at,
                proposal: p.proposal,
                reason: inert(&p.reason),
            }),
            Event::Human(h) => self.human(r, h),
            Event::Intent(i) => self.intent(gateway, i),
            Event::Sent(sent) => self.sent_order(r, gateway, &sent),
            Event::NotSent(n) => self.not_sent.push((
                n.proposal,
                NotSent {
                    seq: r.seq,
                    at: r.at,
                    proposal: n.proposal,
                    requester: String::new(),
                    reason: inert(&n.reason),
                },
            )),
            Event::InDoubt(d) => self.in_doubt.push((
                d.proposal,
                InDoubt {
                    seq: r.seq,
                    at: r.at,
                    proposal: d.proposal,
                    requester: String::new(),
                    order_id: d.order_id,
                    order_ref: d.order_ref.as_deref().map(inert),
                    found: d.found,
                    status: d.status.as_deref().map(inert),
                },
            )),
            Event::Broker(b) => self.broker(r, b),
            Event::TradingState(t) => self.trading_state.push(TradingStateChange {
                seq: r.seq,
                at: r.at,
                level: inert(&t.level),
                cause: inert(&t.cause),
                why: t.why.as_deref().map(inert),
            }),
            Event::Alert(a) => self.alert(r, &a),
            Event::ToolCall(t) => {
                *self
                    .tools
                    .entry((inert(&t.agent), inert(&t.tool), inert(&t.outcome)))
                    .or_default() += 1;
            }
            Event::Ignored => {}
        }
    }

    fn verdict(&mut self, v: &payload::Verdict) {
        let requester = inert(&v.requester);
        let k = v.proposal;
        self.requesters.insert(k, requester.clone());
        if !self.staged_before.contains(&k) {
            self.staged.entry(requester.clone()).or_default().insert(k);
        }
        if v.tier.is_none() {
            self.refused
                .entry(requester)
                .or_default()
                .entry((k, v.version))
                .or_default()
                .extend(v.codes.iter().map(|c| inert(c)));
        }
    }

    fn intent(&mut self, gateway: String, i: payload::Intent) {
        let t = i.ticket;
        let ticket = Ticket {
            side: inert(&t.side).to_uppercase(),
            quantity: t.quantity.0,
            symbol: inert(&t.instrument.symbol),
            order_type: inert(&t.order_type),
            limit_price: t.limit_price.map(|p| p.0),
            stop_price: t.stop_price.map(|p| p.0),
            account: inert(&t.account),
        };
        self.intents.insert(
            (gateway, i.order_id),
            (ticket, i.agent_unapproved.unwrap_or(false), i.proposal),
        );
    }

    fn sent_order(&mut self, r: &Record, gateway: String, s: &payload::Sent) {
        // The ticket is looked up now: a later intent with the same id would be another order.
        let (ticket, agent_unapproved) = self
            .intents
            .get(&(gateway, s.order_id))
            .map_or((None, false), |(t, u, _)| (Some(t.clone()), *u));
        self.sent.push((
            s.proposal,
            SentOrder {
                seq: r.seq,
                at: r.at,
                order_id: s.order_id,
                proposal: s.proposal,
                requester: String::new(),
                order_ref: s.order_ref.as_deref().map(inert),
                ticket,
                agent_unapproved,
                dry_run: false,
            },
        ));
    }

    fn alert(&mut self, r: &Record, a: &payload::Alert) {
        let counts = &mut self.alerts.raised;
        match a.severity.to_ascii_lowercase().as_str() {
            "info" => counts.info += 1,
            "warning" => counts.warning += 1,
            "critical" => {
                counts.critical += 1;
                self.critical.push(CriticalAlert {
                    seq: r.seq,
                    at: r.at,
                    id: a.id,
                    source: a.source.as_deref().map_or_else(String::new, inert),
                    text: inert(&a.text),
                    acknowledged: false,
                });
            }
            _ => counts.other += 1,
        }
    }

    fn human(&mut self, r: &Record, h: Human) {
        let human = &mut self.human;
        match h {
            Human::Refused { action } => *human.refused.entry(inert(&action)).or_default() += 1,
            Human::Approve(p) => {
                let by = p.by.as_deref().map_or_else(|| "unknown".to_owned(), inert);
                self.acts.push((p.proposal, Act::Approved(by)));
            }
            Human::Edit(p) => self.acts.push((p.proposal, Act::Edited)),
            Human::Reject(p) => {
                let reason = p.reason.as_deref().map_or_else(String::new, inert);
                self.acts.push((p.proposal, Act::Rejected(reason)));
            }
            Human::Withdraw(p) => self.acts.push((p.proposal, Act::Withdrawn)),
            Human::Expire(p) => self.acts.push((p.proposal, Act::Expired)),
            Human::Acknowledge(a) => {
                self.acknowledged.insert(a.alert);
                if !self.alerts.acknowledged.contains(&a.alert) {
                    self.alerts.acknowledged.push(a.alert);
                }
            }
            Human::KillSwitch => human.kill_switch += 1,
            Human::Resume => human.resume += 1,
            Human::DiscardedKeys { keys, reason } => {
                human.discarded_key_events += 1;
                human.discarded_keys += keys;
                let reason = reason.as_deref().map_or_else(String::new, inert);
                *human.discarded_by_reason.entry(reason).or_default() += keys;
            }
            Human::ProfileSwitch(s) => human.profile_switches.push(ProfileSwitch {
                seq: r.seq,
                at: r.at,
                from: inert(&s.from),
                to: inert(&s.to),
            }),
        }
    }

    fn broker(&mut self, r: &Record, b: Broker) {
        let gateway = r.envelope.gateway.clone();
        match b {
            Broker::Connected => self.connection.push((r.at, true)),
            Broker::DryRun(d) => {
                self.dry_run.insert(d.proposal);
            }
            Broker::Disconnected => {
                self.disconnected += 1;
                self.connection.push((r.at, false));
            }
            Broker::OrderStatus(s) => {
                let rejected = match snake(&s.status).as_str() {
                    "rejected" => true,
                    "cancelled" | "canceled" | "api_cancelled" | "api_canceled" => false,
                    _ => return,
                };
                if self.ended.insert(((gateway, s.order_id), rejected)) {
                    let end = OrderEnd {
                        seq: r.seq,
                        at: r.at,
                        order_id: s.order_id,
                        proposal: s.proposal,
                    };
                    if rejected {
                        self.rejected.push(end);
                    } else {
                        self.cancelled.push(end);
                    }
                }
            }
            Broker::Execution(e) => {
                if self.exec_order.contains_key(&e.exec_id) {
                    self.duplicates += 1;
                    return;
                }
                let product = e.quantity.0.checked_mul(e.price.0);
                let key = (gateway, e.order_id);
                let index = *self.fill_index.entry(key.clone()).or_insert_with(|| {
                    self.fills.push(FillAcc {
                        fill: OrderFill {
                            order_id: e.order_id,
                            proposal: e.proposal,
                            ticket: None,
                            executions: 0,
                            quantity: Decimal::ZERO,
                            notional: Decimal::ZERO,
                            average_price: Decimal::ZERO,
                            commission: BTreeMap::new(),
                            realized_pnl: BTreeMap::new(),
                        },
                        key,
                    });
                    self.fills.len() - 1
                });
                let Some(acc) = self.fills.get_mut(index) else {
                    return;
                };
                let fill = &mut acc.fill;
                let sums = product.and_then(|p| {
                    Some((
                        fill.quantity.checked_add(e.quantity.0)?,
                        fill.notional.checked_add(p)?,
                    ))
                });
                let Some((quantity, notional)) = sums else {
                    self.unreadable(r, "the fill amounts overflow a decimal");
                    return;
                };
                fill.quantity = quantity;
                fill.notional = notional;
                fill.executions += 1;
                fill.proposal = fill.proposal.or(e.proposal);
                self.exec_order.insert(e.exec_id, index);
            }
            Broker::Commission(c) => self.commissions.push((r.seq, c)),
            Broker::Error(e) => match e.order_id {
                Some(order_id) => self.order_errors.push(BrokerError {
                    seq: r.seq,
                    at: r.at,
                    order_id,
                    code: e.code,
                    text: inert(&e.text),
                }),
                None => self.other_errors += 1,
            },
        }
    }
}
