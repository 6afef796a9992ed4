//! One view per pane. Each reads the state and the screen's selection and draws; none changes anything.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Sparkline, Table, TableState, Wrap};
use rust_decimal::Decimal;

use super::{View, one_line, pane_block};
use crate::app::screen::{Pane, Screen};
use crate::app::{Proposal, Stage};
use crate::domain::{AgeBucket, Severity, Side};
use crate::policy::{Requester, Tier};

fn money(v: Option<Decimal>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{:.2}", v.round_dp(2)))
}

fn signed(v: Option<Decimal>, view: &View) -> Span<'static> {
    match v {
        None => Span::styled("—", view.theme.dim),
        Some(v) => {
            let style = if v.is_sign_negative() {
                view.theme.loss
            } else {
                view.theme.gain
            };
            Span::styled(format!("{:+.2}", v.round_dp(2)), style)
        }
    }
}

fn age(from: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - from).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        _ => format!("{}h", secs / 3600),
    }
}

fn who(p: &Proposal) -> String {
    match &p.requester {
        Requester::Trader => "trader".to_owned(),
        Requester::Agent { name, .. } => one_line(name),
    }
}

fn tier(p: &Proposal) -> &'static str {
    match p.tier {
        Some(Tier::None) => "auto",
        Some(Tier::Confirm) => "confirm",
        Some(Tier::Typed) => "typed",
        None => "",
    }
}

fn price(p: &Proposal) -> String {
    let t = &p.ticket;
    match (t.limit_price, t.stop_price) {
        (Some(l), Some(s)) => format!("{s}/{l}"),
        (Some(l), None) => l.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => "MKT".to_owned(),
    }
}

fn verdict(p: &Proposal) -> String {
    match p.stage {
        Stage::Refused => format!(
            "REFUSED {}",
            p.violations
                .iter()
                .map(|v| v.rule.code())
                .collect::<Vec<_>>()
                .join(",")
        ),
        Stage::AwaitingApproval => "ok".to_owned(),
        other => other.to_string(),
    }
}

/// The Staged Orders pane's width from which every column is shown.
const WIDE: u16 = 76;

/// Staged Orders.
#[expect(clippy::too_many_lines, reason = "two column sets, wide and narrow")]
pub fn staged(frame: &mut Frame, area: Rect, view: &View) {
    let (s, t) = (view.state, view.theme);
    let rows = Screen::staged_rows(s);
    let pending = rows
        .iter()
        .filter(|id| s.proposals.get(id).is_some_and(|p| p.stage.is_pending()))
        .count();
    let block = pane_block(Pane::Staged, view, &format!(" ({pending} pending)"));
    let ttl = chrono::Duration::seconds(crate::app::APPROVAL_TTL_SECS);
    let table_rows: Vec<Row> = rows
        .iter()
        .filter_map(|id| s.proposals.get(id))
        .map(|p| {
            let side_style = if p.ticket.side == Side::Buy { t.buy } else { t.sell };
            let style = match p.stage {
                Stage::Refused | Stage::Done(_) => t.dim,
                _ => t.text,
            };
            let expiry = if p.stage.is_pending() {
                let left = (p.staged_at + ttl - view.now).num_seconds().max(0);
                format!("{}/{left}s", age(p.staged_at, view.now))
            } else {
                age(p.staged_at, view.now)
            };
            let cells = if area.width < WIDE {
                vec![
                    Cell::from(format!("#{}", p.id.0)),
                    Cell::from(Span::styled(p.ticket.side.as_ib(), side_style)),
                    Cell::from(p.ticket.quantity.to_string()),
                    Cell::from(p.ticket.instrument.symbol.to_string()),
                    Cell::from(price(p)),
                    Cell::from(verdict(p)),
                    Cell::from(expiry.rsplit('/').next().unwrap_or_default().to_owned()),
                ]
            } else {
                vec![
                    Cell::from(format!("#{}", p.id.0)),
                    Cell::from(who(p)),
                    Cell::from(Span::styled(p.ticket.side.as_ib(), side_style)),
                    Cell::from(p.ticket.quantity.to_string()),
                    Cell::from(p.ticket.instrument.symbol.to_string()),
                    Cell::from(p.ticket.order_type.as_ib()),
                    Cell::from(price(p)),
                    Cell::from(money(p.notional)),
                    Cell::from(verdict(p)),
                    Cell::from(tier(p)),
                    Cell::from(expiry),
                ]
            };
            Row::new(cells).style(style)
        })
        .collect();
    if table_rows.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "No staged orders. Agents' proposals appear here; `n` writes your own ticket.",
                t.dim,
            ))
            .wrap(Wrap { trim: true })
            .block(block),
            area,
        );
        return;
    }
    // Narrower than WIDE, the agent, type, notional and tier give way (the card shows them).
    let (header, widths) = if area.width < WIDE {
        (
            Row::new(vec!["id", "side", "qty", "sym", "price", "verdict", "exp"]),
            vec![
                Constraint::Length(4),
                Constraint::Length(4),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(7),
                Constraint::Min(6),
                Constraint::Length(6),
            ],
        )
    } else {
        (
            Row::new(vec![
                "id", "by", "side", "qty", "sym", "type", "price", "notional", "verdict", "tier", "age/exp",
            ]),
            vec![
                Constraint::Length(3),
                Constraint::Length(8),
                Constraint::Length(4),
                Constraint::Length(5),
                Constraint::Length(5),
                Constraint::Length(3),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Min(7),
                Constraint::Length(7),
                Constraint::Length(7),
            ],
        )
    };
    let header = header.style(t.title);
    let mut state = TableState::default();
    state.select(
        view.screen
            .staged
            .and_then(|id| rows.iter().position(|r| *r == id)),
    );
    let table = Table::new(table_rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(t.selected)
        .highlight_symbol("›")
        .block(block);
    frame.render_stateful_widget(table, area, &mut state);
}

