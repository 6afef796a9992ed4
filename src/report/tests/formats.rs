//! The three formats: CSV quoting that reads back, Markdown sections, JSON field names.

use serde_json::{Value, json};

use super::*;

#[test]
fn csv_quoting_follows_rfc_4180() {
    assert_eq!(csv_field("plain"), "plain");
    assert!(matches!(csv_field("plain"), std::borrow::Cow::Borrowed(_)));
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field("line1\nline2"), "\"line1\nline2\"");
    assert_eq!(csv_field("cr\r"), "\"cr\r\"");
    assert_eq!(csv_field(""), "");
}

/// A strict RFC 4180 reader, to check that what we write reads back as the rows we meant.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') => {
                assert!(field.is_empty(), "a quote inside an unquoted field");
                quoted = true;
            }
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CRLF line ends");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\n') => panic!("a bare LF outside quotes"),
            (_, c) => field.push(c),
        }
    }
    assert!(
        !quoted && row.is_empty() && field.is_empty(),
        "the text ends with CRLF"
    );
    rows
}

#[test]
fn csv_reads_back_as_the_rows_with_commas_quotes_and_newlines() {
    let mut log = Log::new();
    log.add(
        "2026-03-10T14:00:00Z",
        "verdict",
        verdict(1, 1, "alpha", Some("Confirm"), &[]),
    );
    log.add(
        "2026-03-10T14:00:01Z",
        "human_action",
        json!({"action": "reject", "proposal": 1,
        "reason": "too big, \"way\" too\nbig"}),
    );
    let r = build(&log.records, &scope(new_york("2026-03-10"), None));
    let csv = text(&r, Format::Csv);
    let rows = parse_csv(&csv);
    assert_eq!(rows[0], ["section", "key", "subkey", "value"]);
    let expected: Vec<Vec<String>> = csv_rows(&r).into_iter().map(Vec::from).collect();
    assert_eq!(rows[1..], expected[..]);
    assert!(rows.contains(&vec![
        "proposals".to_owned(),
        "alpha".to_owned(),
        "rejected_reason:too big, \"way\" too\nbig".to_owned(),
        "1".to_owned()
    ]));
    assert!(rows.iter().all(|r| r.len() == 4));
    assert!(rows.contains(&vec![
        "fills".to_owned(),
        String::new(),
        String::new(),
        "none".to_owned()
    ]));
}

#[test]
fn markdown_has_every_section_and_says_none_for_empty_ones() {
    let r = build(
        &[],
        &scope(Day::in_zone(date("2026-03-10"), Tz::UTC, Zone::NoStart), None),
    );
    let md = text(&r, Format::Md);
    for heading in [
        "# Cockpit daily report: 2026-03-10",
        "## Proposals by requester",
        "## Orders",
        "## Fills",
        "## Broker rejects and cancels",
        "## Alerts",
        "## Disconnects",
        "## Agent tool calls",
        "## Trading-state changes",
        "## Human actions",
        "## Unreadable records",
    ] {
        assert!(md.contains(heading), "{heading} in\n{md}");
    }
    assert!(md.contains("UTC: no start record"), "{md}");
    assert!(md.contains("- Records: none"), "{md}");
    assert!(md.matches("\nnone\n").count() >= 10, "{md}");
    assert!(!md.contains('\u{1b}'), "no colours");
}

#[test]
fn markdown_tables_show_the_full_day() {
    let md = text(&full_report(), Format::Md);
    assert!(md.contains("| alpha "), "{md}");
    assert!(md.contains("BUY 10.5 AAPL LMT 187.25"), "{md}");
    assert!(md.contains("187.15714286"), "{md}");
    assert!(md.contains("1.5 USD"), "{md}");
    assert!(
        md.contains("Totals: commission 1.85 USD; realized P&L 10.25 USD"),
        "{md}"
    );
    assert!(
        md.contains("2 disconnects; disconnected 5m 30.5s in total."),
        "{md}"
    );
    assert!(
        md.contains("09:30:07") || md.contains("09:30:06"),
        "times are exchange-local: {md}"
    );
    assert!(md.contains("- Discarded keys: 5 keys in 2 events"), "{md}");
}

#[test]
fn json_has_stable_field_names_and_exact_decimals() {
    let json: Value = serde_json::from_str(&text(&full_report(), Format::Json)).expect("json");
    assert_eq!(json["header"]["timezone"], "America/New_York");
    assert_eq!(json["header"]["date"], "2026-03-10");
    assert_eq!(json["fills"]["orders"][0]["average_price"], "187.15714286");
    assert_eq!(json["fills"]["orders"][0]["commission"]["USD"], "1.5");
    assert_eq!(json["disconnects"]["total_seconds"], "330.5");
    assert_eq!(json["alerts"]["raised"]["critical"], 2);
    assert_eq!(json["proposals"]["by_requester"][1]["requester"], "alpha");
    assert_eq!(json["orders"]["sent"][0]["ticket"]["quantity"], "10.5");
    assert_eq!(json["unreadable"], json!([]));
}
