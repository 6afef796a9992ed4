//! Turns the file as written into a [`Config`], checking every value and every cross-rule and collecting
//! every problem (each names its key path, the value and what is expected); it does no I/O.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::raw::{RawAgent, RawAlerts, RawConfig, RawPolicy, RawProfile, RawSession, RawStepDown, RawSymbol};
use super::{
    Action, AfterLongDisconnect, Agent, AlertSettings, Config, Mode, Permission, Policy, Problem, Profile,
    Session, StepDown, StepTo, THEMES,
};
use crate::domain::{AccountId, AccountKind, Currency, Instrument, OrderType, SecType, Side, Symbol, Tif};

/// The largest money amount a limit may name: keeps every policy sum far inside `Decimal`'s range.
const MAX_MONEY: i64 = 1_000_000_000_000_000;
/// The largest quantity a limit may name.
const MAX_QUANTITY: i64 = 1_000_000_000;

/// Well-known ports of each kind of gateway: (port, what listens there, its mode).
const WELL_KNOWN_PORTS: [(u16, &str, Mode); 4] = [
    (4001, "IB Gateway live", Mode::Live),
    (4002, "IB Gateway paper", Mode::Paper),
    (7496, "TWS live", Mode::Live),
    (7497, "TWS paper", Mode::Paper),
];

/// Collects problems while building.
struct Check<'p> {
    problems: &'p mut Vec<Problem>,
}

impl Check<'_> {
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        let problem = Problem {
            path: path.to_string(),
            message: message.into(),
        };
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }

    fn required<'v, T>(&mut self, value: Option<&'v T>, path: &str, what: &str) -> Option<&'v T> {
        if value.is_none() {
            self.problem(path, format!("missing; expected {what}"));
        }
        value
    }

    /// A decimal amount written as a string, within `min..=max`.
    fn decimal(&mut self, text: &str, path: &str, min: Decimal, max: Decimal, what: &str) -> Option<Decimal> {
        let trimmed = text.trim();
        let parsed = if trimmed.is_empty() || trimmed.contains(['e', 'E', '_', '+']) {
            None
        } else {
            Decimal::from_str(trimmed).ok()
        };
        let Some(value) = parsed else {
            self.problem(
                path,
                format!("'{}' is not a decimal number; expected {what}", shown(text)),
            );
            return None;
        };
        if value < min || value > max {
            self.problem(path, format!("'{trimmed}' is out of range; expected {what}"));
            return None;
        }
        Some(value.normalize())
    }

    fn money(&mut self, text: &str, path: &str) -> Option<Decimal> {
        let value = self.decimal(
            text,
            path,
            Decimal::ZERO,
            Decimal::from(MAX_MONEY),
            &format!(
                "an amount of money from \"0\" to \"{MAX_MONEY}\", written as a string like \"5000.00\""
            ),
        )?;
        self.scale(value, text, path, 2)
    }

    /// Refuses more than `max` decimal places.
    fn scale(&mut self, value: Decimal, text: &str, path: &str, max: u32) -> Option<Decimal> {
        if value.scale() <= max {
            Some(value)
        } else {
            self.problem(
                path,
                format!("'{}' has more than {max} decimal places", text.trim()),
            );
            None
        }
    }

    fn quantity(&mut self, text: &str, path: &str) -> Option<Decimal> {
        let what = format!("a whole number of shares from \"1\" to \"{MAX_QUANTITY}\", written as a string");
        let value = self.decimal(text, path, Decimal::ONE, Decimal::from(MAX_QUANTITY), &what)?;
        if value.fract().is_zero() {
            Some(value)
        } else {
            self.problem(path, format!("'{}' is not whole; expected {what}", text.trim()));
            None
        }
    }

    fn count(&mut self, value: i64, path: &str, min: u32, max: u32, unit: &str) -> Option<u32> {
        match u32::try_from(value) {
            Ok(v) if (min..=max).contains(&v) => Some(v),
            _ => {
                self.problem(
                    path,
                    format!("{value} is out of range; expected {min} to {max} {unit}"),
                );
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, text: &str, path: &str, options: &[(&str, T)]) -> Option<T> {
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == text) {
            return Some(*v);
        }
        let names: Vec<String> = options.iter().map(|(n, _)| format!("\"{n}\"")).collect();
        self.problem(
            path,
            format!(
                "'{}' is not allowed; expected one of {}",
                shown(text),
                names.join(", ")
            ),
        );
        None
    }
}

/// A value as quoted in a message: control characters escaped, at most 40 characters.
fn shown(text: &str) -> String {
    text.chars().take(40).flat_map(char::escape_debug).collect()
}

