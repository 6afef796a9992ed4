//! Every section's numbers, from hand-made records.

use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::report::build::average;
use crate::report::render::duration;

#[test]
fn the_header_names_the_day_zone_journal_and_what_was_seen() {
    let r = full_report();
    let h = &r.header;
    assert_eq!(h.date, date("2026-03-10"));
    assert_eq!(h.timezone, "America/New_York");
    assert_eq!(h.timezone_source, "from the start record seq 1");
    assert_eq!(
        (h.from, h.to),
        (at("2026-03-10T04:00:00Z"), at("2026-03-11T04:00:00Z"))
    );
    assert_eq!(h.hours, dec("24"));
    assert_eq!(h.profiles, ["paper"]);
    assert_eq!(h.accounts, ["DU1234567"]);
    assert_eq!((h.first_seq, h.last_seq), (Some(1), Some(h.records)));
    assert_eq!(h.journal_head.as_ref().map(|x| x.seq), Some(500));
    assert!(r.unreadable.is_empty(), "{:?}", r.unreadable);
}

#[test]
fn proposals_are_counted_per_requester() {
    let r = full_report();
    let rows = &r.proposals.by_requester;
    let names: Vec<&str> = rows.iter().map(|q| q.requester.as_str()).collect();
    assert_eq!(names, [EARLIER, "alpha", "beta", "trader"]);
    let row = |name: &str| rows.iter().find(|q| q.requester == name).expect("row");
    let alpha = row("alpha");
    assert_eq!((alpha.staged, alpha.approved, alpha.refused_by_policy), (2, 1, 1));
    assert_eq!(alpha.approved_by.get("confirm"), Some(&1));
    assert_eq!(alpha.refused_rules.get("max_notional"), Some(&1));
    assert_eq!(alpha.refused_rules.get("max_position"), Some(&1));
    let trader = row("trader");
    assert_eq!((trader.staged, trader.edited, trader.rejected), (1, 1, 1));
    assert_eq!(trader.rejected_reasons.get("too big, \"really\""), Some(&1));
    let beta = row("beta");
    assert_eq!(
        (beta.staged, beta.withdrawn, beta.expired, beta.approved),
        (3, 1, 1, 1)
    );
    assert_eq!(beta.approved_by.get("automatic"), Some(&1));
    assert_eq!(r.proposals.refused_unstaged.len(), 1);
    assert_eq!(
        r.proposals.refused_unstaged[0].reason,
        "uid 9 is not a configured agent"
    );
    assert_eq!(r.human_actions.refused.get("approve"), Some(&1));
}

#[test]
fn orders_join_their_intent_and_requester() {
    let r = full_report();
    let sent = &r.orders.sent;
    assert_eq!(sent.len(), 2);
    assert_eq!((sent[0].order_id, sent[0].requester.as_str()), (101, "alpha"));
    let t = sent[0].ticket.as_ref().expect("ticket");
    assert_eq!(render::ticket_text(t), "BUY 10.5 AAPL LMT 187.25");
    assert!(!sent[0].agent_unapproved);
    assert_eq!(
        render::ticket_text(sent[1].ticket.as_ref().expect("ticket")),
        "SELL 5 MSFT MKT"
    );
    assert!(sent[1].agent_unapproved);
    assert_eq!(r.orders.not_sent.len(), 1);
    assert_eq!(r.orders.not_sent[0].requester, EARLIER);
    assert_eq!(r.orders.in_doubt.len(), 1);
    assert_eq!(r.orders.in_doubt[0].status.as_deref(), Some("Filled"));
}

#[test]
fn fills_average_price_commission_and_pnl_are_exact() {
    let r = full_report();
    let f = &r.fills;
    assert_eq!(f.orders.len(), 1);
    let o = &f.orders[0];
    assert_eq!((o.order_id, o.proposal, o.executions), (101, Some(1), 2));
    assert_eq!(o.quantity, dec("10.5"));
    // 4 × 187.25 + 6.5 × 187.1 = 749 + 1216.15
    assert_eq!(o.notional, dec("1965.15"));
    assert_eq!(o.average_price, dec("187.15714286"));
    assert_eq!(o.commission.get("USD"), Some(&dec("1.5")));
    assert_eq!(o.realized_pnl.get("USD"), Some(&dec("12.25")), "null P&L skipped");
    assert_eq!(f.commission_total.get("USD"), Some(&dec("1.85")));
    assert_eq!(f.realized_pnl_total.get("USD"), Some(&dec("10.25")));
    assert_eq!(f.unmatched_commissions, ["e0"]);
    assert_eq!(f.duplicates_ignored, 1);
}

