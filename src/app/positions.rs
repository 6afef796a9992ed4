//! The position check (RELIABILITY.md P12). The positions the policy reads are the cockpit's own: the
//! broker's, taken once as a baseline, then moved by every fill the cockpit applies (once per exec id).
//! At every reconciliation the adapter hands over a fresh snapshot of the broker's positions, taken after
//! the reconciliation's executions, and the core compares it with its own.
//!
//! One difference proves nothing: a fill can be in flight between the executions query and the snapshot
//! (the broker's position holds it, its execution has not reached the core yet), and IB's positions can
//! trail its executions. So a difference only asks the adapter to check again a few seconds later
//! ([`Effect::CheckPositions`]); a position that differs on two consecutive checks is a mismatch: a
//! critical alert naming it, a `position_mismatch` record, and a step down for `ReconciliationMismatch`
//! (at the profile's level) that stays until the trader resumes — possible once the positions agree. The
//! cockpit then takes the broker's positions as the truth for the policy.
//!
//! A baseline (the first check, or the positions taken after a mismatch) is provisional until a check
//! agrees with it: taken while a fill was in flight, it counts that fill twice once its execution arrives,
//! so a provisional baseline that differs is taken again, journaled but not alarmed, and checked again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::json;

use super::msg::{BrokerPosition, Effect, JournalRecord};
use super::state::State;
use crate::domain::{AccountId, AlertSource, Instrument, Severity};
use crate::journal::kinds;
use crate::policy::Cause;

/// A position's key: account and instrument.
type Key = (AccountId, Instrument);

/// Where the cockpit's positions come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Baseline {
    /// Not yet taken: no complete snapshot has arrived since the start.
    #[default]
    None,
    /// Taken from the broker, not yet confirmed by a check that agreed with it.
    Provisional,
    /// Confirmed: a difference now is a difference.
    Confirmed,
}

/// How the cockpit's positions stand against the broker's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PositionWatch {
    /// Where the cockpit's positions come from.
    pub baseline: Baseline,
    /// The positions that differed at the latest check, unconfirmed: `(broker, cockpit)`.
    pub differing: BTreeMap<Key, (Decimal, Decimal)>,
    /// A confirmed mismatch the trader has not resumed past: it holds `ReconciliationMismatch`.
    pub mismatch: bool,
}

impl State {
    /// A row of the broker's position stream: its average cost (the quantity is the check's business).
    pub(super) fn position_cost(&mut self, key: Key, held: BrokerPosition) {
        if !self.profile.accounts.contains(&key.0) {
            return;
        }
        match held.average_cost {
            Some(cost) if !held.quantity.is_zero() => self.position_costs.insert(key, cost),
            _ => self.position_costs.remove(&key),
        };
    }

    /// The broker's positions at a reconciliation, against the cockpit's.
    pub(super) fn position_check(
        &mut self,
        snapshot: BTreeMap<Key, BrokerPosition>,
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let broker: BTreeMap<Key, BrokerPosition> = snapshot
            .into_iter()
            .filter(|((account, _), _)| self.profile.accounts.contains(account))
            .collect();
        self.position_costs
            .retain(|key, _| !self.profile.accounts.contains(&key.0) || broker.contains_key(key));
        for (key, held) in &broker {
            self.position_cost(key.clone(), *held);
        }
        let broker: BTreeMap<Key, Decimal> = broker
            .into_iter()
            .filter(|(_, held)| !held.quantity.is_zero())
            .map(|(key, held)| (key, held.quantity))
            .collect();
        let differing = self.differences(&broker);
        let watch = &mut self.position_watch;
        if differing.is_empty() {
            watch.differing.clear();
            watch.baseline = Baseline::Confirmed;
            return;
        }
        let why = match watch.baseline {
            Baseline::None => "baseline",
            Baseline::Provisional => "baseline unconfirmed",
            Baseline::Confirmed => {
                let previous = std::mem::replace(&mut watch.differing, differing);
                let confirmed: Vec<(Key, (Decimal, Decimal))> = watch
                    .differing
                    .iter()
                    .filter(|(key, _)| previous.contains_key(*key))
                    .map(|(key, figures)| (key.clone(), *figures))
                    .collect();
                if confirmed.is_empty() {
                    // Once proves nothing: look again in a few seconds.
                    fx.push(Effect::CheckPositions);
                    return;
                }
                self.position_mismatch(&confirmed, now, fx);
                "mismatch"
            }
        };
        self.adopt_positions(broker, why, fx);
    }

