//! Unit tests of the report: every section's numbers from hand-made records, the average-price arithmetic,
//! DST days, disconnects left open, unreadable payloads, and the three formats. The fixtures live here.

mod day;
mod formats;
mod sections;

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::*;
use crate::journal::{Envelope, Record};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("decimal")
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::from_str(text).expect("date")
}

fn envelope(profile: &str) -> Envelope {
    Envelope {
        profile: profile.to_owned(),
        gateway: "127.0.0.1:4002".to_owned(),
        account: "DU1234567".to_owned(),
        client_id: 7,
    }
}

/// Builds records with consecutive seqs.
struct Log {
    records: Vec<Record>,
}

impl Log {
    fn new() -> Log {
        Log { records: Vec::new() }
    }

    fn add(&mut self, time: &str, kind: &str, data: Value) -> u64 {
        let seq = self.records.len() as u64 + 1;
        self.records.push(Record {
            seq,
            at: at(time),
            envelope: envelope("paper"),
            kind: kind.to_owned(),
            data,
            prev_hash: [0; 32],
            hash: [0; 32],
        });
        seq
    }
}

fn ticket(side: &str, qty: &str, symbol: &str, order_type: &str, limit: Option<&str>) -> Value {
    json!({
        "account": "DU1234567",
        "instrument": {"symbol": symbol, "sec_type": "STK", "currency": "USD", "primary_exchange": "NASDAQ"},
        "side": side, "quantity": qty, "order_type": order_type,
        "limit_price": limit, "stop_price": null, "tif": "DAY", "outside_rth": false,
    })
}

fn verdict(proposal: u64, version: u64, requester: &str, tier: Option<&str>, codes: &[&str]) -> Value {
    json!({"proposal": proposal, "version": version, "requester": requester, "note": "",
           "ticket": ticket("BUY", "10", "AAPL", "LMT", Some("187.25")), "codes": codes,
           "messages": [], "tier": tier, "fingerprint": tier.map(|_| "ab12")})
}

fn scope(day: Day, head: Option<(u64, &str)>) -> Scope {
    Scope {
        day,
        state_dir: "/tmp/state".to_owned(),
        head: head.map(|(seq, time)| Head {
            seq,
            at: at(time),
            hash: "00".repeat(32),
        }),
        disconnected_since: None,
        before: Vec::new(),
    }
}

fn new_york(day: &str) -> Day {
    Day::in_zone(date(day), Tz::America__New_York, Zone::Start { seq: 1 })
}

