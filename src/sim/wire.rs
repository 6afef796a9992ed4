//! TWS API bytes on the wire: the `API\0` handshake, version negotiation and `[len][id][payload]` framing; no sessions, no dispatch, no order state, no matching.
//!
//! Everything here is generic over tokio's `AsyncRead`/`AsyncWrite` halves so tests can drive it with
//! in-memory readers. Every malformed input is a [`WireError`] whose message says what arrived and what was
//! expected; nothing here panics on peer input. See `shared/TWS_PROTOCOL.md` §1 and Appendix B.

use std::any::type_name;
use std::fmt::Write as _;
use std::io;

use chrono::DateTime;
use chrono_tz::{OffsetName, Tz};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Server version this simulator announces (ibapi 5.5's and IB's Python client's maximum).
pub const SERVER_VERSION: i32 = 226;
/// Lowest negotiated version at which frames carry protobuf; below it a client cannot talk to us.
pub const MIN_PROTOBUF_VERSION: i32 = 201;
/// Offset added to a canonical message id on the wire for protobuf frames (wire id = id + 200).
pub const PROTOBUF_ID_OFFSET: i32 = 200;
/// Largest frame body (message id + payload) either side accepts: `0x00FF_FFFF` bytes, just under 16 MiB.
pub const MAX_FRAME: usize = 0x00FF_FFFF;
/// Smallest frame body: the 4-byte message id with an empty payload.
pub const MIN_FRAME: usize = 4;
/// Largest version-range string accepted in the client hello (`vMIN..MAX` plus connect options).
pub const MAX_HELLO: usize = 4096;
/// The four raw bytes every client sends first.
pub const API_PREFIX: [u8; 4] = *b"API\0";

/// What went wrong on the wire; each message names what arrived and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The first four bytes were not `API\0`.
    #[error("handshake: expected \"API\\0\" prefix, got {}", hex(.got))]
    BadPrefix {
        /// The four bytes that arrived instead.
        got: [u8; 4],
    },
    /// The peer closed the connection part-way through the client hello.
    #[error("handshake: connection closed after {got} of {expected} bytes of the {part}")]
    HelloEof {
        /// Which part of the hello was being read.
        part: &'static str,
        /// Bytes of that part that arrived.
        got: usize,
        /// Bytes of that part expected.
        expected: usize,
    },
    /// The hello's length prefix is zero or larger than [`MAX_HELLO`].
    #[error("handshake: version-range length {len} out of range, expected 1..={MAX_HELLO} bytes")]
    HelloLength {
        /// The length that arrived.
        len: u32,
    },
    /// The hello's version range is not UTF-8.
    #[error("handshake: version range is not UTF-8, got bytes {}", hex(.bytes))]
    HelloNotUtf8 {
        /// The raw bytes.
        bytes: Vec<u8>,
    },
    /// The hello's version range does not parse.
    #[error(
        "handshake: cannot parse version range {text:?}: {reason}; expected \"vMIN..MAX\" or \"vN\", optionally followed by \" \" and connect options"
    )]
    HelloSyntax {
        /// The text that arrived.
        text: String,
        /// What exactly is wrong with it.
        reason: &'static str,
    },
    /// The hello's range is inverted.
    #[error("handshake: version range v{min}..{max} is empty: min {min} > max {max}")]
    HelloEmptyRange {
        /// Announced minimum.
        min: i32,
        /// Announced maximum.
        max: i32,
    },
    /// The client's minimum version is above what this server speaks.
    #[error(
        "handshake: client requires server version >= {min}, but this server speaks at most {SERVER_VERSION}"
    )]
    ClientTooNew {
        /// The client's minimum version.
        min: i32,
    },
    /// The negotiated version would be below protobuf framing.
    #[error(
        "handshake: client's maximum version {max} is below {MIN_PROTOBUF_VERSION}, the first version with protobuf messages; this server speaks protobuf only (client too old)"
    )]
    NoProtobuf {
        /// The client's maximum version.
        max: i32,
    },
    /// A frame's length prefix is outside `MIN_FRAME..=MAX_FRAME`.
    #[error(
        "frame: length {len} out of range, expected {MIN_FRAME}..={MAX_FRAME} bytes (4-byte message id + payload); the stream is desynchronized"
    )]
    FrameLength {
        /// The length that arrived.
        len: u32,
    },
    /// The peer closed the connection part-way through a frame.
    #[error("frame: connection closed mid-frame after {got} of {expected} bytes of the {part}")]
    FrameEof {
        /// Which part of the frame was being read.
        part: &'static str,
        /// Bytes of that part that arrived.
        got: usize,
        /// Bytes of that part expected.
        expected: usize,
    },
    /// A text frame (wire id <= 200) was handed to the protobuf decoder.
    #[error(
        "frame: wire id {wire_id} is a text frame (<= {PROTOBUF_ID_OFFSET}), expected protobuf (> {PROTOBUF_ID_OFFSET}) to decode as {message}"
    )]
    NotProtobuf {
        /// The frame's wire id.
        wire_id: i32,
        /// The message type that was wanted.
        message: &'static str,
    },
    /// A protobuf payload failed to decode.
    #[error("frame: cannot decode message id {message_id} (wire id {wire_id}) as {message}: {source}")]
    Decode {
        /// Canonical message id (wire id - 200).
        message_id: i32,
        /// The frame's wire id.
        wire_id: i32,
        /// The message type that was wanted.
        message: &'static str,
        /// prost's reason.
        #[source]
        source: prost::DecodeError,
    },
    /// The underlying stream failed.
    #[error("{context}: I/O error: {source}")]
    Io {
        /// What was being read.
        context: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Space-separated lowercase hex, e.g. `47 45 54 20`.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The client's opening hello: its supported version range and optional connect options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// Lowest server version the client accepts.
    pub min_version: i32,
    /// Highest server version the client speaks.
    pub max_version: i32,
    /// Connect options after the range (e.g. `+PACEAPI`), if any.
    pub options: Option<String>,
}

