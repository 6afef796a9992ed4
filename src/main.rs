//! The `cockpit` binary: install the hooks, parse the command line, run it.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    cockpit::logging::STARTED.get_or_init(std::time::Instant::now);
    if let Err(e) = cockpit::terminal::install_hooks() {
        let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("cockpit: {e}\n"));
        return ExitCode::FAILURE;
    }
    let cli = cockpit::cli::Cli::parse();
    // Not locked for the whole run: `cockpit mcp` writes stdout from tokio's blocking threads, which would
    // wait forever on a lock held here by the main thread.
    cockpit::cli::run(cli, &mut std::io::stdout(), &mut std::io::stderr())
}
