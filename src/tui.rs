//! Running the cockpit on the real terminal: `cockpit` (a configured gateway) and `cockpit demo` (the
//! embedded simulators). The terminal is taken only here and given back on every path — the trader's quit,
//! SIGTERM, SIGHUP, an error, and (through the panic hook of `terminal`) a panic. Nothing is printed while
//! the screen owns the terminal; logs go to `STATE/logs/`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crossterm::event::EventStream;
use tokio_util::sync::CancellationToken;

use crate::app::shell::{self, Setup, ShellError};
use crate::config::{Config, Mode};
use crate::ui::Theme;
use crate::ui::theme::no_color_requested;

/// The theme: `--theme` over the config's, without colours under `NO_COLOR`.
pub fn theme(flag: Option<&str>, config: &Config) -> Result<Theme, String> {
    let name = flag.unwrap_or(&config.theme);
    let no_color = no_color_requested(std::env::var_os("NO_COLOR").as_deref());
    Theme::named(name, no_color, config.ascii_borders).map_err(|e| format!("--theme: {e}"))
}

/// Entering a live profile at start-up: the trader types the live account id (read from `input`, prompted
/// on `prompt`). Returns the error to show when it does not match.
pub fn confirm_live(
    config: &Config,
    profile: &str,
    input: &mut dyn BufRead,
    prompt: &mut dyn Write,
) -> Result<(), String> {
    let Some(p) = config.profiles.get(profile) else {
        return Err(format!(
            "--profile: no profile named '{profile}'; the config has: {}",
            config.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    };
    if p.mode != Mode::Live {
        return Ok(());
    }
    let account = p.accounts.first().map(ToString::to_string).unwrap_or_default();
    let _ = write!(
        prompt,
        "Profile '{profile}' is LIVE: orders use real money in {account}.\nType the live account id to continue: "
    );
    let _ = prompt.flush();
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the account id: {e}"))?;
    if line.trim() == account {
        Ok(())
    } else {
        Err(format!(
            "not started: typed '{}', not the live account id of profile '{profile}'",
            line.trim()
        ))
    }
}

/// Runs the screen until the trader quits or a signal stops it; the terminal is restored on return.
pub async fn run(setup: Setup) -> Result<(), ShellError> {
    let shutdown = CancellationToken::new();
    let signals = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup()))
            else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
            shutdown.cancel();
        })
    };
    let mut terminal = match crate::terminal::init() {
        Ok(terminal) => terminal,
        Err(e) => {
            crate::terminal::restore();
            signals.abort();
            return Err(ShellError::Terminal(format!("cannot take the terminal: {e}")));
        }
    };
    let mut bell = || {
        let mut out = std::io::stdout();
        let _ = out.write_all(b"\x07");
        let _ = out.flush();
    };
    let result = Box::pin(shell::run(
        setup,
        &mut terminal,
        EventStream::new(),
        &mut bell,
        shutdown,
    ))
    .await;
    crate::terminal::restore();
    signals.abort();
    result
}

/// The runtime every screen command runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// How long quitting the demo waits for each of its agents to stop (it stops at once when cancelled; this bounds a
/// defect).
const AGENT_STOP: std::time::Duration = std::time::Duration::from_secs(2);

/// `cockpit demo`: both simulators, the demo config, the demo agents, the screen. Returns the state dir it used.
pub fn demo(seed: u64, state_dir: Option<&Path>, theme_flag: Option<&str>) -> Result<PathBuf, String> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let demo = crate::demo::start(seed, state_dir)
            .await
            .map_err(|e| e.to_string())?;
        let _logs = crate::logging::init(&demo.state_dir, "cockpit.log")
            .map_err(|e| format!("cannot create logs under {}: {e}", demo.state_dir.display()))?;
        let theme = theme(theme_flag, &demo.config)?;
        // The demo agents connect once the screen's session has bound their sockets (they retry until then)
        // and stop when the screen is gone.
        let agents = CancellationToken::new();
        let running: Vec<_> = crate::demo::agents(&demo, seed)
            .into_iter()
            .map(|agent| crate::agent::demo::spawn(agent, agents.clone()))
            .collect();
        let setup = Setup {
            profile: demo.config.default_profile.clone(),
            config: demo.config,
            state_dir: demo.state_dir.clone(),
            theme,
            live_label: crate::demo::LIVE_SIM.to_owned(),
            probe: None,
        };
        let result = Box::pin(run(setup))
            .await
            .map_err(|e| format!("cockpit demo: {e}"));
        agents.cancel();
        for agent in running {
            match tokio::time::timeout(AGENT_STOP, agent).await {
                Ok(Ok(report)) => tracing::info!(
                    sessions = report.sessions,
                    calls = report.calls.len(),
                    "a demo agent stopped"
                ),
                Ok(Err(e)) => tracing::error!(error = %e, "a demo agent failed"),
                Err(_) => tracing::warn!("a demo agent did not stop in time"),
            }
        }
        demo.paper.shutdown().await;
        demo.live.shutdown().await;
        result.map(|()| demo.state_dir)
    })
}

/// `cockpit`: the configured profile's gateway.
pub fn cockpit(
    config: Config,
    profile: String,
    state_dir: PathBuf,
    theme_flag: Option<&str>,
) -> Result<(), String> {
    let theme = theme(theme_flag, &config)?;
    let runtime = runtime()?;
    let _logs = crate::logging::init(&state_dir, "cockpit.log")
        .map_err(|e| format!("cannot create logs under {}: {e}", state_dir.display()))?;
    let setup = Setup {
        config,
        state_dir,
        profile,
        theme,
        live_label: "LIVE".to_owned(),
        probe: None,
    };
    runtime
        .block_on(Box::pin(run(setup)))
        .map_err(|e| format!("cockpit: {e}"))
}