/// Reads into `buf` until it is full or the stream ends; returns how many bytes arrived.
async fn read_up_to<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads exactly `len` bytes without allocating them up front; returns what arrived (shorter on EOF).
async fn read_body<R: AsyncRead + Unpin>(r: &mut R, len: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len.min(64 * 1024));
    let limit = u64::try_from(len).unwrap_or(u64::MAX);
    (&mut *r).take(limit).read_to_end(&mut out).await?;
    Ok(out)
}

/// Builds an I/O error mapper with a context.
fn io_err(context: &'static str) -> impl FnOnce(io::Error) -> WireError {
    move |source| WireError::Io { context, source }
}

/// Reads the client hello: `"API\0"`, a u32 BE length, then `vMIN..MAX[ options]` (or `vN`).
pub async fn read_hello<R: AsyncRead + Unpin>(r: &mut R) -> Result<ClientHello, WireError> {
    let mut prefix = [0u8; 4];
    let got = read_up_to(r, &mut prefix)
        .await
        .map_err(io_err("handshake: reading the \"API\\0\" prefix"))?;
    if got < prefix.len() {
        return Err(WireError::HelloEof {
            part: "\"API\\0\" prefix",
            got,
            expected: 4,
        });
    }
    if prefix != API_PREFIX {
        return Err(WireError::BadPrefix { got: prefix });
    }

    let mut len_buf = [0u8; 4];
    let got = read_up_to(r, &mut len_buf)
        .await
        .map_err(io_err("handshake: reading the version-range length"))?;
    if got < len_buf.len() {
        return Err(WireError::HelloEof {
            part: "version-range length",
            got,
            expected: 4,
        });
    }
    let len = u32::from_be_bytes(len_buf);
    let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
    if len_usize == 0 || len_usize > MAX_HELLO {
        return Err(WireError::HelloLength { len });
    }

    let body = read_body(r, len_usize)
        .await
        .map_err(io_err("handshake: reading the version range"))?;
    if body.len() < len_usize {
        return Err(WireError::HelloEof {
            part: "version range",
            got: body.len(),
            expected: len_usize,
        });
    }
    let text = String::from_utf8(body).map_err(|e| WireError::HelloNotUtf8 {
        bytes: e.into_bytes(),
    })?;
    parse_hello(&text)
}

/// Parses `vMIN..MAX[ options]` or `vN[ options]`.
fn parse_hello(text: &str) -> Result<ClientHello, WireError> {
    let syntax = |reason| WireError::HelloSyntax {
        text: text.to_owned(),
        reason,
    };
    let (range, options) = text.split_once(' ').map_or((text, None), |(range, opts)| {
        (range, (!opts.is_empty()).then(|| opts.to_owned()))
    });
    let Some(range) = range.strip_prefix('v') else {
        return Err(syntax("it does not start with 'v'"));
    };
    let (min_version, max_version) = if let Some((min, max)) = range.split_once("..") {
        let min = parse_version(min).ok_or_else(|| syntax("MIN is not a decimal number"))?;
        let max = parse_version(max).ok_or_else(|| syntax("MAX is not a decimal number"))?;
        (min, max)
    } else {
        let n = parse_version(range).ok_or_else(|| syntax("the version is not a decimal number"))?;
        (n, n)
    };
    if min_version > max_version {
        return Err(WireError::HelloEmptyRange {
            min: min_version,
            max: max_version,
        });
    }
    Ok(ClientHello {
        min_version,
        max_version,
        options,
    })
}

