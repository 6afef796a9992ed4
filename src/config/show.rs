//! `cockpit check-config`'s report: the effective profiles, agents, permission levels and limits as
//! readable tables; it writes to the handle it is given and decides nothing.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{AfterLongDisconnect, Config, Mode, Permission, Policy, Profile, StepTo};

/// Writes the effective configuration as plain-text tables.
pub fn write_summary(config: &Config, path: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "config {path} is valid (sha256 {})", config.hash)?;
    writeln!(out)?;
    writeln!(out, "Profiles (default: {})", config.default_profile)?;
    let mut rows = vec![row(&[
        "profile",
        "mode",
        "gateway",
        "client id",
        "accounts",
        "agents may",
    ])];
    for p in config.profiles.values() {
        rows.push(vec![
            p.name.clone(),
            mode_label(p.mode).to_string(),
            format!("{}:{}", p.host, p.port),
            p.client_id.to_string(),
            p.accounts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            p.agent_permission.to_string(),
        ]);
    }
    table(out, &rows)?;
    for p in config.profiles.values() {
        if p.mode == Mode::Live && p.agent_permission == Permission::Execute {
            writeln!(
                out,
                "WARNING: profile '{}' lets execute-level agents send LIVE orders below the approval threshold",
                p.name
            )?;
        }
    }
    if config.allow_same_uid_agents {
        writeln!(
            out,
            "WARNING: allow_same_uid_agents = true: agents running as the cockpit's own user are admitted on live profiles"
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Agents (effective permission per profile)")?;
    if config.agents.is_empty() {
        writeln!(out, "  none: no agent can connect")?;
    } else {
        let mut head = vec!["uid".to_string(), "agent".to_string(), "own level".to_string()];
        head.extend(config.profiles.keys().cloned());
        head.extend(["calls/min", "proposals/day", "unapproved budget"].map(String::from));
        let mut rows = vec![head];
        for a in &config.agents {
            let mut r = vec![a.uid.to_string(), a.name.clone(), a.permission.to_string()];
            r.extend(
                config
                    .profiles
                    .values()
                    .map(|p| p.effective_permission(a).to_string()),
            );
            r.push(a.max_calls_per_minute.to_string());
            r.push(a.max_proposals_per_day.to_string());
            r.push(money(a.unapproved_notional_budget));
            rows.push(r);
        }
        table(out, &rows)?;
    }
    writeln!(out)?;
    writeln!(out, "Limits")?;
    let profiles: Vec<&Profile> = config.profiles.values().collect();
    let mut head = vec!["limit".to_string()];
    head.extend(profiles.iter().map(|p| p.name.clone()));
    let mut rows = vec![head];
    for (label, value) in LIMITS {
        let mut r = vec![(*label).to_string()];
        r.extend(profiles.iter().map(|p| value(&p.policy)));
        rows.push(r);
    }
    table(out, &rows)?;
    for p in &profiles {
        writeln!(out)?;
        writeln!(out, "Profile {}", p.name)?;
        let mut rows = Vec::new();
        for (label, value) in DETAILS {
            rows.push(vec![(*label).to_string(), value(&p.policy)]);
        }
        table(out, &rows)?;
    }
    Ok(())
}

type Shown = fn(&Policy) -> String;

const LIMITS: &[(&str, Shown)] = &[
    ("order types", |p| join(p.order_types.iter().map(|t| t.as_ib()))),
    ("time in force", |p| join(p.tifs.iter().map(|t| t.as_ib()))),
    ("sides", |p| join(p.sides.iter().map(|t| t.as_ib()))),
    ("max quantity / order", |p| p.max_order_quantity.to_string()),
    ("max notional / order", |p| money(p.max_order_notional)),
    ("max position / symbol", |p| p.max_position.to_string()),
    ("max gross exposure", |p| money(p.max_gross_exposure)),
    ("price collar", |p| format!("{}%", p.price_collar_pct)),
    ("quote max age", |p| format!("{}s", p.quote_max_age_secs)),
    ("duplicate window", |p| format!("{}s", p.duplicate_window_secs)),
    ("orders / day", |p| p.max_orders_per_day.to_string()),
    ("notional / day", |p| money(p.max_notional_per_day)),
    ("orders / symbol / day", |p| {
        p.max_orders_per_symbol_per_day.to_string()
    }),
    ("orders / minute", |p| p.max_orders_per_minute.to_string()),
    ("confirm above", |p| money(p.manual_approval_notional)),
    ("type read-back above", |p| money(p.typed_approval_notional)),
    ("live: type above qty", |p| p.live_typed_quantity.to_string()),
    ("agent budget window", |p| {
        format!("{}s", p.agent_budget_window_secs)
    }),
];

const DETAILS: &[(&str, Shown)] = &[
    ("symbols", |p| {
        p.symbols
            .iter()
            .map(|i| format!("{}/{}", i.symbol, i.primary_exchange))
            .collect::<Vec<_>>()
            .join(" ")
    }),
    ("session", |p| {
        let s = &p.session;
        if s.always_open {
            return "24x7".to_string();
        }
        let mut text = format!(
            "{} {}-{} {}",
            s.timezone,
            s.open.format("%H:%M"),
            s.close.format("%H:%M"),
            join(s.days.iter().map(ToString::to_string))
        );
        if let Some((o, c)) = s.extended {
            let _ = write!(text, " (ext {}-{})", o.format("%H:%M"), c.format("%H:%M"));
        }
        text
    }),
    ("holidays", |p| p.session.holidays.len().to_string()),
    ("step down", |p| {
        let d = &p.step_down;
        format!(
            "rejects×{}→{} disconnect→{} dup-id→{} mismatch→{} journal→{}; after a disconnect ≥{}s: {}",
            d.reject_streak,
            step(d.on_reject_streak),
            step(d.on_disconnect),
            step(d.on_duplicate_order_id),
            step(d.on_reconciliation_mismatch),
            step(d.on_journal_error),
            d.long_disconnect_secs,
            match d.after_long_disconnect {
                AfterLongDisconnect::CancelAgentOrders => "cancel agents' working orders",
                AfterLongDisconnect::LeaveOrders => "leave working orders",
            }
        )
    }),
];

fn step(to: StepTo) -> &'static str {
    match to {
        StepTo::Reducing => "reducing",
        StepTo::Halted => "halted",
    }
}

fn join<'a>(items: impl Iterator<Item = impl AsRef<str> + 'a>) -> String {
    items
        .map(|s| s.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn money(value: rust_decimal::Decimal) -> String {
    format!("{value:.2}")
}

fn mode_label(mode: Mode) -> &'static str {
    match mode {
        Mode::Paper => "paper",
        Mode::Live => "LIVE",
        Mode::DryRun => "dry-run",
    }
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_string()).collect()
}

/// Left-aligned columns separated by two spaces.
fn table(out: &mut dyn Write, rows: &[Vec<String>]) -> io::Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "  {}", line.join("  ").trim_end())?;
    }
    Ok(())
}
