//! The simulator's fault script: what can go wrong, when, and the TOML scenario file that schedules it.
//! Parsing and validation only; the exchange carries faults out.

use std::path::Path;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::catalogue;

/// Something the simulated gateway does wrong on purpose.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Close the socket of one client id, or of every client.
    DropSocket {
        /// Only this client id; every client when `None`.
        client_id: Option<i32>,
    },
    /// Drop every connection and refuse new ones for a while (a gateway restart).
    RefuseConnections {
        /// How long to refuse.
        duration: Duration,
    },
    /// Send 1100 (connectivity between IB and TWS lost); streaming stops until restored.
    ConnectivityLost {
        /// Restore automatically after this long.
        restore_after: Option<Duration>,
        /// Whether the restore says data was lost (1101) or maintained (1102).
        data_lost: bool,
    },
    /// Send 1101 (data lost: market data subscriptions are gone) or 1102 (data maintained).
    ConnectivityRestored {
        /// 1101 when true, 1102 when false.
        data_lost: bool,
    },
    /// Reject the next order placed, with this reason (error 201).
    RejectNextOrder {
        /// The reason text.
        reason: String,
    },
    /// Stop a listing's quotes from moving.
    FreezeQuotes {
        /// The ticker.
        symbol: String,
    },
    /// Let a frozen listing's quotes move again.
    ThawQuotes {
        /// The ticker.
        symbol: String,
    },
    /// Change the margin requirement rates (fractions of gross position value).
    MarginChange {
        /// New initial margin rate.
        initial: Decimal,
        /// New maintenance margin rate.
        maintenance: Decimal,
    },
    /// Restart the gateway: drop everyone, refuse connections for a while, then answer a lower
    /// `nextValidId` than the ids already used.
    Restart {
        /// The stale id to announce.
        next_valid_id: i32,
        /// How long the gateway is down.
        down: Duration,
    },
    /// Send the next execution twice (same `execId`), as IB sometimes does.
    DuplicateExecution,
    /// Fill every working order at the touch now, whether or not its client is connected.
    FillWorkingOrders,
    /// Change a position with no execution any client sees (a transfer, a corporate action, a trade by
    /// another system), pushed to position subscribers like a fill's.
    ShiftPosition {
        /// The account; the first simulated account when `None`.
        account: Option<String>,
        /// The ticker.
        symbol: String,
        /// Signed shares added to the position.
        quantity: Decimal,
    },
}

/// When a scheduled fault fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// This long after the simulator started.
    At(Duration),
    /// Once this many client messages have been received in total.
    AfterMessages(u64),
}

/// A fault with its trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// When.
    pub trigger: Trigger,
    /// What.
    pub action: FaultAction,
}

/// A scenario file: market-data entitlements and scheduled faults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    /// Tickers without a real-time market data subscription (error 354).
    pub unsubscribed: Vec<String>,
    /// Of those, tickers for which delayed data is offered (10167 and delayed ticks).
    pub delayed: Vec<String>,
    /// Faults, in file order.
    pub faults: Vec<Fault>,
}

/// Every problem found in a scenario file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("scenario {source_name}:\n  {}", problems.join("\n  "))]
pub struct ScenarioError {
    /// The file (or `<inline>`).
    pub source_name: String,
    /// One line per problem.
    pub problems: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    unsubscribed: Vec<String>,
    #[serde(default)]
    delayed: Vec<String>,
    #[serde(default)]
    fault: Vec<RawFault>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    at_secs: Option<f64>,
    after_messages: Option<u64>,
    action: String,
    client_id: Option<i32>,
    seconds: Option<f64>,
    restore: Option<String>,
    restore_after_secs: Option<f64>,
    reason: Option<String>,
    symbol: Option<String>,
    initial: Option<String>,
    maintenance: Option<String>,
    next_valid_id: Option<i32>,
    account: Option<String>,
    quantity: Option<String>,
}

