//! The command line (ARCHITECTURE.md §4) and the dispatch of each subcommand.
//!
//! Subcommands without a screen write through the `io::Write` handles they are given, never `print!`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::paths::{self, ProcessEnv};

/// Cockpit: a terminal cockpit for supervised agentic trading on Interactive Brokers.
#[derive(Debug, Parser)]
#[command(name = "cockpit", version, about, long_about = None)]
pub struct Cli {
    /// Config file (default: `$XDG_CONFIG_HOME/cockpit/config.toml`).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Profile to run (from the config); live is never the default.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Theme name (one of `themes/`).
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// State directory (default: `$COCKPIT_STATE_DIR`, else `$XDG_STATE_HOME/cockpit`).
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// What to do; without a subcommand, run the cockpit against the profile's gateway.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything embedded: simulated gateways, demo agents and the screen; needs no config or IB account.
    Demo {
        /// Seed of the simulated market.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// A standalone IB Gateway simulator that any TWS API client can connect to.
    Sim(SimArgs),
    /// MCP stdio bridge to a running cockpit's agent socket: configure an agent with
    /// `{"command": "cockpit", "args": ["mcp"]}`.
    Mcp {
        /// Connect to this configured agent's own socket (`STATE/agents/NAME.sock`, for an agent with
        /// `own_socket = true`) instead of `STATE/agent.sock`.
        #[arg(long, value_name = "NAME")]
        agent: Option<String>,
    },
    /// Validate the config; print the effective profiles, agents and limits.
    CheckConfig,
    /// Journal maintenance.
    Journal {
        /// What to do with the journal.
        #[command(subcommand)]
        action: JournalCommand,
    },
    /// Daily activity report from the journal.
    Report {
        /// Exchange-time date (YYYY-MM-DD); today by default.
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<chrono::NaiveDate>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
    },
}

/// `cockpit journal …`.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Verify the audit chain; nonzero exit on any break.
    Verify,
}

/// Report output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    /// Markdown.
    Md,
    /// Comma-separated values.
    Csv,
    /// JSON.
    Json,
}

/// `cockpit sim` options.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on (IB Gateway paper uses 4002, live 4001; TWS 7497/7496).
    #[arg(long, default_value = "127.0.0.1:4002", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// A managed account (repeatable); paper accounts start with DU.
    #[arg(long = "account", value_name = "ID", default_values_t = vec!["DU1234567".to_string()])]
    pub accounts: Vec<String>,
    /// Seed of the simulated market's random walk.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A fault script in TOML (see README).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Append every order, modification and cancel received to this JSON Lines file.
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// How often the simulated market moves, in milliseconds (IB streams about 250 ms snapshots).
    #[arg(long, value_name = "MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub tick_ms: u64,
    /// Benchmarks: flood subscribers with this many tick messages a second (on top of the usual walk).
    #[arg(long, value_name = "TICKS_PER_SEC")]
    pub flood: Option<u32>,
    /// With --flood: over at most this many of the subscribed instruments.
    #[arg(long, value_name = "K", default_value_t = 50, requires = "flood")]
    pub flood_symbols: usize,
}

/// Runs the parsed command line, writing any output to `out` and errors to `err`.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    match cli.command {
        Some(Command::Sim(args)) => {
            let state_dir = match paths::state_dir(cli.state_dir.as_deref(), &ProcessEnv) {
                Ok(dir) => dir,
                Err(e) => return fail(err, &e.to_string()),
            };
            run_sim(&args, &state_dir, out, err)
        }
        Some(Command::Demo { seed }) => {
            match crate::tui::demo(seed, cli.state_dir.as_deref(), cli.theme.as_deref()) {
                Ok(dir) => {
                    let _ = writeln!(
                        out,
                        "cockpit demo: stopped. Its journal stays in {0}: `cockpit report --state-dir {0}`, `cockpit journal verify --state-dir {0}`.",
                        dir.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(err, &e),
            }
        }
        Some(Command::Mcp { agent }) => mcp(cli.state_dir.as_deref(), agent.as_deref(), err),
        Some(Command::CheckConfig) => check_config(cli.config.as_deref(), out, err),
        Some(Command::Journal {
            action: JournalCommand::Verify,
        }) => match paths::state_dir(cli.state_dir.as_deref(), &ProcessEnv) {
            Ok(dir) => journal_verify(&dir, out, err),
            Err(e) => fail(err, &format!("cockpit journal verify: {e}")),
        },
        Some(Command::Report { date, format }) => {
            match paths::state_dir(cli.state_dir.as_deref(), &ProcessEnv) {
                Ok(dir) => report(&dir, date, format, chrono::Utc::now(), out, err),
                Err(e) => fail(err, &format!("cockpit report: {e}")),
            }
        }
        None => run_cockpit(&cli, err),
    }
}

