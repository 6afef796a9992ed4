//! Journal throughput (PERFORMANCE.md M12): records per second with a full sync per record (budget
//! ≥ 1,000/s), batched 1,000 per commit (≥ 40,000/s), and `verify` over a 100,000-record journal
//! (≥ 300,000 records/s, `SQLite`'s integrity check included). Each record is a realistic `tool_call`
//! (about 300 bytes of payload). The journal lives under the system temp dir, so a synced commit costs
//! that disk's `fsync`: `raw_fsync_4k` measures the floor in the same run (write 4 KiB, `fsync`), and
//! `writer_16_concurrent_sync_callers` shows what group commit in the writer actor makes of it when
//! callers overlap (each caller still waits for a full sync of its own record).
//!
//! A last pass interleaves 1,000 raw `fsync`s with 1,000 one-record commits, so both meet the same disk
//! weather, and prints p50/p99 of each and the ratio of the medians.
//!
//! Run: `cargo bench --bench journal`

#![expect(clippy::unwrap_used, clippy::print_stdout, reason = "a benchmark")]

use std::hint::black_box;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cockpit::journal::{self, Durability, Entry, Envelope, Journal, WriterOptions, verify};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const CALLERS: u64 = 16;

/// `cargo bench` passes `--bench`; under `cargo test` each benchmark runs once as a smoke test, so the
/// large setups shrink to keep the quick tier quick.
fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn verify_records() -> u64 {
    if benching() { 100_000 } else { 2_000 }
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("cockpit-bench-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn entry(n: u64) -> Entry {
    Entry {
        at: DateTime::<Utc>::from_timestamp_nanos(1_795_000_000_000_000_000)
            + chrono::Duration::milliseconds(i64::try_from(n).unwrap()),
        envelope: Envelope {
            profile: "paper".to_owned(),
            gateway: "127.0.0.1:4002".to_owned(),
            account: "DU1234567".to_owned(),
            client_id: 7,
        },
        kind: "tool_call".to_owned(),
        data: json!({
            "agent": "demo-momentum", "uid": 1001, "tool": "stage_order",
            "args": { "symbol": "AAPL", "side": "BUY", "quantity": "20", "order_type": "LMT",
                      "limit_price": "187.25", "tif": "DAY",
                      "rationale": "breakout above the 20-day high on rising volume" },
            "result": { "ok": true, "proposal_id": format!("P-{n}") }, "latency_us": 412
        }),
        durability: Durability::Sync,
    }
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal_append");
    group.sample_size(20).measurement_time(Duration::from_secs(10));

    let dir = Dir::new("fsync");
    let mut file = std::fs::File::create(dir.0.join("raw")).unwrap();
    let page = [0x5a_u8; 4096];
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_fsync_4k", |b| {
        b.iter(|| {
            file.seek(SeekFrom::Start(0)).unwrap();
            file.write_all(&page).unwrap();
            file.sync_all().unwrap();
        });
    });

    let dir = Dir::new("sync");
    let mut journal = Journal::open(&dir.0).unwrap();
    let mut n = 0;
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_record_per_commit", |b| {
        b.iter(|| {
            n += 1;
            black_box(journal.append(&[entry(n)]).unwrap());
        });
    });
    drop(journal);

    let dir = Dir::new("batch");
    let mut journal = Journal::open(&dir.0).unwrap();
    let mut n = 0;
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000_records_per_commit", |b| {
        b.iter_batched(
            || {
                let batch: Vec<Entry> = (n..n + 1000).map(entry).collect();
                n += 1000;
                batch
            },
            |batch| black_box(journal.append(&batch).unwrap()),
            criterion::BatchSize::PerIteration,
        );
    });

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = Dir::new("actor");
    let journal = Journal::open(&dir.0).unwrap();
    let cancel = CancellationToken::new();
    let (handle, writer) =
        runtime.block_on(async { journal::spawn(journal, WriterOptions::default(), cancel.clone()) });
    group.throughput(Throughput::Elements(1));
    group.bench_function("writer_16_concurrent_sync_callers", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                let callers: Vec<_> = (0..CALLERS)
                    .map(|c| {
                        let handle = handle.clone();
                        tokio::spawn(async move {
                            for i in (c..iters).step_by(usize::try_from(CALLERS).unwrap()) {
                                handle.append(vec![entry(i)]).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for caller in callers {
                    caller.await.unwrap();
                }
                start.elapsed()
            })
        });
    });
    cancel.cancel();
    runtime.block_on(writer).unwrap().unwrap();
    group.finish();
}

