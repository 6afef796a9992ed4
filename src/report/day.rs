//! [`Day`]: the exchange-time day a report covers — its timezone, taken from the `start` records, and its
//! UTC bounds from local midnight to the next local midnight, DST-safe (a day may last 23 or 25 hours). Pure:
//! it reads the records it is handed, never the journal.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::journal::{Record, kinds};

/// Where the day's timezone came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    /// The `timezone` of the `start` record with this seq.
    Start {
        /// The `start` record.
        seq: u64,
    },
    /// No `start` record at or before the end of the day: UTC.
    NoStart,
    /// The latest `start` record names no timezone: UTC.
    Unnamed {
        /// The `start` record.
        seq: u64,
    },
    /// The latest `start` record names a timezone this build does not know: UTC.
    Unknown {
        /// The `start` record.
        seq: u64,
        /// The name it gives.
        name: String,
    },
}

impl Zone {
    /// A sentence for the report header.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Zone::Start { seq } => format!("from the start record seq {seq}"),
            Zone::NoStart => "UTC: no start record at or before the end of the day".to_owned(),
            Zone::Unnamed { seq } => format!("UTC: the start record seq {seq} names no timezone"),
            Zone::Unknown { seq, name } => format!(
                "UTC: the start record seq {seq} names an unknown timezone '{}'",
                super::text::inert(name)
            ),
        }
    }
}

/// One exchange-time day.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    /// The exchange-time date.
    pub date: NaiveDate,
    /// Its timezone (`UTC` when none is recorded).
    pub tz: Tz,
    /// Where the timezone came from.
    pub zone: Zone,
    /// Local midnight, in UTC.
    pub from: DateTime<Utc>,
    /// The next local midnight, in UTC (exclusive).
    pub to: DateTime<Utc>,
}

impl Day {
    /// The day `date` in the timezone of the most recent `start` record (by seq) at or before the end of
    /// that day — each `start` judged against the day's end in its own timezone; UTC if there is none.
    /// `records` may hold any records; only `start` ones are looked at.
    #[must_use]
    pub fn resolve(date: NaiveDate, records: &[Record]) -> Day {
        for record in records.iter().rev().filter(|r| r.kind == kinds::START) {
            let (tz, zone) = zone_of(record);
            let (from, to) = bounds(date, tz);
            if record.at < to {
                return Day {
                    date,
                    tz,
                    zone,
                    from,
                    to,
                };
            }
        }
        Day::in_zone(date, Tz::UTC, Zone::NoStart)
    }

    /// Today at `now`, in the timezone of the most recent `start` record at or before `now`.
    #[must_use]
    pub fn today(now: DateTime<Utc>, records: &[Record]) -> Day {
        let tz = records
            .iter()
            .rev()
            .find(|r| r.kind == kinds::START && r.at <= now)
            .map_or(Tz::UTC, |r| zone_of(r).0);
        Day::resolve(now.with_timezone(&tz).date_naive(), records)
    }

    /// The day `date` in `tz`.
    #[must_use]
    pub fn in_zone(date: NaiveDate, tz: Tz, zone: Zone) -> Day {
        let (from, to) = bounds(date, tz);
        Day {
            date,
            tz,
            zone,
            from,
            to,
        }
    }

    /// The day's length in hours.
    #[must_use]
    pub fn hours(&self) -> Decimal {
        let ms = (self.to - self.from).num_milliseconds();
        (Decimal::from(ms) / Decimal::from(3_600_000)).normalize()
    }
}

/// The timezone a `start` record names, and how it was found.
fn zone_of(record: &Record) -> (Tz, Zone) {
    let seq = record.seq;
    match record.data.get("timezone").and_then(serde_json::Value::as_str) {
        None => (Tz::UTC, Zone::Unnamed { seq }),
        Some(name) => match name.parse::<Tz>() {
            Ok(tz) => (tz, Zone::Start { seq }),
            Err(_) => (
                Tz::UTC,
                Zone::Unknown {
                    seq,
                    name: name.to_owned(),
                },
            ),
        },
    }
}

/// Local midnight of `date` and of the day after, in UTC.
fn bounds(date: NaiveDate, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let from = local_midnight(date, tz);
    let to = date
        .succ_opt()
        .map_or(from + Duration::days(1), |next| local_midnight(next, tz));
    (from, to)
}

/// The first instant of `date` in `tz`, in UTC: local midnight, the earlier one if midnight repeats; if
/// midnight falls in a gap (a DST change at midnight), the first local time after the gap.
#[must_use]
pub fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    // Gaps are whole minutes and at most a day long (Samoa skipped 2011-12-30 entirely).
    for minute in 0..=(26 * 60) {
        if let Some(at) = tz
            .from_local_datetime(&(midnight + Duration::minutes(minute)))
            .earliest()
        {
            return at.with_timezone(&Utc);
        }
    }
    midnight.and_utc()
}
