//! The Markdown format, for a terminal: headings, aligned pipe tables, no colour, times in the exchange's
//! timezone, `none` for an empty section. It computes nothing: every number comes from the report.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::render::{NONE, amounts, duration, ticket_text};
use super::{OrderEnd, Outage, Report};

/// A time in the report's timezone.
struct Clock(Tz);

impl Clock {
    fn time(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.0).format("%H:%M:%S").to_string()
    }

    fn full(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.0)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }
}

/// Writes `r` as Markdown into `s`.
pub(super) fn write(r: &Report, s: &mut String) -> fmt::Result {
    let h = &r.header;
    let clock = Clock(h.timezone.parse().unwrap_or(Tz::UTC));
    writeln!(s, "# Cockpit daily report: {}", h.date)?;
    writeln!(s)?;
    writeln!(
        s,
        "- Exchange day: {} in {} ({}): {} to {} UTC, {} h",
        h.date,
        h.timezone,
        h.timezone_source,
        h.from.format("%Y-%m-%d %H:%M"),
        h.to.format("%Y-%m-%d %H:%M"),
        h.hours
    )?;
    writeln!(s, "- State dir: {}", h.state_dir)?;
    writeln!(
        s,
        "- Profiles: {}; accounts: {}",
        list(&h.profiles),
        list(&h.accounts)
    )?;
    match (h.first_seq, h.last_seq) {
        (Some(first), Some(last)) => writeln!(s, "- Records: {} (seq {first} to {last})", h.records)?,
        _ => writeln!(s, "- Records: {NONE}")?,
    }
    match &h.journal_head {
        Some(head) => writeln!(
            s,
            "- Journal head: seq {} at {}, sha256 {}",
            head.seq,
            clock.full(head.at),
            head.hash
        )?,
        None => writeln!(s, "- Journal head: {NONE} (empty journal)")?,
    }
    proposals(r, s)?;
    orders(r, &clock, s)?;
    fills(r, s)?;
    broker(r, &clock, s)?;
    alerts(r, &clock, s)?;
    disconnects(r, &clock, s)?;
    section(s, "Agent tool calls")?;
    table(
        s,
        &["agent", "tool", "outcome", "calls"],
        r.tool_calls.iter().map(|t| {
            vec![
                t.agent.clone(),
                t.tool.clone(),
                t.outcome.clone(),
                t.count.to_string(),
            ]
        }),
    )?;
    section(s, "Trading-state changes")?;
    table(
        s,
        &["time", "level", "cause", "why"],
        r.trading_state.iter().map(|t| {
            vec![
                clock.time(t.at),
                t.level.clone(),
                t.cause.clone(),
                t.why.clone().unwrap_or_default(),
            ]
        }),
    )?;
    human(r, &clock, s)?;
    section(s, "Unreadable records")?;
    table(
        s,
        &["seq", "kind", "problem"],
        r.unreadable
            .iter()
            .map(|u| vec![u.seq.to_string(), u.kind.clone(), u.problem.clone()]),
    )
}

