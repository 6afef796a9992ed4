//! Dialogs, drawn centred over the panes (which stay visible around them).

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::{View, one_line, panes};
use crate::app::GLOBAL_CANCEL_READ_BACK;
use crate::app::screen::{Dialog, Field, Form, Purpose};
use crate::config::{Action, Mode};

fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

fn hint<'a>(view: &View, keys: &[(&str, &str)]) -> Line<'a> {
    let mut spans = Vec::new();
    for (k, what) in keys {
        spans.push(Span::styled((*k).to_owned(), view.theme.key));
        spans.push(Span::styled(format!(" {what}   "), view.theme.dim));
    }
    Line::from(spans)
}

fn input_line<'a>(label: &str, value: &str, view: &View) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{label}: "), view.theme.dim),
        Span::styled(format!("{}▏", one_line(value)), view.theme.text),
    ])
}

/// Draws `dialog`.
pub fn draw(frame: &mut Frame, area: Rect, dialog: &Dialog, view: &View) {
    let t = view.theme;
    let (title, lines, style) = content(dialog, view);
    let width = area.width.saturating_sub(4).min(76);
    let height = u16::try_from(lines.len() + 3)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let rect = centred(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_set(t.borders())
        .border_style(style)
        .title(Span::styled(format!(" {title} "), style));
    frame.render_widget(
        Paragraph::new(lines)
            .style(t.modal)
            .wrap(Wrap { trim: false })
            .block(block),
        rect,
    );
}

#[expect(clippy::too_many_lines, reason = "one arm per dialog")]
fn content<'a>(dialog: &Dialog, view: &View) -> (String, Vec<Line<'a>>, ratatui::style::Style) {
    let t = view.theme;
    let live = view.state.profile.mode == Mode::Live;
    let esc = ("Esc", "close");
    match dialog {
        Dialog::Help => {
            let keymap = &view.screen.keymap;
            let mut lines: Vec<Line> = Action::ALL
                .iter()
                .map(|a| {
                    Line::from(vec![
                        Span::styled(format!("{:>8}  ", keymap.label(*a)), t.key),
                        Span::raw(a.hint()),
                    ])
                })
                .collect();
            lines.push(Line::styled(
                "Arrows always move; Shift-Tab always moves back. In dialogs: y confirms, Esc cancels.",
                t.dim,
            ));
            ("Keys".into(), lines, t.focus)
        }
        Dialog::Detail(id) => {
            let lines = view
                .state
                .proposals
                .get(id)
                .map(|p| panes::card_lines(p, view))
                .unwrap_or_default();
            (format!("Order #{}", id.0), lines, t.focus)
        }
        Dialog::AlertText(id) => {
            let lines = view
                .state
                .alerts
                .iter()
                .find(|a| a.id == *id)
                .map(|a| {
                    vec![
                        Line::raw(crate::report::text::inert(&a.text)),
                        Line::styled(
                            format!(
                                "{:?} · {:?} · {}",
                                a.severity,
                                a.source,
                                if a.acknowledged {
                                    "acknowledged"
                                } else {
                                    "not acknowledged (A)"
                                }
                            ),
                            t.dim,
                        ),
                    ]
                })
                .unwrap_or_default();
            (format!("Alert {}", id.0), lines, t.focus)
        }
        Dialog::Confirm(a) => {
            let style = if live { t.live_border } else { t.focus };
            let lines = vec![
                Line::styled(a.summary.clone(), t.title),
                Line::raw(format!(
                    "Proposal #{} version {} · fingerprint {}",
                    a.id.0, a.version, a.fingerprint
                )),
                Line::styled(
                    format!(
                        "Refused if the quote moves more than {} % before you press y.",
                        a.tolerance_pct
                    ),
                    t.dim,
                ),
                hint(view, &[("y", "send"), ("n", "not now"), esc]),
            ];
            (
                if live {
                    "LIVE order — confirm".into()
                } else {
                    "Confirm order".into()
                },
                lines,
                style,
            )
        }
        Dialog::Typed {
            approval,
            read_back,
            input,
        } => {
            let style = if live { t.live_border } else { t.warn };
            let lines = vec![
                Line::styled(approval.summary.clone(), t.title),
                Line::raw("To send it, type exactly:"),
                Line::styled(format!("    {read_back}"), t.key),
                input_line("typed", input.value(), view),
                hint(view, &[("Enter", "send"), esc]),
            ];
            (
                if live {
                    "LIVE order — type the read-back".into()
                } else {
                    "Type the read-back".into()
                },
                lines,
                style,
            )
        }
        Dialog::Refused { title, lines } => {
            let mut out: Vec<Line> = lines.iter().map(|l| Line::raw(one_line(l))).collect();
            out.push(hint(view, &[esc]));
            (title.clone(), out, t.critical)
        }
        Dialog::Reject { id, input } => (
            format!("Reject order #{}", id.0),
            vec![
                Line::raw("Reason (optional; the agent is told):"),
                input_line("reason", input.value(), view),
                hint(view, &[("Enter", "reject"), esc]),
            ],
            t.warn,
        ),
        Dialog::Form(form) => form_content(form, view),
        Dialog::KillSwitch => (
            "Kill switch".into(),
            vec![
                Line::raw("y: HALT trading and cancel every order this cockpit placed."),
                Line::raw("g: IB's global cancel instead — every open order of the account,"),
                Line::raw("   including your own stops entered elsewhere (typed confirmation)."),
                hint(view, &[("y", "halt + cancel"), ("g", "global cancel…"), esc]),
            ],
            t.critical,
        ),
        Dialog::GlobalCancel { input } => (
            "IB global cancel".into(),
            vec![
                Line::raw("Cancels EVERY open order of the account at IB, not only the cockpit's."),
                Line::styled(format!("Type {GLOBAL_CANCEL_READ_BACK} and Enter:"), t.warn),
                input_line("typed", input.value(), view),
                hint(view, &[("Enter", "cancel all"), esc]),
            ],
            t.critical,
        ),
        Dialog::Resume { typed, input } => {
            let mut lines = vec![Line::raw("Every cause has cleared.")];
            if *typed {
                lines.push(Line::styled(
                    "Trading is HALTED. Type RESUME and Enter to trade again:",
                    t.warn,
                ));
                lines.push(input_line("typed", input.value(), view));
                lines.push(hint(view, &[("Enter", "resume"), esc]));
            } else {
                lines.push(hint(view, &[("y", "resume trading"), esc]));
            }
            ("Resume trading".into(), lines, t.warn)
        }
        Dialog::Profiles { choices, at } => {
            let mut lines: Vec<Line> = choices
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let current = c.name == view.state.profile.name;
                    let text = format!(
                        "{} {:<10} {:<12} {}{}",
                        if i == *at { "›" } else { " " },
                        c.name,
                        c.label,
                        c.account,
                        if current { "  (in use)" } else { "" }
                    );
                    if i == *at {
                        Line::styled(text, t.selected)
                    } else {
                        Line::raw(text)
                    }
                })
                .collect();
            lines.push(hint(view, &[("j/k", "choose"), ("Enter", "switch"), esc]));
            ("Switch profile".into(), lines, t.focus)
        }
        Dialog::Working { to, count } => (
            "Orders still working".into(),
            vec![
                Line::raw(format!(
                    "{count} order(s) placed by this cockpit still work at the {} gateway.",
                    view.state.profile.name
                )),
                Line::raw(format!("Before switching to {}:", to.name)),
                hint(view, &[("c", "cancel them"), ("k", "keep them working"), esc]),
            ],
            t.warn,
        ),
        Dialog::EnterLive { to, input, .. } => (
            format!("Enter {}", to.label),
            vec![
                Line::styled(
                    format!("You are switching to {} ({}).", to.name, to.label),
                    t.live_border,
                ),
                Line::raw("Type the live account id to continue:"),
                input_line("account", input.value(), view),
                hint(view, &[("Enter", "switch"), esc]),
            ],
            t.live_border,
        ),
        Dialog::LeaveLive { to, .. } => (
            "Leave live".into(),
            vec![
                Line::raw(format!("Leave the live profile for {} ({})?", to.name, to.label)),
                hint(view, &[("y", "switch"), esc]),
            ],
            t.warn,
        ),
        Dialog::Quit { in_flight } => (
            "Quit".into(),
            vec![
                Line::raw(format!(
                    "{in_flight} order(s) are in flight. They stay at the broker; the cockpit will reconcile them when it starts again."
                )),
                hint(view, &[("y", "quit"), esc]),
            ],
            t.warn,
        ),
    }
}

