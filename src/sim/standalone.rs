//! `cockpit sim`: runs the simulator in the foreground until Ctrl-C, logging to the state dir.

use std::io::Write;
use std::path::Path;

use super::{Scenario, SimConfig, SimError};
use crate::cli::SimArgs;

/// Runs a standalone simulator with the given flags; writes a short banner to `out`.
pub fn run(args: &SimArgs, state_dir: &Path, out: &mut dyn Write) -> Result<(), SimError> {
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::default(),
    };
    let cfg = SimConfig {
        accounts: args.accounts.clone(),
        seed: args.seed,
        scenario,
        ledger_path: args.ledger.clone(),
        tick_interval: std::time::Duration::from_millis(args.tick_ms),
        flood: args.flood.map(|ticks_per_sec| super::Flood {
            ticks_per_sec,
            symbols: args.flood_symbols,
        }),
        ..SimConfig::default()
    }
    .with_sample_positions();
    cfg.validate()?;
    let logs = crate::logging::init(state_dir, "sim.log").map_err(|source| SimError::Io {
        what: format!("cannot create logs under {}", state_dir.display()),
        source,
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| SimError::Io {
            what: "cannot start the async runtime".into(),
            source,
        })?;
    runtime.block_on(async {
        let sim = super::start(args.listen, cfg).await?;
        let _ = writeln!(
            out,
            "cockpit sim: IB Gateway simulator listening on {} (server version 226), accounts {}; logs in {}. Ctrl-C stops it.",
            sim.addr(),
            args.accounts.join(","),
            logs.dir.display()
        );
        let _ = out.flush();
        let _ = tokio::signal::ctrl_c().await;
        sim.shutdown().await;
        Ok(())
    })
}