fn proposals(r: &Report, s: &mut String) -> fmt::Result {
    let p = &r.proposals;
    section(s, "Proposals by requester")?;
    table(
        s,
        &[
            "requester",
            "staged",
            "approved",
            "edited",
            "rejected",
            "withdrawn",
            "expired",
            "refused by policy",
        ],
        p.by_requester.iter().map(|q| {
            let approved = if q.approved_by.is_empty() {
                q.approved.to_string()
            } else {
                format!("{} ({})", q.approved, counts(&q.approved_by))
            };
            vec![
                q.requester.clone(),
                q.staged.to_string(),
                approved,
                q.edited.to_string(),
                q.rejected.to_string(),
                q.withdrawn.to_string(),
                q.expired.to_string(),
                q.refused_by_policy.to_string(),
            ]
        }),
    )?;
    let reasons: Vec<_> = p
        .by_requester
        .iter()
        .filter(|q| !q.rejected_reasons.is_empty())
        .collect();
    if !reasons.is_empty() {
        writeln!(s)?;
        writeln!(s, "Rejection reasons:")?;
        for q in reasons {
            for (reason, n) in &q.rejected_reasons {
                writeln!(s, "- {}: {} ×{n}", q.requester, quoted(reason))?;
            }
        }
    }
    let rules: Vec<_> = p
        .by_requester
        .iter()
        .filter(|q| !q.refused_rules.is_empty())
        .collect();
    if !rules.is_empty() {
        writeln!(s)?;
        writeln!(s, "Policy refusals by rule:")?;
        for q in rules {
            writeln!(s, "- {}: {}", q.requester, counts(&q.refused_rules))?;
        }
    }
    writeln!(s)?;
    if p.refused_unstaged.is_empty() {
        writeln!(s, "Refused before staging: {NONE}")
    } else {
        writeln!(s, "Refused before staging: {}", p.refused_unstaged.len())?;
        for f in &p.refused_unstaged {
            let proposal = f.proposal.map(|p| format!(" (proposal {p})")).unwrap_or_default();
            writeln!(s, "- seq {}{proposal}: {}", f.seq, quoted(&f.reason))?;
        }
        Ok(())
    }
}

fn orders(r: &Report, clock: &Clock, s: &mut String) -> fmt::Result {
    let o = &r.orders;
    section(s, "Orders")?;
    subsection(s, "Sent")?;
    table(
        s,
        &["time", "order", "proposal", "requester", "ticket", "order ref"],
        o.sent.iter().map(|x| {
            let mut ticket = x
                .ticket
                .as_ref()
                .map_or_else(|| "(intent not in this day)".to_owned(), ticket_text);
            if x.agent_unapproved {
                ticket.push_str(" [agent, unapproved]");
            }
            if x.dry_run {
                ticket.push_str(" [dry run: recorded, not sent]");
            }
            vec![
                clock.time(x.at),
                x.order_id.to_string(),
                x.proposal.to_string(),
                x.requester.clone(),
                ticket,
                x.order_ref.clone().unwrap_or_default(),
            ]
        }),
    )?;
    subsection(s, "Not sent")?;
    if !o.not_sent.is_empty() {
        let by_reason: BTreeMap<String, u64> = o
            .not_sent_by_reason
            .iter()
            .map(|(k, v)| (quoted(k), *v))
            .collect();
        writeln!(s, "{} not sent: {}", o.not_sent.len(), counts(&by_reason))?;
        writeln!(s)?;
    }
    table(
        s,
        &["time", "proposal", "requester", "reason"],
        o.not_sent.iter().map(|x| {
            vec![
                clock.time(x.at),
                x.proposal.to_string(),
                x.requester.clone(),
                x.reason.clone(),
            ]
        }),
    )?;
    subsection(s, "In-doubt resolutions")?;
    if !o.in_doubt.is_empty() {
        writeln!(
            s,
            "{} resolved: {} found at the broker (sent before the restart), {} not found (never sent, not \
             resent)",
            o.in_doubt.len(),
            o.in_doubt_found,
            o.in_doubt_not_found
        )?;
        writeln!(s)?;
    }
    table(
        s,
        &[
            "time",
            "order",
            "proposal",
            "requester",
            "found",
            "status",
            "order ref",
        ],
        o.in_doubt.iter().map(|x| {
            vec![
                clock.time(x.at),
                x.order_id.to_string(),
                x.proposal.to_string(),
                x.requester.clone(),
                if x.found { "found" } else { "not found" }.to_owned(),
                x.status.clone().unwrap_or_default(),
                x.order_ref.clone().unwrap_or_default(),
            ]
        }),
    )
}

