//! Hand-written prost messages and message ids of the TWS API protobuf wire format; owns no framing, no state, no matching.
//!
//! Struct and field names follow ibapi 5.5's generated `protobuf.rs` (itself generated from IB's `.proto`
//! files) so the two can be cross-checked; tag numbers and wire types are checked against that file.
//! Only the fields the simulator reads or writes are declared: prost skips unknown tags on decode.

use std::collections::HashMap;

/// Canonical message ids (without the +200 protobuf offset), named after ibapi's
/// `IncomingMessages` (`IN_*`, server→client) and `OutgoingMessages` (`OUT_*`, client→server).
pub mod msg {
    /// Server→client: a price tick.
    pub const IN_TICK_PRICE: i32 = 1;
    /// Server→client: a size tick.
    pub const IN_TICK_SIZE: i32 = 2;
    /// Server→client: an order's status.
    pub const IN_ORDER_STATUS: i32 = 3;
    /// Server→client: an error or notice (`ErrorMessage`).
    pub const IN_ERROR: i32 = 4;
    /// Server→client: an open order.
    pub const IN_OPEN_ORDER: i32 = 5;
    /// Server→client: an account value (`reqAccountUpdates`).
    pub const IN_ACCOUNT_VALUE: i32 = 6;
    /// Server→client: a portfolio line (`reqAccountUpdates`).
    pub const IN_PORTFOLIO_VALUE: i32 = 7;
    /// Server→client: the account update time.
    pub const IN_ACCOUNT_UPDATE_TIME: i32 = 8;
    /// Server→client: the next valid order id.
    pub const IN_NEXT_VALID_ID: i32 = 9;
    /// Server→client: one contract-details match.
    pub const IN_CONTRACT_DATA: i32 = 10;
    /// Server→client: an execution (`ExecutionDetails`).
    pub const IN_EXECUTION_DATA: i32 = 11;
    /// Server→client: the managed accounts list.
    pub const IN_MANAGED_ACCOUNTS: i32 = 15;
    /// Server→client: bond contract details (same proto as `ContractData`).
    pub const IN_BOND_CONTRACT_DATA: i32 = 18;
    /// Server→client: an option computation tick.
    pub const IN_TICK_OPTION_COMPUTATION: i32 = 21;
    /// Server→client: a generic (double) tick.
    pub const IN_TICK_GENERIC: i32 = 45;
    /// Server→client: a string tick.
    pub const IN_TICK_STRING: i32 = 46;
    /// Server→client: the current time in seconds.
    pub const IN_CURRENT_TIME: i32 = 49;
    /// Server→client: a real-time bar.
    pub const IN_REAL_TIME_BARS: i32 = 50;
    /// Server→client: end of contract details.
    pub const IN_CONTRACT_DATA_END: i32 = 52;
    /// Server→client: end of open orders (`OpenOrdersEnd`).
    pub const IN_OPEN_ORDER_END: i32 = 53;
    /// Server→client: end of an account download (`AccountDataEnd`).
    pub const IN_ACCOUNT_DOWNLOAD_END: i32 = 54;
    /// Server→client: end of executions (`ExecutionDetailsEnd`).
    pub const IN_EXECUTION_DATA_END: i32 = 55;
    /// Server→client: end of a snapshot.
    pub const IN_TICK_SNAPSHOT_END: i32 = 57;
    /// Server→client: the market data type of a subscription.
    pub const IN_MARKET_DATA_TYPE: i32 = 58;
    /// Server→client: a commission report (`CommissionAndFeesReport`).
    pub const IN_COMMISSIONS_REPORT: i32 = 59;
    /// Server→client: a position.
    pub const IN_POSITION: i32 = 61;
    /// Server→client: end of positions.
    pub const IN_POSITION_END: i32 = 62;
    /// Server→client: an account summary value.
    pub const IN_ACCOUNT_SUMMARY: i32 = 63;
    /// Server→client: end of an account summary.
    pub const IN_ACCOUNT_SUMMARY_END: i32 = 64;
    /// Server→client: a position (multi-account variant).
    pub const IN_POSITION_MULTI: i32 = 71;
    /// Server→client: end of multi-account positions.
    pub const IN_POSITION_MULTI_END: i32 = 72;
    /// Server→client: an account value (multi-account variant).
    pub const IN_ACCOUNT_UPDATE_MULTI: i32 = 73;
    /// Server→client: end of multi-account account values.
    pub const IN_ACCOUNT_UPDATE_MULTI_END: i32 = 74;
    /// Server→client: tick parameters of a market data subscription.
    pub const IN_TICK_REQ_PARAMS: i32 = 81;
    /// Server→client: account profit and loss.
    pub const IN_PNL: i32 = 94;
    /// Server→client: single-position profit and loss.
    pub const IN_PNL_SINGLE: i32 = 95;
    /// Server→client: a perm id bound to an API order id.
    pub const IN_ORDER_BOUND: i32 = 100;
    /// Server→client: a completed order.
    pub const IN_COMPLETED_ORDER: i32 = 101;
    /// Server→client: end of completed orders.
    pub const IN_COMPLETED_ORDERS_END: i32 = 102;
    /// Server→client: the current time in milliseconds.
    pub const IN_CURRENT_TIME_IN_MILLIS: i32 = 109;

    /// Client→server: subscribe to market data.
    pub const OUT_REQUEST_MARKET_DATA: i32 = 1;
    /// Client→server: cancel market data.
    pub const OUT_CANCEL_MARKET_DATA: i32 = 2;
    /// Client→server: place or modify an order.
    pub const OUT_PLACE_ORDER: i32 = 3;
    /// Client→server: cancel an order.
    pub const OUT_CANCEL_ORDER: i32 = 4;
    /// Client→server: this client's open orders.
    pub const OUT_REQUEST_OPEN_ORDERS: i32 = 5;
    /// Client→server: subscribe to or stop account updates.
    pub const OUT_REQUEST_ACCOUNT_DATA: i32 = 6;
    /// Client→server: request executions.
    pub const OUT_REQUEST_EXECUTIONS: i32 = 7;
    /// Client→server: request the next valid order id.
    pub const OUT_REQUEST_IDS: i32 = 8;
    /// Client→server: request contract details.
    pub const OUT_REQUEST_CONTRACT_DATA: i32 = 9;
    /// Client→server: bind TWS-GUI orders (client id 0 only).
    pub const OUT_REQUEST_AUTO_OPEN_ORDERS: i32 = 15;
    /// Client→server: every client's open orders.
    pub const OUT_REQUEST_ALL_OPEN_ORDERS: i32 = 16;
    /// Client→server: request the managed accounts list.
    pub const OUT_REQUEST_MANAGED_ACCOUNTS: i32 = 17;
    /// Client→server: request historical bars.
    pub const OUT_REQUEST_HISTORICAL_DATA: i32 = 20;
    /// Client→server: request the current time in seconds.
    pub const OUT_REQUEST_CURRENT_TIME: i32 = 49;
    /// Client→server: subscribe to real-time bars.
    pub const OUT_REQUEST_REAL_TIME_BARS: i32 = 50;
    /// Client→server: cancel real-time bars.
    pub const OUT_CANCEL_REAL_TIME_BARS: i32 = 51;
    /// Client→server: cancel every open order.
    pub const OUT_REQUEST_GLOBAL_CANCEL: i32 = 58;
    /// Client→server: switch the market data type.
    pub const OUT_REQUEST_MARKET_DATA_TYPE: i32 = 59;
    /// Client→server: subscribe to positions.
    pub const OUT_REQUEST_POSITIONS: i32 = 61;
    /// Client→server: subscribe to an account summary.
    pub const OUT_REQUEST_ACCOUNT_SUMMARY: i32 = 62;
    /// Client→server: cancel an account summary.
    pub const OUT_CANCEL_ACCOUNT_SUMMARY: i32 = 63;
    /// Client→server: cancel positions.
    pub const OUT_CANCEL_POSITIONS: i32 = 64;
    /// Client→server: start the API session (carries the client id).
    pub const OUT_START_API: i32 = 71;
    /// Client→server: subscribe to multi-account positions.
    pub const OUT_REQUEST_POSITIONS_MULTI: i32 = 74;
    /// Client→server: cancel multi-account positions.
    pub const OUT_CANCEL_POSITIONS_MULTI: i32 = 75;
    /// Client→server: subscribe to multi-account account values.
    pub const OUT_REQUEST_ACCOUNT_UPDATES_MULTI: i32 = 76;
    /// Client→server: cancel multi-account account values.
    pub const OUT_CANCEL_ACCOUNT_UPDATES_MULTI: i32 = 77;
    /// Client→server: subscribe to account profit and loss.
    pub const OUT_REQUEST_PNL: i32 = 92;
    /// Client→server: cancel account profit and loss.
    pub const OUT_CANCEL_PNL: i32 = 93;
    /// Client→server: subscribe to single-position profit and loss.
    pub const OUT_REQUEST_PNL_SINGLE: i32 = 94;
    /// Client→server: cancel single-position profit and loss.
    pub const OUT_CANCEL_PNL_SINGLE: i32 = 95;
    /// Client→server: request completed orders.
    pub const OUT_REQUEST_COMPLETED_ORDERS: i32 = 99;
    /// Client→server: request the current time in milliseconds.
    pub const OUT_REQUEST_CURRENT_TIME_IN_MILLIS: i32 = 105;
    /// Client→server: cancel a contract-details request.
    pub const OUT_CANCEL_CONTRACT_DATA: i32 = 106;
}

