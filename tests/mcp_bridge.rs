//! `cockpit mcp` as an MCP host runs it: the real binary as a child process with piped stdio, driven by a
//! real `rmcp` client over the child's stdin/stdout, in front of the agent gateway answered by the engine.
//! A whole session goes through byte for byte and ends with exit 0 when the client hangs up, answers still in
//! flight when stdin ends are delivered, no cockpit or a stale socket is exit 2 with the path named and
//! nothing on stdout, and a cockpit that stops ends the bridge.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use cockpit::journal::{Reader, kinds};
use common::agents::{self, Rig};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// Every wait in this file is bounded by this.
const BOUND: Duration = Duration::from_secs(15);

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: not within {BOUND:?}"))
}

/// The gateway on a paper profile, answered by the engine; this process's uid is the configured
/// `rebalancer`, and so is the bridge's (its child).
async fn rig(name: &str) -> Rig {
    agents::rig(&format!("mcp-{name}"), "paper", |c, uid| {
        agents::as_agent(c, "rebalancer", uid);
    })
    .await
}

/// Stops the gateway and the engine, as a cockpit quitting does; returns the state dir.
async fn stop(rig: Rig) -> PathBuf {
    within("the engine stops", rig.stop()).await.1
}

fn bridge_command(state_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cockpit"));
    command
        .arg("mcp")
        .arg("--state-dir")
        .arg(state_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// The bridge with an rmcp client on its stdio, as an MCP host runs it.
async fn bridged_client(state_dir: &Path) -> (Child, RunningService<RoleClient, ClientConfig>) {
    bridged(bridge_command(state_dir)).await
}

/// `command` (a bridge) with an rmcp client on its stdio.
async fn bridged(mut command: Command) -> (Child, RunningService<RoleClient, ClientConfig>) {
    let mut child = command.spawn().unwrap();
    let (stdout, stdin) = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("bridged-agent", "1"),
    )
    .serve((stdout, stdin));
    let client = within("the MCP handshake", client).await.unwrap();
    (child, client)
}

/// Waits for the child to exit; its exit code, what it wrote on stderr, and the time since `since`.
async fn exit_of(mut child: Child, since: Instant) -> (Option<i32>, String, Duration) {
    let status = within("the bridge exits", child.wait()).await.unwrap();
    let mut err = String::new();
    let mut stderr = child.stderr.take().unwrap();
    within("stderr", stderr.read_to_string(&mut err)).await.unwrap();
    (status.code(), err, since.elapsed())
}

/// `cockpit mcp` with nothing on stdin, bounded.
async fn run_bridge(state_dir: &Path) -> Output {
    let child = bridge_command(state_dir).stdin(Stdio::null()).spawn().unwrap();
    within("the bridge exits", child.wait_with_output())
        .await
        .unwrap()
}

async fn call(client: &RunningService<RoleClient, ClientConfig>, tool: &str, args: Value) -> CallToolResult {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    within(tool, client.call_tool(params)).await.unwrap()
}

fn body(result: &CallToolResult) -> Value {
    serde_json::from_str(&result.content[0].as_text().unwrap().text).unwrap()
}

#[tokio::test]
async fn a_whole_session_goes_through_the_bridge_and_hanging_up_exits_0() {
    let rig = rig("session").await;
    let (child, client) = bridged_client(&rig.dir).await;
    let tools: Vec<String> = within("list tools", client.list_all_tools())
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(
        tools.iter().any(|t| t == "get_policy") && tools.iter().any(|t| t == "stage_order"),
        "{tools:?}"
    );
    let policy = call(&client, "get_policy", json!({})).await;
    assert_ne!(policy.is_error, Some(true), "{policy:?}");
    let staged = call(
        &client,
        "stage_order",
        json!({"symbol": "AAPL", "side": "BUY", "quantity": "10", "order_type": "LMT",
               "limit_price": "100.01", "rationale": "through the bridge"}),
    )
    .await;
    assert_eq!(
        body(&staged)["fate"],
        "staged for the trader's approval",
        "{staged:?}"
    );
    // Hanging up closes the child's stdin: the bridge half-closes, the cockpit ends the session, exit 0.
    let hung_up = Instant::now();
    within("the client closes", client.cancel()).await.unwrap();
    let (code, err, took) = exit_of(child, hung_up).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(err.is_empty(), "nothing to report: {err}");
    assert!(took < Duration::from_secs(5), "exited {took:?} after the hang-up");
    let dir = stop(rig).await;
    let calls: Vec<Value> = Reader::open(&dir)
        .unwrap()
        .records(1)
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == kinds::TOOL_CALL)
        .map(|r| r.data)
        .collect();
    assert_eq!(calls.len(), 2, "both calls journaled");
    assert_eq!(calls[1]["agent"], "rebalancer", "known by the bridge's uid");
    assert_eq!(
        calls[1]["label"], "bridged-agent",
        "the client's declared name passes through"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_reply_still_in_flight_when_stdin_ends_is_delivered_before_exit_0() {
    let rig = rig("in-flight").await;
    let mut child = bridge_command(&rig.dir).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A host that writes its requests and closes stdin at once, without waiting for any answer.
    let lines = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
               "capabilities": {}, "clientInfo": {"name": "raw-host", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "get_policy", "arguments": {}}}),
    ];
    for line in lines {
        within("write", stdin.write_all(format!("{line}\n").as_bytes()))
            .await
            .unwrap();
    }
    drop(stdin);
    let mut out = String::new();
    let mut stdout = child.stdout.take().unwrap();
    within("stdout ends", stdout.read_to_string(&mut out))
        .await
        .unwrap();
    let (code, err, _) = exit_of(child, Instant::now()).await;
    assert_eq!(code, Some(0), "{err}");
    let replies: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(replies.len(), 2, "{out}");
    assert_eq!(replies[1]["id"], 2, "{out}");
    assert!(replies[1]["result"]["content"][0]["text"].is_string(), "{out}");
    std::fs::remove_dir_all(stop(rig).await).unwrap();
}