/// Parses a non-empty run of ASCII digits that fits an `i32`.
fn parse_version(s: &str) -> Option<i32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Picks the server version to announce: `min(hello.max_version, SERVER_VERSION)`, refusing non-protobuf clients.
pub fn negotiate(hello: &ClientHello) -> Result<i32, WireError> {
    if hello.min_version > SERVER_VERSION {
        return Err(WireError::ClientTooNew {
            min: hello.min_version,
        });
    }
    let version = hello.max_version.min(SERVER_VERSION);
    if version < MIN_PROTOBUF_VERSION {
        return Err(WireError::NoProtobuf {
            max: hello.max_version,
        });
    }
    Ok(version)
}

/// Prepends the u32 BE length of `body`.
fn length_prefixed(body: &[u8]) -> Vec<u8> {
    if body.len() > MAX_FRAME {
        tracing::error!(
            len = body.len(),
            max = MAX_FRAME,
            "frame body exceeds MAX_FRAME; the peer will reject it"
        );
    }
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The handshake reply: a length-prefixed text frame of exactly two NUL-terminated fields, `"<version>\0<time>\0"`.
///
/// IB's Python client spins forever on any other field count, so NUL bytes inside `connection_time` are dropped.
#[must_use]
pub fn handshake_reply(version: i32, connection_time: &str) -> Vec<u8> {
    let time: String = connection_time.chars().filter(|&c| c != '\0').collect();
    length_prefixed(format!("{version}\0{time}\0").as_bytes())
}

/// Formats `YYYYMMDD HH:MM:SS <zone>` where `<zone>` is one ibapi parses: the US abbreviation (EST/EDT,
/// CST/CDT, MST/MDT, PST/PDT) for the four US zones ibapi aliases, otherwise the IANA name (e.g. `Europe/London`).
#[must_use]
pub fn connection_time_string(t: DateTime<Tz>) -> String {
    let tz = t.timezone();
    let abbreviation = t.offset().abbreviation().unwrap_or_default();
    let aliased = matches!(
        (tz, abbreviation),
        (Tz::America__New_York, "EST" | "EDT")
            | (Tz::America__Chicago, "CST" | "CDT")
            | (Tz::America__Denver, "MST" | "MDT")
            | (Tz::America__Los_Angeles, "PST" | "PDT")
    );
    let zone = if aliased { abbreviation } else { tz.name() };
    format!("{} {zone}", t.format("%Y%m%d %H:%M:%S"))
}

/// One frame: `[u32 BE len][i32 BE wire id][payload]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The id as sent: canonical id + 200 for protobuf, <= 200 for legacy text frames.
    pub wire_id: i32,
    /// The bytes after the id.
    pub payload: Vec<u8>,
}

impl Frame {
    /// Canonical message id (`wire_id - 200`) for protobuf frames; `None` for text frames.
    #[must_use]
    pub fn message_id(&self) -> Option<i32> {
        self.is_protobuf().then(|| self.wire_id - PROTOBUF_ID_OFFSET)
    }

    /// Whether the payload is protobuf (wire id > 200).
    #[must_use]
    pub fn is_protobuf(&self) -> bool {
        self.wire_id > PROTOBUF_ID_OFFSET
    }

    /// This frame's bytes on the wire, length prefix included.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(4 + self.payload.len());
        body.extend_from_slice(&self.wire_id.to_be_bytes());
        body.extend_from_slice(&self.payload);
        length_prefixed(&body)
    }
}