// ---------------------------------------------------------------------------------------------
// Shared sub-messages
// ---------------------------------------------------------------------------------------------

/// An instrument, as carried inside requests and responses.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Contract {
    /// IB contract id (0 or absent means unset).
    #[prost(int32, optional, tag = "1")]
    pub con_id: Option<i32>,
    /// Underlying symbol.
    #[prost(string, optional, tag = "2")]
    pub symbol: Option<String>,
    /// Security type: STK, OPT, FUT, CASH, …
    #[prost(string, optional, tag = "3")]
    pub sec_type: Option<String>,
    /// Expiry as YYYYMMDD or contract month YYYYMM.
    #[prost(string, optional, tag = "4")]
    pub last_trade_date_or_contract_month: Option<String>,
    /// Option strike.
    #[prost(double, optional, tag = "5")]
    pub strike: Option<f64>,
    /// Option right: "C" or "P" only.
    #[prost(string, optional, tag = "6")]
    pub right: Option<String>,
    /// Contract multiplier.
    #[prost(double, optional, tag = "7")]
    pub multiplier: Option<f64>,
    /// Routing exchange, e.g. SMART.
    #[prost(string, optional, tag = "8")]
    pub exchange: Option<String>,
    /// Primary listing exchange.
    #[prost(string, optional, tag = "9")]
    pub primary_exch: Option<String>,
    /// Trading currency.
    #[prost(string, optional, tag = "10")]
    pub currency: Option<String>,
    /// Local exchange symbol.
    #[prost(string, optional, tag = "11")]
    pub local_symbol: Option<String>,
    /// Trading class.
    #[prost(string, optional, tag = "12")]
    pub trading_class: Option<String>,
    /// Security id type: ISIN, CUSIP, …
    #[prost(string, optional, tag = "13")]
    pub sec_id_type: Option<String>,
    /// Security id of `sec_id_type`.
    #[prost(string, optional, tag = "14")]
    pub sec_id: Option<String>,
    /// Free-text description.
    #[prost(string, optional, tag = "15")]
    pub description: Option<String>,
    /// Issuer id.
    #[prost(string, optional, tag = "16")]
    pub issuer_id: Option<String>,
    /// Delta-neutral hedge component.
    #[prost(message, optional, tag = "17")]
    pub delta_neutral_contract: Option<DeltaNeutralContract>,
    /// Whether expired contracts are included in a lookup.
    #[prost(bool, optional, tag = "18")]
    pub include_expired: Option<bool>,
    /// Combo legs description.
    #[prost(string, optional, tag = "19")]
    pub combo_legs_descrip: Option<String>,
    /// Combo (BAG) legs.
    #[prost(message, repeated, tag = "20")]
    pub combo_legs: Vec<ComboLeg>,
    /// Last trade date as YYYYMMDD.
    #[prost(string, optional, tag = "21")]
    pub last_trade_date: Option<String>,
}

/// The delta-neutral component of a contract.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeltaNeutralContract {
    /// Hedge contract id.
    #[prost(int32, optional, tag = "1")]
    pub con_id: Option<i32>,
    /// Hedge delta.
    #[prost(double, optional, tag = "2")]
    pub delta: Option<f64>,
    /// Hedge price.
    #[prost(double, optional, tag = "3")]
    pub price: Option<f64>,
}

/// One leg of a combo contract.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ComboLeg {
    /// Leg contract id.
    #[prost(int32, optional, tag = "1")]
    pub con_id: Option<i32>,
    /// Leg ratio.
    #[prost(int32, optional, tag = "2")]
    pub ratio: Option<i32>,
    /// Leg action: BUY, SELL, SSHORT.
    #[prost(string, optional, tag = "3")]
    pub action: Option<String>,
    /// Leg exchange.
    #[prost(string, optional, tag = "4")]
    pub exchange: Option<String>,
    /// Open/close indicator.
    #[prost(int32, optional, tag = "5")]
    pub open_close: Option<i32>,
    /// Short sale slot.
    #[prost(int32, optional, tag = "6")]
    pub short_sales_slot: Option<i32>,
    /// Designated location for short sales.
    #[prost(string, optional, tag = "7")]
    pub designated_location: Option<String>,
    /// Exempt code (-1 means unset).
    #[prost(int32, optional, tag = "8")]
    pub exempt_code: Option<i32>,
    /// Per-leg price.
    #[prost(double, optional, tag = "9")]
    pub per_leg_price: Option<f64>,
}

/// A soft-dollar tier (IB's Python client always sends an empty one).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SoftDollarTier {
    /// Tier name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// Tier value.
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
    /// Tier display name.
    #[prost(string, optional, tag = "3")]
    pub display_name: Option<String>,
}

/// An order; only the fields the simulator uses (IB's `Order` has ~145 tags).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Order {
    /// Placing client id (0 or absent means "the connection's client").
    #[prost(int32, optional, tag = "1")]
    pub client_id: Option<i32>,
    /// API order id.
    #[prost(int32, optional, tag = "2")]
    pub order_id: Option<i32>,
    /// IB permanent id (0 or absent means unset).
    #[prost(int64, optional, tag = "3")]
    pub perm_id: Option<i64>,
    /// Parent order id for brackets (0 means none).
    #[prost(int32, optional, tag = "4")]
    pub parent_id: Option<i32>,
    /// BUY, SELL, SSHORT or SLONG.
    #[prost(string, optional, tag = "5")]
    pub action: Option<String>,
    /// Total quantity as a decimal string.
    #[prost(string, optional, tag = "6")]
    pub total_quantity: Option<String>,
    /// Display size for iceberg orders.
    #[prost(int32, optional, tag = "7")]
    pub display_size: Option<i32>,
    /// Order type: MKT, LMT, STP, "STP LMT", …
    #[prost(string, optional, tag = "8")]
    pub order_type: Option<String>,
    /// Limit price.
    #[prost(double, optional, tag = "9")]
    pub lmt_price: Option<f64>,
    /// Auxiliary (stop) price.
    #[prost(double, optional, tag = "10")]
    pub aux_price: Option<f64>,
    /// Time in force: DAY, GTC, IOC, …
    #[prost(string, optional, tag = "11")]
    pub tif: Option<String>,
    /// Account code.
    #[prost(string, optional, tag = "12")]
    pub account: Option<String>,
    /// All-or-none flag.
    #[prost(bool, optional, tag = "16")]
    pub all_or_none: Option<bool>,
    /// Hidden order flag.
    #[prost(bool, optional, tag = "18")]
    pub hidden: Option<bool>,
    /// Allow execution outside regular trading hours.
    #[prost(bool, optional, tag = "19")]
    pub outside_rth: Option<bool>,
    /// Trailing percent for TRAIL orders.
    #[prost(double, optional, tag = "22")]
    pub trailing_percent: Option<f64>,
    /// Initial stop price for TRAIL orders.
    #[prost(double, optional, tag = "23")]
    pub trail_stop_price: Option<f64>,
    /// Good-after time.
    #[prost(string, optional, tag = "25")]
    pub good_after_time: Option<String>,
    /// Good-till date for GTD orders.
    #[prost(string, optional, tag = "26")]
    pub good_till_date: Option<String>,
    /// One-cancels-all group name.
    #[prost(string, optional, tag = "27")]
    pub oca_group: Option<String>,
    /// Client-chosen order reference.
    #[prost(string, optional, tag = "28")]
    pub order_ref: Option<String>,
    /// OCA type: 1 cancel with block, 2 reduce with block, 3 reduce without block.
    #[prost(int32, optional, tag = "30")]
    pub oca_type: Option<i32>,
    /// Stop trigger method.
    #[prost(int32, optional, tag = "31")]
    pub trigger_method: Option<i32>,
    /// What-if (margin preview) flag.
    #[prost(bool, optional, tag = "65")]
    pub what_if: Option<bool>,
    /// Transmit flag (false holds the order in TWS).
    #[prost(bool, optional, tag = "66")]
    pub transmit: Option<bool>,
    /// Exempt code (-1 means unset).
    #[prost(int32, optional, tag = "72")]
    pub exempt_code: Option<i32>,
    /// Model code.
    #[prost(string, optional, tag = "103")]
    pub model_code: Option<String>,
    /// Soft-dollar tier (present but empty from IB's Python client).
    #[prost(message, optional, tag = "105")]
    pub soft_dollar_tier: Option<SoftDollarTier>,
    /// Cash quantity.
    #[prost(double, optional, tag = "106")]
    pub cash_qty: Option<f64>,
    /// Filled quantity as a decimal string (completed orders).
    #[prost(string, optional, tag = "115")]
    pub filled_quantity: Option<String>,
    /// Parent's permanent id.
    #[prost(int64, optional, tag = "121")]
    pub parent_perm_id: Option<i64>,
}