/// The detail card of the selected staged order.
pub fn card(frame: &mut Frame, area: Rect, view: &View) {
    let (s, t) = (view.state, view.theme);
    let block = ratatui::widgets::Block::default()
        .borders(ratatui::widgets::Borders::ALL)
        .border_set(t.borders())
        .border_style(t.border)
        .title(Span::styled(" Order card ", t.title));
    let Some(p) = view.screen.staged.and_then(|id| s.proposals.get(&id)) else {
        frame.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let lines = card_lines(p, view);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(block),
        area,
    );
}

/// The card's lines (also the body of the detail dialog).
pub fn card_lines(p: &Proposal, view: &View) -> Vec<Line<'static>> {
    let (s, t) = (view.state, view.theme);
    let tk = &p.ticket;
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("#{} v{} ", p.id.0, p.version), t.title),
            Span::styled(
                format!(
                    "{} {} {} {} {}",
                    tk.side.as_ib(),
                    tk.quantity,
                    tk.instrument.symbol,
                    tk.order_type.as_ib(),
                    price(p)
                ),
                if tk.side == Side::Buy { t.buy } else { t.sell },
            ),
            Span::styled(format!(" {}", tk.tif.as_ib()), t.text),
        ]),
        Line::styled(
            format!("by {} · {} · account {}", who(p), p.stage, tk.account),
            t.dim,
        ),
    ];
    if let Some(n) = p.notional {
        lines.push(Line::raw(format!(
            "notional {} · approval {}",
            n.round_dp(2),
            if tier(p).is_empty() { "—" } else { tier(p) }
        )));
    }
    let quote = s.quotes.get(&tk.instrument);
    let stale = chrono::Duration::seconds(i64::from(s.profile.policy.quote_max_age_secs));
    lines.push(Line::raw(match quote {
        Some(q) => format!(
            "quote now {} × {} ({})",
            q.bid.map_or("—".into(), |p| p.to_string()),
            q.ask.map_or("—".into(), |p| p.to_string()),
            q.bucket(view.now, stale).label()
        ),
        None => "quote now: none".to_owned(),
    }));
    if let Some(then) = p.staged_mid {
        let now = quote.and_then(|q| q.mid().or(q.last.map(crate::domain::Price::get)));
        let moved = crate::app::screen::Screen::moved_pct(Some(then), now)
            .map_or_else(String::new, |m| format!(" (moved {m} %)"));
        lines.push(Line::styled(format!("mid at staging {then}{moved}"), t.dim));
    }
    if !p.note.is_empty() {
        lines.push(Line::styled(format!("why: {}", one_line(&p.note)), t.text));
    }
    for v in &p.violations {
        lines.push(Line::styled(
            format!("✗ {}: {}", v.rule.code(), one_line(&v.message)),
            t.critical,
        ));
    }
    let policy = &s.profile.policy;
    if p.stage.is_pending() {
        let near = [
            ("quantity", tk.quantity.get(), policy.max_order_quantity),
            (
                "notional",
                p.notional.unwrap_or_default(),
                policy.max_order_notional,
            ),
        ];
        for (what, value, limit) in near {
            if !limit.is_zero() && value * Decimal::from(10) >= limit * Decimal::from(8) {
                lines.push(Line::styled(
                    format!("near limit: {what} {} of max {}", value.round_dp(2), limit),
                    t.warn,
                ));
            }
        }
    }
    if let Some((id, why)) = &s.last_refusal
        && *id == p.id
    {
        lines.push(Line::styled(
            format!("last approval refused: {}", one_line(why)),
            t.critical,
        ));
    }
    lines
}

