//! Owns the terminal's raw/alternate-screen state and the panic hook that gives the terminal back.
//!
//! The hook restores the terminal (only if the TUI took it), lets the previous hook (color-eyre's report)
//! print, and then aborts in every build: a panic in a background task must never leave the UI drawing on a
//! half-restored terminal. It does not draw anything itself.

use std::io::{Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The screen's output: each frame is gathered whole and goes out in one write when ratatui flushes at its
/// end (PERFORMANCE M7), instead of one write per kilobyte through the standard output's line buffer; a
/// frame that changed no cell — ratatui still ends each with a colour reset and a hidden cursor, which the
/// terminal already has — writes nothing (M6: an idle screen sends only what changes, e.g. the clock).
#[derive(Debug)]
pub struct FrameWriter<W: Write> {
    out: W,
    frame: Vec<u8>,
}

/// What ratatui writes for a frame in which no cell changed.
const UNCHANGED_FRAME: &[u8] = b"\x1b[39m\x1b[49m\x1b[59m\x1b[0m\x1b[?25l";

/// The frame buffer's initial capacity: room for a full 200×50 repaint (about 16 KB) several times over.
pub const FRAME_BYTES: usize = 64 * 1024;

impl<W: Write> FrameWriter<W> {
    /// Frames to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            frame: Vec::with_capacity(FRAME_BYTES),
        }
    }
}

impl<W: Write> Write for FrameWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.frame.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.frame.is_empty() && self.frame != UNCHANGED_FRAME {
            self.out.write_all(&self.frame)?;
        }
        self.frame.clear();
        self.out.flush()
    }
}

/// The terminal the screen draws on.
pub type Tty = Terminal<CrosstermBackend<FrameWriter<Stdout>>>;

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

/// Takes the terminal for the TUI: raw mode and the alternate screen, drawn through a [`FrameWriter`].
pub fn init() -> std::io::Result<Tty> {
    TUI_OWNS_TERMINAL.store(true, Ordering::SeqCst);
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    Terminal::new(CrosstermBackend::new(FrameWriter::new(std::io::stdout())))
}

/// Gives the terminal back if the TUI had it; safe to call any number of times.
pub fn restore() {
    if TUI_OWNS_TERMINAL.swap(false, Ordering::SeqCst) {
        ratatui::restore();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::{FrameWriter, UNCHANGED_FRAME};

    #[test]
    fn a_frame_goes_out_in_one_write_and_an_unchanged_one_not_at_all() {
        let writes = Shared::default();
        let mut w = FrameWriter::new(writes.clone());
        let count = || writes.0.load(std::sync::atomic::Ordering::SeqCst);
        for part in [&b"\x1b[1;1H"[..], b"12:00:01", UNCHANGED_FRAME] {
            w.write_all(part).expect("write");
        }
        w.flush().expect("flush");
        assert_eq!(count(), 1, "one write for the frame");
        w.write_all(UNCHANGED_FRAME).expect("write");
        w.flush().expect("flush");
        w.flush().expect("an empty flush");
        assert_eq!(count(), 1, "nothing for a frame that changed no cell");
    }

    /// Counts the writes that reach it, shared.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn ratatui_ends_a_frame_that_changed_nothing_with_exactly_the_sequence_dropped() {
        use ratatui::backend::CrosstermBackend;
        use ratatui::layout::Rect;
        use ratatui::{Terminal, TerminalOptions, Viewport};
        let writes = Shared::default();
        let options = TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 20, 2)),
        };
        let mut terminal =
            Terminal::with_options(CrosstermBackend::new(FrameWriter::new(writes.clone())), options)
                .expect("terminal");
        let count = || writes.0.load(std::sync::atomic::Ordering::SeqCst);
        terminal
            .draw(|f| f.render_widget("12:00:01", f.area()))
            .expect("draw");
        let first = count();
        assert!(first >= 1);
        terminal
            .draw(|f| f.render_widget("12:00:01", f.area()))
            .expect("draw");
        assert_eq!(
            count(),
            first,
            "the same frame again writes nothing (ratatui changed its no-op frame if this fails)"
        );
        terminal
            .draw(|f| f.render_widget("12:00:02", f.area()))
            .expect("draw");
        assert_eq!(count(), first + 1, "a change is one write");
    }
}
