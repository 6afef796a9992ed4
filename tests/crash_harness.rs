//! The crash harness (RELIABILITY.md P10, P11, P16): a child engine (`cockpit-crash-child`) sends orders
//! to a ledger "broker" and is aborted at every named failpoint (× 5, at its 1st…5th passage) and killed
//! with SIGKILL at random moments. After each crash the next child recovers from the same state dir, and:
//! - `journal verify` passes: the chain, `HEAD` and the `SQLite` integrity check;
//! - nothing the child reported durable (`intent REF`) is missing from the journal;
//! - every order the broker received has its intent in the journal (write-ahead), and none was received
//!   twice (an intent in doubt is never resent);
//! - no intent is both lost and sent: an intent the broker has is never marked not sent, and once a child
//!   has started cleanly every intent is either at the broker or recorded as not sent;
//! - order ids never repeat.
//!
//! Random kills: 10 in the quick tier, 100 with `COCKPIT_HEAVY=1`, any number with `COCKPIT_CRASH_KILLS`
//! (the soak: `COCKPIT_CRASH_KILLS=1000 cargo test --release --features failpoints --test crash_harness`);
//! `COCKPIT_CRASH_SEED` replays a run's kill times.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use cockpit::journal::{self, Reader, kinds};
use rand::{Rng as _, SeedableRng as _};
use tokio::process::Command;

const CHILD: &str = env!("CARGO_BIN_EXE_cockpit-crash-child");
const POINTS: [&str; 4] = [
    "after_intent_commit",
    "before_send",
    "after_send_before_ack",
    "mid_batch",
];
/// The longest one child may run before the harness calls it hung.
const CHILD_LIMIT: Duration = Duration::from_mins(1);

/// A state dir and its ledger under the system temp dir, removed on drop.
struct Scene {
    dir: PathBuf,
    ledger: PathBuf,
    /// Every `intent REF` line any child printed.
    said: BTreeSet<String>,
}