/// A full trading day in New York on 2026-03-10 (EDT, UTC-4): every section has something in it.
#[expect(
    clippy::too_many_lines,
    reason = "one day of records, in order, reads best in one place"
)]
fn full_day() -> Log {
    let mut log = Log::new();
    log.add(
        "2026-03-10T12:00:00Z",
        "start",
        json!({"config_hash": "x", "mode": "paper", "version": "0.1.0",
        "timezone": "America/New_York"}),
    );
    // alpha: proposal 1 approved by confirm, sent, filled in two executions.
    log.add(
        "2026-03-10T13:30:00Z",
        "verdict",
        verdict(1, 1, "alpha", Some("Confirm"), &[]),
    );
    log.add(
        "2026-03-10T13:30:05Z",
        "verdict",
        verdict(1, 1, "alpha", Some("Confirm"), &[]),
    );
    log.add(
        "2026-03-10T13:30:05Z",
        "human_action",
        json!({"action": "approve", "proposal": 1, "version": 1,
        "by": "confirm", "fingerprint": "ab12"}),
    );
    log.add(
        "2026-03-10T13:30:05Z",
        "intent",
        json!({"proposal": 1, "version": 1, "order_id": 101,
        "order_ref": "ck-p1-v1-i1", "high_water": 101, "epoch": 0,
        "ticket": ticket("BUY", "10.5", "AAPL", "LMT", Some("187.25")), "fingerprint": "ab12",
        "notional": "1966.125", "agent_unapproved": false}),
    );
    log.add(
        "2026-03-10T13:30:06Z",
        "sent",
        json!({"proposal": 1, "order_id": 101, "order_ref": "ck-p1-v1-i1"}),
    );
    log.add(
        "2026-03-10T13:30:07Z",
        "broker_event",
        json!({"event": "execution", "proposal": 1, "order_id": 101,
        "exec_id": "e1", "quantity": "4", "price": "187.25"}),
    );
    log.add(
        "2026-03-10T13:30:08Z",
        "broker_event",
        json!({"event": "execution", "proposal": 1, "order_id": 101,
        "exec_id": "e2", "quantity": "6.5", "price": "187.1"}),
    );
    log.add(
        "2026-03-10T13:30:08Z",
        "broker_event",
        json!({"event": "execution", "proposal": 1, "order_id": 101,
        "exec_id": "e2", "quantity": "6.5", "price": "187.1"}),
    );
    log.add(
        "2026-03-10T13:30:09Z",
        "broker_event",
        json!({"event": "commission", "exec_id": "e1",
        "commission": "1.00", "currency": "USD", "realized_pnl": null}),
    );
    log.add(
        "2026-03-10T13:30:09Z",
        "broker_event",
        json!({"event": "commission", "exec_id": "e2",
        "commission": "0.5", "currency": "USD", "realized_pnl": "12.25"}),
    );
    log.add(
        "2026-03-10T13:30:09Z",
        "broker_event",
        json!({"event": "commission", "exec_id": "e0",
        "commission": "0.35", "currency": "USD", "realized_pnl": "-2"}),
    );
    log.add(
        "2026-03-10T13:30:10Z",
        "broker_event",
        json!({"event": "order_status", "proposal": 1,
        "order_id": 101, "status": "Filled"}),
    );
    // alpha: proposal 2 refused by two rules (recorded twice for the same version: counted once).
    log.add(
        "2026-03-10T14:00:00Z",
        "verdict",
        verdict(2, 1, "alpha", None, &["max_notional", "max_position"]),
    );
    log.add(
        "2026-03-10T14:00:01Z",
        "verdict",
        verdict(2, 1, "alpha", None, &["max_notional"]),
    );
    // trader: proposal 3 edited, then rejected; proposal 6 automatic approval refused.
    log.add(
        "2026-03-10T14:10:00Z",
        "verdict",
        verdict(3, 1, "trader", Some("Typed"), &[]),
    );
    log.add(
        "2026-03-10T14:10:30Z",
        "human_action",
        json!({"action": "edit", "proposal": 3, "from_version": 1,
        "before": {}, "after": {}}),
    );
    log.add(
        "2026-03-10T14:10:30Z",
        "verdict",
        verdict(3, 2, "trader", Some("Typed"), &[]),
    );
    log.add(
        "2026-03-10T14:11:00Z",
        "human_action",
        json!({"action": "reject", "proposal": 3,
        "reason": "too big, \"really\""}),
    );
    // beta: 4 withdrawn, 5 expired, 6 approved then sent without approval.
    log.add(
        "2026-03-10T14:20:00Z",
        "verdict",
        verdict(4, 1, "beta", Some("Confirm"), &[]),
    );
    log.add(
        "2026-03-10T14:20:10Z",
        "human_action",
        json!({"action": "withdraw", "proposal": 4,
        "reason": "withdrawn by its agent"}),
    );
    log.add(
        "2026-03-10T14:21:00Z",
        "verdict",
        verdict(5, 1, "beta", Some("Confirm"), &[]),
    );
    log.add(
        "2026-03-10T14:26:00Z",
        "human_action",
        json!({"action": "expire", "proposal": 5,
        "reason": "not approved in time"}),
    );
    log.add(
        "2026-03-10T14:27:00Z",
        "human_action",
        json!({"action": "approve", "proposal": 5,
        "refused": "the order is expired"}),
    );
    log.add(
        "2026-03-10T14:28:00Z",
        "proposal_refused",
        json!({"reason": "uid 9 is not a configured agent",
        "ticket": {}}),
    );
    log.add(
        "2026-03-10T14:29:00Z",
        "verdict",
        verdict(6, 1, "beta", Some("None"), &[]),
    );
    log.add(
        "2026-03-10T14:29:00Z",
        "human_action",
        json!({"action": "approve", "proposal": 6, "version": 1,
        "by": "automatic", "fingerprint": "cd"}),
    );
    log.add(
        "2026-03-10T14:29:00Z",
        "intent",
        json!({"proposal": 6, "version": 1, "order_id": 102,
        "order_ref": "ck-p6-v1-i2", "high_water": 102, "epoch": 0,
        "ticket": ticket("SELL", "5", "MSFT", "MKT", None), "fingerprint": "cd", "notional": "2000",
        "agent_unapproved": true}),
    );
    log.add(
        "2026-03-10T14:29:01Z",
        "sent",
        json!({"proposal": 6, "order_id": 102, "order_ref": "ck-p6-v1-i2"}),
    );
    log.add(
        "2026-03-10T14:29:02Z",
        "broker_event",
        json!({"event": "order_status", "proposal": 6,
        "order_id": 102, "status": "Rejected"}),
    );
    log.add(
        "2026-03-10T14:29:02Z",
        "broker_event",
        json!({"event": "error", "order_id": 102, "code": 201,
        "text": "Order rejected - reason: margin"}),
    );
    log.add(
        "2026-03-10T14:29:03Z",
        "broker_event",
        json!({"event": "error", "order_id": null, "code": 2104,
        "text": "Market data farm connection is OK"}),
    );
    log.add(
        "2026-03-10T14:29:30Z",
        "human_action",
        json!({"action": "reject", "proposal": 42,
        "reason": "stale"}),
    );
    // A proposal staged the day before, not sent; an in-doubt intent; a cancel reported twice.
    log.add(
        "2026-03-10T14:30:00Z",
        "not_sent",
        json!({"proposal": 7,
        "reason": "the trading state changed before sending"}),
    );
    log.add(
        "2026-03-10T14:31:00Z",
        "in_doubt",
        json!({"proposal": 8, "order_id": 99,
        "order_ref": "ck-p8-v1-i9", "found": true, "status": "Filled"}),
    );
    log.add(
        "2026-03-10T14:32:00Z",
        "broker_event",
        json!({"event": "order_status", "proposal": 9,
        "order_id": 103, "status": "Cancelled"}),
    );
    log.add(
        "2026-03-10T14:32:01Z",
        "broker_event",
        json!({"event": "order_status", "proposal": 9,
        "order_id": 103, "status": "Cancelled"}),
    );
    // Alerts.
    log.add(
        "2026-03-10T15:00:00Z",
        "alert",
        json!({"id": 1, "severity": "info", "text": "hello",
        "source": "system"}),
    );
    log.add(
        "2026-03-10T15:00:01Z",
        "alert",
        json!({"id": 2, "severity": "critical",
        "text": "trading HALTED: kill switch", "source": "system"}),
    );
    log.add(
        "2026-03-10T15:00:02Z",
        "alert",
        json!({"id": 3, "severity": "warning",
        "text": "agent says hi", "source": "agent:alpha"}),
    );
    log.add(
        "2026-03-10T15:00:03Z",
        "alert",
        json!({"id": 4, "severity": "critical", "text": "second \u{1b}[31mred\u{202e}",
        "source": "broker"}),
    );
    log.add(
        "2026-03-10T15:01:00Z",
        "human_action",
        json!({"action": "acknowledge", "alert": 2}),
    );
    log.add(
        "2026-03-10T15:01:01Z",
        "human_action",
        json!({"action": "acknowledge", "alert": 3}),
    );
    // A disconnect of 5 min 30.5 s, and a repeated `disconnected` that does not restart it.
    log.add(
        "2026-03-10T16:00:00Z",
        "broker_event",
        json!({"event": "disconnected"}),
    );
    log.add(
        "2026-03-10T16:00:00Z",
        "trading_state",
        json!({"level": "REDUCING", "cause": "disconnected",
        "epoch": 1, "why": "the broker connection is lost"}),
    );
    log.add(
        "2026-03-10T16:01:00Z",
        "broker_event",
        json!({"event": "disconnected"}),
    );
    log.add(
        "2026-03-10T16:05:30.500Z",
        "broker_event",
        json!({"event": "connected", "next_valid_id": 200}),
    );
    log.add(
        "2026-03-10T16:05:31Z",
        "broker_event",
        json!({"event": "reconciled"}),
    );
    // Tool calls.
    for (agent, tool, outcome) in [
        ("alpha", "stage_order", "ok"),
        ("alpha", "stage_order", "ok"),
        ("alpha", "get_quote", "refused"),
        ("beta", "submit_order", "malformed"),
    ] {
        log.add(
            "2026-03-10T17:00:00Z",
            "tool_call",
            json!({"agent": agent, "label": "x", "uid": 1001,
            "tool": tool, "arguments": {}, "outcome": outcome, "detail": ""}),
        );
    }
    // Human actions.
    log.add(
        "2026-03-10T18:00:00Z",
        "human_action",
        json!({"action": "kill_switch"}),
    );
    log.add(
        "2026-03-10T18:00:00Z",
        "trading_state",
        json!({"level": "HALTED", "cause": "kill_switch",
        "epoch": 2, "why": "kill switch"}),
    );
    log.add(
        "2026-03-10T18:05:00Z",
        "human_action",
        json!({"action": "resume", "refused": "type RESUME"}),
    );
    log.add(
        "2026-03-10T18:06:00Z",
        "human_action",
        json!({"action": "resume", "typed": true}),
    );
    log.add(
        "2026-03-10T18:06:00Z",
        "trading_state",
        json!({"level": "ACTIVE", "cause": "resume", "epoch": 3}),
    );
    log.add(
        "2026-03-10T18:10:00Z",
        "human_action",
        json!({"action": "profile_switch", "from": "paper",
        "to": "live"}),
    );
    log.add(
        "2026-03-10T18:11:00Z",
        "human_action",
        json!({"action": "discarded_keys", "keys": 3,
        "reason": "modal open"}),
    );
    log.add(
        "2026-03-10T18:12:00Z",
        "human_action",
        json!({"action": "discarded_keys", "keys": ["a", "b"],
        "reason": "modal open"}),
    );
    // Unknown kinds, actions and fields are ignored.
    log.add("2026-03-10T19:00:00Z", "mystery", json!({"anything": 1}));
    log.add(
        "2026-03-10T19:00:01Z",
        "human_action",
        json!({"action": "dance", "proposal": "x"}),
    );
    log.add(
        "2026-03-10T19:00:02Z",
        "broker_event",
        json!({"event": "margin_call", "x": 1}),
    );
    log
}

fn full_report() -> Report {
    let log = full_day();
    build(
        &log.records,
        &scope(new_york("2026-03-10"), Some((500, "2026-03-12T00:00:00Z"))),
    )
}

fn text(report: &Report, format: Format) -> String {
    let mut out = Vec::new();
    render(report, format, &mut out).expect("renders");
    String::from_utf8(out).expect("utf-8")
}
