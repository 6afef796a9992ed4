//! Byte-level tests of what the simulator puts on the wire and how it treats bad input, with a raw TCP client
//! and the simulator's own `wire`/`proto` codecs: both IB clients' handshakes (Rust `v213..226`, Python
//! `v100..226[ options]`), silence until `StartApi`, protobuf-only frames whose decimal strings are numbers and
//! whose required parts are present, IB's Python client's request shapes (explicit defaults, unknown tags,
//! small request ids, empty sub-messages), and bad input that closes only the offending connection.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use cockpit::sim::proto::{self, msg};
use cockpit::sim::wire::{self, Frame};
use cockpit::sim::{self, EntryKind, FaultAction, Outcome, SimConfig, SimHandle, SimStats};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use prost::Message;
use rust_decimal::Decimal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

/// The bound on any single awaited answer.
const WITHIN: Duration = Duration::from_secs(5);
/// How long "nothing arrives" is watched for.
const SILENCE: Duration = Duration::from_millis(300);
/// The most frames any one wait reads.
const MAX_FRAMES: usize = 20_000;
/// The most socket reads any one wait does (each read brings at least one byte).
const MAX_READS: usize = 100_000;
/// The simulator's default (only) account.
const ACCOUNT: &str = "DU1234567";
/// AAPL's IB contract id.
const AAPL_CON_ID: i32 = 265_598;
/// Tag 1 (varint) holding −1: the key byte, then ten bytes of two's complement.
const ID_MINUS_ONE: [u8; 11] = [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
/// Every message id the simulator may send (all of them known to IB's clients).
const KNOWN_INCOMING: [i32; 40] = [
    msg::IN_TICK_PRICE,
    msg::IN_TICK_SIZE,
    msg::IN_ORDER_STATUS,
    msg::IN_ERROR,
    msg::IN_OPEN_ORDER,
    msg::IN_ACCOUNT_VALUE,
    msg::IN_PORTFOLIO_VALUE,
    msg::IN_ACCOUNT_UPDATE_TIME,
    msg::IN_NEXT_VALID_ID,
    msg::IN_CONTRACT_DATA,
    msg::IN_EXECUTION_DATA,
    msg::IN_MANAGED_ACCOUNTS,
    msg::IN_BOND_CONTRACT_DATA,
    msg::IN_TICK_OPTION_COMPUTATION,
    msg::IN_TICK_GENERIC,
    msg::IN_TICK_STRING,
    msg::IN_CURRENT_TIME,
    msg::IN_REAL_TIME_BARS,
    msg::IN_CONTRACT_DATA_END,
    msg::IN_OPEN_ORDER_END,
    msg::IN_ACCOUNT_DOWNLOAD_END,
    msg::IN_EXECUTION_DATA_END,
    msg::IN_TICK_SNAPSHOT_END,
    msg::IN_MARKET_DATA_TYPE,
    msg::IN_COMMISSIONS_REPORT,
    msg::IN_POSITION,
    msg::IN_POSITION_END,
    msg::IN_ACCOUNT_SUMMARY,
    msg::IN_ACCOUNT_SUMMARY_END,
    msg::IN_POSITION_MULTI,
    msg::IN_POSITION_MULTI_END,
    msg::IN_ACCOUNT_UPDATE_MULTI,
    msg::IN_ACCOUNT_UPDATE_MULTI_END,
    msg::IN_TICK_REQ_PARAMS,
    msg::IN_PNL,
    msg::IN_PNL_SINGLE,
    msg::IN_ORDER_BOUND,
    msg::IN_COMPLETED_ORDER,
    msg::IN_COMPLETED_ORDERS_END,
    msg::IN_CURRENT_TIME_IN_MILLIS,
];

// ---- set-up ----

fn fast() -> SimConfig {
    SimConfig {
        tick_interval: Duration::from_millis(20),
        account_push_interval: Duration::from_millis(200),
        ..SimConfig::default()
    }
}

async fn start(cfg: SimConfig) -> SimHandle {
    sim::start("127.0.0.1:0".parse().expect("addr"), cfg)
        .await
        .expect("sim starts")
}

async fn stats(sim: &SimHandle) -> SimStats {
    sim.stats().await.expect("stats")
}

/// `"API\0"` + u32 BE length + the version range, as both IB clients send it.
fn hello_bytes(versions: &str) -> Vec<u8> {
    let mut bytes = b"API\0".to_vec();
    let len = u32::try_from(versions.len()).expect("short");
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.extend_from_slice(versions.as_bytes());
    bytes
}

/// A raw TWS API client: bytes in, frames out, every read bounded by a deadline.
///
/// It buffers what arrives and cuts frames from the buffer, so a timed-out wait loses nothing.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    async fn open(sim: &SimHandle) -> Self {
        let stream = timeout(WITHIN, TcpStream::connect(sim.addr()))
            .await
            .expect("connects in time")
            .expect("connects");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        timeout(WITHIN, self.stream.write_all(bytes))
            .await
            .expect("written in time")
            .expect("written");
    }

    /// Writes what it can; the simulator may already have closed the socket.
    async fn write_lenient(&mut self, bytes: &[u8]) {
        let _ = timeout(WITHIN, self.stream.write_all(bytes)).await;
    }

    async fn hello(&mut self, versions: &str) {
        self.write(&hello_bytes(versions)).await;
    }

    async fn send<M: Message>(&mut self, message_id: i32, message: &M) {
        self.write(&wire::encode_frame(message_id, message)).await;
    }

    async fn start_api(&mut self, client_id: i32) {
        let start = proto::StartApiRequest {
            client_id: Some(client_id),
            optional_capabilities: None,
        };
        self.send(msg::OUT_START_API, &start).await;
    }

    /// One length-prefixed block cut from the buffer (length prefix included), if it has fully arrived.
    fn take_block(&mut self) -> Option<Vec<u8>> {
        let prefix: [u8; 4] = self.buf.get(..4)?.try_into().expect("four bytes");
        let len = usize::try_from(u32::from_be_bytes(prefix)).expect("usize");
        assert!(
            (wire::MIN_FRAME..=wire::MAX_FRAME).contains(&len),
            "the simulator sent a length prefix of {len}"
        );
        if self.buf.len() < 4 + len {
            return None;
        }
        let rest = self.buf.split_off(4 + len);
        Some(std::mem::replace(&mut self.buf, rest))
    }

    /// Reads more bytes before `deadline`; false on timeout. Panics if the simulator closes the socket.
    async fn fill(&mut self, deadline: Instant) -> bool {
        match timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => false,
            Ok(Ok(0)) => panic!("the simulator closed the connection"),
            Ok(Ok(_)) => true,
            Ok(Err(e)) => panic!("reading from the simulator: {e}"),
        }
    }

    /// The next length-prefixed block before `deadline`, or `None`.
    async fn block_before(&mut self, deadline: Instant) -> Option<Vec<u8>> {
        for _ in 0..MAX_READS {
            if let Some(block) = self.take_block() {
                return Some(block);
            }
            if !self.fill(deadline).await {
                return None;
            }
        }
        panic!("no complete frame after {MAX_READS} reads");
    }

    /// The handshake reply's body (after its length prefix).
    async fn reply(&mut self) -> Vec<u8> {
        let block = self
            .block_before(Instant::now() + WITHIN)
            .await
            .expect("a handshake reply in time");
        block[4..].to_vec()
    }

    /// The next frame before `deadline`, decoded by the simulator's own frame reader.
    async fn frame_before(&mut self, deadline: Instant) -> Option<Frame> {
        let block = self.block_before(deadline).await?;
        let frame = wire::read_frame(&mut block.as_slice())
            .await
            .unwrap_or_else(|e| panic!("the simulator sent a bad frame: {e}"))
            .expect("a whole frame");
        Some(frame)
    }

    /// Every frame up to and including the first one `done` accepts.
    async fn until(&mut self, what: &str, mut done: impl FnMut(&Frame) -> bool) -> Vec<Frame> {
        let deadline = Instant::now() + WITHIN;
        let mut frames = Vec::new();
        for _ in 0..MAX_FRAMES {
            let Some(frame) = self.frame_before(deadline).await else {
                let ids: Vec<i32> = frames.iter().map(|f: &Frame| f.wire_id).collect();
                panic!("no {what} within {WITHIN:?}; got wire ids {ids:?}");
            };
            let last = done(&frame);
            frames.push(frame);
            if last {
                return frames;
            }
        }
        panic!("no {what} among {MAX_FRAMES} frames");
    }

    /// Every frame that arrives within `span`.
    async fn collect_for(&mut self, span: Duration) -> Vec<Frame> {
        let deadline = Instant::now() + span;
        let mut frames = Vec::new();
        for _ in 0..MAX_FRAMES {
            match self.frame_before(deadline).await {
                Some(frame) => frames.push(frame),
                None => return frames,
            }
        }
        panic!("more than {MAX_FRAMES} frames in {span:?}");
    }

    /// Asserts that nothing arrives for `span`.
    async fn expect_silence(&mut self, span: Duration) {
        if let Some(frame) = self.frame_before(Instant::now() + span).await {
            panic!(
                "expected nothing for {span:?}, got wire id {} payload {:02x?}",
                frame.wire_id, frame.payload
            );
        }
    }

    /// `reqCurrentTime` round trip; the time it answers.
    async fn current_time(&mut self) -> i64 {
        self.send(msg::OUT_REQUEST_CURRENT_TIME, &proto::CurrentTimeRequest {})
            .await;
        let frames = self.until("CurrentTime", is(msg::IN_CURRENT_TIME)).await;
        let time: proto::CurrentTime = decode(frames.last().expect("the answer"));
        time.current_time.expect("a time")
    }

    /// Reads until the simulator closes the socket (EOF or reset); returns the bytes that came first.
    async fn closed(mut self) -> Vec<u8> {
        let deadline = Instant::now() + WITHIN;
        for _ in 0..MAX_READS {
            let read = timeout_at(deadline, self.stream.read_buf(&mut self.buf));
            let Ok(read) = read.await else {
                panic!("the simulator kept the connection open for {WITHIN:?}");
            };
            match read {
                Ok(0) => return self.buf,
                Ok(_) => {}
                Err(e) => {
                    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
                    assert!(
                        matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe),
                        "not a close: {e}"
                    );
                    return self.buf;
                }
            }
        }
        panic!("the connection stayed open for {MAX_READS} reads");
    }
}

