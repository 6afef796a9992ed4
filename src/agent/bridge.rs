//! `cockpit mcp`: the stdio bridge to a running cockpit's agent socket.
//!
//! MCP hosts start their servers as child processes and talk to them over stdin/stdout, so an agent is
//! configured with `{"command": "cockpit", "args": ["mcp"]}` and this bridge copies bytes both ways between
//! its stdio and `STATE/agent.sock`. It copies bytes, not messages: it never parses, reframes or answers
//! anything itself, so the session is exactly the one the gateway serves (and journals), and nothing but
//! the socket's bytes ever reaches stdout — a stray line there would corrupt the host's JSON-RPC stream.
//! Every message of its own goes to stderr, which MCP hosts log.
//!
//! Exit codes: 0 when the agent ended the session (stdin EOF) and the cockpit then closed the connection
//! after delivering its replies; 1 when the session ended any other way (see [`Outcome`]); 2
//! ([`EXIT_NO_COCKPIT`]) when no cockpit could be reached at all.
//!
//! The copy itself ([`bridge`]) is generic over its three ends so it is tested with in-memory pipes; [`run`]
//! plugs in the real stdio and socket. The caller must end the process with `std::process::exit` once
//! [`run`] has bridged: tokio reads stdin on a blocking thread whose `read` cannot be cancelled, so after
//! the cockpit hangs up that read may still be waiting on a host that keeps stdin open. [`run`] lets its
//! runtime go without joining that thread (dropping a runtime would wait for it), and exiting at once
//! keeps any later teardown from waiting on it either.
//!
//! Stdout is written through tokio's `Stdout`, which writes `std::io::stdout()` from a blocking thread:
//! nothing on the main thread may hold the stdout lock meanwhile (`main` does not), or the first reply
//! waits forever.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

/// Exit code when no cockpit could be reached (no socket, a stale one, a forbidden one).
pub const EXIT_NO_COCKPIT: u8 = 2;

/// How long connecting may take. A Unix socket connect is immediate unless the cockpit's accept loop is
/// stuck with a full backlog; an agent host is better told so than left waiting.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long, after the agent's stdin ends, the bridge waits for the cockpit to deliver the replies still in
/// flight and close. The gateway answers a call within its own answer timeout and then closes the session
/// once its in-flight answers are written; past this bound the cockpit is hung, and the host waiting for
/// this process to exit should not hang with it.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(super::ANSWER_TIMEOUT.as_secs() + 5);

/// The size of each copy's buffer: larger than most messages, so one read usually moves one whole line.
const BUFFER_BYTES: usize = 64 * 1024;

/// Why the bridge could not reach a cockpit. Every message names the socket and what to do.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// No socket file (or no state dir): no cockpit runs on this state dir.
    #[error(
        "no cockpit is running for state dir {dir} (no socket at {path}): start `cockpit --state-dir {dir}` \
         or `cockpit demo --state-dir {dir}` first"
    )]
    NoSocket {
        /// The state dir.
        dir: PathBuf,
        /// The socket path.
        path: PathBuf,
    },
    /// The socket file is there but nothing listens: a cockpit was killed and left it.
    #[error(
        "nothing answers on {path}: it is a stale socket left by a cockpit that did not stop cleanly; start \
         `cockpit --state-dir {dir}` or `cockpit demo --state-dir {dir}` (it replaces the stale socket)"
    )]
    Stale {
        /// The state dir.
        dir: PathBuf,
        /// The socket path.
        path: PathBuf,
    },
    /// The socket (mode 0600, or 0660 for an agent's `socket_group`) or its directory does not admit this user.
    #[error(
        "permission denied on {path}: agent.sock admits only the user the cockpit runs as, and an agent's own \
         socket (agents/NAME.sock) also the members of its socket_group; run `cockpit mcp` as that user, or \
         give the agent own_socket = true and socket_group = \"GROUP\" in the config and run `cockpit mcp \
         --agent NAME` as a member of GROUP (and check that {dir} is traversable by it)"
    )]
    Forbidden {
        /// The state dir.
        dir: PathBuf,
        /// The socket path.
        path: PathBuf,
    },
    /// The cockpit did not accept the connection in time.
    #[error(
        "the cockpit on {path} did not accept the connection within {} s: it may be hung",
        CONNECT_TIMEOUT.as_secs()
    )]
    TimedOut {
        /// The socket path.
        path: PathBuf,
    },
    /// Anything else (a path too long for a socket address, not a directory, no runtime, …).
    #[error("cannot connect to {path}: {source}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl ConnectError {
    /// Names a failed connect to `path`, a socket of `state_dir`, by its cause.
    #[must_use]
    pub fn of(state_dir: &Path, path: &Path, source: io::Error) -> Self {
        let (dir, path) = (state_dir.to_path_buf(), path.to_path_buf());
        match source.kind() {
            io::ErrorKind::NotFound => Self::NoSocket { dir, path },
            io::ErrorKind::ConnectionRefused => Self::Stale { dir, path },
            io::ErrorKind::PermissionDenied => Self::Forbidden { dir, path },
            _ => Self::Io { path, source },
        }
    }
}

