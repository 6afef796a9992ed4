//! `cockpit demo`: everything embedded. Two simulated gateways on loopback ephemeral ports — a paper `DU…`
//! account and a simulated live `U…` account, labelled `LIVE (SIM)` everywhere — the example config's
//! profiles and policy pointed at them with a 24×7 session window (so the demo works at night and at
//! weekends; the header says so), and a temporary state dir unless `--state-dir` names one. Two demo agents
//! ([`crate::agent::demo`]) run in the cockpit's own process and talk to the agent gateway over their own
//! sockets (`own_socket`): the trader as the configured agent [`DEMO_AGENT`] and the watcher as
//! [`WATCHER_AGENT`] (read level).

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::config::Config;
use crate::sim::{self, SeedPosition, SimConfig, SimError, SimHandle};

/// The example config the demo's profiles come from.
pub const EXAMPLE_CONFIG: &str = include_str!("../config.example.toml");
/// The paper gateway's ledger (every order it received, JSON Lines) in the state dir.
pub const PAPER_LEDGER: &str = "sim-paper-ledger.jsonl";
/// The simulated live gateway's ledger in the state dir.
pub const LIVE_LEDGER: &str = "sim-live-ledger.jsonl";
/// The live banner in the demo.
pub const LIVE_SIM: &str = "LIVE (SIM)";
/// The configured agent the demo agent runs as: the example's `rebalancer`, whose own level is execute, so
/// that on the dry-run profile (which grants execute) the demo shows `submit_order` as well as staging.
pub const DEMO_AGENT: &str = "rebalancer";
/// The configured agent the demo's watcher runs as: the example's read-level `watcher`.
pub const WATCHER_AGENT: &str = "watcher";

