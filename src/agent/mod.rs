//! The agent gateway: an MCP server (`rmcp`) on the state dir's `agent.sock` (mode 0600), one session per
//! connection. Identity is the socket peer's uid (`SO_PEERCRED`), mapped to a configured agent; the name the
//! MCP client declares is only a label. Each tool call is bounded in size and rate here, then handed to the
//! shell ([`AgentEvent::Call`]), which checks the level and the arguments, acts through the engine, journals
//! the call and answers (`answer.rs`). Nothing reaches the broker from here.
//!
//! An agent configured with `own_socket = true` is also served on `STATE/agents/NAME.sock`: 0600, or 0660
//! shared with its `socket_group` so that an agent running as its own OS user (a member of that group) can
//! reach it. There the socket names the agent, provided the peer is that agent's uid or the cockpit's own
//! (which is how several agents run under one user, as the demo's do); any other peer is only itself, as on
//! `agent.sock`. The peer's real uid is journaled with every call and same-uid agents stay refused on live
//! profiles unless the config allows them.

mod answer;
pub mod args;
pub mod bridge;
pub mod demo;
pub mod tools;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{ServerHandler, ServiceExt};
use serde_json::Value;
use thiserror::Error;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use answer::{serve, serve_all};

use crate::config::Permission;

/// The socket's file name in the state dir.
pub const SOCKET: &str = "agent.sock";
/// The directory of agents' own sockets in the state dir.
pub const OWN_SOCKETS: &str = "agents";
/// The longest line (one JSON-RPC message) read from an agent; longer ones are dropped by the transport.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Calls per minute of an agent the config does not name.
pub const DEFAULT_CALLS_PER_MINUTE: u32 = 60;
/// How long a connection may stay silent before its session starts.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a call waits for the shell's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// One tool call, for the shell to answer.
#[derive(Debug)]
pub struct AgentCall {
    /// The agent's identity: the socket peer's uid, or the configured uid its own socket names.
    pub uid: u32,
    /// The socket peer's uid.
    pub peer_uid: u32,
    /// The declared client name.
    pub label: String,
    /// Whether the agent runs under the cockpit's own uid.
    pub same_uid: bool,
    /// The tool.
    pub tool: String,
    /// The arguments as received.
    pub arguments: Value,
    /// Refused before any look at the arguments (too large, rate-limited): the reason.
    pub refused: Option<String>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Answer>,
}

/// A tool call's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// A tool error (the model reads the body).
    pub error: bool,
    /// The body.
    pub body: Value,
}

/// What the gateway tells the shell.
#[derive(Debug)]
pub enum AgentEvent {
    /// A call to answer.
    Call(AgentCall),
    /// A session opened or closed.
    Session {
        /// The peer's uid.
        uid: u32,
        /// The declared client name.
        label: String,
        /// Whether the agent runs under the cockpit's own uid.
        same_uid: bool,
        /// Opened or closed.
        open: bool,
    },
}

/// The levels and rates the gateway lists tools and limits calls by, fixed for the gateway's life (it is
/// restarted with every profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    /// An unknown uid's level.
    pub default: Permission,
    /// Configured agents' effective levels by uid.
    pub agents: HashMap<u32, Permission>,
    /// Configured agents' calls per minute by uid.
    pub rates: HashMap<u32, u32>,
    /// The agents served on their own sockets.
    pub own_sockets: Vec<OwnSocket>,
}

/// An agent served on its own socket, `STATE/agents/NAME.sock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnSocket {
    /// The configured name (the file name).
    pub name: String,
    /// The configured uid: the identity the socket gives.
    pub uid: u32,
    /// The group the socket is shared with (0660), if any; else 0600.
    pub group: Option<String>,
}

