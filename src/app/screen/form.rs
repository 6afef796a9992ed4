//! The order form of `e` (edit within limits) and `n` (the trader's own ticket): text inputs from
//! `tui-input`, choices cycled with Left/Right, checked against the policy at every keystroke. A form whose
//! order the policy would refuse cannot be submitted; every problem is shown beside its field.

use crossterm::event::{Event, KeyCode, KeyEvent};
use rust_decimal::Decimal;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::super::state::State;
use crate::domain::{AccountId, OrderTicket, OrderType, Price, ProposalId, Quantity, Side, Symbol, Tif};
use crate::policy::{self, Requester, Verdict};

/// What the form makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A new version of this proposal.
    Edit(ProposalId),
    /// A new order of the trader's own.
    New,
}

/// One field.
#[derive(Debug, Clone)]
pub enum Field {
    /// Free text.
    Text {
        /// Its label.
        label: &'static str,
        /// What is typed.
        input: Input,
    },
    /// One of a fixed list.
    Choice {
        /// Its label.
        label: &'static str,
        /// The options.
        options: Vec<String>,
        /// The chosen one.
        at: usize,
    },
    /// Shown, not editable.
    Fixed {
        /// Its label.
        label: &'static str,
        /// Its value.
        value: String,
    },
}

impl Field {
    /// The label.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Text { label, .. } | Self::Choice { label, .. } | Self::Fixed { label, .. } => label,
        }
    }

    /// The value as text.
    #[must_use]
    pub fn value(&self) -> &str {
        match self {
            Self::Text { input, .. } => input.value(),
            Self::Choice { options, at, .. } => options.get(*at).map_or("", String::as_str),
            Self::Fixed { value, .. } => value,
        }
    }
}

/// What a key did to the form.
#[derive(Debug, PartialEq, Eq)]
pub enum FormOutcome {
    /// Still editing.
    Editing,
    /// The trader gave up.
    Cancelled,
    /// A valid order, to be staged (or edited).
    Submit(OrderTicket),
}

/// The form.
#[derive(Debug, Clone)]
pub struct Form {
    /// What it makes.
    pub purpose: Purpose,
    /// Its fields, in order: account, symbol, side, quantity, type, limit, stop, TIF.
    pub fields: Vec<Field>,
    /// The focused field.
    pub focus: usize,
    /// Problems of the current values (parse errors, then the policy's violations); empty when it may
    /// be submitted.
    pub problems: Vec<String>,
    /// The policy's limits that apply, for display.
    pub limits: Vec<String>,
    /// The policy's verdict on the current values: the approval it would need, and the notional.
    pub verdict: Option<String>,
}

const ACCOUNT: usize = 0;
const SYMBOL: usize = 1;
const SIDE: usize = 2;
const QUANTITY: usize = 3;
const TYPE: usize = 4;
const LIMIT: usize = 5;
const STOP: usize = 6;
const TIF: usize = 7;

fn text(label: &'static str, value: String) -> Field {
    Field::Text {
        label,
        input: Input::new(value),
    }
}

fn choice(label: &'static str, options: Vec<String>, current: &str) -> Field {
    let at = options.iter().position(|o| o == current).unwrap_or(0);
    Field::Choice { label, options, at }
}

impl Form {
    /// A form to edit `ticket` (proposal `id`): quantity, type, prices and TIF; account, symbol and side
    /// stay.
    #[must_use]
    pub fn edit(
        id: ProposalId,
        ticket: &OrderTicket,
        state: &State,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let policy = &state.profile.policy;
        let fields = vec![
            Field::Fixed {
                label: "account",
                value: ticket.account.to_string(),
            },
            Field::Fixed {
                label: "symbol",
                value: ticket.instrument.symbol.to_string(),
            },
            Field::Fixed {
                label: "side",
                value: ticket.side.as_ib().to_owned(),
            },
            text("quantity", ticket.quantity.to_string()),
            choice(
                "type",
                policy.order_types.iter().map(|t| t.as_ib().to_owned()).collect(),
                ticket.order_type.as_ib(),
            ),
            text(
                "limit price",
                ticket.limit_price.map(|p| p.to_string()).unwrap_or_default(),
            ),
            text(
                "stop price",
                ticket.stop_price.map(|p| p.to_string()).unwrap_or_default(),
            ),
            choice(
                "time in force",
                policy.tifs.iter().map(|t| t.as_ib().to_owned()).collect(),
                ticket.tif.as_ib(),
            ),
        ];
        Self::with(Purpose::Edit(id), fields, QUANTITY, state, now)
    }