/// Positions.
pub fn positions(frame: &mut Frame, area: Rect, view: &View) {
    let (s, t) = (view.state, view.theme);
    let net_liq = s.accounts.values().find_map(|a| a.net_liquidation);
    let stale = chrono::Duration::seconds(i64::from(s.profile.policy.quote_max_age_secs));
    // Average cost and unrealized P&L need room, the trend more: they give way in narrow panes.
    let costs = area.width >= 66;
    let wide = area.width >= 76;
    let rows: Vec<Row> = s
        .positions
        .iter()
        .map(|(key, qty)| {
            let instrument = &key.1;
            let cost = s.position_costs.get(key).copied();
            let quote = s.quotes.get(instrument);
            let last = quote.and_then(|q| q.mid().or(q.last.map(crate::domain::Price::get)));
            let value = last.map(|l| l * qty);
            let pct = match (value, net_liq) {
                (Some(v), Some(n)) if !n.is_zero() => {
                    format!("{:.1}%", (v * Decimal::ONE_HUNDRED / n).round_dp(1))
                }
                _ => "—".to_owned(),
            };
            let bucket = quote.map_or(AgeBucket::Stale, |q| q.bucket(view.now, stale));
            let age_style = if bucket == AgeBucket::Stale { t.warn } else { t.dim };
            let spark: String = sparkline_text(&view.history.mids(instrument), 8);
            let mut cells = vec![
                Cell::from(instrument.symbol.to_string()),
                Cell::from(qty.normalize().to_string()),
            ];
            if costs {
                cells.push(Cell::from(money(cost)));
            }
            cells.extend([Cell::from(money(last)), Cell::from(money(value))]);
            if costs {
                let unrealized = match (last, cost) {
                    (Some(l), Some(c)) => Some((l - c) * qty),
                    _ => None,
                };
                cells.push(Cell::from(signed(unrealized, view)));
            }
            cells.push(Cell::from(pct));
            if wide {
                cells.push(Cell::from(spark));
            }
            cells.push(Cell::from(Span::styled(bucket.label(), age_style)));
            Row::new(cells)
        })
        .collect();
    let mut names = vec!["sym", "qty"];
    let mut widths = vec![Constraint::Length(5), Constraint::Length(6)];
    if costs {
        names.push("avg");
        widths.push(Constraint::Length(8));
    }
    names.extend(["last", "value"]);
    widths.extend([Constraint::Length(8), Constraint::Length(10)]);
    if costs {
        names.push("unr P&L");
        widths.push(Constraint::Length(9));
    }
    names.push("%NLV");
    widths.push(Constraint::Length(6));
    if wide {
        names.push("trend");
        widths.push(Constraint::Length(8));
    }
    names.push("age");
    widths.push(Constraint::Length(5));
    let header = Row::new(names).style(t.title);
    let mut selection = TableState::default();
    if view.screen.focus == Pane::Positions && !s.positions.is_empty() {
        selection.select(Some(view.screen.position));
    }
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(t.selected)
        .block(pane_block(Pane::Positions, view, ""));
    frame.render_stateful_widget(table, area, &mut selection);
}

