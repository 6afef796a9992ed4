//! `cockpit demo` end to end, as a trader meets it: the real binary in a pseudo-terminal, driven by
//! keystrokes, its screen read back through a `vt100` parser (issue #6).
//!
//! `a_trader_order_is_staged_approved_filled_and_the_terminal_restored` (120×36) waits for the header to
//! say `ready`, the Positions pane to list AAPL 200 (the broker connection reconciled) and the Agents pane
//! to show the demo agent's status and the read-level watcher's session (both run in the demo and reach the
//! gateway over their own sockets), writes a
//! ticket with `n` (BUY 10 AAPL LMT at the last price + 1 %, inside the 5 % collar; notional ≈ 2,300, under
//! the 5,000 threshold, so the tier is Confirm), approves it with `a` then `y`, and sees the fill twice:
//! AAPL 210 in Positions and a `place` entry (AAPL BUY 10, `order_ref` `ck-…`, accepted) in the paper
//! simulator's ledger file. Then `q` (and `y` if asked) must end the process with status 0. The demo agent
//! stages orders of its own, so the trader's order is found by its row (by `trader`, BUY 10 AAPL at its
//! limit), whatever its id, and the selection is moved onto it with `j`/`k`; the Confirm dialog must name
//! that proposal. The app discards keys that arrive within 300 ms after the selection changed under the
//! trader, so `a` waits until the row's own age column says the order has been on screen for a second. (The
//! agent's first order comes about 12 s after it connects and then one every 20 s, withdrawing at most one
//! each time: the trader's typing, which takes a second or two here, does not race the first one taking the
//! empty selection, and within the first minute the trader's selected row never leaves the list under it.)
//!
//! `sigterm_restores_the_terminal` (80×24) waits for every pane to be drawn, sends SIGTERM and requires
//! the process to exit within a bound.
//!
//! "The terminal was restored" is checked from the outside, three ways: the raw output leaves the alternate
//! screen (`ESC[?1049l`) and shows the cursor (`ESC[?25h`) after the last time it entered/hid them; the
//! emulator's final state agrees (main screen, cursor visible); and on Linux the pty's termios has `ICANON`
//! and `ECHO` back (raw mode left) — read from the master side, which shares the slave's line discipline
//! (while the demo runs, the same read shows them cleared, so the check can fail).
//!
//! Each test uses its own state dir under the system temp dir (pid in the name), removed at the end; the
//! demo's simulators listen on 127.0.0.1 only. No sleeps: a reader thread feeds the pty's output to the
//! parser and announces each chunk, a waiter thread announces the exit, and every wait wakes on those (or
//! every 50 ms), bounded in time (30 s) and in wake-ups; a failed wait prints the whole screen.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, ExitStatus, MasterPty, PtySize, native_pty_system};

/// The longest any one wait may take.
const WAIT: Duration = Duration::from_secs(30);
/// A wait looks again at least this often (and whenever output arrives).
const POLL: Duration = Duration::from_millis(50);
/// The most wake-ups of one wait (output chunks and polls): a second bound beside `WAIT`.
const MAX_WAKES: usize = 100_000;

/// What the helper threads report.
enum Event {
    /// The reader fed more output to the parser.
    Output,
    /// The reader reached the end of the output (the child closed the pty).
    Eof,
    /// The waiter reaped the child.
    Exited(ExitStatus),
}

/// A running `cockpit demo` in a pty; killed (if still running) and its state dir removed on drop.
struct Demo {
    pid: u32,
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    events: Receiver<Event>,
    eof: bool,
    exit: Option<ExitStatus>,
    state_dir: PathBuf,
}

