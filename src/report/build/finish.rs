//! What is done once every record is read: requesters joined to what was done with their proposals, fills
//! joined to their tickets and commissions, exact quantity-weighted average prices, the day's totals, and
//! the stretches without the broker.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

use super::{Acc, Act, FillAcc, Key};
use crate::report::text::inert;
use crate::report::{
    BrokerOutcomes, CriticalAlert, Disconnects, EARLIER, Fills, Header, InDoubt, NotSent, Orders, Outage,
    Proposals, Report, RequesterProposals, Scope, SentOrder, ToolCalls, Unreadable,
};

/// Decimal places of an average price.
const PRICE_PLACES: u32 = 8;

impl Acc {
    pub(super) fn finish(mut self, scope: &Scope) -> Report {
        let fills = self.fills();
        let requester = |requesters: &HashMap<Key, String>, k: &Key| {
            requesters.get(k).cloned().unwrap_or_else(|| EARLIER.to_owned())
        };
        let dry_run = std::mem::take(&mut self.dry_run);
        let sent = std::mem::take(&mut self.sent)
            .into_iter()
            .map(|(k, s)| SentOrder {
                requester: requester(&self.requesters, &k),
                dry_run: dry_run.contains(&k),
                ..s
            })
            .collect();
        let not_sent: Vec<NotSent> = std::mem::take(&mut self.not_sent)
            .into_iter()
            .map(|(k, n)| NotSent {
                requester: requester(&self.requesters, &k),
                ..n
            })
            .collect();
        let mut not_sent_by_reason = BTreeMap::new();
        for n in &not_sent {
            *not_sent_by_reason.entry(n.reason.clone()).or_default() += 1;
        }
        let in_doubt: Vec<InDoubt> = std::mem::take(&mut self.in_doubt)
            .into_iter()
            .map(|(k, d)| InDoubt {
                requester: requester(&self.requesters, &k),
                ..d
            })
            .collect();
        let in_doubt_found = in_doubt.iter().filter(|d| d.found).count() as u64;
        let mut alerts = std::mem::take(&mut self.alerts);
        alerts.critical = std::mem::take(&mut self.critical)
            .into_iter()
            .map(|a| CriticalAlert {
                acknowledged: self.acknowledged.contains(&a.id),
                ..a
            })
            .collect();
        let day = &scope.day;
        Report {
            header: Header {
                date: day.date,
                timezone: day.tz.name().to_owned(),
                timezone_source: day.zone.describe(),
                from: day.from,
                to: day.to,
                hours: day.hours(),
                state_dir: inert(&scope.state_dir),
                profiles: std::mem::take(&mut self.profiles).into_iter().collect(),
                accounts: std::mem::take(&mut self.accounts).into_iter().collect(),
                records: self.records,
                first_seq: self.first_seq,
                last_seq: self.last_seq,
                journal_head: scope.head.clone(),
            },
            proposals: self.proposals(),
            orders: Orders {
                sent,
                not_sent,
                not_sent_by_reason,
                in_doubt_not_found: in_doubt.len() as u64 - in_doubt_found,
                in_doubt,
                in_doubt_found,
            },
            fills,
            broker: BrokerOutcomes {
                rejected: std::mem::take(&mut self.rejected),
                order_errors: std::mem::take(&mut self.order_errors),
                other_errors: self.other_errors,
                cancelled: std::mem::take(&mut self.cancelled),
            },
            alerts,
            disconnects: disconnects(&self.connection, self.disconnected, scope),
            tool_calls: std::mem::take(&mut self.tools)
                .into_iter()
                .map(|((agent, tool, outcome), count)| ToolCalls {
                    agent,
                    tool,
                    outcome,
                    count,
                })
                .collect(),
            trading_state: std::mem::take(&mut self.trading_state),
            human_actions: std::mem::take(&mut self.human),
            unreadable: std::mem::take(&mut self.unreadable),
        }
    }

    fn proposals(&mut self) -> Proposals {
        let mut rows: BTreeMap<String, RequesterProposals> = BTreeMap::new();
        for (name, keys) in &self.staged {
            entry(&mut rows, name).staged = keys.len() as u64;
        }
        for (name, versions) in &self.refused {
            let r = entry(&mut rows, name);
            r.refused_by_policy = versions.len() as u64;
            for code in versions.values().flatten() {
                *r.refused_rules.entry(code.clone()).or_default() += 1;
            }
        }
        for (k, act) in &self.acts {
            let name = self.requesters.get(k).map_or(EARLIER, String::as_str);
            let r = entry(&mut rows, name);
            match act {
                Act::Approved(by) => {
                    r.approved += 1;
                    *r.approved_by.entry(by.clone()).or_default() += 1;
                }
                Act::Edited => r.edited += 1,
                Act::Rejected(reason) => {
                    r.rejected += 1;
                    *r.rejected_reasons.entry(reason.clone()).or_default() += 1;
                }
                Act::Withdrawn => r.withdrawn += 1,
                Act::Expired => r.expired += 1,
            }
        }
        Proposals {
            by_requester: rows.into_values().collect(),
            refused_unstaged: std::mem::take(&mut self.refused_unstaged),
        }
    }

