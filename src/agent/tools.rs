//! The tools of ARCHITECTURE.md §5: exact names, the level each needs, JSON schemas, and descriptions written
//! for a language model — what the tool does, the limits that apply, what a refusal means.

use serde_json::{Value, json};

use crate::config::Permission;

/// One tool.
#[derive(Debug)]
pub struct ToolDef {
    /// Its name.
    pub name: &'static str,
    /// The level it needs.
    pub level: Permission,
    /// What a model reads.
    pub description: &'static str,
    /// Its input schema's properties and required fields.
    properties: fn() -> (Value, &'static [&'static str]),
}

impl ToolDef {
    /// The JSON schema of its arguments.
    #[must_use]
    pub fn schema(&self) -> serde_json::Map<String, Value> {
        let (properties, required) = (self.properties)();
        let schema = json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        });
        match schema {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        }
    }
}

fn none() -> (Value, &'static [&'static str]) {
    (json!({}), &[])
}

fn number(description: &str) -> Value {
    json!({"type": ["string", "number"], "description": description})
}

fn text(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

/// Every tool, in the order `tools/list` gives them.
pub const TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "get_account",
        level: Permission::Read,
        description: "The account's values as IB reports them: net liquidation, cash, buying power, excess liquidity, cushion, margin requirements and P&L, with the trading state (ACTIVE, REDUCING or HALTED) and its causes.",
        properties: none,
    },
    ToolDef {
        name: "get_positions",
        level: Permission::Read,
        description: "Every position of the profile's accounts: symbol, signed quantity, average cost, the latest quote and its age.",
        properties: none,
    },
    ToolDef {
        name: "get_orders",
        level: Permission::Read,
        description: "Your proposals and their fate: staged (awaiting the trader), refused by the policy (with reasons), approved, edited by the trader (with the changes), rejected by the trader (with the reason), expired, withdrawn, sent, partially filled, filled, cancelled, or rejected by the broker. Every open proposal is listed, and the 50 most recent finished ones; older_finished_not_listed counts the rest.",
        properties: none,
    },
    ToolDef {
        name: "get_quote",
        level: Permission::Read,
        description: "The latest quote of a symbol: bid, ask, last, age in seconds, and where the data comes from (live, delayed, frozen, unavailable). Only live, fresh quotes price orders.",
        properties: || (json!({"symbol": text("The ticker, e.g. AAPL.")}), &["symbol"]),
    },
    ToolDef {
        name: "get_alerts",
        level: Permission::Read,
        description: "The most recent alerts (up to 50): severity, time, text, whether the trader acknowledged them.",
        properties: none,
    },
    ToolDef {
        name: "get_policy",
        level: Permission::Read,
        description: "The written policy every order is checked against: allowed symbols, order types and times in force, maximum quantity, notional and position, price collar, daily limits, the approval thresholds, and your own permission level and budget.",
        properties: none,
    },
    ToolDef {
        name: "stage_order",
        level: Permission::Prepare,
        description: "Stage an order for the trader. The policy checks it at once: the answer is the proposal id and the verdict — staged for the trader's approval, refused (with every violated rule; the proposal stays visible to the trader, dimmed), or, only at the execute level below the manual-approval threshold, cleared for submit_order. Quantities and prices are decimal strings or numbers (\"10\", \"187.25\"). Nothing reaches the broker from this tool.",
        properties: || {
            (
                json!({
                    "symbol": text("The ticker, e.g. AAPL; it must be in the policy's symbol allowlist."),
                    "side": {"type": "string", "enum": ["BUY", "SELL"]},
                    "quantity": number("Shares, e.g. \"10\"."),
                    "order_type": {"type": "string", "enum": ["LMT", "MKT", "STP", "STP LMT"], "description": "Only the types the policy allows (see get_policy)."},
                    "limit_price": number("Required for LMT and STP LMT; within the price collar of the reference price."),
                    "stop_price": number("Required for STP and STP LMT."),
                    "tif": {"type": "string", "enum": ["DAY", "GTC", "IOC"], "description": "Time in force; DAY when omitted."},
                    "account": text("The account; the profile's first account when omitted."),
                    "rationale": text("Why: shown to the trader on the order card (plain text, at most 2000 characters)."),
                }),
                &["symbol", "side", "quantity", "order_type", "rationale"],
            )
        },
    },
    ToolDef {
        name: "recommend",
        level: Permission::Prepare,
        description: "Post a note to the trader's Agents pane (plain text, at most 2000 characters), optionally about one symbol. It changes nothing else.",
        properties: || {
            (
                json!({"text": text("The note."), "symbol": text("The symbol it is about, if any.")}),
                &["text"],
            )
        },
    },
    ToolDef {
        name: "raise_alert",
        level: Permission::Prepare,
        description: "Post an alert for the trader, marked as written by you: severity info or warning only. It can never change the trading state.",
        properties: || {
            (
                json!({"severity": {"type": "string", "enum": ["info", "warning"]}, "text": text("The alert.")}),
                &["severity", "text"],
            )
        },
    },
    ToolDef {
        name: "cancel_proposal",
        level: Permission::Prepare,
        description: "Withdraw one of your own proposals that the trader has not acted on yet.",
        properties: || {
            (
                json!({"proposal_id": number("The id stage_order returned.")}),
                &["proposal_id"],
            )
        },
    },
    ToolDef {
        name: "report_status",
        level: Permission::Prepare,
        description: "Your heartbeat: your strategy's name, its state and a short message, shown on the trader's Agents pane. Call it regularly; a missing heartbeat raises an alert.",
        properties: || {
            (
                json!({"strategy": text("The strategy's name."), "state": text("E.g. watching, waiting for fill."), "message": text("A short message.")}),
                &["strategy", "state", "message"],
            )
        },
    },
    ToolDef {
        name: "submit_order",
        level: Permission::Execute,
        description: "Send a proposal that stage_order cleared for submit_order: only at the execute level, only your own, only below the manual-approval threshold and within your rolling budget of unapproved notional, and only if the policy clears it again at this moment. Otherwise the answer is \"needs human approval\" and the proposal stays staged for the trader.",
        properties: || {
            (
                json!({"proposal_id": number("The id stage_order returned.")}),
                &["proposal_id"],
            )
        },
    },
    ToolDef {
        name: "cancel_order",
        level: Permission::Execute,
        description: "Cancel a working order that you originated (the broker's order id from get_orders). A protective stop can only be cancelled by the trader.",
        properties: || {
            (
                json!({"order_id": number("The broker's order id.")}),
                &["order_id"],
            )
        },
    },
];

/// The tool named `name`.
#[must_use]
pub fn find(name: &str) -> Option<&'static ToolDef> {
    TOOLS.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tools_are_exactly_those_of_the_architecture() {
        let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "get_account",
                "get_positions",
                "get_orders",
                "get_quote",
                "get_alerts",
                "get_policy",
                "stage_order",
                "recommend",
                "raise_alert",
                "cancel_proposal",
                "report_status",
                "submit_order",
                "cancel_order"
            ]
        );
        for t in TOOLS {
            let schema = t.schema();
            assert_eq!(schema["additionalProperties"], false, "{}", t.name);
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                assert!(schema["properties"].get(name).is_some(), "{}: {name}", t.name);
            }
        }
    }
}
