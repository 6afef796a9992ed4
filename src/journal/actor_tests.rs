//! Actor tests: group commit, `Sync` closing a batch, one failure reaching every waiting caller, HEAD
//! checkpoints, and shutdown. Requests are queued before the writer runs, so batching is deterministic.

use std::time::Duration;

use serde_json::json;
use tokio::task::JoinHandle;

use super::*;
use crate::journal::test_support::{TempDir, entries, entry};
use crate::journal::{Reader, head_path, verify};

type Answer = JoinHandle<Result<Vec<Appended>, JournalError>>;

/// Spawns one `append` per request, in order, and waits (bounded) until all of them are queued.
async fn queue(handle: &JournalHandle, requests: Vec<Vec<Entry>>) -> Vec<Answer> {
    let n = requests.len();
    let answers: Vec<Answer> = requests
        .into_iter()
        .map(|request| {
            let handle = handle.clone();
            tokio::spawn(async move { handle.append(request).await })
        })
        .collect();
    for _ in 0..10_000 {
        if handle.queued() == n {
            return answers;
        }
        tokio::task::yield_now().await;
    }
    panic!("only {} of {n} requests queued", handle.queued());
}

async fn answers(answers: Vec<Answer>) -> Vec<Result<Vec<Appended>, JournalError>> {
    let mut out = Vec::new();
    for answer in answers {
        let result = tokio::time::timeout(Duration::from_secs(10), answer)
            .await
            .expect("answered in time")
            .expect("task ran");
        out.push(result);
    }
    out
}

fn seqs(result: &Result<Vec<Appended>, JournalError>) -> Vec<u64> {
    result.as_ref().expect("appended").iter().map(|a| a.seq).collect()
}

fn sync(n: i64) -> Vec<Entry> {
    let mut e = entry("intent", n);
    e.durability = Durability::Sync;
    vec![e]
}

fn writer(dir: &TempDir, options: WriterOptions) -> (JournalWriter, JournalHandle, u64) {
    let journal = Journal::open(dir.path()).expect("open");
    let commits = journal.commits();
    let (writer, handle) = JournalWriter::new(journal, options, CancellationToken::new());
    (writer, handle, commits)
}

#[tokio::test]
async fn queued_requests_share_a_commit_and_a_sync_entry_caps_it() {
    let dir = TempDir::new("actor-group");
    let options = WriterOptions {
        max_sync_batch: 4,
        ..WriterOptions::default()
    };
    let (writer, handle, commits) = writer(&dir, options);
    let queued = queue(
        &handle,
        vec![
            entries(0, 2),
            entries(2, 1),
            sync(3),
            entries(4, 3),
            entries(7, 1),
        ],
    )
    .await;
    let run = tokio::spawn(writer.run());
    let results = answers(queued).await;
    let got: Vec<Vec<u64>> = results.iter().map(seqs).collect();
    assert_eq!(got, [vec![1, 2], vec![3], vec![4], vec![5, 6, 7], vec![8]]);
    let status = handle.status().borrow().clone();
    assert_eq!(
        status.commits - commits,
        2,
        "[2 + 1 + sync: 4 entries] and [3 + 1]"
    );
    assert_eq!(status.head.seq, 8);
    drop(handle);
    run.await.expect("joins").expect("clean stop");
    assert_eq!(
        verify(dir.path()).expect("verifies").checkpoint,
        Some(8),
        "HEAD at stop"
    );
}

#[tokio::test]
async fn concurrent_intents_share_one_sync() {
    let dir = TempDir::new("actor-intents");
    let (writer, handle, commits) = writer(&dir, WriterOptions::default());
    let queued = queue(&handle, (0..10).map(sync).collect()).await;
    let run = tokio::spawn(writer.run());
    let results = answers(queued).await;
    let got: Vec<Vec<u64>> = results.iter().map(seqs).collect();
    assert_eq!(
        got,
        (1..=10).map(|s| vec![s]).collect::<Vec<_>>(),
        "in arrival order"
    );
    assert_eq!(handle.status().borrow().commits - commits, 1);
    drop(handle);
    run.await.expect("joins").expect("clean stop");
}

#[tokio::test]
async fn a_batch_never_exceeds_max_batch_entries() {
    let dir = TempDir::new("actor-max");
    let options = WriterOptions {
        max_batch: 3,
        ..WriterOptions::default()
    };
    let (writer, handle, commits) = writer(&dir, options);
    let queued = queue(&handle, (0..7).map(|n| entries(n, 1)).collect()).await;
    let run = tokio::spawn(writer.run());
    let results = answers(queued).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(handle.status().borrow().commits - commits, 3, "3 + 3 + 1");
    drop(handle);
    run.await.expect("joins").expect("clean stop");
}

#[tokio::test]
async fn a_sync_append_resolves_only_once_committed() {
    let dir = TempDir::new("actor-sync");
    let cancel = CancellationToken::new();
    let journal = Journal::open(dir.path()).expect("open");
    let (handle, run) = spawn(journal, WriterOptions::default(), cancel.clone());
    let before = handle.status().borrow().commits;
    let appended = handle.append(sync(0)).await.expect("append");
    assert_eq!(handle.status().borrow().commits, before + 1);
    let last = Reader::open(dir.path())
        .expect("reader")
        .last_record()
        .expect("read");
    assert_eq!(
        last.map(|r| (r.seq, r.hash)),
        Some((appended[0].seq, appended[0].hash))
    );
    cancel.cancel();
    run.await.expect("joins").expect("clean stop");
}

