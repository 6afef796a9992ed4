//! A gateway answered by the real engine and journal (with a [`Recorder`] broker port), for the agent
//! tests: the configured agent the test edits in runs under this process's uid, so the socket's peer is it.

#![allow(dead_code, reason = "each test file uses a different subset")]
#![expect(clippy::unwrap_used, reason = "tests")]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cockpit::agent::{self, AgentEvent, Levels};
use cockpit::app::{AgentMsg, BrokerEvent, Engine, Msg};
use cockpit::config::Config;
use cockpit::domain::{Price, Quote};
use cockpit::journal::{Reader, kinds};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{RoleClient, RunningService};
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Recorder, t0};

pub type Client = RunningService<RoleClient, ClientConfig>;

/// The engine answering the gateway, on `profile`, with the configured agent `agent` running under this
/// process's uid (so the socket's peer is that agent).
pub struct Rig {
    pub dir: PathBuf,
    /// This process's uid: the agent's.
    pub uid: u32,
    cancel: CancellationToken,
    engine: tokio::task::JoinHandle<Engine<Recorder>>,
}

/// The engine of [`rig`] without the gateway: ready, every allowlisted symbol quoted; with its state dir,
/// this process's uid (the configured agent's after `edit`) and the config.
pub async fn engine(
    name: &str,
    profile: &str,
    edit: impl FnOnce(&mut Config, u32),
) -> (Engine<Recorder>, PathBuf, u32, Config) {
    let dir = super::dir(&format!("agent-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let uid = std::fs::metadata(&dir).unwrap().uid();
    let mut config = super::config();
    edit(&mut config, uid);
    let mut engine = Engine::start(
        &dir,
        config.profiles[profile].clone(),
        config.agents.clone(),
        &config.hash,
        Recorder::default(),
        t0(),
    )
    .await
    .unwrap();
    engine.broker().status = Some(engine.journal().status());
    let symbols = engine.state().profile.policy.symbols.clone();
    super::ready(&mut engine, t0()).await;
    // Every other allowlisted symbol quoted too (AAPL is by `ready`, at 100.00 / 100.02).
    for (instrument, mid) in symbols.into_iter().zip([100_i64, 400, 600]).skip(1) {
        let at = |cents: i64| Some(Price::new(Decimal::new(cents, 2)).unwrap());
        let quote = Quote {
            bid: at(mid * 100),
            ask: at(mid * 100 + 2),
            last: None,
            bid_size: None,
            ask_size: None,
            volume: None,
            received_at: t0(),
        };
        engine
            .handle(Msg::Broker(BrokerEvent::Quote { instrument, quote }), t0())
            .await;
    }
    (engine, dir, uid, config)
}

pub async fn rig(name: &str, profile: &str, edit: impl FnOnce(&mut Config, u32)) -> Rig {
    let (mut engine, dir, uid, config) = engine(name, profile, edit).await;
    let (tx, mut rx) = mpsc::channel(64);
    let levels = std::sync::Arc::new(Levels::of(engine.state()));
    let cancel = CancellationToken::new();
    agent::start(&dir, levels, tx, cancel.clone()).await.unwrap();
    let allow_same_uid = config.allow_same_uid_agents;
    let stop = cancel.clone();
    let engine = tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                () = stop.cancelled() => break,
                e = rx.recv() => e,
            };
            match event {
                Some(AgentEvent::Call(call)) => agent::serve(call, &mut engine, allow_same_uid, t0()).await,
                Some(AgentEvent::Session {
                    uid,
                    label,
                    same_uid,
                    open,
                }) => {
                    engine
                        .handle(
                            Msg::Agent(AgentMsg::Session {
                                uid,
                                label,
                                same_uid,
                                open,
                            }),
                            t0(),
                        )
                        .await;
                }
                None => break,
            }
        }
        engine
    });
    Rig {
        dir,
        uid,
        cancel,
        engine,
    }
}

impl Rig {
    pub async fn client(&self) -> Client {
        let stream = UnixStream::connect(agent::socket_path(&self.dir)).await.unwrap();
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("test-agent", "1"),
        )
        .serve(stream)
        .await
        .unwrap()
    }

    pub async fn stop(self) -> (Engine<Recorder>, std::path::PathBuf) {
        self.cancel.cancel();
        (self.engine.await.unwrap(), self.dir)
    }
}

pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    client.call_tool(params).await.unwrap()
}

pub fn body(result: &CallToolResult) -> Value {
    let text = result.content[0].as_text().unwrap().text.clone();
    serde_json::from_str(&text).unwrap()
}

pub fn is_error(result: &CallToolResult) -> bool {
    result.is_error == Some(true)
}

/// The `tool_call` records of the journal in `dir`.
pub fn tool_calls(dir: &Path) -> Vec<Value> {
    Reader::open(dir)
        .unwrap()
        .records(1)
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == kinds::TOOL_CALL)
        .map(|r| r.data)
        .collect()
}

/// Makes the example's `name` agent this process.
pub fn as_agent(config: &mut Config, name: &str, uid: u32) {
    config.agents.iter_mut().find(|a| a.name == name).unwrap().uid = uid;
}