fn fills(r: &Report, s: &mut String) -> fmt::Result {
    let f = &r.fills;
    section(s, "Fills")?;
    table(
        s,
        &[
            "order",
            "proposal",
            "ticket",
            "executions",
            "filled",
            "avg price",
            "commission",
            "realized P&L",
        ],
        f.orders.iter().map(|x| {
            vec![
                x.order_id.to_string(),
                x.proposal.map(|p| p.to_string()).unwrap_or_default(),
                x.ticket.as_ref().map(ticket_text).unwrap_or_default(),
                x.executions.to_string(),
                x.quantity.to_string(),
                x.average_price.to_string(),
                amounts(&x.commission),
                amounts(&x.realized_pnl),
            ]
        }),
    )?;
    if f.orders.is_empty() && f.commission_total.is_empty() {
        return Ok(());
    }
    writeln!(s)?;
    writeln!(
        s,
        "Totals: commission {}; realized P&L {}",
        amounts(&f.commission_total),
        amounts(&f.realized_pnl_total)
    )?;
    if !f.unmatched_commissions.is_empty() {
        writeln!(
            s,
            "Commissions for executions not in this day: {}",
            f.unmatched_commissions.join(", ")
        )?;
    }
    if f.duplicates_ignored > 0 {
        writeln!(
            s,
            "Repeated execution or commission reports ignored: {}",
            f.duplicates_ignored
        )?;
    }
    Ok(())
}

fn broker(r: &Report, clock: &Clock, s: &mut String) -> fmt::Result {
    let b = &r.broker;
    section(s, "Broker rejects and cancels")?;
    let ends = |list: &[OrderEnd]| {
        list.iter()
            .map(|x| {
                vec![
                    clock.time(x.at),
                    x.order_id.to_string(),
                    x.proposal.map(|p| p.to_string()).unwrap_or_default(),
                ]
            })
            .collect::<Vec<_>>()
    };
    subsection(s, "Rejected orders")?;
    table(s, &["time", "order", "proposal"], ends(&b.rejected))?;
    subsection(s, "Order errors")?;
    table(
        s,
        &["time", "order", "code", "text"],
        b.order_errors.iter().map(|x| {
            vec![
                clock.time(x.at),
                x.order_id.to_string(),
                x.code.to_string(),
                x.text.clone(),
            ]
        }),
    )?;
    if b.other_errors > 0 {
        writeln!(s)?;
        writeln!(s, "Broker errors naming no order: {}", b.other_errors)?;
    }
    subsection(s, "Cancelled orders")?;
    table(s, &["time", "order", "proposal"], ends(&b.cancelled))
}

fn alerts(r: &Report, clock: &Clock, s: &mut String) -> fmt::Result {
    let a = &r.alerts;
    let n = &a.raised;
    section(s, "Alerts")?;
    let other = if n.other > 0 {
        format!(", other {}", n.other)
    } else {
        String::new()
    };
    writeln!(
        s,
        "Raised: {} (info {}, warning {}, critical {}{other})",
        n.total(),
        n.info,
        n.warning,
        n.critical
    )?;
    let ids: Vec<String> = a.acknowledged.iter().map(ToString::to_string).collect();
    if ids.is_empty() {
        writeln!(s, "Acknowledged: {NONE}")?;
    } else {
        writeln!(s, "Acknowledged: {} (ids {})", ids.len(), ids.join(", "))?;
    }
    subsection(s, "Critical")?;
    table(
        s,
        &["time", "id", "source", "text", "acknowledged"],
        a.critical.iter().map(|x| {
            vec![
                clock.time(x.at),
                x.id.to_string(),
                x.source.clone(),
                x.text.clone(),
                if x.acknowledged { "yes" } else { "no" }.to_owned(),
            ]
        }),
    )
}

fn disconnects(r: &Report, clock: &Clock, s: &mut String) -> fmt::Result {
    let d = &r.disconnects;
    section(s, "Disconnects")?;
    if d.outages.is_empty() && d.count == 0 {
        return writeln!(s, "{NONE}");
    }
    writeln!(
        s,
        "{} disconnect{}; disconnected {} in total.",
        d.count,
        if d.count == 1 { "" } else { "s" },
        duration(d.total_seconds)
    )?;
    for o in &d.outages {
        writeln!(s, "- {}", outage_text(o, clock))?;
    }
    Ok(())
}

