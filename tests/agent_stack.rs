//! The agent gateway through the full stack: a real MCP client (`rmcp`) on `STATE/agent.sock`, served by
//! the real app shell (`shell::run`, headless on a `TestBackend`, the trader's keys from a channel) against
//! the demo's simulated gateways on 127.0.0.1 — not the engine with a recording port. The simulator's ledger
//! (every order it received) is the ground truth of what reached the market.
//!
//! - Each permission level (read, prepare, execute): `tools/list` shows exactly the tools of the level and
//!   below; each of the 13 tools is called; allowed ones answer real values from the simulator (the demo
//!   account, its positions, quotes), the others a tool error naming the level needed and the agent's. At
//!   execute, an order below the manual-approval threshold is submitted by the agent and cancelled by it;
//!   at prepare, the trader approves (`a`, `y`) and rejects (`r`, a reason) with keys; `get_orders` tells
//!   every fate.
//! - An execute-level agent cannot split an order under its unapproved-notional budget: five orders each
//!   cleared alone when staged; the fifth `submit_order` passes the budget and needs the trader (who then
//!   approves it with keys).
//! - An order typed into TWS steps agents down to prepare — ignored: it shows a bug (see the test).
//! - A hostile execute-level agent: more than fifty calls — malformed, oversized, lookalike symbols, an
//!   unknown account, disallowed order types, non-finite and huge numbers, escape sequences and bidi or
//!   zero-width characters, replays of approved proposals, withdrawals and cancels of the trader's order, a
//!   flood past its rate — then: the shell still runs and answers, the session is still up, every order the
//!   simulator received has a journaled human approval or an execute-level clearance, and the journal holds
//!   exactly one `tool_call` record per call (RELIABILITY P6, P16).
//!
//! Agent identity is the socket peer's uid: this process is made the configured agent under test (see
//! `common/stack.rs`). Every wait is bounded; nothing asserts on how long anything took (one call waits 2 s
//! for the answer that must never come: a message over the transport's line limit).

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;
#[path = "common/stack.rs"]
mod stack;

use cockpit::agent::MAX_LINE_BYTES;
use cockpit::agent::args::MAX_ARGUMENT_BYTES;
use cockpit::config::Permission;
use cockpit::journal::{Record, kinds};
use cockpit::sim::EntryKind;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use stack::{ACCOUNT, Agent, as_agent, assert_no_bypass, assert_one_record_per_call, priced, rate};

/// The tools of each level, in the order `tools/list` gives them (ARCHITECTURE.md §5).
const READ_TOOLS: [&str; 6] = [
    "get_account",
    "get_positions",
    "get_orders",
    "get_quote",
    "get_alerts",
    "get_policy",
];
const PREPARE_TOOLS: [&str; 5] = [
    "stage_order",
    "recommend",
    "raise_alert",
    "cancel_proposal",
    "report_status",
];
const EXECUTE_TOOLS: [&str; 2] = ["submit_order", "cancel_order"];

/// A `stage_order` of `quantity` `symbol` (a JSON string or number, or anything hostile).
fn order(symbol: &str, side: &str, quantity: &Value, order_type: &str, limit: &Value) -> Value {
    json!({"symbol": symbol, "side": side, "quantity": quantity, "order_type": order_type,
           "limit_price": limit, "rationale": "through the full stack"})
}

/// A BUY of `quantity` AAPL at the limit `limit`.
fn buy_aapl(quantity: u32, limit: Decimal) -> Value {
    order(
        "AAPL",
        "BUY",
        &json!(quantity.to_string()),
        "LMT",
        &json!(limit.to_string()),
    )
}

/// The prepare- and execute-level tools with arguments that would be valid, so that only the level refuses.
fn valid_calls_above_read() -> Vec<(&'static str, Permission, Value)> {
    vec![
        (
            "stage_order",
            Permission::Prepare,
            buy_aapl(1, Decimal::from(200)),
        ),
        ("recommend", Permission::Prepare, json!({"text": "buy the dip"})),
        (
            "raise_alert",
            Permission::Prepare,
            json!({"severity": "info", "text": "watching"}),
        ),
        ("cancel_proposal", Permission::Prepare, json!({"proposal_id": 1})),
        (
            "report_status",
            Permission::Prepare,
            json!({"strategy": "s", "state": "watching", "message": "m"}),
        ),
        ("submit_order", Permission::Execute, json!({"proposal_id": 1})),
        ("cancel_order", Permission::Execute, json!({"order_id": 1})),
    ]
}

/// The error of a tool above the agent's level.
fn needs(tool: &str, level: Permission, agent: &str, has: Permission) -> String {
    format!("{tool} needs the {level} level; {agent} has {has} on profile paper")
}