/// A connected session: hello, reply, `StartApi`, and the start-up frames up to the last farm notice.
async fn session(sim: &SimHandle, client_id: i32) -> (Raw, Vec<Frame>) {
    let mut raw = Raw::open(sim).await;
    raw.hello("v213..226").await;
    let reply = raw.reply().await;
    assert_eq!(reply_fields(&reply)[0], "226");
    raw.start_api(client_id).await;
    let startup = raw
        .until("farm notice 2158", |f| error_code(f) == Some(2158))
        .await;
    (raw, startup)
}

// ---- frames ----

fn decode<M: Message + Default>(frame: &Frame) -> M {
    wire::decode(frame).unwrap_or_else(|e| panic!("{e}"))
}

fn is(message_id: i32) -> impl Fn(&Frame) -> bool {
    move |f| f.message_id() == Some(message_id)
}

fn error_code(frame: &Frame) -> Option<i32> {
    (frame.message_id() == Some(msg::IN_ERROR))
        .then(|| decode::<proto::ErrorMessage>(frame).error_code)
        .flatten()
}

fn order_status(frame: &Frame) -> Option<proto::OrderStatus> {
    (frame.message_id() == Some(msg::IN_ORDER_STATUS)).then(|| decode(frame))
}

/// An `OrderStatus` of `order_id` with `status`.
fn status_is(order_id: i32, status: &'static str) -> impl Fn(&Frame) -> bool {
    move |f| {
        order_status(f).is_some_and(|s| s.order_id == Some(order_id) && s.status.as_deref() == Some(status))
    }
}

/// The fields of a handshake reply body; asserts every field is NUL-terminated.
fn reply_fields(body: &[u8]) -> Vec<String> {
    assert_eq!(
        body.last(),
        Some(&0),
        "the last field is NUL-terminated: {body:02x?}"
    );
    body[..body.len() - 1]
        .split(|&b| b == 0)
        .map(|f| String::from_utf8(f.to_vec()).expect("UTF-8 field"))
        .collect()
}