    /// The allowlisted positions where the broker's figure is not the cockpit's: `(broker, cockpit)`.
    fn differences(&self, broker: &BTreeMap<Key, Decimal>) -> BTreeMap<Key, (Decimal, Decimal)> {
        let ours = self
            .positions
            .iter()
            .filter(|((account, _), _)| self.profile.accounts.contains(account));
        let mut keys: Vec<&Key> = broker.keys().chain(ours.map(|(key, _)| key)).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter_map(|key| {
                let theirs = broker.get(key).copied().unwrap_or(Decimal::ZERO);
                let ours = self.positions.get(key).copied().unwrap_or(Decimal::ZERO);
                (theirs != ours).then(|| (key.clone(), (theirs, ours)))
            })
            .collect()
    }

    /// Positions that differed on two checks in a row: alerted and journaled one by one, and trading
    /// steps down until the trader resumes.
    fn position_mismatch(
        &mut self,
        confirmed: &[(Key, (Decimal, Decimal))],
        now: DateTime<Utc>,
        fx: &mut Vec<Effect>,
    ) {
        let mut said = Vec::new();
        for ((account, instrument), (broker, cockpit)) in confirmed {
            fx.push(Effect::Journal(JournalRecord {
                kind: kinds::POSITION_MISMATCH,
                data: json!({"account": account.as_str(), "symbol": instrument.symbol.as_str(),
                             "instrument": instrument, "broker": broker, "cockpit": cockpit}),
                sync: false,
            }));
            let what =
                format!("{account} {instrument}: the broker holds {broker}, the cockpit counts {cockpit}");
            self.alert(
                Severity::Critical,
                now,
                format!("position mismatch in {what}; the broker's figure is taken"),
                AlertSource::Broker,
            );
            said.push(what);
        }
        self.position_watch.mismatch = true;
        let to = self.profile.policy.step_down.on_reconciliation_mismatch.into();
        let why = format!(
            "positions differ from the broker's on two checks: {}",
            said.join("; ")
        );
        self.step_down(Cause::ReconciliationMismatch, to, &why, now, fx);
    }

    /// Takes the broker's positions (of the allowlisted accounts) as the cockpit's, provisionally: a check
    /// a few seconds later confirms them.
    fn adopt_positions(&mut self, broker: BTreeMap<Key, Decimal>, why: &str, fx: &mut Vec<Effect>) {
        let rows: Vec<serde_json::Value> = broker
            .iter()
            .map(|((account, instrument), quantity)| {
                json!({"account": account.as_str(), "symbol": instrument.symbol.as_str(),
                       "instrument": instrument, "quantity": quantity})
            })
            .collect();
        fx.push(Effect::Journal(JournalRecord {
            kind: kinds::BROKER_EVENT,
            data: json!({"event": "positions_adopted", "why": why, "positions": rows}),
            sync: false,
        }));
        self.positions
            .retain(|(account, _), _| !self.profile.accounts.contains(account));
        self.positions.extend(broker);
        self.position_watch.differing.clear();
        self.position_watch.baseline = Baseline::Provisional;
        fx.push(Effect::CheckPositions);
    }

    /// The trader resumes deliberately: a position mismatch no longer holds trading down once the
    /// positions agree (after the mismatch the cockpit took the broker's, so they do unless a new
    /// difference is pending). The cause stays if an order mismatch still holds it too.
    pub(super) fn resume_past_position_mismatch(&mut self) {
        let watch = &mut self.position_watch;
        if watch.mismatch && watch.differing.is_empty() {
            watch.mismatch = false;
            if !self.mismatch_open {
                self.trading.clear(Cause::ReconciliationMismatch);
            }
        }
    }
}
