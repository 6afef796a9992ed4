//! The screen: one view per pane, the header and footer, the dialogs. It renders `&State` and the
//! screen's own state and never mutates either; everything it shows of agents' text is drawn inert.
//!
//! Layout (80×24 and up): a two-line header; Staged Orders beside the focused order's card; Positions
//! beside Account; Alerts beside Agents; a one-line footer of the focused pane's keys. A live profile draws
//! a border around everything, and the banner says `LIVE` in text and reverse video, never colour alone.

mod history;
mod modal;
mod panes;
pub mod theme;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

pub use history::History;
pub use theme::Theme;

use crate::app::screen::{Pane, Screen};
use crate::app::{Connection, State};
use crate::config::{Action, Mode};
use crate::policy::Level;

/// Below this the screen says it is too small instead of drawing a cramped cockpit.
pub const MIN_WIDTH: u16 = 60;
/// Below this the screen says it is too small.
pub const MIN_HEIGHT: u16 = 16;

/// Everything one frame shows.
#[derive(Debug)]
pub struct View<'a> {
    /// The core's state.
    pub state: &'a State,
    /// The screen's state.
    pub screen: &'a Screen,
    /// The theme.
    pub theme: &'a Theme,
    /// The clock.
    pub now: DateTime<Utc>,
    /// The journal's head, e.g. `#1042 9f3a0c1d`.
    pub journal_head: &'a str,
    /// Price and P&L history for the sparklines.
    pub history: &'a History,
    /// The banner of a live profile (`LIVE`, or `LIVE (SIM)` in the demo).
    pub live_label: &'a str,
}

/// Draws one frame.
pub fn draw(frame: &mut Frame, view: &View) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "terminal too small: {}×{}; the cockpit needs at least {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(text)
                .style(view.theme.warn)
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let inner = if view.state.profile.mode == Mode::Live {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_set(view.theme.borders())
            .border_style(view.theme.live_border)
            .title(Span::styled(format!(" {} ", view.live_label), view.theme.live));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        inner
    } else {
        area
    };
    let [header, body, footer] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(10), Constraint::Length(1)]).areas(inner);
    draw_header(frame, header, view);
    draw_body(frame, body, view);
    draw_footer(frame, footer, view);
    if let Some(dialog) = &view.screen.dialog {
        modal::draw(frame, inner, dialog, view);
    }
}

fn draw_body(frame: &mut Frame, area: Rect, view: &View) {
    let narrow = area.width < 100;
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Percentage(40),
        Constraint::Percentage(32),
        Constraint::Percentage(28),
    ])
    .areas(area);
    let split = |r: Rect| -> [Rect; 2] {
        let left = if narrow { 58 } else { 64 };
        Layout::horizontal([Constraint::Percentage(left), Constraint::Percentage(100 - left)]).areas(r)
    };
    let [staged, card] = split(top);
    let [positions, account] = split(middle);
    let [alerts, agents] = split(bottom);
    panes::staged(frame, staged, view);
    panes::card(frame, card, view);
    panes::positions(frame, positions, view);
    panes::account(frame, account, view);
    panes::alerts(frame, alerts, view);
    panes::agents(frame, agents, view);
}

/// The block of a pane, with the focus shown by the border's style and a `▶` in the title.
fn pane_block<'a>(pane: Pane, view: &View, extra: &str) -> Block<'a> {
    let focused = view.screen.focus == pane;
    let (style, mark) = if focused {
        (view.theme.focus, "▶ ")
    } else {
        (view.theme.border, "")
    };
    let title_style = if focused {
        view.theme.focus
    } else {
        view.theme.title
    };
    Block::default()
        .borders(Borders::ALL)
        .border_set(view.theme.borders())
        .border_style(style)
        .title(Span::styled(
            format!(" {mark}{}{extra} ", pane.title()),
            title_style,
        ))
}

fn banner<'a>(view: &View<'a>) -> Span<'a> {
    let t = view.theme;
    let reverse = Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD);
    match view.state.profile.mode {
        Mode::Live => Span::styled(format!(" {} ", view.live_label), t.live.patch(reverse)),
        Mode::Paper => Span::styled(" PAPER ", t.paper),
        Mode::DryRun => Span::styled(" DRY-RUN ", t.dry_run),
    }
}