/// Asserts `YYYYMMDD HH:MM:SS <zone>`, New York's zone, and about now.
fn assert_connection_time(text: &str) {
    let (stamp, zone) = text.split_at_checked(17).expect("a date, a time and a zone");
    let local = NaiveDateTime::parse_from_str(stamp, "%Y%m%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("{stamp:?} is not YYYYMMDD HH:MM:SS: {e}"));
    let zone = zone.strip_prefix(' ').expect("a space before the zone");
    assert!(matches!(zone, "EST" | "EDT"), "zone {zone:?}");
    let now = Utc::now()
        .with_timezone(&chrono_tz::America::New_York)
        .naive_local();
    assert!(
        (now - local).num_seconds().abs() <= 120,
        "{text} is not about now ({now})"
    );
}

fn aapl() -> proto::Contract {
    proto::Contract {
        symbol: Some("AAPL".to_string()),
        sec_type: Some("STK".to_string()),
        exchange: Some("SMART".to_string()),
        currency: Some("USD".to_string()),
        ..Default::default()
    }
}

/// An order as ibapi (Rust) sends it: only the fields that differ from the defaults.
fn rust_order(order_id: i32, quantity: &str, limit: Option<f64>) -> proto::PlaceOrderRequest {
    proto::PlaceOrderRequest {
        order_id: Some(order_id),
        contract: Some(aapl()),
        order: Some(proto::Order {
            action: Some("BUY".to_string()),
            total_quantity: Some(quantity.to_string()),
            order_type: Some(if limit.is_some() { "LMT" } else { "MKT" }.to_string()),
            lmt_price: limit,
            tif: Some("DAY".to_string()),
            ..Default::default()
        }),
        attached_orders: None,
    }
}

// ---- IB's Python client's placeOrder, with its explicit defaults and tags the simulator does not know ----

#[derive(Clone, PartialEq, prost::Message)]
struct Empty {}

#[derive(Clone, PartialEq, prost::Message)]
struct PyContract {
    #[prost(int32, optional, tag = "1")]
    con_id: Option<i32>,
    #[prost(string, optional, tag = "2")]
    symbol: Option<String>,
    #[prost(string, optional, tag = "3")]
    sec_type: Option<String>,
    #[prost(string, optional, tag = "8")]
    exchange: Option<String>,
    #[prost(string, optional, tag = "10")]
    currency: Option<String>,
    /// Not a `Contract` tag.
    #[prost(string, optional, tag = "99")]
    unknown: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PyOrder {
    #[prost(int32, optional, tag = "1")]
    client_id: Option<i32>,
    #[prost(int64, optional, tag = "3")]
    perm_id: Option<i64>,
    #[prost(int32, optional, tag = "4")]
    parent_id: Option<i32>,
    #[prost(string, optional, tag = "5")]
    action: Option<String>,
    #[prost(string, optional, tag = "6")]
    total_quantity: Option<String>,
    #[prost(int32, optional, tag = "7")]
    display_size: Option<i32>,
    #[prost(string, optional, tag = "8")]
    order_type: Option<String>,
    #[prost(double, optional, tag = "9")]
    lmt_price: Option<f64>,
    #[prost(string, optional, tag = "11")]
    tif: Option<String>,
    #[prost(string, optional, tag = "12")]
    account: Option<String>,
    #[prost(string, optional, tag = "28")]
    order_ref: Option<String>,
    #[prost(int32, optional, tag = "30")]
    oca_type: Option<i32>,
    #[prost(int32, optional, tag = "31")]
    trigger_method: Option<i32>,
    #[prost(int32, optional, tag = "43")]
    delta_neutral_con_id: Option<i32>,
    #[prost(int32, optional, tag = "46")]
    delta_neutral_short_sale_slot: Option<i32>,
    #[prost(bool, optional, tag = "66")]
    transmit: Option<bool>,
    #[prost(int32, optional, tag = "69")]
    origin: Option<i32>,
    #[prost(int32, optional, tag = "70")]
    short_sale_slot: Option<i32>,
    #[prost(int32, optional, tag = "72")]
    exempt_code: Option<i32>,
    #[prost(double, optional, tag = "76")]
    discretionary_amt: Option<f64>,
    #[prost(int32, optional, tag = "88")]
    reference_contract_id: Option<i32>,
    #[prost(double, optional, tag = "89")]
    pegged_change_amount: Option<f64>,
    #[prost(double, optional, tag = "91")]
    reference_change_amount: Option<f64>,
    #[prost(int32, optional, tag = "98")]
    adjustable_trailing_unit: Option<i32>,
    #[prost(message, optional, tag = "105")]
    soft_dollar_tier: Option<Empty>,
    /// Tags beyond IB's `Order` (it ends at 145).
    #[prost(string, optional, tag = "900")]
    unknown_text: Option<String>,
    #[prost(int64, optional, tag = "901")]
    unknown_number: Option<i64>,
    #[prost(bytes = "vec", optional, tag = "902")]
    unknown_bytes: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PyPlaceOrder {
    #[prost(int32, optional, tag = "1")]
    order_id: Option<i32>,
    #[prost(message, optional, tag = "2")]
    contract: Option<PyContract>,
    #[prost(message, optional, tag = "3")]
    order: Option<PyOrder>,
    #[prost(message, optional, tag = "4")]
    attached_orders: Option<Empty>,
    /// Not a `PlaceOrderRequest` tag.
    #[prost(string, optional, tag = "50")]
    unknown: Option<String>,
}

/// `placeOrder(id, AAPL STK SMART USD, BUY 1 LMT 1.0 DAY account, orderRef "example")` as IB's Python client sends it.
fn python_order(order_id: i32) -> PyPlaceOrder {
    PyPlaceOrder {
        order_id: Some(order_id),
        contract: Some(PyContract {
            con_id: Some(0),
            symbol: Some("AAPL".into()),
            sec_type: Some("STK".into()),
            exchange: Some("SMART".into()),
            currency: Some("USD".into()),
            unknown: Some("ignored".into()),
        }),
        order: Some(PyOrder {
            client_id: Some(0),
            perm_id: Some(0),
            parent_id: Some(0),
            action: Some("BUY".into()),
            total_quantity: Some("1".into()),
            display_size: Some(0),
            order_type: Some("LMT".into()),
            lmt_price: Some(1.0),
            tif: Some("DAY".into()),
            account: Some(ACCOUNT.into()),
            order_ref: Some("example".into()),
            oca_type: Some(0),
            trigger_method: Some(0),
            delta_neutral_con_id: Some(0),
            delta_neutral_short_sale_slot: Some(0),
            transmit: Some(true),
            origin: Some(0),
            short_sale_slot: Some(0),
            exempt_code: Some(-1),
            discretionary_amt: Some(0.0),
            reference_contract_id: Some(0),
            pegged_change_amount: Some(0.0),
            reference_change_amount: Some(0.0),
            adjustable_trailing_unit: Some(0),
            soft_dollar_tier: Some(Empty {}),
            unknown_text: Some("future field".into()),
            unknown_number: Some(-7),
            unknown_bytes: Some(vec![0, 1, 2, 0xff]),
        }),
        attached_orders: Some(Empty {}),
        unknown: Some("ignored too".into()),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ---- handshake ----

#[tokio::test]
async fn rust_hello_is_answered_with_exactly_version_and_connection_time() {
    let sim = start(SimConfig::default()).await;
    let mut raw = Raw::open(&sim).await;
    // §1.1, byte for byte.
    raw.write(&[
        0x41, 0x50, 0x49, 0x00, 0x00, 0x00, 0x00, 0x09, 0x76, 0x32, 0x31, 0x33, 0x2e, 0x2e, 0x32, 0x32, 0x36,
    ])
    .await;
    let body = raw.reply().await;
    assert!(body.starts_with(b"226\0"), "{body:02x?}");
    let nuls: Vec<usize> = (0..body.len()).filter(|&i| body[i] == 0).collect();
    assert_eq!(nuls, [3, body.len() - 1], "exactly two NULs, each ending a field");
    let fields = reply_fields(&body);
    assert_eq!(fields.len(), 2, "exactly two fields: {fields:?}");
    assert_eq!(fields[0], "226");
    assert_connection_time(&fields[1]);
    sim.shutdown().await;
}

#[tokio::test]
async fn python_hellos_with_and_without_options_or_a_higher_max_negotiate_226() {
    let sim = start(SimConfig::default()).await;
    let mut clients = Vec::new();
    for (client_id, versions) in [(1, "v100..226"), (2, "v100..226 +PACEAPI"), (3, "v100..230")] {
        let mut raw = Raw::open(&sim).await;
        raw.hello(versions).await;
        let fields = reply_fields(&raw.reply().await);
        assert_eq!(fields.len(), 2, "{versions}: exactly two fields: {fields:?}");
        assert_eq!(fields[0], "226", "{versions}");
        assert_connection_time(&fields[1]);
        raw.start_api(client_id).await;
        let frames = raw.until("NextValidId", is(msg::IN_NEXT_VALID_ID)).await;
        let next: proto::NextValidId = decode(frames.last().expect("frame"));
        assert_eq!(next.order_id, Some(1), "{versions}");
        clients.push(raw);
    }
    let s = stats(&sim).await;
    assert_eq!((s.connections, s.bad_input_disconnects), (3, 0));
    assert_eq!(s.live_clients, vec![1, 2, 3]);
    sim.shutdown().await;
}

#[tokio::test]
async fn nothing_is_sent_before_start_api_then_accounts_next_id_and_farm_notices() {
    let sim = start(SimConfig::default()).await;
    let mut raw = Raw::open(&sim).await;
    raw.hello("v100..226").await;
    assert_eq!(reply_fields(&raw.reply().await)[0], "226");
    // IB's Python client drops anything that arrives behind the reply before it sends StartApi.
    raw.expect_silence(SILENCE).await;
    // StartApi for client 31, exactly as IB's Python client sends it.
    raw.write(&[0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x01, 0x0f, 0x08, 0x1f])
        .await;
    let frames = raw
        .until("farm notice 2158", |f| error_code(f) == Some(2158))
        .await;
    let ids: Vec<i32> = frames.iter().map(|f| f.wire_id).collect();
    assert_eq!(ids, [215, 209, 204, 204, 204], "wire ids");
    let accounts: proto::ManagedAccounts = decode(&frames[0]);
    assert_eq!(accounts.accounts_list.as_deref(), Some(ACCOUNT));
    let next: proto::NextValidId = decode(&frames[1]);
    assert_eq!(next.order_id, Some(1));
    let mut codes = Vec::new();
    for frame in &frames[2..] {
        let notice: proto::ErrorMessage = decode(frame);
        assert_eq!(notice.id, Some(-1), "request-less notices carry id -1");
        assert!(
            contains(&frame.payload, &ID_MINUS_ONE),
            "id -1 is on the wire, not left out: {:02x?}",
            frame.payload
        );
        assert!(notice.error_time.is_some_and(|t| t > 0), "error time set");
        assert!(
            notice
                .error_msg
                .as_deref()
                .is_some_and(|m| m.contains("farm connection is OK")),
            "{notice:?}"
        );
        codes.push(notice.error_code.expect("a code"));
    }
    assert_eq!(codes, [2104, 2106, 2158]);
    raw.expect_silence(SILENCE).await;
    assert_eq!(stats(&sim).await.live_clients, vec![31]);
    sim.shutdown().await;
}

// ---- every frame the simulator sends ----

/// A `Decimal(s)`-parsable decimal string: present, not empty, a number.
#[track_caller]
fn assert_decimal(what: &str, value: Option<&str>) {
    let text = value.unwrap_or_else(|| panic!("{what} is missing"));
    assert!(!text.is_empty(), "{what} is \"\"");
    Decimal::from_str(text).unwrap_or_else(|e| panic!("{what} = {text:?} is not a number: {e}"));
}

/// Like [`assert_decimal`], but the field may be absent.
#[track_caller]
fn assert_optional_decimal(what: &str, value: Option<&str>) {
    if value.is_some() {
        assert_decimal(what, value);
    }
}

fn check_order_parts(what: &str, order: Option<&proto::Order>, state: Option<&proto::OrderState>) {
    let order = order.unwrap_or_else(|| panic!("{what} without order"));
    assert!(
        matches!(order.action.as_deref(), Some("BUY" | "SELL" | "SSHORT" | "SLONG")),
        "{what} action {:?}",
        order.action
    );
    assert_decimal("Order.total_quantity", order.total_quantity.as_deref());
    assert_optional_decimal("Order.filled_quantity", order.filled_quantity.as_deref());
    let state = state.unwrap_or_else(|| panic!("{what} without order_state"));
    assert!(
        state.status.as_deref().is_some_and(|s| !s.is_empty()),
        "{what} status {:?}",
        state.status
    );
    assert_optional_decimal("OrderState.suggested_size", state.suggested_size.as_deref());
}

fn check_order_frame(id: i32, frame: &Frame) {
    match id {
        msg::IN_ORDER_STATUS => {
            let m: proto::OrderStatus = decode(frame);
            assert!(m.status.as_deref().is_some_and(|s| !s.is_empty()), "{m:?}");
            assert_decimal("OrderStatus.filled", m.filled.as_deref());
            assert_decimal("OrderStatus.remaining", m.remaining.as_deref());
        }
        msg::IN_OPEN_ORDER => {
            let m: proto::OpenOrder = decode(frame);
            assert!(m.contract.is_some(), "OpenOrder without contract");
            check_order_parts("OpenOrder", m.order.as_ref(), m.order_state.as_ref());
        }
        msg::IN_COMPLETED_ORDER => {
            let m: proto::CompletedOrder = decode(frame);
            assert!(m.contract.is_some(), "CompletedOrder without contract");
            check_order_parts("CompletedOrder", m.order.as_ref(), m.order_state.as_ref());
        }
        msg::IN_EXECUTION_DATA => {
            let m: proto::ExecutionDetails = decode(frame);
            assert!(m.contract.is_some(), "ExecutionDetails without contract");
            let e = m.execution.expect("ExecutionDetails without execution");
            assert!(
                matches!(e.side.as_deref(), Some("BOT" | "SLD")),
                "side {:?}",
                e.side
            );
            assert_decimal("Execution.shares", e.shares.as_deref());
            assert_decimal("Execution.cum_qty", e.cum_qty.as_deref());
        }
        msg::IN_ORDER_BOUND => {
            let m: proto::OrderBound = decode(frame);
            assert!(m.perm_id.is_some() && m.client_id.is_some() && m.order_id.is_some());
        }
        msg::IN_COMMISSIONS_REPORT => {
            let m: proto::CommissionAndFeesReport = decode(frame);
            assert!(m.exec_id.as_deref().is_some_and(|e| !e.is_empty()));
        }
        _ => {}
    }
}

fn check_data_frame(id: i32, frame: &Frame) {
    match id {
        msg::IN_POSITION => {
            let m: proto::Position = decode(frame);
            assert!(m.contract.is_some(), "Position without contract");
            assert_decimal("Position.position", m.position.as_deref());
        }
        msg::IN_POSITION_MULTI => {
            let m: proto::PositionMulti = decode(frame);
            assert!(m.contract.is_some(), "PositionMulti without contract");
            assert_decimal("PositionMulti.position", m.position.as_deref());
        }
        msg::IN_PORTFOLIO_VALUE => {
            let m: proto::PortfolioValue = decode(frame);
            assert!(m.contract.is_some(), "PortfolioValue without contract");
            assert_decimal("PortfolioValue.position", m.position.as_deref());
        }
        msg::IN_PNL_SINGLE => {
            let m: proto::PnLSingle = decode(frame);
            assert_decimal("PnLSingle.position", m.position.as_deref());
        }
        msg::IN_TICK_PRICE => {
            let m: proto::TickPrice = decode(frame);
            assert_optional_decimal("TickPrice.size", m.size.as_deref());
        }
        msg::IN_TICK_SIZE => {
            let m: proto::TickSize = decode(frame);
            assert_decimal("TickSize.size", m.size.as_deref());
        }
        msg::IN_CONTRACT_DATA => {
            let m: proto::ContractData = decode(frame);
            assert!(m.contract.is_some(), "ContractData without contract");
            let d = m.contract_details.expect("ContractData without contract_details");
            assert_optional_decimal("ContractDetails.min_size", d.min_size.as_deref());
            assert_optional_decimal("ContractDetails.size_increment", d.size_increment.as_deref());
            assert_optional_decimal(
                "ContractDetails.suggested_size_increment",
                d.suggested_size_increment.as_deref(),
            );
        }
        msg::IN_ERROR => {
            let m: proto::ErrorMessage = decode(frame);
            assert!(m.id.is_some(), "ErrorMessage without an explicit id: {m:?}");
            assert!(m.error_time.is_some(), "ErrorMessage without a time: {m:?}");
            if m.id == Some(-1) {
                assert!(contains(&frame.payload, &ID_MINUS_ONE), "{:02x?}", frame.payload);
            }
        }
        _ => {}
    }
}

/// Positions, account updates and summary, P&L, market data, contract data; returns what came back.
async fn exercise_data(raw: &mut Raw) -> Vec<Frame> {
    let mut frames = Vec::new();
    raw.send(msg::OUT_REQUEST_POSITIONS, &proto::PositionsRequest {})
        .await;
    frames.extend(raw.until("PositionEnd", is(msg::IN_POSITION_END)).await);
    let updates = proto::AccountDataRequest {
        subscribe: Some(true),
        acct_code: Some(ACCOUNT.to_string()),
    };
    raw.send(msg::OUT_REQUEST_ACCOUNT_DATA, &updates).await;
    frames.extend(
        raw.until("AccountDownloadEnd", is(msg::IN_ACCOUNT_DOWNLOAD_END))
            .await,
    );
    let summary = proto::AccountSummaryRequest {
        req_id: Some(9001),
        group: Some("All".to_string()),
        tags: Some("NetLiquidation,TotalCashValue,BuyingPower".to_string()),
    };
    raw.send(msg::OUT_REQUEST_ACCOUNT_SUMMARY, &summary).await;
    frames.extend(
        raw.until("AccountSummaryEnd", is(msg::IN_ACCOUNT_SUMMARY_END))
            .await,
    );
    let market = proto::MarketDataRequest {
        req_id: Some(9002),
        contract: Some(aapl()),
        ..Default::default()
    };
    raw.send(msg::OUT_REQUEST_MARKET_DATA, &market).await;
    frames.extend(raw.until("TickSize", is(msg::IN_TICK_SIZE)).await);
    let pnl = proto::PnLRequest {
        req_id: Some(9004),
        account: Some(ACCOUNT.to_string()),
        model_code: None,
    };
    raw.send(msg::OUT_REQUEST_PNL, &pnl).await;
    let single = proto::PnLSingleRequest {
        req_id: Some(9005),
        account: Some(ACCOUNT.to_string()),
        model_code: None,
        con_id: Some(AAPL_CON_ID),
    };
    raw.send(msg::OUT_REQUEST_PNL_SINGLE, &single).await;
    frames.extend(raw.until("PnLSingle", is(msg::IN_PNL_SINGLE)).await);
    let details = proto::ContractDataRequest {
        req_id: Some(9006),
        contract: Some(aapl()),
    };
    raw.send(msg::OUT_REQUEST_CONTRACT_DATA, &details).await;
    frames.extend(raw.until("ContractDataEnd", is(msg::IN_CONTRACT_DATA_END)).await);
    let multi = proto::PositionsMultiRequest {
        req_id: Some(9007),
        account: Some(ACCOUNT.to_string()),
        model_code: None,
    };
    raw.send(msg::OUT_REQUEST_POSITIONS_MULTI, &multi).await;
    frames.extend(
        raw.until("PositionMultiEnd", is(msg::IN_POSITION_MULTI_END))
            .await,
    );
    frames
}

/// A partly then fully filled market order, a cancelled and a working limit order, and the order queries.
async fn exercise_orders(sim: &SimHandle, raw: &mut Raw) -> Vec<Frame> {
    let mut frames = Vec::new();
    sim.inject(FaultAction::FreezeQuotes {
        symbol: "AAPL".into(),
    })
    .await
    .expect("freeze");
    assert!(
        sim.set_quote("AAPL", 10_000, 10_001, 10_000, 100)
            .await
            .expect("quote")
    );
    raw.send(msg::OUT_PLACE_ORDER, &rust_order(1, "150", None)).await;
    let partial = |f: &Frame| {
        order_status(f).is_some_and(|s| {
            s.order_id == Some(1)
                && s.filled.as_deref() == Some("100")
                && s.remaining.as_deref() == Some("50")
        })
    };
    frames.extend(raw.until("a partial fill of 100", partial).await);
    sim.inject(FaultAction::ThawQuotes {
        symbol: "AAPL".into(),
    })
    .await
    .expect("thaw");
    frames.extend(raw.until("Filled", status_is(1, "Filled")).await);
    raw.send(msg::OUT_PLACE_ORDER, &rust_order(2, "1", Some(1.0)))
        .await;
    frames.extend(raw.until("Submitted", status_is(2, "Submitted")).await);
    let cancel = proto::CancelOrderRequest {
        order_id: Some(2),
        order_cancel: Some(proto::OrderCancel::default()),
    };
    raw.send(msg::OUT_CANCEL_ORDER, &cancel).await;
    frames.extend(raw.until("error 202", |f| error_code(f) == Some(202)).await);
    raw.send(msg::OUT_PLACE_ORDER, &rust_order(3, "2", Some(1.0)))
        .await;
    frames.extend(raw.until("Submitted", status_is(3, "Submitted")).await);
    raw.send(msg::OUT_REQUEST_OPEN_ORDERS, &proto::OpenOrdersRequest {})
        .await;
    frames.extend(raw.until("OpenOrderEnd", is(msg::IN_OPEN_ORDER_END)).await);
    raw.send(msg::OUT_REQUEST_ALL_OPEN_ORDERS, &proto::AllOpenOrdersRequest {})
        .await;
    frames.extend(raw.until("OpenOrderEnd", is(msg::IN_OPEN_ORDER_END)).await);
    let executions = proto::ExecutionRequest {
        req_id: Some(9003),
        execution_filter: Some(proto::ExecutionFilter {
            client_id: Some(0),
            ..Default::default()
        }),
    };
    raw.send(msg::OUT_REQUEST_EXECUTIONS, &executions).await;
    frames.extend(
        raw.until("ExecutionDataEnd", is(msg::IN_EXECUTION_DATA_END))
            .await,
    );
    let completed = proto::CompletedOrdersRequest {
        api_only: Some(false),
    };
    raw.send(msg::OUT_REQUEST_COMPLETED_ORDERS, &completed).await;
    frames.extend(
        raw.until("CompletedOrdersEnd", is(msg::IN_COMPLETED_ORDERS_END))
            .await,
    );
    frames
}

#[tokio::test]
async fn every_frame_is_protobuf_with_numeric_decimal_strings_and_required_parts() {
    let sim = start(fast().with_sample_positions()).await;
    let (mut raw, mut frames) = session(&sim, 31).await;
    frames.extend(exercise_data(&mut raw).await);
    frames.extend(exercise_orders(&sim, &mut raw).await);
    raw.send(msg::OUT_REQUEST_IDS, &proto::IdsRequest { num_ids: Some(0) })
        .await;
    raw.send(
        msg::OUT_REQUEST_MANAGED_ACCOUNTS,
        &proto::ManagedAccountsRequest {},
    )
    .await;
    raw.send(
        msg::OUT_REQUEST_CURRENT_TIME_IN_MILLIS,
        &proto::CurrentTimeInMillisRequest {},
    )
    .await;
    frames.extend(
        raw.until("CurrentTimeInMillis", is(msg::IN_CURRENT_TIME_IN_MILLIS))
            .await,
    );
    // Pushes: ticks, P&L, account values and portfolio lines.
    frames.extend(raw.collect_for(Duration::from_millis(1_200)).await);

    let mut seen = BTreeSet::new();
    for frame in &frames {
        assert!(frame.wire_id > 200, "text frame with wire id {}", frame.wire_id);
        let id = frame.message_id().expect("protobuf");
        assert!(KNOWN_INCOMING.contains(&id), "unknown message id {id}");
        check_order_frame(id, frame);
        check_data_frame(id, frame);
        seen.insert(id);
    }
    for wanted in [
        msg::IN_POSITION,
        msg::IN_PORTFOLIO_VALUE,
        msg::IN_ACCOUNT_VALUE,
        msg::IN_ACCOUNT_SUMMARY,
        msg::IN_TICK_PRICE,
        msg::IN_TICK_SIZE,
        msg::IN_TICK_STRING,
        msg::IN_PNL,
        msg::IN_PNL_SINGLE,
        msg::IN_CONTRACT_DATA,
        msg::IN_POSITION_MULTI,
        msg::IN_OPEN_ORDER,
        msg::IN_ORDER_STATUS,
        msg::IN_EXECUTION_DATA,
        msg::IN_COMMISSIONS_REPORT,
        msg::IN_COMPLETED_ORDER,
        msg::IN_ERROR,
    ] {
        assert!(seen.contains(&wanted), "no message id {wanted} in the session");
    }
    assert_eq!(stats(&sim).await.bad_input_disconnects, 0);
    sim.shutdown().await;
}

// ---- IB's Python client's request shapes ----

/// What the frames about one order say: (wire id, status or error code).
fn order_story(frames: &[Frame], order_id: i32) -> Vec<(i32, String)> {
    let mut story = Vec::new();
    for f in frames {
        match f.message_id() {
            Some(msg::IN_OPEN_ORDER) => {
                let m: proto::OpenOrder = decode(f);
                if m.order_id == Some(order_id) {
                    let state = m.order_state.expect("order state");
                    story.push((f.wire_id, state.status.expect("status")));
                }
            }
            Some(msg::IN_ORDER_STATUS) => {
                let m: proto::OrderStatus = decode(f);
                if m.order_id == Some(order_id) {
                    story.push((f.wire_id, m.status.expect("status")));
                }
            }
            Some(msg::IN_ERROR) => {
                let m: proto::ErrorMessage = decode(f);
                if m.id == Some(order_id) {
                    story.push((f.wire_id, m.error_code.expect("code").to_string()));
                }
            }
            _ => {}
        }
    }
    story
}

fn accepted_story() -> Vec<(i32, String)> {
    [
        (205, "PreSubmitted"),
        (203, "PreSubmitted"),
        (205, "Submitted"),
        (203, "Submitted"),
    ]
    .map(|(id, s)| (id, s.to_string()))
    .to_vec()
}

#[tokio::test]
async fn python_place_order_with_explicit_defaults_and_unknown_tags_is_handled_like_rusts() {
    let sim = start(SimConfig::default()).await;
    let (mut raw, _) = session(&sim, 31).await;
    let python = python_order(2).encode_to_vec();
    // The shapes that matter: exemptCode -1 as ten bytes, empty softDollarTier {} and attachedOrders {}.
    assert!(contains(
        &python,
        &[
            0xc0, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
        ]
    ));
    assert!(contains(&python, &[0xca, 0x06, 0x00]), "softDollarTier {{}}");
    assert!(contains(&python, &[0x22, 0x00]), "attachedOrders {{}}");

    let mut rust = rust_order(1, "1", Some(1.0));
    if let Some(order) = rust.order.as_mut() {
        order.account = Some(ACCOUNT.to_string());
        order.order_ref = Some("example".to_string());
    }
    raw.send(msg::OUT_PLACE_ORDER, &rust).await;
    let rust_frames = raw.until("Submitted", status_is(1, "Submitted")).await;
    raw.send(msg::OUT_PLACE_ORDER, &python_order(2)).await;
    let python_frames = raw.until("Submitted", status_is(2, "Submitted")).await;
    assert_eq!(order_story(&rust_frames, 1), accepted_story());
    assert_eq!(order_story(&python_frames, 2), accepted_story());

    let open: proto::OpenOrder = decode(
        python_frames
            .iter()
            .rfind(|f| is(msg::IN_OPEN_ORDER)(f))
            .expect("an OpenOrder"),
    );
    let contract = open.contract.expect("contract");
    assert_eq!(
        (contract.con_id, contract.symbol.as_deref()),
        (Some(AAPL_CON_ID), Some("AAPL"))
    );
    let order = open.order.expect("order");
    assert_eq!(
        order.client_id,
        Some(31),
        "the owner is the StartApi client, not clientId 0"
    );
    assert_eq!(order.order_id, Some(2));
    assert!(order.perm_id.is_some_and(|p| p > 0), "a real perm id, not 0");
    assert_eq!(order.parent_id, Some(0));
    assert_eq!(
        (
            order.action.as_deref(),
            order.total_quantity.as_deref(),
            order.order_type.as_deref()
        ),
        (Some("BUY"), Some("1"), Some("LMT"))
    );
    assert_eq!((order.lmt_price, order.tif.as_deref()), (Some(1.0), Some("DAY")));
    assert_eq!(
        (order.account.as_deref(), order.order_ref.as_deref()),
        (Some(ACCOUNT), Some("example"))
    );
    let status = order_status(python_frames.last().expect("frame")).expect("status");
    assert_eq!(
        (
            status.filled.as_deref(),
            status.remaining.as_deref(),
            status.client_id
        ),
        (Some("0"), Some("1"), Some(31))
    );

    let ledger = sim.ledger().await.expect("ledger");
    assert_eq!(ledger.len(), 2);
    for (entry, order_id) in ledger.iter().zip([1, 2]) {
        assert_eq!(
            (entry.kind, entry.order_id, entry.client_id),
            (EntryKind::Place, Some(order_id), 31)
        );
        assert_eq!(entry.outcome, Outcome::Accepted);
        assert_eq!(
            (entry.symbol.as_deref(), entry.con_id),
            (Some("AAPL"), Some(AAPL_CON_ID))
        );
        assert_eq!(
            (
                entry.action.as_deref(),
                entry.quantity.as_deref(),
                entry.order_type.as_deref()
            ),
            (Some("BUY"), Some("1"), Some("LMT"))
        );
        assert_eq!(
            (entry.limit_price, entry.tif.as_deref()),
            (Some(1.0), Some("DAY"))
        );
        assert_eq!(
            (entry.account.as_deref(), entry.order_ref.as_deref()),
            (Some(ACCOUNT), Some("example"))
        );
    }
    assert_ne!(ledger[0].perm_id, ledger[1].perm_id);
    assert_eq!(stats(&sim).await.bad_input_disconnects, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn cancel_order_with_an_empty_order_cancel_cancels_and_answers_202() {
    let sim = start(SimConfig::default()).await;
    let (mut raw, _) = session(&sim, 31).await;
    raw.send(msg::OUT_PLACE_ORDER, &python_order(1)).await;
    raw.until("Submitted", status_is(1, "Submitted")).await;
    let cancel = proto::CancelOrderRequest {
        order_id: Some(1),
        order_cancel: Some(proto::OrderCancel::default()),
    };
    // `orderId: 1 orderCancel { }`: the empty sub-message is on the wire.
    assert_eq!(cancel.encode_to_vec(), [0x08, 0x01, 0x12, 0x00]);
    raw.send(msg::OUT_CANCEL_ORDER, &cancel).await;
    let frames = raw.until("error 202", |f| error_code(f) == Some(202)).await;
    let story = [
        (203, "PendingCancel"),
        (205, "Cancelled"),
        (203, "Cancelled"),
        (204, "202"),
    ]
    .map(|(id, s)| (id, s.to_string()));
    assert_eq!(order_story(&frames, 1), story);
    let ledger = sim.ledger().await.expect("ledger");
    let last = ledger.last().expect("the cancel");
    assert_eq!(
        (last.kind, last.order_id, &last.outcome),
        (EntryKind::Cancel, Some(1), &Outcome::Accepted)
    );
    sim.shutdown().await;
}

/// Places a market order that fills at once; returns its execution id (checked to come with req id −1).
async fn fill_market_order(raw: &mut Raw, order_id: i32, quantity: &str) -> String {
    raw.send(msg::OUT_PLACE_ORDER, &rust_order(order_id, quantity, None))
        .await;
    let frames = raw.until("Filled", status_is(order_id, "Filled")).await;
    let fills: Vec<proto::ExecutionDetails> = frames
        .iter()
        .filter(|f| is(msg::IN_EXECUTION_DATA)(f))
        .map(decode)
        .collect();
    assert_eq!(fills.len(), 1, "one fill");
    assert_eq!(fills[0].req_id, Some(-1), "live fills carry req id -1");
    let execution = fills[0].execution.clone().expect("execution");
    assert_eq!(execution.shares.as_deref(), Some(quantity));
    execution.exec_id.expect("exec id")
}

/// `reqExecutions(req_id, filter)`: the fills answered as (req id, exec id, client id); checks the end and the reports.
async fn executions(
    raw: &mut Raw,
    req_id: i32,
    filter: Option<proto::ExecutionFilter>,
) -> Vec<(i32, String, i32)> {
    let request = proto::ExecutionRequest {
        req_id: Some(req_id),
        execution_filter: filter,
    };
    raw.send(msg::OUT_REQUEST_EXECUTIONS, &request).await;
    let frames = raw
        .until("ExecutionDataEnd", is(msg::IN_EXECUTION_DATA_END))
        .await;
    let end: proto::ExecutionDetailsEnd = decode(frames.last().expect("end"));
    assert_eq!(end.req_id, Some(req_id));
    let mut fills = Vec::new();
    let mut reports = Vec::new();
    for f in &frames {
        match f.message_id() {
            Some(msg::IN_EXECUTION_DATA) => {
                let m: proto::ExecutionDetails = decode(f);
                let e = m.execution.expect("execution");
                fills.push((
                    m.req_id.expect("req id"),
                    e.exec_id.expect("exec id"),
                    e.client_id.expect("client"),
                ));
            }
            Some(msg::IN_COMMISSIONS_REPORT) => {
                let m: proto::CommissionAndFeesReport = decode(f);
                reports.push(m.exec_id.expect("exec id"));
            }
            _ => {}
        }
    }
    let ids: Vec<String> = fills.iter().map(|(_, id, _)| id.clone()).collect();
    assert_eq!(reports, ids, "a commission report after each fill");
    fills
}

#[tokio::test]
async fn executions_with_the_default_client_id_zero_filter_return_every_clients_fills() {
    let sim = start(fast()).await;
    sim.inject(FaultAction::FreezeQuotes {
        symbol: "AAPL".into(),
    })
    .await
    .expect("freeze");
    assert!(
        sim.set_quote("AAPL", 10_000, 10_001, 10_000, 1_000)
            .await
            .expect("quote")
    );
    let (mut a, _) = session(&sim, 31).await;
    let (mut b, _) = session(&sim, 32).await;
    let exec_a = fill_market_order(&mut a, 1, "10").await;
    let exec_b = fill_market_order(&mut b, 1, "20").await;
    let (mut python, _) = session(&sim, 33).await;

    let default_filter = proto::ExecutionFilter {
        client_id: Some(0),
        ..Default::default()
    };
    // `reqId: 9003 executionFilter { clientId: 0 }`, with the 0 on the wire.
    let request = proto::ExecutionRequest {
        req_id: Some(9003),
        execution_filter: Some(default_filter.clone()),
    };
    assert_eq!(
        request.encode_to_vec(),
        [0x08, 0xab, 0x46, 0x12, 0x02, 0x08, 0x00]
    );
    let all = executions(&mut python, 9003, Some(default_filter)).await;
    assert_eq!(all, [(9003, exec_a.clone(), 31), (9003, exec_b.clone(), 32)]);
    let unfiltered = executions(&mut python, 1, None).await;
    assert_eq!(unfiltered, [(1, exec_a.clone(), 31), (1, exec_b.clone(), 32)]);
    let only_31 = proto::ExecutionFilter {
        client_id: Some(31),
        ..Default::default()
    };
    assert_eq!(executions(&mut python, 2, Some(only_31)).await, [(2, exec_a, 31)]);
    sim.shutdown().await;
}

/// The request id of a req-id-keyed response, `None` for other frames.
fn response_req_id(frame: &Frame) -> Option<i32> {
    match frame.message_id()? {
        msg::IN_ACCOUNT_SUMMARY => decode::<proto::AccountSummary>(frame).req_id,
        msg::IN_ACCOUNT_SUMMARY_END => decode::<proto::AccountSummaryEnd>(frame).req_id,
        msg::IN_MARKET_DATA_TYPE => decode::<proto::MarketDataType>(frame).req_id,
        msg::IN_TICK_REQ_PARAMS => decode::<proto::TickReqParams>(frame).req_id,
        msg::IN_TICK_PRICE => decode::<proto::TickPrice>(frame).req_id,
        msg::IN_TICK_SIZE => decode::<proto::TickSize>(frame).req_id,
        msg::IN_TICK_STRING => decode::<proto::TickString>(frame).req_id,
        msg::IN_CONTRACT_DATA => decode::<proto::ContractData>(frame).req_id,
        msg::IN_CONTRACT_DATA_END => decode::<proto::ContractDataEnd>(frame).req_id,
        msg::IN_EXECUTION_DATA => decode::<proto::ExecutionDetails>(frame).req_id,
        msg::IN_EXECUTION_DATA_END => decode::<proto::ExecutionDetailsEnd>(frame).req_id,
        _ => None,
    }
}

/// Asserts that every frame of the answer `kinds` carries `req_id`, and returns how many did.
#[track_caller]
fn assert_echoed(frames: &[Frame], kinds: &[i32], req_id: i32) -> usize {
    let answers: Vec<Option<i32>> = frames
        .iter()
        .filter(|f| f.message_id().is_some_and(|id| kinds.contains(&id)))
        .map(response_req_id)
        .collect();
    assert!(
        answers.iter().all(|id| *id == Some(req_id)),
        "req id {req_id}: {answers:?}"
    );
    answers.len()
}

#[tokio::test]
async fn small_request_ids_are_echoed_verbatim_on_summary_market_data_contracts_and_executions() {
    let sim = start(fast()).await;
    let (mut raw, _) = session(&sim, 7).await;
    // Order id 1 shares the number space with request ids 1 and 2.
    fill_market_order(&mut raw, 1, "5").await;
    for req_id in [9001, 1, 2] {
        let summary = proto::AccountSummaryRequest {
            req_id: Some(req_id),
            group: Some("All".to_string()),
            tags: Some("NetLiquidation,TotalCashValue,BuyingPower".to_string()),
        };
        raw.send(msg::OUT_REQUEST_ACCOUNT_SUMMARY, &summary).await;
        let frames = raw
            .until("AccountSummaryEnd", is(msg::IN_ACCOUNT_SUMMARY_END))
            .await;
        let kinds = [msg::IN_ACCOUNT_SUMMARY, msg::IN_ACCOUNT_SUMMARY_END];
        assert_eq!(
            assert_echoed(&frames, &kinds, req_id),
            4,
            "three tags and the end"
        );
        let cancel = proto::CancelAccountSummary { req_id: Some(req_id) };
        raw.send(msg::OUT_CANCEL_ACCOUNT_SUMMARY, &cancel).await;

        // IB's Python client sends conId 0 and no tick list.
        let mut contract = aapl();
        contract.con_id = Some(0);
        let market = proto::MarketDataRequest {
            req_id: Some(req_id),
            contract: Some(contract.clone()),
            ..Default::default()
        };
        raw.send(msg::OUT_REQUEST_MARKET_DATA, &market).await;
        let frames = raw.until("the close tick", |f| {
            is(msg::IN_TICK_PRICE)(f) && decode::<proto::TickPrice>(f).tick_type == Some(9)
        });
        let frames = frames.await;
        let kinds = [
            msg::IN_MARKET_DATA_TYPE,
            msg::IN_TICK_REQ_PARAMS,
            msg::IN_TICK_PRICE,
            msg::IN_TICK_SIZE,
            msg::IN_TICK_STRING,
        ];
        assert!(
            assert_echoed(&frames, &kinds, req_id) >= 9,
            "type, params, 7 prices, size, string"
        );
        raw.send(
            msg::OUT_CANCEL_MARKET_DATA,
            &proto::CancelMarketData { req_id: Some(req_id) },
        )
        .await;

        let details = proto::ContractDataRequest {
            req_id: Some(req_id),
            contract: Some(contract),
        };
        raw.send(msg::OUT_REQUEST_CONTRACT_DATA, &details).await;
        let frames = raw.until("ContractDataEnd", is(msg::IN_CONTRACT_DATA_END)).await;
        let kinds = [msg::IN_CONTRACT_DATA, msg::IN_CONTRACT_DATA_END];
        assert_eq!(assert_echoed(&frames, &kinds, req_id), 2);

        let filter = proto::ExecutionFilter {
            client_id: Some(0),
            ..Default::default()
        };
        let fills = executions(&mut raw, req_id, Some(filter)).await;
        assert_eq!(fills.len(), 1);
        assert_eq!(fills[0].0, req_id);
    }
    let s = stats(&sim).await;
    assert_eq!((s.bad_input_disconnects, s.errors_sent.len()), (0, 0), "{s:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn market_data_type_request_is_accepted_silently() {
    let sim = start(SimConfig::default()).await;
    let (mut raw, _) = session(&sim, 31).await;
    let delayed = proto::MarketDataTypeRequest {
        market_data_type: Some(3),
    };
    assert_eq!(delayed.encode_to_vec(), [0x08, 0x03]);
    raw.send(msg::OUT_REQUEST_MARKET_DATA_TYPE, &delayed).await;
    raw.expect_silence(SILENCE).await;
    assert!(raw.current_time().await > 0);
    let s = stats(&sim).await;
    assert_eq!((s.bad_input_disconnects, s.errors_sent.len()), (0, 0), "{s:?}");
    assert_eq!(s.live_clients, vec![31]);
    sim.shutdown().await;
}

#[tokio::test]
async fn cancel_contract_data_is_accepted_and_ignored() {
    let sim = start(SimConfig::default()).await;
    let (mut raw, _) = session(&sim, 31).await;
    let details = proto::ContractDataRequest {
        req_id: Some(4),
        contract: Some(aapl()),
    };
    raw.send(msg::OUT_REQUEST_CONTRACT_DATA, &details).await;
    raw.until("ContractDataEnd", is(msg::IN_CONTRACT_DATA_END)).await;
    for req_id in [4, 99] {
        let cancel = proto::CancelContractData { req_id: Some(req_id) };
        let bytes = wire::encode_frame(msg::OUT_CANCEL_CONTRACT_DATA, &cancel);
        assert_eq!(bytes[4..8], 306_i32.to_be_bytes(), "wire id 306");
        raw.write(&bytes).await;
    }
    raw.expect_silence(SILENCE).await;
    assert!(raw.current_time().await > 0);
    let s = stats(&sim).await;
    assert_eq!((s.bad_input_disconnects, s.errors_sent.len()), (0, 0), "{s:?}");
    sim.shutdown().await;
}

/// A TWS request with its request id at tag 1 and a contract at tag 2, like `reqHistoricalData`.
#[derive(Clone, PartialEq, prost::Message)]
struct HistoricalDataRequest {
    #[prost(int32, optional, tag = "1")]
    req_id: Option<i32>,
    #[prost(message, optional, tag = "2")]
    contract: Option<proto::Contract>,
    #[prost(string, optional, tag = "3")]
    end_date_time: Option<String>,
}

#[tokio::test]
async fn unsupported_tws_request_answers_321_on_its_request_id_and_keeps_the_session() {
    let sim = start(SimConfig::default()).await;
    let (mut raw, _) = session(&sim, 31).await;
    let request = HistoricalDataRequest {
        req_id: Some(7),
        contract: Some(aapl()),
        end_date_time: Some(String::new()),
    };
    let bytes = wire::encode_frame(msg::OUT_REQUEST_HISTORICAL_DATA, &request);
    assert_eq!(bytes[4..8], 220_i32.to_be_bytes(), "wire id 220");
    raw.write(&bytes).await;
    let frames = raw.until("error 321", |f| error_code(f) == Some(321)).await;
    assert_eq!(frames.len(), 1, "only the error");
    let error: proto::ErrorMessage = decode(&frames[0]);
    assert_eq!(error.id, Some(7), "addressed to the request id");
    assert!(error.error_msg.as_deref().is_some_and(|m| !m.is_empty()));
    assert!(raw.current_time().await > 0, "the session goes on");
    let s = stats(&sim).await;
    assert_eq!((s.bad_input_disconnects, s.errors(321)), (0, 1));
    assert_eq!(s.live_clients, vec![31]);
    sim.shutdown().await;
}

// ---- bad input ----

/// The client id of the well-behaved client that watches every offence.
const BYSTANDER: i32 = 1;
/// The client id an offender uses once its session is up.
const OFFENDER: i32 = 2;

/// One kind of bad input.
#[derive(Debug, Clone, Copy)]
enum Offence {
    /// An HTTP request instead of `API\0`.
    Garbage,
    /// `v100..176`: a client without protobuf.
    NoProtobufHello,
    /// `reqCurrentTime` right after the handshake reply, before `StartApi`.
    RequestBeforeStartApi,
    /// A frame length prefix outside 4..=0xFFFFFF.
    Length(u32),
    /// A 3-byte body: shorter than the 4-byte message id.
    ShortBody,
    /// Wire id 200 + 999: protobuf, but no such request.
    UnknownMessageId,
    /// `PlaceOrder` whose payload ends inside a varint.
    MalformedPayload,
    /// `reqCurrentTime` as a text frame (wire id 49).
    TextFrame,
    /// Half a frame, then EOF.
    EofMidFrame,
}

impl Offence {
    /// Whether the offender completes `StartApi` before misbehaving.
    fn after_start_api(self) -> bool {
        !matches!(
            self,
            Self::Garbage | Self::NoProtobufHello | Self::RequestBeforeStartApi
        )
    }
}

/// Opens a connection and commits `offence` on it.
async fn offend(sim: &SimHandle, offence: Offence) -> Raw {
    let mut raw = if offence.after_start_api() {
        session(sim, OFFENDER).await.0
    } else {
        Raw::open(sim).await
    };
    match offence {
        Offence::Garbage => raw.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await,
        Offence::NoProtobufHello => raw.hello("v100..176").await,
        Offence::RequestBeforeStartApi => {
            raw.hello("v100..226").await;
            assert_eq!(reply_fields(&raw.reply().await)[0], "226");
            raw.send(msg::OUT_REQUEST_CURRENT_TIME, &proto::CurrentTimeRequest {})
                .await;
        }
        Offence::Length(len) => {
            let mut bytes = len.to_be_bytes().to_vec();
            bytes.extend_from_slice(&[0x00, 0x00, 0x01, 0x0f, 0x08, 0x01]);
            raw.write(&bytes).await;
        }
        Offence::ShortBody => raw.write(&[0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x01]).await,
        Offence::UnknownMessageId => raw.send(999, &proto::CurrentTimeRequest {}).await,
        Offence::MalformedPayload => {
            let frame = Frame {
                wire_id: msg::OUT_PLACE_ORDER + wire::PROTOBUF_ID_OFFSET,
                payload: vec![0x08, 0xff, 0xff],
            };
            raw.write(&frame.to_bytes()).await;
        }
        Offence::TextFrame => {
            let frame = Frame {
                wire_id: msg::OUT_REQUEST_CURRENT_TIME,
                payload: b"1\0".to_vec(),
            };
            raw.write(&frame.to_bytes()).await;
        }
        Offence::EofMidFrame => {
            raw.write(&[0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00]).await;
            timeout(WITHIN, raw.stream.shutdown())
                .await
                .expect("half-closed in time")
                .expect("half-closed");
        }
    }
    raw
}

/// Stats once the exchange has counted `want` bad-input disconnects.
async fn counted(sim: &SimHandle, bystander: &mut Raw, want: u64) -> SimStats {
    for _ in 0..20 {
        let s = stats(sim).await;
        if s.bad_input_disconnects >= want {
            return s;
        }
        // A round trip through the exchange's queue, behind the closed connection's report.
        bystander.current_time().await;
    }
    panic!("bad_input_disconnects never reached {want}");
}

/// Commits each offence in turn and checks that only the offender's connection closes, unanswered.
async fn bad_input_closes_only_the_offender(offences: &[Offence]) {
    let sim = start(SimConfig::default()).await;
    let (mut bystander, _) = session(&sim, BYSTANDER).await;
    let mut connections = 1;
    for (done, &offence) in (1..).zip(offences) {
        let offender = offend(&sim, offence).await;
        let leftover = offender.closed().await;
        assert!(
            leftover.is_empty(),
            "{offence:?}: answered {leftover:02x?} before closing"
        );
        let s = counted(&sim, &mut bystander, done).await;
        assert_eq!(s.bad_input_disconnects, done, "{offence:?} counted once");
        assert_eq!(s.live_clients, vec![BYSTANDER], "{offence:?}");
        if offence.after_start_api() {
            connections += 1;
        }
        assert_eq!(s.connections, connections, "{offence:?}");
        assert!(
            bystander.current_time().await > 0,
            "the bystander is still served"
        );
    }
    // The offender's client id is free again: its session is gone, not lingering.
    let (mut again, _) = session(&sim, OFFENDER).await;
    assert!(again.current_time().await > 0);
    assert!(bystander.current_time().await > 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn garbage_instead_of_the_api_prefix_closes_only_that_connection() {
    bad_input_closes_only_the_offender(&[Offence::Garbage]).await;
}

#[tokio::test]
async fn python_hello_without_protobuf_is_closed_without_a_version_reply() {
    bad_input_closes_only_the_offender(&[Offence::NoProtobufHello]).await;
}

#[tokio::test]
async fn request_before_start_api_closes_only_that_connection_unanswered() {
    bad_input_closes_only_the_offender(&[Offence::RequestBeforeStartApi]).await;
}

#[tokio::test]
async fn bad_length_prefixes_close_only_that_connection() {
    let lengths = [0, 2, 0x0100_0000, u32::MAX].map(Offence::Length);
    bad_input_closes_only_the_offender(&lengths).await;
}

#[tokio::test]
async fn frame_body_shorter_than_a_message_id_closes_only_that_connection() {
    bad_input_closes_only_the_offender(&[Offence::ShortBody]).await;
}

#[tokio::test]
async fn unknown_protobuf_message_id_closes_only_that_connection() {
    bad_input_closes_only_the_offender(&[Offence::UnknownMessageId]).await;
}

#[tokio::test]
async fn malformed_place_order_payload_closes_only_that_connection() {
    bad_input_closes_only_the_offender(&[Offence::MalformedPayload]).await;
}

#[tokio::test]
async fn text_framed_request_closes_only_that_connection() {
    bad_input_closes_only_the_offender(&[Offence::TextFrame]).await;
}

#[tokio::test]
async fn eof_mid_frame_closes_only_that_connection() {
    bad_input_closes_only_the_offender(&[Offence::EofMidFrame]).await;
}

/// Waits (by bystander round trips through the exchange's queue) until only `live` clients remain.
async fn settled(sim: &SimHandle, bystander: &mut Raw, live: &[i32]) -> SimStats {
    for _ in 0..20 {
        let s = stats(sim).await;
        if s.live_clients == live {
            return s;
        }
        bystander.current_time().await;
    }
    panic!("live clients never became {live:?}");
}

#[tokio::test]
async fn client_that_resets_its_socket_with_frames_unread_is_not_bad_input() {
    let sim = start(SimConfig::default().with_sample_positions()).await;
    let (mut bystander, _) = session(&sim, BYSTANDER).await;

    // Mid-session: positions arrive and sit unread, so closing the socket sends a reset, not a FIN.
    let (mut leaver, _) = session(&sim, OFFENDER).await;
    leaver
        .send(msg::OUT_REQUEST_POSITIONS, &proto::PositionsRequest {})
        .await;
    let mut byte = [0u8; 1];
    let peeked = timeout(WITHIN, leaver.stream.peek(&mut byte))
        .await
        .expect("positions in time");
    assert_eq!(peeked.expect("peek"), 1);
    drop(leaver);
    let s = settled(&sim, &mut bystander, &[BYSTANDER]).await;
    assert_eq!(s.bad_input_disconnects, 0, "a departing client is not bad input");

    // Mid-handshake: the reply sits unread when the client goes away.
    let mut leaver = Raw::open(&sim).await;
    leaver.hello("v100..226").await;
    let peeked = timeout(WITHIN, leaver.stream.peek(&mut byte))
        .await
        .expect("reply in time");
    assert_eq!(peeked.expect("peek"), 1);
    drop(leaver);
    // It never started a session; a whole new session's handshake gives its task time to see the reset.
    let mut after = Raw::open(&sim).await;
    after.hello("v100..226").await;
    after.reply().await;
    after.start_api(3).await;
    after.until("NextValidId", is(msg::IN_NEXT_VALID_ID)).await;
    assert!(bystander.current_time().await > 0);
    let s = stats(&sim).await;
    assert_eq!(
        s.bad_input_disconnects, 0,
        "a client leaving mid-handshake is not bad input"
    );
    assert_eq!(s.live_clients, vec![BYSTANDER, 3]);
    sim.shutdown().await;
}

#[tokio::test]
async fn absurd_order_quantity_is_refused_and_the_simulator_stays_up() {
    let sim = start(SimConfig::default()).await;
    let (mut bystander, _) = session(&sim, BYSTANDER).await;
    let (mut raw, _) = session(&sim, OFFENDER).await;
    // Decimal::MAX shares: a well-formed request TWS refuses (201), as it does any order the margin cannot carry.
    let absurd = rust_order(1, "79228162514264337593543950335", None);
    raw.send(msg::OUT_PLACE_ORDER, &absurd).await;
    let frames = raw.until("a refusal", |f| is(msg::IN_ERROR)(f)).await;
    let refusal: proto::ErrorMessage = decode(frames.last().expect("the error"));
    assert_eq!((refusal.id, refusal.error_code), (Some(1), Some(201)));
    assert!(raw.current_time().await > 0, "the session goes on");
    assert!(bystander.current_time().await > 0, "the simulator is up");
    let ledger = sim.ledger().await.expect("ledger");
    assert!(matches!(ledger[0].outcome, Outcome::Refused { code: 201, .. }));
    sim.shutdown().await;
}

// ---- arbitrary bytes ----

/// Cases per run: `PROPTEST_CASES`, else 64 (this is the quick tier).
fn proptest_cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Raw bytes, or frames with request-range wire ids and random payloads (which reach the decoders).
fn junk() -> impl Strategy<Value = Vec<u8>> {
    let raw = proptest::collection::vec(any::<u8>(), 0..512);
    let frame = (195..=330_i32, proptest::collection::vec(any::<u8>(), 0..64))
        .prop_map(|(wire_id, payload)| Frame { wire_id, payload }.to_bytes());
    let frames = proptest::collection::vec(frame, 1..8).prop_map(|frames| frames.concat());
    prop_oneof![raw, frames]
}

#[test]
fn arbitrary_bytes_after_start_api_never_take_the_simulator_down() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt.block_on(start(fast()));
    let next_id = AtomicI32::new(1_000);
    let config = Config {
        cases: proptest_cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&junk(), |bytes| {
        rt.block_on(async {
            let id = next_id.fetch_add(2, Ordering::Relaxed);
            let (mut fuzzer, _) = session(&sim, id).await;
            fuzzer.write_lenient(&bytes).await;
            let (mut fresh, _) = session(&sim, id + 1).await;
            assert!(fresh.current_time().await > 0, "a fresh client is served");
        });
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    rt.block_on(async {
        let s = stats(&sim).await;
        assert!(s.connections >= 2 * u64::from(proptest_cases()), "{s:?}");
        sim.shutdown().await;
    });
}
