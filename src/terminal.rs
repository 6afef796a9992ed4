//! Owns the terminal's raw/alternate-screen state and the panic hook that gives the terminal back.
//!
//! The hook restores the terminal (only if the TUI took it), lets the previous hook (color-eyre's report)
//! print, and then aborts in every build: a panic in a background task must never leave the UI drawing on a
//! half-restored terminal. It does not draw anything itself.

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the TUI currently owns the terminal (raw mode + alternate screen).
static TUI_OWNS_TERMINAL: AtomicBool = AtomicBool::new(false);

/// Installs color-eyre and then the restoring, aborting panic hook. Call once, first thing in `main`.
pub fn install_hooks() -> color_eyre::Result<()> {
    color_eyre::install()?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
        std::process::abort();
    }));
    Ok(())
}

/// Takes the terminal for the TUI: raw mode and the alternate screen.
pub fn init() -> ratatui::DefaultTerminal {
    TUI_OWNS_TERMINAL.store(true, Ordering::SeqCst);
    ratatui::init()
}

/// Gives the terminal back if the TUI had it; safe to call any number of times.
pub fn restore() {
    if TUI_OWNS_TERMINAL.swap(false, Ordering::SeqCst) {
        ratatui::restore();
    }
}