/// Builds the config, or `None` when a problem was recorded.
pub(super) fn build(raw: &RawConfig, problems: &mut Vec<Problem>) -> Option<Config> {
    let mut check = Check { problems };
    let profiles = profiles(raw, &mut check);
    let agents = agents(&raw.agents, &mut check);
    let default_profile = raw.default_profile.clone().unwrap_or_else(|| "paper".to_string());
    match profiles.get(&default_profile) {
        None if !raw.profiles.is_empty() && !raw.profiles.contains_key(&default_profile) => check.problem(
            "default_profile",
            format!(
                "'{}' is not a profile; expected one of: {}",
                shown(&default_profile),
                raw.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ),
        Some(p) if p.mode == Mode::Live => check.problem(
            "default_profile",
            format!(
                "'{default_profile}' is a live profile; live is never the default — choose it with --profile"
            ),
        ),
        _ => {}
    }
    if raw.profiles.is_empty() {
        check.problem("profiles", "missing; expected at least one [profiles.NAME] table");
    }
    let theme = theme(raw, &mut check);
    let keys = keys(raw.keys.as_ref(), &mut check);
    let alerts = alerts(raw.alerts.as_ref(), &mut check);
    if !check.problems.is_empty() {
        return None;
    }
    Some(Config {
        default_profile,
        allow_same_uid_agents: raw.allow_same_uid_agents.unwrap_or(false),
        profiles,
        agents,
        theme,
        ascii_borders: raw.theme.as_ref().and_then(|t| t.ascii_borders).unwrap_or(false),
        keys,
        alerts,
        hash: String::new(),
    })
}

fn profiles(raw: &RawConfig, check: &mut Check<'_>) -> BTreeMap<String, Profile> {
    let mut out = BTreeMap::new();
    for (name, p) in &raw.profiles {
        if let Some(profile) = profile(name, p, raw.policy.as_ref(), check) {
            out.insert(name.clone(), profile);
        }
    }
    out
}

#[expect(
    clippy::too_many_lines,
    reason = "one statement per profile key, then the cross-checks"
)]
fn profile(name: &str, raw: &RawProfile, base: Option<&RawPolicy>, check: &mut Check<'_>) -> Option<Profile> {
    let at = |key: &str| format!("profiles.{name}.{key}");
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        check.problem(
            &format!("profiles.{}", shown(name)),
            "a profile name uses only ASCII letters, digits, '-' and '_'",
        );
    }
    let modes = [
        ("paper", Mode::Paper),
        ("live", Mode::Live),
        ("dry-run", Mode::DryRun),
    ];
    let mode = check
        .required(
            raw.mode.as_ref(),
            &at("mode"),
            "\"paper\", \"live\" or \"dry-run\"",
        )
        .and_then(|m| check.choice(m, &at("mode"), &modes));
    let host = check
        .required(
            raw.host.as_ref(),
            &at("host"),
            "the gateway's host, e.g. \"127.0.0.1\"",
        )
        .cloned();
    if host
        .as_deref()
        .is_some_and(|h| h.trim().is_empty() || h.chars().any(char::is_control))
    {
        check.problem(&at("host"), "expected a host name or address, e.g. \"127.0.0.1\"");
    }
    let port = check
        .required(
            raw.port.as_ref(),
            &at("port"),
            "the gateway's port (4002 paper, 4001 live)",
        )
        .and_then(|&p| match u16::try_from(p) {
            Ok(port) if port > 0 => Some(port),
            _ => {
                check.problem(&at("port"), format!("{p} is not a port; expected 1 to 65535"));
                None
            }
        });
    let client_id = check
        .required(
            raw.client_id.as_ref(),
            &at("client_id"),
            "the API client id, e.g. 1",
        )
        .and_then(|&c| match i32::try_from(c) {
            Ok(id) if id >= 0 => Some(id),
            _ => {
                check.problem(
                    &at("client_id"),
                    format!("{c} is out of range; expected 0 to {}", i32::MAX),
                );
                None
            }
        });
    let accounts = accounts(raw.accounts.as_ref(), mode, &at("accounts"), check);
    let agent_permission = check
        .required(
            raw.agent_permission.as_ref(),
            &at("agent_permission"),
            "\"read\", \"prepare\" or \"execute\"",
        )
        .and_then(|p| permission(p, &at("agent_permission"), check));
    if let (Some(mode), Some(port)) = (mode, port) {
        port_matches_mode(
            mode,
            port,
            raw.allow_unusual_port.unwrap_or(false),
            &at("port"),
            check,
        );
    }
    if mode == Some(Mode::Live)
        && agent_permission == Some(Permission::Execute)
        && raw.allow_live_execute != Some(true)
    {
        check.problem(
            &at("agent_permission"),
            "'execute' on a live profile lets agents send real orders without approval; set allow_live_execute = true to mean it",
        );
    }
    if raw.allow_live_execute.is_some() && mode.is_some_and(|m| m != Mode::Live) {
        check.problem(&at("allow_live_execute"), "only a live profile takes this key");
    }
    let policy = policy(base, raw.policy.as_ref(), name, check);
    Some(Profile {
        name: name.to_string(),
        mode: mode?,
        host: host?,
        port: port?,
        client_id: client_id?,
        accounts: accounts?,
        agent_permission: agent_permission?,
        policy: policy?,
    })
}