/// Why the demo could not start.
#[derive(Debug, Error)]
pub enum DemoError {
    /// A simulator did not start.
    #[error("a simulated gateway did not start: {0}")]
    Sim(#[from] SimError),
    /// The embedded config did not parse (a build defect).
    #[error("the demo's config is invalid: {0}")]
    Config(String),
    /// The state dir could not be made.
    #[error("cannot create the demo's state dir {dir}: {source}")]
    StateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The running demo's gateways and config.
#[derive(Debug)]
pub struct Demo {
    /// The paper gateway.
    pub paper: SimHandle,
    /// The simulated live gateway.
    pub live: SimHandle,
    /// The config, pointed at them.
    pub config: Config,
    /// The state dir.
    pub state_dir: PathBuf,
}

/// The config for gateways on these ports: the example's profiles, always open, with the demo's agents
/// [`DEMO_AGENT`] and [`WATCHER_AGENT`] served on their own sockets (`own_socket`), which is how the demo's
/// in-process agents — all under the cockpit's own uid — are told apart. `allow_same_uid_agents` stays as
/// the example has it (false), so the `LIVE (SIM)` profile refuses the demo agents exactly as a live
/// profile would; the trader says so on the other profiles.
pub fn config(paper_port: u16, live_port: u16) -> Result<Config, DemoError> {
    let mut config = Config::parse(EXAMPLE_CONFIG, Path::new("config.example.toml (demo)"))
        .map_err(|e| DemoError::Config(e.to_string()))?;
    for profile in config.profiles.values_mut() {
        profile.host = "127.0.0.1".into();
        profile.port = match profile.mode {
            crate::config::Mode::Live => live_port,
            _ => paper_port,
        };
        profile.policy.session.always_open = true;
    }
    for name in [DEMO_AGENT, WATCHER_AGENT] {
        let Some(agent) = config.agents.iter_mut().find(|a| a.name == name) else {
            return Err(DemoError::Config(format!("no agent named {name}")));
        };
        agent.own_socket = true;
    }
    config.hash = format!("demo:{}", config.hash);
    Ok(config)
}

/// The demo's agents for `demo`, seeded with `seed` and paced for a human: the trader (which stages at most
/// its configured `max_proposals_per_day` in a run) and the watcher (a step every other trader's step).
#[must_use]
pub fn agents(demo: &Demo, seed: u64) -> Vec<crate::agent::demo::DemoAgent> {
    use crate::agent::demo::{DemoAgent, Pace, Role};
    let max_stages = |name: &str| {
        demo.config
            .agents
            .iter()
            .find(|a| a.name == name)
            .map_or(0, |a| a.max_proposals_per_day)
    };
    let socket = |name: &str| crate::agent::own_socket_path(&demo.state_dir, name);
    vec![
        DemoAgent {
            state_dir: demo.state_dir.clone(),
            socket: socket(DEMO_AGENT),
            role: Role::Trader,
            seed,
            pace: Pace::HUMAN,
            max_stages: max_stages(DEMO_AGENT),
        },
        DemoAgent {
            state_dir: demo.state_dir.clone(),
            socket: socket(WATCHER_AGENT),
            role: Role::Watcher,
            seed: seed.wrapping_add(1),
            pace: Pace {
                tick: Pace::HUMAN.tick * 2,
                ..Pace::HUMAN
            },
            max_stages: 0,
        },
    ]
}

/// The demo account's positions: instruments of the example's allowlist, so every one is quoted.
fn positions(account: &str) -> Vec<SeedPosition> {
    let seed = |symbol: &str, qty: i64, cost: i64| SeedPosition {
        account: account.to_owned(),
        symbol: symbol.to_owned(),
        quantity: rust_decimal::Decimal::from(qty),
        average_cost: rust_decimal::Decimal::new(cost, 2),
    };
    vec![
        seed("AAPL", 200, 21_840),
        seed("MSFT", 50, 41_275),
        seed("SPY", -40, 60_110),
    ]
}

/// Starts both gateways (with `seed`) and makes the state dir (`state_dir`, or a fresh one under the
/// system's temporary directory).
pub async fn start(seed: u64, state_dir: Option<&Path>) -> Result<Demo, DemoError> {
    let state_dir = match state_dir {
        Some(dir) => dir.to_path_buf(),
        None => std::env::temp_dir().join(format!(
            "cockpit-demo-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp()
        )),
    };
    std::fs::create_dir_all(&state_dir).map_err(|source| DemoError::StateDir {
        dir: state_dir.clone(),
        source,
    })?;
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let paper = sim::start(
        any,
        SimConfig {
            accounts: vec!["DU1234567".into()],
            seed,
            ledger_path: Some(state_dir.join(PAPER_LEDGER)),
            positions: positions("DU1234567"),
            ..SimConfig::default()
        },
    )
    .await?;
    let live = sim::start(
        any,
        SimConfig {
            accounts: vec!["U1234567".into()],
            seed: seed.wrapping_add(1),
            starting_cash: rust_decimal::Decimal::from(250_000),
            ledger_path: Some(state_dir.join(LIVE_LEDGER)),
            positions: positions("U1234567"),
            ..SimConfig::default()
        },
    )
    .await?;
    let config = config(paper.addr().port(), live.addr().port())?;
    Ok(Demo {
        paper,
        live,
        config,
        state_dir,
    })
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn the_demo_config_points_every_profile_at_a_simulator_and_never_closes() {
        let config = config(40_002, 40_001).unwrap();
        assert_eq!(config.profiles["paper"].port, 40_002);
        assert_eq!(config.profiles["live"].port, 40_001);
        assert!(config.profiles.values().all(|p| p.policy.session.always_open));
        assert!(config.profiles.values().all(|p| p.host == "127.0.0.1"));
        assert_eq!(config.default_profile, "paper");
    }

    #[test]
    fn the_demo_agents_come_through_their_own_sockets_with_their_configured_levels() {
        let config = config(1, 2).unwrap();
        let agent = |name: &str| config.agents.iter().find(|a| a.name == name).unwrap();
        assert!(agent(DEMO_AGENT).own_socket && agent(WATCHER_AGENT).own_socket);
        assert_eq!(agent(WATCHER_AGENT).permission, crate::config::Permission::Read);
        assert!(!agent("momentum").own_socket, "only the demo's agents");
        assert!(!config.allow_same_uid_agents, "the live refusal stays");
    }
}