impl Levels {
    /// The levels of `state`'s profile and agents.
    #[must_use]
    pub fn of(state: &crate::app::State) -> Self {
        Self {
            default: state.profile.agent_permission,
            agents: state
                .agents
                .iter()
                .map(|a| (a.uid, state.profile.effective_permission(a)))
                .collect(),
            rates: state
                .agents
                .iter()
                .map(|a| (a.uid, a.max_calls_per_minute))
                .collect(),
            own_sockets: state
                .agents
                .iter()
                .filter(|a| a.own_socket)
                .map(|a| OwnSocket {
                    name: a.name.clone(),
                    uid: a.uid,
                    group: a.socket_group.clone(),
                })
                .collect(),
        }
    }

    fn level(&self, uid: u32) -> Permission {
        self.agents.get(&uid).copied().unwrap_or(self.default)
    }
}

/// Why the gateway could not start.
#[derive(Debug, Error)]
pub enum GatewayError {
    /// The state dir lets others write: they could replace the socket.
    #[error("the agent gateway is not started: {0} is writable by other users (chmod go-w it)")]
    Unsafe(PathBuf),
    /// Another process answers on the socket.
    #[error("the agent gateway is not started: another process answers on {0}")]
    InUse(PathBuf),
    /// An agent's `socket_group` names no group on this machine.
    #[error(
        "the agent gateway is not started: agent '{agent}' has socket_group = \"{group}\", which is no group \
         on this machine; create it (groupadd) or fix the config"
    )]
    NoGroup {
        /// The agent.
        agent: String,
        /// The group as configured.
        group: String,
    },
    /// The socket could not be made.
    #[error("the agent gateway is not started: {what}: {source}")]
    Io {
        /// What failed.
        what: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The socket path of `state_dir`.
#[must_use]
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET)
}

/// Whether `name` can name an agent's own socket file: 1 or more ASCII letters, digits, `-` or `_`.
#[must_use]
pub fn is_socket_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The own socket of the agent `name` in `state_dir`.
#[must_use]
pub fn own_socket_path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(OWN_SOCKETS).join(format!("{name}.sock"))
}

/// Whom a connection speaks for, given the door it came through, the peer's uid and the cockpit's: on
/// `agent.sock` (`door` None) the peer itself; on an agent's own socket that agent, if the peer is its uid or
/// the cockpit's own, else — a member of the socket's group running as someone else — only the peer itself.
#[must_use]
pub fn identity(door: Option<u32>, peer: u32, own_uid: u32) -> u32 {
    match door {
        Some(agent) if peer == agent || peer == own_uid => agent,
        _ => peer,
    }
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> GatewayError {
    move |source| GatewayError::Io { what, source }
}

/// Binds a socket at `path` (replacing a stale one, never a live one) with `mode`, given to group `gid`.
async fn bind(path: &Path, mode: u32, gid: Option<u32>) -> Result<UnixListener, GatewayError> {
    if path.exists() {
        // A killed cockpit leaves its socket; a live one answers. Never replace a live one.
        if UnixStream::connect(path).await.is_ok() {
            return Err(GatewayError::InUse(path.to_path_buf()));
        }
        std::fs::remove_file(path)
            .map_err(io_error(format!("cannot remove the stale {}", path.display())))?;
    }
    let listener = UnixListener::bind(path).map_err(io_error(format!("cannot bind {}", path.display())))?;
    // Owner-only until the group is set, then the mode: no moment where another group could connect.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io_error(format!("cannot chmod 0600 {}", path.display())))?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(io_error(format!(
            "cannot give {} to group {gid} (the cockpit's user must be a member of it)",
            path.display()
        )))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_error(format!("cannot chmod {mode:o} {}", path.display())))?;
    Ok(listener)
}

/// The gid of `group` (a name, or a number).
fn gid(agent: &str, group: &str) -> Result<u32, GatewayError> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    match nix::unistd::Group::from_name(group) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(GatewayError::NoGroup {
            agent: agent.to_owned(),
            group: group.to_owned(),
        }),
        Err(e) => Err(GatewayError::Io {
            what: format!("cannot look up group {group}"),
            source: e.into(),
        }),
    }
}

