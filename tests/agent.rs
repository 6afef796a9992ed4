//! The agent gateway with a real MCP client (`rmcp`) over the Unix socket, answered by the real engine and
//! journal: tools listed by level, staging through the policy, bad input answered with a named tool error
//! while the connection stays up, rate limits, the execute level's `submit_order`, agent alerts that never
//! move the trading state, and a `tool_call` record for every call before its answer.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use cockpit::app::Stage;
use cockpit::config::Config;
use cockpit::policy::Level;
use common::agents::{as_agent, body, call, is_error, rig, tool_calls};
use serde_json::{Value, json};

fn stage(symbol: &str, qty: &str) -> Value {
    json!({"symbol": symbol, "side": "BUY", "quantity": qty, "order_type": "LMT", "limit_price": "100.01",
           "rationale": "mean reversion after the open"})
}

/// The rebalancer (execute in the config) is this process.
fn as_rebalancer(config: &mut Config, uid: u32) {
    as_agent(config, "rebalancer", uid);
}

#[tokio::test]
async fn a_prepare_agent_sees_its_tools_and_stages_through_the_policy() {
    let rig = rig("stage", "paper", as_rebalancer).await;
    let client = rig.client().await;
    let tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(tools.contains(&"stage_order".to_owned()));
    assert!(
        !tools.contains(&"submit_order".to_owned()),
        "execute narrowed to prepare on paper: {tools:?}"
    );

    let staged = call(&client, "stage_order", stage("aapl", "10")).await;
    assert!(!is_error(&staged), "{staged:?}");
    let answer = body(&staged);
    assert_eq!(answer["fate"], "staged for the trader's approval");
    let refused = body(&call(&client, "stage_order", stage("TSLA", "10")).await);
    assert_eq!(refused["fate"], "refused by the policy");
    assert!(
        refused["refused"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"] == "SYMBOL")
    );
    let orders = body(&call(&client, "get_orders", json!({})).await);
    assert_eq!(orders["orders"].as_array().unwrap().len(), 2);
    let submit = call(
        &client,
        "submit_order",
        json!({"proposal_id": answer["proposal_id"]}),
    )
    .await;
    assert!(is_error(&submit), "a prepare agent cannot submit");
    assert!(
        body(&submit)["error"]
            .as_str()
            .unwrap()
            .contains("needs the execute level")
    );
    client.cancel().await.unwrap();
    let (mut engine, dir) = rig.stop().await;
    assert!(engine.broker().placed.is_empty());
    let p = engine.state().proposals.values().next().unwrap();
    assert_eq!(p.note, "mean reversion after the open");
    let calls = tool_calls(&dir);
    assert_eq!(calls.len(), 4, "every call journaled");
    assert_eq!(calls[0]["agent"], "rebalancer");
    assert_eq!(calls[0]["label"], "test-agent");
    assert_eq!(calls[3]["error"], true);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn bad_input_gets_a_named_tool_error_and_the_connection_stays_up() {
    let rig = rig("bad", "paper", as_rebalancer).await;
    let client = rig.client().await;
    let mut unknown = stage("AAPL", "10");
    unknown["colour"] = json!("red");
    let huge = json!({"text": "x".repeat(10_000)});
    for (tool, args, says) in [
        ("stage_order", unknown, "unknown field(s) colour"),
        (
            "stage_order",
            stage("AAPL", "NaN"),
            "quantity: NaN is not a finite number",
        ),
        ("stage_order", stage("AAPL", "1e3"), "exponent"),
        (
            "stage_order",
            stage("AAPL", "12345678901234567890123456789"),
            "significant digits",
        ),
        (
            "stage_order",
            json!({"symbol": "AAPL", "side": "BUY", "quantity": 1, "order_type": "LMT",
                               "limit_price": 1, "rationale": "buy \u{202e}now"}),
            "U+202E",
        ),
        (
            "stage_order",
            json!({"symbol": "ＡＡＰＬ", "side": "BUY", "quantity": 1, "order_type": "MKT",
                               "rationale": "lookalike"}),
            "symbol",
        ),
        ("recommend", huge, "the limit is 8192 bytes"),
        (
            "raise_alert",
            json!({"severity": "critical", "text": "panic"}),
            "agents raise info or warning",
        ),
        ("no_such_tool", json!({}), "unknown tool 'no_such_tool'"),
    ] {
        let result = call(&client, tool, args).await;
        assert!(is_error(&result), "{tool}: {result:?}");
        let error = body(&result)["error"].as_str().unwrap().to_owned();
        assert!(error.contains(says), "{tool}: {error}");
    }
    // Still connected, and a good call works.
    assert!(!is_error(&call(&client, "get_account", json!({})).await));
    client.cancel().await.unwrap();
    let (engine, dir) = rig.stop().await;
    assert!(
        engine.state().proposals.is_empty(),
        "nothing malformed was staged"
    );
    assert_eq!(tool_calls(&dir).len(), 10, "malformed calls are journaled too");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn an_agent_over_its_rate_is_answered_with_an_error_not_a_disconnect() {
    let rig = rig("rate", "paper", |c, uid| {
        as_rebalancer(c, uid);
        c.agents
            .iter_mut()
            .find(|a| a.name == "rebalancer")
            .unwrap()
            .max_calls_per_minute = 3;
    })
    .await;
    let client = rig.client().await;
    let results: Vec<bool> = {
        let mut out = Vec::new();
        for _ in 0..5 {
            out.push(is_error(&call(&client, "get_policy", json!({})).await));
        }
        out
    };
    assert_eq!(results, [false, false, false, true, true]);
    client.cancel().await.unwrap();
    let (_, dir) = rig.stop().await;
    let calls = tool_calls(&dir);
    assert_eq!(calls.len(), 5);
    assert!(
        calls[4]["answer"]["error"]
            .as_str()
            .unwrap()
            .contains("rate limit")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn an_execute_agent_submits_below_the_threshold_and_is_told_when_a_human_is_needed() {
    // The dry-run profile grants execute; its broker port records instead of sending.
    let rig = rig("submit", "dry-run", as_rebalancer).await;
    let client = rig.client().await;
    let small = body(&call(&client, "stage_order", stage("AAPL", "10")).await);
    assert_eq!(small["fate"], "cleared for submit_order", "{small}");
    let sent = call(
        &client,
        "submit_order",
        json!({"proposal_id": small["proposal_id"]}),
    )
    .await;
    assert!(!is_error(&sent), "{sent:?}");
    let big = body(&call(&client, "stage_order", stage("AAPL", "100")).await);
    assert_eq!(big["fate"], "staged for the trader's approval", "{big}");
    let refused = call(
        &client,
        "submit_order",
        json!({"proposal_id": big["proposal_id"]}),
    )
    .await;
    assert!(is_error(&refused));
    assert!(
        body(&refused)["error"]
            .as_str()
            .unwrap()
            .starts_with("needs human approval")
    );
    let alert = call(
        &client,
        "raise_alert",
        json!({"severity": "warning", "text": "spread widening"}),
    )
    .await;
    assert!(!is_error(&alert));
    client.cancel().await.unwrap();
    let (mut engine, dir) = rig.stop().await;
    assert_eq!(
        engine.broker().placed.len(),
        1,
        "only the cleared one went to the broker port"
    );
    let big_id = cockpit::domain::ProposalId(big["proposal_id"].as_u64().unwrap());
    assert_eq!(engine.state().proposals[&big_id].stage, Stage::AwaitingApproval);
    assert_eq!(
        engine.state().trading.level(),
        Level::Active,
        "an agent alert moves nothing"
    );
    assert!(engine.state().alerts.iter().any(|a| a.text == "spread widening"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn on_a_live_profile_an_agent_under_the_cockpits_own_uid_is_refused() {
    let rig = rig("live-same-uid", "live", as_rebalancer).await;
    let client = rig.client().await;
    let result = call(&client, "get_account", json!({})).await;
    assert!(is_error(&result));
    assert!(
        body(&result)["error"]
            .as_str()
            .unwrap()
            .contains("allow_same_uid_agents")
    );
    client.cancel().await.unwrap();
    let (_, dir) = rig.stop().await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// Levels with one agent, `watcher` (uid 1003, read), on its own socket shared with `group`.
fn own_socket_levels(group: Option<String>) -> std::sync::Arc<cockpit::agent::Levels> {
    std::sync::Arc::new(cockpit::agent::Levels {
        default: cockpit::config::Permission::Read,
        agents: [(1003, cockpit::config::Permission::Read)].into(),
        rates: std::collections::HashMap::new(),
        own_sockets: vec![cockpit::agent::OwnSocket {
            name: "watcher".into(),
            uid: 1003,
            group,
        }],
    })
}

#[tokio::test]
async fn an_agents_own_socket_is_shared_with_its_group_and_an_unknown_group_stops_the_gateway() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = common::dir("agent-own-socket");
    std::fs::create_dir_all(&dir).unwrap();
    let gid = std::fs::metadata(&dir).unwrap().gid();
    let (tx, _rx) = tokio::sync::mpsc::channel(8);
    let cancel = tokio_util::sync::CancellationToken::new();
    let gateway = cockpit::agent::start(
        &dir,
        own_socket_levels(Some(gid.to_string())),
        tx.clone(),
        cancel.clone(),
    )
    .await
    .unwrap();
    let socket = cockpit::agent::own_socket_path(&dir, "watcher");
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660, "shared with the group");
    assert_eq!(meta.gid(), gid);
    let sockets = std::fs::metadata(socket.parent().unwrap()).unwrap();
    assert_eq!(
        sockets.permissions().mode() & 0o777,
        0o711,
        "traversable, not listable"
    );
    let shared = std::fs::metadata(cockpit::agent::socket_path(&dir)).unwrap();
    assert_eq!(
        shared.permissions().mode() & 0o777,
        0o600,
        "agent.sock stays the cockpit's"
    );
    cancel.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(5), gateway)
        .await
        .unwrap()
        .unwrap();
    assert!(!socket.exists(), "removed when the gateway stops");

    let (tx, _rx) = tokio::sync::mpsc::channel(8);
    let err = cockpit::agent::start(
        &dir,
        own_socket_levels(Some("no-such-group-cockpit".into())),
        tx,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("agent 'watcher' has socket_group = \"no-such-group-cockpit\", which is no group"),
        "{err}"
    );
    assert!(!cockpit::agent::socket_path(&dir).exists(), "nothing left bound");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One call as the gateway hands it to the shell, and where its answer arrives.
fn agent_call(
    uid: u32,
    tool: &str,
    arguments: Value,
) -> (
    cockpit::agent::AgentCall,
    tokio::sync::oneshot::Receiver<cockpit::agent::Answer>,
) {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let call = cockpit::agent::AgentCall {
        uid,
        peer_uid: uid,
        label: "batch".into(),
        same_uid: true,
        tool: tool.into(),
        arguments,
        refused: None,
        reply,
    };
    (call, answer)
}

#[tokio::test]
async fn calls_served_together_share_one_journal_commit_and_each_is_journaled_before_its_answer() {
    let (mut engine, dir, uid, _) = common::agents::engine("batch", "paper", as_rebalancer).await;
    let mut status = engine.journal().status();
    let before = status.borrow().commits;

    // Three reads (one of them an unknown tool) arrive together: their records make one commit.
    let (calls, mut answers): (Vec<_>, Vec<_>) = [
        ("get_account", json!({})),
        ("get_positions", json!({})),
        ("no_such_tool", json!({})),
    ]
    .into_iter()
    .map(|(tool, args)| agent_call(uid, tool, args))
    .unzip();
    cockpit::agent::serve_all(calls, &mut engine, false, common::t0()).await;
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        status.wait_for(|s| s.commits > before),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(status.borrow().commits, before + 1, "one commit for three calls");
    let journaled = tool_calls(&dir);
    let tools: Vec<&str> = journaled.iter().map(|c| c["tool"].as_str().unwrap()).collect();
    assert_eq!(tools, ["get_account", "get_positions", "no_such_tool"]);
    for answer in &mut answers {
        answer.try_recv().expect("answered once its record was committed");
    }
    assert!(journaled[2]["error"].as_bool().unwrap(), "{}", journaled[2]);

    // A staging call among reads: what it does is committed before its own record, and the records keep
    // the calls' order.
    let (calls, answers): (Vec<_>, Vec<_>) = [
        ("get_quote", json!({"symbol": "AAPL"})),
        ("stage_order", stage("AAPL", "5")),
        ("get_orders", json!({})),
    ]
    .into_iter()
    .map(|(tool, args)| agent_call(uid, tool, args))
    .unzip();
    cockpit::agent::serve_all(calls, &mut engine, false, common::t0()).await;
    for answer in answers {
        let answer = answer.await.unwrap();
        assert!(!answer.error, "{}", answer.body);
    }
    let records = cockpit::journal::Reader::open(&dir).unwrap().records(1).unwrap();
    let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    let verdict = kinds
        .iter()
        .rposition(|k| *k == cockpit::journal::kinds::VERDICT)
        .unwrap();
    let calls: Vec<usize> = (0..kinds.len())
        .filter(|&i| kinds[i] == cockpit::journal::kinds::TOOL_CALL)
        .collect();
    let tools: Vec<&str> = calls[3..]
        .iter()
        .map(|&i| records[i].data["tool"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["get_quote", "stage_order", "get_orders"]);
    assert!(
        verdict < calls[4],
        "the proposal's verdict comes before the stage_order record: {kinds:?}"
    );
}

#[tokio::test]
async fn get_orders_lists_every_open_proposal_and_the_fifty_latest_finished_and_the_journal_keeps_a_digest_of_a_long_answer()
 {
    let (mut engine, dir, uid, _) = common::agents::engine("listed", "paper", |config, uid| {
        as_rebalancer(config, uid);
        let agent = config.agents.iter_mut().find(|a| a.name == "rebalancer").unwrap();
        agent.max_proposals_per_day = 1_000;
        agent.max_calls_per_minute = 100_000;
    })
    .await;
    let mut serve = async |tool: &str, args: Value| {
        let (call, answer) = agent_call(uid, tool, args);
        cockpit::agent::serve_all(vec![call], &mut engine, false, common::t0()).await;
        answer.await.unwrap()
    };
    // 55 proposals; the first 53 withdrawn (finished), the last two still open.
    let mut ids = Vec::new();
    for _ in 0..55 {
        let staged = serve("stage_order", stage("AAPL", "1")).await;
        assert!(!staged.error, "{}", staged.body);
        ids.push(staged.body["proposal_id"].as_u64().unwrap());
    }
    for id in &ids[..53] {
        let withdrawn = serve("cancel_proposal", json!({"proposal_id": id})).await;
        assert!(!withdrawn.error, "{}", withdrawn.body);
    }
    let listed = serve("get_orders", json!({})).await;
    assert!(!listed.error, "{}", listed.body);
    let shown: Vec<u64> = listed.body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["proposal_id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        shown,
        ids[3..],
        "the 50 latest finished and the 2 open, oldest first"
    );
    assert_eq!(listed.body["older_finished_not_listed"], 3);

    // Its record keeps the answer's size and digest, not the answer; short answers are kept whole.
    let text = listed.body.to_string();
    let journaled = tool_calls(&dir);
    let record = &journaled.last().unwrap()["answer"];
    assert!(text.len() > 4 * 1024, "a long answer: {} bytes", text.len());
    assert_eq!(record["cut"], true, "{record}");
    assert_eq!(record["bytes"], text.len());
    let digest = cockpit::journal::hex(&<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
    assert_eq!(record["sha256"], digest);
    assert_eq!(journaled[0]["answer"]["proposal_id"], ids[0], "{}", journaled[0]);
}