#[tokio::test]
async fn without_a_cockpit_it_names_the_state_dir_and_exits_2_with_nothing_on_stdout() {
    let dir = common::dir("mcp-none");
    std::fs::create_dir_all(&dir).unwrap();
    let out = run_bridge(&dir).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty(), "stdout carries only the socket's bytes");
    assert!(
        err.contains(&format!("no cockpit is running for state dir {}", dir.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("`cockpit demo --state-dir {}`", dir.display())),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_stale_socket_is_exit_2_saying_so() {
    let dir = common::dir("mcp-stale");
    std::fs::create_dir_all(&dir).unwrap();
    let socket = cockpit::agent::socket_path(&dir);
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists(), "the file stays, as after a killed cockpit");
    let out = run_bridge(&dir).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains(&format!("nothing answers on {}", socket.display())),
        "{err}"
    );
    assert!(err.contains("stale socket"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_cockpit_that_stops_ends_the_bridge_with_a_message() {
    let rig = rig("stopped").await;
    let (child, client) = bridged_client(&rig.dir).await;
    // A request answered, so the session is past its handshake on the cockpit's side.
    within("list tools", client.list_all_tools()).await.unwrap();
    let stopped = Instant::now();
    let dir = stop(rig).await;
    // The client still holds the bridge's stdin open: only the cockpit's side has gone.
    let (code, err, took) = exit_of(child, stopped).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("the cockpit closed the connection"), "{err}");
    assert!(
        err.contains(&cockpit::agent::socket_path(&dir).display().to_string()),
        "{err}"
    );
    assert!(
        took < Duration::from_secs(5),
        "exited {took:?} after the cockpit stopped"
    );
    drop(client);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_agent_the_bridge_reaches_that_agents_own_socket_and_is_known_as_it() {
    // This process is `rebalancer` on agent.sock; through watcher.sock it is the read-level `watcher`.
    let rig = rig("own").await;
    let mut command = bridge_command(&rig.dir);
    command.arg("--agent").arg("watcher");
    let (mut child, client) = bridged(command).await;
    let tools = within("list_tools", client.list_all_tools()).await.unwrap();
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "get_account",
            "get_alerts",
            "get_orders",
            "get_policy",
            "get_positions",
            "get_quote"
        ],
        "the read level's tools only"
    );
    let policy = body(&call(&client, "get_policy", json!({})).await);
    assert_eq!(policy["you"]["name"], "watcher");
    assert_eq!(policy["you"]["level"], "read");
    let _ = client.cancel().await;
    let _ = within("the bridge exits", child.wait()).await;
    std::fs::remove_dir_all(stop(rig).await).unwrap();
}

#[tokio::test]
async fn with_an_agent_without_a_cockpit_it_names_that_agents_socket() {
    let dir = common::dir("mcp-none-agent");
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = bridge_command(&dir);
    command.arg("--agent").arg("watcher");
    let out = within("the bridge exits", command.output()).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}/agents/watcher.sock", dir.display())),
        "{err}"
    );

    let mut command = bridge_command(&dir);
    command.arg("--agent").arg("../agent");
    let out = within("the bridge exits", command.output()).await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--agent '../agent' is not an agent name"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