#[tokio::test]
async fn a_write_error_reaches_every_waiting_caller_and_every_later_one() {
    let dir = TempDir::new("actor-full");
    let mut journal = Journal::open(dir.path()).expect("open");
    journal.append(&entries(0, 1)).expect("room");
    journal.cap_pages(1).expect("cap");
    let options = WriterOptions {
        max_batch: 2,
        ..WriterOptions::default()
    };
    let (writer, handle) = JournalWriter::new(journal, options, CancellationToken::new());
    let mut big = entry("tool_call", 1);
    big.data = json!({ "blob": "y".repeat(64 * 1024) });
    let queued = queue(
        &handle,
        vec![vec![big.clone()], entries(2, 1), entries(3, 1), entries(4, 1)],
    )
    .await;
    let run = tokio::spawn(writer.run());
    let results = answers(queued).await;
    for (i, result) in results.iter().enumerate() {
        let err = result.as_ref().expect_err("no caller sees success");
        if i < 2 {
            assert!(matches!(err, JournalError::DiskFull { .. }), "{i}: {err:?}");
        } else {
            assert!(matches!(err, JournalError::Poisoned { .. }), "{i}: {err:?}");
        }
    }
    let later = handle.append(entries(5, 1)).await.expect_err("still failing");
    assert!(matches!(later, JournalError::Poisoned { .. }), "{later:?}");
    let status = handle.status().borrow().clone();
    assert!(
        matches!(status.failure, Some(JournalError::DiskFull { .. })),
        "{status:?}"
    );
    assert_eq!(status.head.seq, 1);
    drop(handle);
    let stopped = run.await.expect("joins");
    assert!(
        matches!(stopped, Err(JournalError::DiskFull { .. })),
        "{stopped:?}"
    );
    assert!(!head_path(dir.path()).exists(), "no HEAD written after a failure");
}

#[tokio::test]
async fn an_invalid_entry_fails_only_its_own_request() {
    let dir = TempDir::new("actor-invalid");
    let (writer, handle, commits) = writer(&dir, WriterOptions::default());
    let mut bad = entries(1, 2);
    bad[1].kind = String::new();
    let queued = queue(&handle, vec![entries(0, 1), bad, entries(3, 1)]).await;
    let run = tokio::spawn(writer.run());
    let results = answers(queued).await;
    assert_eq!(seqs(&results[0]), [1]);
    assert!(
        matches!(results[1], Err(JournalError::InvalidEntry { index: 1, .. })),
        "{:?}",
        results[1]
    );
    assert_eq!(seqs(&results[2]), [2]);
    let status = handle.status().borrow().clone();
    assert_eq!((status.commits - commits, status.failure), (1, None));
    drop(handle);
    run.await.expect("joins").expect("clean stop");
}

#[tokio::test]
async fn cancelling_commits_what_is_queued_writes_head_and_then_refuses() {
    let dir = TempDir::new("actor-stop");
    let cancel = CancellationToken::new();
    let journal = Journal::open(dir.path()).expect("open");
    let (writer, handle) = JournalWriter::new(journal, WriterOptions::default(), cancel.clone());
    let queued = queue(&handle, vec![entries(0, 2), entries(2, 2)]).await;
    cancel.cancel();
    let stopped = writer.run().await;
    assert_eq!(stopped, Ok(()));
    let results = answers(queued).await;
    assert_eq!(seqs(&results[1]), [3, 4]);
    assert_eq!(handle.append(entries(4, 1)).await, Err(JournalError::Closed));
    let text = std::fs::read_to_string(head_path(dir.path())).expect("HEAD");
    assert!(text.starts_with("4 "), "{text}");
}

#[tokio::test]
async fn head_is_checkpointed_every_n_records() {
    let dir = TempDir::new("actor-every-n");
    let options = WriterOptions {
        head_every_records: 5,
        ..WriterOptions::default()
    };
    let journal = Journal::open(dir.path()).expect("open");
    let (handle, run) = spawn(journal, options, CancellationToken::new());
    let mut status = handle.status();
    for n in 1..=12_u64 {
        handle.append(entries(0, 1)).await.expect("append");
        // The checkpoint follows the commit; callers do not wait for it.
        let due = n / 5 * 5;
        tokio::time::timeout(Duration::from_secs(5), status.wait_for(|s| s.checkpointed == due))
            .await
            .unwrap_or_else(|_| panic!("HEAD at {due} after {n} records"))
            .expect("writer alive");
    }
    drop(status);
    drop(handle);
    run.await.expect("joins").expect("clean stop");
}

#[tokio::test]
async fn head_is_checkpointed_on_the_interval_when_records_arrived() {
    // tokio's paused clock needs its `test-util` feature, which this crate does not enable: a short real
    // interval, awaited with a bounded timeout, stands in.
    let dir = TempDir::new("actor-interval");
    let options = WriterOptions {
        head_every: Duration::from_millis(20),
        ..WriterOptions::default()
    };
    let journal = Journal::open(dir.path()).expect("open");
    let (handle, run) = spawn(journal, options, CancellationToken::new());
    handle.append(entries(0, 3)).await.expect("append");
    let mut status = handle.status();
    tokio::time::timeout(Duration::from_secs(5), status.wait_for(|s| s.checkpointed == 3))
        .await
        .expect("checkpointed in time")
        .expect("writer alive");
    drop(status);
    drop(handle);
    run.await.expect("joins").expect("clean stop");
}