/// The state of an order (status, what-if margins, commissions).
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrderState {
    /// Order status string (required by ibapi, never empty).
    #[prost(string, optional, tag = "1")]
    pub status: Option<String>,
    /// Initial margin before the order.
    #[prost(double, optional, tag = "2")]
    pub init_margin_before: Option<f64>,
    /// Maintenance margin before the order.
    #[prost(double, optional, tag = "3")]
    pub maint_margin_before: Option<f64>,
    /// Equity with loan before the order.
    #[prost(double, optional, tag = "4")]
    pub equity_with_loan_before: Option<f64>,
    /// Initial margin change.
    #[prost(double, optional, tag = "5")]
    pub init_margin_change: Option<f64>,
    /// Maintenance margin change.
    #[prost(double, optional, tag = "6")]
    pub maint_margin_change: Option<f64>,
    /// Equity with loan change.
    #[prost(double, optional, tag = "7")]
    pub equity_with_loan_change: Option<f64>,
    /// Initial margin after the order.
    #[prost(double, optional, tag = "8")]
    pub init_margin_after: Option<f64>,
    /// Maintenance margin after the order.
    #[prost(double, optional, tag = "9")]
    pub maint_margin_after: Option<f64>,
    /// Equity with loan after the order.
    #[prost(double, optional, tag = "10")]
    pub equity_with_loan_after: Option<f64>,
    /// Commission and fees.
    #[prost(double, optional, tag = "11")]
    pub commission_and_fees: Option<f64>,
    /// Minimum commission and fees.
    #[prost(double, optional, tag = "12")]
    pub min_commission_and_fees: Option<f64>,
    /// Maximum commission and fees.
    #[prost(double, optional, tag = "13")]
    pub max_commission_and_fees: Option<f64>,
    /// Currency of the commission and fees.
    #[prost(string, optional, tag = "14")]
    pub commission_and_fees_currency: Option<String>,
    /// Currency of the margin figures.
    #[prost(string, optional, tag = "15")]
    pub margin_currency: Option<String>,
    /// Suggested size as a decimal string.
    #[prost(string, optional, tag = "25")]
    pub suggested_size: Option<String>,
    /// Rejection reason.
    #[prost(string, optional, tag = "26")]
    pub reject_reason: Option<String>,
    /// Warning text.
    #[prost(string, optional, tag = "28")]
    pub warning_text: Option<String>,
    /// Completion time (completed orders).
    #[prost(string, optional, tag = "29")]
    pub completed_time: Option<String>,
    /// Completion status (completed orders).
    #[prost(string, optional, tag = "30")]
    pub completed_status: Option<String>,
}

/// Static details of a contract.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContractDetails {
    /// Market name.
    #[prost(string, optional, tag = "1")]
    pub market_name: Option<String>,
    /// Minimum price increment as a decimal string.
    #[prost(string, optional, tag = "2")]
    pub min_tick: Option<String>,
    /// Comma-separated valid order types.
    #[prost(string, optional, tag = "3")]
    pub order_types: Option<String>,
    /// Comma-separated valid exchanges.
    #[prost(string, optional, tag = "4")]
    pub valid_exchanges: Option<String>,
    /// Price magnifier.
    #[prost(int32, optional, tag = "5")]
    pub price_magnifier: Option<i32>,
    /// Underlying contract id.
    #[prost(int32, optional, tag = "6")]
    pub under_con_id: Option<i32>,
    /// Descriptive long name.
    #[prost(string, optional, tag = "7")]
    pub long_name: Option<String>,
    /// Contract month (derivatives).
    #[prost(string, optional, tag = "8")]
    pub contract_month: Option<String>,
    /// Industry classification.
    #[prost(string, optional, tag = "9")]
    pub industry: Option<String>,
    /// Category classification.
    #[prost(string, optional, tag = "10")]
    pub category: Option<String>,
    /// Subcategory classification.
    #[prost(string, optional, tag = "11")]
    pub subcategory: Option<String>,
    /// Exchange time zone id.
    #[prost(string, optional, tag = "12")]
    pub time_zone_id: Option<String>,
    /// Trading hours schedule.
    #[prost(string, optional, tag = "13")]
    pub trading_hours: Option<String>,
    /// Liquid (regular) hours schedule.
    #[prost(string, optional, tag = "14")]
    pub liquid_hours: Option<String>,
    /// Comma-separated market rule ids.
    #[prost(string, optional, tag = "21")]
    pub market_rule_ids: Option<String>,
    /// Real expiration date (derivatives).
    #[prost(string, optional, tag = "22")]
    pub real_expiration_date: Option<String>,
    /// Stock type: COMMON, ETF, ADR, …
    #[prost(string, optional, tag = "23")]
    pub stock_type: Option<String>,
    /// Minimum order size as a decimal string.
    #[prost(string, optional, tag = "24")]
    pub min_size: Option<String>,
    /// Size increment as a decimal string.
    #[prost(string, optional, tag = "25")]
    pub size_increment: Option<String>,
    /// Suggested size increment as a decimal string.
    #[prost(string, optional, tag = "26")]
    pub suggested_size_increment: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Requests (client → server)
// ---------------------------------------------------------------------------------------------

/// `StartApi` (71): opens the API session.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StartApiRequest {
    /// Client id (0 is sent explicitly).
    #[prost(int32, optional, tag = "1")]
    pub client_id: Option<i32>,
    /// Optional capabilities string (ibapi sends none).
    #[prost(string, optional, tag = "2")]
    pub optional_capabilities: Option<String>,
}

/// `RequestIds` (8): asks for the next valid order id.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IdsRequest {
    /// Number of ids wanted (ibapi sends 0; ignored by TWS).
    #[prost(int32, optional, tag = "1")]
    pub num_ids: Option<i32>,
}

/// `RequestManagedAccounts` (17): asks for the managed accounts list.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ManagedAccountsRequest {}

/// `RequestCurrentTime` (49): asks for the server time in seconds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CurrentTimeRequest {}

/// `RequestCurrentTimeInMillis` (105): asks for the server time in milliseconds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CurrentTimeInMillisRequest {}

/// `RequestMarketDataType` (59): switches the market data type.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MarketDataTypeRequest {
    /// 1 realtime, 2 frozen, 3 delayed, 4 delayed-frozen.
    #[prost(int32, optional, tag = "1")]
    pub market_data_type: Option<i32>,
}

/// `RequestAccountSummary` (62): subscribes to account summary tags.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountSummaryRequest {
    /// Request id.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Account group, usually "All".
    #[prost(string, optional, tag = "2")]
    pub group: Option<String>,
    /// Comma-separated tags.
    #[prost(string, optional, tag = "3")]
    pub tags: Option<String>,
}

/// `CancelAccountSummary` (63).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CancelAccountSummary {
    /// Request id being cancelled.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

/// `RequestAccountData` (6): subscribes to (or stops) account updates.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountDataRequest {
    /// True to subscribe, false/absent to unsubscribe.
    #[prost(bool, optional, tag = "1")]
    pub subscribe: Option<bool>,
    /// Account code (absent on unsubscribe).
    #[prost(string, optional, tag = "2")]
    pub acct_code: Option<String>,
}

/// `RequestPositions` (61).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PositionsRequest {}

/// `CancelPositions` (64).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CancelPositions {}

/// `RequestPositionsMulti` (74).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PositionsMultiRequest {
    /// Request id.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Account code.
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    /// Model code.
    #[prost(string, optional, tag = "3")]
    pub model_code: Option<String>,
}

/// `CancelPositionsMulti` (75).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CancelPositionsMulti {
    /// Request id being cancelled.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

/// `RequestPnL` (92): subscribes to account profit and loss.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PnLRequest {
    /// Request id.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Account code.
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    /// Model code.
    #[prost(string, optional, tag = "3")]
    pub model_code: Option<String>,
}

/// `CancelPnL` (93).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CancelPnL {
    /// Request id being cancelled.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

/// `RequestPnLSingle` (94): subscribes to one position's profit and loss.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PnLSingleRequest {
    /// Request id.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Account code.
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    /// Model code.
    #[prost(string, optional, tag = "3")]
    pub model_code: Option<String>,
    /// Contract id of the position.
    #[prost(int32, optional, tag = "4")]
    pub con_id: Option<i32>,
}

/// `CancelPnLSingle` (95).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CancelPnLSingle {
    /// Request id being cancelled.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

/// `PlaceOrder` (3): places or modifies an order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PlaceOrderRequest {
    /// API order id.
    #[prost(int32, optional, tag = "1")]
    pub order_id: Option<i32>,
    /// The instrument.
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    /// The order.
    #[prost(message, optional, tag = "3")]
    pub order: Option<Order>,
    /// Attached stop-loss / profit-taker orders (empty from IB's Python client).
    #[prost(message, optional, tag = "4")]
    pub attached_orders: Option<AttachedOrders>,
}

/// Attached orders of a `PlaceOrderRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttachedOrders {
    /// Stop-loss order id.
    #[prost(int32, optional, tag = "1")]
    pub sl_order_id: Option<i32>,
    /// Stop-loss order type.
    #[prost(string, optional, tag = "2")]
    pub sl_order_type: Option<String>,
    /// Profit-taker order id.
    #[prost(int32, optional, tag = "3")]
    pub pt_order_id: Option<i32>,
    /// Profit-taker order type.
    #[prost(string, optional, tag = "4")]
    pub pt_order_type: Option<String>,
}

/// `CancelOrder` (4).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CancelOrderRequest {
    /// Order id to cancel.
    #[prost(int32, optional, tag = "1")]
    pub order_id: Option<i32>,
    /// Cancel parameters (present but empty from IB's Python client).
    #[prost(message, optional, tag = "2")]
    pub order_cancel: Option<OrderCancel>,
}

