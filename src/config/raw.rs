//! The config file as written: every section and key, loosely typed (money and times as text) so that
//! `build` can check each value and name it; it does not validate anything itself.
//!
//! Unknown keys are not rejected here: the loader collects every ignored key with `serde_ignored` and
//! reports them all, rather than stopping at the first as `deny_unknown_fields` would.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    pub default_profile: Option<String>,
    pub allow_same_uid_agents: Option<bool>,
    pub policy: Option<RawPolicy>,
    #[serde(default)]
    pub profiles: BTreeMap<String, RawProfile>,
    #[serde(default)]
    pub agents: Vec<RawAgent>,
    pub theme: Option<RawTheme>,
    pub keys: Option<BTreeMap<String, String>>,
    pub alerts: Option<RawAlerts>,
}

/// `[policy]` and `[profiles.NAME.policy]`: every key optional, so a profile names only what it overrides.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct RawPolicy {
    pub order_types: Option<Vec<String>>,
    pub tifs: Option<Vec<String>>,
    pub sides: Option<Vec<String>>,
    pub max_order_quantity: Option<String>,
    pub max_order_notional: Option<String>,
    pub max_position: Option<String>,
    pub max_gross_exposure: Option<String>,
    pub price_collar_pct: Option<String>,
    pub quote_max_age_secs: Option<i64>,
    pub duplicate_window_secs: Option<i64>,
    pub max_orders_per_day: Option<i64>,
    pub max_notional_per_day: Option<String>,
    pub max_orders_per_symbol_per_day: Option<i64>,
    pub max_orders_per_minute: Option<i64>,
    pub manual_approval_notional: Option<String>,
    pub typed_approval_notional: Option<String>,
    pub live_typed_quantity: Option<String>,
    pub approval_quote_tolerance_pct: Option<String>,
    pub agent_budget_window_secs: Option<i64>,
    pub step_down: Option<RawStepDown>,
    pub session: Option<RawSession>,
    pub symbols: Option<Vec<RawSymbol>>,
}

/// `[policy.step_down]`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct RawStepDown {
    pub reject_streak: Option<i64>,
    pub on_reject_streak: Option<String>,
    pub on_disconnect: Option<String>,
    pub on_duplicate_order_id: Option<String>,
    pub on_reconciliation_mismatch: Option<String>,
    pub on_journal_error: Option<String>,
    pub long_disconnect_secs: Option<i64>,
    pub after_long_disconnect: Option<String>,
}

/// `[policy.session]`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct RawSession {
    pub timezone: Option<String>,
    pub days: Option<Vec<String>>,
    pub open: Option<String>,
    pub close: Option<String>,
    pub extended_open: Option<String>,
    pub extended_close: Option<String>,
    pub holidays: Option<Vec<String>>,
    pub always_open: Option<bool>,
}

/// One `[[policy.symbols]]` entry.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct RawSymbol {
    pub symbol: Option<String>,
    pub sec_type: Option<String>,
    pub currency: Option<String>,
    pub primary_exchange: Option<String>,
}

/// `[profiles.NAME]`.
#[derive(Debug, Default, Deserialize)]
pub struct RawProfile {
    pub mode: Option<String>,
    pub host: Option<String>,
    pub port: Option<i64>,
    pub client_id: Option<i64>,
    pub accounts: Option<Vec<String>>,
    pub agent_permission: Option<String>,
    pub allow_live_execute: Option<bool>,
    pub allow_unusual_port: Option<bool>,
    pub policy: Option<RawPolicy>,
}

/// One `[[agents]]` entry.
#[derive(Debug, Default, Deserialize)]
pub struct RawAgent {
    pub uid: Option<i64>,
    pub name: Option<String>,
    pub permission: Option<String>,
    pub max_calls_per_minute: Option<i64>,
    pub max_proposals_per_day: Option<i64>,
    pub unapproved_notional_budget: Option<String>,
    pub own_socket: Option<bool>,
    pub socket_group: Option<String>,
}

/// `[theme]`.
#[derive(Debug, Default, Deserialize)]
pub struct RawTheme {
    pub name: Option<String>,
    pub ascii_borders: Option<bool>,
}

/// `[alerts]`.
#[derive(Debug, Default, Deserialize)]
pub struct RawAlerts {
    pub disconnect_alert_after_secs: Option<i64>,
    pub margin_cushion_warning: Option<String>,
    pub stale_quote_warning_secs: Option<i64>,
    pub bell: Option<bool>,
    pub agent_heartbeat_secs: Option<i64>,
    pub gateway_restart: Option<String>,
    pub gateway_restart_warning_mins: Option<i64>,
}