fn draw_header(frame: &mut Frame, area: Rect, view: &View) {
    let (s, t) = (view.state, view.theme);
    let account = s
        .profile
        .accounts
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    let connection_style = match &s.connection {
        Connection::Ready => t.ok,
        Connection::Failed { .. } | Connection::SocketLost | Connection::ConnectivityLost => t.critical,
        _ => t.warn,
    };
    let level = s.trading.level();
    let level_style = match level {
        Level::Active => t.ok,
        Level::Reducing => t.warn,
        Level::Halted => t.critical,
    };
    let critical = Screen::unacknowledged_critical(s);
    let tz = s.profile.policy.session.timezone;
    let clock = view.now.with_timezone(&tz).format("%H:%M:%S %Z").to_string();
    let mut first = vec![
        banner(view),
        Span::raw(" "),
        Span::styled(format!("{} · {account}", s.profile.name), t.header),
        Span::raw("  "),
        Span::styled(format!("● {}", connection(s, view.now)), connection_style),
        Span::raw("  "),
        Span::styled(format!("trading {}", level.label()), level_style),
    ];
    if critical > 0 {
        first.push(Span::raw("  "));
        first.push(Span::styled(
            format!(" {critical} CRITICAL unacknowledged "),
            t.critical.add_modifier(Modifier::REVERSED),
        ));
    }
    first.push(Span::raw("  "));
    first.push(Span::styled(clock, t.dim));
    let causes: Vec<&str> = s.trading.causes().map(|(c, _)| c.label()).collect();
    let mut second = Vec::new();
    if !causes.is_empty() {
        second.push(Span::styled(
            format!("causes: {}", causes.join(", ")),
            level_style,
        ));
        second.push(Span::raw("  "));
    }
    second.push(Span::styled(market_data(s), t.dim));
    second.push(Span::raw("  "));
    second.push(Span::styled(format!("journal {}", view.journal_head), t.dim));
    if s.profile.policy.session.always_open {
        second.push(Span::styled("  session 24×7", t.dim));
    }
    frame.render_widget(Paragraph::new(vec![Line::from(first), Line::from(second)]), area);
}

/// The connection, with the reconnect countdown counted from when it was reported.
fn connection(s: &State, now: DateTime<Utc>) -> String {
    match (&s.connection, s.connection_at) {
        (
            Connection::Reconnecting {
                attempt,
                next_try_secs,
            },
            Some(at),
        ) => {
            let waited = u64::try_from((now - at).num_seconds()).unwrap_or(0);
            format!(
                "reconnecting (attempt {attempt}, next try in {} s)",
                next_try_secs.saturating_sub(waited)
            )
        }
        (Connection::Failed { why }, _) => format!("failed: {} — c retries", one_line(why)),
        (other, _) => other.to_string(),
    }
}

/// `data: live 5` or `data: live 3 · delayed 1 · unavailable 1`.
fn market_data(s: &State) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for status in s.market_data.values() {
        let name = match status {
            crate::domain::DataStatus::Live => "live",
            crate::domain::DataStatus::Delayed => "delayed",
            crate::domain::DataStatus::Frozen => "frozen",
            crate::domain::DataStatus::Unavailable { .. } => "unavailable",
        };
        *counts.entry(name).or_default() += 1;
    }
    if counts.is_empty() {
        return format!("data: {} quoted", s.quotes.len());
    }
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!("data: {}", parts.join(" · "))
}

fn draw_footer(frame: &mut Frame, area: Rect, view: &View) {
    let t = view.theme;
    let keymap = &view.screen.keymap;
    let mut actions: Vec<Action> = view.screen.focus.actions().to_vec();
    actions.extend([
        Action::FocusNext,
        Action::TradingState,
        Action::SwitchProfile,
        Action::Help,
        Action::Quit,
    ]);
    let mut spans = Vec::new();
    for action in actions {
        spans.push(Span::styled(keymap.label(action), t.key));
        spans.push(Span::styled(format!(" {}  ", action.hint()), t.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Agent or broker text made safe for one line of the terminal.
#[must_use]
pub fn one_line(text: &str) -> String {
    crate::report::text::inert(text).replace(['\n', '\t'], " ")
}

#[cfg(test)]
mod tests;