#[test]
fn average_price_handles_fractional_shares_and_repeating_quotients() {
    assert_eq!(
        average(dec("0.3") * dec("10") + dec("0.7") * dec("10.1"), dec("1.0")),
        dec("10.07")
    );
    assert_eq!(average(dec("5"), dec("3")), dec("1.66666667"));
    assert_eq!(
        average(dec("0.000000005"), dec("1")),
        dec("0.00000001"),
        "half away from zero"
    );
    assert_eq!(average(dec("1"), Decimal::ZERO), Decimal::ZERO);
    let mut log = Log::new();
    for (i, (qty, price)) in [("0.25", "100.01"), ("0.5", "100.02"), ("0.125", "99.99")]
        .iter()
        .enumerate()
    {
        log.add(
            "2026-03-10T14:00:00Z",
            "broker_event",
            json!({"event": "execution", "order_id": 5,
            "exec_id": format!("x{i}"), "quantity": qty, "price": price}),
        );
    }
    let r = build(&log.records, &scope(new_york("2026-03-10"), None));
    let o = &r.fills.orders[0];
    assert_eq!(o.quantity, dec("0.875"));
    // 25.0025 + 50.01 + 12.49875
    assert_eq!(o.notional, dec("87.51125"));
    assert_eq!(o.average_price, dec("100.01285714"));
    assert!(o.realized_pnl.is_empty());
}

#[test]
fn broker_rejects_errors_and_cancels_count_each_order_once() {
    let r = full_report();
    let b = &r.broker;
    assert_eq!(b.rejected.iter().map(|x| x.order_id).collect::<Vec<_>>(), [102]);
    assert_eq!(b.order_errors.len(), 1);
    assert_eq!((b.order_errors[0].order_id, b.order_errors[0].code), (102, 201));
    assert_eq!(b.other_errors, 1);
    assert_eq!(b.cancelled.iter().map(|x| x.order_id).collect::<Vec<_>>(), [103]);
}

#[test]
fn alerts_by_severity_with_acknowledgements_and_inert_text() {
    let r = full_report();
    let a = &r.alerts;
    assert_eq!(
        (
            a.raised.info,
            a.raised.warning,
            a.raised.critical,
            a.raised.total()
        ),
        (1, 1, 2, 4)
    );
    assert_eq!(a.acknowledged, [2, 3]);
    let critical: Vec<(u64, bool)> = a.critical.iter().map(|c| (c.id, c.acknowledged)).collect();
    assert_eq!(critical, [(2, true), (4, false)]);
    assert_eq!(a.critical[1].text, "second \\u{001b}[31mred\\u{202e}");
    let md = text(&r, Format::Md);
    assert!(md.contains("second \\u{001b}[31mred\\u{202e}"), "{md}");
    assert!(!md.contains('\u{1b}') && !md.contains('\u{202e}'), "{md}");
}

#[test]
fn disconnects_sum_each_stretch_to_the_next_connected() {
    let r = full_report();
    let d = &r.disconnects;
    assert_eq!(d.count, 2);
    assert_eq!(d.total_seconds, dec("330.5"));
    assert_eq!(d.outages.len(), 1);
    assert_eq!(d.outages[0].until, "connected");
    assert_eq!(duration(d.total_seconds), "5m 30.5s");
}

#[test]
fn tool_calls_trading_state_and_human_actions() {
    let r = full_report();
    let calls: Vec<(&str, &str, &str, u64)> = r
        .tool_calls
        .iter()
        .map(|t| (t.agent.as_str(), t.tool.as_str(), t.outcome.as_str(), t.count))
        .collect();
    assert_eq!(
        calls,
        [
            ("alpha", "get_quote", "refused", 1),
            ("alpha", "stage_order", "ok", 2),
            ("beta", "submit_order", "malformed", 1)
        ]
    );
    let levels: Vec<(&str, &str)> = r
        .trading_state
        .iter()
        .map(|t| (t.level.as_str(), t.cause.as_str()))
        .collect();
    assert_eq!(
        levels,
        [
            ("REDUCING", "disconnected"),
            ("HALTED", "kill_switch"),
            ("ACTIVE", "resume")
        ]
    );
    let h = &r.human_actions;
    assert_eq!((h.kill_switch, h.resume), (1, 1));
    assert_eq!(h.refused.get("resume"), Some(&1));
    assert_eq!(h.profile_switches.len(), 1);
    assert_eq!(
        (
            h.profile_switches[0].from.as_str(),
            h.profile_switches[0].to.as_str()
        ),
        ("paper", "live")
    );
    assert_eq!((h.discarded_key_events, h.discarded_keys), (2, 5));
    assert_eq!(h.discarded_by_reason.get("modal open"), Some(&5));
}

