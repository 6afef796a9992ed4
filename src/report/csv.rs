//! The CSV format: one table of `section,key,subkey,value` rows, quoted per RFC 4180 (a field holding a comma,
//! a double quote, CR or LF is enclosed in double quotes, with inner quotes doubled; lines end in CRLF). A
//! list with nothing in it is one `section,,,none` row. Times are RFC 3339 in UTC, as in the JSON.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::io;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;

use super::Report;
use super::render::ticket_text;

/// Quotes `field` per RFC 4180 when it needs it.
#[must_use]
pub fn csv_field(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

/// Writes the header line and every row of `report`.
pub(super) fn write(report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    out.write_all(b"section,key,subkey,value\r\n")?;
    for row in csv_rows(report) {
        let line: Vec<Cow<'_, str>> = row.iter().map(|f| csv_field(f)).collect();
        out.write_all(line.join(",").as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

/// Rows under construction.
struct Rows(Vec<[String; 4]>);

impl Rows {
    fn push(&mut self, section: &str, key: &dyn Display, subkey: &dyn Display, value: &dyn Display) {
        self.0.push([
            section.to_owned(),
            key.to_string(),
            subkey.to_string(),
            value.to_string(),
        ]);
    }

    fn none(&mut self, section: &str) {
        self.push(section, &"", &"", &NONE);
    }

    fn amounts(&mut self, section: &str, key: &dyn Display, prefix: &str, map: &BTreeMap<String, Decimal>) {
        for (currency, amount) in map {
            self.push(section, key, &format!("{prefix}:{currency}"), amount);
        }
    }
}

const NONE: &str = "none";

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn opt(value: Option<impl ToString>) -> String {
    value.map_or_else(|| NONE.to_owned(), |v| v.to_string())
}

/// Every row of `report`, without the header line.
#[must_use]
pub fn csv_rows(report: &Report) -> Vec<[String; 4]> {
    let mut rows = Rows(Vec::new());
    header(report, &mut rows);
    proposals(report, &mut rows);
    orders(report, &mut rows);
    fills(report, &mut rows);
    broker(report, &mut rows);
    alerts(report, &mut rows);
    rest(report, &mut rows);
    rows.0
}

fn header(r: &Report, rows: &mut Rows) {
    let h = &r.header;
    let s = "header";
    rows.push(s, &"date", &"", &h.date);
    rows.push(s, &"timezone", &"", &h.timezone);
    rows.push(s, &"timezone_source", &"", &h.timezone_source);
    rows.push(s, &"from", &"", &time(h.from));
    rows.push(s, &"to", &"", &time(h.to));
    rows.push(s, &"hours", &"", &h.hours);
    rows.push(s, &"state_dir", &"", &h.state_dir);
    for (key, items) in [("profile", &h.profiles), ("account", &h.accounts)] {
        if items.is_empty() {
            rows.push(s, &key, &"", &NONE);
        }
        for item in items {
            rows.push(s, &key, &"", &item);
        }
    }
    rows.push(s, &"records", &"", &h.records);
    rows.push(s, &"first_seq", &"", &opt(h.first_seq));
    rows.push(s, &"last_seq", &"", &opt(h.last_seq));
    let head = h.journal_head.as_ref();
    rows.push(s, &"head_seq", &"", &opt(head.map(|x| x.seq)));
    rows.push(s, &"head_at", &"", &opt(head.map(|x| time(x.at))));
    rows.push(s, &"head_hash", &"", &opt(head.map(|x| &x.hash)));
}

fn proposals(r: &Report, rows: &mut Rows) {
    let s = "proposals";
    if r.proposals.by_requester.is_empty() {
        rows.none(s);
    }
    for q in &r.proposals.by_requester {
        let k = &q.requester;
        rows.push(s, &k, &"staged", &q.staged);
        rows.push(s, &k, &"approved", &q.approved);
        for (how, n) in &q.approved_by {
            rows.push(s, &k, &format!("approved_by:{how}"), &n);
        }
        rows.push(s, &k, &"edited", &q.edited);
        rows.push(s, &k, &"rejected", &q.rejected);
        for (reason, n) in &q.rejected_reasons {
            rows.push(s, &k, &format!("rejected_reason:{reason}"), &n);
        }
        rows.push(s, &k, &"withdrawn", &q.withdrawn);
        rows.push(s, &k, &"expired", &q.expired);
        rows.push(s, &k, &"refused_by_policy", &q.refused_by_policy);
        for (code, n) in &q.refused_rules {
            rows.push(s, &k, &format!("refused_rule:{code}"), &n);
        }
    }
    let s = "proposals_refused_unstaged";
    if r.proposals.refused_unstaged.is_empty() {
        rows.none(s);
    }
    for f in &r.proposals.refused_unstaged {
        rows.push(s, &f.seq, &"time", &time(f.at));
        rows.push(s, &f.seq, &"proposal", &opt(f.proposal));
        rows.push(s, &f.seq, &"reason", &f.reason);
    }
}

fn orders(r: &Report, rows: &mut Rows) {
    let o = &r.orders;
    let s = "orders_sent";
    if o.sent.is_empty() {
        rows.none(s);
    }
    for x in &o.sent {
        let k = x.order_id;
        rows.push(s, &k, &"time", &time(x.at));
        rows.push(s, &k, &"proposal", &x.proposal);
        rows.push(s, &k, &"requester", &x.requester);
        rows.push(s, &k, &"ticket", &opt(x.ticket.as_ref().map(ticket_text)));
        rows.push(s, &k, &"order_ref", &opt(x.order_ref.as_ref()));
        rows.push(s, &k, &"agent_unapproved", &x.agent_unapproved);
        rows.push(s, &k, &"dry_run", &x.dry_run);
    }
    let s = "orders_not_sent";
    if o.not_sent.is_empty() {
        rows.none(s);
    }
    for x in &o.not_sent {
        rows.push(s, &x.seq, &"time", &time(x.at));
        rows.push(s, &x.seq, &"proposal", &x.proposal);
        rows.push(s, &x.seq, &"requester", &x.requester);
        rows.push(s, &x.seq, &"reason", &x.reason);
    }
    for (reason, n) in &o.not_sent_by_reason {
        rows.push(s, &"by_reason", &reason, n);
    }
    let s = "orders_in_doubt";
    if o.in_doubt.is_empty() {
        rows.none(s);
    } else {
        rows.push(s, &"found", &"", &o.in_doubt_found);
        rows.push(s, &"not_found", &"", &o.in_doubt_not_found);
    }
    for x in &o.in_doubt {
        rows.push(s, &x.seq, &"time", &time(x.at));
        rows.push(s, &x.seq, &"order_id", &x.order_id);
        rows.push(s, &x.seq, &"proposal", &x.proposal);
        rows.push(s, &x.seq, &"requester", &x.requester);
        rows.push(s, &x.seq, &"found", &x.found);
        rows.push(s, &x.seq, &"status", &opt(x.status.as_ref()));
        rows.push(s, &x.seq, &"order_ref", &opt(x.order_ref.as_ref()));
    }
}

fn fills(r: &Report, rows: &mut Rows) {
    let f = &r.fills;
    let s = "fills";
    if f.orders.is_empty() {
        rows.none(s);
    }
    for x in &f.orders {
        let k = x.order_id;
        rows.push(s, &k, &"proposal", &opt(x.proposal));
        rows.push(s, &k, &"ticket", &opt(x.ticket.as_ref().map(ticket_text)));
        rows.push(s, &k, &"executions", &x.executions);
        rows.push(s, &k, &"quantity", &x.quantity);
        rows.push(s, &k, &"notional", &x.notional);
        rows.push(s, &k, &"average_price", &x.average_price);
        rows.amounts(s, &k, "commission", &x.commission);
        rows.amounts(s, &k, "realized_pnl", &x.realized_pnl);
    }
    let s = "fills_total";
    rows.amounts(s, &"commission", "currency", &f.commission_total);
    rows.amounts(s, &"realized_pnl", "currency", &f.realized_pnl_total);
    for exec_id in &f.unmatched_commissions {
        rows.push(s, &"unmatched_commission", &exec_id, &"");
    }
    rows.push(s, &"duplicates_ignored", &"", &f.duplicates_ignored);
}

fn broker(r: &Report, rows: &mut Rows) {
    let b = &r.broker;
    for (s, list) in [
        ("broker_rejected", &b.rejected),
        ("broker_cancelled", &b.cancelled),
    ] {
        if list.is_empty() {
            rows.none(s);
        }
        for x in list {
            rows.push(s, &x.order_id, &"time", &time(x.at));
            rows.push(s, &x.order_id, &"proposal", &opt(x.proposal));
        }
    }
    let s = "broker_order_errors";
    if b.order_errors.is_empty() {
        rows.none(s);
    }
    for x in &b.order_errors {
        rows.push(s, &x.seq, &"time", &time(x.at));
        rows.push(s, &x.seq, &"order_id", &x.order_id);
        rows.push(s, &x.seq, &"code", &x.code);
        rows.push(s, &x.seq, &"text", &x.text);
    }
    rows.push("broker_other_errors", &"count", &"", &b.other_errors);
}

fn alerts(r: &Report, rows: &mut Rows) {
    let a = &r.alerts;
    let s = "alerts";
    let n = &a.raised;
    for (severity, count) in [
        ("info", n.info),
        ("warning", n.warning),
        ("critical", n.critical),
        ("other", n.other),
        ("total", n.total()),
    ] {
        rows.push(s, &"raised", &severity, &count);
    }
    rows.push(s, &"acknowledged", &"count", &a.acknowledged.len());
    for id in &a.acknowledged {
        rows.push(s, &"acknowledged", &id, &"yes");
    }
    let s = "alerts_critical";
    if a.critical.is_empty() {
        rows.none(s);
    }
    for x in &a.critical {
        rows.push(s, &x.seq, &"time", &time(x.at));
        rows.push(s, &x.seq, &"id", &x.id);
        rows.push(s, &x.seq, &"source", &x.source);
        rows.push(s, &x.seq, &"text", &x.text);
        rows.push(s, &x.seq, &"acknowledged", &x.acknowledged);
    }
}

fn rest(r: &Report, rows: &mut Rows) {
    let d = &r.disconnects;
    rows.push("disconnects", &"count", &"", &d.count);
    rows.push("disconnects", &"total_seconds", &"", &d.total_seconds);
    let s = "disconnects_outage";
    if d.outages.is_empty() {
        rows.none(s);
    }
    for (i, o) in d.outages.iter().enumerate() {
        let k = i + 1;
        rows.push(s, &k, &"from", &time(o.from));
        rows.push(s, &k, &"to", &time(o.to));
        rows.push(s, &k, &"seconds", &o.seconds);
        rows.push(s, &k, &"until", &o.until);
        rows.push(s, &k, &"carried_over", &o.carried_over);
    }
    let s = "tool_calls";
    if r.tool_calls.is_empty() {
        rows.none(s);
    }
    for t in &r.tool_calls {
        rows.push(s, &t.agent, &format!("{}:{}", t.tool, t.outcome), &t.count);
    }
    let s = "trading_state";
    if r.trading_state.is_empty() {
        rows.none(s);
    }
    for t in &r.trading_state {
        rows.push(s, &t.seq, &"time", &time(t.at));
        rows.push(s, &t.seq, &"level", &t.level);
        rows.push(s, &t.seq, &"cause", &t.cause);
        rows.push(s, &t.seq, &"why", &opt(t.why.as_ref()));
    }
    let h = &r.human_actions;
    let s = "human_actions";
    rows.push(s, &"kill_switch", &"", &h.kill_switch);
    rows.push(s, &"resume", &"", &h.resume);
    rows.push(s, &"profile_switches", &"", &h.profile_switches.len());
    for p in &h.profile_switches {
        rows.push(s, &"profile_switch", &p.seq, &format!("{} -> {}", p.from, p.to));
    }
    rows.push(s, &"discarded_keys", &"events", &h.discarded_key_events);
    rows.push(s, &"discarded_keys", &"keys", &h.discarded_keys);
    for (reason, n) in &h.discarded_by_reason {
        rows.push(s, &"discarded_keys_reason", &reason, &n);
    }
    for (action, n) in &h.refused {
        rows.push(s, &"refused", &action, &n);
    }
    let s = "unreadable";
    if r.unreadable.is_empty() {
        rows.none(s);
    }
    for u in &r.unreadable {
        rows.push(s, &u.seq, &"kind", &u.kind);
        rows.push(s, &u.seq, &"problem", &u.problem);
    }
}
