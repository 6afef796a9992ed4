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
//! The same holds through the real broker adapter against the simulator (the gateway's ledger is the
//! broker's memory): a child aborted after the intent's commit, before the send, and after the order went
//! on the wire to the gateway before its ack (`after_gateway_send`) leaves no duplicate and no lost order
//! at the gateway.
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
    /// The simulator's port, when the child trades through the broker adapter.
    gateway: Option<u16>,
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
            gateway: None,
            said: BTreeSet::new(),
        }
    }

    fn command(&self, count: u64, failpoint: Option<&str>) -> Command {
        let mut c = Command::new(CHILD);
        c.arg(&self.dir);
        match self.gateway {
            Some(port) => c.arg("--gateway").arg(port.to_string()),
            None => c.arg(&self.ledger),
        };
        c.arg(count.to_string())
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
        let ledger = std::fs::read_to_string(&self.ledger).unwrap_or_default();
        self.check_against(settled, &ledger)
    }

    /// [`Scene::check`] against a broker ledger of lines `ORDER_REF ...`.
    fn check_against(&self, settled: bool, ledger: &str) -> usize {
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
        // A failed run's state dir stays for a look (its path is in the failure's message).
        if std::thread::panicking() {
            return;
        }
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

/// The simulator's ledger as lines `ORDER_REF ORDER_ID`: every order client 1 placed and it accepted.
async fn gateway_ledger(sim: &cockpit::sim::SimHandle) -> String {
    use std::fmt::Write as _;
    let mut lines = String::new();
    for e in sim.ledger().await.unwrap() {
        if e.client_id == 1
            && e.kind == cockpit::sim::EntryKind::Place
            && e.outcome == cockpit::sim::Outcome::Accepted
        {
            let _ = writeln!(
                lines,
                "{} {}",
                e.order_ref.unwrap_or_default(),
                e.order_id.unwrap_or_default()
            );
        }
    }
    lines
}

#[tokio::test]
async fn through_the_adapter_a_crash_around_the_send_neither_loses_nor_repeats_an_order() {
    for point in ["after_intent_commit", "before_send", "after_gateway_send"] {
        // One gateway per scene: its ledger is that scene's broker memory.
        let sim = cockpit::sim::start("127.0.0.1:0".parse().unwrap(), cockpit::sim::SimConfig::default())
            .await
            .unwrap();
        let mut scene = Scene::new(&format!("gateway-{point}"));
        scene.gateway = Some(sim.addr().port());
        for nth in 1..=3 {
            let (status, stderr) = scene.run(10, Some(&format!("{point}@{nth}"))).await;
            assert_eq!(
                status.signal(),
                Some(6),
                "{point}@{nth} in {}: {status:?} {stderr}",
                scene.dir.display()
            );
            scene.check_against(false, &gateway_ledger(&sim).await);
            let (status, stderr) = scene.run(1, None).await;
            assert!(status.success(), "restart after {point}@{nth}: {stderr}");
            scene.check_against(true, &gateway_ledger(&sim).await);
        }
        let sent = scene.check_against(true, &gateway_ledger(&sim).await);
        assert!(sent >= 3, "{point}: only {sent} orders reached the gateway");
        // Each crash left an intent in doubt, which the adapter resolved at the gateway: adopted when the
        // order was on the wire, not sent when it never left.
        let resolved: Vec<bool> = Reader::open(&scene.dir)
            .unwrap()
            .records(1)
            .unwrap()
            .iter()
            .filter(|r| r.kind == kinds::IN_DOUBT)
            .map(|r| r.data["found"] == true)
            .collect();
        let expected = point == "after_gateway_send";
        assert_eq!(resolved, [expected; 3], "{point}");
        sim.shutdown().await;
    }
}