#[test]
fn proposal_ids_continue_across_restarts() {
    // alpha stages 1, the cockpit restarts, beta stages 2 (ids continue), and the trader approves 1 after
    // the restart and rejects 2: each is counted for the requester who staged it.
    let mut log = Log::new();
    log.add(
        "2026-03-10T13:00:00Z",
        "verdict",
        verdict(1, 1, "alpha", Some("Confirm"), &[]),
    );
    log.add(
        "2026-03-10T13:01:00Z",
        "start",
        json!({"timezone": "America/New_York"}),
    );
    log.add(
        "2026-03-10T13:02:00Z",
        "verdict",
        verdict(2, 1, "beta", Some("Confirm"), &[]),
    );
    log.add(
        "2026-03-10T13:03:00Z",
        "human_action",
        json!({"action": "approve", "proposal": 1, "version": 1, "by": "confirm", "fingerprint": "ab12"}),
    );
    log.add(
        "2026-03-10T13:03:00Z",
        "intent",
        json!({"proposal": 1, "version": 1, "order_id": 7, "order_ref": "ck-p1-v1-i1",
        "ticket": ticket("BUY", "10", "AAPL", "LMT", Some("187.25")), "notional": "1872.5",
        "intent_seq": 1, "agent_unapproved": false}),
    );
    log.add(
        "2026-03-10T13:03:01Z",
        "sent",
        json!({"proposal": 1, "order_id": 7, "order_ref": "ck-p1-v1-i1"}),
    );
    log.add(
        "2026-03-10T13:04:00Z",
        "human_action",
        json!({"action": "reject", "proposal": 2, "reason": "no"}),
    );
    let r = build(&log.records, &scope(new_york("2026-03-10"), None));
    let rows: Vec<(&str, u64, u64, u64)> = r
        .proposals
        .by_requester
        .iter()
        .map(|q| (q.requester.as_str(), q.staged, q.approved, q.rejected))
        .collect();
    assert_eq!(rows, [("alpha", 1, 1, 0), ("beta", 1, 0, 1)]);
    assert_eq!(r.orders.sent[0].requester, "alpha");
}

#[test]
fn proposals_staged_on_an_earlier_day_are_attributed_but_not_counted_as_staged() {
    // Before the day: gamma staged 5 (the day before), an intent for 6 whose order fills today, and 9's
    // verdict. The day: a restart, 5 re-checked and approved, 9 not sent, 6's fill, 10 in doubt with no
    // verdict anywhere.
    let mut before = Log::new();
    before.add(
        "2026-03-09T19:00:00Z",
        "verdict",
        verdict(5, 1, "gamma", Some("Confirm"), &[]),
    );
    before.add(
        "2026-03-09T19:01:00Z",
        "verdict",
        verdict(6, 1, "delta", Some("Confirm"), &[]),
    );
    before.add(
        "2026-03-09T19:01:01Z",
        "intent",
        json!({"proposal": 6, "version": 1, "order_id": 40, "order_ref": "ck-p6-v1-i3",
        "ticket": ticket("SELL", "3", "MSFT", "LMT", Some("400")), "notional": "1200", "intent_seq": 3,
        "agent_unapproved": false}),
    );
    before.add(
        "2026-03-09T19:02:00Z",
        "verdict",
        verdict(9, 1, "gamma", Some("Confirm"), &[]),
    );
    let mut log = Log::new();
    log.add(
        "2026-03-10T13:00:00Z",
        "start",
        json!({"timezone": "America/New_York"}),
    );
    log.add(
        "2026-03-10T13:01:00Z",
        "verdict",
        verdict(5, 1, "gamma", Some("Confirm"), &[]),
    );
    log.add(
        "2026-03-10T13:01:00Z",
        "human_action",
        json!({"action": "approve", "proposal": 5, "version": 1, "by": "confirm", "fingerprint": "ab12"}),
    );
    log.add(
        "2026-03-10T13:01:01Z",
        "not_sent",
        json!({"proposal": 9, "reason": "the trading state changed before sending"}),
    );
    log.add(
        "2026-03-10T13:02:00Z",
        "broker_event",
        json!({"event": "execution", "proposal": 6, "order_id": 40, "exec_id": "x1",
        "quantity": "3", "price": "400.5"}),
    );
    log.add(
        "2026-03-10T13:03:00Z",
        "in_doubt",
        json!({"proposal": 10, "order_id": 41, "order_ref": "ck-p10-v1-i4", "found": false,
        "status": null}),
    );
    let mut s = scope(new_york("2026-03-10"), None);
    s.before = before.records;
    let r = build(&log.records, &s);
    let rows: Vec<(&str, u64, u64)> = r
        .proposals
        .by_requester
        .iter()
        .map(|q| (q.requester.as_str(), q.staged, q.approved))
        .collect();
    assert_eq!(rows, [("gamma", 0, 1)], "staged the day before: attributed only");
    assert_eq!(r.orders.not_sent[0].requester, "gamma");
    assert_eq!(r.orders.in_doubt[0].requester, EARLIER, "no verdict anywhere");
    let fill = &r.fills.orders[0];
    assert_eq!(fill.proposal, Some(6));
    assert_eq!(
        fill.ticket.as_ref().map(render::ticket_text).as_deref(),
        Some("SELL 3 MSFT LMT 400"),
        "the ticket from the intent of the day before"
    );
    assert!(r.unreadable.is_empty(), "{:?}", r.unreadable);
    assert_eq!(r.header.records, 6, "records before the day are not the day's");
}

