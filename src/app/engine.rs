//! The headless `Engine`: the core with its journal writer (and, as later issues add them, the broker and
//! agent actors), no terminal. It carries out effects in order with the write-ahead rule: every journal
//! record of a step is committed — the intent with a full sync — before the order it covers is handed to
//! the broker; cancels never wait on the journal; a journal failure or a sync past its deadline halts.
//! Messages can be handed over in batches ([`Engine::handle_all`]): the records of consecutive messages
//! that need no sync are then committed together, under the same rule.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde_json::json;
use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::lock::{LockError, StateLock};
use super::msg::{Effect, JournalRecord, Msg, PlaceOrder};
use super::state::State;
use crate::config::{Agent, Profile};
use crate::domain::{OrderId, ProposalId};
use crate::journal::{
    self, Durability, Entry, Envelope, Journal, JournalError, JournalHandle, Reader, WriterOptions, kinds,
};

/// The longest a synced commit may take before trading halts.
pub const SYNC_DEADLINE: StdDuration = StdDuration::from_secs(2);

/// Where orders go: the broker actor, or a recorder in tests and dry-run.
pub trait BrokerPort: Send {
    /// Hands an approved, journaled order to the broker.
    fn place(&mut self, order: PlaceOrder);
    /// Asks the broker to cancel an order.
    fn cancel(&mut self, order_id: OrderId);
    /// Asks the broker for IB's global cancel (every open order of the account).
    fn global_cancel(&mut self);
    /// Asks the broker to check its positions against the cockpit's again soon (a difference seen once
    /// proves nothing while a fill may be in flight). Required, so that no wrapper swallows it.
    fn check_positions(&mut self);
    /// The trading state's current epoch, told after every message: a `Place` approved under an older
    /// one must be dropped, never sent.
    fn trading_epoch(&mut self, _epoch: u64) {}
}