/// Binds `agent.sock` (0600) in `state_dir`, and each configured agent's own socket, and serves sessions
/// until `cancel`.
pub async fn start(
    state_dir: &Path,
    levels: Arc<Levels>,
    events: mpsc::Sender<AgentEvent>,
    cancel: CancellationToken,
) -> Result<JoinHandle<()>, GatewayError> {
    let meta =
        std::fs::metadata(state_dir).map_err(io_error(format!("cannot read {}", state_dir.display())))?;
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(GatewayError::Unsafe(state_dir.to_path_buf()));
    }
    // Every group is looked up before anything is bound: a bad one leaves no socket behind.
    let gids = levels
        .own_sockets
        .iter()
        .map(|own| own.group.as_deref().map(|g| gid(&own.name, g)).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    let path = socket_path(state_dir);
    let mut doors = vec![(bind(&path, 0o600, None).await?, path.clone(), None)];
    let own_uid = std::fs::metadata(&path)
        .map_err(io_error(format!("cannot read {}", path.display())))?
        .uid();
    if !levels.own_sockets.is_empty() {
        let dir = state_dir.join(OWN_SOCKETS);
        std::fs::create_dir_all(&dir).map_err(io_error(format!("cannot create {}", dir.display())))?;
        // Traversable by a group's member (who must reach its socket), listable and writable by no one else.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
            .map_err(io_error(format!("cannot chmod 0711 {}", dir.display())))?;
        for (own, gid) in levels.own_sockets.iter().zip(gids) {
            let path = own_socket_path(state_dir, &own.name);
            let mode = if gid.is_some() { 0o660 } else { 0o600 };
            doors.push((bind(&path, mode, gid).await?, path, Some(own.uid)));
        }
    }
    let limiters = Arc::new(Mutex::new(HashMap::new()));
    let mut loops = tokio::task::JoinSet::new();
    for (listener, path, door) in doors {
        let (levels, events, limiters, cancel) = (
            Arc::clone(&levels),
            events.clone(),
            Arc::clone(&limiters),
            cancel.clone(),
        );
        loops.spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = cancel.cancelled() => break,
                    a = listener.accept() => a,
                };
                let Ok((stream, _)) = accepted else { continue };
                let Ok(cred) = stream.peer_cred() else { continue };
                let handler = Session {
                    uid: identity(door, cred.uid(), own_uid),
                    peer_uid: cred.uid(),
                    same_uid: cred.uid() == own_uid,
                    levels: Arc::clone(&levels),
                    events: events.clone(),
                    limiters: Arc::clone(&limiters),
                };
                tokio::spawn(handler.run(stream, cancel.clone()));
            }
            let _ = std::fs::remove_file(&path);
        });
    }
    Ok(tokio::spawn(
        async move { while loops.join_next().await.is_some() {} },
    ))
}

/// One agent connection.
#[derive(Debug, Clone)]
struct Session {
    uid: u32,
    peer_uid: u32,
    same_uid: bool,
    levels: Arc<Levels>,
    events: mpsc::Sender<AgentEvent>,
    limiters: Arc<Mutex<HashMap<u32, Arc<DefaultDirectRateLimiter>>>>,
}

impl Session {
    async fn run(self, stream: UnixStream, cancel: CancellationToken) {
        let (read, write) = tokio::io::split(stream);
        let transport =
            AsyncRwTransport::<RoleServer, _, _>::new(read, write).with_max_line_length(MAX_LINE_BYTES);
        let (uid, same_uid, events) = (self.uid, self.same_uid, self.events.clone());
        let Ok(Ok(running)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.serve(transport)).await else {
            return;
        };
        let label = running
            .peer()
            .peer_info()
            .map(|info| crate::ui::one_line(&info.client_info.name))
            .unwrap_or_default();
        let _ = events
            .send(AgentEvent::Session {
                uid,
                label: label.clone(),
                same_uid,
                open: true,
            })
            .await;
        tokio::select! {
            () = cancel.cancelled() => {}
            _ = running.waiting() => {}
        }
        let _ = events
            .send(AgentEvent::Session {
                uid,
                label,
                same_uid,
                open: false,
            })
            .await;
    }