fn verify_speed(c: &mut Criterion) {
    let dir = Dir::new("verify");
    let records = verify_records();
    let mut journal = Journal::open(&dir.0).unwrap();
    for start in (0..records).step_by(1000) {
        let batch: Vec<Entry> = (start..start + 1000).map(entry).collect();
        journal.append(&batch).unwrap();
    }
    journal.checkpoint_head().unwrap();
    drop(journal);

    let mut group = c.benchmark_group("journal_verify");
    group.sample_size(10).measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(records));
    group.bench_function("100k_records", |b| {
        b.iter(|| assert_eq!(black_box(verify(&dir.0).unwrap()).records, records));
    });
    group.finish();
}

/// Raw `fsync` and one-record commits, interleaved: p50/p99 of each and the ratio of medians.
fn interleaved_sync_pass(_: &mut Criterion) {
    let rounds = if benching() { 1000 } else { 10 };
    let dir = Dir::new("interleaved");
    let mut journal = Journal::open(&dir.0).unwrap();
    let mut file = std::fs::File::create(dir.0.join("raw")).unwrap();
    let page = [0x5a_u8; 4096];
    let (mut raw, mut commit) = (Vec::new(), Vec::new());
    for n in 0..rounds {
        let start = Instant::now();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.write_all(&page).unwrap();
        file.sync_all().unwrap();
        raw.push(start.elapsed());
        let start = Instant::now();
        journal.append(&[entry(n)]).unwrap();
        commit.push(start.elapsed());
    }
    raw.sort_unstable();
    commit.sort_unstable();
    let at = |v: &[Duration], q: usize| v[(v.len() - 1) * q / 100];
    println!(
        "interleaved x{rounds}: raw fsync 4 KiB p50 {:?} p99 {:?}; one-record commit p50 {:?} p99 {:?}; \
         commit/fsync median ratio {:.2}",
        at(&raw, 50),
        at(&raw, 99),
        at(&commit, 50),
        at(&commit, 99),
        at(&commit, 50).as_secs_f64() / at(&raw, 50).as_secs_f64()
    );
    println!(
        "ROW|M12|journal, one record per synced commit: median rate (commit p50 vs raw fsync p50)|≥ 1,000/s|{:.0}/s ({:.2} ms vs {:.2} ms)",
        1.0 / at(&commit, 50).as_secs_f64(),
        at(&commit, 50).as_secs_f64() * 1e3,
        at(&raw, 50).as_secs_f64() * 1e3
    );
    drop(journal);

    // Batched commits and verify, timed once each for the summary (criterion above has the spread).
    let records = verify_records();
    let dir = Dir::new("headline");
    let mut journal = Journal::open(&dir.0).unwrap();
    let start = Instant::now();
    for first in (0..records).step_by(1000) {
        let batch: Vec<Entry> = (first..first + 1000).map(entry).collect();
        journal.append(&batch).unwrap();
    }
    let batched = start.elapsed();
    journal.checkpoint_head().unwrap();
    drop(journal);
    let start = Instant::now();
    assert_eq!(verify(&dir.0).unwrap().records, records);
    let verified = start.elapsed();
    let rate = |d: Duration| f64::from(u32::try_from(records).unwrap()) / d.as_secs_f64();
    println!(
        "ROW|M12|journal, 1,000 records per commit ({records} records)|≥ 40,000/s|{:.0}/s",
        rate(batched)
    );
    println!(
        "ROW|M12|journal verify ({records} records)|≥ 300,000/s|{:.0}/s",
        rate(verified)
    );
}

criterion_group!(benches, append, verify_speed, interleaved_sync_pass);
criterion_main!(benches);
