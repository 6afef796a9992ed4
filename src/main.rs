//! The `cockpit` binary: install the hooks, parse the command line, run it.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    if let Err(e) = cockpit::terminal::install_hooks() {
        let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("cockpit: {e}\n"));
        return ExitCode::FAILURE;
    }
    let cli = cockpit::cli::Cli::parse();
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    cockpit::cli::run(cli, &mut stdout.lock(), &mut stderr.lock())
}
