//! The journal writer actor: one task owns the [`Journal`] and runs every `SQLite` call on the blocking pool;
//! cloneable [`JournalHandle`]s send it batches. Requests that queue up while a commit is in flight are
//! committed together (group commit: one sync shared by many callers), in arrival order. A batch holding a
//! `Sync` entry stops growing at `max_sync_batch` entries, so an intent never waits for a large backlog
//! queued behind it; `Batch`-only commits grow to `max_batch`. Every caller's future resolves only after
//! its commit (or with the error that stopped it), whatever the durability. It checkpoints `HEAD` every N
//! records, every interval and on a clean stop. It does not decide what a failure means for trading.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{Appended, Durability, Entry, Journal, JournalError};

/// How the writer batches and checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Requests that may wait in the queue before `append` waits for room.
    pub queue: usize,
    /// Most entries in one commit (a single larger request is still committed whole).
    pub max_batch: usize,
    /// Most entries in a commit that holds a `Sync` entry (it stops growing once it reaches this).
    pub max_sync_batch: usize,
    /// Checkpoint `HEAD` after this many records since the last checkpoint.
    pub head_every_records: u64,
    /// Checkpoint `HEAD` at this interval when records arrived since the last one.
    pub head_every: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            queue: 1024,
            max_batch: 4096,
            max_sync_batch: 64,
            head_every_records: 1000,
            head_every: Duration::from_secs(10),
        }
    }
}

/// What the writer has done so far, published after every commit and checkpoint (for the screen's
/// journal head, and for tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterStatus {
    /// The last committed record.
    pub head: Appended,
    /// The seq in `HEAD` as of the last checkpoint.
    pub checkpointed: u64,
    /// Transactions committed since the journal was opened.
    pub commits: u64,
    /// The first failure; once set, every append fails.
    pub failure: Option<JournalError>,
}

struct Request {
    entries: Vec<Entry>,
    reply: oneshot::Sender<Result<Vec<Appended>, JournalError>>,
}

impl Request {
    fn is_sync(&self) -> bool {
        self.entries.iter().any(|e| e.durability == Durability::Sync)
    }
}

/// A cloneable handle to the writer.
#[derive(Debug, Clone)]
pub struct JournalHandle {
    tx: mpsc::Sender<Request>,
    status: watch::Receiver<WriterStatus>,
}

impl JournalHandle {
    /// Appends `entries` (in order, contiguous seqs) and resolves once they are committed and synced.
    /// Once sent, dropping the future does not withdraw them. Fails with [`JournalError::Closed`] after
    /// the writer stopped.
    pub async fn append(&self, entries: Vec<Entry>) -> Result<Vec<Appended>, JournalError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { entries, reply })
            .await
            .map_err(|_| JournalError::Closed)?;
        answer.await.map_err(|_| JournalError::Closed)?
    }

    /// The writer's progress and first failure.
    #[must_use]
    pub fn status(&self) -> watch::Receiver<WriterStatus> {
        self.status.clone()
    }

    /// Requests waiting for the writer.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

/// The writer task; build with [`JournalWriter::new`], then `run` it (or use [`spawn`]).
#[derive(Debug)]
pub struct JournalWriter {
    journal: Option<Journal>,
    rx: mpsc::Receiver<Request>,
    options: WriterOptions,
    cancel: CancellationToken,
    status: watch::Sender<WriterStatus>,
    since_head: u64,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// Starts a writer for `journal` on the current runtime; it stops when `cancel` fires or every handle
/// is dropped, and its task ends with the first failure, if any.
pub fn spawn(
    journal: Journal,
    options: WriterOptions,
    cancel: CancellationToken,
) -> (JournalHandle, JoinHandle<Result<(), JournalError>>) {
    let (writer, handle) = JournalWriter::new(journal, options, cancel);
    (handle, tokio::spawn(writer.run()))
}

impl JournalWriter {
    /// A writer that owns `journal`, and its first handle.
    #[must_use]
    pub fn new(journal: Journal, options: WriterOptions, cancel: CancellationToken) -> (Self, JournalHandle) {
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let (status, status_rx) = watch::channel(WriterStatus {
            head: journal.head(),
            checkpointed: journal.checkpointed(),
            commits: journal.commits(),
            failure: None,
        });
        let writer = JournalWriter {
            journal: Some(journal),
            rx,
            options,
            cancel,
            status,
            since_head: 0,
        };
        (
            writer,
            JournalHandle {
                tx,
                status: status_rx,
            },
        )
    }