/// How a bridged session ended.
#[derive(Debug)]
pub enum Outcome {
    /// The agent's stdin ended, the socket was half-closed, and the cockpit closed the connection after
    /// delivering every reply it still had: the agent ended its session. Exit 0.
    Finished,
    /// The cockpit closed the connection (or it broke: the error) while the agent's stdin was still open —
    /// the cockpit stopped or restarted. The bridge does not parse the protocol, so it cannot tell whether a
    /// request was pending; it may have been, and the agent did not ask for the end, so this is exit 1.
    CockpitClosed(Option<io::Error>),
    /// After the agent's stdin ended, the cockpit neither delivered nor closed within [`DRAIN_TIMEOUT`].
    /// Exit 1.
    DrainTimedOut,
    /// Reading stdin or writing stdout failed: the host went away. Exit 1.
    HostFailed(io::Error),
}

impl Outcome {
    /// The process exit code.
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Finished => 0,
            Self::CockpitClosed(_) | Self::DrainTimedOut | Self::HostFailed(_) => 1,
        }
    }

    /// What to tell the host's log on stderr, if anything; `path` is the socket.
    #[must_use]
    pub fn message(&self, path: &Path) -> Option<String> {
        let path = path.display();
        match self {
            Self::Finished => None,
            Self::CockpitClosed(why) => Some(format!(
                "the cockpit closed the connection on {path}{} while the agent was still connected (the \
                 cockpit stopped or restarted); a request in flight, if any, got no reply. Start `cockpit mcp` \
                 again once a cockpit runs.",
                why.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
            )),
            Self::DrainTimedOut => Some(format!(
                "stdin ended, but the cockpit on {path} did not close the connection within {} s; gave up \
                 waiting for its last replies",
                DRAIN_TIMEOUT.as_secs()
            )),
            Self::HostFailed(e) => Some(format!("the MCP host's stdin/stdout failed ({e}); closed {path}")),
        }
    }
}

/// The socket `cockpit mcp` connects to: `agent.sock`, or with `agent` that agent's own socket.
#[must_use]
pub fn socket_for(state_dir: &Path, agent: Option<&str>) -> PathBuf {
    agent.map_or_else(
        || super::socket_path(state_dir),
        |name| super::own_socket_path(state_dir, name),
    )
}

/// Connects to `state_dir`'s agent socket (or `agent`'s own), within [`CONNECT_TIMEOUT`].
pub async fn connect(state_dir: &Path, agent: Option<&str>) -> Result<UnixStream, ConnectError> {
    let path = socket_for(state_dir, agent);
    match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(&path)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(ConnectError::of(state_dir, &path, e)),
        Err(_) => Err(ConnectError::TimedOut { path }),
    }
}