/// Reads one frame; `Ok(None)` on a clean EOF at a frame boundary.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Frame>, WireError> {
    let mut len_buf = [0u8; 4];
    let got = read_up_to(r, &mut len_buf)
        .await
        .map_err(io_err("frame: reading the length prefix"))?;
    if got == 0 {
        return Ok(None);
    }
    if got < len_buf.len() {
        return Err(WireError::FrameEof {
            part: "length prefix",
            got,
            expected: 4,
        });
    }
    let len = u32::from_be_bytes(len_buf);
    let body_len = usize::try_from(len).unwrap_or(usize::MAX);
    if !(MIN_FRAME..=MAX_FRAME).contains(&body_len) {
        return Err(WireError::FrameLength { len });
    }

    let mut id_buf = [0u8; 4];
    let got = read_up_to(r, &mut id_buf)
        .await
        .map_err(io_err("frame: reading the message id"))?;
    if got < id_buf.len() {
        return Err(WireError::FrameEof {
            part: "message id",
            got,
            expected: 4,
        });
    }
    let wire_id = i32::from_be_bytes(id_buf);

    let payload_len = body_len - MIN_FRAME;
    let payload = read_body(r, payload_len)
        .await
        .map_err(io_err("frame: reading the payload"))?;
    if payload.len() < payload_len {
        return Err(WireError::FrameEof {
            part: "payload",
            got: payload.len(),
            expected: payload_len,
        });
    }
    Ok(Some(Frame { wire_id, payload }))
}

/// Encodes `[len][(message_id + 200) BE][msg]`, where `len` covers the id and the payload.
#[must_use]
pub fn encode_frame<M: prost::Message>(message_id: i32, msg: &M) -> Vec<u8> {
    Frame {
        wire_id: message_id.saturating_add(PROTOBUF_ID_OFFSET),
        payload: msg.encode_to_vec(),
    }
    .to_bytes()
}

/// The last path segment of a type name, e.g. `StartApiRequest`.
fn short_type_name<M>() -> &'static str {
    let full = type_name::<M>();
    full.rsplit("::").next().unwrap_or(full)
}

