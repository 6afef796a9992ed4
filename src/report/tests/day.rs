//! The exchange-time day: its timezone and DST-safe bounds.

use serde_json::json;

use super::*;

#[test]
fn dst_days_in_new_york_last_23_and_25_hours() {
    let mut log = Log::new();
    log.add(
        "2026-01-01T00:00:00Z",
        "start",
        json!({"timezone": "America/New_York"}),
    );
    let spring = Day::resolve(date("2026-03-08"), &log.records);
    assert_eq!(spring.zone, Zone::Start { seq: 1 });
    assert_eq!(
        (spring.from, spring.to),
        (at("2026-03-08T05:00:00Z"), at("2026-03-09T04:00:00Z"))
    );
    assert_eq!(spring.hours(), dec("23"));
    let autumn = Day::resolve(date("2026-11-01"), &log.records);
    assert_eq!(
        (autumn.from, autumn.to),
        (at("2026-11-01T04:00:00Z"), at("2026-11-02T05:00:00Z"))
    );
    assert_eq!(autumn.hours(), dec("25"));
    let r = build(&[], &scope(autumn, None));
    assert_eq!(r.header.hours, dec("25"));
    // 23:30 EDT on 2026-03-08 is already 03:30 UTC on the 9th.
    let today = Day::today(at("2026-03-09T03:30:00Z"), &log.records);
    assert_eq!(today.date, date("2026-03-08"));
}

#[test]
fn midnight_in_a_dst_gap_starts_the_day_after_the_gap() {
    // Santiago moved clocks from 00:00 to 01:00 on 2024-09-08.
    let day = Day::in_zone(date("2024-09-08"), Tz::America__Santiago, Zone::NoStart);
    assert_eq!(day.from, at("2024-09-08T04:00:00Z"));
    assert_eq!(day.hours(), dec("23"));
    assert_eq!(
        local_midnight(date("2024-09-07"), Tz::America__Santiago),
        at("2024-09-07T04:00:00Z")
    );
}

#[test]
fn the_timezone_comes_from_the_latest_start_before_the_end_of_the_day() {
    let mut log = Log::new();
    assert_eq!(Day::resolve(date("2026-03-10"), &log.records).zone, Zone::NoStart);
    log.add(
        "2026-03-01T00:00:00Z",
        "start",
        json!({"timezone": "Europe/London"}),
    );
    log.add(
        "2026-03-10T12:00:00Z",
        "start",
        json!({"timezone": "America/New_York"}),
    );
    log.add("2026-03-11T12:00:00Z", "start", json!({"timezone": "Asia/Tokyo"}));
    let day = Day::resolve(date("2026-03-10"), &log.records);
    assert_eq!(
        (day.tz, day.zone.clone()),
        (Tz::America__New_York, Zone::Start { seq: 2 })
    );
    let earlier = Day::resolve(date("2026-03-05"), &log.records);
    assert_eq!(earlier.tz, Tz::Europe__London);
    log.add("2026-03-12T12:00:00Z", "start", json!({"mode": "paper"}));
    let unnamed = Day::resolve(date("2026-03-13"), &log.records);
    assert_eq!(
        (unnamed.tz, unnamed.zone.clone()),
        (Tz::UTC, Zone::Unnamed { seq: 4 })
    );
    log.add(
        "2026-03-13T12:00:00Z",
        "start",
        json!({"timezone": "Mars/Olympus"}),
    );
    let unknown = Day::resolve(date("2026-03-14"), &log.records);
    assert_eq!(unknown.tz, Tz::UTC);
    assert!(unknown.zone.describe().contains("Mars/Olympus"));
    assert!(Zone::NoStart.describe().starts_with("UTC"));
}