    /// A blank ticket for the trader's own order.
    #[must_use]
    pub fn new_ticket(state: &State, now: chrono::DateTime<chrono::Utc>) -> Self {
        let policy = &state.profile.policy;
        let accounts: Vec<String> = state.profile.accounts.iter().map(ToString::to_string).collect();
        let fields = vec![
            choice("account", accounts, ""),
            text("symbol", String::new()),
            choice("side", vec!["BUY".into(), "SELL".into()], "BUY"),
            text("quantity", String::new()),
            choice(
                "type",
                policy.order_types.iter().map(|t| t.as_ib().to_owned()).collect(),
                "LMT",
            ),
            text("limit price", String::new()),
            text("stop price", String::new()),
            choice(
                "time in force",
                policy.tifs.iter().map(|t| t.as_ib().to_owned()).collect(),
                "DAY",
            ),
        ];
        Self::with(Purpose::New, fields, SYMBOL, state, now)
    }

    fn with(
        purpose: Purpose,
        fields: Vec<Field>,
        focus: usize,
        state: &State,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let policy = &state.profile.policy;
        let limits = vec![
            format!("max quantity {}", policy.max_order_quantity),
            format!("max notional {}", policy.max_order_notional),
            format!("max position {}", policy.max_position),
            format!("price collar ±{} %", policy.price_collar_pct),
            format!("confirm above {}", policy.manual_approval_notional),
            format!("typed read-back above {}", policy.typed_approval_notional),
        ];
        let mut form = Self {
            purpose,
            fields,
            focus,
            problems: Vec::new(),
            limits,
            verdict: None,
        };
        form.check(state, now);
        form
    }

    /// Handles a key; `now` is the policy's clock.
    pub fn key(&mut self, key: KeyEvent, state: &State, now: chrono::DateTime<chrono::Utc>) -> FormOutcome {
        match key.code {
            KeyCode::Esc => return FormOutcome::Cancelled,
            KeyCode::Enter => {
                self.check(state, now);
                if self.problems.is_empty()
                    && let Ok(ticket) = self.ticket(state)
                {
                    return FormOutcome::Submit(ticket);
                }
            }
            KeyCode::Tab | KeyCode::Down => self.move_focus(1),
            KeyCode::BackTab | KeyCode::Up => self.move_focus(self.fields.len() - 1),
            KeyCode::Left | KeyCode::Right => {
                if let Some(Field::Choice { options, at, .. }) = self.fields.get_mut(self.focus) {
                    let n = options.len().max(1);
                    *at = if key.code == KeyCode::Right {
                        (*at + 1) % n
                    } else {
                        (*at + n - 1) % n
                    };
                } else if let Some(Field::Text { input, .. }) = self.fields.get_mut(self.focus) {
                    input.handle_event(&Event::Key(key));
                }
            }
            _ => {
                if let Some(Field::Text { input, .. }) = self.fields.get_mut(self.focus) {
                    input.handle_event(&Event::Key(key));
                }
            }
        }
        self.check(state, now);
        FormOutcome::Editing
    }

    fn move_focus(&mut self, by: usize) {
        let n = self.fields.len();
        for step in 1..=n {
            let i = (self.focus + by * step) % n;
            if !matches!(self.fields[i], Field::Fixed { .. }) {
                self.focus = i;
                return;
            }
        }
    }