/// Decodes a protobuf frame's payload as `M`.
pub fn decode<M: prost::Message + Default>(frame: &Frame) -> Result<M, WireError> {
    let Some(message_id) = frame.message_id() else {
        return Err(WireError::NotProtobuf {
            wire_id: frame.wire_id,
            message: short_type_name::<M>(),
        });
    };
    M::decode(frame.payload.as_slice()).map_err(|source| WireError::Decode {
        message_id,
        wire_id: frame.wire_id,
        message: short_type_name::<M>(),
        source,
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::sim::proto::{ErrorMessage, NextValidId, StartApiRequest, msg};
    use chrono::TimeZone as _;
    use proptest::prelude::*;
    use tokio::io::AsyncWriteExt;

    /// `"API\0"` + u32 BE length + `text`.
    fn hello_bytes(text: &str) -> Vec<u8> {
        let mut v = b"API\0".to_vec();
        v.extend_from_slice(&u32::try_from(text.len()).unwrap().to_be_bytes());
        v.extend_from_slice(text.as_bytes());
        v
    }

    async fn hello(bytes: &[u8]) -> Result<ClientHello, WireError> {
        read_hello(&mut &bytes[..]).await
    }

    async fn frame(bytes: &[u8]) -> Result<Option<Frame>, WireError> {
        read_frame(&mut &bytes[..]).await
    }

    #[tokio::test]
    async fn rust_hello_exact_bytes() {
        let bytes = [
            0x41, 0x50, 0x49, 0x00, 0x00, 0x00, 0x00, 0x09, b'v', b'2', b'1', b'3', b'.', b'.', b'2', b'2',
            b'6',
        ];
        let h = hello(&bytes).await.unwrap();
        assert_eq!(
            h,
            ClientHello {
                min_version: 213,
                max_version: 226,
                options: None
            }
        );
        assert_eq!(negotiate(&h).unwrap(), 226);
    }

    #[tokio::test]
    async fn python_hello_with_and_without_options() {
        let h = hello(&hello_bytes("v100..226")).await.unwrap();
        assert_eq!(
            h,
            ClientHello {
                min_version: 100,
                max_version: 226,
                options: None
            }
        );
        assert_eq!(negotiate(&h).unwrap(), 226);

        let h = hello(&hello_bytes("v100..226 +PACEAPI")).await.unwrap();
        assert_eq!(h.options.as_deref(), Some("+PACEAPI"));
        assert_eq!((h.min_version, h.max_version), (100, 226));
    }

    #[tokio::test]
    async fn bare_version_means_min_equals_max() {
        let h = hello(&hello_bytes("v213")).await.unwrap();
        assert_eq!(
            h,
            ClientHello {
                min_version: 213,
                max_version: 213,
                options: None
            }
        );
        assert_eq!(negotiate(&h).unwrap(), 213);
    }

    #[tokio::test]
    async fn hello_leaves_following_bytes_unread() {
        let mut bytes = hello_bytes("v213..226");
        bytes.extend_from_slice(&[0, 0, 0, 6, 0, 0, 1, 0x0f, 0x08, 0x07]);
        let mut r = &bytes[..];
        read_hello(&mut r).await.unwrap();
        assert_eq!(read_frame(&mut r).await.unwrap().unwrap().wire_id, 271);
    }

    #[test]
    fn negotiation_rules() {
        let h = |min, max| ClientHello {
            min_version: min,
            max_version: max,
            options: None,
        };
        assert_eq!(negotiate(&h(100, 226)).unwrap(), 226);
        assert_eq!(negotiate(&h(213, 230)).unwrap(), 226);
        assert_eq!(negotiate(&h(100, 201)).unwrap(), 201);
        let old = negotiate(&h(100, 176)).unwrap_err();
        assert!(matches!(old, WireError::NoProtobuf { max: 176 }));
        let text = old.to_string();
        assert!(
            text.contains("protobuf") && text.contains("176") && text.contains("201"),
            "{text}"
        );
        let new = negotiate(&h(227, 230)).unwrap_err();
        assert_eq!(
            new.to_string(),
            "handshake: client requires server version >= 227, but this server speaks at most 226"
        );
    }

    #[tokio::test]
    async fn bad_prefix_is_named_in_hex() {
        let err = hello(b"GET / HTTP/1.1\r\n").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "handshake: expected \"API\\0\" prefix, got 47 45 54 20"
        );
    }

    #[tokio::test]
    async fn hello_eof_and_length_errors() {
        let err = hello(b"AP").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "handshake: connection closed after 2 of 4 bytes of the \"API\\0\" prefix"
        );
        let err = hello(b"API\0\0\0").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "handshake: connection closed after 2 of 4 bytes of the version-range length"
        );
        let err = hello(b"API\0\0\0\0\x09v213").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "handshake: connection closed after 4 of 9 bytes of the version range"
        );
        let err = hello(b"API\0\0\0\0\0").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "handshake: version-range length 0 out of range, expected 1..=4096 bytes"
        );
        let err = hello(b"API\0\xff\xff\xff\xff").await.unwrap_err();
        assert!(matches!(err, WireError::HelloLength { len: u32::MAX }), "{err}");
        let err = hello(b"API\0\0\0\x10\x01").await.unwrap_err();
        assert!(matches!(err, WireError::HelloLength { len: 4097 }), "{err}");
    }

    #[tokio::test]
    async fn hello_syntax_errors() {
        let mut bad = b"API\0\0\0\0\x02".to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        assert_eq!(
            hello(&bad).await.unwrap_err().to_string(),
            "handshake: version range is not UTF-8, got bytes ff fe"
        );

        for (text, reason) in [
            ("100..226", "it does not start with 'v'"),
            ("v..226", "MIN is not a decimal number"),
            ("v100..", "MAX is not a decimal number"),
            ("v100..22x", "MAX is not a decimal number"),
            ("v-1..226", "MIN is not a decimal number"),
            ("v+1..226", "MIN is not a decimal number"),
            ("v99999999999..226", "MIN is not a decimal number"),
            ("vabc", "the version is not a decimal number"),
            ("v", "the version is not a decimal number"),
            (" v100..226", "it does not start with 'v'"),
        ] {
            let err = hello(&hello_bytes(text)).await.unwrap_err();
            assert!(
                matches!(&err, WireError::HelloSyntax { reason: r, .. } if *r == reason),
                "{text:?}: {err}"
            );
            assert!(
                err.to_string().contains("expected \"vMIN..MAX\" or \"vN\""),
                "{err}"
            );
        }
        let err = hello(&hello_bytes("v226..100")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "handshake: version range v226..100 is empty: min 226 > max 100"
        );
    }

    #[test]
    fn handshake_reply_exact_bytes() {
        let reply = handshake_reply(226, "20260101 09:30:00 EST");
        let mut expected = vec![0, 0, 0, 26];
        expected.extend_from_slice(b"226\0");
        expected.extend_from_slice(b"20260101 09:30:00 EST\0");
        assert_eq!(reply, expected);
        // Python's EClient needs exactly two NUL-terminated fields: split gives two fields plus an empty tail.
        let body = reply.get(4..).unwrap();
        let fields: Vec<&[u8]> = body.split(|&b| b == 0).collect();
        assert_eq!(fields, [&b"226"[..], &b"20260101 09:30:00 EST"[..], &b""[..]]);
    }

    #[test]
    fn handshake_reply_drops_embedded_nuls() {
        let reply = handshake_reply(226, "a\0b");
        assert_eq!(reply, [0, 0, 0, 7, b'2', b'2', b'6', 0, b'a', b'b', 0]);
    }

    #[tokio::test]
    async fn handshake_reply_has_frame_shape() {
        // The reply is read by clients as a length-prefixed body; our frame reader accepts its shape.
        let reply = handshake_reply(226, "20260101 09:30:00 EST");
        let f = frame(&reply).await.unwrap().unwrap();
        assert_eq!(f.wire_id.to_be_bytes(), *b"226\0");
    }

    #[test]
    fn connection_time_zones_ibapi_parses() {
        let ny = chrono_tz::America::New_York;
        let winter = ny.with_ymd_and_hms(2026, 1, 1, 9, 30, 0).unwrap();
        assert_eq!(connection_time_string(winter), "20260101 09:30:00 EST");
        let summer = ny.with_ymd_and_hms(2026, 7, 1, 9, 30, 0).unwrap();
        assert_eq!(connection_time_string(summer), "20260701 09:30:00 EDT");
        let chicago = chrono_tz::America::Chicago
            .with_ymd_and_hms(2026, 1, 2, 8, 0, 5)
            .unwrap();
        assert_eq!(connection_time_string(chicago), "20260102 08:00:05 CST");
        let la = chrono_tz::America::Los_Angeles
            .with_ymd_and_hms(2026, 7, 2, 6, 0, 0)
            .unwrap();
        assert_eq!(connection_time_string(la), "20260702 06:00:00 PDT");
        // Abbreviations ibapi does not alias (GMT/BST, CST for China, +08) fall back to the IANA name.
        let london = chrono_tz::Europe::London
            .with_ymd_and_hms(2026, 7, 1, 14, 30, 0)
            .unwrap();
        assert_eq!(connection_time_string(london), "20260701 14:30:00 Europe/London");
        let shanghai = chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2026, 1, 1, 22, 30, 0)
            .unwrap();
        assert_eq!(
            connection_time_string(shanghai),
            "20260101 22:30:00 Asia/Shanghai"
        );
        let utc = chrono_tz::UTC.with_ymd_and_hms(2026, 1, 1, 14, 30, 0).unwrap();
        assert_eq!(connection_time_string(utc), "20260101 14:30:00 UTC");
    }

    #[tokio::test]
    async fn start_api_frame_from_the_sheet() {
        let f = frame(&[0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x01, 0x0f, 0x08, 0x07])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.wire_id, 271);
        assert_eq!(f.message_id(), Some(msg::OUT_START_API));
        assert!(f.is_protobuf());
        assert_eq!(decode::<StartApiRequest>(&f).unwrap().client_id, Some(7));
    }

    #[test]
    fn next_valid_id_encodes_exactly() {
        let bytes = encode_frame(msg::IN_NEXT_VALID_ID, &NextValidId { order_id: Some(1) });
        assert_eq!(
            bytes,
            [0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0xd1, 0x08, 0x01]
        );
    }

    #[test]
    fn empty_message_encodes_to_a_four_byte_body() {
        let bytes = encode_frame(msg::IN_POSITION_END, &crate::sim::proto::PositionEnd {});
        assert_eq!(bytes, [0, 0, 0, 4, 0, 0, 1, 0x06]);
    }

    #[tokio::test]
    async fn error_message_minus_one_is_explicit_on_the_wire() {
        let notice = ErrorMessage {
            id: Some(-1),
            error_time: Some(0),
            error_code: Some(2104),
            error_msg: Some("Market data farm connection is OK:usfarm".into()),
            advanced_order_reject_json: None,
        };
        let bytes = encode_frame(msg::IN_ERROR, &notice);
        // wire id 204, then tag 1 varint with ten bytes of -1.
        assert_eq!(
            bytes.get(4..19).unwrap(),
            [
                0x00, 0x00, 0x00, 0xcc, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]
        );
        let f = frame(&bytes).await.unwrap().unwrap();
        assert_eq!(decode::<ErrorMessage>(&f).unwrap(), notice);
    }

    #[tokio::test]
    async fn text_frames_have_no_message_id() {
        let f = frame(&[0, 0, 0, 6, 0, 0, 0, 9, b'1', 0]).await.unwrap().unwrap();
        assert_eq!(f.message_id(), None);
        assert!(!f.is_protobuf());
        let err = decode::<NextValidId>(&f).unwrap_err();
        assert_eq!(
            err.to_string(),
            "frame: wire id 9 is a text frame (<= 200), expected protobuf (> 200) to decode as NextValidId"
        );
        // 200 itself is text, 201 is protobuf id 1.
        let f200 = Frame {
            wire_id: 200,
            payload: vec![],
        };
        assert_eq!((f200.message_id(), f200.is_protobuf()), (None, false));
        let f201 = Frame {
            wire_id: 201,
            payload: vec![],
        };
        assert_eq!((f201.message_id(), f201.is_protobuf()), (Some(1), true));
    }

    #[test]
    fn decode_errors_name_the_message() {
        let f = Frame {
            wire_id: 271,
            payload: vec![0x08],
        };
        let err = decode::<StartApiRequest>(&f).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("frame: cannot decode message id 71 (wire id 271) as StartApiRequest: "),
            "{text}"
        );
        // Wrong wire type for tag 1 (length-delimited instead of varint).
        let f = Frame {
            wire_id: 209,
            payload: vec![0x0a, 0x01, 0x00],
        };
        assert!(matches!(
            decode::<NextValidId>(&f),
            Err(WireError::Decode { message_id: 9, .. })
        ));
    }

    #[tokio::test]
    async fn eof_handling() {
        assert_eq!(frame(&[]).await.unwrap(), None);
        let err = frame(&[0, 0]).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "frame: connection closed mid-frame after 2 of 4 bytes of the length prefix"
        );
        let err = frame(&[0, 0, 0, 6, 0, 0, 1]).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "frame: connection closed mid-frame after 3 of 4 bytes of the message id"
        );
        let err = frame(&[0, 0, 0, 8, 0, 0, 1, 0x0f, 0x08]).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "frame: connection closed mid-frame after 1 of 4 bytes of the payload"
        );

        // Two frames then a clean EOF.
        let mut bytes = encode_frame(msg::IN_NEXT_VALID_ID, &NextValidId { order_id: Some(1) });
        bytes.extend(encode_frame(
            msg::IN_NEXT_VALID_ID,
            &NextValidId { order_id: Some(2) },
        ));
        let mut r = &bytes[..];
        for id in [1, 2] {
            let f = read_frame(&mut r).await.unwrap().unwrap();
            assert_eq!(decode::<NextValidId>(&f).unwrap().order_id, Some(id));
        }
        assert_eq!(read_frame(&mut r).await.unwrap(), None);
        assert_eq!(read_frame(&mut r).await.unwrap(), None);
    }

    #[tokio::test]
    async fn wrong_lengths_are_rejected_before_reading_on() {
        for len in [0u32, 1, 3] {
            let mut bytes = len.to_be_bytes().to_vec();
            bytes.extend_from_slice(&[0, 0, 1, 0x0f, 0x08, 0x07]);
            let err = frame(&bytes).await.unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "frame: length {len} out of range, expected 4..=16777215 bytes (4-byte message id + payload); the stream is desynchronized"
                )
            );
        }
        let err = frame(&[0x01, 0x00, 0x00, 0x00, 0, 0, 1, 0x0f]).await.unwrap_err();
        assert!(
            matches!(err, WireError::FrameLength { len: 0x0100_0000 }),
            "{err}"
        );
        // "GET " read as a length is 0x47455420: far too long.
        let err = frame(b"GET / HTTP/1.1\r\n").await.unwrap_err();
        assert!(
            matches!(err, WireError::FrameLength { len: 0x4745_5420 }),
            "{err}"
        );
        // The maximum itself is allowed (we only see EOF after the header).
        let err = frame(&[0x00, 0xff, 0xff, 0xff, 0, 0, 1, 0x0f]).await.unwrap_err();
        assert!(
            matches!(
                err,
                WireError::FrameEof {
                    part: "payload",
                    got: 0,
                    expected: 0x00FF_FFFB
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn frames_split_into_single_bytes_still_parse() {
        // A 1-byte duplex buffer forces every read to see at most one byte.
        let (mut client, mut server) = tokio::io::duplex(1);
        let mut bytes = hello_bytes("v100..226 +PACEAPI");
        bytes.extend(encode_frame(
            msg::OUT_START_API,
            &StartApiRequest {
                client_id: Some(31),
                optional_capabilities: None,
            },
        ));
        let notice = ErrorMessage {
            id: Some(-1),
            error_code: Some(2104),
            error_msg: Some("x".repeat(300)),
            ..ErrorMessage::default()
        };
        bytes.extend(encode_frame(msg::IN_ERROR, &notice));
        let writer = tokio::spawn(async move {
            for b in bytes {
                client.write_all(&[b]).await.unwrap();
                tokio::task::yield_now().await;
            }
            client.shutdown().await.unwrap();
        });
        let h = read_hello(&mut server).await.unwrap();
        assert_eq!(h.options.as_deref(), Some("+PACEAPI"));
        let start = read_frame(&mut server).await.unwrap().unwrap();
        assert_eq!(decode::<StartApiRequest>(&start).unwrap().client_id, Some(31));
        let err = read_frame(&mut server).await.unwrap().unwrap();
        assert_eq!(decode::<ErrorMessage>(&err).unwrap(), notice);
        assert_eq!(read_frame(&mut server).await.unwrap(), None);
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn peer_dropping_mid_frame_is_an_error_not_a_clean_eof() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&[0, 0, 0, 6, 0, 0]).await.unwrap();
        drop(client);
        let err = read_frame(&mut server).await.unwrap_err();
        assert!(
            matches!(
                err,
                WireError::FrameEof {
                    part: "message id",
                    got: 2,
                    expected: 4
                }
            ),
            "{err}"
        );
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().unwrap()
    }

    proptest! {
        #[test]
        fn read_frame_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            runtime().block_on(async {
                let mut r = &bytes[..];
                // Every call consumes at least one byte or ends, so this terminates.
                for _ in 0..=bytes.len() {
                    match read_frame(&mut r).await {
                        Ok(Some(f)) => {
                            let _ = decode::<ErrorMessage>(&f);
                            let _ = decode::<StartApiRequest>(&f);
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
            });
        }

        #[test]
        fn read_frame_never_panics_on_plausible_lengths(len in 0u32..300, rest in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut bytes = len.to_be_bytes().to_vec();
            bytes.extend(rest);
            runtime().block_on(async {
                let mut r = &bytes[..];
                for _ in 0..=bytes.len() {
                    match read_frame(&mut r).await {
                        Ok(Some(f)) => {
                            let _ = decode::<crate::sim::proto::PlaceOrderRequest>(&f);
                            let _ = decode::<crate::sim::proto::MarketDataRequest>(&f);
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
            });
        }

        #[test]
        fn read_hello_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), text in "\\PC{0,40}") {
            runtime().block_on(async {
                let _ = read_hello(&mut &bytes[..]).await;
                if let Ok(h) = read_hello(&mut &hello_bytes(&text)[..]).await {
                    let _ = negotiate(&h);
                }
            });
        }

        #[test]
        fn hello_ranges_round_trip(min in 0..=i32::MAX, max in 0..=i32::MAX, opts in proptest::option::of("[+A-Za-z0-9]{1,20}")) {
            let text = match &opts {
                Some(o) => format!("v{min}..{max} {o}"),
                None => format!("v{min}..{max}"),
            };
            let parsed = runtime().block_on(read_hello(&mut &hello_bytes(&text)[..]));
            if min <= max {
                prop_assert_eq!(parsed.unwrap(), ClientHello { min_version: min, max_version: max, options: opts });
            } else {
                let is_empty_range = matches!(parsed, Err(WireError::HelloEmptyRange { .. }));
                prop_assert!(is_empty_range);
            }
        }

        #[test]
        fn encode_then_read_round_trips(
            message_id in 1..=(i32::MAX - PROTOBUF_ID_OFFSET),
            id in any::<Option<i32>>(),
            time in any::<Option<i64>>(),
            code in any::<Option<i32>>(),
            text in proptest::option::of(".{0,200}"),
            raw in proptest::collection::vec(any::<u8>(), 0..300),
            wire_id in any::<i32>(),
        ) {
            let notice = ErrorMessage { id, error_time: time, error_code: code, error_msg: text, advanced_order_reject_json: None };
            let mut bytes = encode_frame(message_id, &notice);
            let raw_frame = Frame { wire_id, payload: raw };
            bytes.extend(raw_frame.to_bytes());
            runtime().block_on(async {
                let mut r = &bytes[..];
                let f = read_frame(&mut r).await.unwrap().unwrap();
                assert_eq!(f.message_id(), Some(message_id));
                assert_eq!(decode::<ErrorMessage>(&f).unwrap(), notice);
                assert_eq!(read_frame(&mut r).await.unwrap().unwrap(), raw_frame);
                assert_eq!(read_frame(&mut r).await.unwrap(), None);
            });
        }
    }
}