#[test]
fn in_doubt_resolutions_and_orders_not_sent_are_counted() {
    let mut log = Log::new();
    log.add(
        "2026-03-10T13:00:00Z",
        "verdict",
        verdict(1, 1, "alpha", Some("Confirm"), &[]),
    );
    log.add(
        "2026-03-10T13:00:00Z",
        "verdict",
        verdict(2, 1, "trader", Some("Confirm"), &[]),
    );
    for (proposal, reason) in [
        (1, "the trading state changed before sending"),
        (2, "kill switch"),
        (3, "the trading state changed before sending"),
    ] {
        log.add(
            "2026-03-10T13:01:00Z",
            "not_sent",
            json!({"proposal": proposal, "reason": reason}),
        );
    }
    log.add(
        "2026-03-10T13:02:00Z",
        "in_doubt",
        json!({"proposal": 1, "order_id": 100, "order_ref": "ck-p1-v1-i1", "found": true,
        "status": "Submitted"}),
    );
    log.add(
        "2026-03-10T13:02:00Z",
        "in_doubt",
        json!({"proposal": 2, "order_id": 101, "order_ref": "ck-p2-v1-i2", "found": false,
        "status": null}),
    );
    let r = build(&log.records, &scope(new_york("2026-03-10"), None));
    let o = &r.orders;
    assert_eq!(o.not_sent.len(), 3);
    assert_eq!(
        o.not_sent_by_reason
            .get("the trading state changed before sending"),
        Some(&2)
    );
    assert_eq!(o.not_sent_by_reason.get("kill switch"), Some(&1));
    assert_eq!((o.in_doubt_found, o.in_doubt_not_found), (1, 1));
    let doubt: Vec<(&str, bool, Option<&str>)> = o
        .in_doubt
        .iter()
        .map(|d| (d.requester.as_str(), d.found, d.status.as_deref()))
        .collect();
    assert_eq!(
        doubt,
        [("alpha", true, Some("Submitted")), ("trader", false, None)]
    );
    let md = text(&r, Format::Md);
    for expected in [
        "3 not sent: \"kill switch\" 1, \"the trading state changed before sending\" 2",
        "2 resolved: 1 found at the broker (sent before the restart), 1 not found",
        "| not found ",
    ] {
        assert!(md.contains(expected), "{expected:?} not in\n{md}");
    }
    let csv = text(&r, Format::Csv);
    for line in [
        "orders_in_doubt,found,,1\r\n",
        "orders_in_doubt,not_found,,1\r\n",
        "orders_not_sent,by_reason,kill switch,1\r\n",
    ] {
        assert!(csv.contains(line), "{line:?} not in\n{csv}");
    }
}

#[test]
fn actions_are_read_whatever_their_spelling() {
    let mut log = Log::new();
    for action in ["kill_switch", "KillSwitch", "Kill Switch", "kill-switch"] {
        log.add("2026-03-10T13:00:00Z", "human_action", json!({"action": action}));
    }
    log.add(
        "2026-03-10T13:00:00Z",
        "broker_event",
        json!({"event": "Disconnected"}),
    );
    let r = build(&log.records, &scope(new_york("2026-03-10"), None));
    assert_eq!(r.human_actions.kill_switch, 4);
    assert_eq!(r.disconnects.count, 1);
}

