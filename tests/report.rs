//! `cockpit report` as a user meets it: a real journal written through [`Journal`] in a temp state dir, the
//! real binary run on it in Markdown, JSON and CSV, while the writer's connection is still open; a journal
//! written by the real engine across a restart; and the missing-journal error with its exit code.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use cockpit::app::{BrokerEvent, Msg, Source};
use cockpit::domain::{OrderEvent, OrderId, Severity};
use cockpit::journal::{self, Durability, Entry, Envelope, Journal, Reader};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// A unique state dir under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "cockpit-report-it-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

fn entry(time: DateTime<Utc>, kind: &str, data: Value) -> Entry {
    Entry {
        at: time,
        envelope: Envelope {
            profile: "paper".to_owned(),
            gateway: "127.0.0.1:4002".to_owned(),
            account: "DU1234567".to_owned(),
            client_id: 7,
        },
        kind: kind.to_owned(),
        data,
        durability: Durability::Sync,
    }
}

fn ticket() -> Value {
    json!({
        "account": "DU1234567",
        "instrument": {"symbol": "AAPL", "sec_type": "STK", "currency": "USD", "primary_exchange": "NASDAQ"},
        "side": "BUY", "quantity": "10", "order_type": "LMT", "limit_price": "187.25", "stop_price": null,
        "tif": "DAY", "outside_rth": false,
    })
}

/// A trading day in New York, 2026-03-10 (EDT): one agent order approved, sent and filled in two parts,
/// a policy refusal, a rejection with a comma and quotes in its reason, a disconnect left open, and
/// records on the days either side that must stay out. The writer is returned still open.
#[expect(
    clippy::too_many_lines,
    reason = "one day of records, in order, reads best in one place"
)]
fn trading_day(dir: &TempDir) -> Journal {
    let mut journal = Journal::open(dir.path()).expect("open");
    let entries = vec![
        entry(
            at("2026-03-09T12:00:00Z"),
            "tool_call",
            json!({"agent": "alpha", "tool": "get_quote",
            "outcome": "ok", "label": "a", "uid": 1001, "arguments": {}, "detail": ""}),
        ),
        entry(
            at("2026-03-10T12:00:00Z"),
            "start",
            json!({"config_hash": "h", "mode": "paper",
            "version": "0.1.0", "timezone": "America/New_York"}),
        ),
        entry(
            at("2026-03-10T13:30:00Z"),
            "verdict",
            json!({"proposal": 1, "version": 1, "requester": "alpha",
            "note": "", "ticket": ticket(), "codes": [], "messages": [], "tier": "Confirm", "fingerprint": "f1"}),
        ),
        entry(
            at("2026-03-10T13:30:05Z"),
            "human_action",
            json!({"action": "approve", "proposal": 1,
            "version": 1, "by": "confirm", "fingerprint": "f1"}),
        ),
        entry(
            at("2026-03-10T13:30:05Z"),
            "intent",
            json!({"proposal": 1, "version": 1, "order_id": 101,
            "order_ref": "ck-p1-v1-i1", "high_water": 101, "epoch": 0, "ticket": ticket(), "fingerprint": "f1",
            "notional": "1872.5", "agent_unapproved": false}),
        ),
        entry(
            at("2026-03-10T13:30:06Z"),
            "sent",
            json!({"proposal": 1, "order_id": 101,
            "order_ref": "ck-p1-v1-i1"}),
        ),
        entry(
            at("2026-03-10T13:30:07Z"),
            "broker_event",
            json!({"event": "execution", "proposal": 1,
            "order_id": 101, "exec_id": "e1", "quantity": "2.5", "price": "187.25"}),
        ),
        entry(
            at("2026-03-10T13:30:08Z"),
            "broker_event",
            json!({"event": "execution", "proposal": 1,
            "order_id": 101, "exec_id": "e2", "quantity": "7.5", "price": "187.2"}),
        ),
        entry(
            at("2026-03-10T13:30:09Z"),
            "broker_event",
            json!({"event": "commission", "exec_id": "e1",
            "commission": "0.35", "currency": "USD", "realized_pnl": null}),
        ),
        entry(
            at("2026-03-10T13:30:09Z"),
            "broker_event",
            json!({"event": "commission", "exec_id": "e2",
            "commission": "0.65", "currency": "USD", "realized_pnl": "4.5"}),
        ),
        entry(
            at("2026-03-10T14:00:00Z"),
            "verdict",
            json!({"proposal": 2, "version": 1, "requester": "alpha",
            "note": "", "ticket": ticket(), "codes": ["max_notional"], "messages": ["too much"], "tier": null,
            "fingerprint": null}),
        ),
        entry(
            at("2026-03-10T14:10:00Z"),
            "verdict",
            json!({"proposal": 3, "version": 1,
            "requester": "trader", "note": "", "ticket": ticket(), "codes": [], "messages": [],
            "tier": "Typed", "fingerprint": "f3"}),
        ),
        entry(
            at("2026-03-10T14:11:00Z"),
            "human_action",
            json!({"action": "reject", "proposal": 3,
            "reason": "size, \"again\""}),
        ),
        entry(
            at("2026-03-10T15:00:00Z"),
            "alert",
            json!({"id": 1, "severity": "critical",
            "text": "trading REDUCING: the broker connection is lost", "source": "system"}),
        ),
        entry(
            at("2026-03-10T15:00:00Z"),
            "broker_event",
            json!({"event": "disconnected"}),
        ),
        entry(
            at("2026-03-10T15:00:00Z"),
            "trading_state",
            json!({"level": "REDUCING",
            "cause": "disconnected", "epoch": 1, "why": "the broker connection is lost"}),
        ),
        entry(at("2026-03-10T16:00:00Z"), "verdict", json!({"proposal": 4})),
        entry(
            at("2026-03-11T04:00:00Z"),
            "tool_call",
            json!({"agent": "beta", "tool": "get_quote",
            "outcome": "ok", "label": "b", "uid": 1002, "arguments": {}, "detail": ""}),
        ),
    ];
    journal.append(&entries).expect("append");
    journal
}