fn port_matches_mode(mode: Mode, port: u16, unusual_allowed: bool, path: &str, check: &mut Check<'_>) {
    let Some((_, listener, its_mode)) = WELL_KNOWN_PORTS.iter().find(|(p, _, _)| *p == port) else {
        return;
    };
    let wrong = match mode {
        Mode::Live => *its_mode != Mode::Live,
        Mode::Paper | Mode::DryRun => *its_mode == Mode::Live,
    };
    if wrong && !unusual_allowed {
        check.problem(
            path,
            format!(
                "{port} is the {listener} port, but this is a {mode} profile; use the {mode} gateway's port or set allow_unusual_port = true"
            ),
        );
    }
}

fn accounts(
    raw: Option<&Vec<String>>,
    mode: Option<Mode>,
    path: &str,
    check: &mut Check<'_>,
) -> Option<Vec<AccountId>> {
    let raw = check.required(raw, path, "a list of IB account ids, e.g. [\"DU1234567\"]")?;
    if raw.is_empty() {
        check.problem(path, "empty; expected at least one IB account id");
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for text in raw {
        match AccountId::parse(text) {
            Ok(id) => {
                let clash = match (mode, id.kind()) {
                    (Some(Mode::Live), AccountKind::Paper) => {
                        Some("a paper account; a live profile needs a live account")
                    }
                    (Some(Mode::Paper | Mode::DryRun), AccountKind::Live) => {
                        Some("a live account; a paper or dry-run profile needs a paper account (DU…)")
                    }
                    _ => None,
                };
                if let Some(why) = clash {
                    check.problem(path, format!("'{id}' is {why}"));
                    ok = false;
                } else if out.contains(&id) {
                    check.problem(path, format!("'{id}' is listed twice"));
                    ok = false;
                } else {
                    out.push(id);
                }
            }
            Err(e) => {
                check.problem(path, e.to_string());
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn permission(text: &str, path: &str, check: &mut Check<'_>) -> Option<Permission> {
    let options = [
        ("read", Permission::Read),
        ("prepare", Permission::Prepare),
        ("execute", Permission::Execute),
    ];
    check.choice(text, path, &options)
}

/// Where one policy key comes from: the profile's override, else `[policy]`.
struct Layers<'a> {
    base: Option<&'a RawPolicy>,
    over: Option<&'a RawPolicy>,
    profile: &'a str,
}

impl<'a> Layers<'a> {
    fn get<T: ?Sized>(
        &self,
        key: &str,
        get: impl Fn(&'a RawPolicy) -> Option<&'a T>,
    ) -> Option<(&'a T, String)> {
        if let Some(v) = self.over.and_then(&get) {
            return Some((v, format!("profiles.{}.policy.{key}", self.profile)));
        }
        self.base.and_then(get).map(|v| (v, format!("policy.{key}")))
    }

    fn need<T: ?Sized>(
        &self,
        key: &str,
        check: &mut Check<'_>,
        get: impl Fn(&'a RawPolicy) -> Option<&'a T>,
    ) -> Option<(&'a T, String)> {
        let found = self.get(key, get);
        if found.is_none() {
            check.problem(
                &format!("policy.{key}"),
                "missing; every policy key needs a value in [policy] or in each profile's [profiles.NAME.policy] (see config.example.toml)",
            );
        }
        found
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one statement per policy key, in the file's order"
)]
fn policy(
    base: Option<&RawPolicy>,
    over: Option<&RawPolicy>,
    profile: &str,
    check: &mut Check<'_>,
) -> Option<Policy> {
    let l = Layers { base, over, profile };
    let money = |key: &str, check: &mut Check<'_>, get: fn(&RawPolicy) -> Option<&String>| {
        l.need(key, check, get)
            .and_then(|(v, path)| check.money(v, &path))
    };
    let quantity = |key: &str, check: &mut Check<'_>, get: fn(&RawPolicy) -> Option<&String>| {
        l.need(key, check, get)
            .and_then(|(v, path)| check.quantity(v, &path))
    };
    let count =
        |key: &str, check: &mut Check<'_>, get: fn(&RawPolicy) -> Option<&i64>, max: u32, unit: &str| {
            l.need(key, check, get)
                .and_then(|(v, path)| check.count(*v, &path, 1, max, unit))
        };
    let order_types = list(
        &l,
        "order_types",
        check,
        |p| p.order_types.as_ref(),
        |t| OrderType::parse(t).ok(),
    );
    let tifs = list(&l, "tifs", check, |p| p.tifs.as_ref(), |t| Tif::parse(t).ok());
    let sides = list(&l, "sides", check, |p| p.sides.as_ref(), |t| Side::parse(t).ok());
    let max_order_quantity = quantity("max_order_quantity", check, |p| p.max_order_quantity.as_ref());
    let max_order_notional = money("max_order_notional", check, |p| p.max_order_notional.as_ref());
    let max_position = quantity("max_position", check, |p| p.max_position.as_ref());
    let max_gross_exposure = money("max_gross_exposure", check, |p| p.max_gross_exposure.as_ref());
    let price_collar_pct = l
        .need("price_collar_pct", check, |p| p.price_collar_pct.as_ref())
        .and_then(|(v, path)| {
            check
                .decimal(
                    v,
                    &path,
                    Decimal::new(1, 2),
                    Decimal::from(50),
                    "a percentage from \"0.01\" to \"50\", written as a string",
                )
                .and_then(|pct| check.scale(pct, v, &path, 4))
        });
    let quote_max_age_secs = count(
        "quote_max_age_secs",
        check,
        |p| p.quote_max_age_secs.as_ref(),
        3600,
        "seconds",
    );
    let duplicate_window_secs = count(
        "duplicate_window_secs",
        check,
        |p| p.duplicate_window_secs.as_ref(),
        86_400,
        "seconds",
    );
    let max_orders_per_day = count(
        "max_orders_per_day",
        check,
        |p| p.max_orders_per_day.as_ref(),
        1_000_000,
        "orders",
    );
    let max_notional_per_day = money("max_notional_per_day", check, |p| p.max_notional_per_day.as_ref());
    let max_orders_per_symbol_per_day = count(
        "max_orders_per_symbol_per_day",
        check,
        |p| p.max_orders_per_symbol_per_day.as_ref(),
        1_000_000,
        "orders",
    );
    let max_orders_per_minute = count(
        "max_orders_per_minute",
        check,
        |p| p.max_orders_per_minute.as_ref(),
        3000,
        "orders",
    );
    let manual = money("manual_approval_notional", check, |p| {
        p.manual_approval_notional.as_ref()
    });
    let typed = money("typed_approval_notional", check, |p| {
        p.typed_approval_notional.as_ref()
    });
    if let (Some(m), Some(t)) = (manual, typed)
        && t < m
    {
        let (_, path) = l.get("typed_approval_notional", |p| p.typed_approval_notional.as_ref())?;
        check.problem(
            &path,
            format!("'{t}' is below manual_approval_notional '{m}'; the typed tier must be at or above the confirm tier"),
        );
    }
    let live_typed_quantity = quantity("live_typed_quantity", check, |p| p.live_typed_quantity.as_ref());
    let approval_quote_tolerance_pct = match l.get("approval_quote_tolerance_pct", |p| {
        p.approval_quote_tolerance_pct.as_ref()
    }) {
        None => Some(super::DEFAULT_APPROVAL_QUOTE_TOLERANCE_PCT),
        Some((v, path)) => check
            .decimal(
                v,
                &path,
                Decimal::new(1, 2),
                Decimal::from(50),
                "a percentage from \"0.01\" to \"50\", written as a string",
            )
            .and_then(|pct| check.scale(pct, v, &path, 4)),
    };
    let agent_budget_window_secs = count(
        "agent_budget_window_secs",
        check,
        |p| p.agent_budget_window_secs.as_ref(),
        86_400,
        "seconds",
    );
    let step_down = step_down(&l, check);
    let session = session(&l, check);
    let symbols = symbols(&l, check);
    Some(Policy {
        order_types: order_types?,
        tifs: tifs?,
        sides: sides?,
        max_order_quantity: max_order_quantity?,
        max_order_notional: max_order_notional?,
        max_position: max_position?,
        max_gross_exposure: max_gross_exposure?,
        price_collar_pct: price_collar_pct?,
        quote_max_age_secs: quote_max_age_secs?,
        duplicate_window_secs: duplicate_window_secs?,
        max_orders_per_day: max_orders_per_day?,
        max_notional_per_day: max_notional_per_day?,
        max_orders_per_symbol_per_day: max_orders_per_symbol_per_day?,
        max_orders_per_minute: max_orders_per_minute?,
        manual_approval_notional: manual?,
        typed_approval_notional: typed?,
        live_typed_quantity: live_typed_quantity?,
        approval_quote_tolerance_pct: approval_quote_tolerance_pct?,
        agent_budget_window_secs: agent_budget_window_secs?,
        step_down: step_down?,
        session: session?,
        symbols: symbols?,
    })
}

/// A non-empty list of IB codes, each parsed by `parse`, without repeats.
fn list<'a, T: PartialEq>(
    l: &Layers<'a>,
    key: &str,
    check: &mut Check<'_>,
    get: impl Fn(&'a RawPolicy) -> Option<&'a Vec<String>>,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<Vec<T>> {
    let (items, path) = l.need(key, check, get)?;
    if items.is_empty() {
        check.problem(
            &path,
            "empty; list at least one value (an empty list would refuse every order)",
        );
        return None;
    }
    let mut out = Vec::new();
    for item in items {
        match parse(item) {
            Some(v) if !out.contains(&v) => out.push(v),
            Some(_) => check.problem(&path, format!("'{}' is listed twice", shown(item))),
            None => check.problem(
                &path,
                format!(
                    "'{}' is not a valid {key} entry; see config.example.toml",
                    shown(item)
                ),
            ),
        }
    }
    (out.len() == items.len()).then_some(out)
}

/// A key of a nested policy table (`step_down`, `session`): the profile's override, else `[policy]`'s.
fn nested<'a, S: 'a, T: ?Sized>(
    l: &Layers<'a>,
    table: &str,
    key: &str,
    get_table: fn(&'a RawPolicy) -> Option<&'a S>,
    get: impl Fn(&'a S) -> Option<&'a T>,
) -> Option<(&'a T, String)> {
    if let Some(v) = l.over.and_then(get_table).and_then(&get) {
        return Some((v, format!("profiles.{}.policy.{table}.{key}", l.profile)));
    }
    l.base
        .and_then(get_table)
        .and_then(get)
        .map(|v| (v, format!("policy.{table}.{key}")))
}

/// `policy.step_down.long_disconnect_secs` when not set.
pub const DEFAULT_LONG_DISCONNECT_SECS: u32 = 60;

fn step_down_table(p: &RawPolicy) -> Option<&RawStepDown> {
    p.step_down.as_ref()
}

fn session_table(p: &RawPolicy) -> Option<&RawSession> {
    p.session.as_ref()
}

fn step_down(l: &Layers<'_>, check: &mut Check<'_>) -> Option<StepDown> {
    let level = |key: &str, f: fn(&RawStepDown) -> Option<&String>, check: &mut Check<'_>| {
        let Some((v, path)) = nested(l, "step_down", key, step_down_table, f) else {
            check.problem(
                &format!("policy.step_down.{key}"),
                "missing; expected \"reducing\" or \"halted\"",
            );
            return None;
        };
        check.choice(
            v,
            &path,
            &[("reducing", StepTo::Reducing), ("halted", StepTo::Halted)],
        )
    };
    let reject_streak = if let Some((v, path)) =
        nested(l, "step_down", "reject_streak", step_down_table, |s| {
            s.reject_streak.as_ref()
        }) {
        check.count(*v, &path, 1, 1000, "consecutive rejects")
    } else {
        check.problem(
            "policy.step_down.reject_streak",
            "missing; expected a number of consecutive rejects, e.g. 3",
        );
        None
    };
    let on_reject_streak = level("on_reject_streak", |s| s.on_reject_streak.as_ref(), check);
    let on_disconnect = level("on_disconnect", |s| s.on_disconnect.as_ref(), check);
    let on_duplicate_order_id = level(
        "on_duplicate_order_id",
        |s| s.on_duplicate_order_id.as_ref(),
        check,
    );
    let on_reconciliation_mismatch = level(
        "on_reconciliation_mismatch",
        |s| s.on_reconciliation_mismatch.as_ref(),
        check,
    );
    let on_journal_error = level("on_journal_error", |s| s.on_journal_error.as_ref(), check);
    // Optional, with the fail-closed defaults the example documents.
    let long_disconnect_secs = match nested(l, "step_down", "long_disconnect_secs", step_down_table, |s| {
        s.long_disconnect_secs.as_ref()
    }) {
        Some((v, path)) => check.count(*v, &path, 1, 86_400, "seconds"),
        None => Some(DEFAULT_LONG_DISCONNECT_SECS),
    };
    let after_long_disconnect = match nested(l, "step_down", "after_long_disconnect", step_down_table, |s| {
        s.after_long_disconnect.as_ref()
    }) {
        Some((v, path)) => check.choice(
            v,
            &path,
            &[
                ("cancel_agent_orders", AfterLongDisconnect::CancelAgentOrders),
                ("leave_orders", AfterLongDisconnect::LeaveOrders),
            ],
        ),
        None => Some(AfterLongDisconnect::CancelAgentOrders),
    };
    Some(StepDown {
        reject_streak: reject_streak?,
        on_reject_streak: on_reject_streak?,
        on_disconnect: on_disconnect?,
        on_duplicate_order_id: on_duplicate_order_id?,
        on_reconciliation_mismatch: on_reconciliation_mismatch?,
        on_journal_error: on_journal_error?,
        long_disconnect_secs: long_disconnect_secs?,
        after_long_disconnect: after_long_disconnect?,
    })
}

fn time_of_day(text: &str, path: &str, check: &mut Check<'_>) -> Option<NaiveTime> {
    let ok = text.len() == 5 && text.as_bytes()[2] == b':';
    match NaiveTime::parse_from_str(text, "%H:%M") {
        Ok(t) if ok => Some(t),
        _ => {
            check.problem(
                path,
                format!(
                    "'{}' is not a time of day; expected \"HH:MM\", e.g. \"09:30\"",
                    shown(text)
                ),
            );
            None
        }
    }
}

fn session(l: &Layers<'_>, check: &mut Check<'_>) -> Option<Session> {
    let always_open = nested(l, "session", "always_open", session_table, |s| {
        s.always_open.as_ref()
    })
    .is_some_and(|(v, _)| *v);
    let timezone = match nested(l, "session", "timezone", session_table, |s| s.timezone.as_ref()) {
        None => Some(chrono_tz::America::New_York),
        Some((text, path)) => {
            if let Ok(tz) = text.parse::<Tz>() {
                Some(tz)
            } else {
                check.problem(
                    &path,
                    format!(
                        "'{}' is not an IANA time zone; expected e.g. \"America/New_York\"",
                        shown(text)
                    ),
                );
                None
            }
        }
    };
    let need_time = |key: &str, f: fn(&RawSession) -> Option<&String>, check: &mut Check<'_>| match nested(
        l,
        "session",
        key,
        session_table,
        f,
    ) {
        Some((text, path)) => time_of_day(text, &path, check).map(|t| (t, path)),
        None if always_open => Some((NaiveTime::MIN, String::new())),
        None => {
            check.problem(
                &format!("policy.session.{key}"),
                "missing; expected \"HH:MM\" in exchange time",
            );
            None
        }
    };
    let open = need_time("open", |s| s.open.as_ref(), check);
    let close = need_time("close", |s| s.close.as_ref(), check);
    if let (Some((o, _)), Some((c, path))) = (&open, &close)
        && !always_open
        && c <= o
    {
        check.problem(
            path,
            format!(
                "'{}' is not after open '{}'",
                c.format("%H:%M"),
                o.format("%H:%M")
            ),
        );
    }
    let ext_open = nested(l, "session", "extended_open", session_table, |s| {
        s.extended_open.as_ref()
    });
    let ext_close = nested(l, "session", "extended_close", session_table, |s| {
        s.extended_close.as_ref()
    });
    let extended = match (ext_open, ext_close) {
        (None, None) => Some(None),
        (Some((o, op)), Some((c, cp))) => {
            let o = time_of_day(o, &op, check);
            let c = time_of_day(c, &cp, check);
            match (o, c, &open, &close) {
                (Some(o), Some(c), Some((ro, _)), Some((rc, _))) => {
                    if always_open || (o <= *ro && *rc <= c) {
                        Some(Some((o, c)))
                    } else {
                        check.problem(&cp, "extended hours must contain the regular session: extended_open <= open and close <= extended_close");
                        None
                    }
                }
                _ => None,
            }
        }
        (Some((_, path)), None) | (None, Some((_, path))) => {
            check.problem(&path, "set both extended_open and extended_close, or neither");
            None
        }
    };
    let days = trading_days(l, always_open, check);
    let holidays = holidays(l, check);
    Some(Session {
        timezone: timezone?,
        days: days?,
        open: open?.0,
        close: close?.0,
        extended: extended?,
        holidays: holidays?,
        always_open,
    })
}

fn trading_days(l: &Layers<'_>, always_open: bool, check: &mut Check<'_>) -> Option<Vec<Weekday>> {
    match nested(l, "session", "days", session_table, |s| s.days.as_ref()) {
        None if always_open => Some(Vec::new()),
        None => {
            check.problem(
                "policy.session.days",
                "missing; expected trading days, e.g. [\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\"]",
            );
            None
        }
        Some((days, path)) => {
            let names = [
                ("Mon", Weekday::Mon),
                ("Tue", Weekday::Tue),
                ("Wed", Weekday::Wed),
                ("Thu", Weekday::Thu),
                ("Fri", Weekday::Fri),
                ("Sat", Weekday::Sat),
                ("Sun", Weekday::Sun),
            ];
            let parsed: Vec<Option<Weekday>> = days.iter().map(|d| check.choice(d, &path, &names)).collect();
            if days.is_empty() && !always_open {
                check.problem(&path, "empty; list at least one trading day");
            }
            parsed.into_iter().collect::<Option<Vec<_>>>()
        }
    }
}

fn holidays(l: &Layers<'_>, check: &mut Check<'_>) -> Option<Vec<NaiveDate>> {
    match nested(l, "session", "holidays", session_table, |s| s.holidays.as_ref()) {
        None => Some(Vec::new()),
        Some((dates, path)) => dates
            .iter()
            .map(|d| {
                if let Ok(date) = NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                    Some(date)
                } else {
                    check.problem(
                        &path,
                        format!("'{}' is not a date; expected \"YYYY-MM-DD\"", shown(d)),
                    );
                    None
                }
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect::<Option<Vec<_>>>(),
    }
}

fn symbols(l: &Layers<'_>, check: &mut Check<'_>) -> Option<Vec<Instrument>> {
    let (entries, path) = l.need("symbols", check, |p| p.symbols.as_ref())?;
    if entries.is_empty() {
        check.problem(&path, "empty; list at least one [[policy.symbols]] entry");
        return None;
    }
    let mut out: Vec<Instrument> = Vec::new();
    let mut ok = true;
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("{path}[{i}]");
        match symbol(entry, &at, check) {
            Some(inst) if out.contains(&inst) => {
                check.problem(&at, format!("{inst} {} is listed twice", inst.primary_exchange));
                ok = false;
            }
            Some(inst) => out.push(inst),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn symbol(raw: &RawSymbol, at: &str, check: &mut Check<'_>) -> Option<Instrument> {
    let field = |k: &str| format!("{at}.{k}");
    let symbol = check
        .required(raw.symbol.as_ref(), &field("symbol"), "a ticker such as \"AAPL\"")
        .and_then(|s| {
            Symbol::parse(s)
                .map_err(|e| check.problem(&field("symbol"), e.to_string()))
                .ok()
        });
    let sec_type = check
        .required(
            raw.sec_type.as_ref(),
            &field("sec_type"),
            "IB's security type, e.g. \"STK\"",
        )
        .and_then(|s| {
            SecType::parse(s)
                .map_err(|e| check.problem(&field("sec_type"), e.to_string()))
                .ok()
        });
    let currency = check
        .required(
            raw.currency.as_ref(),
            &field("currency"),
            "a currency code, e.g. \"USD\"",
        )
        .and_then(|s| {
            Currency::parse(s)
                .map_err(|e| check.problem(&field("currency"), e.to_string()))
                .ok()
        });
    let exchange = check
        .required(
            raw.primary_exchange.as_ref(),
            &field("primary_exchange"),
            "IB's primary exchange, e.g. \"NASDAQ\"",
        )
        .and_then(|s| {
            let valid = !s.is_empty()
                && s.len() <= 16
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.');
            if !valid {
                check.problem(
                    &field("primary_exchange"),
                    format!(
                        "'{}' is not an exchange code; expected upper-case letters such as \"NASDAQ\"",
                        shown(s)
                    ),
                );
            }
            valid.then(|| s.clone())
        });
    Some(Instrument {
        symbol: symbol?,
        sec_type: sec_type?,
        currency: currency?,
        primary_exchange: exchange?,
    })
}

fn agents(raw: &[RawAgent], check: &mut Check<'_>) -> Vec<Agent> {
    let mut out: Vec<Agent> = Vec::new();
    for (i, a) in raw.iter().enumerate() {
        let at = |k: &str| format!("agents[{i}].{k}");
        let uid = check
            .required(a.uid.as_ref(), &at("uid"), "the agent's OS user id")
            .and_then(|&u| {
                if let Ok(uid) = u32::try_from(u) {
                    Some(uid)
                } else {
                    check.problem(
                        &at("uid"),
                        format!("{u} is not a uid; expected 0 to {}", u32::MAX),
                    );
                    None
                }
            });
        if let Some(uid) = uid
            && let Some(other) = out.iter().find(|o| o.uid == uid)
        {
            check.problem(
                &at("uid"),
                format!("{uid} is already agent '{}'; one uid is one agent", other.name),
            );
        }
        let name = check
            .required(a.name.as_ref(), &at("name"), "a display name")
            .and_then(|n| {
                let ok = !n.trim().is_empty() && n.chars().count() <= 32 && !n.chars().any(char::is_control);
                if !ok {
                    check.problem(
                        &at("name"),
                        format!("'{}': expected 1 to 32 printable characters", shown(n)),
                    );
                }
                ok.then(|| n.clone())
            });
        if let Some(n) = &name
            && out.iter().any(|o| &o.name == n)
        {
            check.problem(&at("name"), format!("'{n}' is used by another agent"));
        }
        let permission = check
            .required(
                a.permission.as_ref(),
                &at("permission"),
                "\"read\", \"prepare\" or \"execute\"",
            )
            .and_then(|p| permission(p, &at("permission"), check));
        let calls = check
            .required(
                a.max_calls_per_minute.as_ref(),
                &at("max_calls_per_minute"),
                "tool calls per minute",
            )
            .and_then(|&v| check.count(v, &at("max_calls_per_minute"), 1, 100_000, "calls"));
        let proposals = check
            .required(
                a.max_proposals_per_day.as_ref(),
                &at("max_proposals_per_day"),
                "staged orders per day",
            )
            .and_then(|&v| check.count(v, &at("max_proposals_per_day"), 0, 1_000_000, "proposals"));
        let budget = check
            .required(
                a.unapproved_notional_budget.as_ref(),
                &at("unapproved_notional_budget"),
                "money as a string, e.g. \"0.00\"",
            )
            .and_then(|b| check.money(b, &at("unapproved_notional_budget")));
        let (own_socket, socket_group) = own_socket(a, name.as_deref(), &at, check);
        if let (Some(uid), Some(name), Some(permission), Some(calls), Some(proposals), Some(budget)) =
            (uid, name, permission, calls, proposals, budget)
        {
            out.push(Agent {
                uid,
                name,
                permission,
                max_calls_per_minute: calls,
                max_proposals_per_day: proposals,
                unapproved_notional_budget: budget,
                own_socket,
                socket_group,
            });
        }
    }
    out
}

/// An agent's `own_socket` and `socket_group`: the name must be fit for a file name, the group for a
/// group (it is looked up when the gateway starts), and a group needs a socket.
fn own_socket(
    a: &RawAgent,
    name: Option<&str>,
    at: &dyn Fn(&str) -> String,
    check: &mut Check<'_>,
) -> (bool, Option<String>) {
    let own_socket = a.own_socket.unwrap_or(false);
    if own_socket
        && let Some(n) = name
        && !crate::agent::is_socket_name(n)
    {
        check.problem(
            &at("name"),
            format!(
                "'{}' names the agent's own socket (agents/NAME.sock): use letters, digits, '-' or '_'",
                shown(n)
            ),
        );
    }
    let socket_group = a.socket_group.as_ref().and_then(|g| {
        let ok = !g.is_empty()
            && g.len() <= 32
            && g.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            check.problem(
                &at("socket_group"),
                format!(
                    "'{}': expected a group name or gid (letters, digits, '-', '_', '.')",
                    shown(g)
                ),
            );
        } else if !own_socket {
            check.problem(
                &at("socket_group"),
                "only an agent with own_socket = true has a socket to share; set it or remove this",
            );
        }
        ok.then(|| g.clone())
    });
    (own_socket, socket_group)
}

fn theme(raw: &RawConfig, check: &mut Check<'_>) -> String {
    let name = raw
        .theme
        .as_ref()
        .and_then(|t| t.name.clone())
        .unwrap_or_else(|| "dark".to_string());
    if !THEMES.contains(&name.as_str()) {
        check.problem(
            "theme.name",
            format!(
                "'{}' is not a theme; expected one of: {}",
                shown(&name),
                THEMES.join(", ")
            ),
        );
    }
    name
}

fn keys(raw: Option<&BTreeMap<String, String>>, check: &mut Check<'_>) -> BTreeMap<Action, String> {
    let mut out: BTreeMap<Action, String> = Action::ALL
        .iter()
        .map(|a| (*a, a.default_key().to_string()))
        .collect();
    if let Some(raw) = raw {
        for (name, key) in raw {
            let path = format!("keys.{name}");
            let Some(action) = Action::ALL.iter().find(|a| a.as_str() == name) else {
                let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                check.problem(
                    &path,
                    format!("unknown action; expected one of: {}", names.join(", ")),
                );
                continue;
            };
            if valid_key(key) {
                out.insert(*action, key.clone());
            } else {
                check.problem(
                    &path,
                    format!("'{}' is not a key; expected one character, or Enter, Esc, Tab, BackTab, Up, Down, Left, Right, Backspace, PageUp, PageDown, F1..F12", shown(key)),
                );
            }
        }
    }
    let mut seen: BTreeMap<&String, Action> = BTreeMap::new();
    for (action, key) in &out {
        if let Some(other) = seen.insert(key, *action) {
            check.problem(
                &format!("keys.{}", action.as_str()),
                format!(
                    "'{key}' is also the key of {}; two actions cannot share a key",
                    other.as_str()
                ),
            );
        }
    }
    out
}

/// One printable character, or a named key.
pub(super) fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return !c.is_control() && !c.is_whitespace();
    }
    let named = [
        "Enter",
        "Esc",
        "Tab",
        "BackTab",
        "Up",
        "Down",
        "Left",
        "Right",
        "Backspace",
        "PageUp",
        "PageDown",
    ];
    named.contains(&key)
        || key
            .strip_prefix('F')
            .and_then(|n| n.parse::<u8>().ok())
            .is_some_and(|n| (1..=12).contains(&n) && !key.starts_with("F0"))
}

fn alerts(raw: Option<&RawAlerts>, check: &mut Check<'_>) -> AlertSettings {
    let mut out = AlertSettings::default();
    let Some(raw) = raw else { return out };
    if let Some(v) = raw.disconnect_alert_after_secs
        && let Some(v) = check.count(v, "alerts.disconnect_alert_after_secs", 0, 3600, "seconds")
    {
        out.disconnect_alert_after_secs = v;
    }
    if let Some(v) = raw.stale_quote_warning_secs
        && let Some(v) = check.count(v, "alerts.stale_quote_warning_secs", 1, 3600, "seconds")
    {
        out.stale_quote_warning_secs = v;
    }
    if let Some(text) = &raw.margin_cushion_warning
        && let Some(v) = check.decimal(
            text,
            "alerts.margin_cushion_warning",
            Decimal::ZERO,
            Decimal::ONE,
            "a fraction from \"0\" to \"1\", e.g. \"0.10\"",
        )
    {
        out.margin_cushion_warning = v;
    }
    if let Some(bell) = raw.bell {
        out.bell = bell;
    }
    if let Some(v) = raw.agent_heartbeat_secs
        && let Some(v) = check.count(v, "alerts.agent_heartbeat_secs", 5, 86_400, "seconds")
    {
        out.agent_heartbeat_secs = v;
    }
    if let Some(text) = &raw.gateway_restart {
        out.gateway_restart = time_of_day(text, "alerts.gateway_restart", check);
    }
    if let Some(v) = raw.gateway_restart_warning_mins
        && let Some(v) = check.count(v, "alerts.gateway_restart_warning_mins", 1, 120, "minutes")
    {
        out.gateway_restart_warning_mins = v;
    }
    out
}