#[test]
fn an_open_disconnect_counts_to_the_end_of_the_day_or_the_last_record() {
    let mut log = Log::new();
    log.add(
        "2026-03-10T20:00:00Z",
        "broker_event",
        json!({"event": "disconnected"}),
    );
    // A past day: the journal goes on after it, so the end of the day (00:00 EDT = 04:00 UTC) is earlier.
    let past = build(
        &log.records,
        &scope(new_york("2026-03-10"), Some((9, "2026-03-12T00:00:00Z"))),
    );
    let o = &past.disconnects.outages[0];
    assert_eq!(
        (o.to, o.until.as_str()),
        (at("2026-03-11T04:00:00Z"), "end of day")
    );
    assert_eq!(past.disconnects.total_seconds, dec("28800"));
    assert!(text(&past, Format::Md).contains("counted to the end of the day"));
    // Today: the last record is earlier.
    let today = build(
        &log.records,
        &scope(new_york("2026-03-10"), Some((1, "2026-03-10T20:30:00Z"))),
    );
    let o = &today.disconnects.outages[0];
    assert_eq!(
        (o.to, o.until.as_str()),
        (at("2026-03-10T20:30:00Z"), "last record")
    );
    assert_eq!(today.disconnects.total_seconds, dec("1800"));
    assert!(text(&today, Format::Md).contains("journal's last record"));
    // Carried over from the day before, reconnected at 09:00 EDT.
    let mut log = Log::new();
    log.add(
        "2026-03-10T13:00:00Z",
        "broker_event",
        json!({"event": "connected", "next_valid_id": 1}),
    );
    let mut carried = scope(new_york("2026-03-10"), Some((1, "2026-03-10T13:00:00Z")));
    carried.disconnected_since = Some(at("2026-03-09T23:00:00Z"));
    let r = build(&log.records, &carried);
    assert_eq!(r.disconnects.count, 0);
    assert_eq!(r.disconnects.total_seconds, dec("32400"));
    assert!(r.disconnects.outages[0].carried_over);
    assert_eq!(duration(r.disconnects.total_seconds), "9h 00m 00s");
}

#[test]
fn malformed_payloads_are_counted_with_their_seq() {
    let mut log = Log::new();
    log.add(
        "2026-03-10T14:00:00Z",
        "verdict",
        json!({"proposal": 1, "tier": null}),
    );
    log.add(
        "2026-03-10T14:00:00Z",
        "verdict",
        json!({"proposal": 2, "requester": "alpha", "codes": []}),
    );
    log.add(
        "2026-03-10T14:00:01Z",
        "broker_event",
        json!({"event": "execution", "order_id": 1,
        "exec_id": "x", "quantity": "ten", "price": "1"}),
    );
    log.add("2026-03-10T14:00:02Z", "broker_event", json!({"order_id": 1}));
    log.add(
        "2026-03-10T14:00:03Z",
        "human_action",
        json!({"action": "acknowledge", "alert": "two"}),
    );
    log.add(
        "2026-03-10T14:00:04Z",
        "intent",
        json!({"proposal": 1, "order_id": 5, "ticket": {"side": "BUY"}}),
    );
    log.add("2026-03-10T14:00:05Z", "tool_call", json!("not an object"));
    log.add(
        "2026-03-10T14:00:06Z",
        "verdict",
        verdict(3, 1, "alpha", Some("Confirm"), &[]),
    );
    let r = build(&log.records, &scope(new_york("2026-03-10"), None));
    let seqs: Vec<u64> = r.unreadable.iter().map(|u| u.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 7]);
    assert!(
        r.unreadable[0].problem.contains("requester"),
        "{:?}",
        r.unreadable[0]
    );
    assert!(
        r.unreadable[1].problem.contains("tier"),
        "a refused verdict records tier: null"
    );
    assert!(r.unreadable[2].problem.contains("'ten'"), "{:?}", r.unreadable[2]);
    assert!(r.unreadable[3].problem.contains("event"), "{:?}", r.unreadable[3]);
    assert_eq!(
        r.proposals.by_requester.len(),
        1,
        "the readable verdict still counts"
    );
    let md = text(&r, Format::Md);
    assert!(md.contains("## Unreadable records"), "{md}");
}

#[test]
fn decimals_are_read_from_strings_and_numbers_exactly() {
    let mut log = Log::new();
    log.add(
        "2026-03-10T14:00:00Z",
        "broker_event",
        json!({"event": "execution", "order_id": 1,
        "exec_id": "x", "quantity": 3, "price": 0.1}),
    );
    log.add(
        "2026-03-10T14:00:00Z",
        "broker_event",
        json!({"event": "execution", "order_id": 1,
        "exec_id": "y", "quantity": "1e2", "price": "0.2"}),
    );
    let r = build(&log.records, &scope(new_york("2026-03-10"), None));
    assert!(r.unreadable.is_empty(), "{:?}", r.unreadable);
    assert_eq!(r.fills.orders[0].notional, dec("20.3"));
}