impl Demo {
    fn start(name: &str, rows: u16, cols: u16) -> Self {
        let state_dir = std::env::temp_dir().join(format!("cockpit-pty-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state_dir);
        std::fs::create_dir_all(&state_dir).unwrap();
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_cockpit"));
        cmd.args(["demo", "--state-dir"]);
        cmd.arg(&state_dir);
        cmd.cwd(&state_dir);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        let mut child = pair.slave.spawn_command(cmd).unwrap();
        // Only the child holds the slave now, so the reader sees EOF when it exits.
        drop(pair.slave);
        let pid = child.process_id().unwrap();
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            NonZeroU16::new(rows).unwrap(),
            NonZeroU16::new(cols).unwrap(),
            0,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (tx, events) = channel();
        let mut source = pair.master.try_clone_reader().unwrap();
        {
            let (parser, raw, tx) = (Arc::clone(&parser), Arc::clone(&raw), tx.clone());
            // Ends at EOF/EIO: when the child exits (drop kills it if a test failed first).
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n @ 1..) = source.read(&mut buf) {
                    parser.lock().unwrap().process(&buf[..n]);
                    raw.lock().unwrap().extend_from_slice(&buf[..n]);
                    let _ = tx.send(Event::Output);
                }
                let _ = tx.send(Event::Eof);
            });
        }
        std::thread::spawn(move || {
            if let Ok(status) = child.wait() {
                let _ = tx.send(Event::Exited(status));
            }
        });
        let writer = pair.master.take_writer().unwrap();
        Self {
            pid,
            master: pair.master,
            writer,
            parser,
            raw,
            events,
            eof: false,
            exit: None,
            state_dir,
        }
    }

    /// The whole screen as text.
    fn contents(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits, bounded by `WAIT` and `MAX_WAKES`, until `done` holds; fails with the whole screen.
    fn wait_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + WAIT;
        for _ in 0..MAX_WAKES {
            if done(self) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left.min(POLL)) {
                Ok(Event::Output) => {}
                Ok(Event::Eof) => self.eof = true,
                Ok(Event::Exited(status)) => self.exit = Some(status),
                Err(RecvTimeoutError::Timeout) if !left.is_zero() => {}
                Err(_) => break,
            }
        }
        panic!(
            "gave up waiting for {what} (exit: {:?}); the screen:\n{}",
            self.exit,
            self.contents()
        );
    }

    /// Waits until the screen's text satisfies `ready`, and returns it.
    fn wait_for(&mut self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        self.wait_until(what, |d| ready(&d.contents()));
        self.contents()
    }

    /// Waits for the child's exit and the reader's end of output; returns the exit status.
    fn wait_exit(&mut self, what: &str) -> ExitStatus {
        self.wait_until(what, |d| d.exit.is_some() && d.eof);
        self.exit.clone().unwrap()
    }

    fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// The pty's local-mode flags (`c_lflag`), read through the master.
    #[cfg(target_os = "linux")]
    fn local_flags(&self) -> u32 {
        self.master.get_termios().unwrap().local_flags.bits()
    }

    /// The checks of a terminal given back: see the module's doc.
    fn assert_terminal_restored(&self) {
        let raw = self.raw.lock().unwrap().clone();
        let last = |seq: &[u8]| raw.windows(seq.len()).rposition(|w| w == seq);
        let tail = || String::from_utf8_lossy(&raw[raw.len().saturating_sub(400)..]).into_owned();
        let entered = last(b"\x1b[?1049h").expect("the demo entered the alternate screen");
        assert!(
            last(b"\x1b[?1049l").is_some_and(|at| at > entered),
            "the alternate screen was not left after it was last entered; the output ends {:?}",
            tail()
        );
        let hidden = last(b"\x1b[?25l").expect("the demo hid the cursor while drawing");
        assert!(
            last(b"\x1b[?25h").is_some_and(|at| at > hidden),
            "the cursor was not shown again after it was last hidden; the output ends {:?}",
            tail()
        );
        let parser = self.parser.lock().unwrap();
        assert!(
            !parser.screen().alternate_screen(),
            "still on the alternate screen"
        );
        assert!(!parser.screen().hide_cursor(), "the cursor is still hidden");
        drop(parser);
        #[cfg(target_os = "linux")]
        assert_eq!(
            self.local_flags() & COOKED,
            COOKED,
            "raw mode was not left (c_lflag {:#o})",
            self.local_flags()
        );
    }
}

/// `ICANON | ECHO` on Linux: cleared in raw mode, set again when it is left.
#[cfg(target_os = "linux")]
const COOKED: u32 = 0o000_002 | 0o000_010;