/// Which end of a copy failed.
#[derive(Debug)]
enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Copies `from` to `to` until `from` ends, flushing after every chunk so a reply never waits in a buffer.
async fn copy(mut from: impl AsyncRead + Unpin, to: &mut (impl AsyncWrite + Unpin)) -> Result<(), CopyError> {
    let mut buffer = vec![0; BUFFER_BYTES];
    loop {
        let n = from.read(&mut buffer).await.map_err(CopyError::Read)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buffer[..n]).await.map_err(CopyError::Write)?;
        to.flush().await.map_err(CopyError::Write)?;
    }
}

/// Bridges `stdin` → `socket` and `socket` → `stdout` concurrently until the session ends, waiting at most
/// `drain` for the cockpit to finish once stdin has ended.
///
/// When stdin ends (or fails), only the socket's write side is shut down: the gateway reads that as the
/// end of the session, writes the answers it still owes, then closes, and those answers are copied out
/// before this returns. When the cockpit closes first, this returns at once without waiting on stdin.
pub async fn bridge<I, O, S>(stdin: I, mut stdout: O, socket: S, drain: Duration) -> Outcome
where
    I: AsyncRead + Unpin,
    O: AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (from_socket, mut to_socket) = tokio::io::split(socket);
    let upstream = async {
        let copied = copy(stdin, &mut to_socket).await;
        // A failed shutdown means the cockpit is already gone, which the downstream copy reports.
        let _ = to_socket.shutdown().await;
        copied
    };
    let downstream = copy(from_socket, &mut stdout);
    tokio::pin!(upstream, downstream);
    let upstream = tokio::select! {
        up = &mut upstream => up,
        down = &mut downstream => return match down {
            Ok(()) => Outcome::CockpitClosed(None),
            Err(CopyError::Read(e)) => Outcome::CockpitClosed(Some(e)),
            Err(CopyError::Write(e)) => Outcome::HostFailed(e),
        },
    };
    let Ok(downstream) = tokio::time::timeout(drain, downstream).await else {
        return Outcome::DrainTimedOut;
    };
    match (upstream, downstream) {
        (_, Err(CopyError::Write(e))) | (Err(CopyError::Read(e)), _) => Outcome::HostFailed(e),
        (Err(CopyError::Write(e)), _) | (_, Err(CopyError::Read(e))) => Outcome::CockpitClosed(Some(e)),
        (Ok(()), Ok(())) => Outcome::Finished,
    }
}