/// `cockpit`: load the config, pick the profile (typing the account id to enter live), run the screen.
fn run_cockpit(cli: &Cli, err: &mut dyn Write) -> ExitCode {
    let path = match paths::config_file(cli.config.as_deref(), &ProcessEnv) {
        Ok(path) => path,
        Err(e) => return fail(err, &format!("cockpit: {e}")),
    };
    let config = match crate::config::Config::load(&path) {
        Ok(config) => config,
        Err(e) => return fail(err, &e.to_string()),
    };
    let state_dir = match paths::state_dir(cli.state_dir.as_deref(), &ProcessEnv) {
        Ok(dir) => dir,
        Err(e) => return fail(err, &format!("cockpit: {e}")),
    };
    let profile = cli
        .profile
        .clone()
        .unwrap_or_else(|| config.default_profile.clone());
    let stdin = std::io::stdin();
    if let Err(e) = crate::tui::confirm_live(&config, &profile, &mut stdin.lock(), err) {
        return fail(err, &e);
    }
    match crate::tui::cockpit(config, profile, state_dir, cli.theme.as_deref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(err, &e),
    }
}

fn run_sim(args: &SimArgs, state_dir: &Path, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    match crate::sim::standalone::run(args, state_dir, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(err, &format!("cockpit sim: {e:#}")),
    }
}

/// `cockpit check-config`: exit 0 and the effective tables, or exit 1 with every problem.
fn check_config(flag: Option<&Path>, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let path = match paths::config_file(flag, &ProcessEnv) {
        Ok(path) => path,
        Err(e) => return fail(err, &format!("cockpit check-config: {e}")),
    };
    match crate::config::Config::load(&path) {
        Ok(config) => match crate::config::write_summary(&config, &path.display().to_string(), out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(
                err,
                &format!("cockpit check-config: cannot write the report: {e}"),
            ),
        },
        Err(e) => fail(err, &e.to_string()),
    }
}

/// `cockpit journal verify`: exit 0 with the records checked and the head hash, or exit 1 naming the first
/// bad seq (or that there is no journal).
fn journal_verify(state_dir: &Path, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let report = match crate::journal::verify(state_dir) {
        Ok(report) => report,
        Err(e) => return fail(err, &format!("cockpit journal verify: {e}")),
    };
    let checkpoint = match report.checkpoint {
        Some(seq) => format!("the HEAD checkpoint (seq {seq}) matches"),
        None => "no HEAD checkpoint yet: a cut-off tail would go unnoticed".to_owned(),
    };
    let written = writeln!(
        out,
        "journal {}: OK, {} records verified; head seq {} sha256 {}; {checkpoint}",
        crate::journal::db_path(state_dir).display(),
        report.records,
        report.head_seq,
        report.head_hash,
    );
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(
            err,
            &format!("cockpit journal verify: cannot write the report: {e}"),
        ),
    }
}

/// `cockpit report`: the report for `date` (today at `now` in the exchange's timezone by default) on `out`,
/// or exit 1 naming the missing journal or the read error.
fn report(
    state_dir: &Path,
    date: Option<chrono::NaiveDate>,
    format: ReportFormat,
    now: chrono::DateTime<chrono::Utc>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    let report = match crate::report::load(state_dir, date, now) {
        Ok(report) => report,
        Err(e) => return fail(err, &format!("cockpit report: {e}")),
    };
    let format = match format {
        ReportFormat::Md => crate::report::Format::Md,
        ReportFormat::Csv => crate::report::Format::Csv,
        ReportFormat::Json => crate::report::Format::Json,
    };
    match crate::report::render(&report, format, out).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(err, &format!("cockpit report: cannot write the report: {e}")),
    }
}

/// `cockpit mcp`: bridge stdio to the state dir's agent socket (`agent::bridge`). Without a reachable
/// cockpit it returns exit 2 with the reason. Once it has bridged it ends the process itself with
/// `std::process::exit`: tokio's read of stdin cannot be cancelled, so an ordinary return could hang on a
/// host that keeps stdin open after the cockpit hung up. It writes the process's own stdout (the async
/// copy needs tokio's handle, not `out`), and only the socket's bytes.
fn mcp(flag: Option<&Path>, agent: Option<&str>, err: &mut dyn Write) -> ExitCode {
    use crate::agent::bridge;
    let no_cockpit = |err: &mut dyn Write, message: &str| {
        let _ = writeln!(err, "cockpit mcp: {message}");
        ExitCode::from(bridge::EXIT_NO_COCKPIT)
    };
    if let Some(name) = agent
        && !crate::agent::is_socket_name(name)
    {
        let _ = writeln!(
            err,
            "cockpit mcp: --agent '{}' is not an agent name with its own socket: expected letters, digits, '-' \
             or '_', as configured with own_socket = true",
            name.escape_debug()
        );
        return ExitCode::from(2);
    }
    let state_dir = match paths::state_dir(flag, &ProcessEnv) {
        Ok(dir) => dir,
        Err(e) => return no_cockpit(err, &e.to_string()),
    };
    match bridge::run(&state_dir, agent) {
        Ok(outcome) => {
            if let Some(message) = outcome.message(&bridge::socket_for(&state_dir, agent)) {
                let _ = writeln!(err, "cockpit mcp: {message}");
            }
            let _ = err.flush();
            std::process::exit(outcome.exit_code())
        }
        Err(e) => no_cockpit(err, &e.to_string()),
    }
}

