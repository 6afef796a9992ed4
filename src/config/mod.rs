//! The configuration: profiles, the policy each runs under, agents, theme, keys and alerts — loaded from
//! TOML, every error collected and named by key path; it does not decide anything about orders (that is
//! `policy`) and does not read the environment (that is `paths`).

mod build;
mod raw;
mod show;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::domain::{AccountId, Instrument, OrderType, Side, Tif};

pub use show::write_summary;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The profile used without `--profile`; never a live one.
    pub default_profile: String,
    /// Whether agents under the cockpit's own uid are admitted on live profiles.
    pub allow_same_uid_agents: bool,
    /// Profiles by name.
    pub profiles: BTreeMap<String, Profile>,
    /// Known agents, in file order.
    pub agents: Vec<Agent>,
    /// Theme name (a file in `themes/`).
    pub theme: String,
    /// Draw borders with ASCII characters (`[theme] ascii_borders`).
    pub ascii_borders: bool,
    /// Key bindings by action.
    pub keys: BTreeMap<Action, String>,
    /// Alert settings.
    pub alerts: AlertSettings,
    /// SHA-256 of the file's bytes, hex: journaled at start and shown on screen.
    pub hash: String,
}

/// How a profile reaches the market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// A paper account (`DU…`) at a paper gateway.
    Paper,
    /// A live account: real money.
    Live,
    /// Connected for data; orders are recorded instead of sent.
    DryRun,
}

impl Mode {
    /// The spelling in the config file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paper => "paper",
            Self::Live => "live",
            Self::DryRun => "dry-run",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an agent may do; ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Inspect approved data.
    Read,
    /// Stage orders, write recommendations and alerts.
    Prepare,
    /// Send orders below the manual-approval threshold, where the profile grants it.
    Execute,
}

impl Permission {
    /// The spelling in the config file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Prepare => "prepare",
            Self::Execute => "execute",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One profile: a gateway, its accounts and the policy orders on it run under.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The profile's name (its key under `[profiles]`).
    pub name: String,
    /// Paper, live or dry-run.
    pub mode: Mode,
    /// Gateway host.
    pub host: String,
    /// Gateway port.
    pub port: u16,
    /// The API client id the cockpit connects with.
    pub client_id: i32,
    /// The account allowlist.
    pub accounts: Vec<AccountId>,
    /// The most any agent may do here.
    pub agent_permission: Permission,
    /// The effective policy (defaults with this profile's overrides).
    pub policy: Policy,
}

impl Profile {
    /// The level an agent gets on this profile: the lower of its own and the profile's.
    #[must_use]
    pub fn effective_permission(&self, agent: &Agent) -> Permission {
        self.agent_permission.min(agent.permission)
    }
}

/// The level the trading state steps down to for a cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepTo {
    /// Only reducing orders.
    Reducing,
    /// Nothing but cancels.
    Halted,
}

/// What happens to agent-originated working orders when the connection returns after a long disconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AfterLongDisconnect {
    /// Cancel every working order an agent staged (the trader's own stay).
    CancelAgentOrders,
    /// Leave them working.
    LeaveOrders,
}

/// `[policy.step_down]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepDown {
    /// Consecutive rejects that step down.
    pub reject_streak: u32,
    /// Where a reject streak steps down to.
    pub on_reject_streak: StepTo,
    /// Where a disconnect steps down to.
    pub on_disconnect: StepTo,
    /// Where IB's duplicate-order-id error steps down to.
    pub on_duplicate_order_id: StepTo,
    /// Where a reconciliation mismatch steps down to.
    pub on_reconciliation_mismatch: StepTo,
    /// Where a journal error steps down to.
    pub on_journal_error: StepTo,
    /// A disconnect at least this long is a long one.
    pub long_disconnect_secs: u32,
    /// What a long disconnect does to agents' working orders when the connection returns.
    pub after_long_disconnect: AfterLongDisconnect,
}

/// When orders may be sent, in exchange time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The exchange's time zone.
    pub timezone: Tz,
    /// Trading days.
    pub days: Vec<Weekday>,
    /// Regular open (inclusive).
    pub open: NaiveTime,
    /// Regular close (exclusive).
    pub close: NaiveTime,
    /// Extended hours `(open, close)` for outside-RTH tickets, if any.
    pub extended: Option<(NaiveTime, NaiveTime)>,
    /// Exchange holidays.
    pub holidays: Vec<NaiveDate>,
    /// Around the clock (labelled 24x7 on screen).
    pub always_open: bool,
}

