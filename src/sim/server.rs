//! The simulator's network side: the listener, and one task pair per connection that does the handshake,
//! reads frames for the exchange and writes what the exchange queues. It holds no trading state.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::exchange::{Inbound, Out};
use super::proto::{self, msg};
use super::wire;

/// Frames queued to one client before it counts as not reading.
pub const OUTBOX_CAPACITY: usize = 16_384;
/// How long a client may take to say hello and send `StartApi`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes gathered into one socket write.
const WRITE_BATCH: usize = 64 * 1024;

/// Accepts connections until cancelled. While `refuse` holds a future instant, connections are accepted
/// and closed at once, as a gateway that is restarting does.
pub(crate) async fn listen(
    listener: TcpListener,
    inbound: mpsc::Sender<Inbound>,
    refuse: watch::Receiver<Option<Instant>>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    let next_conn = Arc::new(AtomicU64::new(1));
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "sim: accept failed");
                continue;
            }
        };
        if refuse.borrow().is_some_and(|until| Instant::now() < until) {
            tracing::info!(%peer, "sim: refusing a connection (gateway down)");
            drop(stream);
            continue;
        }
        let conn = next_conn.fetch_add(1, Ordering::Relaxed);
        let (inbound, cancel) = (inbound.clone(), cancel.child_token());
        tracker.spawn(async move {
            serve(stream, peer, conn, inbound, cancel).await;
        });
    }
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    conn: u64,
    inbound: mpsc::Sender<Inbound>,
    kill: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let client_id = tokio::select! {
        () = kill.cancelled() => return,
        started = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut reader, &mut writer)) => match started {
            Ok(Ok(client_id)) => client_id,
            Ok(Err(Failure::BadInput(reason))) => {
                tracing::warn!(conn, %peer, %reason, "sim: handshake failed; closing");
                let _ = inbound.send(Inbound::HandshakeFailed).await;
                return;
            }
            Ok(Err(Failure::Transport(reason))) => {
                tracing::info!(conn, %peer, %reason, "sim: connection lost during the handshake");
                return;
            }
            Err(_) => {
                tracing::warn!(conn, %peer, "sim: no handshake and StartApi within {HANDSHAKE_TIMEOUT:?}; closing");
                let _ = inbound.send(Inbound::HandshakeFailed).await;
                return;
            }
        }
    };
    let (out, outbox) = mpsc::channel(OUTBOX_CAPACITY);
    let connected = Inbound::Connected {
        conn,
        client_id,
        peer,
        out,
        kill: kill.clone(),
    };
    if inbound.send(connected).await.is_err() {
        return;
    }
    let writer_task = tokio::spawn(write_loop(writer, outbox, kill.clone()));
    let reason = loop {
        let read = tokio::select! {
            () = kill.cancelled() => break None,
            read = wire::read_frame(&mut reader) => read,
        };
        match read {
            Ok(Some(frame)) => {
                if inbound.send(Inbound::Frame { conn, frame }).await.is_err() {
                    break None;
                }
            }
            Ok(None) => break None,
            Err(e) => match Failure::from(e) {
                Failure::BadInput(reason) => break Some(reason),
                Failure::Transport(reason) => {
                    tracing::info!(conn, %peer, %reason, "sim: connection lost");
                    break None;
                }
            },
        }
    };
    kill.cancel();
    let _ = writer_task.await;
    let _ = inbound.send(Inbound::Closed { conn, reason }).await;
}

/// Why a connection ended early.
enum Failure {
    /// The peer sent something that is not the TWS API: counted as a bad-input disconnect.
    BadInput(String),
    /// The socket failed (reset, aborted): the peer went away, it did not misbehave. A client that closes
    /// its socket with frames still unread makes the kernel send a reset, so this is an ordinary departure.
    Transport(String),
}

impl From<wire::WireError> for Failure {
    fn from(e: wire::WireError) -> Self {
        match e {
            wire::WireError::Io { .. } => Self::Transport(e.to_string()),
            other => Self::BadInput(other.to_string()),
        }
    }
}

/// Reads the hello, answers it, and waits for `StartApi`; returns the client id.
async fn handshake(
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    writer: &mut OwnedWriteHalf,
) -> Result<i32, Failure> {
    let hello = wire::read_hello(reader).await?;
    let version = wire::negotiate(&hello)?;
    let time = wire::connection_time_string(Utc::now().with_timezone(&chrono_tz::America::New_York));
    writer
        .write_all(&wire::handshake_reply(version, &time))
        .await
        .map_err(|e| Failure::Transport(format!("handshake: writing the reply: {e}")))?;
    // Nothing else goes out until StartApi (IB's Python client drops bytes that arrive early).
    let frame = wire::read_frame(reader)
        .await?
        .ok_or_else(|| Failure::BadInput("the client closed the connection before StartApi".to_string()))?;
    if frame.message_id() != Some(msg::OUT_START_API) {
        return Err(Failure::BadInput(format!(
            "expected StartApi (wire id {}) first, got wire id {}",
            msg::OUT_START_API + 200,
            frame.wire_id
        )));
    }
    let start: proto::StartApiRequest = wire::decode(&frame)?;
    Ok(start.client_id.unwrap_or(0))
}

/// Writes queued frames, gathering what is ready into one write; `Close` flushes and closes.
async fn write_loop(mut writer: OwnedWriteHalf, mut outbox: mpsc::Receiver<Out>, kill: CancellationToken) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    loop {
        let first = tokio::select! {
            () = kill.cancelled() => return,
            next = outbox.recv() => next,
        };
        let mut close = false;
        match first {
            Some(Out::Bytes(bytes)) => batch.extend_from_slice(&bytes),
            Some(Out::Close) | None => close = true,
        }
        while !close && batch.len() < WRITE_BATCH {
            match outbox.try_recv() {
                Ok(Out::Bytes(bytes)) => batch.extend_from_slice(&bytes),
                Ok(Out::Close) => close = true,
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let written = tokio::select! {
                () = kill.cancelled() => return,
                written = writer.write_all(&batch) => written,
            };
            if written.is_err() {
                kill.cancel();
                return;
            }
            batch.clear();
        }
        if close {
            let _ = writer.shutdown().await;
            kill.cancel();
            return;
        }
    }
}