/// The action names a scenario may use.
pub const ACTIONS: &[&str] = &[
    "drop_socket",
    "refuse_connections",
    "connectivity_lost",
    "connectivity_restored",
    "reject_next_order",
    "freeze_quotes",
    "thaw_quotes",
    "margin_change",
    "restart",
    "duplicate_execution",
    "fill_working_orders",
    "shift_position",
];

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            source_name: name.clone(),
            problems: vec![format!("cannot read: {e}")],
        })?;
        Self::parse(&text, &name)
    }

    /// Parses and validates scenario TOML; `name` is used in messages.
    pub fn parse(text: &str, name: &str) -> Result<Self, ScenarioError> {
        let fail = |problems| ScenarioError {
            source_name: name.to_string(),
            problems,
        };
        let raw: RawScenario =
            toml::from_str(text).map_err(|e| fail(vec![e.to_string().trim().to_string()]))?;
        let mut problems = Vec::new();
        for (key, list) in [("unsubscribed", &raw.unsubscribed), ("delayed", &raw.delayed)] {
            for symbol in list {
                if catalogue::by_symbol(symbol).is_none() {
                    problems.push(format!("{key}: '{symbol}' is not a simulated instrument"));
                }
            }
        }
        for symbol in &raw.delayed {
            if !raw.unsubscribed.iter().any(|u| u.eq_ignore_ascii_case(symbol)) {
                problems.push(format!("delayed: '{symbol}' must also be listed in unsubscribed"));
            }
        }
        let mut faults = Vec::new();
        for (i, f) in raw.fault.iter().enumerate() {
            match parse_fault(f) {
                Ok(fault) => faults.push(fault),
                Err(errs) => {
                    problems.extend(
                        errs.into_iter()
                            .map(|e| format!("fault[{i}] (action '{}'): {e}", f.action)),
                    );
                }
            }
        }
        if problems.is_empty() {
            Ok(Self {
                unsubscribed: raw.unsubscribed,
                delayed: raw.delayed,
                faults,
            })
        } else {
            Err(fail(problems))
        }
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one arm per fault action keeps each action's validation in one place"
)]
fn parse_fault(f: &RawFault) -> Result<Fault, Vec<String>> {
    let mut errs = Vec::new();
    let trigger = match (f.at_secs, f.after_messages) {
        (Some(s), None) if s.is_finite() && s >= 0.0 => Some(Trigger::At(Duration::from_secs_f64(s))),
        (Some(s), None) => {
            errs.push(format!("at_secs = {s}: expected a number of seconds ≥ 0"));
            None
        }
        (None, Some(n)) => Some(Trigger::AfterMessages(n)),
        (Some(_), Some(_)) => {
            errs.push("give either at_secs or after_messages, not both".to_string());
            None
        }
        (None, None) => {
            errs.push("missing trigger: add at_secs = <seconds> or after_messages = <count>".to_string());
            None
        }
    };
    let seconds = |key: &str, value: Option<f64>, errs: &mut Vec<String>| match value {
        Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            errs.push(format!("{key} = {s}: expected a number of seconds ≥ 0"));
            None
        }
        None => None,
    };
    let symbol = |errs: &mut Vec<String>| match f.symbol.as_deref() {
        Some(s) if catalogue::by_symbol(s).is_some() => Some(s.to_ascii_uppercase()),
        Some(s) => {
            errs.push(format!("symbol = '{s}' is not a simulated instrument"));
            None
        }
        None => {
            errs.push("missing symbol, e.g. symbol = \"AAPL\"".to_string());
            None
        }
    };
    let data_lost = |errs: &mut Vec<String>| match f.restore.as_deref() {
        None | Some("data_maintained") => false,
        Some("data_lost") => true,
        Some(other) => {
            errs.push(format!(
                "restore = '{other}': expected 'data_lost' (1101) or 'data_maintained' (1102)"
            ));
            false
        }
    };
    let rate = |key: &str, value: Option<&str>, errs: &mut Vec<String>| match value.map(str::parse::<Decimal>)
    {
        Some(Ok(r)) if r > Decimal::ZERO && r <= Decimal::ONE => Some(r),
        Some(_) => {
            errs.push(format!(
                "{key} = '{}': expected a fraction in (0, 1] as a string, e.g. \"0.5\"",
                value.unwrap_or("")
            ));
            None
        }
        None => {
            errs.push(format!("missing {key}, e.g. {key} = \"0.5\""));
            None
        }
    };
    let action = match f.action.as_str() {
        "drop_socket" => Some(FaultAction::DropSocket {
            client_id: f.client_id,
        }),
        "refuse_connections" => {
            if f.seconds.is_none() {
                errs.push("missing seconds = <how long to refuse>".to_string());
            }
            seconds("seconds", f.seconds, &mut errs)
                .map(|duration| FaultAction::RefuseConnections { duration })
        }
        "connectivity_lost" => Some(FaultAction::ConnectivityLost {
            restore_after: seconds("restore_after_secs", f.restore_after_secs, &mut errs),
            data_lost: data_lost(&mut errs),
        }),
        "connectivity_restored" => Some(FaultAction::ConnectivityRestored {
            data_lost: data_lost(&mut errs),
        }),
        "reject_next_order" => Some(FaultAction::RejectNextOrder {
            reason: f
                .reason
                .clone()
                .unwrap_or_else(|| "simulated rejection".to_string()),
        }),
        "freeze_quotes" => symbol(&mut errs).map(|symbol| FaultAction::FreezeQuotes { symbol }),
        "thaw_quotes" => symbol(&mut errs).map(|symbol| FaultAction::ThawQuotes { symbol }),
        "margin_change" => {
            let initial = rate("initial", f.initial.as_deref(), &mut errs);
            let maintenance = rate("maintenance", f.maintenance.as_deref(), &mut errs);
            initial
                .zip(maintenance)
                .map(|(initial, maintenance)| FaultAction::MarginChange { initial, maintenance })
        }
        "restart" => match (f.next_valid_id, seconds("seconds", f.seconds, &mut errs)) {
            (Some(id), down) if id > 0 => Some(FaultAction::Restart {
                next_valid_id: id,
                down: down.unwrap_or(Duration::ZERO),
            }),
            _ => {
                errs.push(
                    "missing next_valid_id = <positive stale id> (and optionally seconds = <downtime>)"
                        .to_string(),
                );
                None
            }
        },
        "duplicate_execution" => Some(FaultAction::DuplicateExecution),
        "fill_working_orders" => Some(FaultAction::FillWorkingOrders),
        "shift_position" => {
            let symbol = symbol(&mut errs);
            let quantity = match f.quantity.as_deref().map(str::parse::<Decimal>) {
                Some(Ok(q)) if !q.is_zero() => Some(q),
                Some(_) => {
                    errs.push(format!(
                        "quantity = '{}': expected a non-zero signed number of shares as a string, e.g. \"-5\"",
                        f.quantity.as_deref().unwrap_or("")
                    ));
                    None
                }
                None => {
                    errs.push("missing quantity, e.g. quantity = \"5\"".to_string());
                    None
                }
            };
            symbol
                .zip(quantity)
                .map(|(symbol, quantity)| FaultAction::ShiftPosition {
                    account: f.account.clone(),
                    symbol,
                    quantity,
                })
        }
        other => {
            errs.push(format!(
                "unknown action '{other}'; expected one of: {}",
                ACTIONS.join(", ")
            ));
            None
        }
    };
    match (trigger, action) {
        (Some(trigger), Some(action)) if errs.is_empty() => Ok(Fault { trigger, action }),
        _ => Err(errs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_action() {
        let text = r#"
            unsubscribed = ["NFLX", "TLT"]
            delayed = ["NFLX"]
            [[fault]]
            at_secs = 1.5
            action = "drop_socket"
            [[fault]]
            after_messages = 10
            action = "refuse_connections"
            seconds = 2
            [[fault]]
            at_secs = 3
            action = "connectivity_lost"
            restore_after_secs = 1
            restore = "data_lost"
            [[fault]]
            at_secs = 3
            action = "connectivity_restored"
            [[fault]]
            at_secs = 4
            action = "reject_next_order"
            reason = "no"
            [[fault]]
            at_secs = 4
            action = "freeze_quotes"
            symbol = "aapl"
            [[fault]]
            at_secs = 4
            action = "thaw_quotes"
            symbol = "AAPL"
            [[fault]]
            at_secs = 5
            action = "margin_change"
            initial = "0.75"
            maintenance = "0.5"
            [[fault]]
            at_secs = 6
            action = "restart"
            next_valid_id = 1
            seconds = 0.5
            [[fault]]
            at_secs = 7
            action = "duplicate_execution"
            [[fault]]
            at_secs = 8
            action = "fill_working_orders"
            [[fault]]
            at_secs = 9
            action = "shift_position"
            symbol = "AAPL"
            quantity = "-5"
        "#;
        let s = Scenario::parse(text, "t").expect("valid");
        assert_eq!(s.faults.len(), ACTIONS.len());
        assert_eq!(s.faults[0].trigger, Trigger::At(Duration::from_millis(1500)));
        assert_eq!(s.faults[1].trigger, Trigger::AfterMessages(10));
        assert_eq!(
            s.faults[5].action,
            FaultAction::FreezeQuotes {
                symbol: "AAPL".into()
            }
        );
        assert_eq!(
            s.faults[11].action,
            FaultAction::ShiftPosition {
                account: None,
                symbol: "AAPL".into(),
                quantity: Decimal::from(-5),
            }
        );
        assert_eq!(
            s.faults[2].action,
            FaultAction::ConnectivityLost {
                restore_after: Some(Duration::from_secs(1)),
                data_lost: true
            }
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_fault_and_a_fix() {
        let text = r#"
            unsubscribed = ["ZZZZ"]
            [[fault]]
            action = "freeze_quotes"
            [[fault]]
            at_secs = 1
            action = "explode"
            [[fault]]
            at_secs = 1
            action = "margin_change"
            initial = "2"
        "#;
        let err = Scenario::parse(text, "bad.toml").expect_err("invalid");
        let text = err.to_string();
        assert!(text.contains("unsubscribed: 'ZZZZ'"), "{text}");
        assert!(
            text.contains("fault[0] (action 'freeze_quotes'): missing trigger"),
            "{text}"
        );
        assert!(
            text.contains("fault[0] (action 'freeze_quotes'): missing symbol"),
            "{text}"
        );
        assert!(
            text.contains("unknown action 'explode'; expected one of: drop_socket"),
            "{text}"
        );
        assert!(text.contains("initial = '2'"), "{text}");
        assert!(text.contains("missing maintenance"), "{text}");
        assert_eq!(err.problems.len(), 6, "{text}");
    }

    #[test]
    fn unknown_keys_and_syntax_errors_are_refused_with_a_location() {
        let err = Scenario::parse(
            "[[fault]]\nat_secs = 1\naction = \"drop_socket\"\ncolour = 1\n",
            "f",
        )
        .expect_err("unknown key");
        assert!(err.to_string().contains("colour"), "{err}");
        let err = Scenario::parse("[[fault]\n", "f").expect_err("syntax");
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