/// The six read tools, each answering what the simulator holds: the demo account, its three seeded
/// positions, a two-sided AAPL quote, the alerts, the policy with the agent's own name and level, and
/// (before anything was staged) no orders.
async fn reads_answer_the_simulators_values(agent: &mut Agent, name: &str, level: Permission) {
    // The account's values arrive with the first account update: polled, bounded.
    let deadline = tokio::time::Instant::now() + stack::WITHIN;
    let account = loop {
        let account = agent.ok("get_account", json!({})).await;
        if account["accounts"][0]["net_liquidation"].is_string() {
            break account;
        }
        assert!(tokio::time::Instant::now() < deadline, "{account}");
        tokio::time::sleep(stack::POLL).await;
    };
    assert_eq!(account["accounts"][0]["account"], ACCOUNT, "{account}");
    let net: Decimal = account["accounts"][0]["net_liquidation"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(net > Decimal::ZERO, "{account}");
    assert_eq!(account["trading_state"], "ACTIVE", "{account}");

    let positions = agent.ok("get_positions", json!({})).await;
    let held: Vec<(String, String, Decimal)> = positions["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert!(p["average_cost"].is_string(), "{p}");
            (
                p["account"].as_str().unwrap().to_owned(),
                p["symbol"].as_str().unwrap().to_owned(),
                p["quantity"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let seeded = |symbol: &str, qty: i64| (ACCOUNT.to_owned(), symbol.to_owned(), Decimal::from(qty));
    let mut held_sorted = held.clone();
    held_sorted.sort();
    assert_eq!(
        held_sorted,
        [seeded("AAPL", 200), seeded("MSFT", 50), seeded("SPY", -40)],
        "{positions}"
    );

    let quote = agent.ok("get_quote", json!({"symbol": "aapl"})).await;
    assert_eq!(quote["symbol"], "AAPL");
    let bid: Decimal = quote["bid"].as_str().unwrap().parse().unwrap();
    let ask: Decimal = quote["ask"].as_str().unwrap().parse().unwrap();
    assert!(Decimal::ZERO < bid && bid < ask, "{quote}");

    let alerts = agent.ok("get_alerts", json!({})).await;
    assert!(alerts["alerts"].is_array(), "{alerts}");

    let policy = agent.ok("get_policy", json!({})).await;
    assert_eq!(policy["profile"], "paper");
    assert_eq!(policy["mode"], "paper");
    assert_eq!(policy["you"]["name"], name);
    assert_eq!(policy["you"]["level"], level.as_str());
    assert_eq!(policy["you"]["can_submit"], level == Permission::Execute);
    assert_eq!(policy["symbols"], json!(["AAPL", "MSFT", "SPY"]));
    assert_eq!(
        policy["manual_approval_notional"]
            .as_str()
            .unwrap()
            .parse::<Decimal>()
            .unwrap(),
        Decimal::from(5_000)
    );

    let orders = agent.ok("get_orders", json!({})).await;
    assert_eq!(orders["orders"], json!([]), "nothing staged yet");
}

/// The proposal id of a `stage_order` answer.
fn id_of(answer: &Value) -> u64 {
    answer["proposal_id"].as_u64().unwrap()
}

/// The broker's order id the intent of proposal `id` took.
fn order_id_of(rs: &[Record], id: u64) -> i64 {
    rs.iter()
        .find(|r| r.kind == kinds::INTENT && r.data["proposal"] == id)
        .and_then(|r| r.data["order_id"].as_i64())
        .unwrap_or_else(|| panic!("no intent for #{id}"))
}

/// Whether the broker reported proposal `id` `status` (`Filled`, `Cancelled`).
fn reported(rs: &[Record], id: u64, status: &str) -> bool {
    rs.iter().any(|r| {
        r.kind == kinds::BROKER_EVENT
            && r.data["event"] == "order_status"
            && r.data["proposal"] == id
            && r.data["status"] == status
    })
}

// ---------------------------------------------------------------------------------------------------------
// Every tool at each level.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_level_agent_is_listed_only_the_read_tools_and_every_other_tool_names_the_level_it_needs() {
    let stack = stack::stack("read", |c, uid| {
        as_agent(c, "momentum", uid, Permission::Read, Permission::Prepare);
        rate(c, "momentum", 1_000);
    })
    .await;
    let mut agent = stack.agent().await;
    assert_eq!(agent.tools().await, READ_TOOLS);
    reads_answer_the_simulators_values(&mut agent, "momentum", Permission::Read).await;
    for (tool, level, args) in valid_calls_above_read() {
        let error = agent.error(tool, args).await;
        assert_eq!(error, needs(tool, level, "momentum", Permission::Read));
    }
    let calls = agent.calls;
    agent.close().await;

    let (rs, ledger) = stack.stop().await;
    assert!(ledger.is_empty(), "nothing reached the simulator: {ledger:?}");
    assert!(!rs.iter().any(|r| r.kind == kinds::VERDICT), "nothing was staged");
    assert_one_record_per_call(&rs, calls);
    let journaled: Vec<&Record> = rs.iter().filter(|r| r.kind == kinds::TOOL_CALL).collect();
    assert!(
        journaled
            .iter()
            .all(|r| r.data["agent"] == "momentum" && r.data["level"] == "read")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one agent's session with the trader, read top to bottom"
)]
async fn a_prepare_level_agent_stages_and_the_trader_approves_and_rejects_with_keys_while_it_is_told_each_fate()
 {
    let stack = stack::stack("prepare", |c, uid| {
        as_agent(c, "momentum", uid, Permission::Prepare, Permission::Prepare);
        rate(c, "momentum", 1_000);
    })
    .await;
    let mut agent = stack.agent().await;
    let mut listed = READ_TOOLS.to_vec();
    listed.extend(PREPARE_TOOLS);
    assert_eq!(agent.tools().await, listed);
    reads_answer_the_simulators_values(&mut agent, "momentum", Permission::Prepare).await;

    // An order the trader approves: marketable (half a percent over the ask), so the simulator fills it.
    let (_, ask) = agent.quote("AAPL").await;
    let staged = agent.ok("stage_order", buy_aapl(5, priced(ask, 50))).await;
    assert_eq!(staged["fate"], "staged for the trader's approval", "{staged}");
    assert_eq!(staged["approval"], "trader confirms");
    let approved = id_of(&staged);
    assert_eq!(
        agent.order(approved).await["fate"],
        "staged for the trader's approval"
    );
    // The execute tools answer the level, never the proposal.
    let submit = agent
        .error("submit_order", json!({"proposal_id": approved}))
        .await;
    assert_eq!(
        submit,
        needs(
            "submit_order",
            Permission::Execute,
            "momentum",
            Permission::Prepare
        )
    );
    stack.approve(approved, 1).await;
    let ledger = stack
        .until_ledger("the approved order at the simulator", |l| {
            l.iter().any(|e| e.kind == EntryKind::Place)
        })
        .await;
    let prefix = format!("ck-p{approved}-");
    assert!(
        ledger[0].order_ref.as_deref().unwrap().starts_with(&prefix),
        "{ledger:?}"
    );
    assert_eq!(ledger[0].symbol.as_deref(), Some("AAPL"));
    assert_eq!(ledger[0].quantity.as_deref(), Some("5"));
    let filled = agent.until_fate(approved, "filled").await;
    assert_eq!(filled["filled"], "5", "{filled}");
    let order_id = filled["order_id"].as_i64().unwrap();
    assert_eq!(ledger[0].order_id.map(i64::from), Some(order_id));
    // Replays of the approved order: withdrawn, submitted, cancelled — each refused.
    let withdraw = agent
        .error("cancel_proposal", json!({"proposal_id": approved}))
        .await;
    assert_eq!(withdraw, format!("proposal {approved} is filled"));
    for (tool, args) in [
        ("submit_order", json!({"proposal_id": approved})),
        ("cancel_order", json!({"order_id": order_id})),
    ] {
        let error = agent.error(tool, args).await;
        assert_eq!(
            error,
            needs(tool, Permission::Execute, "momentum", Permission::Prepare)
        );
    }

    // An order the trader rejects, with a reason. It is not marketable, so nothing else moves meanwhile.
    let (bid, _) = agent.quote("AAPL").await;
    let rejected = id_of(&agent.ok("stage_order", buy_aapl(3, priced(bid, -200))).await);
    // Rows: the rejected one (open), the filled one (finished).
    stack.reject(rejected, 2, "too late").await;
    let told = agent.order(rejected).await;
    assert_eq!(told["fate"], "rejected by the trader", "{told}");
    assert_eq!(told["reason"], "too late");

    // An order the agent withdraws itself, and one it leaves waiting.
    let withdrawn = id_of(&agent.ok("stage_order", buy_aapl(4, priced(bid, -200))).await);
    let answer = agent
        .ok("cancel_proposal", json!({"proposal_id": withdrawn}))
        .await;
    assert_eq!(answer, json!({"proposal_id": withdrawn, "fate": "withdrawn"}));
    let waiting = id_of(&agent.ok("stage_order", buy_aapl(6, priced(bid, -200))).await);

    // The other prepare tools.
    assert_eq!(
        agent
            .ok("recommend", json!({"text": "AAPL looks cheap", "symbol": "AAPL"}))
            .await["posted"],
        true
    );
    assert_eq!(
        agent
            .ok(
                "raise_alert",
                json!({"severity": "warning", "text": "spread widening"})
            )
            .await["raised"],
        true
    );
    assert_eq!(
        agent
            .ok(
                "report_status",
                json!({"strategy": "dip", "state": "watching", "message": "4 staged"})
            )
            .await["recorded"],
        true
    );
    let alerts = agent.ok("get_alerts", json!({})).await;
    assert!(
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["text"] == "spread widening" && a["severity"] == "warning"),
        "{alerts}"
    );

    // Every fate, as get_orders tells it.
    let orders = agent.ok("get_orders", json!({})).await;
    let fates: Vec<(u64, String)> = orders["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (id_of(o), o["fate"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        fates,
        [
            (approved, "filled".to_owned()),
            (rejected, "rejected by the trader".to_owned()),
            (withdrawn, "withdrawn".to_owned()),
            (waiting, "staged for the trader's approval".to_owned()),
        ]
    );
    let calls = agent.calls;
    agent.close().await;

    let (rs, ledger) = stack.stop().await;
    assert_eq!(
        assert_no_bypass(&rs, &ledger),
        1,
        "only the approved order: {ledger:?}"
    );
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_one_record_per_call(&rs, calls);
    assert!(
        !rs.iter().any(|r| r.data["action"] == "key_discarded"),
        "no key was discarded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one agent's session, read top to bottom")]
async fn an_execute_level_agent_submits_below_the_threshold_to_the_simulator_and_cancels_its_own_order() {
    // The paper profile grants execute here, so the order reaches the simulator (dry-run would record it).
    let stack = stack::stack("execute", |c, uid| {
        as_agent(c, "rebalancer", uid, Permission::Execute, Permission::Execute);
        rate(c, "rebalancer", 1_000);
    })
    .await;
    let mut agent = stack.agent().await;
    let mut listed = READ_TOOLS.to_vec();
    listed.extend(PREPARE_TOOLS);
    listed.extend(EXECUTE_TOOLS);
    assert_eq!(agent.tools().await, listed);
    reads_answer_the_simulators_values(&mut agent, "rebalancer", Permission::Execute).await;

    // Below the manual-approval threshold (5000) and the agent's budget (10000): cleared, then submitted.
    // Two percent under the bid, it rests at the simulator.
    let (bid, _) = agent.quote("AAPL").await;
    let limit = priced(bid, -200);
    let staged = agent.ok("stage_order", buy_aapl(10, limit)).await;
    assert_eq!(staged["fate"], "cleared for submit_order", "{staged}");
    assert_eq!(staged["approval"], "none");
    let mine = id_of(&staged);
    let sent = agent.ok("submit_order", json!({"proposal_id": mine})).await;
    assert_eq!(sent["fate"], "sent", "{sent}");
    let order_id = sent["order_id"].as_i64().unwrap();
    let ledger = stack
        .until_ledger("the submitted order at the simulator", |l| {
            l.iter().any(|e| e.kind == EntryKind::Place)
        })
        .await;
    let placed = &ledger[0];
    assert_eq!(placed.order_id.map(i64::from), Some(order_id));
    assert!(
        placed
            .order_ref
            .as_deref()
            .unwrap()
            .starts_with(&format!("ck-p{mine}-")),
        "{placed:?}"
    );
    assert_eq!(
        (
            placed.account.as_deref(),
            placed.symbol.as_deref(),
            placed.action.as_deref(),
            placed.quantity.as_deref(),
            placed.order_type.as_deref()
        ),
        (Some(ACCOUNT), Some("AAPL"), Some("BUY"), Some("10"), Some("LMT"))
    );
    assert_eq!(
        placed
            .limit_price
            .map(|p| Decimal::try_from(p).unwrap().round_dp(2)),
        Some(limit)
    );
    assert_eq!(agent.order(mine).await["fate"], "sent");
    let replay = agent.error("submit_order", json!({"proposal_id": mine})).await;
    assert_eq!(replay, format!("proposal {mine} is sent"));

    // Its own working order, cancelled at the simulator.
    let cancel = agent.ok("cancel_order", json!({"order_id": order_id})).await;
    assert_eq!(cancel, json!({"order_id": order_id, "cancel": "sent"}));
    stack
        .until_ledger("the cancel at the simulator", |l| {
            l.iter()
                .any(|e| e.kind == EntryKind::Cancel && e.order_id.map(i64::from) == Some(order_id))
        })
        .await;
    let cancelled = agent.until_fate(mine, "cancelled").await;
    assert_eq!(cancelled["order_id"], order_id);

    // Above the threshold: staged for the trader; submit_order says a human is needed; the agent withdraws it.
    let big = agent.ok("stage_order", buy_aapl(30, limit)).await;
    assert_eq!(big["fate"], "staged for the trader's approval", "{big}");
    let big = id_of(&big);
    let refused = agent.error("submit_order", json!({"proposal_id": big})).await;
    assert!(refused.starts_with("needs human approval"), "{refused}");
    assert_eq!(
        agent.ok("cancel_proposal", json!({"proposal_id": big})).await["fate"],
        "withdrawn"
    );

    // The other prepare tools.
    assert_eq!(
        agent.ok("recommend", json!({"text": "rebalance SPY"})).await["posted"],
        true
    );
    assert_eq!(
        agent
            .ok("raise_alert", json!({"severity": "info", "text": "rebalancing"}))
            .await["raised"],
        true
    );
    assert_eq!(
        agent
            .ok(
                "report_status",
                json!({"strategy": "rebalance", "state": "idle", "message": "done"})
            )
            .await["recorded"],
        true
    );
    let orders = agent.ok("get_orders", json!({})).await;
    let fates: Vec<(u64, &str)> = orders["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (id_of(o), o["fate"].as_str().unwrap()))
        .collect();
    assert_eq!(fates, [(mine, "cancelled"), (big, "withdrawn")]);
    let calls = agent.calls;
    agent.close().await;

    let (rs, ledger) = stack.stop().await;
    assert_eq!(assert_no_bypass(&rs, &ledger), 1);
    let kinds_seen: Vec<EntryKind> = ledger.iter().map(|e| e.kind).collect();
    assert_eq!(kinds_seen, [EntryKind::Place, EntryKind::Cancel]);
    assert!(reported(&rs, mine, "Cancelled"));
    assert_one_record_per_call(&rs, calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execute_level_agent_cannot_split_an_order_under_its_unapproved_budget() {
    // The rebalancer may send 10000 of unapproved notional per instrument; five orders of about 2000 each,
    // every one cleared on its own when staged, pass that budget at the fifth.
    let stack = stack::stack("budget", |c, uid| {
        as_agent(c, "rebalancer", uid, Permission::Execute, Permission::Execute);
        rate(c, "rebalancer", 1_000);
    })
    .await;
    let mut agent = stack.agent().await;
    let (bid, _) = agent.quote("AAPL").await;
    let limit = priced(bid, -200);
    assert!(
        limit * Decimal::from(9 + 10 + 11 + 8) <= Decimal::from(10_000)
            && limit * Decimal::from(9 + 10 + 11 + 8 + 12) > Decimal::from(10_000),
        "the fifth order passes the budget at {limit}"
    );
    let mut ids = Vec::new();
    for quantity in [9, 10, 11, 8, 12] {
        let staged = agent.ok("stage_order", buy_aapl(quantity, limit)).await;
        assert_eq!(staged["fate"], "cleared for submit_order", "{staged}");
        ids.push(id_of(&staged));
    }
    for id in &ids[..4] {
        let sent = agent.ok("submit_order", json!({"proposal_id": id})).await;
        assert_eq!(sent["fate"], "sent", "{sent}");
    }
    let fifth = ids[4];
    let refused = agent.error("submit_order", json!({"proposal_id": fifth})).await;
    assert_eq!(refused, "this order needs Confirm approval");
    let waiting = agent.order(fifth).await;
    assert_eq!(waiting["fate"], "staged for the trader's approval", "{waiting}");
    assert_eq!(waiting["approval"], "trader confirms");
    stack
        .until_ledger("the four submitted orders at the simulator", |l| {
            l.iter().filter(|e| e.kind == EntryKind::Place).count() == 4
        })
        .await;
    // The trader approves the fifth: below the four working ones in the pane.
    stack.approve_at(fifth, 4, 5).await;
    assert_eq!(agent.until_fate(fifth, "sent").await["fate"], "sent");
    let calls = agent.calls;
    agent.close().await;

    let (rs, ledger) = stack.stop().await;
    assert_eq!(assert_no_bypass(&rs, &ledger), 5, "{ledger:?}");
    let by: Vec<&str> = rs
        .iter()
        .filter(|r| {
            r.kind == kinds::HUMAN_ACTION && r.data["action"] == "approve" && r.data["by"].is_string()
        })
        .map(|r| r.data["by"].as_str().unwrap())
        .collect();
    assert_eq!(
        by,
        ["automatic", "automatic", "automatic", "automatic", "confirm"]
    );
    assert_one_record_per_call(&rs, calls);
}

/// An order typed into TWS by hand steps agents down to `prepare` until the trader acknowledges its alert
/// ("agents may only prepare until this is acknowledged"). Reached here through a reconnect, whose
/// reconciliation finds the order at once (the periodic one runs each minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_order_typed_into_tws_an_execute_agent_cannot_submit_even_what_it_cleared_before() {
    let stack = stack::stack("external", |c, uid| {
        as_agent(c, "rebalancer", uid, Permission::Execute, Permission::Execute);
        rate(c, "rebalancer", 1_000);
    })
    .await;
    let mut agent = stack.agent().await;
    let (bid, _) = agent.quote("AAPL").await;
    let staged = agent.ok("stage_order", buy_aapl(10, priced(bid, -200))).await;
    assert_eq!(staged["fate"], "cleared for submit_order", "{staged}");
    let cleared = id_of(&staged);

    // An order typed into TWS (client 0), far from the market so it rests; then the connection drops.
    let manual = cockpit::sim::proto::PlaceOrderRequest {
        contract: Some(cockpit::sim::proto::Contract {
            symbol: Some("MSFT".into()),
            sec_type: Some("STK".into()),
            exchange: Some("SMART".into()),
            currency: Some("USD".into()),
            ..Default::default()
        }),
        order: Some(cockpit::sim::proto::Order {
            action: Some("BUY".into()),
            total_quantity: Some("1".into()),
            order_type: Some("LMT".into()),
            lmt_price: Some(100.0),
            tif: Some("GTC".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    stack
        .demo
        .paper
        .place_manual_order(manual)
        .await
        .unwrap()
        .unwrap();
    stack
        .demo
        .paper
        .inject(cockpit::sim::FaultAction::DropSocket { client_id: Some(1) })
        .await
        .unwrap();
    stack
        .until(
            "the external order found by the reconnect's reconciliation",
            |rs| {
                rs.iter()
                    .any(|r| r.kind == kinds::BROKER_EVENT && r.data["event"] == "external_order")
                    && rs
                        .iter()
                        .filter(|r| r.kind == kinds::BROKER_EVENT && r.data["event"] == "reconciled")
                        .count()
                        >= 2
            },
        )
        .await;
    // A reconnect steps trading down until the trader resumes it: K, then y.
    tokio::time::sleep(stack::PAUSE).await;
    stack.keys.press(crossterm::event::KeyCode::Char('K')).await;
    stack.keys.press(crossterm::event::KeyCode::Char('y')).await;
    stack
        .until("the trader's resume", |rs| {
            rs.iter().any(|r| {
                r.kind == kinds::TRADING_STATE && r.data["cause"] == "resume" && r.data["level"] == "ACTIVE"
            })
        })
        .await;
    // What the agent stages now waits for the trader, as the alert says ...
    let fresh = agent.ok("stage_order", buy_aapl(11, priced(bid, -200))).await;
    assert_eq!(fresh["fate"], "staged for the trader's approval", "{fresh}");
    // ... and so must what it staged before.
    let submit = agent.call("submit_order", json!({"proposal_id": cleared})).await;
    let calls = agent.calls;
    agent.close().await;
    let (_, ledger) = stack.stop().await;
    assert!(
        ledger.iter().all(|e| e.client_id == 0),
        "nothing the agent staged went out without the trader: {ledger:?}"
    );
    assert!(common::agents::is_error(&submit), "submit_order was accepted");
    let why = common::agents::body(&submit)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(why.contains("needs Confirm approval"), "told why: {why}");
    assert!(calls > 0);
}

// ---------------------------------------------------------------------------------------------------------
// The hostile agent.

/// Calls that must each be answered with a tool error, whatever the state: malformed, oversized,
/// lookalike, non-finite and huge numbers, escape sequences and format characters, what agents may not do.
#[expect(clippy::too_many_lines, reason = "one list, read top to bottom")]
fn hostile_calls() -> Vec<(&'static str, Value, &'static str)> {
    let aapl = |qty: Value, order_type: &str, limit: Value| order("AAPL", "BUY", &qty, order_type, &limit);
    let with = |mut args: Value, field: &str, value: Value| {
        args[field] = value;
        args
    };
    let good = aapl(json!("1"), "LMT", json!("200"));
    vec![
        // Malformed.
        ("stage_order", json!({}), "symbol: missing"),
        ("stage_order", json!({"symbol": 42}), "symbol: expected a string"),
        // Not an object: the client sends no arguments at all.
        ("stage_order", json!([1, 2, 3]), "symbol: missing"),
        (
            "stage_order",
            with(good.clone(), "admin", json!(true)),
            "unknown field(s) admin",
        ),
        (
            "stage_order",
            aapl(json!(null), "LMT", json!("200")),
            "quantity: missing",
        ),
        ("stage_order", aapl(json!("-5"), "LMT", json!("200")), "quantity"),
        ("stage_order", aapl(json!("0"), "LMT", json!("200")), "quantity"),
        (
            "stage_order",
            aapl(json!("1.5.5"), "LMT", json!("200")),
            "is not a number",
        ),
        ("stage_order", with(good.clone(), "side", json!("HOLD")), "side"),
        (
            "stage_order",
            aapl(json!("1"), "LMT", json!(null)),
            "limit_price: required when order_type is 'LMT'",
        ),
        (
            "stage_order",
            aapl(json!("1"), "MKT", json!("200")),
            "must be empty when order_type is 'MKT'",
        ),
        ("get_quote", json!({}), "symbol: missing"),
        (
            "get_quote",
            json!({"symbol": "AAPL", "extra": 1}),
            "unknown field(s) extra",
        ),
        ("get_quote", json!({"symbol": "TSLA"}), "no quote for TSLA"),
        ("cancel_order", json!({"order_id": "abc"}), "order_id"),
        ("cancel_order", json!({"order_id": -3}), "not an id"),
        ("cancel_proposal", json!({"proposal_id": 1.5}), "not an id"),
        ("cancel_proposal", json!({"proposal_id": 999}), "does not exist"),
        ("submit_order", json!({"proposal_id": 999}), "does not exist"),
        (
            "cancel_order",
            json!({"order_id": 99_999}),
            "is not one of the cockpit's orders",
        ),
        ("no_such_tool", json!({}), "unknown tool 'no_such_tool'"),
        ("get_account\u{0}", json!({}), "unknown tool"),
        // Oversized: over the gateway's byte limit, refused before any look at them; and text too long.
        (
            "recommend",
            json!({"text": "A".repeat(MAX_ARGUMENT_BYTES + 1)}),
            "the limit is 8192 bytes",
        ),
        (
            "stage_order",
            with(good.clone(), "pad", json!(vec![0; MAX_ARGUMENT_BYTES])),
            "the limit is 8192 bytes",
        ),
        (
            "recommend",
            json!({"text": "A".repeat(2_001)}),
            "the limit is 2000",
        ),
        // Lookalike symbols.
        (
            "stage_order",
            with(good.clone(), "symbol", json!("\u{410}APL")),
            "symbol",
        ),
        (
            "stage_order",
            with(good.clone(), "symbol", json!("A\u{410}PL")),
            "symbol",
        ),
        (
            "stage_order",
            with(good.clone(), "symbol", json!("ＡＡＰＬ")),
            "symbol",
        ),
        (
            "stage_order",
            with(good.clone(), "symbol", json!("\u{391}APL")),
            "symbol",
        ),
        (
            "stage_order",
            with(good.clone(), "symbol", json!("AA PL")),
            "symbol",
        ),
        (
            "stage_order",
            with(good.clone(), "symbol", json!("AAPL\u{200b}")),
            "symbol",
        ),
        ("get_quote", json!({"symbol": "\u{410}APL"}), "symbol"),
        // Numbers.
        (
            "stage_order",
            aapl(json!("NaN"), "LMT", json!("200")),
            "not a finite number",
        ),
        (
            "stage_order",
            aapl(json!("Infinity"), "LMT", json!("200")),
            "not a finite number",
        ),
        (
            "stage_order",
            aapl(json!("1"), "LMT", json!("-inf")),
            "not a finite number",
        ),
        ("stage_order", aapl(json!(1e308), "LMT", json!("200")), "exponent"),
        ("stage_order", aapl(json!("1"), "LMT", json!("2e2")), "exponent"),
        (
            "stage_order",
            aapl(json!("12345678901234567890123456789"), "LMT", json!("200")),
            "29 significant digits",
        ),
        (
            "stage_order",
            aapl(json!("1"), "LMT", json!("200.00000000000000000000000001")),
            "significant digits",
        ),
        (
            "stage_order",
            aapl(json!("1"), "LMT", json!("-200")),
            "limit_price",
        ),
        (
            "stage_order",
            aapl(json!(true), "LMT", json!("200")),
            "got a boolean",
        ),
        // Escape sequences, bidi and zero-width characters in text.
        ("recommend", json!({"text": "\u{1b}]0;pwned\u{7}"}), "U+001B"),
        ("recommend", json!({"text": "ok\u{1b}[2J"}), "U+001B"),
        (
            "raise_alert",
            json!({"severity": "info", "text": "\u{202e}lanigiro"}),
            "U+202E",
        ),
        (
            "raise_alert",
            json!({"severity": "warning", "text": "a\u{200b}b"}),
            "U+200B",
        ),
        (
            "report_status",
            json!({"strategy": "x\u{8}", "state": "s", "message": "m"}),
            "U+0008",
        ),
        (
            "stage_order",
            with(good.clone(), "rationale", json!("\u{1b}[31mred")),
            "U+001B",
        ),
        (
            "stage_order",
            with(good, "rationale", json!("buy \u{2066}now")),
            "U+2066",
        ),
        // What an agent may not do.
        (
            "raise_alert",
            json!({"severity": "critical", "text": "halt now"}),
            "agents raise info or warning",
        ),
        (
            "stage_order",
            aapl(json!("1"), "TRAIL", json!("200")),
            "order_type",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::too_many_lines, reason = "one hostile session, read top to bottom")]
async fn a_hostile_agent_through_the_full_stack_gets_errors_never_a_bypass_and_every_call_is_journaled() {
    // The most an agent can be: execute, on a profile that grants it. Its rate is high enough that only the
    // flood at the end reaches it.
    let stack = stack::stack("hostile", |c, uid| {
        as_agent(c, "rebalancer", uid, Permission::Execute, Permission::Execute);
        rate(c, "rebalancer", 150);
    })
    .await;
    let mut agent = stack.agent().await;

    // Another's proposal: the trader's own ticket (`n`), while it waits and once the trader approved it.
    let theirs = stack.trader_ticket().await;
    for (tool, says) in [
        ("cancel_proposal", format!("proposal {theirs} is not yours")),
        ("submit_order", format!("proposal {theirs} is not this agent's")),
    ] {
        let error = agent.error(tool, json!({"proposal_id": theirs})).await;
        assert_eq!(error, says);
    }
    stack.approve(theirs, 1).await;
    let rs = stack
        .until("the trader's market order filled", |rs| {
            reported(rs, theirs, "Filled")
        })
        .await;
    let their_order = order_id_of(&rs, theirs);
    let error = agent
        .error("cancel_order", json!({"order_id": their_order}))
        .await;
    assert_eq!(error, format!("order {their_order} was not originated by you"));
    let error = agent
        .error("cancel_proposal", json!({"proposal_id": theirs}))
        .await;
    assert_eq!(error, format!("proposal {theirs} is not yours"));

    // Above the threshold: the agent cannot push it through; the trader approves it (marketable: filled).
    let (bid, ask) = agent.quote("AAPL").await;
    let big = agent.ok("stage_order", buy_aapl(25, priced(ask, 50))).await;
    assert_eq!(big["fate"], "staged for the trader's approval", "{big}");
    let big = id_of(&big);
    let pushed = agent.error("submit_order", json!({"proposal_id": big})).await;
    assert!(pushed.starts_with("needs human approval"), "{pushed}");
    // Rows: the agent's (open), the trader's (finished).
    stack.approve(big, 2).await;
    let big_order = agent.until_fate(big, "filled").await["order_id"]
        .as_i64()
        .unwrap();

    // Below it: cleared and submitted by the agent once; resting two percent under the bid.
    let small = agent.ok("stage_order", buy_aapl(10, priced(bid, -200))).await;
    assert_eq!(small["fate"], "cleared for submit_order", "{small}");
    let small = id_of(&small);
    assert_eq!(
        agent.ok("submit_order", json!({"proposal_id": small})).await["fate"],
        "sent"
    );

    // Replays of approved proposals: submitted again, withdrawn, cancelled when nothing is left.
    for (tool, args, says) in [
        (
            "submit_order",
            json!({"proposal_id": big}),
            format!("proposal {big} is filled"),
        ),
        (
            "submit_order",
            json!({"proposal_id": big}),
            format!("proposal {big} is filled"),
        ),
        (
            "submit_order",
            json!({"proposal_id": small}),
            format!("proposal {small} is sent"),
        ),
        (
            "submit_order",
            json!({"proposal_id": small.to_string()}),
            format!("proposal {small} is sent"),
        ),
        (
            "cancel_proposal",
            json!({"proposal_id": big}),
            format!("proposal {big} is filled"),
        ),
        (
            "cancel_proposal",
            json!({"proposal_id": small}),
            format!("proposal {small} is sent"),
        ),
        (
            "cancel_order",
            json!({"order_id": big_order}),
            format!("order {big_order} is filled: nothing to cancel"),
        ),
    ] {
        assert_eq!(agent.error(tool, args).await, says, "{tool}");
    }

    // The hostile list: each a named tool error, the session up throughout.
    for (tool, args, says) in hostile_calls() {
        let error = agent.error(tool, args).await;
        assert!(error.contains(says), "{tool}: {error} (expected {says})");
    }

    // Tickets the policy refuses — an account outside the profile, a disallowed order type, a symbol off
    // the allowlist, outside the collar, too large — are staged as refused, and never submitted.
    for (args, rule) in [
        (
            json!({"symbol": "AAPL", "side": "BUY", "quantity": "1", "order_type": "MKT",
                   "account": "DU9999999", "rationale": "x"}),
            "ACCOUNT",
        ),
        (
            json!({"symbol": "AAPL", "side": "BUY", "quantity": "1", "order_type": "STP",
                   "stop_price": bid.to_string(), "rationale": "x"}),
            "ORDER_TYPE",
        ),
        (order("TSLA", "BUY", &json!("1"), "LMT", &json!("200")), "SYMBOL"),
        (buy_aapl(1, priced(bid, -2_000)), "COLLAR"),
        (buy_aapl(100_000, priced(bid, -100)), "QUANTITY"),
    ] {
        let answer = agent.ok("stage_order", args).await;
        assert_eq!(answer["fate"], "refused by the policy", "{answer}");
        assert!(
            answer["refused"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["rule"] == rule),
            "{rule}: {answer}"
        );
        let refused = id_of(&answer);
        let submit = agent.error("submit_order", json!({"proposal_id": refused})).await;
        assert_eq!(submit, format!("proposal {refused} is refused"));
    }

    // A message over the transport's line limit (1 MiB) is dropped unanswered, before it is a call (so it
    // is not journaled, as `agent::MAX_LINE_BYTES` says); the session stays up.
    let too_long = json!({"text": "A".repeat(MAX_LINE_BYTES + 1)});
    agent
        .unanswered("recommend", too_long, std::time::Duration::from_secs(2))
        .await;
    let mine = agent.ok("get_orders", json!({})).await;

    // A flood: past 150 calls a minute, calls are answered with a rate-limit error; the session stays up.
    let mut limited = 0;
    for _ in 0..400 {
        let result = agent.call("get_policy", json!({})).await;
        if common::agents::is_error(&result) {
            limited += 1;
            let error = common::agents::body(&result)["error"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(error.starts_with("rate limit"), "{error}");
            if limited == 5 {
                break;
            }
        }
    }
    assert_eq!(limited, 5, "the flood was limited");
    assert!(agent.calls >= 50, "{} calls", agent.calls);
    // Still answered once the rate allows again (one call every 0.4 s): polled, bounded.
    let deadline = tokio::time::Instant::now() + stack::WITHIN;
    let account = loop {
        let result = agent.call("get_account", json!({})).await;
        if !common::agents::is_error(&result) {
            break common::agents::body(&result);
        }
        assert!(tokio::time::Instant::now() < deadline, "never answered again");
        tokio::time::sleep(stack::POLL * 5).await;
    };
    assert_eq!(account["accounts"][0]["account"], ACCOUNT);
    assert_eq!(account["trading_state"], "ACTIVE", "nothing stepped trading down");
    let calls = agent.calls;
    agent.close().await;

    let (rs, ledger) = stack.stop().await;
    // Exactly the three approved orders reached the simulator: the trader's, the big one the trader
    // approved, the small one the agent was cleared to submit — each approved before it was sent.
    assert_eq!(assert_no_bypass(&rs, &ledger), 3, "{ledger:?}");
    let sent: Vec<u64> = rs
        .iter()
        .filter(|r| r.kind == kinds::INTENT)
        .map(|r| r.data["proposal"].as_u64().unwrap())
        .collect();
    assert_eq!(sent, [theirs, big, small]);
    assert!(
        ledger.iter().all(|e| e.kind == EntryKind::Place),
        "no cancel reached the simulator: {ledger:?}"
    );
    // The agent's other proposals were refused by the policy, and nothing malformed was staged.
    let fates: Vec<&str> = mine["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["fate"].as_str().unwrap())
        .collect();
    assert_eq!(
        fates,
        [
            "filled",
            "sent",
            "refused by the policy",
            "refused by the policy",
            "refused by the policy",
            "refused by the policy",
            "refused by the policy"
        ]
    );
    assert!(
        !rs.iter()
            .any(|r| r.kind == kinds::ALERT && r.data["text"].as_str().unwrap().contains('\u{1b}')),
        "no escape reached an alert"
    );
    // (The first connection's gate is recorded before the agent's first call.)
    let first_call = rs.iter().find(|r| r.kind == kinds::TOOL_CALL).unwrap().seq;
    let moved: Vec<&Record> = rs
        .iter()
        .filter(|r| r.kind == kinds::TRADING_STATE && r.seq > first_call)
        .collect();
    assert!(
        moved.is_empty(),
        "the agent never moved the trading state: {moved:?}"
    );
    assert_one_record_per_call(&rs, calls);
    assert!(
        rs.iter()
            .filter(|r| r.kind == kinds::TOOL_CALL)
            .all(|r| r.data["agent"] == "rebalancer"),
        "every call is the rebalancer's"
    );
}
