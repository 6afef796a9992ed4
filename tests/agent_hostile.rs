//! A hostile agent: more than fifty calls over one MCP session — malformed and oversized arguments,
//! lookalike symbols, an account outside the profile, disallowed order types, non-finite and huge
//! numbers, escape sequences, a flood past its rate, replays of a submitted proposal, withdrawals and
//! cancels of orders that are not its own. Afterwards: the session is still up, nothing crashed, the broker
//! port received only the one order the policy cleared for this execute-level agent, every other proposal
//! still waits for the trader or was refused, and the journal holds exactly one `tool_call` per call.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use cockpit::app::{Msg, Source, Stage};
use common::agents::{as_agent, body, call, is_error, rig, tool_calls};
use serde_json::{Value, json};

fn order(symbol: &str, qty: &Value, order_type: &str, limit: &Value) -> Value {
    json!({"symbol": symbol, "side": "BUY", "quantity": qty, "order_type": order_type,
           "limit_price": limit, "rationale": "hostile"})
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one list of hostile calls, read top to bottom"
)]
async fn a_hostile_agent_gets_errors_never_a_bypass_and_every_call_is_journaled() {
    // The rebalancer is execute on the dry-run profile; its rate is raised so the flood is the only limit hit.
    let rig = rig("hostile", "dry-run", |c, uid| {
        as_agent(c, "rebalancer", uid);
        c.agents
            .iter_mut()
            .find(|a| a.name == "rebalancer")
            .unwrap()
            .max_calls_per_minute = 60;
    })
    .await;
    let client = rig.client().await;
    let mut calls = 0_usize;
    let expect_error = |result: &rmcp::model::CallToolResult, what: &str| {
        assert!(is_error(result), "{what} was accepted: {result:?}");
    };

    // One legitimate order the policy clears without a human, submitted once.
    let good = body(
        &call(
            &client,
            "stage_order",
            order("AAPL", &json!("10"), "LMT", &json!("100.01")),
        )
        .await,
    );
    calls += 1;
    assert_eq!(good["fate"], "cleared for submit_order", "{good}");
    let id = good["proposal_id"].clone();
    assert!(!is_error(
        &call(&client, "submit_order", json!({"proposal_id": id})).await
    ));
    calls += 1;

    let hostile: Vec<(&str, Value, &str)> = vec![
        // Replays of the approved id.
        ("submit_order", json!({"proposal_id": id}), "replay"),
        ("submit_order", json!({"proposal_id": id}), "replay again"),
        ("submit_order", json!({"proposal_id": "1"}), "replay as a string"),
        (
            "cancel_proposal",
            json!({"proposal_id": id}),
            "withdraw a sent order",
        ),
        // Malformed.
        ("stage_order", json!({}), "empty"),
        ("stage_order", json!({"symbol": 42}), "wrong type"),
        ("stage_order", json!([1, 2, 3]), "an array"),
        (
            "stage_order",
            order("AAPL", &json!("10"), "LMT", &json!("100.01"))
                .as_object()
                .map(|m| {
                    let mut m = m.clone();
                    m.insert("admin".into(), json!(true));
                    Value::Object(m)
                })
                .unwrap(),
            "unknown field",
        ),
        (
            "stage_order",
            order("AAPL", &json!(null), "LMT", &json!("100")),
            "null quantity",
        ),
        (
            "stage_order",
            order("AAPL", &json!("-5"), "LMT", &json!("100")),
            "negative quantity",
        ),
        (
            "stage_order",
            order("AAPL", &json!("0"), "LMT", &json!("100")),
            "zero quantity",
        ),
        (
            "stage_order",
            order("AAPL", &json!("1.5.5"), "LMT", &json!("100")),
            "two points",
        ),
        (
            "stage_order",
            order("AAPL", &json!("10"), "LMT", &json!(null)),
            "LMT without a price",
        ),
        (
            "stage_order",
            order("AAPL", &json!("10"), "MKT", &json!("100")),
            "MKT with a price",
        ),
        (
            "stage_order",
            order("AAPL", &json!("10"), "TRAIL", &json!("100")),
            "unknown order type",
        ),
        ("get_quote", json!({}), "missing symbol"),
        ("get_quote", json!({"symbol": "AAPL", "extra": 1}), "extra field"),
        ("cancel_order", json!({"order_id": "abc"}), "not an id"),
        ("cancel_order", json!({"order_id": -3}), "negative id"),
        ("cancel_proposal", json!({"proposal_id": 1.5}), "fractional id"),
        ("no_such_tool", json!({}), "unknown tool"),
        ("get_account\u{0}", json!({}), "tool name with NUL"),
        // Oversized.
        ("recommend", json!({"text": "A".repeat(9_000)}), "9 KB of text"),
        (
            "recommend",
            json!({"text": "A".repeat(2_001)}),
            "text over 2000 characters",
        ),
        (
            "stage_order",
            json!({"symbol": "AAPL", "pad": vec![0; 5_000]}),
            "padded arguments",
        ),
        // Lookalike symbols.
        (
            "stage_order",
            order("ΑAPL", &json!("1"), "MKT", &json!(null)),
            "Greek Alpha",
        ),
        (
            "stage_order",
            order("AАPL", &json!("1"), "MKT", &json!(null)),
            "Cyrillic A",
        ),
        (
            "stage_order",
            order("ＡＡＰＬ", &json!("1"), "MKT", &json!(null)),
            "fullwidth",
        ),
        (
            "stage_order",
            order("AA PL", &json!("1"), "MKT", &json!(null)),
            "space inside",
        ),
        (
            "stage_order",
            order("AAPL\u{200b}", &json!("1"), "MKT", &json!(null)),
            "zero-width",
        ),
        ("get_quote", json!({"symbol": "ΑAPL"}), "lookalike quote"),
        // Numbers.
        (
            "stage_order",
            order("AAPL", &json!("NaN"), "LMT", &json!("100")),
            "NaN",
        ),
        (
            "stage_order",
            order("AAPL", &json!("inf"), "LMT", &json!("100")),
            "inf",
        ),
        (
            "stage_order",
            order("AAPL", &json!("-Infinity"), "LMT", &json!("100")),
            "-Infinity",
        ),
        (
            "stage_order",
            order("AAPL", &json!(1e308), "LMT", &json!("100")),
            "1e308",
        ),
        (
            "stage_order",
            order(
                "AAPL",
                &json!("99999999999999999999999999999999"),
                "LMT",
                &json!("100"),
            ),
            "huge",
        ),
        (
            "stage_order",
            order(
                "AAPL",
                &json!("10"),
                "LMT",
                &json!("0.00000000000000000000000000001"),
            ),
            "tiny price",
        ),
        (
            "stage_order",
            order("AAPL", &json!("10"), "LMT", &json!("-100")),
            "negative price",
        ),
        // Escape sequences and format characters.
        ("recommend", json!({"text": "\u{1b}]0;pwned\u{7}"}), "OSC title"),
        ("recommend", json!({"text": "ok\u{1b}[2J"}), "clear screen"),
        (
            "raise_alert",
            json!({"severity": "info", "text": "\u{202e}lanigiro"}),
            "bidi override",
        ),
        (
            "report_status",
            json!({"strategy": "x\u{8}", "state": "s", "message": "m"}),
            "backspace",
        ),
        (
            "stage_order",
            json!({"symbol": "AAPL", "side": "BUY", "quantity": "1", "order_type": "MKT",
                               "rationale": "\u{1b}[31mred"}),
            "escape in rationale",
        ),
        // Levels and ownership.
        (
            "raise_alert",
            json!({"severity": "critical", "text": "halt now"}),
            "critical alert",
        ),
        ("cancel_proposal", json!({"proposal_id": 999}), "no such proposal"),
        ("cancel_order", json!({"order_id": 99_999}), "not a cockpit order"),
    ];
    for (tool, args, what) in hostile {
        let result = call(&client, tool, args).await;
        calls += 1;
        expect_error(&result, what);
    }

    // Orders the policy refuses are staged and refused, never sent: an account outside the profile, a
    // disallowed order type, a symbol off the list, outside the collar, too large.
    for (args, rule) in [
        (
            json!({"symbol": "AAPL", "side": "BUY", "quantity": "1", "order_type": "MKT", "account": "DU9999999",
                "rationale": "x"}),
            "ACCOUNT",
        ),
        (
            json!({"symbol": "AAPL", "side": "BUY", "quantity": "1", "order_type": "STP", "stop_price": "99",
                "rationale": "x"}),
            "ORDER_TYPE",
        ),
        (order("TSLA", &json!("1"), "LMT", &json!("100")), "SYMBOL"),
        (order("AAPL", &json!("1"), "LMT", &json!("150")), "COLLAR"),
        (
            order("AAPL", &json!("100000"), "LMT", &json!("100.01")),
            "QUANTITY",
        ),
    ] {
        let answer = body(&call(&client, "stage_order", args).await);
        calls += 1;
        assert_eq!(answer["fate"], "refused by the policy", "{answer}");
        assert!(
            answer["refused"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["rule"] == rule),
            "{rule}: {answer}"
        );
        let refused_id = answer["proposal_id"].clone();
        let submit = call(&client, "submit_order", json!({"proposal_id": refused_id})).await;
        calls += 1;
        expect_error(&submit, "submitting a refused proposal");
    }

    // A proposal that needs the trader, and an attempt to push it through.
    let big = body(
        &call(
            &client,
            "stage_order",
            order("AAPL", &json!("100"), "LMT", &json!("100.01")),
        )
        .await,
    );
    calls += 1;
    assert_eq!(big["fate"], "staged for the trader's approval");
    let pushed = call(
        &client,
        "submit_order",
        json!({"proposal_id": big["proposal_id"]}),
    )
    .await;
    calls += 1;
    expect_error(&pushed, "submitting above the threshold");

    // A flood: past 60 calls a minute every call is answered with a rate-limit error, the session stays.
    let mut limited = 0;
    for _ in 0..20 {
        let result = call(&client, "get_policy", json!({})).await;
        calls += 1;
        if is_error(&result) {
            limited += 1;
            assert!(body(&result)["error"].as_str().unwrap().contains("rate limit"));
        }
    }
    assert!(limited > 0, "the flood was limited");
    assert!(calls >= 50, "{calls} calls");
    client.cancel().await.unwrap();

    let (mut engine, dir) = rig.stop().await;
    // Another agent's proposal cannot be withdrawn by this one (checked at the core, as a control).
    engine
        .handle(
            Msg::Propose {
                source: Source::Trader,
                ticket: common::ticket("5"),
                note: String::new(),
            },
            common::t0(),
        )
        .await;
    let trader = common::latest(&engine);
    engine
        .handle(
            Msg::Withdraw {
                source: Source::Agent {
                    uid: engine.state().agents[1].uid,
                },
                id: trader,
            },
            common::t0(),
        )
        .await;
    assert!(engine.state().proposals[&trader].stage.is_pending());

    assert_eq!(
        engine.broker().placed.len(),
        1,
        "only the cleared order reached the broker port"
    );
    let sent: Vec<_> = engine
        .state()
        .proposals
        .values()
        .filter(|p| matches!(p.stage, Stage::Sent | Stage::Approved | Stage::Done(_)))
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].id.0, id.as_u64().unwrap());
    assert!(
        !engine.state().alerts.iter().any(|a| a.text.contains('\u{1b}')),
        "no escape reached an alert"
    );
    assert_eq!(tool_calls(&dir).len(), calls, "one record per call");
    std::fs::remove_dir_all(dir).unwrap();
}
