//! What the shell and approve benchmarks share: `cockpit sim` as a child process, and the real app shell
//! drawing 200×50 through ratatui's crossterm backend and the cockpit's frame writer.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use cockpit::app::shell::{self, Setup};
use crossterm::event::Event;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;

/// `cockpit sim` as a child process on 127.0.0.1 (port 0), killed when dropped.
pub struct Sim {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Sim {
    /// Its process id (the approve bench reads its CPU time).
    #[allow(dead_code, reason = "one of the two benches that include this module uses it")]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `cockpit sim` with its state in `state_dir` and the extra `args` (`--flood N`, `--ledger FILE`
    /// …); returns once it says where it listens.
    pub fn start(state_dir: &Path, args: &[&std::ffi::OsStr]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cockpit"))
            .args(["sim", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(state_dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        let port = addr.rsplit(':').next().unwrap().parse().unwrap();
        Self { child, port }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `shell::run` on `setup`, drawing 200×50 into `out` through the cockpit's frame writer, until
/// `shutdown`; returns the sender of its keys and its task.
pub fn spawn_shell<W: Write + Send + 'static>(
    setup: Setup,
    out: W,
    shutdown: &CancellationToken,
) -> (mpsc::UnboundedSender<std::io::Result<Event>>, JoinHandle<()>) {
    let (keys, rx) = mpsc::unbounded_channel();
    let shutdown = shutdown.clone();
    let task = tokio::spawn(async move {
        let options = TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 200, 50)),
        };
        let writer = cockpit::terminal::FrameWriter::new(out);
        let mut terminal = Terminal::with_options(CrosstermBackend::new(writer), options).unwrap();
        let mut bell = || {};
        Box::pin(shell::run(
            setup,
            &mut terminal,
            UnboundedReceiverStream::new(rx),
            &mut bell,
            shutdown,
        ))
        .await
        .unwrap();
    });
    (keys, task)
}
