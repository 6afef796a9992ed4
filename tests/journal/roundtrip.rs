//! Property: random batches of entries — random JSON (floats bit-exact, large strings, any Unicode), random
//! envelopes and times — read back through `Reader` exactly as appended, by seq and by time.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::{Durability, Entry, Envelope, Journal, Reader, TempDir, Value, heavy, verify};
use chrono::{DateTime, Duration as Span};

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => Just(Value::Null),
        4 => any::<bool>().prop_map(Value::Bool),
        4 => any::<i64>().prop_map(Value::from),
        4 => any::<u64>().prop_map(Value::from),
        6 => any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        8 => "(?s).{0,40}".prop_map(Value::String),
        1 => (any::<char>(), 0usize..200_000).prop_map(|(c, n)| Value::String(c.to_string().repeat(n))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("(?s).{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        any::<i64>(),
        ("(?s).{0,16}", "(?s).{0,24}", "(?s).{0,12}", any::<i32>()),
        "(?s).{1,16}",
        json(),
        any::<bool>(),
    )
        .prop_map(
            |(at, (profile, gateway, account, client_id), kind, data, sync)| Entry {
                at: DateTime::from_timestamp_nanos(at),
                envelope: Envelope {
                    profile,
                    gateway,
                    account,
                    client_id,
                },
                kind,
                data,
                durability: if sync { Durability::Sync } else { Durability::Batch },
            },
        )
}

fn same(entry: &Entry, record: &cockpit::journal::Record) -> Result<(), TestCaseError> {
    prop_assert_eq!(record.at, entry.at);
    prop_assert_eq!(&record.envelope, &entry.envelope);
    prop_assert_eq!(&record.kind, &entry.kind);
    // `Value` equality compares floats by value; compare the bytes of their text as well, so -0.0 and
    // 0.0 (equal as numbers) are told apart.
    prop_assert_eq!(&record.data, &entry.data);
    prop_assert_eq!(record.data.to_string(), entry.data.to_string());
    Ok(())
}

#[test]
fn random_entries_round_trip_through_the_reader_exactly() {
    let dir = TempDir::new("roundtrip");
    let journal = RefCell::new(Journal::open(dir.path()).expect("open"));
    let config = Config {
        cases: if heavy() { 1_000 } else { 48 },
        failure_persistence: None,
        ..Config::default()
    };
    let batches = prop::collection::vec(prop::collection::vec(entry(), 1..6), 1..4);
    let mut runner = TestRunner::new(config);
    runner
        .run(&batches, |batches| {
            let reader = Reader::open(dir.path()).expect("reader");
            let mut journal = journal.borrow_mut();
            let first = journal.head().seq + 1;
            let mut all = Vec::new();
            for batch in &batches {
                let appended = journal.append(batch).expect("append");
                prop_assert_eq!(appended.len(), batch.len());
                all.extend(batch.iter().cloned().zip(appended));
            }
            let records = reader.records(first).expect("records");
            prop_assert_eq!(records.len(), all.len());
            for ((entry, appended), record) in all.iter().zip(&records) {
                prop_assert_eq!((record.seq, record.hash), (appended.seq, appended.hash));
                same(entry, record)?;
                let at = reader
                    .records_between(entry.at, entry.at + Span::nanoseconds(1))
                    .unwrap_or_default();
                prop_assert!(at.iter().any(|r| r.seq == appended.seq), "found by time");
            }
            let last = reader.last_record().expect("last").expect("some");
            prop_assert_eq!(Some(last.seq), all.last().map(|(_, a)| a.seq));
            Ok(())
        })
        .expect("every case round-trips");
    drop(journal);
    assert!(verify(dir.path()).is_ok());
}