/// The effective policy of one profile. Every key is documented in `config.example.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Allowed order types.
    pub order_types: Vec<OrderType>,
    /// Allowed times in force.
    pub tifs: Vec<Tif>,
    /// Allowed sides.
    pub sides: Vec<Side>,
    /// Largest quantity per order.
    pub max_order_quantity: Decimal,
    /// Largest notional per order, at its worst price.
    pub max_order_notional: Decimal,
    /// Largest absolute position per instrument, counting working orders.
    pub max_position: Decimal,
    /// Largest gross exposure of the account.
    pub max_gross_exposure: Decimal,
    /// Price collar, percent from the reference price.
    pub price_collar_pct: Decimal,
    /// Oldest quote that counts as fresh, in seconds.
    pub quote_max_age_secs: u32,
    /// Window of the duplicate-order rule, in seconds.
    pub duplicate_window_secs: u32,
    /// Orders per exchange-time day.
    pub max_orders_per_day: u32,
    /// Notional per exchange-time day.
    pub max_notional_per_day: Decimal,
    /// Orders per symbol per exchange-time day.
    pub max_orders_per_symbol_per_day: u32,
    /// Orders per rolling minute.
    pub max_orders_per_minute: u32,
    /// Above this notional a human confirms.
    pub manual_approval_notional: Decimal,
    /// Above this notional the human types a read-back.
    pub typed_approval_notional: Decimal,
    /// On a live profile, above this quantity the human types a read-back.
    pub live_typed_quantity: Decimal,
    /// An approval dialog is refused (and the card redrawn) when the quote moved more than this percentage
    /// since the card was shown (optional; default [`DEFAULT_APPROVAL_QUOTE_TOLERANCE_PCT`]).
    pub approval_quote_tolerance_pct: Decimal,
    /// Window of an execute-level agent's unapproved-notional budget, in seconds.
    pub agent_budget_window_secs: u32,
    /// Step-down triggers.
    pub step_down: StepDown,
    /// Session windows.
    pub session: Session,
    /// The symbol allowlist, each entry pinned to an instrument.
    pub symbols: Vec<Instrument>,
}

/// One `[[agents]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// The OS uid of the agent's process: its identity.
    pub uid: u32,
    /// Display name.
    pub name: String,
    /// Its own level, narrowed further by each profile's.
    pub permission: Permission,
    /// Tool calls per rolling minute.
    pub max_calls_per_minute: u32,
    /// Staged orders per exchange-time day.
    pub max_proposals_per_day: u32,
    /// Unapproved notional per instrument over the budget window (execute level only).
    pub unapproved_notional_budget: Decimal,
    /// Whether the gateway also serves this agent on its own socket, `STATE/agents/NAME.sock`, where it is
    /// known by the socket rather than by the peer's uid (see [`crate::agent`]).
    pub own_socket: bool,
    /// The group its own socket is shared with (mode 0660): how an agent running as another OS user reaches
    /// it. `None`: the socket is 0600, for agents under the cockpit's own user.
    pub socket_group: Option<String>,
}

/// Actions that have a key (ARCHITECTURE.md §7). The arrow keys always move and `Shift-Tab` always moves
/// the focus back, whatever `[keys]` says, so a remapped key can never leave the trader unable to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Focus the next pane.
    FocusNext,
    /// Focus the previous pane.
    FocusPrev,
    /// Move the selection up.
    Up,
    /// Move the selection down.
    Down,
    /// Open the focused item (an order's detail card, an alert's full text).
    Open,
    /// Close a dialog or cancel what is being typed.
    Close,
    /// Approve the focused staged order.
    Approve,
    /// Edit the focused staged order within limits.
    Edit,
    /// Reject the focused staged order.
    Reject,
    /// A new order ticket of the trader's own.
    NewOrder,
    /// Acknowledge the focused alert.
    Acknowledge,
    /// Switch between profiles.
    SwitchProfile,
    /// The trading state: the kill switch when active, resume when stepped down.
    TradingState,
    /// Reconnect now, after the connection gave up.
    Reconnect,
    /// Every key and what it does.
    Help,
    /// Leave the cockpit.
    Quit,
}

impl Action {
    /// Every action, in the order of the file.
    pub const ALL: [Self; 16] = [
        Self::FocusNext,
        Self::FocusPrev,
        Self::Up,
        Self::Down,
        Self::Open,
        Self::Close,
        Self::Approve,
        Self::Edit,
        Self::Reject,
        Self::NewOrder,
        Self::Acknowledge,
        Self::SwitchProfile,
        Self::TradingState,
        Self::Reconnect,
        Self::Help,
        Self::Quit,
    ];