    /// Serves requests until cancelled or every handle is gone; then commits what is still queued and
    /// checkpoints `HEAD` (unless the journal failed). Returns the first failure, if any.
    pub async fn run(mut self) -> Result<(), JournalError> {
        let every = self.options.head_every.max(Duration::from_millis(1));
        let mut tick = tokio::time::interval_at(Instant::now() + every, every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                request = self.rx.recv() => match request {
                    Some(first) => self.commit_batch(first).await,
                    None => break,
                },
                _ = tick.tick() => {
                    if self.since_head > 0 {
                        self.checkpoint().await;
                    }
                }
            }
        }
        self.rx.close();
        while let Some(first) = self.rx.recv().await {
            self.commit_batch(first).await;
        }
        let behind = {
            let status = self.status.borrow();
            status.failure.is_none() && (self.since_head > 0 || status.checkpointed != status.head.seq)
        };
        if behind {
            self.checkpoint().await;
        }
        match self.status.borrow().failure.clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Commits `first` and whatever queued behind it, up to `max_batch` entries (`max_sync_batch` once
    /// the batch holds a `Sync` entry).
    async fn commit_batch(&mut self, first: Request) {
        let mut count = first.entries.len();
        let mut sync = first.is_sync();
        let mut requests = vec![first];
        loop {
            let limit = if sync {
                self.options.max_sync_batch
            } else {
                self.options.max_batch
            };
            if count >= limit {
                break;
            }
            let Ok(next) = self.rx.try_recv() else { break };
            count += next.entries.len();
            sync |= next.is_sync();
            requests.push(next);
        }
        while !requests.is_empty() {
            let sizes: Vec<usize> = requests.iter().map(|r| r.entries.len()).collect();
            let entries: Vec<Entry> = requests
                .iter_mut()
                .flat_map(|r| std::mem::take(&mut r.entries))
                .collect();
            let result = self
                .with_journal(move |j| {
                    let result = j.append(&entries);
                    (entries, result)
                })
                .await;
            match result {
                Ok((_, Ok(appended))) => {
                    self.since_head += appended.len() as u64;
                    let mut rest = appended.as_slice();
                    for (request, size) in requests.drain(..).zip(sizes) {
                        let (mine, others) = rest.split_at(size.min(rest.len()));
                        rest = others;
                        let _ = request.reply.send(Ok(mine.to_vec()));
                    }
                }
                // Nothing was written: answer the request that holds the bad entry, commit the others.
                Ok((entries, Err(JournalError::InvalidEntry { index, message }))) => {
                    let mut entries = entries.into_iter();
                    for (request, size) in requests.iter_mut().zip(&sizes) {
                        request.entries = entries.by_ref().take(*size).collect();
                    }
                    let (owner, index) = owner_of(&sizes, index);
                    let request = requests.remove(owner);
                    let _ = request
                        .reply
                        .send(Err(JournalError::InvalidEntry { index, message }));
                }
                Ok((_, Err(e))) | Err(e) => {
                    let e = self.failed(e);
                    for request in requests.drain(..) {
                        let _ = request.reply.send(Err(e.clone()));
                    }
                }
            }
        }
        self.publish();
        if self.since_head >= self.options.head_every_records {
            self.checkpoint().await;
        }
    }

    async fn checkpoint(&mut self) {
        match self.with_journal(Journal::checkpoint_head).await {
            Ok(Ok(())) => self.since_head = 0,
            Ok(Err(e)) | Err(e) => {
                self.failed(e);
            }
        }
        self.publish();
    }

    /// Runs `f` on the journal on the blocking pool; a panic there loses the journal for good.
    async fn with_journal<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Journal) -> T + Send + 'static,
    ) -> Result<T, JournalError> {
        let Some(mut journal) = self.journal.take() else {
            return Err(JournalError::Poisoned {
                first: "the journal writer lost its connection".to_owned(),
            });
        };
        match tokio::task::spawn_blocking(move || {
            let out = f(&mut journal);
            (journal, out)
        })
        .await
        {
            Ok((journal, out)) => {
                self.journal = Some(journal);
                Ok(out)
            }
            Err(panic) => Err(JournalError::Poisoned {
                first: format!("the journal's blocking task failed: {panic}"),
            }),
        }
    }

    /// Records the first write failure (an invalid entry is the caller's problem, not the journal's).
    fn failed(&mut self, e: JournalError) -> JournalError {
        if !matches!(e, JournalError::InvalidEntry { .. }) {
            self.status.send_if_modified(|status| {
                let first = status.failure.is_none();
                if first {
                    status.failure = Some(e.clone());
                }
                first
            });
        }
        e
    }

    fn publish(&self) {
        if let Some(journal) = &self.journal {
            self.status.send_modify(|status| {
                status.head = journal.head();
                status.checkpointed = journal.checkpointed();
                status.commits = journal.commits();
            });
        }
    }
}

/// Which request (by their `sizes`) holds entry `index` of the combined batch, and its index there.
fn owner_of(sizes: &[usize], mut index: usize) -> (usize, usize) {
    for (i, &size) in sizes.iter().enumerate() {
        if index < size {
            return (i, index);
        }
        index -= size;
    }
    (sizes.len().saturating_sub(1), index)
}

#[cfg(test)]
#[path = "actor_tests.rs"]
mod tests;