impl Scene {
    fn new(name: &str) -> Scene {
        let dir = std::env::temp_dir().join(format!("cockpit-crash-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ledger = dir.join("broker-ledger.txt");
        Scene {
            dir: dir.join("state"),
            ledger,
            said: BTreeSet::new(),
        }
    }

    fn command(&self, count: u64, failpoint: Option<&str>) -> Command {
        let mut c = Command::new(CHILD);
        c.arg(&self.dir)
            .arg(&self.ledger)
            .arg(count.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        match failpoint {
            Some(point) => c.env("COCKPIT_FAILPOINT", point),
            None => c.env_remove("COCKPIT_FAILPOINT"),
        };
        c
    }

    /// Runs a child to its end (bounded by [`CHILD_LIMIT`]); returns how it ended and its stderr.
    async fn run(&mut self, count: u64, failpoint: Option<&str>) -> (ExitStatus, String) {
        let child = self.command(count, failpoint).spawn().unwrap();
        let output = tokio::time::timeout(CHILD_LIMIT, child.wait_with_output())
            .await
            .expect("the child hung")
            .unwrap();
        self.take_said(&output.stdout);
        (
            output.status,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Starts a child sending forever and SIGKILLs it after `after`.
    async fn kill_after(&mut self, after: Duration) {
        let mut child = self.command(0, None).spawn().unwrap();
        tokio::time::sleep(after).await;
        child.start_kill().unwrap();
        let output = tokio::time::timeout(CHILD_LIMIT, child.wait_with_output())
            .await
            .expect("the killed child did not end")
            .unwrap();
        self.take_said(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.signal() == Some(9) || output.status.success(),
            "the child failed on its own: {:?} {stderr}",
            output.status
        );
    }

    fn take_said(&mut self, stdout: &[u8]) {
        let text = String::from_utf8_lossy(stdout);
        self.said.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("intent "))
                .map(str::to_owned),
        );
    }

    /// The invariants of the module doc; `settled`: a child has started since the last crash.
    fn check(&self, settled: bool) -> usize {
        if !journal::db_path(&self.dir).exists() {
            assert!(self.said.is_empty());
            return 0;
        }
        journal::verify(&self.dir).unwrap_or_else(|e| panic!("verify after a crash: {e}"));
        let records = Reader::open(&self.dir).unwrap().records(1).unwrap();
        let mut intents: BTreeMap<String, u64> = BTreeMap::new();
        let mut ids = BTreeSet::new();
        let mut unsent = BTreeSet::new();
        for r in &records {
            let proposal = r.data["proposal"].as_u64();
            match r.kind.as_str() {
                kinds::INTENT => {
                    let order_ref = r.data["order_ref"].as_str().unwrap().to_owned();
                    assert!(
                        ids.insert(r.data["order_id"].as_i64().unwrap()),
                        "order id reused: {r:?}"
                    );
                    assert!(
                        intents.insert(order_ref, proposal.unwrap()).is_none(),
                        "orderRef reused: {r:?}"
                    );
                }
                kinds::NOT_SENT => {
                    unsent.insert(proposal.unwrap());
                }
                kinds::IN_DOUBT if r.data["found"] == false => {
                    unsent.insert(proposal.unwrap());
                }
                _ => {}
            }
        }
        for said in &self.said {
            assert!(intents.contains_key(said), "reported durable, missing: {said}");
        }
        let ledger = std::fs::read_to_string(&self.ledger).unwrap_or_default();
        let mut at_broker = BTreeSet::new();
        for line in ledger.lines() {
            let order_ref = line.split(' ').next().unwrap().to_owned();
            let proposal = intents
                .get(&order_ref)
                .unwrap_or_else(|| panic!("sent without a durable intent: {line}"));
            assert!(at_broker.insert(*proposal), "sent twice: {line}");
        }
        for (order_ref, proposal) in &intents {
            let sent = at_broker.contains(proposal);
            let lost = unsent.contains(proposal);
            assert!(
                !(sent && lost),
                "{order_ref} is at the broker and marked not sent"
            );
            if settled {
                assert!(sent || lost, "{order_ref} is still in doubt after a clean start");
            }
        }
        at_broker.len()
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        if let Some(root) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

#[tokio::test]
async fn a_child_aborted_at_every_failpoint_recovers_without_losing_or_repeating_an_order() {
    for point in POINTS {
        let mut scene = Scene::new(point);
        for nth in 1..=5 {
            let (status, stderr) = scene.run(20, Some(&format!("{point}@{nth}"))).await;
            assert_eq!(
                status.signal(),
                Some(6),
                "{point}@{nth} should abort the child: {status:?} {stderr}"
            );
            scene.check(false);
            let (status, stderr) = scene.run(2, None).await;
            assert!(status.success(), "restart after {point}@{nth}: {stderr}");
            scene.check(true);
        }
        let sent = scene.check(true);
        assert!(sent >= 10, "{point}: only {sent} orders reached the broker");
    }
}

#[tokio::test]
async fn a_child_killed_at_random_moments_recovers_without_losing_or_repeating_an_order() {
    let kills: u32 = std::env::var("COCKPIT_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if std::env::var_os("COCKPIT_HEAVY").is_some() {
            100
        } else {
            10
        });
    let seed: u64 = std::env::var("COCKPIT_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut scene = Scene::new("random");
    for kill in 0..kills {
        let after = Duration::from_millis(rng.random_range(0..400));
        scene.kill_after(after).await;
        let sent = std::panic::catch_unwind(|| scene.check(false));
        assert!(
            sent.is_ok(),
            "kill {kill} after {after:?} broke an invariant (COCKPIT_CRASH_SEED={seed})"
        );
    }
    let (status, stderr) = scene.run(3, None).await;
    assert!(
        status.success(),
        "clean restart (COCKPIT_CRASH_SEED={seed}): {stderr}"
    );
    let sent = scene.check(true);
    assert!(
        sent >= 3,
        "only {sent} orders reached the broker in {kills} runs (COCKPIT_CRASH_SEED={seed})"
    );
}
