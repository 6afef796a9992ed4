//! The app shell under a feed (PERFORMANCE M1, M2, M4–M8): the real `shell::run` loop, drawing a 200×50
//! screen through ratatui's crossterm backend and the cockpit's own frame writer into a counting writer,
//! against `cockpit sim` run as a child process on 127.0.0.1 (port 0) — so this process's CPU time is the
//! cockpit's alone. The paper profile's allowlist is every simulated instrument (24), all quoted.
//!
//! Phases, each with a fresh simulator, state dir and shell:
//! - `idle`: a market that does not move (`--tick-ms 3600000`): idle CPU (M4) and bytes to the terminal
//!   (M6, idle) — the clock, quote ages and heartbeats are all that change;
//! - `quiet`: the simulator's ordinary walk (about 2.4 quote changes a second per instrument), for
//!   comparison;
//! - `flood`: 10,000 broker events a second (TWS tick messages: a price with its size, a volume, a
//!   timestamp; a quote change is one to five of them) over the 24 instruments, and a key (Tab) every 250 ms: quote
//!   receipt → frame flushed (M1), key → frame flushed (M2), CPU (M5), bytes per second (M6), writes per
//!   frame (M7);
//! - `burst`: 100,000 tick messages a second: M1's worst case;
//! - `soak` (`-- --soak`, instead of the others, alone in its process): 10,000 a second until 2 × 10⁶
//!   broker messages were handled: resident memory at the start, after 10⁶ and after 2 × 10⁶ (M8).
//!
//! M1 is measured from the adapter's receipt of a quote (its decode, where `received_at` is stamped) to the
//! flush of the first frame that shows it; M2 from the shell's read of the key to the flush of its frame.
//! Both leave out the loopback socket and the terminal emulator.
//!
//! Run: `cargo bench --bench shell`; `cargo bench --bench shell -- --soak` for M8. `cargo test` runs a short
//! smoke pass.

#![expect(clippy::unwrap_used, clippy::print_stdout, reason = "a benchmark")]

#[path = "harness/mod.rs"]
mod harness;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cockpit::app::shell::{FrameReport, Probe, Setup};
use cockpit::domain::{Currency, Instrument, SecType, Symbol};
use cockpit::ui::Theme;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// `cargo bench` passes `--bench`; under `cargo test` each phase shrinks to a smoke pass.
fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn soaking() -> bool {
    std::env::args().any(|a| a == "--soak")
}

/// What the terminal received.
#[derive(Debug, Default)]
struct Counts {
    bytes: AtomicU64,
    writes: AtomicU64,
}

/// The terminal: counts bytes and write calls (each one a `write(2)` on a real terminal).
#[derive(Debug, Clone)]
struct Counting(Arc<Counts>);

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.0.writes.fetch_add(1, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The simulator's feed in a phase.
#[derive(Debug, Clone, Copy)]
enum Feed {
    /// The market does not move.
    Still,
    /// The ordinary walk.
    Walk,
    /// The walk and a flood of this many tick messages a second.
    Flood(u32),
}

impl Feed {
    /// The simulator's arguments for this feed.
    fn args(self) -> Vec<std::ffi::OsString> {
        match self {
            Feed::Still => vec!["--tick-ms".into(), "3600000".into()],
            Feed::Walk => vec![],
            Feed::Flood(rate) => vec!["--flood".into(), rate.to_string().into()],
        }
    }
}

fn start_sim(feed: Feed, state_dir: &Path) -> harness::Sim {
    let args = feed.args();
    harness::Sim::start(state_dir, &args.iter().map(AsRef::as_ref).collect::<Vec<_>>())
}

/// The demo's config on `port`, every simulated instrument allowed (and so quoted).
fn config(port: u16) -> cockpit::config::Config {
    let mut config = cockpit::demo::config(port, port).unwrap();
    let paper = config.profiles.get_mut("paper").unwrap();
    paper.policy.symbols = cockpit::sim::catalogue::LISTINGS
        .iter()
        .map(|l| Instrument {
            symbol: Symbol::parse(l.symbol).unwrap(),
            sec_type: SecType::Stk,
            currency: Currency::USD,
            primary_exchange: l.primary_exchange.to_owned(),
        })
        .collect();
    config
}

/// CPU time (user + system) of this process.
fn cpu() -> Duration {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).unwrap();
    let (user, system) = (usage.user_time(), usage.system_time());
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(t.tv_sec()).unwrap())
            + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap())
    };
    micros(user) + micros(system)
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// A running shell on a simulator.
struct Run {
    frames: Arc<Mutex<Vec<FrameReport>>>,
    counts: Arc<Counts>,
    keys: mpsc::UnboundedSender<std::io::Result<Event>>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    dir: PathBuf,
    _sim: harness::Sim,
}