fn fail(err: &mut dyn Write, message: &str) -> ExitCode {
    let _ = writeln!(err, "{message}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn run_args(args: &[&str]) -> (ExitCode, String) {
        let cli = Cli::try_parse_from(args).expect("arguments parse");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(cli, &mut out, &mut err);
        (code, String::from_utf8_lossy(&err).into_owned())
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn mcp_without_a_cockpit_names_the_socket_and_exits_2() {
        let dir = std::env::temp_dir().join(format!("cockpit-cli-unit-mcp-{}", std::process::id()));
        let state = dir.to_str().expect("utf-8 temp dir");
        let (code, err) = run_args(&["cockpit", "mcp", "--state-dir", state]);
        assert_eq!(code, ExitCode::from(crate::agent::bridge::EXIT_NO_COCKPIT));
        assert!(err.contains("no cockpit is running"), "{err}");
        assert!(err.contains(&format!("{state}/agent.sock")), "{err}");
    }

    #[test]
    fn the_cockpit_without_a_config_names_the_file_and_fails_before_taking_the_terminal() {
        let (code, err) = run_args(&["cockpit", "--config", "/nonexistent/cockpit.toml"]);
        assert_eq!(code, ExitCode::FAILURE);
        assert!(err.contains("/nonexistent/cockpit.toml"), "{err}");
    }

    #[test]
    fn journal_verify_reports_an_intact_journal_and_fails_on_a_missing_one() {
        let dir = std::env::temp_dir().join(format!("cockpit-cli-unit-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state = dir.to_str().expect("utf-8 temp dir");
        let (code, err) = run_args(&["cockpit", "journal", "verify", "--state-dir", state]);
        assert_eq!(code, ExitCode::FAILURE);
        assert!(err.contains("no journal"), "{err}");

        let mut journal = crate::journal::Journal::open(&dir).expect("open");
        journal.checkpoint_head().expect("HEAD");
        drop(journal);
        let cli =
            Cli::try_parse_from(["cockpit", "journal", "verify", "--state-dir", state]).expect("parses");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(cli, &mut out, &mut err), ExitCode::SUCCESS);
        let out = String::from_utf8_lossy(&out);
        assert!(out.contains("OK, 0 records verified"), "{out}");
        assert!(err.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn report_without_a_date_is_today_at_now_in_the_exchange_timezone() {
        let dir = std::env::temp_dir().join(format!("cockpit-cli-unit-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-11T02:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let code = report(&dir, None, ReportFormat::Md, now, &mut out, &mut err);
        assert_eq!(code, ExitCode::FAILURE);
        assert!(String::from_utf8_lossy(&err).contains("no journal in"));

        let mut journal = crate::journal::Journal::open(&dir).expect("open");
        let envelope = crate::journal::Envelope {
            profile: "paper".to_owned(),
            gateway: "127.0.0.1:4002".to_owned(),
            account: "DU1234567".to_owned(),
            client_id: 7,
        };
        journal
            .append(&[crate::journal::Entry {
                at: now - chrono::Duration::hours(6),
                envelope,
                kind: "start".to_owned(),
                data: serde_json::json!({"timezone": "America/New_York"}),
                durability: crate::journal::Durability::Sync,
            }])
            .expect("append");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = report(&dir, None, ReportFormat::Json, now, &mut out, &mut err);
        assert_eq!(code, ExitCode::SUCCESS, "{}", String::from_utf8_lossy(&err));
        let json: serde_json::Value = serde_json::from_slice(&out).expect("json");
        // 02:00 UTC on the 11th is 22:00 EDT on the 10th.
        assert_eq!(json["header"]["date"], "2026-03-10");
        assert_eq!(json["header"]["records"], 1);
        drop(journal);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sim_flags_parse_with_repeatable_accounts() {
        let cli = Cli::try_parse_from([
            "cockpit",
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--account",
            "DU1",
            "--account",
            "DU2",
            "--seed",
            "9",
        ])
        .expect("parses");
        let Some(Command::Sim(args)) = cli.command else {
            panic!("not sim")
        };
        assert_eq!(args.accounts, ["DU1", "DU2"]);
        assert_eq!(args.seed, 9);
        assert_eq!(args.listen.port(), 0);
    }

    #[test]
    fn bad_flags_are_refused_with_the_value_named() {
        let err = Cli::try_parse_from(["cockpit", "sim", "--listen", "nowhere"]).expect_err("bad addr");
        assert!(err.to_string().contains("nowhere"), "{err}");
        let err = Cli::try_parse_from(["cockpit", "report", "--date", "2026-13-01"]).expect_err("bad date");
        assert!(err.to_string().contains("2026-13-01"), "{err}");
    }
}