    /// Re-validates: parse errors first, then the policy's verdict on the order as it stands.
    pub fn check(&mut self, state: &State, now: chrono::DateTime<chrono::Utc>) {
        self.verdict = None;
        let ticket = match self.ticket(state) {
            Ok(ticket) => ticket,
            Err(problems) => {
                self.problems = problems;
                return;
            }
        };
        let (requester, version) = match self.purpose {
            Purpose::New => (Requester::Trader, 1),
            Purpose::Edit(id) => state
                .proposals
                .get(&id)
                .map_or((Requester::Trader, 1), |p| (p.requester.clone(), p.version + 1)),
        };
        let working = state.working_orders();
        let ctx = state.context(&working, requester, version, now);
        match policy::check(&ticket, &ctx) {
            Verdict::Refused(violations) => {
                self.problems = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.rule.code(), v.message))
                    .collect();
            }
            Verdict::Clearable(c) => {
                self.problems.clear();
                self.verdict = Some(format!(
                    "passes the policy: notional {}, approval {:?}",
                    c.notional.round_dp(2),
                    c.tier
                ));
            }
        }
    }

    /// The order the fields describe, or every field's problem.
    pub fn ticket(&self, state: &State) -> Result<OrderTicket, Vec<String>> {
        let mut problems = Vec::new();
        let value = |i: usize| self.fields.get(i).map_or("", Field::value).trim().to_owned();
        let mut named = |field: &str, e: String| problems.push(format!("{field}: {e}"));
        let account = AccountId::parse(&value(ACCOUNT))
            .map_err(|e| named("account", e.to_string()))
            .ok();
        let symbol_text = value(SYMBOL).to_ascii_uppercase();
        let instrument = match Symbol::parse(&symbol_text) {
            Ok(symbol) => {
                let found = state
                    .profile
                    .policy
                    .symbols
                    .iter()
                    .find(|i| i.symbol == symbol)
                    .cloned();
                if found.is_none() {
                    named(
                        "symbol",
                        format!("{symbol} is not in this profile's symbol allowlist"),
                    );
                }
                found
            }
            Err(_) if symbol_text.is_empty() => {
                named("symbol", "type a symbol, e.g. AAPL".into());
                None
            }
            Err(e) => {
                named("symbol", e.to_string());
                None
            }
        };
        let side = Side::parse(&value(SIDE))
            .map_err(|e| named("side", e.to_string()))
            .ok();
        let quantity = if let Ok(q) = Decimal::from_str_exact(&value(QUANTITY)) {
            Quantity::new(q)
                .map_err(|e| named("quantity", e.to_string()))
                .ok()
        } else {
            named(
                "quantity",
                format!("'{}' is not a number of shares", value(QUANTITY)),
            );
            None
        };
        let order_type = OrderType::parse(&value(TYPE))
            .map_err(|e| named("type", e.to_string()))
            .ok();
        let mut price = |i: usize, field: &str, needed: bool| -> Option<Price> {
            let text = value(i);
            match (text.is_empty(), needed) {
                (true, false) => None,
                (true, true) => {
                    named(field, "this order type needs it".into());
                    None
                }
                (false, false) => {
                    named(field, "this order type takes none; clear it".into());
                    None
                }
                (false, true) => Price::parse(&text).map_err(|e| named(field, e.to_string())).ok(),
            }
        };
        let limit = price(
            LIMIT,
            "limit price",
            order_type.is_some_and(OrderType::needs_limit_price),
        );
        let stop = price(
            STOP,
            "stop price",
            order_type.is_some_and(OrderType::needs_stop_price),
        );
        let tif = Tif::parse(&value(TIF))
            .map_err(|e| named("time in force", e.to_string()))
            .ok();
        match (account, instrument, side, quantity, order_type, tif) {
            (Some(account), Some(instrument), Some(side), Some(quantity), Some(order_type), Some(tif))
                if problems.is_empty() =>
            {
                Ok(OrderTicket {
                    account,
                    instrument,
                    side,
                    quantity,
                    order_type,
                    limit_price: limit,
                    stop_price: stop,
                    tif,
                    outside_rth: false,
                })
            }
            _ => Err(problems),
        }
    }
}