impl Run {
    /// Starts a simulator with `feed` and a shell on it; returns once quotes reach the screen.
    async fn start(name: &str, feed: Feed) -> Self {
        let dir = std::env::temp_dir().join(format!("cockpit-bench-shell-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sim = start_sim(feed, &dir.join("sim"));
        let frames = Arc::new(Mutex::new(Vec::new()));
        let probe = {
            let frames = Arc::clone(&frames);
            Probe(Arc::new(move |report| frames.lock().unwrap().push(report)))
        };
        let setup = Setup {
            profile: "paper".into(),
            config: config(sim.port),
            state_dir: dir.join("state"),
            theme: Theme::named("dark", false, false).unwrap(),
            live_label: "LIVE".into(),
            probe: Some(probe),
        };
        let counts = Arc::new(Counts::default());
        let shutdown = CancellationToken::new();
        let (keys, task) = harness::spawn_shell(setup, Counting(Arc::clone(&counts)), &shutdown);
        let run = Self {
            frames,
            counts,
            keys,
            shutdown,
            task,
            dir,
            _sim: sim,
        };
        // Connected, reconciled and quoting: a frame that shows quotes.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !run.frames.lock().unwrap().iter().any(|f| f.quote_wait.is_some()) {
            assert!(
                Instant::now() < deadline,
                "{name}: no quotes on screen within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Past the start: the subscriptions' first snapshots and the reconciliation.
        tokio::time::sleep(Duration::from_secs(if benching() { 2 } else { 0 })).await;
        run
    }

    /// Measures for `length`, pressing Tab every `key_every` if set.
    async fn measure(&self, length: Duration, key_every: Option<Duration>) -> Measured {
        self.frames.lock().unwrap().clear();
        let (bytes, writes, cpu0, at) = (
            self.counts.bytes.load(Ordering::Relaxed),
            self.counts.writes.load(Ordering::Relaxed),
            cpu(),
            Instant::now(),
        );
        let mut next_key = key_every.map(|every| at + every);
        while at.elapsed() < length {
            let until = next_key.map_or(at + length, |k| k.min(at + length));
            tokio::time::sleep_until(until.into()).await;
            if let (Some(k), Some(every)) = (next_key, key_every)
                && Instant::now() >= k
            {
                let tab = KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE);
                self.keys.send(Ok(Event::Key(tab))).unwrap();
                next_key = Some(k + every);
            }
        }
        let wall = at.elapsed();
        let frames = std::mem::take(&mut *self.frames.lock().unwrap());
        Measured {
            wall,
            cpu: cpu().saturating_sub(cpu0),
            bytes: self.counts.bytes.load(Ordering::Relaxed) - bytes,
            writes: self.counts.writes.load(Ordering::Relaxed) - writes,
            frames,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One phase's numbers.
struct Measured {
    wall: Duration,
    cpu: Duration,
    bytes: u64,
    writes: u64,
    frames: Vec<FrameReport>,
}

impl Measured {
    fn cpu_pct(&self) -> f64 {
        100.0 * self.cpu.as_secs_f64() / self.wall.as_secs_f64()
    }

    fn bytes_per_sec(&self) -> f64 {
        as_f64(self.bytes) / self.wall.as_secs_f64()
    }

    fn messages_per_sec(&self) -> f64 {
        as_f64(self.frames.iter().map(|f| f.messages).sum()) / self.wall.as_secs_f64()
    }

    fn writes_per_frame(&self) -> f64 {
        as_f64(self.writes) / as_f64(self.frames.len().max(1) as u64)
    }

    /// p50, p99 and max of `pick` over the frames, in ms.
    fn waits(&self, pick: impl Fn(&FrameReport) -> Option<Duration>) -> (f64, f64, f64, usize) {
        let mut v: Vec<Duration> = self.frames.iter().filter_map(pick).collect();
        v.sort_unstable();
        if v.is_empty() {
            return (f64::NAN, f64::NAN, f64::NAN, 0);
        }
        let at = |q: usize| v[(v.len() * q / 100).min(v.len() - 1)].as_secs_f64() * 1e3;
        (at(50), at(99), v[v.len() - 1].as_secs_f64() * 1e3, v.len())
    }
}

/// A headline number for `scripts/bench`'s summary table.
fn row(metric: &str, measure: &str, budget: &str, result: &str) {
    println!("ROW|{metric}|{measure}|{budget}|{result}");
}

#[expect(clippy::cast_precision_loss, reason = "display only")]
fn as_f64(n: u64) -> f64 {
    n as f64
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let secs = |full: u64| Duration::from_secs(if benching() { full } else { 1 });
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    runtime.block_on(async {
        println!("cargo bench --bench shell: 200×50, 24 instruments, {cores} cores");
        if soaking() {
            // Alone in its process: a heap the other phases grew (and the allocator kept) is not counted.
            soak().await;
            return;
        }

        // Two windows: the first 30 s after start (histories still filling), then 30 s more.
        let run = Run::start("idle", Feed::Still).await;
        let starting = run.measure(secs(30), None).await;
        let idle = run.measure(secs(30), None).await;
        run.stop().await;
        for (when, m) in [("first 30 s", &starting), ("next 30 s", &idle)] {
            println!(
                "idle (no ticks), {when}: CPU {:.2} % of a core (M4 ≤ 0.5 %); {:.0} B/s to the terminal (M6 idle ≤ 100 B/s); {} frames",
                m.cpu_pct(),
                m.bytes_per_sec(),
                m.frames.len()
            );
        }
        row(
            "M6",
            "bytes to the terminal, idle, first 30 s after start",
            "—",
            &format!("{:.0} B/s", starting.bytes_per_sec()),
        );
        row("M4", "CPU, idle (no ticks), 30 s after the first 30 s", "≤ 0.5 % of a core", &format!("{:.2} %", idle.cpu_pct()));
        row("M6", "bytes to the terminal, idle, 30 s after the first 30 s", "≤ 100 B/s", &format!("{:.0} B/s", idle.bytes_per_sec()));

        let run = Run::start("quiet", Feed::Walk).await;
        let quiet = run.measure(secs(30), None).await;
        run.stop().await;
        println!(
            "ordinary walk: {:.0} broker msgs/s; CPU {:.2} % of a core; {:.0} B/s to the terminal; {} frames",
            quiet.messages_per_sec(),
            quiet.cpu_pct(),
            quiet.bytes_per_sec(),
            quiet.frames.len()
        );
        row(
            "M4",
            "CPU, ordinary walk (24 instruments, ~2.4 changes/s each), for comparison",
            "—",
            &format!("{:.2} %", quiet.cpu_pct()),
        );

        let run = Run::start("flood", Feed::Flood(10_000)).await;
        let flood = run.measure(secs(10), Some(Duration::from_millis(250))).await;
        run.stop().await;
        let (q50, q99, qmax, qn) = flood.waits(|f| f.quote_wait);
        let (k50, k99, kmax, kn) = flood.waits(|f| f.key_wait);
        println!(
            "flood 10k/s: {:.0} broker msgs/s; quote → screen p50 {q50:.2} ms, p99 {q99:.2} ms, max {qmax:.2} ms over {qn} frames (M1 p99 ≤ 20 ms)",
            flood.messages_per_sec()
        );
        println!("flood 10k/s: key → screen p50 {k50:.2} ms, p99 {k99:.2} ms, max {kmax:.2} ms over {kn} keys (M2 p99 ≤ 5 ms)");
        println!(
            "flood 10k/s: CPU {:.1} % of a core (M5 ≤ 10 %); {:.0} B/s to the terminal (M6 ≤ 64 KB/s); {:.2} writes per frame (M7 ≤ 2); {} frames in {:.1} s",
            flood.cpu_pct(),
            flood.bytes_per_sec(),
            flood.writes_per_frame(),
            flood.frames.len(),
            flood.wall.as_secs_f64()
        );
        row("M1", "quote → screen at 10k events/s: p50 / p99", "p99 ≤ 20 ms", &format!("{q50:.2} / {q99:.2} ms"));
        row("M2", "key → screen under 10k/s: p50 / p99", "p99 ≤ 5 ms", &format!("{k50:.2} / {k99:.2} ms"));
        row("M5", "CPU at 10k events/s", "≤ 10 % of a core", &format!("{:.1} %", flood.cpu_pct()));
        row(
            "M6",
            "bytes to the terminal at 10k/s (24 ticking instruments)",
            "≤ 64 KB/s",
            &format!("{:.1} KB/s", flood.bytes_per_sec() / 1e3),
        );
        row("M7", "writes per frame at 10k/s", "≤ 2", &format!("{:.2}", flood.writes_per_frame()));

        let decoding = ibapi_alone(10_000, secs(10)).await;
        println!("flood 10k/s: a bare ibapi client decoding the same feed takes {decoding:.1} % of a core");
        row(
            "M5",
            "CPU at 10k events/s: a bare ibapi client decoding the same feed (the floor)",
            "—",
            &format!("{decoding:.1} %"),
        );

        let run = Run::start("burst", Feed::Flood(100_000)).await;
        let burst = run.measure(secs(5), None).await;
        run.stop().await;
        let (b50, b99, bmax, bn) = burst.waits(|f| f.quote_wait);
        println!(
            "burst 100k/s: {:.0} broker msgs/s; quote → screen p50 {b50:.2} ms, p99 {b99:.2} ms, max {bmax:.2} ms over {bn} frames (M1 max ≤ 50 ms); CPU {:.1} %",
            burst.messages_per_sec(),
            burst.cpu_pct()
        );
        row("M1", "quote → screen at 100k events/s: p99 / max", "max ≤ 50 ms", &format!("{b99:.2} / {bmax:.2} ms"));

    });
}

/// M8: 10,000 tick messages a second until 2 × 10⁶ broker messages were handled; RSS at 10⁶ and 2 × 10⁶.
async fn soak() {
    let run = Run::start("soak", Feed::Flood(10_000)).await;
    let baseline = rss();
    println!(
        "soak: RSS {:.1} MB at the start (connected, reconciled, quoting)",
        as_f64(baseline) / 1e6
    );
    let mut handled = 0_u64;
    let mut marks = Vec::new();
    let at = Instant::now();
    while marks.len() < 2 && at.elapsed() < Duration::from_mins(10) {
        let m = run.measure(Duration::from_secs(1), None).await;
        handled += m.frames.iter().map(|f| f.messages).sum::<u64>();
        if handled >= 1_000_000 * (marks.len() as u64 + 1) {
            marks.push((handled, rss()));
        }
    }
    run.stop().await;
    for (n, bytes) in &marks {
        println!(
            "soak: RSS {:.1} MB after {n} broker messages",
            as_f64(*bytes) / 1e6
        );
    }
    if let [(n1, r1), (n2, r2)] = marks[..] {
        let slope = (as_f64(r2) - as_f64(r1)) / 1e6 / ((as_f64(n2) - as_f64(n1)) / 1e6);
        println!("soak: slope {slope:.2} MB per million messages (M8 ≤ 1; RSS ≤ 30 MB after 10⁶)");
        row(
            "M8",
            "RSS after 10⁶ broker messages; slope to 2 × 10⁶",
            "≤ 30 MB; ≤ 1 MB per 10⁶",
            &format!(
                "{:.1} MB (at the start: {:.1} MB); {slope:.2} MB per 10⁶",
                as_f64(r1) / 1e6,
                as_f64(baseline) / 1e6
            ),
        );
    }
}

/// The decoding floor: a bare `ibapi` client (no cockpit) subscribed to the same 24 instruments, draining
/// every tick, at `rate` tick messages a second for `length`; returns its CPU in % of a core.
async fn ibapi_alone(rate: u32, length: Duration) -> f64 {
    use ibapi::prelude::*;
    let dir = std::env::temp_dir().join(format!("cockpit-bench-shell-ibapi-{}", std::process::id()));
    let sim = start_sim(Feed::Flood(rate), &dir);
    let client = Client::connect(&format!("127.0.0.1:{}", sim.port), 900)
        .await
        .unwrap();
    let mut drains = Vec::new();
    for listing in cockpit::sim::catalogue::LISTINGS {
        let contract = Contract::stock(listing.symbol).build();
        let mut sub = client.market_data(&contract).subscribe().await.unwrap();
        drains.push(tokio::spawn(async move { while sub.next().await.is_some() {} }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (cpu0, at) = (cpu(), Instant::now());
    tokio::time::sleep(length).await;
    let pct = 100.0 * cpu().saturating_sub(cpu0).as_secs_f64() / at.elapsed().as_secs_f64();
    for drain in drains {
        drain.abort();
    }
    drop(client);
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
    pct
}