/// Cancel parameters shared by `CancelOrderRequest` and `GlobalCancelRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrderCancel {
    /// Manual order cancel time.
    #[prost(string, optional, tag = "1")]
    pub manual_order_cancel_time: Option<String>,
    /// External operator.
    #[prost(string, optional, tag = "2")]
    pub ext_operator: Option<String>,
    /// Manual order indicator.
    #[prost(int32, optional, tag = "3")]
    pub manual_order_indicator: Option<i32>,
}

/// `RequestGlobalCancel` (58): cancels every open order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GlobalCancelRequest {
    /// Cancel parameters.
    #[prost(message, optional, tag = "1")]
    pub order_cancel: Option<OrderCancel>,
}

/// `RequestOpenOrders` (5): this client's open orders.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpenOrdersRequest {}

/// `RequestAllOpenOrders` (16): every client's open orders.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AllOpenOrdersRequest {}

/// `RequestAutoOpenOrders` (15): binds TWS-GUI orders (client id 0 only).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AutoOpenOrdersRequest {
    /// Whether to auto-bind new orders.
    #[prost(bool, optional, tag = "1")]
    pub auto_bind: Option<bool>,
}

/// `RequestCompletedOrders` (99).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CompletedOrdersRequest {
    /// Only orders placed through the API.
    #[prost(bool, optional, tag = "1")]
    pub api_only: Option<bool>,
}

/// `RequestExecutions` (7).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecutionRequest {
    /// Request id.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Filter (clientId 0 and absent fields mean "no filter").
    #[prost(message, optional, tag = "2")]
    pub execution_filter: Option<ExecutionFilter>,
}

/// Filter of an `ExecutionRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecutionFilter {
    /// Client id (0 means any).
    #[prost(int32, optional, tag = "1")]
    pub client_id: Option<i32>,
    /// Account code.
    #[prost(string, optional, tag = "2")]
    pub acct_code: Option<String>,
    /// Executions after this time ("yyyymmdd hh:mm:ss").
    #[prost(string, optional, tag = "3")]
    pub time: Option<String>,
    /// Symbol.
    #[prost(string, optional, tag = "4")]
    pub symbol: Option<String>,
    /// Security type.
    #[prost(string, optional, tag = "5")]
    pub sec_type: Option<String>,
    /// Exchange.
    #[prost(string, optional, tag = "6")]
    pub exchange: Option<String>,
    /// Side: BUY or SELL.
    #[prost(string, optional, tag = "7")]
    pub side: Option<String>,
    /// Only the last N days.
    #[prost(int32, optional, tag = "8")]
    pub last_n_days: Option<i32>,
    /// Specific dates as YYYYMMDD integers.
    #[prost(int32, repeated, tag = "9")]
    pub specific_dates: Vec<i32>,
}

/// `RequestMarketData` (1): subscribes to ticks or a snapshot.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MarketDataRequest {
    /// Request id.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// The instrument.
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    /// Comma-separated generic tick types, e.g. "233,236".
    #[prost(string, optional, tag = "3")]
    pub generic_tick_list: Option<String>,
    /// One-off snapshot instead of a stream.
    #[prost(bool, optional, tag = "4")]
    pub snapshot: Option<bool>,
    /// Regulatory snapshot.
    #[prost(bool, optional, tag = "5")]
    pub regulatory_snapshot: Option<bool>,
    /// Market data options.
    #[prost(map = "string, string", tag = "6")]
    pub market_data_options: HashMap<String, String>,
}

/// `CancelMarketData` (2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CancelMarketData {
    /// Request id being cancelled.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

/// `RequestContractData` (9).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContractDataRequest {
    /// Request id.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// The contract to look up.
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
}

/// `CancelContractData` (106).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CancelContractData {
    /// Request id being cancelled.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

// ---------------------------------------------------------------------------------------------
// Responses (server → client)
// ---------------------------------------------------------------------------------------------

/// `NextValidId` (9).
#[derive(Clone, PartialEq, prost::Message)]
pub struct NextValidId {
    /// Next valid order id (must stay below 1.5e9).
    #[prost(int32, optional, tag = "1")]
    pub order_id: Option<i32>,
}

/// `ManagedAccounts` (15).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ManagedAccounts {
    /// Comma-separated account codes.
    #[prost(string, optional, tag = "1")]
    pub accounts_list: Option<String>,
}

/// `CurrentTime` (49).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CurrentTime {
    /// Unix seconds.
    #[prost(int64, optional, tag = "1")]
    pub current_time: Option<i64>,
}

/// `CurrentTimeInMillis` (109).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CurrentTimeInMillis {
    /// Unix milliseconds.
    #[prost(int64, optional, tag = "1")]
    pub current_time_in_millis: Option<i64>,
}

/// `Error` (4): an error or notice.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ErrorMessage {
    /// Request id, order id, or -1 (set explicitly) for request-less notices.
    #[prost(int32, optional, tag = "1")]
    pub id: Option<i32>,
    /// Milliseconds since the epoch.
    #[prost(int64, optional, tag = "2")]
    pub error_time: Option<i64>,
    /// TWS error code.
    #[prost(int32, optional, tag = "3")]
    pub error_code: Option<i32>,
    /// Human-readable message.
    #[prost(string, optional, tag = "4")]
    pub error_msg: Option<String>,
    /// Advanced order reject JSON.
    #[prost(string, optional, tag = "5")]
    pub advanced_order_reject_json: Option<String>,
}

/// `AccountSummary` (63): one account × tag value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountSummary {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Account code.
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    /// Tag name, e.g. `NetLiquidation`.
    #[prost(string, optional, tag = "3")]
    pub tag: Option<String>,
    /// Value as a string.
    #[prost(string, optional, tag = "4")]
    pub value: Option<String>,
    /// Currency of the value.
    #[prost(string, optional, tag = "5")]
    pub currency: Option<String>,
}

/// `AccountSummaryEnd` (64).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountSummaryEnd {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

/// `AccountValue` (6): one key of an account update.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountValue {
    /// Key, e.g. `NetLiquidation`.
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    /// Value as a string.
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
    /// Currency of the value.
    #[prost(string, optional, tag = "3")]
    pub currency: Option<String>,
    /// Account code.
    #[prost(string, optional, tag = "4")]
    pub account_name: Option<String>,
}

/// `PortfolioValue` (7): one position line of an account update.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PortfolioValue {
    /// The instrument (required).
    #[prost(message, optional, tag = "1")]
    pub contract: Option<Contract>,
    /// Position as a decimal string (required).
    #[prost(string, optional, tag = "2")]
    pub position: Option<String>,
    /// Market price.
    #[prost(double, optional, tag = "3")]
    pub market_price: Option<f64>,
    /// Market value.
    #[prost(double, optional, tag = "4")]
    pub market_value: Option<f64>,
    /// Average cost.
    #[prost(double, optional, tag = "5")]
    pub average_cost: Option<f64>,
    /// Unrealized profit and loss.
    #[prost(double, optional, tag = "6")]
    pub unrealized_pnl: Option<f64>,
    /// Realized profit and loss.
    #[prost(double, optional, tag = "7")]
    pub realized_pnl: Option<f64>,
    /// Account code.
    #[prost(string, optional, tag = "8")]
    pub account_name: Option<String>,
}

/// `AccountUpdateTime` (8).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountUpdateTime {
    /// Time as "HH:MM".
    #[prost(string, optional, tag = "1")]
    pub time_stamp: Option<String>,
}

/// `AccountDownloadEnd` (54).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountDataEnd {
    /// Account code.
    #[prost(string, optional, tag = "1")]
    pub account_name: Option<String>,
}

/// `Position` (61).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Position {
    /// Account code.
    #[prost(string, optional, tag = "1")]
    pub account: Option<String>,
    /// The instrument (required).
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    /// Position as a decimal string (required, never "").
    #[prost(string, optional, tag = "3")]
    pub position: Option<String>,
    /// Average cost.
    #[prost(double, optional, tag = "4")]
    pub avg_cost: Option<f64>,
}

/// `PositionEnd` (62).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PositionEnd {}

/// `PositionMulti` (71).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PositionMulti {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Account code.
    #[prost(string, optional, tag = "2")]
    pub account: Option<String>,
    /// The instrument.
    #[prost(message, optional, tag = "3")]
    pub contract: Option<Contract>,
    /// Position as a decimal string.
    #[prost(string, optional, tag = "4")]
    pub position: Option<String>,
    /// Average cost.
    #[prost(double, optional, tag = "5")]
    pub avg_cost: Option<f64>,
    /// Model code.
    #[prost(string, optional, tag = "6")]
    pub model_code: Option<String>,
}

/// `PositionMultiEnd` (72).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PositionMultiEnd {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

/// `PnL` (94): account profit and loss.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PnL {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Daily profit and loss.
    #[prost(double, optional, tag = "2")]
    pub daily_pn_l: Option<f64>,
    /// Unrealized profit and loss.
    #[prost(double, optional, tag = "3")]
    pub unrealized_pn_l: Option<f64>,
    /// Realized profit and loss.
    #[prost(double, optional, tag = "4")]
    pub realized_pn_l: Option<f64>,
}

/// `PnLSingle` (95): one position's profit and loss.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PnLSingle {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Position as a decimal string (required).
    #[prost(string, optional, tag = "2")]
    pub position: Option<String>,
    /// Daily profit and loss.
    #[prost(double, optional, tag = "3")]
    pub daily_pn_l: Option<f64>,
    /// Unrealized profit and loss.
    #[prost(double, optional, tag = "4")]
    pub unrealized_pn_l: Option<f64>,
    /// Realized profit and loss.
    #[prost(double, optional, tag = "5")]
    pub realized_pn_l: Option<f64>,
    /// Market value of the position.
    #[prost(double, optional, tag = "6")]
    pub value: Option<f64>,
}