    /// Joins tickets and commissions to the fills; computes average prices and the day's totals.
    pub(super) fn fills(&mut self) -> Fills {
        let mut out = Fills {
            duplicates_ignored: self.duplicates,
            ..Fills::default()
        };
        let mut seen = HashSet::new();
        let mut overflowed = Vec::new();
        for (seq, c) in std::mem::take(&mut self.commissions) {
            if !seen.insert(c.exec_id.clone()) {
                out.duplicates_ignored += 1;
                continue;
            }
            let currency = inert(&c.currency);
            let mut ok = add(&mut out.commission_total, &currency, c.amount.0);
            if let Some(pnl) = c.realized_pnl {
                ok &= add(&mut out.realized_pnl_total, &currency, pnl.0);
            }
            match self
                .exec_order
                .get(&c.exec_id)
                .and_then(|&i| self.fills.get_mut(i))
            {
                Some(acc) => {
                    ok &= add(&mut acc.fill.commission, &currency, c.amount.0);
                    if let Some(pnl) = c.realized_pnl {
                        ok &= add(&mut acc.fill.realized_pnl, &currency, pnl.0);
                    }
                }
                None => out.unmatched_commissions.push(inert(&c.exec_id)),
            }
            if !ok {
                overflowed.push(seq);
            }
        }
        for seq in overflowed {
            self.unreadable.push(Unreadable {
                seq,
                kind: crate::journal::kinds::BROKER_EVENT.to_owned(),
                problem: "the commission amounts overflow a decimal".to_owned(),
            });
        }
        normalize(&mut out.commission_total);
        normalize(&mut out.realized_pnl_total);
        out.orders = std::mem::take(&mut self.fills)
            .into_iter()
            .map(|FillAcc { mut fill, key }| {
                if let Some((ticket, _, proposal)) = self.intents.get(&key) {
                    fill.ticket = Some(ticket.clone());
                    fill.proposal = fill.proposal.or(Some(*proposal));
                }
                fill.average_price = average(fill.notional, fill.quantity);
                fill.quantity = fill.quantity.normalize();
                fill.notional = fill.notional.normalize();
                normalize(&mut fill.commission);
                normalize(&mut fill.realized_pnl);
                fill
            })
            .collect();
        out
    }
}

/// Drops trailing zeros (`1.50` → `1.5`), so sums read the same whatever scale the broker wrote.
fn normalize(map: &mut BTreeMap<String, Decimal>) {
    for amount in map.values_mut() {
        *amount = amount.normalize();
    }
}

/// Adds `amount` to `map[key]`; false if the sum overflows (the entry is left as it was).
fn add(map: &mut BTreeMap<String, Decimal>, key: &str, amount: Decimal) -> bool {
    let slot = map.entry(key.to_owned()).or_default();
    match slot.checked_add(amount) {
        Some(sum) => {
            *slot = sum;
            true
        }
        None => false,
    }
}

/// `notional / quantity`, rounded half away from zero to [`PRICE_PLACES`]; zero for no quantity.
pub(in crate::report) fn average(notional: Decimal, quantity: Decimal) -> Decimal {
    notional.checked_div(quantity).map_or(Decimal::ZERO, |p| {
        p.round_dp_with_strategy(PRICE_PLACES, RoundingStrategy::MidpointAwayFromZero)
            .normalize()
    })
}

/// Stretches without the broker: each `disconnected` to the next `connected`; one still open at the end is
/// counted to the end of the day or the journal's last record, whichever is earlier.
pub(super) fn disconnects(events: &[(DateTime<Utc>, bool)], count: u64, scope: &Scope) -> Disconnects {
    let day = &scope.day;
    let mut open = scope.disconnected_since.map(|_| (day.from, true));
    let mut outages = Vec::new();
    for &(at, connected) in events {
        match (connected, open) {
            (false, None) => open = Some((at, false)),
            (true, Some((from, carried_over))) => {
                outages.push(outage(from, at, "connected", carried_over));
                open = None;
            }
            _ => {}
        }
    }
    if let Some((from, carried_over)) = open {
        let (to, until) = match &scope.head {
            Some(head) if head.at < day.to => (head.at, "last record"),
            _ => (day.to, "end of day"),
        };
        outages.push(outage(from, to.max(from), until, carried_over));
    }
    let total_ms: i64 = outages.iter().map(|o| (o.to - o.from).num_milliseconds()).sum();
    Disconnects {
        count,
        total_seconds: Decimal::new(total_ms, 3).normalize(),
        outages,
    }
}

fn outage(from: DateTime<Utc>, to: DateTime<Utc>, until: &str, carried_over: bool) -> Outage {
    Outage {
        from,
        to,
        seconds: Decimal::new((to - from).num_milliseconds(), 3).normalize(),
        until: until.to_owned(),
        carried_over,
    }
}

fn entry<'a>(rows: &'a mut BTreeMap<String, RequesterProposals>, name: &str) -> &'a mut RequesterProposals {
    rows.entry(name.to_owned()).or_insert_with(|| RequesterProposals {
        requester: name.to_owned(),
        ..RequesterProposals::default()
    })
}