/// `cockpit mcp`: connects to `state_dir`'s socket (or `agent`'s own) and bridges the process's stdio to it until the session
/// ends. On `Ok` the caller prints [`Outcome::message`] and must end the process with
/// `std::process::exit(outcome.exit_code())` (see the module doc); on `Err` nothing was read from stdin
/// and an ordinary return is fine.
pub fn run(state_dir: &Path, agent: Option<&str>) -> Result<Outcome, ConnectError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ConnectError::Io {
            path: socket_for(state_dir, agent),
            source,
        })?;
    let outcome = runtime.block_on(async {
        let socket = connect(state_dir, agent).await?;
        Ok(bridge(tokio::io::stdin(), tokio::io::stdout(), socket, DRAIN_TIMEOUT).await)
    });
    // Dropping the runtime would wait for the blocking stdin read; let it go with the process instead.
    runtime.shutdown_background();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader, duplex};

    const BOUND: Duration = Duration::from_secs(5);

    async fn within<T>(future: impl Future<Output = T>) -> T {
        tokio::time::timeout(BOUND, future)
            .await
            .expect("within the bound")
    }

    #[tokio::test]
    async fn after_stdin_ends_the_replies_in_flight_are_delivered_then_it_finishes() {
        let (mut host_in, stdin) = duplex(1024);
        let (stdout, host_out) = duplex(1024);
        let (socket, cockpit) = UnixStream::pair().expect("pair");
        let bridged = tokio::spawn(bridge(stdin, stdout, socket, BOUND));
        host_in.write_all(b"{\"id\":1}\n").await.expect("write");
        drop(host_in);
        // The cockpit reads the request and then the half-close, and only then answers.
        let (read, mut write) = cockpit.into_split();
        let mut lines = BufReader::new(read).lines();
        assert_eq!(
            within(lines.next_line()).await.expect("read").as_deref(),
            Some("{\"id\":1}")
        );
        assert_eq!(
            within(lines.next_line()).await.expect("read"),
            None,
            "half-closed"
        );
        write
            .write_all(b"{\"id\":1,\"result\":{}}\n")
            .await
            .expect("answer");
        drop((lines, write));
        let outcome = within(bridged).await.expect("join");
        assert!(matches!(outcome, Outcome::Finished), "{outcome:?}");
        assert_eq!(outcome.exit_code(), 0);
        let mut out = String::new();
        within(BufReader::new(host_out).read_line(&mut out))
            .await
            .expect("read");
        assert_eq!(out, "{\"id\":1,\"result\":{}}\n", "byte for byte");
    }

    #[tokio::test]
    async fn the_cockpit_closing_first_ends_the_bridge_while_stdin_stays_open() {
        let (_host_in, stdin) = duplex(1024);
        let (stdout, _host_out) = duplex(1024);
        let (socket, cockpit) = UnixStream::pair().expect("pair");
        let bridged = tokio::spawn(bridge(stdin, stdout, socket, BOUND));
        drop(cockpit);
        let outcome = within(bridged).await.expect("join");
        assert!(matches!(outcome, Outcome::CockpitClosed(_)), "{outcome:?}");
        assert_eq!(outcome.exit_code(), 1);
        let message = outcome.message(Path::new("/s/agent.sock")).expect("a message");
        assert!(
            message.contains("/s/agent.sock") && message.contains("closed the connection"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_cockpit_that_never_closes_after_stdin_ends_is_given_up_on() {
        let (host_in, stdin) = duplex(1024);
        let (stdout, _host_out) = duplex(1024);
        let (socket, _cockpit) = UnixStream::pair().expect("pair");
        drop(host_in);
        let outcome = within(bridge(stdin, stdout, socket, Duration::from_millis(100))).await;
        assert!(matches!(outcome, Outcome::DrainTimedOut), "{outcome:?}");
        assert_eq!(outcome.exit_code(), 1);
    }

    #[tokio::test]
    async fn a_host_that_stops_reading_stdout_ends_the_bridge() {
        let (_host_in, stdin) = duplex(1024);
        let (stdout, host_out) = duplex(1024);
        drop(host_out);
        let (socket, mut cockpit) = UnixStream::pair().expect("pair");
        let bridged = tokio::spawn(bridge(stdin, stdout, socket, BOUND));
        cockpit.write_all(b"{}\n").await.expect("write");
        let outcome = within(bridged).await.expect("join");
        assert!(matches!(outcome, Outcome::HostFailed(_)), "{outcome:?}");
    }

    #[test]
    fn connect_failures_are_named_by_cause_with_the_path_and_what_to_do() {
        let dir = Path::new("/state");
        for (kind, says) in [
            (
                io::ErrorKind::NotFound,
                "no cockpit is running for state dir /state",
            ),
            (io::ErrorKind::ConnectionRefused, "stale socket"),
            (
                io::ErrorKind::PermissionDenied,
                "permission denied on /state/agent.sock",
            ),
            (io::ErrorKind::InvalidInput, "cannot connect to /state/agent.sock"),
        ] {
            let message =
                ConnectError::of(dir, &super::super::socket_path(dir), io::Error::from(kind)).to_string();
            assert!(message.contains(says), "{kind:?}: {message}");
            assert!(message.contains("/state"), "{message}");
        }
        let missing = ConnectError::of(
            dir,
            &super::super::socket_path(dir),
            io::Error::from(io::ErrorKind::NotFound),
        )
        .to_string();
        assert!(missing.contains("`cockpit demo --state-dir /state`"), "{missing}");
    }
}