/// A sparkline in block characters, `width` wide (the newest samples).
#[must_use]
pub fn sparkline_text(values: &[u64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let tail = &values[values.len().saturating_sub(width)..];
    let max = tail.iter().copied().max().unwrap_or(0);
    tail.iter()
        .map(|v| {
            let i = v.saturating_mul(7).checked_div(max).unwrap_or(0);
            BARS[usize::try_from(i).unwrap_or(7).min(7)]
        })
        .collect()
}

/// Account.
pub fn account(frame: &mut Frame, area: Rect, view: &View) {
    let (s, t) = (view.state, view.theme);
    let block = pane_block(Pane::Account, view, "");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some((id, a)) = s.accounts.iter().next() else {
        frame.render_widget(
            Paragraph::new(Line::styled("waiting for the account…", t.dim)),
            inner,
        );
        return;
    };
    let cushion_style = match a.cushion {
        Some(c) if c < s.cushion_warning => t.critical,
        _ => t.text,
    };
    let lines = vec![
        Line::from(vec![
            Span::styled(format!("{id} "), t.dim),
            Span::raw(format!("NLV {}", money(a.net_liquidation))),
        ]),
        Line::raw(format!(
            "cash {}  BP {}",
            money(a.total_cash),
            money(a.buying_power)
        )),
        Line::from(vec![
            Span::raw(format!("excess {}  ", money(a.excess_liquidity))),
            Span::styled(
                format!(
                    "cushion {}",
                    a.cushion
                        .map_or("—".into(), |c| format!("{:.1}%", c * Decimal::ONE_HUNDRED))
                ),
                cushion_style,
            ),
        ]),
        Line::raw(format!(
            "margin init {}  maint {}",
            money(a.init_margin),
            money(a.maint_margin)
        )),
        Line::from(vec![
            Span::raw("P&L day "),
            signed(a.daily_pnl, view),
            Span::raw(" unr "),
            signed(a.unrealized_pnl, view),
            Span::raw(" real "),
            signed(a.realized_pnl, view),
        ]),
    ];
    let [text, spark] = Layout::vertical([Constraint::Length(5), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), text);
    if spark.height > 0 {
        // Right-aligned: the newest sample at the right edge from the start, the empty left part drawn as
        // empty bars, so a flat series changes no cell as it grows (an idle screen writes only its clock).
        let pnl = view.history.pnl();
        let mut data = vec![0; usize::from(spark.width).saturating_sub(pnl.len())];
        data.extend(pnl);
        frame.render_widget(Sparkline::default().data(data).style(t.info), spark);
    }
}

/// Alerts, newest first.
pub fn alerts(frame: &mut Frame, area: Rect, view: &View) {
    let (s, t) = (view.state, view.theme);
    let tz = s.profile.policy.session.timezone;
    let unacked = s.alerts.iter().filter(|a| !a.acknowledged).count();
    // Newest first, the order of `Screen::alert_rows`.
    let rows: Vec<Row> = s
        .alerts
        .iter()
        .rev()
        .map(|a| {
            let (label, style) = match a.severity {
                Severity::Critical => ("CRIT", t.critical),
                Severity::Warning => ("WARN", t.warn),
                Severity::Info => ("info", t.info),
            };
            let style = if a.acknowledged { t.dim } else { style };
            let text_style = if a.acknowledged {
                t.dim
            } else if a.severity == Severity::Critical {
                t.critical.add_modifier(Modifier::BOLD)
            } else {
                t.text
            };
            Row::new(vec![
                Cell::from(Span::styled(label, style)),
                Cell::from(a.raised_at.with_timezone(&tz).format("%H:%M:%S").to_string()),
                Cell::from(if a.acknowledged { "ack" } else { "NEW" }),
                Cell::from(Span::styled(one_line(&a.text), text_style)),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(3),
        Constraint::Min(10),
    ];
    let mut state = TableState::default();
    if view.screen.focus == Pane::Alerts {
        state.select(
            view.screen
                .alert
                .and_then(|id| s.alerts.iter().rev().position(|a| a.id == id)),
        );
    }
    let table = Table::new(rows, widths)
        .row_highlight_style(t.selected)
        .block(pane_block(Pane::Alerts, view, &format!(" ({unacked} new)")));
    frame.render_stateful_widget(table, area, &mut state);
}

/// An agent's row in the Agents pane (and a second one with its latest refusal, if any).
fn agent_rows(lines: &mut Vec<Line<'static>>, uid: u32, a: &crate::app::AgentView, view: &View) {
    let (s, t) = (view.state, view.theme);
    let heartbeat = a
        .heartbeat_at
        .map_or_else(|| "—".to_owned(), |at| age(at, view.now));
    let late = a
        .heartbeat_at
        .is_some_and(|at| (view.now - at).num_seconds() > i64::from(s.heartbeat_secs));
    let (session, style) = if a.sessions > 0 {
        ("on", t.ok)
    } else {
        ("off", t.dim)
    };
    let mut spans = vec![
        Span::styled(format!("{:<11}", one_line(&a.name)), t.text),
        Span::styled(format!(" {:<7}", a.level.as_str()), t.info),
        Span::styled(format!(" {session}"), style),
        Span::styled(format!(" ♥{heartbeat}"), if late { t.warn } else { t.dim }),
    ];
    if let Some((strategy, state, message)) = &a.status {
        spans.push(Span::styled(
            format!(
                " {}: {} {}",
                one_line(strategy),
                one_line(state),
                one_line(message)
            ),
            t.text,
        ));
    }
    if a.status.is_none()
        && let Some((tool, at)) = &a.last_call
    {
        // An agent that does not report (a read-level one cannot) is seen by its calls.
        spans.push(Span::styled(
            format!(
                " {} calls, last {} {}",
                a.calls,
                one_line(tool),
                age(*at, view.now)
            ),
            t.text,
        ));
    }
    if !a.label.is_empty() && a.label != a.name {
        spans.push(Span::styled(
            format!(" ({} uid {uid})", one_line(&a.label)),
            t.dim,
        ));
    }
    lines.push(Line::from(spans));
    if let Some((tool, why)) = &a.last_refusal {
        let text = if why.contains(tool.as_str()) {
            format!("  refused: {}", one_line(why))
        } else {
            format!("  refused {}: {}", one_line(tool), one_line(why))
        };
        lines.push(Line::styled(text, t.dim));
    }
}

/// Agents: each agent's name, level, sessions, strategy state and heartbeat age, then the latest
/// recommendations. Everything an agent wrote is drawn inert.
pub fn agents(frame: &mut Frame, area: Rect, view: &View) {
    let (s, t) = (view.state, view.theme);
    let mut lines: Vec<Line> = Vec::new();
    let mut shown = std::collections::BTreeSet::new();
    for (uid, a) in &s.agent_views {
        shown.insert(a.name.clone());
        agent_rows(&mut lines, *uid, a, view);
    }
    for a in s.agents.iter().filter(|a| !shown.contains(&a.name)) {
        let level = s.profile.effective_permission(a);
        lines.push(Line::from(vec![
            Span::styled(format!("{:<11}", one_line(&a.name)), t.text),
            Span::styled(format!(" {:<7}", level.as_str()), t.info),
            Span::styled(" no session", t.dim),
        ]));
    }
    if lines.is_empty() {
        lines.push(Line::styled("No agents configured.", t.dim));
    }
    if !s.external_alerts.is_empty() {
        lines.push(Line::styled(
            "agents limited to prepare: external orders unacknowledged",
            t.warn,
        ));
    }
    if s.profile.mode == crate::config::Mode::Live {
        for a in s.agent_views.values().filter(|a| a.same_uid && a.sessions > 0) {
            lines.push(Line::styled(
                format!(
                    "⚠ {} runs under the cockpit's own uid on a live profile",
                    one_line(&a.name)
                ),
                t.critical,
            ));
        }
    }
    let tz = s.profile.policy.session.timezone;
    for r in s.recommendations.iter().rev() {
        lines.push(Line::from(vec![
            Span::styled(r.at.with_timezone(&tz).format("%H:%M ").to_string(), t.dim),
            Span::styled(format!("{}: ", one_line(&r.agent)), t.info),
            Span::styled(
                format!(
                    "{}{}",
                    r.symbol
                        .as_deref()
                        .map(|s| format!("[{}] ", one_line(s)))
                        .unwrap_or_default(),
                    one_line(&r.text)
                ),
                t.text,
            ),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(pane_block(Pane::Agents, view, "")),
        area,
    );
}