/// `OpenOrder` (5).
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpenOrder {
    /// API order id.
    #[prost(int32, optional, tag = "1")]
    pub order_id: Option<i32>,
    /// The instrument (required).
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    /// The order (required, with `action`).
    #[prost(message, optional, tag = "3")]
    pub order: Option<Order>,
    /// The order state (required, with `status`).
    #[prost(message, optional, tag = "4")]
    pub order_state: Option<OrderState>,
}

/// `OrderStatus` (3).
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrderStatus {
    /// API order id.
    #[prost(int32, optional, tag = "1")]
    pub order_id: Option<i32>,
    /// Status string (required, never empty).
    #[prost(string, optional, tag = "2")]
    pub status: Option<String>,
    /// Filled quantity as a decimal string (required).
    #[prost(string, optional, tag = "3")]
    pub filled: Option<String>,
    /// Remaining quantity as a decimal string (required).
    #[prost(string, optional, tag = "4")]
    pub remaining: Option<String>,
    /// Average fill price.
    #[prost(double, optional, tag = "5")]
    pub avg_fill_price: Option<f64>,
    /// IB permanent id.
    #[prost(int64, optional, tag = "6")]
    pub perm_id: Option<i64>,
    /// Parent order id.
    #[prost(int32, optional, tag = "7")]
    pub parent_id: Option<i32>,
    /// Last fill price.
    #[prost(double, optional, tag = "8")]
    pub last_fill_price: Option<f64>,
    /// Placing client id.
    #[prost(int32, optional, tag = "9")]
    pub client_id: Option<i32>,
    /// Why the order is held.
    #[prost(string, optional, tag = "10")]
    pub why_held: Option<String>,
    /// Market cap price.
    #[prost(double, optional, tag = "11")]
    pub mkt_cap_price: Option<f64>,
}

/// `OpenOrderEnd` (53).
#[derive(Clone, PartialEq, prost::Message)]
pub struct OpenOrdersEnd {}

/// `CompletedOrder` (101).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CompletedOrder {
    /// The instrument.
    #[prost(message, optional, tag = "1")]
    pub contract: Option<Contract>,
    /// The order.
    #[prost(message, optional, tag = "2")]
    pub order: Option<Order>,
    /// The final order state.
    #[prost(message, optional, tag = "3")]
    pub order_state: Option<OrderState>,
}

/// `CompletedOrdersEnd` (102).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CompletedOrdersEnd {}

/// `ExecutionData` (11).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecutionDetails {
    /// Request id, or -1 for live fills.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// The instrument (required).
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    /// The fill (required).
    #[prost(message, optional, tag = "3")]
    pub execution: Option<Execution>,
}

/// One fill.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Execution {
    /// API order id.
    #[prost(int32, optional, tag = "1")]
    pub order_id: Option<i32>,
    /// Execution id (commission reports refer to it).
    #[prost(string, optional, tag = "2")]
    pub exec_id: Option<String>,
    /// Fill time, e.g. `20260101 09:31:00 America/New_York`.
    #[prost(string, optional, tag = "3")]
    pub time: Option<String>,
    /// Account code.
    #[prost(string, optional, tag = "4")]
    pub acct_number: Option<String>,
    /// Execution venue.
    #[prost(string, optional, tag = "5")]
    pub exchange: Option<String>,
    /// BOT or SLD (required).
    #[prost(string, optional, tag = "6")]
    pub side: Option<String>,
    /// Filled shares as a decimal string.
    #[prost(string, optional, tag = "7")]
    pub shares: Option<String>,
    /// Fill price.
    #[prost(double, optional, tag = "8")]
    pub price: Option<f64>,
    /// IB permanent id.
    #[prost(int64, optional, tag = "9")]
    pub perm_id: Option<i64>,
    /// Placing client id.
    #[prost(int32, optional, tag = "10")]
    pub client_id: Option<i32>,
    /// Liquidation flag.
    #[prost(bool, optional, tag = "11")]
    pub is_liquidation: Option<bool>,
    /// Cumulative quantity as a decimal string.
    #[prost(string, optional, tag = "12")]
    pub cum_qty: Option<String>,
    /// Average price so far.
    #[prost(double, optional, tag = "13")]
    pub avg_price: Option<f64>,
    /// Order reference.
    #[prost(string, optional, tag = "14")]
    pub order_ref: Option<String>,
    /// Economic value rule.
    #[prost(string, optional, tag = "15")]
    pub ev_rule: Option<String>,
    /// Economic value multiplier.
    #[prost(double, optional, tag = "16")]
    pub ev_multiplier: Option<f64>,
    /// Model code.
    #[prost(string, optional, tag = "17")]
    pub model_code: Option<String>,
    /// Liquidity flag (1 added, 2 removed, 3 routed out).
    #[prost(int32, optional, tag = "18")]
    pub last_liquidity: Option<i32>,
    /// Price revision pending flag.
    #[prost(bool, optional, tag = "19")]
    pub is_price_revision_pending: Option<bool>,
    /// Submitter.
    #[prost(string, optional, tag = "20")]
    pub submitter: Option<String>,
    /// Option exercise or lapse type.
    #[prost(int32, optional, tag = "21")]
    pub opt_exercise_or_lapse_type: Option<i32>,
}

/// `ExecutionDataEnd` (55).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecutionDetailsEnd {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

/// `CommissionsReport` (59): sent after the matching `ExecutionDetails`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CommissionAndFeesReport {
    /// Execution id this report belongs to.
    #[prost(string, optional, tag = "1")]
    pub exec_id: Option<String>,
    /// Commission and fees.
    #[prost(double, optional, tag = "2")]
    pub commission_and_fees: Option<f64>,
    /// Currency.
    #[prost(string, optional, tag = "3")]
    pub currency: Option<String>,
    /// Realized profit and loss (`f64::MAX` means none).
    #[prost(double, optional, tag = "4")]
    pub realized_pnl: Option<f64>,
    /// Bond yield.
    #[prost(double, optional, tag = "5")]
    pub bond_yield: Option<f64>,
    /// Yield redemption date.
    #[prost(string, optional, tag = "6")]
    pub yield_redemption_date: Option<String>,
}

/// `OrderBound` (100): all three fields required.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OrderBound {
    /// IB permanent id.
    #[prost(int64, optional, tag = "1")]
    pub perm_id: Option<i64>,
    /// Client id.
    #[prost(int32, optional, tag = "2")]
    pub client_id: Option<i32>,
    /// API order id.
    #[prost(int32, optional, tag = "3")]
    pub order_id: Option<i32>,
}

/// `MarketDataType` (58).
#[derive(Clone, PartialEq, prost::Message)]
pub struct MarketDataType {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// 1 realtime, 2 frozen, 3 delayed, 4 delayed-frozen.
    #[prost(int32, optional, tag = "2")]
    pub market_data_type: Option<i32>,
}

/// `TickReqParams` (81).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TickReqParams {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Minimum tick as a decimal string.
    #[prost(string, optional, tag = "2")]
    pub min_tick: Option<String>,
    /// BBO exchange.
    #[prost(string, optional, tag = "3")]
    pub bbo_exchange: Option<String>,
    /// Snapshot permissions.
    #[prost(int32, optional, tag = "4")]
    pub snapshot_permissions: Option<i32>,
    /// Last price precision.
    #[prost(string, optional, tag = "5")]
    pub last_price_precision: Option<String>,
    /// Last size precision.
    #[prost(string, optional, tag = "6")]
    pub last_size_precision: Option<String>,
}

/// `TickPrice` (1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TickPrice {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Tick type (1 bid, 2 ask, 4 last, …).
    #[prost(int32, optional, tag = "2")]
    pub tick_type: Option<i32>,
    /// Price.
    #[prost(double, optional, tag = "3")]
    pub price: Option<f64>,
    /// Size as a decimal string.
    #[prost(string, optional, tag = "4")]
    pub size: Option<String>,
    /// Bit 0 can-auto-execute, bit 1 past-limit, bit 2 pre-open.
    #[prost(int32, optional, tag = "5")]
    pub attr_mask: Option<i32>,
}

/// `TickSize` (2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TickSize {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Tick type (0 bid size, 3 ask size, 5 last size, 8 volume, …).
    #[prost(int32, optional, tag = "2")]
    pub tick_type: Option<i32>,
    /// Size as a decimal string.
    #[prost(string, optional, tag = "3")]
    pub size: Option<String>,
}

/// `TickString` (46).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TickString {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Tick type (45 last timestamp, 48 RT volume, …).
    #[prost(int32, optional, tag = "2")]
    pub tick_type: Option<i32>,
    /// Value.
    #[prost(string, optional, tag = "3")]
    pub value: Option<String>,
}

/// `TickGeneric` (45).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TickGeneric {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// Tick type (46 shortable, 49 halted, …).
    #[prost(int32, optional, tag = "2")]
    pub tick_type: Option<i32>,
    /// Value.
    #[prost(double, optional, tag = "3")]
    pub value: Option<f64>,
}

/// `TickSnapshotEnd` (57).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TickSnapshotEnd {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