fn outage_text(o: &Outage, clock: &Clock) -> String {
    let from = if o.carried_over {
        format!(
            "{} (the start of the day; disconnected since the day before)",
            clock.time(o.from)
        )
    } else {
        clock.time(o.from)
    };
    let to = match o.until.as_str() {
        "connected" => format!("to {} (connected)", clock.time(o.to)),
        "last record" => format!(
            "onward, still disconnected: counted to the journal's last record at {} (earlier than the end \
             of the day)",
            clock.time(o.to)
        ),
        _ => "onward, still disconnected: counted to the end of the day (earlier than the journal's last \
              record)"
            .to_owned(),
    };
    format!("{from} {to}: {}", duration(o.seconds))
}

fn human(r: &Report, clock: &Clock, s: &mut String) -> fmt::Result {
    let h = &r.human_actions;
    section(s, "Human actions")?;
    writeln!(s, "- Kill switch: {}", h.kill_switch)?;
    writeln!(s, "- Resume: {}", h.resume)?;
    if h.profile_switches.is_empty() {
        writeln!(s, "- Profile switches: {NONE}")?;
    } else {
        writeln!(s, "- Profile switches: {}", h.profile_switches.len())?;
        for p in &h.profile_switches {
            writeln!(s, "  - {} {} → {}", clock.time(p.at), p.from, p.to)?;
        }
    }
    if h.discarded_key_events == 0 {
        writeln!(s, "- Discarded keys: {NONE}")?;
    } else {
        let by_reason: BTreeMap<String, u64> = h
            .discarded_by_reason
            .iter()
            .map(|(k, v)| (quoted(k), *v))
            .collect();
        writeln!(
            s,
            "- Discarded keys: {} keys in {} events ({})",
            h.discarded_keys,
            h.discarded_key_events,
            counts(&by_reason)
        )?;
    }
    if h.refused.is_empty() {
        writeln!(s, "- Refused (not carried out): {NONE}")
    } else {
        writeln!(s, "- Refused (not carried out): {}", counts(&h.refused))
    }
}

/// `confirm 2, typed 1`.
fn counts(map: &BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, n)| format!("{} {n}", if k.is_empty() { "(none given)" } else { k }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted(text: &str) -> String {
    if text.is_empty() {
        "(no reason given)".to_owned()
    } else {
        format!("\"{}\"", one_line(text))
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        NONE.to_owned()
    } else {
        items.join(", ")
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\t'], " ")
}

/// Ends the text so far with exactly one blank line.
fn blank_line(s: &mut String) {
    while !s.ends_with("\n\n") {
        s.push('\n');
    }
}

fn section(s: &mut String, title: &str) -> fmt::Result {
    blank_line(s);
    writeln!(s, "## {title}")?;
    writeln!(s)
}

fn subsection(s: &mut String, title: &str) -> fmt::Result {
    blank_line(s);
    writeln!(s, "### {title}")?;
    writeln!(s)
}

/// A pipe table with padded columns, or `none` without rows.
fn table(s: &mut String, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> fmt::Result {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.iter().map(|c| one_line(c).replace('|', "\\|")).collect())
        .collect();
    if rows.is_empty() {
        return writeln!(s, "{NONE}");
    }
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |s: &mut String, cells: &mut dyn Iterator<Item = &str>| -> fmt::Result {
        s.push('|');
        for (cell, w) in cells.zip(&widths) {
            let pad = w.saturating_sub(cell.chars().count());
            write!(s, " {cell}{} |", " ".repeat(pad))?;
        }
        writeln!(s)
    };
    line(s, &mut head.iter().copied())?;
    s.push('|');
    for w in &widths {
        write!(s, "{}|", "-".repeat(w + 2))?;
    }
    writeln!(s)?;
    for row in &rows {
        line(s, &mut row.iter().map(String::as_str))?;
    }
    Ok(())
}