    /// The key's name in `[keys]`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FocusNext => "focus_next",
            Self::FocusPrev => "focus_prev",
            Self::Up => "up",
            Self::Down => "down",
            Self::Open => "open",
            Self::Close => "close",
            Self::Approve => "approve",
            Self::Edit => "edit",
            Self::Reject => "reject",
            Self::NewOrder => "new_order",
            Self::Acknowledge => "acknowledge",
            Self::SwitchProfile => "switch_profile",
            Self::TradingState => "trading_state",
            Self::Reconnect => "reconnect",
            Self::Help => "help",
            Self::Quit => "quit",
        }
    }

    /// The default key.
    #[must_use]
    pub fn default_key(self) -> &'static str {
        match self {
            Self::FocusNext => "Tab",
            Self::FocusPrev => "BackTab",
            Self::Up => "k",
            Self::Down => "j",
            Self::Open => "Enter",
            Self::Close => "Esc",
            Self::Approve => "a",
            Self::Edit => "e",
            Self::Reject => "r",
            Self::NewOrder => "n",
            Self::Acknowledge => "A",
            Self::SwitchProfile => "p",
            Self::TradingState => "K",
            Self::Reconnect => "c",
            Self::Help => "?",
            Self::Quit => "q",
        }
    }

    /// What it does, for the footer and the help screen.
    #[must_use]
    pub fn hint(self) -> &'static str {
        match self {
            Self::FocusNext => "next pane",
            Self::FocusPrev => "previous pane",
            Self::Up => "up",
            Self::Down => "down",
            Self::Open => "open",
            Self::Close => "close",
            Self::Approve => "approve",
            Self::Edit => "edit",
            Self::Reject => "reject",
            Self::NewOrder => "new order",
            Self::Acknowledge => "acknowledge",
            Self::SwitchProfile => "profile",
            Self::TradingState => "kill switch / resume",
            Self::Reconnect => "reconnect",
            Self::Help => "help",
            Self::Quit => "quit",
        }
    }
}

/// `[alerts]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// A disconnect longer than this raises an alert.
    pub disconnect_alert_after_secs: u32,
    /// Warn below this cushion.
    pub margin_cushion_warning: Decimal,
    /// Warn when a shown quote is older than this.
    pub stale_quote_warning_secs: u32,
    /// Ring the bell on critical alerts.
    pub bell: bool,
    /// An agent in session whose last `report_status` is older than this is alerted.
    pub agent_heartbeat_secs: u32,
    /// When TWS / IB Gateway restarts itself each day, in the exchange's time zone (its "auto restart"
    /// setting); `None` when not configured.
    pub gateway_restart: Option<NaiveTime>,
    /// How many minutes before that restart the trader is warned.
    pub gateway_restart_warning_mins: u32,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            disconnect_alert_after_secs: 2,
            margin_cushion_warning: Decimal::new(10, 2),
            stale_quote_warning_secs: 5,
            bell: true,
            agent_heartbeat_secs: crate::app::DEFAULT_HEARTBEAT_SECS,
            gateway_restart: None,
            gateway_restart_warning_mins: 10,
        }
    }
}

/// `policy.approval_quote_tolerance_pct` when not set: half a percent.
pub const DEFAULT_APPROVAL_QUOTE_TOLERANCE_PCT: Decimal = Decimal::from_parts(5, 0, 0, false, 1);

/// The built-in themes.
pub const THEMES: [&str; 3] = ["dark", "light", "high-contrast"];

/// One problem with one key: `path: message`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The key path, e.g. `profiles.live.accounts`.
    pub path: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a config could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the config: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a value has the wrong type.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The file parsed but breaks rules; every problem is listed.
    #[error("{}: {} problem(s):\n{}", path.display(), problems.len(), list(problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Config {
    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Validates `text`, naming `path` in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut unknown = Vec::new();
        let raw: raw::RawConfig = {
            let deserializer = toml::Deserializer::parse(text).map_err(|e| syntax(text, path, &e))?;
            serde_ignored::deserialize(deserializer, |key| unknown.push(key_path(&key)))
                .map_err(|e| syntax(text, path, &e))?
        };
        let mut problems: Vec<Problem> = unknown
            .into_iter()
            .map(|key| Problem {
                path: key,
                message: "unknown key; see config.example.toml for every key".to_string(),
            })
            .collect();
        let built = build::build(&raw, &mut problems);
        match built {
            Some(mut config) if problems.is_empty() => {
                config.hash = hex(&Sha256::digest(text.as_bytes()));
                Ok(config)
            }
            _ => Err(ConfigError::Invalid {
                path: path.to_owned(),
                problems,
            }),
        }
    }

    /// The named profile, or the default one.
    #[must_use]
    pub fn profile(&self, name: Option<&str>) -> Option<&Profile> {
        self.profiles.get(name.unwrap_or(&self.default_profile))
    }

    /// The agent with this uid.
    #[must_use]
    pub fn agent_by_uid(&self, uid: u32) -> Option<&Agent> {
        self.agents.iter().find(|a| a.uid == uid)
    }
}

/// `profiles.paper.prot`, `agents[1].nmae`: the key path as this module's messages write it.
fn key_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        Path::Map { parent, key } => {
            let parent = key_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            key_path(parent)
        }
    }
}

fn syntax(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    let (line, column) = e.span().map_or((1, 1), |span| line_column(text, span.start));
    ConfigError::Syntax {
        path: path.to_owned(),
        line,
        column,
        message: e.message().trim_end().to_string(),
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests;