fn form_content<'a>(form: &Form, view: &View) -> (String, Vec<Line<'a>>, ratatui::style::Style) {
    let t = view.theme;
    let title = match form.purpose {
        Purpose::Edit(id) => format!("Edit order #{} (a new version, approved afresh)", id.0),
        Purpose::New => "New order ticket".to_owned(),
    };
    let mut lines: Vec<Line> = form
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let focused = i == form.focus;
            let value = match f {
                Field::Choice { .. } => format!("‹ {} ›", f.value()),
                Field::Text { .. } if focused => format!("{}▏", one_line(f.value())),
                _ => one_line(f.value()),
            };
            Line::from(vec![
                Span::styled(
                    format!("{} {:>14}: ", if focused { "›" } else { " " }, f.label()),
                    t.dim,
                ),
                Span::styled(value, if focused { t.selected } else { t.text }),
            ])
        })
        .collect();
    lines.push(Line::styled(form.limits.join(" · "), t.dim));
    if form.problems.is_empty() {
        if let Some(v) = &form.verdict {
            lines.push(Line::styled(v.clone(), t.ok));
        }
    } else {
        for p in &form.problems {
            lines.push(Line::styled(format!("✗ {}", one_line(p)), t.critical));
        }
    }
    lines.push(hint(
        view,
        &[
            ("Tab/↑↓", "field"),
            ("←→", "choose"),
            ("Enter", "submit"),
            ("Esc", "cancel"),
        ],
    ));
    (title, lines, t.focus)
}