    /// Whether the agent may call now (its calls per minute); each agent has its own bucket.
    fn allowed(&self) -> bool {
        let rate = self
            .levels
            .rates
            .get(&self.uid)
            .copied()
            .unwrap_or(DEFAULT_CALLS_PER_MINUTE);
        let quota = Quota::per_minute(NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN));
        let limiter = {
            let Ok(mut map) = self.limiters.lock() else {
                return false;
            };
            Arc::clone(
                map.entry(self.uid)
                    .or_insert_with(|| Arc::new(DefaultDirectRateLimiter::direct(quota))),
            )
        };
        limiter.check().is_ok()
    }
}

impl ServerHandler for Session {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("cockpit", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Cockpit's agent gateway. Every call is journaled and checked against the trader's written \
                 policy; orders you stage wait for the trader unless you are at the execute level and below \
                 the manual-approval threshold. Call get_policy first, and report_status regularly.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let level = self.levels.level(self.uid);
        let tools = tools::TOOLS
            .iter()
            .filter(|t| t.level <= level)
            .map(|t| Tool::new(t.name, t.description, Arc::new(t.schema())))
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let label = context
            .client_info()
            .map(|i| crate::ui::one_line(&i.name))
            .unwrap_or_default();
        let arguments = request.arguments.map_or(Value::Null, Value::Object);
        let size = arguments.to_string().len();
        let refused = if size > args::MAX_ARGUMENT_BYTES {
            Some(format!(
                "the arguments are {size} bytes; the limit is {} bytes",
                args::MAX_ARGUMENT_BYTES
            ))
        } else if !self.allowed() {
            Some("rate limit: too many calls this minute; wait a little and call again".to_owned())
        } else {
            None
        };
        let (reply, answer) = oneshot::channel();
        let call = AgentCall {
            uid: self.uid,
            peer_uid: self.peer_uid,
            label,
            same_uid: self.same_uid,
            tool: request.name.to_string(),
            arguments,
            refused,
            reply,
        };
        if self.events.send(AgentEvent::Call(call)).await.is_err() {
            return Err(ErrorData::internal_error("the cockpit is shutting down", None));
        }
        let Ok(Ok(answer)) = tokio::time::timeout(ANSWER_TIMEOUT, answer).await else {
            return Err(ErrorData::internal_error(
                "the cockpit did not answer in time",
                None,
            ));
        };
        let text = serde_json::to_string_pretty(&answer.body).unwrap_or_default();
        let result = if answer.error {
            CallToolResult::error(vec![ContentBlock::text(text)])
        } else {
            CallToolResult::success(vec![ContentBlock::text(text)])
        };
        Ok(result.into())
    }
}

#[cfg(test)]
mod tests {
    use super::identity;

    #[test]
    fn an_own_socket_names_its_agent_only_for_that_agents_uid_or_the_cockpits() {
        let (cockpit, agent, stranger) = (1000, 1003, 1004);
        assert_eq!(
            identity(None, stranger, cockpit),
            stranger,
            "agent.sock: the peer"
        );
        assert_eq!(identity(None, cockpit, cockpit), cockpit);
        assert_eq!(identity(Some(agent), agent, cockpit), agent, "the agent itself");
        assert_eq!(
            identity(Some(agent), cockpit, cockpit),
            agent,
            "the cockpit's user"
        );
        assert_eq!(
            identity(Some(agent), stranger, cockpit),
            stranger,
            "another member of the socket's group is only itself"
        );
    }
}
