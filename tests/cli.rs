//! The `cockpit` binary as a user meets it: bad input is refused before the terminal is taken, and
//! `cockpit sim` is a gateway a real `ibapi` client can use, logging into the state dir rather than the
//! terminal. `cockpit mcp` has its own file (`tests/mcp_bridge.rs`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use ibapi::prelude::*;

fn cockpit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cockpit"))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cockpit-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn the_cockpit_refuses_a_missing_config_and_a_wrong_live_account_before_taking_the_terminal() {
    let dir = temp_dir("live-refused");
    let out = cockpit()
        .args(["--config", "/nonexistent/cockpit.toml", "--state-dir"])
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/cockpit.toml"));
    let mut child = cockpit()
        .args([
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"),
        ])
        .args(["--profile", "live", "--state-dir"])
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"U7777777\n").expect("typed");
    }
    let out = child.wait_with_output().expect("exits");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Type the live account id"), "{err}");
    assert!(err.contains("not started: typed 'U7777777'"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: the screen never started"
    );
}

#[test]
fn bad_flags_fail_with_usage_and_the_offending_value() {
    let out = cockpit()
        .args(["sim", "--listen", "not-an-address"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-an-address"));
}

#[test]
fn sim_with_a_bad_scenario_lists_every_problem_and_exits_1() {
    let dir = temp_dir("bad-scenario");
    let scenario = dir.join("bad.toml");
    std::fs::write(&scenario, "[[fault]]\naction = \"explode\"\n").expect("write");
    let out = cockpit()
        .args(["sim", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(&scenario)
        .arg("--state-dir")
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing trigger") && err.contains("unknown action 'explode'"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sim_binary_serves_ibapi_and_logs_to_the_state_dir() {
    let dir = temp_dir("sim");
    let ledger = dir.join("ledger.jsonl");
    let mut child = cockpit()
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--account",
            "DU7654321",
            "--ledger",
        ])
        .arg(&ledger)
        .arg("--state-dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let stdout = child.stdout.take().expect("stdout");
    let banner = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let banner = tokio::time::timeout(Duration::from_secs(20), banner)
        .await
        .expect("banner in time")
        .expect("join")
        .expect("read");
    let addr = banner
        .split_whitespace()
        .find(|w| w.starts_with("127.0.0.1:"))
        .expect("banner names the address")
        .to_string();

    let client = tokio::time::timeout(Duration::from_secs(5), Client::connect(&addr, 3))
        .await
        .expect("connect in time")
        .expect("connect");
    assert_eq!(client.handshake_managed_accounts(), ["DU7654321"]);
    let contract = Contract::stock("AAPL").build();
    let mut updates = client.order_update_stream().await.expect("stream");
    let id = client
        .order(&contract)
        .buy(10)
        .market()
        .submit()
        .await
        .expect("submit");
    let mut filled = false;
    for _ in 0..20 {
        let item = tokio::time::timeout(Duration::from_secs(5), updates.next())
            .await
            .expect("update");
        if let Some(Ok(SubscriptionItem::Data(OrderUpdate::ExecutionData(e)))) = item {
            assert_eq!(e.execution.order_id, id.value());
            filled = true;
            break;
        }
    }
    assert!(filled, "the market order filled");
    client.disconnect().await;

    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(interrupted.success());
    let status = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .expect("exits after Ctrl-C")
    .expect("join")
    .expect("wait");
    assert!(status.success(), "{status:?}");

    let ledger_text = std::fs::read_to_string(&ledger).expect("ledger file");
    assert_eq!(ledger_text.lines().count(), 1, "{ledger_text}");
    assert!(ledger_text.contains("\"kind\":\"place\"") && ledger_text.contains("\"symbol\":\"AAPL\""));
    let logs: Vec<_> = std::fs::read_dir(dir.join("logs"))
        .expect("logs dir")
        .flatten()
        .collect();
    assert_eq!(logs.len(), 1, "one daily log file");
    let log = std::fs::read_to_string(logs[0].path()).expect("log");
    assert!(
        log.contains("sim: listening") && log.contains("sim: client connected"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