impl Drop for Demo {
    fn drop(&mut self) {
        if self.exit.is_none() {
            // A failed test: the waiter thread reaps it, the reader then sees EOF.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// The column `name` of `symbol`'s row in the Positions pane (found by the pane's header row), if listed.
fn position_cell(screen: &str, symbol: &str, name: &str) -> Option<String> {
    let mut lines = screen.lines().skip_while(|l| !l.contains("╭ Positions "));
    lines.next()?;
    let header: Vec<String> = lines
        .next()?
        .split('│')
        .nth(1)?
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    // "unr P&L" is one column written as two words.
    let at = header.iter().filter(|h| *h != "P&L").position(|h| h == name)?;
    position_row(screen, symbol)?.get(at).cloned()
}

/// The cells of `symbol`'s row in the Positions pane (`sym qty …`), if listed.
fn position_row(screen: &str, symbol: &str) -> Option<Vec<String>> {
    let mut lines = screen.lines().skip_while(|l| !l.contains("╭ Positions "));
    lines.next()?;
    lines
        .take_while(|l| !l.starts_with('╰'))
        .filter_map(|l| l.split('│').nth(1))
        .map(|cell| cell.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|cells| cells.first().is_some_and(|s| s == symbol))
}

/// The header says `ready` (the broker connection is up and reconciled).
fn header_ready(screen: &str) -> bool {
    screen
        .lines()
        .next()
        .is_some_and(|h| h.starts_with(" PAPER ") && h.contains("ready"))
}

/// The age in seconds of the selected staged order (`›#…` row, `age/expiry` column), if shown.
fn selected_age_secs(screen: &str) -> Option<u64> {
    let row = screen.lines().find(|l| l.contains("›#"))?;
    let age = row.split_whitespace().find_map(|cell| cell.split_once("s/"))?.0;
    age.parse().ok()
}

/// The rows of the Staged Orders pane: whether selected (`›`), and the cells (`#id by side qty sym type
/// price …`).
fn staged_rows(screen: &str) -> Vec<(bool, Vec<String>)> {
    let mut lines = screen.lines().skip_while(|l| !l.contains("Staged Orders"));
    lines.next();
    lines
        .take_while(|l| !l.starts_with('╰'))
        .filter_map(|l| l.split('│').nth(1))
        .filter(|cell| cell.trim_start_matches('›').trim_start().starts_with('#'))
        .map(|cell| {
            let selected = cell.starts_with('›');
            let cells = cell
                .trim_start_matches('›')
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            (selected, cells)
        })
        .collect()
}

/// The id (`#n`) of the trader's own BUY 10 AAPL LMT at `limit`, if listed.
fn trader_order(screen: &str, limit: &str) -> Option<String> {
    staged_rows(screen)
        .into_iter()
        .map(|(_, cells)| cells)
        .find(|c| c.len() > 6 && c[1] == "trader" && c[2..7] == ["BUY", "10", "AAPL", "LMT", limit])
        .map(|c| c[0].clone())
}

/// The id (`#n`) of the selected staged order, if any.
fn selected_order(screen: &str) -> Option<String> {
    staged_rows(screen)
        .into_iter()
        .find(|(selected, _)| *selected)
        .and_then(|(_, cells)| cells.first().cloned())
}

/// Positions lists `symbol` with quantity `qty`.
fn holds(screen: &str, symbol: &str, qty: &str) -> bool {
    position_row(screen, symbol).is_some_and(|cells| cells.get(1).is_some_and(|q| q == qty))
}

#[test]
fn a_trader_order_is_staged_approved_filled_and_the_terminal_restored() {
    let mut demo = Demo::start("fill", 36, 120);
    let screen = demo.wait_for(
        "the header to say ready, Positions to list AAPL 200 with a price, and both demo agents on",
        |s| {
            header_ready(s)
                && holds(s, "AAPL", "200")
                && position_cell(s, "AAPL", "last").is_some_and(|l| l.parse::<f64>().is_ok())
                && s.lines().any(|l| l.contains("rebalancer") && l.contains(" on ♥"))
                && s.contains("mean-reversion")
                && s.lines()
                    .any(|l| l.contains("watcher") && l.contains("read") && l.contains(" on ♥"))
        },
    );
    #[cfg(target_os = "linux")]
    assert_eq!(demo.local_flags() & COOKED, 0, "the demo runs in raw mode");

    let last: f64 = position_cell(&screen, "AAPL", "last").unwrap().parse().unwrap();
    let limit = format!("{:.2}", last * 1.01);

    demo.send("n");
    demo.wait_for("the new-order form", |s| s.contains("New order ticket"));
    // Focus starts on the symbol; Tab walks side, quantity, type, limit price. Account and side, type and
    // TIF keep their defaults (DU1234567, BUY, LMT, DAY).
    demo.send("AAPL\t\t10\t\t");
    demo.send(&limit);
    demo.wait_for("the form to pass the policy with a Confirm tier", |s| {
        s.contains(&format!("limit price: {limit}")) && s.contains("approval Confirm")
    });
    demo.send("\r");
    let screen = demo.wait_for("the trader's order staged", |s| trader_order(s, &limit).is_some());
    let id = trader_order(&screen, &limit).unwrap();
    // The demo agent's orders may be listed too, and the selection on one of them: move it onto ours, one
    // key at a time, each seen to land (bounded: at most one key per row, plus spares).
    for _ in 0..12 {
        let screen = demo.contents();
        let rows = staged_rows(&screen);
        let ours = rows.iter().position(|(_, cells)| cells[0] == id);
        let selected = rows.iter().position(|(selected, _)| *selected);
        let (Some(ours), Some(selected)) = (ours, selected) else {
            panic!("no selection or no {id} in the Staged Orders pane:\n{screen}");
        };
        if ours == selected {
            break;
        }
        let before = selected_order(&screen);
        demo.send(if ours > selected { "j" } else { "k" });
        demo.wait_for("the selection to move", |s| selected_order(s) != before);
    }
    // A change under the trader makes the app discard keys for 300 ms. Rather than sleep, wait until the
    // row's own clock says the order has been shown for a second.
    demo.wait_for(
        "the trader's order selected and shown for at least a second",
        |s| {
            selected_order(s).as_deref() == Some(id.as_str())
                && selected_age_secs(s).is_some_and(|age| age >= 1)
        },
    );
    demo.send("a");
    let proposal = format!("Proposal {id} ");
    demo.wait_for("the Confirm dialog of the trader's order", |s| {
        s.contains("Confirm order") && s.contains("BUY 10 AAPL LMT") && s.contains(&proposal)
    });
    demo.send("y");
    let screen = demo.wait_for("AAPL 210 in Positions", |s| holds(s, "AAPL", "210"));
    assert!(screen.contains("filled"), "the order shows as filled:\n{screen}");

    let ledger = std::fs::read_to_string(demo.state_dir.join("sim-paper-ledger.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = ledger.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let placed: Vec<_> = entries
        .iter()
        .filter(|e| e["kind"] == "place" && e["symbol"] == "AAPL")
        .collect();
    assert_eq!(placed.len(), 1, "one AAPL order reached the simulator: {ledger}");
    let entry = placed[0];
    assert_eq!(entry["action"], "BUY", "{entry}");
    assert_eq!(entry["quantity"], "10", "{entry}");
    assert_eq!(entry["order_type"], "LMT", "{entry}");
    assert_eq!(entry["account"], "DU1234567", "{entry}");
    assert_eq!(entry["outcome"], "accepted", "{entry}");
    assert!(
        entry["order_ref"].as_str().is_some_and(|r| r.starts_with("ck-")),
        "the cockpit's orderRef: {entry}"
    );

    demo.send("q");
    demo.wait_until("the demo to quit, or to ask about orders in flight", |d| {
        d.exit.is_some() || d.contents().contains("in flight")
    });
    if demo.exit.is_none() {
        demo.send("y");
    }
    let status = demo.wait_exit("the demo to exit after q");
    assert!(
        status.success(),
        "exit status {status:?}; the screen:\n{}",
        demo.contents()
    );
    demo.assert_terminal_restored();
    assert!(
        demo.contents().contains("cockpit demo: stopped"),
        "the farewell is printed on the main screen:\n{}",
        demo.contents()
    );
}

#[test]
fn sigterm_restores_the_terminal() {
    let mut demo = Demo::start("sigterm", 24, 80);
    demo.wait_for("every pane drawn at 80×24 and the header ready", |s| {
        header_ready(s)
            && ["Staged Orders", "Positions", "Alerts", "Agents", "Account"]
                .iter()
                .all(|title| s.contains(&format!("╭ {title}")) || s.contains(&format!("▶ {title}")))
            && holds(s, "AAPL", "200")
    });
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &demo.pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -TERM failed");
    // Any exit status: what matters is that it exits, and gives the terminal back.
    demo.wait_exit("the demo to exit after SIGTERM");
    demo.assert_terminal_restored();
}