/// `ContractData` (10): one contract-details match.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContractData {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
    /// The instrument (required).
    #[prost(message, optional, tag = "2")]
    pub contract: Option<Contract>,
    /// Its details (required).
    #[prost(message, optional, tag = "3")]
    pub contract_details: Option<ContractDetails>,
}

/// `ContractDataEnd` (52).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContractDataEnd {
    /// Request id echoed.
    #[prost(int32, optional, tag = "1")]
    pub req_id: Option<i32>,
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use ibapi::{IncomingMessages as In, OutgoingMessages as Out};
    use prost::Message;

    /// Encodes then decodes `m` and checks nothing was lost.
    fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(m: &M) {
        let bytes = m.encode_to_vec();
        assert_eq!(&M::decode(bytes.as_slice()).unwrap(), m);
    }

    fn aapl() -> Contract {
        Contract {
            con_id: Some(265_598),
            symbol: Some("AAPL".into()),
            sec_type: Some("STK".into()),
            exchange: Some("SMART".into()),
            primary_exch: Some("NASDAQ".into()),
            currency: Some("USD".into()),
            local_symbol: Some("AAPL".into()),
            trading_class: Some("NMS".into()),
            ..Contract::default()
        }
    }

    fn option_contract() -> Contract {
        Contract {
            con_id: Some(1),
            symbol: Some("SPY".into()),
            sec_type: Some("BAG".into()),
            last_trade_date_or_contract_month: Some("20260116".into()),
            strike: Some(600.0),
            right: Some("C".into()),
            multiplier: Some(100.0),
            delta_neutral_contract: Some(DeltaNeutralContract {
                con_id: Some(756_733),
                delta: Some(0.5),
                price: Some(601.25),
            }),
            include_expired: Some(false),
            combo_legs_descrip: Some("legs".into()),
            combo_legs: vec![ComboLeg {
                con_id: Some(2),
                ratio: Some(1),
                action: Some("BUY".into()),
                exchange: Some("SMART".into()),
                open_close: Some(0),
                short_sales_slot: Some(0),
                designated_location: Some(String::new()),
                exempt_code: Some(-1),
                per_leg_price: Some(1.5),
            }],
            last_trade_date: Some("20260116".into()),
            sec_id_type: Some("ISIN".into()),
            sec_id: Some("US0000000000".into()),
            description: Some("d".into()),
            issuer_id: Some("i".into()),
            ..aapl()
        }
    }

    fn order() -> Order {
        Order {
            client_id: Some(7),
            order_id: Some(42),
            perm_id: Some(1_376_327_563),
            parent_id: Some(0),
            action: Some("BUY".into()),
            total_quantity: Some("100".into()),
            display_size: Some(0),
            order_type: Some("LMT".into()),
            lmt_price: Some(189.5),
            aux_price: Some(0.0),
            tif: Some("DAY".into()),
            account: Some("DU1234567".into()),
            outside_rth: Some(true),
            good_till_date: Some("20260102 16:00:00 America/New_York".into()),
            oca_group: Some("oca".into()),
            order_ref: Some("ref".into()),
            oca_type: Some(3),
            what_if: Some(false),
            transmit: Some(true),
            filled_quantity: Some("40".into()),
            soft_dollar_tier: Some(SoftDollarTier::default()),
            parent_perm_id: Some(9_000_000_000),
            ..Order::default()
        }
    }

    fn order_state() -> OrderState {
        OrderState {
            status: Some("Submitted".into()),
            init_margin_before: Some(1.0),
            maint_margin_before: Some(2.0),
            equity_with_loan_before: Some(3.0),
            init_margin_change: Some(4.0),
            maint_margin_change: Some(5.0),
            equity_with_loan_change: Some(6.0),
            init_margin_after: Some(7.0),
            maint_margin_after: Some(8.0),
            equity_with_loan_after: Some(9.0),
            commission_and_fees: Some(1.0),
            commission_and_fees_currency: Some("USD".into()),
            reject_reason: Some(String::new()),
            warning_text: Some("w".into()),
            completed_time: Some("20260101 10:00:00".into()),
            completed_status: Some("Filled".into()),
            ..OrderState::default()
        }
    }

    #[test]
    fn session_and_account_responses_round_trip() {
        round_trip(&NextValidId { order_id: Some(1) });
        round_trip(&ManagedAccounts {
            accounts_list: Some("DU1234567,DU7654321,".into()),
        });
        round_trip(&CurrentTime {
            current_time: Some(1_767_277_800),
        });
        round_trip(&CurrentTimeInMillis {
            current_time_in_millis: Some(1_767_277_800_123),
        });
        round_trip(&ErrorMessage {
            id: Some(-1),
            error_time: Some(1_767_277_800_123),
            error_code: Some(2104),
            error_msg: Some("Market data farm connection is OK:usfarm".into()),
            advanced_order_reject_json: Some("{}".into()),
        });
        round_trip(&AccountSummary {
            req_id: Some(9001),
            account: Some("DU1234567".into()),
            tag: Some("NetLiquidation".into()),
            value: Some("100000.00".into()),
            currency: Some("USD".into()),
        });
        round_trip(&AccountSummaryEnd { req_id: Some(9001) });
        round_trip(&AccountValue {
            key: Some("CashBalance".into()),
            value: Some("5.5".into()),
            currency: Some("USD".into()),
            account_name: Some("DU1234567".into()),
        });
        round_trip(&PortfolioValue {
            contract: Some(aapl()),
            position: Some("100".into()),
            market_price: Some(190.0),
            market_value: Some(19_000.0),
            average_cost: Some(180.0),
            unrealized_pnl: Some(1000.0),
            realized_pnl: Some(0.0),
            account_name: Some("DU1234567".into()),
        });
        round_trip(&AccountUpdateTime {
            time_stamp: Some("09:31".into()),
        });
        round_trip(&AccountDataEnd {
            account_name: Some("DU1234567".into()),
        });
        round_trip(&Position {
            account: Some("DU1234567".into()),
            contract: Some(option_contract()),
            position: Some("-3".into()),
            avg_cost: Some(12.5),
        });
        round_trip(&PositionEnd {});
        round_trip(&PositionMulti {
            req_id: Some(5),
            account: Some("DU1234567".into()),
            contract: Some(aapl()),
            position: Some("0".into()),
            avg_cost: Some(0.0),
            model_code: Some(String::new()),
        });
        round_trip(&PositionMultiEnd { req_id: Some(5) });
        round_trip(&PnL {
            req_id: Some(3),
            daily_pn_l: Some(-12.5),
            unrealized_pn_l: Some(f64::MAX),
            realized_pn_l: Some(0.0),
        });
        round_trip(&PnLSingle {
            req_id: Some(4),
            position: Some("100".into()),
            daily_pn_l: Some(1.0),
            unrealized_pn_l: Some(2.0),
            realized_pn_l: Some(3.0),
            value: Some(19_000.0),
        });
    }

    #[test]
    fn order_and_execution_responses_round_trip() {
        round_trip(&OpenOrder {
            order_id: Some(42),
            contract: Some(aapl()),
            order: Some(order()),
            order_state: Some(order_state()),
        });
        round_trip(&OrderStatus {
            order_id: Some(42),
            status: Some("Filled".into()),
            filled: Some("100".into()),
            remaining: Some("0".into()),
            avg_fill_price: Some(189.5),
            perm_id: Some(1_376_327_563),
            parent_id: Some(0),
            last_fill_price: Some(189.5),
            client_id: Some(7),
            why_held: Some(String::new()),
            mkt_cap_price: Some(0.0),
        });
        round_trip(&order_state());
        round_trip(&OpenOrdersEnd {});
        round_trip(&CompletedOrder {
            contract: Some(aapl()),
            order: Some(order()),
            order_state: Some(order_state()),
        });
        round_trip(&CompletedOrdersEnd {});
        round_trip(&ExecutionDetails {
            req_id: Some(-1),
            contract: Some(aapl()),
            execution: Some(Execution {
                order_id: Some(42),
                exec_id: Some("00025b46.63f8f39c.01.01".into()),
                time: Some("20260101 09:31:00 America/New_York".into()),
                acct_number: Some("DU1234567".into()),
                exchange: Some("ISLAND".into()),
                side: Some("BOT".into()),
                shares: Some("100".into()),
                price: Some(189.5),
                perm_id: Some(1_376_327_563),
                client_id: Some(7),
                is_liquidation: Some(false),
                cum_qty: Some("100".into()),
                avg_price: Some(189.5),
                order_ref: Some("ref".into()),
                ev_rule: Some(String::new()),
                ev_multiplier: Some(0.0),
                model_code: Some(String::new()),
                last_liquidity: Some(2),
                is_price_revision_pending: Some(false),
                submitter: Some("me".into()),
                opt_exercise_or_lapse_type: Some(0),
            }),
        });
        round_trip(&ExecutionDetailsEnd { req_id: Some(9003) });
        round_trip(&CommissionAndFeesReport {
            exec_id: Some("00025b46.63f8f39c.01.01".into()),
            commission_and_fees: Some(1.0),
            currency: Some("USD".into()),
            realized_pnl: Some(f64::MAX),
            bond_yield: Some(f64::MAX),
            yield_redemption_date: Some(String::new()),
        });
        round_trip(&OrderBound {
            perm_id: Some(1_376_327_563),
            client_id: Some(7),
            order_id: Some(42),
        });
    }

    #[test]
    fn market_data_and_contract_responses_round_trip() {
        round_trip(&MarketDataType {
            req_id: Some(9002),
            market_data_type: Some(3),
        });
        round_trip(&TickReqParams {
            req_id: Some(9002),
            min_tick: Some("0.01".into()),
            bbo_exchange: Some("9c0001".into()),
            snapshot_permissions: Some(3),
            last_price_precision: Some("2".into()),
            last_size_precision: Some("0".into()),
        });
        round_trip(&TickPrice {
            req_id: Some(9002),
            tick_type: Some(1),
            price: Some(189.49),
            size: Some("300".into()),
            attr_mask: Some(1),
        });
        round_trip(&TickSize {
            req_id: Some(9002),
            tick_type: Some(8),
            size: Some("123456".into()),
        });
        round_trip(&TickString {
            req_id: Some(9002),
            tick_type: Some(45),
            value: Some("1767277800".into()),
        });
        round_trip(&TickGeneric {
            req_id: Some(9002),
            tick_type: Some(49),
            value: Some(0.0),
        });
        round_trip(&TickSnapshotEnd { req_id: Some(9002) });
        round_trip(&ContractData {
            req_id: Some(9004),
            contract: Some(aapl()),
            contract_details: Some(ContractDetails {
                market_name: Some("NMS".into()),
                min_tick: Some("0.01".into()),
                order_types: Some("LMT,MKT,STP".into()),
                valid_exchanges: Some("SMART,ISLAND".into()),
                price_magnifier: Some(1),
                under_con_id: Some(0),
                long_name: Some("APPLE INC".into()),
                contract_month: Some(String::new()),
                industry: Some("Technology".into()),
                category: Some("Computers".into()),
                subcategory: Some("Computers".into()),
                time_zone_id: Some("US/Eastern".into()),
                trading_hours: Some("20260101:0400-20260101:2000".into()),
                liquid_hours: Some("20260101:0930-20260101:1600".into()),
                market_rule_ids: Some("26,26".into()),
                real_expiration_date: Some(String::new()),
                stock_type: Some("COMMON".into()),
                min_size: Some("1".into()),
                size_increment: Some("1".into()),
                suggested_size_increment: Some("100".into()),
            }),
        });
        round_trip(&ContractDataEnd { req_id: Some(9004) });
    }

    #[test]
    fn incoming_msg_ids_match_ibapi_enums() {
        let incoming = [
            (msg::IN_TICK_PRICE, In::TickPrice),
            (msg::IN_TICK_SIZE, In::TickSize),
            (msg::IN_ORDER_STATUS, In::OrderStatus),
            (msg::IN_ERROR, In::Error),
            (msg::IN_OPEN_ORDER, In::OpenOrder),
            (msg::IN_ACCOUNT_VALUE, In::AccountValue),
            (msg::IN_PORTFOLIO_VALUE, In::PortfolioValue),
            (msg::IN_ACCOUNT_UPDATE_TIME, In::AccountUpdateTime),
            (msg::IN_NEXT_VALID_ID, In::NextValidId),
            (msg::IN_CONTRACT_DATA, In::ContractData),
            (msg::IN_EXECUTION_DATA, In::ExecutionData),
            (msg::IN_MANAGED_ACCOUNTS, In::ManagedAccounts),
            (msg::IN_BOND_CONTRACT_DATA, In::BondContractData),
            (msg::IN_TICK_OPTION_COMPUTATION, In::TickOptionComputation),
            (msg::IN_TICK_GENERIC, In::TickGeneric),
            (msg::IN_TICK_STRING, In::TickString),
            (msg::IN_CURRENT_TIME, In::CurrentTime),
            (msg::IN_REAL_TIME_BARS, In::RealTimeBars),
            (msg::IN_CONTRACT_DATA_END, In::ContractDataEnd),
            (msg::IN_OPEN_ORDER_END, In::OpenOrderEnd),
            (msg::IN_ACCOUNT_DOWNLOAD_END, In::AccountDownloadEnd),
            (msg::IN_EXECUTION_DATA_END, In::ExecutionDataEnd),
            (msg::IN_TICK_SNAPSHOT_END, In::TickSnapshotEnd),
            (msg::IN_MARKET_DATA_TYPE, In::MarketDataType),
            (msg::IN_COMMISSIONS_REPORT, In::CommissionsReport),
            (msg::IN_POSITION, In::Position),
            (msg::IN_POSITION_END, In::PositionEnd),
            (msg::IN_ACCOUNT_SUMMARY, In::AccountSummary),
            (msg::IN_ACCOUNT_SUMMARY_END, In::AccountSummaryEnd),
            (msg::IN_POSITION_MULTI, In::PositionMulti),
            (msg::IN_POSITION_MULTI_END, In::PositionMultiEnd),
            (msg::IN_ACCOUNT_UPDATE_MULTI, In::AccountUpdateMulti),
            (msg::IN_ACCOUNT_UPDATE_MULTI_END, In::AccountUpdateMultiEnd),
            (msg::IN_TICK_REQ_PARAMS, In::TickReqParams),
            (msg::IN_PNL, In::PnL),
            (msg::IN_PNL_SINGLE, In::PnLSingle),
            (msg::IN_ORDER_BOUND, In::OrderBound),
            (msg::IN_COMPLETED_ORDER, In::CompletedOrder),
            (msg::IN_COMPLETED_ORDERS_END, In::CompletedOrdersEnd),
            (msg::IN_CURRENT_TIME_IN_MILLIS, In::CurrentTimeInMillis),
        ];
        for (ours, theirs) in incoming {
            assert_eq!(ours, theirs as i32, "{theirs:?}");
        }
    }

    #[test]
    fn outgoing_msg_ids_match_ibapi_enums() {
        let outgoing = [
            (msg::OUT_REQUEST_MARKET_DATA, Out::RequestMarketData),
            (msg::OUT_CANCEL_MARKET_DATA, Out::CancelMarketData),
            (msg::OUT_PLACE_ORDER, Out::PlaceOrder),
            (msg::OUT_CANCEL_ORDER, Out::CancelOrder),
            (msg::OUT_REQUEST_OPEN_ORDERS, Out::RequestOpenOrders),
            (msg::OUT_REQUEST_ACCOUNT_DATA, Out::RequestAccountData),
            (msg::OUT_REQUEST_EXECUTIONS, Out::RequestExecutions),
            (msg::OUT_REQUEST_IDS, Out::RequestIds),
            (msg::OUT_REQUEST_CONTRACT_DATA, Out::RequestContractData),
            (msg::OUT_REQUEST_AUTO_OPEN_ORDERS, Out::RequestAutoOpenOrders),
            (msg::OUT_REQUEST_ALL_OPEN_ORDERS, Out::RequestAllOpenOrders),
            (msg::OUT_REQUEST_MANAGED_ACCOUNTS, Out::RequestManagedAccounts),
            (msg::OUT_REQUEST_HISTORICAL_DATA, Out::RequestHistoricalData),
            (msg::OUT_REQUEST_CURRENT_TIME, Out::RequestCurrentTime),
            (msg::OUT_REQUEST_REAL_TIME_BARS, Out::RequestRealTimeBars),
            (msg::OUT_CANCEL_REAL_TIME_BARS, Out::CancelRealTimeBars),
            (msg::OUT_REQUEST_GLOBAL_CANCEL, Out::RequestGlobalCancel),
            (msg::OUT_REQUEST_MARKET_DATA_TYPE, Out::RequestMarketDataType),
            (msg::OUT_REQUEST_POSITIONS, Out::RequestPositions),
            (msg::OUT_REQUEST_ACCOUNT_SUMMARY, Out::RequestAccountSummary),
            (msg::OUT_CANCEL_ACCOUNT_SUMMARY, Out::CancelAccountSummary),
            (msg::OUT_CANCEL_POSITIONS, Out::CancelPositions),
            (msg::OUT_START_API, Out::StartApi),
            (msg::OUT_REQUEST_POSITIONS_MULTI, Out::RequestPositionsMulti),
            (msg::OUT_CANCEL_POSITIONS_MULTI, Out::CancelPositionsMulti),
            (
                msg::OUT_REQUEST_ACCOUNT_UPDATES_MULTI,
                Out::RequestAccountUpdatesMulti,
            ),
            (
                msg::OUT_CANCEL_ACCOUNT_UPDATES_MULTI,
                Out::CancelAccountUpdatesMulti,
            ),
            (msg::OUT_REQUEST_PNL, Out::RequestPnL),
            (msg::OUT_CANCEL_PNL, Out::CancelPnL),
            (msg::OUT_REQUEST_PNL_SINGLE, Out::RequestPnLSingle),
            (msg::OUT_CANCEL_PNL_SINGLE, Out::CancelPnLSingle),
            (msg::OUT_REQUEST_COMPLETED_ORDERS, Out::RequestCompletedOrders),
            (
                msg::OUT_REQUEST_CURRENT_TIME_IN_MILLIS,
                Out::RequestCurrentTimeInMillis,
            ),
            (msg::OUT_CANCEL_CONTRACT_DATA, Out::CancelContractData),
        ];
        for (ours, theirs) in outgoing {
            assert_eq!(ours, theirs as i32, "{theirs:?}");
        }
    }

    #[test]
    fn start_api_bytes_from_the_sheet() {
        assert_eq!(
            StartApiRequest::decode(&[0x08, 0x07][..]).unwrap().client_id,
            Some(7)
        );
        // client id 0 is sent explicitly and must stay distinguishable from absent.
        assert_eq!(
            StartApiRequest::decode(&[0x08, 0x00][..]).unwrap().client_id,
            Some(0)
        );
        assert_eq!(StartApiRequest::decode(&[][..]).unwrap().client_id, None);
        // Python's clientId 31.
        assert_eq!(
            StartApiRequest::decode(&[0x08, 0x1f][..]).unwrap().client_id,
            Some(31)
        );
        // And we encode 0 explicitly too.
        assert_eq!(
            StartApiRequest {
                client_id: Some(0),
                optional_capabilities: None
            }
            .encode_to_vec(),
            [0x08, 0x00]
        );
    }

    #[test]
    fn empty_requests_decode_from_empty_payloads() {
        PositionsRequest::decode(&[][..]).unwrap();
        CancelPositions::decode(&[][..]).unwrap();
        OpenOrdersRequest::decode(&[][..]).unwrap();
        AllOpenOrdersRequest::decode(&[][..]).unwrap();
        ManagedAccountsRequest::decode(&[][..]).unwrap();
        CurrentTimeRequest::decode(&[][..]).unwrap();
        CurrentTimeInMillisRequest::decode(&[][..]).unwrap();
        assert_eq!(IdsRequest::decode(&[0x08, 0x00][..]).unwrap().num_ids, Some(0));
        assert_eq!(
            MarketDataTypeRequest::decode(&[0x08, 0x03][..])
                .unwrap()
                .market_data_type,
            Some(3)
        );
        // reqAccountUpdates unsubscribe: subscribe=false, acct_code absent.
        let unsub = AccountDataRequest::decode(&[0x08, 0x00][..]).unwrap();
        assert_eq!((unsub.subscribe, unsub.acct_code), (Some(false), None));
    }

    #[test]
    fn python_small_requests_decode() {
        // cancelOrder(1, OrderCancel()): orderId: 1 orderCancel { }
        let cancel = CancelOrderRequest::decode(&[0x08, 0x01, 0x12, 0x00][..]).unwrap();
        assert_eq!(cancel.order_id, Some(1));
        assert_eq!(cancel.order_cancel, Some(OrderCancel::default()));
        // reqExecutions(9003, ExecutionFilter()): reqId: 9003 executionFilter { clientId: 0 }
        let exec = ExecutionRequest::decode(&[0x08, 0xab, 0x46, 0x12, 0x02, 0x08, 0x00][..]).unwrap();
        assert_eq!(exec.req_id, Some(9003));
        assert_eq!(exec.execution_filter.unwrap().client_id, Some(0));
        // reqAccountSummary(9001, "All", tags)
        let summary = AccountSummaryRequest {
            req_id: Some(9001),
            group: Some("All".into()),
            tags: Some("NetLiquidation,TotalCashValue,BuyingPower".into()),
        };
        round_trip(&summary);
        round_trip(&CancelAccountSummary { req_id: Some(9001) });
        round_trip(&CancelMarketData { req_id: Some(9002) });
    }

    #[test]
    fn other_requests_round_trip() {
        round_trip(&PositionsMultiRequest {
            req_id: Some(1),
            account: Some("DU1".into()),
            model_code: Some(String::new()),
        });
        round_trip(&CancelPositionsMulti { req_id: Some(1) });
        round_trip(&PnLRequest {
            req_id: Some(2),
            account: Some("DU1".into()),
            model_code: None,
        });
        round_trip(&CancelPnL { req_id: Some(2) });
        round_trip(&PnLSingleRequest {
            req_id: Some(3),
            account: Some("DU1".into()),
            model_code: None,
            con_id: Some(265_598),
        });
        round_trip(&CancelPnLSingle { req_id: Some(3) });
        round_trip(&GlobalCancelRequest {
            order_cancel: Some(OrderCancel {
                manual_order_cancel_time: Some(String::new()),
                ext_operator: Some("x".into()),
                manual_order_indicator: Some(1),
            }),
        });
        round_trip(&AutoOpenOrdersRequest {
            auto_bind: Some(true),
        });
        round_trip(&CompletedOrdersRequest {
            api_only: Some(false),
        });
        round_trip(&ExecutionRequest {
            req_id: Some(9),
            execution_filter: Some(ExecutionFilter {
                client_id: Some(7),
                acct_code: Some("DU1".into()),
                time: Some("20260101 00:00:00".into()),
                symbol: Some("AAPL".into()),
                sec_type: Some("STK".into()),
                exchange: Some("SMART".into()),
                side: Some("BUY".into()),
                last_n_days: Some(3),
                specific_dates: vec![20_260_101, 20_260_102],
            }),
        });
        round_trip(&ContractDataRequest {
            req_id: Some(1_500_000_000),
            contract: Some(aapl()),
        });
        round_trip(&CancelContractData {
            req_id: Some(1_500_000_000),
        });
        round_trip(&PlaceOrderRequest {
            order_id: Some(5),
            contract: Some(aapl()),
            order: Some(order()),
            attached_orders: Some(AttachedOrders {
                sl_order_id: Some(6),
                sl_order_type: Some("STP".into()),
                pt_order_id: Some(7),
                pt_order_type: Some("LMT".into()),
            }),
        });
    }

    #[test]
    fn market_data_request_with_options_map() {
        let mut req = MarketDataRequest {
            req_id: Some(9002),
            contract: Some(Contract {
                con_id: Some(0),
                symbol: Some("AAPL".into()),
                sec_type: Some("STK".into()),
                exchange: Some("SMART".into()),
                currency: Some("USD".into()),
                ..Contract::default()
            }),
            ..MarketDataRequest::default()
        };
        // Python's reqMktData: no genericTickList/snapshot fields, conId 0 explicit.
        let decoded = MarketDataRequest::decode(req.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded.contract.as_ref().unwrap().con_id, Some(0));
        assert_eq!((decoded.generic_tick_list, decoded.snapshot), (None, None));
        req.generic_tick_list = Some("233,236".into());
        req.snapshot = Some(true);
        req.market_data_options.insert("k".into(), "v".into());
        round_trip(&req);
    }

    /// IB's Python `Order` as sent at sv 226, with fields we don't declare (and a tag beyond IB's).
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
        soft_dollar_tier: Option<SoftDollarTier>,
        #[prost(bool, optional, tag = "140")]
        allow_pre_open: Option<bool>,
        #[prost(string, optional, tag = "999")]
        future_field: Option<String>,
    }

    /// IB's Python `PlaceOrderRequest`, with an empty `attachedOrders {}`.
    #[derive(Clone, PartialEq, prost::Message)]
    struct PyPlaceOrder {
        #[prost(int32, optional, tag = "1")]
        order_id: Option<i32>,
        #[prost(message, optional, tag = "2")]
        contract: Option<Contract>,
        #[prost(message, optional, tag = "3")]
        order: Option<PyOrder>,
        #[prost(message, optional, tag = "4")]
        attached_orders: Option<AttachedOrders>,
    }

    #[test]
    fn python_place_order_decodes_known_fields_and_skips_the_rest() {
        let py = PyPlaceOrder {
            order_id: Some(1),
            contract: Some(Contract {
                con_id: Some(0),
                symbol: Some("AAPL".into()),
                sec_type: Some("STK".into()),
                exchange: Some("SMART".into()),
                currency: Some("USD".into()),
                ..Contract::default()
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
                account: Some("DU1234567".into()),
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
                soft_dollar_tier: Some(SoftDollarTier::default()),
                allow_pre_open: Some(false),
                future_field: Some("ignored".into()),
            }),
            attached_orders: Some(AttachedOrders::default()),
        };
        let bytes = py.encode_to_vec();
        let ours = PlaceOrderRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(ours.order_id, Some(1));
        assert_eq!(ours.attached_orders, Some(AttachedOrders::default()));
        let contract = ours.contract.unwrap();
        assert_eq!(contract.con_id, Some(0));
        assert_eq!(contract.symbol.as_deref(), Some("AAPL"));
        let o = ours.order.unwrap();
        assert_eq!((o.client_id, o.perm_id, o.parent_id), (Some(0), Some(0), Some(0)));
        assert_eq!(o.action.as_deref(), Some("BUY"));
        assert_eq!(o.total_quantity.as_deref(), Some("1"));
        assert_eq!(o.display_size, Some(0));
        assert_eq!(o.order_type.as_deref(), Some("LMT"));
        assert_eq!(o.lmt_price, Some(1.0));
        assert_eq!(o.aux_price, None);
        assert_eq!(o.tif.as_deref(), Some("DAY"));
        assert_eq!(o.account.as_deref(), Some("DU1234567"));
        assert_eq!(o.order_ref.as_deref(), Some("example"));
        assert_eq!(o.oca_type, Some(0));
        assert_eq!(o.trigger_method, Some(0));
        assert_eq!(o.transmit, Some(true));
        assert_eq!(o.exempt_code, Some(-1));
        assert_eq!(o.soft_dollar_tier, Some(SoftDollarTier::default()));
        assert_eq!(o.outside_rth, None);
    }

    #[test]
    fn error_message_keeps_minus_one_explicit() {
        let bytes = ErrorMessage {
            id: Some(-1),
            ..ErrorMessage::default()
        }
        .encode_to_vec();
        // int32 -1 is a 10-byte varint on the wire.
        assert_eq!(
            bytes,
            [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
        assert_eq!(ErrorMessage::decode(bytes.as_slice()).unwrap().id, Some(-1));
    }
}