fn cockpit(dir: &TempDir, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cockpit"))
        .arg("report")
        .args(args)
        .arg("--state-dir")
        .arg(dir.path())
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn markdown_report_of_a_day_while_the_writer_is_open() {
    let dir = TempDir::new("md");
    let journal = trading_day(&dir);
    let (code, out, err) = cockpit(&dir, &["--date", "2026-03-10"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    for expected in [
        "# Cockpit daily report: 2026-03-10",
        "America/New_York (from the start record seq 2)",
        &format!("- State dir: {}", dir.path().display()),
        "- Profiles: paper; accounts: DU1234567",
        "- Records: 16 (seq 2 to 17)",
        "- Journal head: seq 18",
        "BUY 10 AAPL LMT 187.25",
        "| 101 ",
        "187.2125",
        "1 USD",
        "Policy refusals by rule:\n- alpha: max_notional 1",
        "- trader: \"size, \"again\"\" ×1",
        "1 disconnect; disconnected 13h 00m 00s in total.",
        "counted to the end of the day",
        "trading REDUCING: the broker connection is lost",
        "## Unreadable records",
        "| 17  | verdict | missing field `requester` |",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }
    assert!(out.contains("09:30:06"), "times are New York times:\n{out}");
    assert!(!out.contains("beta"), "the next day stays out:\n{out}");
    drop(journal);
}

#[test]
fn json_report_carries_the_same_numbers() {
    let dir = TempDir::new("json");
    let _journal = trading_day(&dir);
    let (code, out, err) = cockpit(&dir, &["--date", "2026-03-10", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let report: Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(report["header"]["timezone"], "America/New_York");
    assert_eq!(report["header"]["from"], "2026-03-10T04:00:00Z");
    assert_eq!(report["header"]["first_seq"], 2);
    assert_eq!(report["header"]["journal_head"]["seq"], 18);
    let alpha = &report["proposals"]["by_requester"][0];
    assert_eq!(alpha["requester"], "alpha");
    assert_eq!(alpha["staged"], 2);
    assert_eq!(alpha["approved_by"]["confirm"], 1);
    assert_eq!(alpha["refused_rules"]["max_notional"], 1);
    let fill = &report["fills"]["orders"][0];
    assert_eq!(fill["quantity"], "10");
    assert_eq!(fill["average_price"], "187.2125");
    assert_eq!(fill["commission"]["USD"], "1");
    assert_eq!(fill["realized_pnl"]["USD"], "4.5");
    assert_eq!(report["orders"]["sent"][0]["requester"], "alpha");
    assert_eq!(report["disconnects"]["count"], 1);
    assert_eq!(report["disconnects"]["outages"][0]["until"], "end of day");
    assert_eq!(report["disconnects"]["total_seconds"], "46800");
    assert_eq!(report["alerts"]["critical"][0]["acknowledged"], false);
    assert_eq!(report["unreadable"][0]["seq"], 17);
}

#[test]
fn csv_report_is_one_quoted_table() {
    let dir = TempDir::new("csv");
    let _journal = trading_day(&dir);
    let (code, out, err) = cockpit(&dir, &["--date", "2026-03-10", "--format", "csv"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("section,key,subkey,value\r\n"), "{out}");
    for line in [
        "header,timezone,,America/New_York\r\n",
        "proposals,alpha,staged,2\r\n",
        "proposals,trader,\"rejected_reason:size, \"\"again\"\"\",1\r\n",
        "fills,101,average_price,187.2125\r\n",
        "orders_sent,101,ticket,BUY 10 AAPL LMT 187.25\r\n",
        "disconnects,count,,1\r\n",
        "tool_calls,,,none\r\n",
        "unreadable,17,kind,verdict\r\n",
    ] {
        assert!(out.contains(line), "{line:?} not in\n{out}");
    }
}

#[test]
fn the_report_follows_a_journal_still_being_written() {
    let dir = TempDir::new("live");
    let mut journal = trading_day(&dir);
    let (code, before, err) = cockpit(&dir, &["--date", "2026-03-10", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    journal
        .append(&[entry(
            at("2026-03-10T17:00:00Z"),
            "broker_event",
            json!({"event": "connected",
            "next_valid_id": 200}),
        )])
        .expect("append");
    let (code, after, err) = cockpit(&dir, &["--date", "2026-03-10", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let (before, after): (Value, Value) = (
        serde_json::from_str(&before).expect("json"),
        serde_json::from_str(&after).expect("json"),
    );
    assert_eq!(before["header"]["journal_head"]["seq"], 18);
    assert_eq!(after["header"]["journal_head"]["seq"], 19);
    assert_eq!(after["disconnects"]["total_seconds"], "7200");
    assert_eq!(after["disconnects"]["outages"][0]["until"], "connected");
    assert_eq!(journal.head().seq, 19, "the writer is untouched");
}

#[test]
fn without_a_date_the_report_is_today_in_the_exchange_timezone() {
    let dir = TempDir::new("today");
    let mut journal = Journal::open(dir.path()).expect("open");
    let now = Utc::now();
    let today = now.with_timezone(&chrono_tz::Asia::Tokyo).date_naive();
    journal
        .append(&[
            entry(now, "start", json!({"timezone": "Asia/Tokyo"})),
            entry(
                now,
                "tool_call",
                json!({"agent": "alpha", "tool": "get_account", "outcome": "ok"}),
            ),
        ])
        .expect("append");
    let (code, out, err) = cockpit(&dir, &["--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let report: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["header"]["timezone"], "Asia/Tokyo");
    let date = report["header"]["date"].as_str().expect("date").to_owned();
    // Unless Tokyo's midnight passed while the test ran, the records are today's.
    if date == today.to_string() {
        assert_eq!(report["header"]["records"], 2, "{out}");
        assert_eq!(report["tool_calls"][0]["tool"], "get_account");
    }
}

#[test]
fn a_day_before_any_start_record_is_reported_in_utc_and_empty_sections_say_none() {
    let dir = TempDir::new("utc");
    let _journal = trading_day(&dir);
    let (code, out, err) = cockpit(&dir, &["--date", "2026-03-01"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("UTC: no start record at or before the end of the day"),
        "{out}"
    );
    assert!(out.contains("- Records: none"), "{out}");
    assert!(out.contains("## Fills\n\nnone\n"), "{out}");
}

#[test]
fn a_proposal_staged_the_day_before_a_restart_is_attributed_to_its_requester_not_counted_again() {
    let dir = TempDir::new("earlier");
    let mut journal = Journal::open(dir.path()).expect("open");
    let verdict = |proposal: u64, requester: &str| {
        json!({"proposal": proposal, "version": 1, "requester": requester, "note": "", "ticket": ticket(),
        "codes": [], "messages": [], "tier": "Confirm", "fingerprint": "f"})
    };
    let start = json!({"config_hash": "h", "mode": "paper", "version": "0.1.0",
    "timezone": "America/New_York"});
    journal
        .append(&[
            entry(at("2026-03-09T13:00:00Z"), "start", start.clone()),
            entry(at("2026-03-09T19:59:00Z"), "verdict", verdict(7, "alpha")),
            entry(at("2026-03-09T19:59:30Z"), "verdict", verdict(8, "beta")),
            entry(
                at("2026-03-09T19:59:40Z"),
                "intent",
                json!({"proposal": 8, "version": 1, "order_id": 300,
                "order_ref": "ck-p8-v1-i1", "high_water": 300, "epoch": 0, "ticket": ticket(),
                "fingerprint": "f", "notional": "1872.5", "intent_seq": 1, "agent_unapproved": false}),
            ),
            // The next morning, after a restart: 7 approved, 8 found at the broker and filled, 9 new.
            entry(at("2026-03-10T13:00:00Z"), "start", start),
            entry(at("2026-03-10T13:30:00Z"), "verdict", verdict(7, "alpha")),
            entry(
                at("2026-03-10T13:30:00Z"),
                "human_action",
                json!({"action": "approve", "proposal": 7,
                "version": 1, "by": "confirm", "fingerprint": "f"}),
            ),
            entry(
                at("2026-03-10T13:30:01Z"),
                "not_sent",
                json!({"proposal": 7, "reason": "the trading state changed before sending"}),
            ),
            entry(
                at("2026-03-10T13:31:00Z"),
                "in_doubt",
                json!({"proposal": 8, "order_id": 300,
                "order_ref": "ck-p8-v1-i1", "found": true, "status": "Submitted"}),
            ),
            entry(
                at("2026-03-10T13:32:00Z"),
                "broker_event",
                json!({"event": "execution", "proposal": 8,
                "order_id": 300, "exec_id": "x", "quantity": "10", "price": "187.2"}),
            ),
            entry(at("2026-03-10T13:40:00Z"), "verdict", verdict(9, "alpha")),
            entry(
                at("2026-03-10T13:41:00Z"),
                "human_action",
                json!({"action": "reject", "proposal": 9, "reason": "no"}),
            ),
            entry(
                at("2026-03-10T13:42:00Z"),
                "human_action",
                json!({"action": "reject", "proposal": 4, "reason": "stale"}),
            ),
        ])
        .expect("append");
    let r = report_json(dir.path(), "2026-03-10");
    let rows: Vec<(&str, u64, u64, u64)> = r["proposals"]["by_requester"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|q| {
            Some((
                q["requester"].as_str()?,
                q["staged"].as_u64()?,
                q["approved"].as_u64()?,
                q["rejected"].as_u64()?,
            ))
        })
        .collect();
    assert_eq!(
        rows,
        [("(earlier)", 0, 0, 1), ("alpha", 1, 1, 1)],
        "7 was staged the day before: attributed to alpha, staged once (9); 4 has no verdict anywhere"
    );
    assert_eq!(r["orders"]["not_sent"][0]["requester"], "alpha");
    let doubt = &r["orders"]["in_doubt"][0];
    assert_eq!(
        (&doubt["requester"], &doubt["found"]),
        (&json!("beta"), &json!(true))
    );
    assert_eq!(r["orders"]["in_doubt_found"], 1);
    assert_eq!(
        r["fills"]["orders"][0]["ticket"]["limit_price"], "187.25",
        "the ticket from the intent of the day before"
    );
    assert_eq!(r["header"]["records"], 9);
}

#[test]
fn no_journal_is_an_error_naming_the_path_with_exit_1() {
    let dir = TempDir::new("missing");
    let (code, out, err) = cockpit(&dir, &[]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("cockpit report: no journal in"), "{err}");
    assert!(
        err.contains(&journal::db_path(dir.path()).display().to_string()),
        "{err}"
    );
    assert!(
        err.contains("start the cockpit first, or pass --state-dir"),
        "{err}"
    );
    assert!(!journal::dir(dir.path()).exists(), "the report creates nothing");
}

#[test]
fn an_unreadable_journal_is_an_error_naming_it_with_exit_1() {
    let dir = TempDir::new("garbage");
    std::fs::create_dir_all(journal::dir(dir.path())).expect("dir");
    std::fs::write(
        journal::db_path(dir.path()),
        b"this is not a database at all, not even close",
    )
    .expect("write");
    let (code, out, err) = cockpit(&dir, &["--date", "2026-03-10"]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with("cockpit report: cannot read the journal"),
        "{err}"
    );
    assert!(
        err.contains(&journal::db_path(dir.path()).display().to_string()),
        "{err}"
    );
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("decimal")
}

fn order(id: i32) -> OrderId {
    OrderId::new(id).expect("order id")
}

/// `cockpit report --date DATE --format json` on `state_dir`, parsed.
fn report_json(state_dir: &Path, date: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_cockpit"))
        .args(["report", "--date", date, "--format", "json", "--state-dir"])
        .arg(state_dir)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// The real engine writes the journal: a trading morning in New York on 2026-11-24 (EST) — an order
/// approved, sent, filled in two executions with commissions; an agent's proposal rejected; another staged
/// and left awaiting approval; a disconnect of 30 s; an alert acknowledged; a restart, after which the
/// proposal staged before it is approved; and the kill switch. The report's numbers match what happened.
#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one trading morning, in order, reads best in one place"
)]
async fn the_report_of_a_journal_written_by_the_engine_across_a_restart() {
    let state = common::dir("report");
    let t0 = common::t0();
    let t = |secs: i64| t0 + Duration::seconds(secs);
    let momentum = Source::Agent { uid: 1001 };

    // The first run.
    let mut e = common::start(&state, t0).await;
    common::ready(&mut e, t0).await;
    let traders = common::propose_at(&mut e, "10", t(1)).await;
    common::confirm_at(&mut e, traders, t(1)).await;
    for (exec_id, quantity, price) in [("e1", "4", "100.00"), ("e2", "6", "100.01")] {
        let execution = BrokerEvent::Execution {
            order_id: order(100),
            exec_id: exec_id.to_owned(),
            quantity: dec(quantity),
            price: dec(price),
            replay: false,
        };
        e.handle(Msg::Broker(execution), t(2)).await;
    }
    for (exec_id, commission) in [("e1", "1.00"), ("e2", "0.5")] {
        let report = BrokerEvent::Commission {
            exec_id: exec_id.to_owned(),
            commission: dec(commission),
            currency: "USD".to_owned(),
            realized_pnl: None,
        };
        e.handle(Msg::Broker(report), t(3)).await;
    }
    let filled = BrokerEvent::OrderStatus {
        order_id: order(100),
        event: OrderEvent::Filled,
    };
    e.handle(Msg::Broker(filled), t(3)).await;
    e.handle(common::quote_at(t(4)), t(4)).await;
    let propose = |qty: &str| Msg::Propose {
        source: momentum,
        ticket: common::ticket(qty),
        note: "momentum".to_owned(),
    };
    e.handle(propose("5"), t(4)).await;
    let rejected = common::latest(&e);
    e.handle(
        Msg::Reject {
            id: rejected,
            reason: "not now".to_owned(),
        },
        t(5),
    )
    .await;
    e.handle(propose("7"), t(6)).await;
    let pending = common::latest(&e);
    e.handle(Msg::Broker(BrokerEvent::Disconnected), t(60)).await;
    e.handle(Msg::Broker(BrokerEvent::Connected { next_valid_id: 101 }), t(90))
        .await;
    e.handle(Msg::Broker(BrokerEvent::Reconciled), t(90)).await;
    e.handle(Msg::Resume { typed: None }, t(91)).await;
    let critical = e
        .state()
        .alerts
        .iter()
        .find(|a| a.severity == Severity::Critical)
        .map(|a| a.id)
        .expect("a critical alert");
    e.handle(Msg::AcknowledgeAlert { id: critical }, t(92)).await;
    e.stop().await.expect("stops");

    // The restart: the agent's proposal is still awaiting approval, under the same id.
    let mut e = common::start(&state, t(120)).await;
    common::ready(&mut e, t(120)).await;
    assert!(e.state().proposals.contains_key(&pending), "it survived");
    common::confirm_at(&mut e, pending, t(121)).await;
    let second_order = e.broker().placed.first().map(|p| p.0).expect("sent");
    e.handle(Msg::KillSwitch, t(130)).await;
    assert_eq!(e.broker().cancelled, [second_order], "the kill switch cancels it");
    let cancelled = BrokerEvent::OrderStatus {
        order_id: order(second_order),
        event: OrderEvent::Cancelled,
    };
    e.handle(Msg::Broker(cancelled), t(131)).await;
    let halted = e
        .state()
        .alerts
        .last()
        .map(|a| a.id)
        .expect("the kill switch's alert");
    e.handle(Msg::AcknowledgeAlert { id: halted }, t(132)).await;
    e.stop().await.expect("stops");

    let records = Reader::open(&state).expect("reader").records(1).expect("records");
    let starts: Vec<u64> = records
        .iter()
        .filter(|r| r.kind == "start")
        .map(|r| r.seq)
        .collect();
    assert_eq!(starts.len(), 2, "one restart");
    let alerts = |severity: &str| {
        records
            .iter()
            .filter(|r| r.kind == "alert" && r.data["severity"] == severity)
            .count()
    };

    let r = report_json(&state, "2026-11-24");
    let h = &r["header"];
    assert_eq!(h["timezone"], "America/New_York");
    assert_eq!(
        h["timezone_source"],
        format!("from the start record seq {}", starts[1])
    );
    assert_eq!(h["from"], "2026-11-24T05:00:00Z", "EST");
    assert_eq!(h["records"], records.len());
    assert_eq!(r["unreadable"], json!([]));

    // Proposals: the approval after the restart is the agent's, whose proposal was staged before it.
    let rows = r["proposals"]["by_requester"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().filter_map(|q| q["requester"].as_str()).collect();
    assert_eq!(names, ["momentum", "trader"], "nothing is left to (earlier)");
    let (agent, trader) = (&rows[0], &rows[1]);
    assert_eq!(
        agent["staged"], 2,
        "the re-check after the restart is not a second staging"
    );
    assert_eq!(agent["approved"], 1);
    assert_eq!(agent["approved_by"]["confirm"], 1);
    assert_eq!(agent["rejected"], 1);
    assert_eq!(agent["rejected_reasons"]["not now"], 1);
    assert_eq!((&trader["staged"], &trader["approved"]), (&json!(1), &json!(1)));
    assert_eq!(trader["rejected"], 0);

    // Orders and fills.
    let sent = r["orders"]["sent"].as_array().expect("sent");
    let sent: Vec<(i64, u64, &str)> = sent
        .iter()
        .map(|o| {
            (
                o["order_id"].as_i64().expect("id"),
                o["proposal"].as_u64().expect("proposal"),
                o["requester"].as_str().expect("requester"),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            (100, traders.0, "trader"),
            (i64::from(second_order), pending.0, "momentum")
        ]
    );
    assert_ne!(pending, rejected);
    assert_eq!(r["orders"]["not_sent"], json!([]));
    assert_eq!(r["orders"]["in_doubt"], json!([]));
    let fills = r["fills"]["orders"].as_array().expect("fills");
    assert_eq!(fills.len(), 1);
    let fill = &fills[0];
    assert_eq!((&fill["order_id"], &fill["executions"]), (&json!(100), &json!(2)));
    assert_eq!(fill["quantity"], "10");
    // 4 × 100.00 + 6 × 100.01 = 1000.06
    assert_eq!(fill["notional"], "1000.06");
    assert_eq!(fill["average_price"], "100.006");
    assert_eq!(fill["commission"]["USD"], "1.5");
    assert_eq!(fill["ticket"]["quantity"], "10");
    assert_eq!(r["fills"]["commission_total"]["USD"], "1.5");
    let cancelled = &r["broker"]["cancelled"];
    assert_eq!(cancelled.as_array().map(Vec::len), Some(1));
    assert_eq!(cancelled[0]["order_id"], second_order);

    // The broker connection: one disconnect of 30 s, ended by the reconnect.
    let outage = &r["disconnects"];
    assert_eq!(outage["count"], 1);
    assert_eq!(outage["total_seconds"], "30");
    assert_eq!(outage["outages"][0]["until"], "connected");

    // Alerts: every one the engine raised, in both runs; ids continue across the restart.
    let raised = &r["alerts"]["raised"];
    assert_eq!(raised["critical"], alerts("critical"));
    assert_eq!(raised["info"], alerts("info"));
    assert_eq!(raised["warning"], alerts("warning"));
    // Critical: connected-not-reconciled after the reconnect, the disconnect, the kill switch (the first
    // connection of each run shuts the gate without stepping down); info: the resume after the outage
    // and the reconnect after the 30 s outage.
    assert_eq!((&raised["critical"], &raised["info"]), (&json!(3), &json!(2)));
    assert_eq!(r["alerts"]["acknowledged"], json!([critical.0, halted.0]));
    let critical_rows = r["alerts"]["critical"].as_array().expect("critical");
    let acknowledged: Vec<u64> = critical_rows
        .iter()
        .filter(|a| a["acknowledged"] == true)
        .filter_map(|a| a["id"].as_u64())
        .collect();
    assert_eq!(acknowledged, [critical.0, halted.0]);

    // Trading state: each step down and back up, in order.
    let changes: Vec<(&str, &str)> = r["trading_state"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| Some((c["level"].as_str()?, c["cause"].as_str()?)))
        .collect();
    assert_eq!(
        changes,
        [
            ("ACTIVE", "not reconciled"),
            ("REDUCING", "disconnected"),
            ("REDUCING", "not reconciled"),
            ("ACTIVE", "resume"),
            ("ACTIVE", "not reconciled"),
            ("HALTED", "kill switch"),
        ]
    );
    let human = &r["human_actions"];
    assert_eq!((&human["kill_switch"], &human["resume"]), (&json!(1), &json!(1)));
    assert_eq!(human["refused"], json!({}));
    std::fs::remove_dir_all(&state).expect("cleans up");
}