/// Why the engine could not start.
#[derive(Debug, Error)]
pub enum EngineError {
    /// Another cockpit holds the state dir.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// The journal could not be opened or the start record not written.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Aborts the process at the named point when built with the `failpoints` feature and
/// `COCKPIT_FAILPOINT` names it: `NAME` aborts the first time the point is reached, `NAME@N` the N-th time.
/// Points: `after_intent_commit`, `before_send`, `after_send_before_ack` (after handing the order to the
/// broker port), `mid_batch`, and in the broker adapter `after_gateway_send` (the order is on the wire to
/// the gateway, its acknowledgement not yet read).
#[inline]
pub fn failpoint(name: &str) {
    #[cfg(feature = "failpoints")]
    if let Ok(spec) = std::env::var("COCKPIT_FAILPOINT") {
        use std::sync::atomic::{AtomicU64, Ordering};
        static HITS: AtomicU64 = AtomicU64::new(0);
        let (point, nth) = spec
            .split_once('@')
            .map_or((spec.as_str(), 1), |(p, n)| (p, n.parse().unwrap_or(1)));
        if point == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 >= nth {
            tracing::error!(failpoint = name, "failpoint reached: aborting");
            std::process::abort();
        }
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

/// The core, its journal and its broker port.
#[derive(Debug)]
pub struct Engine<B: BrokerPort> {
    state: State,
    journal: JournalHandle,
    writer: Option<JoinHandle<Result<(), JournalError>>>,
    cancel: CancellationToken,
    envelope: Envelope,
    broker: B,
    _lock: StateLock,
}

impl<B: BrokerPort + std::fmt::Debug> Engine<B> {
    /// Locks `state_dir`, opens the journal and records the start with the config hash.
    pub async fn start(
        state_dir: &Path,
        profile: Profile,
        agents: Vec<Agent>,
        config_hash: &str,
        broker: B,
        now: DateTime<Utc>,
    ) -> Result<Self, EngineError> {
        let lock = StateLock::acquire(state_dir).await?;
        let journal = Journal::open(state_dir)?;
        Self::start_with(
            lock,
            journal,
            state_dir,
            (profile, agents, config_hash),
            broker,
            now,
        )
        .await
    }

    /// [`Engine::start`] on a lock and journal the caller opened (tests inject write faults into the
    /// journal, e.g. [`Journal::cap_pages`]). `setup` is the profile, the agents and the config hash.
    pub async fn start_with(
        lock: StateLock,
        journal: Journal,
        state_dir: &Path,
        setup: (Profile, Vec<Agent>, &str),
        broker: B,
        now: DateTime<Utc>,
    ) -> Result<Self, EngineError> {
        let (profile, agents, config_hash) = setup;
        let mut state = State::new(profile.clone(), agents);
        super::recover::recover(&mut state, &Reader::open(state_dir)?.records(1)?, now);
        let cancel = CancellationToken::new();
        let (handle, writer) = journal::spawn(journal, WriterOptions::default(), cancel.clone());
        let envelope = Envelope {
            profile: profile.name.clone(),
            gateway: format!("{}:{}", profile.host, profile.port),
            account: profile
                .accounts
                .first()
                .map(ToString::to_string)
                .unwrap_or_default(),
            client_id: profile.client_id,
        };
        let start = Entry {
            at: now,
            envelope: envelope.clone(),
            kind: kinds::START.into(),
            data: json!({"config_hash": config_hash, "mode": profile.mode.as_str(),
                         "version": env!("CARGO_PKG_VERSION"),
                         "timezone": profile.policy.session.timezone.name()}),
            durability: Durability::Sync,
        };
        handle.append(vec![start]).await?;
        let mut engine = Self {
            state,
            journal: handle,
            writer: Some(writer),
            cancel,
            envelope,
            broker,
            _lock: lock,
        };
        // Journals what recovery raised and expires what waited too long while the cockpit was down.
        engine.handle(Msg::Tick, now).await;
        Ok(engine)
    }

    /// The core's state, for reading.
    #[must_use]
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Takes the alert thresholds of the config (`[alerts]`).
    pub fn configure_alerts(&mut self, alerts: &crate::config::AlertSettings) {
        self.state.cushion_warning = alerts.margin_cushion_warning;
        self.state.heartbeat_secs = alerts.agent_heartbeat_secs;
        self.state.gateway_restart = alerts.gateway_restart.map(|at| {
            (
                at,
                chrono::Duration::minutes(i64::from(alerts.gateway_restart_warning_mins)),
            )
        });
    }

    /// The broker port (tests inspect what was sent).
    pub fn broker(&mut self) -> &mut B {
        &mut self.broker
    }

    /// The journal writer's handle (for its status).
    #[must_use]
    pub fn journal(&self) -> &JournalHandle {
        &self.journal
    }

    /// Feeds `msg` at `now` and carries out every effect, feeding the journal's outcomes back until quiet.
    pub async fn handle(&mut self, msg: Msg, now: DateTime<Utc>) {
        self.handle_all(vec![msg], now).await;
    }

    /// Feeds `msgs` at `now`, in order, each as [`Engine::handle`] would, but commits the records that need
    /// no sync of consecutive messages together, in one journal append: a reconciliation that brings 1,000
    /// new commission reports costs one commit, not 1,000. The write-ahead rule is unchanged: an order is
    /// handed to the broker only after everything recorded before it (its synced intent included) is
    /// committed; a message's synced records are committed before the next message is handled; cancels
    /// never wait on the journal; a failed commit comes back as `JournalFailed`, which halts.
    pub async fn handle_all(&mut self, msgs: Vec<Msg>, now: DateTime<Utc>) {
        let mut batch = VecDeque::from(msgs);
        // Recorded, not yet committed: committed before an order leaves, with a synced record, and at the end.
        let mut pending: Vec<JournalRecord> = Vec::new();
        loop {
            while let Some(msg) = batch.pop_front() {
                // A message's follow-ups (an intent committed, a journal failure) come before the next one.
                let mut inbox = VecDeque::from([msg]);
                while let Some(msg) = inbox.pop_front() {
                    self.apply(msg, now, &mut pending, &mut inbox).await;
                    if pending.iter().any(|r| r.sync) {
                        self.flush(std::mem::take(&mut pending), now, &mut inbox).await;
                    }
                }
            }
            // What is still pending needs no sync; a failure to commit it comes back to be handled.
            self.flush(std::mem::take(&mut pending), now, &mut batch).await;
            if batch.is_empty() {
                return;
            }
        }
    }

    /// Applies one message and carries out its effects in order; its records join `pending`.
    async fn apply(
        &mut self,
        msg: Msg,
        now: DateTime<Utc>,
        pending: &mut Vec<JournalRecord>,
        inbox: &mut VecDeque<Msg>,
    ) {
        let effects = self.state.update(msg, now);
        self.broker.trading_epoch(self.state.trading.epoch());
        for (done, effect) in effects.into_iter().enumerate() {
            if done == 1 {
                failpoint("mid_batch");
            }
            match effect {
                Effect::Journal(r) => pending.push(r),
                // Cancels never wait on the journal.
                Effect::Cancel { order_id } => self.broker.cancel(order_id),
                Effect::GlobalCancel => self.broker.global_cancel(),
                Effect::CheckPositions => self.broker.check_positions(),
                Effect::Place(order) => {
                    // Write-ahead: everything recorded so far is committed before the order leaves.
                    if self.flush(std::mem::take(pending), now, inbox).await {
                        self.send(*order, pending);
                    } else {
                        inbox.push_back(Msg::PlaceDropped {
                            id: order.proposal,
                            reason: "the records before it could not be committed".into(),
                        });
                    }
                }
            }
        }
    }

    /// Hands `order` to the broker; its `sent` record joins `pending` (a crash before it is committed
    /// leaves the intent in doubt, which recovery resolves at the broker, never by resending).
    fn send(&mut self, order: PlaceOrder, pending: &mut Vec<JournalRecord>) {
        failpoint("before_send");
        let record = JournalRecord {
            kind: kinds::SENT,
            data: json!({"proposal": order.proposal.0, "order_id": order.order_id.get(), "order_ref": order.order_ref}),
            sync: false,
        };
        self.broker.place(order);
        failpoint("after_send_before_ack");
        pending.push(record);
    }

    /// Commits `records` in one request; returns whether it succeeded. A committed intent comes back as
    /// `IntentCommitted`; a failure (or a sync past [`SYNC_DEADLINE`]) as `JournalFailed`.
    async fn flush(
        &mut self,
        records: Vec<JournalRecord>,
        now: DateTime<Utc>,
        inbox: &mut VecDeque<Msg>,
    ) -> bool {
        if records.is_empty() {
            return true;
        }
        let intents: Vec<ProposalId> = records
            .iter()
            .filter(|r| r.kind == "intent")
            .filter_map(|r| r.data["proposal"].as_u64().map(ProposalId))
            .collect();
        let sync = records.iter().any(|r| r.sync);
        let entries: Vec<Entry> = records
            .into_iter()
            .map(|r| Entry {
                at: now,
                envelope: self.envelope.clone(),
                kind: r.kind.to_string(),
                data: r.data,
                durability: if r.sync {
                    Durability::Sync
                } else {
                    Durability::Batch
                },
            })
            .collect();
        let outcome = if sync {
            match tokio::time::timeout(SYNC_DEADLINE, self.journal.append(entries)).await {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(_) => Err(format!(
                    "a synced commit took longer than {} s",
                    SYNC_DEADLINE.as_secs()
                )),
            }
        } else {
            self.journal.append(entries).await.map_err(|e| e.to_string())
        };
        match outcome {
            Ok(_) => {
                if !intents.is_empty() {
                    failpoint("after_intent_commit");
                }
                inbox.extend(intents.into_iter().map(|id| Msg::IntentCommitted { id }));
                true
            }
            Err(error) => {
                tracing::error!(%error, "journal failure: halting");
                inbox.push_back(Msg::JournalFailed { error });
                false
            }
        }
    }

    /// Stops the journal writer (committing what is queued and checkpointing `HEAD`) and releases the lock.
    pub async fn stop(mut self) -> Result<(), JournalError> {
        self.cancel.cancel();
        match self.writer.take() {
            Some(writer) => writer.await.unwrap_or(Err(JournalError::Closed)),
            None => Ok(()),
        }
    }
}
