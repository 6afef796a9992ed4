//! Logging with `tracing` into the state dir's `logs/` (rolling daily); never to the terminal.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Keeps the background log writer alive; logs are flushed when it drops.
#[derive(Debug)]
pub struct LogGuard {
    _guard: WorkerGuard,
    /// The folder the log files go into.
    pub dir: PathBuf,
}

/// Sends `tracing` output to `STATE/logs/<prefix>.YYYY-MM-DD`. The filter comes from `COCKPIT_LOG`
/// (e.g. `debug`, `cockpit::sim=trace`), `info` by default.
pub fn init(state_dir: &Path, prefix: &str) -> std::io::Result<LogGuard> {
    let dir = state_dir.join("logs");
    std::fs::create_dir_all(&dir)?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(prefix)
        .max_log_files(14)
        .build(&dir)
        .map_err(std::io::Error::other)?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("COCKPIT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests, or a subcommand calling twice) keeps the first subscriber; that is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok(LogGuard { _guard: guard, dir })
}

/// When the process started (set first thing in `main`): start-up times in the log are measured from it.
pub static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Milliseconds since [`STARTED`] (since the first call, where `main` did not set it).
#[must_use]
pub fn since_start_ms() -> u128 {
    STARTED.get_or_init(std::time::Instant::now).elapsed().as_millis()
}
