//! The exchange's data handlers: market data (streaming, snapshot, delayed), contract details, account
//! summary, account updates, positions and P&L — the initial answers and the pushes that follow.

use std::collections::HashMap;

use chrono::Utc;
use rust_decimal::Decimal;

use super::accounts::{Valuation, dollars};
use super::book::to_f64;
use super::catalogue::{self, LISTINGS};
use super::exchange::{Exchange, MAX_MARKET_DATA_LINES, MarketSub, Summary};
use super::market::{Changed, Quote};
use super::proto::{self, msg};
use super::wire;

/// Tick types (IB's numbering).
mod tick {
    pub const BID_SIZE: i32 = 0;
    pub const BID: i32 = 1;
    pub const ASK: i32 = 2;
    pub const ASK_SIZE: i32 = 3;
    pub const LAST: i32 = 4;
    pub const HIGH: i32 = 6;
    pub const LOW: i32 = 7;
    pub const VOLUME: i32 = 8;
    pub const CLOSE: i32 = 9;
    pub const OPEN: i32 = 14;
    pub const LAST_TIMESTAMP: i32 = 45;
    /// Delayed ticks are the real-time ones shifted into IB's 66.. range.
    pub fn delayed(t: i32) -> i32 {
        match t {
            BID => 66,
            ASK => 67,
            LAST => 68,
            BID_SIZE => 69,
            ASK_SIZE => 70,
            HIGH => 72,
            LOW => 73,
            VOLUME => 74,
            CLOSE => 75,
            OPEN => 76,
            LAST_TIMESTAMP => 88,
            other => other,
        }
    }
}

/// Account-summary tags the simulator reports.
pub const SUMMARY_TAGS: &[&str] = &[
    "AccountType",
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "AccruedCash",
    "BuyingPower",
    "EquityWithLoanValue",
    "PreviousDayEquityWithLoanValue",
    "GrossPositionValue",
    "RegTEquity",
    "RegTMargin",
    "SMA",
    "InitMarginReq",
    "MaintMarginReq",
    "AvailableFunds",
    "ExcessLiquidity",
    "Cushion",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "FullAvailableFunds",
    "FullExcessLiquidity",
    "LookAheadNextChange",
    "LookAheadInitMarginReq",
    "LookAheadMaintMarginReq",
    "LookAheadAvailableFunds",
    "LookAheadExcessLiquidity",
    "HighestSeverity",
    "DayTradesRemaining",
    "Leverage",
];

/// The value (and currency) IB reports for an account-summary tag.
fn summary_value(tag: &str, v: &Valuation) -> Option<(String, &'static str)> {
    let money = |d: Decimal| Some((d.round_dp(2).to_string(), "USD"));
    match tag {
        "AccountType" => Some(("INDIVIDUAL".to_string(), "")),
        "NetLiquidation" => money(v.net_liquidation),
        "TotalCashValue" | "SettledCash" => money(v.total_cash),
        "AccruedCash" => money(Decimal::ZERO),
        "BuyingPower" => money(v.buying_power),
        "EquityWithLoanValue" | "PreviousDayEquityWithLoanValue" | "RegTEquity" => money(v.equity_with_loan),
        "GrossPositionValue" => money(v.gross_position_value),
        "RegTMargin" | "InitMarginReq" | "FullInitMarginReq" | "LookAheadInitMarginReq" => {
            money(v.init_margin)
        }
        "MaintMarginReq" | "FullMaintMarginReq" | "LookAheadMaintMarginReq" => money(v.maint_margin),
        "SMA" | "AvailableFunds" | "FullAvailableFunds" | "LookAheadAvailableFunds" => {
            money(v.available_funds)
        }
        "ExcessLiquidity" | "FullExcessLiquidity" | "LookAheadExcessLiquidity" => money(v.excess_liquidity),
        "Cushion" => Some((v.cushion.to_string(), "")),
        "LookAheadNextChange" | "HighestSeverity" => Some(("0".to_string(), "")),
        "DayTradesRemaining" => Some(("-1".to_string(), "")),
        "Leverage" => {
            let lev = if v.net_liquidation.is_zero() {
                Decimal::ZERO
            } else {
                v.gross_position_value / v.net_liquidation
            };
            Some((lev.round_dp(2).to_string(), ""))
        }
        _ => None,
    }
}

impl Exchange {
    pub(crate) fn on_market_data(&mut self, conn: u64, req: &proto::MarketDataRequest) {
        let req_id = req.req_id.unwrap_or_default();
        let Some(listing) = req.contract.as_ref().and_then(catalogue::resolve) else {
            self.send_error(
                conn,
                req_id,
                200,
                "No security definition has been found for the request",
            );
            return;
        };
        let snapshot = req.snapshot.unwrap_or(false) || req.regulatory_snapshot.unwrap_or(false);
        let Some(c) = self.conns.get(&conn) else { return };
        let wants_delayed = matches!(c.market_data_type, 3 | 4);
        let lines = c.market.len();
        let delayed = if self.unsubscribed.contains(&listing) {
            if !(self.delayed.contains(&listing) && wants_delayed) {
                self.send_error(conn, req_id, 354, "Requested market data is not subscribed.");
                return;
            }
            self.send_error(
                conn,
                req_id,
                10167,
                "Requested market data is not subscribed. Displaying delayed market data.",
            );
            true
        } else {
            false
        };
        if !snapshot && lines >= MAX_MARKET_DATA_LINES {
            self.send_error(conn, req_id, 101, "Max number of tickers has been reached.");
            return;
        }
        let data_type = if delayed { 3 } else { 1 };
        let mut bytes = wire::encode_frame(
            msg::IN_MARKET_DATA_TYPE,
            &proto::MarketDataType {
                req_id: Some(req_id),
                market_data_type: Some(data_type),
            },
        );
        bytes.extend(wire::encode_frame(
            msg::IN_TICK_REQ_PARAMS,
            &proto::TickReqParams {
                req_id: Some(req_id),
                min_tick: Some("0.01".to_string()),
                bbo_exchange: Some("9c0001".to_string()),
                snapshot_permissions: Some(3),
                ..Default::default()
            },
        ));
        let quote = *self.market.quote(listing);
        let all = Changed {
            bid: true,
            ask: true,
            trade: true,
        };
        bytes.extend(tick_frames(req_id, &quote, all, delayed, true));
        if snapshot {
            bytes.extend(wire::encode_frame(
                msg::IN_TICK_SNAPSHOT_END,
                &proto::TickSnapshotEnd { req_id: Some(req_id) },
            ));
        } else if let Some(c) = self.conns.get_mut(&conn) {
            c.market.insert(req_id, MarketSub { listing, delayed });
        }
        self.send_bytes(conn, bytes);
    }

    pub(crate) fn on_cancel_market_data(&mut self, conn: u64, req: &proto::CancelMarketData) {
        let req_id = req.req_id.unwrap_or_default();
        let removed = self.conns.get_mut(&conn).and_then(|c| c.market.remove(&req_id));
        if removed.is_none() {
            tracing::debug!(
                conn,
                req_id,
                "sim: cancel for an unknown market-data request ignored"
            );
        }
    }

    /// Streams changed quotes to every subscriber.
    pub(crate) fn stream_ticks(&mut self, changes: &[Changed]) {
        let mut outgoing = Vec::new();
        for (&conn, c) in &self.conns {
            let mut bytes = Vec::new();
            for (&req_id, sub) in &c.market {
                let change = changes[sub.listing];
                if change.any() {
                    bytes.extend(tick_frames(
                        req_id,
                        self.market.quote(sub.listing),
                        change,
                        sub.delayed,
                        false,
                    ));
                }
            }
            if !bytes.is_empty() {
                outgoing.push((conn, bytes));
            }
        }
        for (conn, bytes) in outgoing {
            self.send_bytes(conn, bytes);
        }
    }

    /// Streams one listing's change to each of its subscribers (the flood: each change at once).
    pub(crate) fn stream_listing(&mut self, listing: usize, change: Changed) {
        let mut outgoing = Vec::new();
        for (&conn, c) in &self.conns {
            for (&req_id, sub) in c.market.iter().filter(|(_, sub)| sub.listing == listing) {
                let bytes = tick_frames(req_id, self.market.quote(listing), change, sub.delayed, false);
                outgoing.push((conn, bytes));
            }
        }
        for (conn, bytes) in outgoing {
            self.send_bytes(conn, bytes);
        }
    }

    pub(crate) fn on_contract_data(&mut self, conn: u64, req: &proto::ContractDataRequest) {
        let req_id = req.req_id.unwrap_or_default();
        let Some(listing) = req.contract.as_ref().and_then(catalogue::resolve) else {
            self.send_error(
                conn,
                req_id,
                200,
                "No security definition has been found for the request",
            );
            return;
        };
        let data = proto::ContractData {
            req_id: Some(req_id),
            contract: Some(catalogue::contract(listing)),
            contract_details: Some(catalogue::details(listing)),
        };
        let mut bytes = wire::encode_frame(msg::IN_CONTRACT_DATA, &data);
        bytes.extend(wire::encode_frame(
            msg::IN_CONTRACT_DATA_END,
            &proto::ContractDataEnd { req_id: Some(req_id) },
        ));
        self.send_bytes(conn, bytes);
    }

    pub(crate) fn on_account_summary(&mut self, conn: u64, req: &proto::AccountSummaryRequest) {
        let req_id = req.req_id.unwrap_or_default();
        let group = req.group.clone().unwrap_or_else(|| "All".to_string());
        let mut tags: Vec<String> = Vec::new();
        for tag in req
            .tags
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if tag.starts_with("$LEDGER") {
                tags.extend(["TotalCashValue", "NetLiquidation"].map(String::from));
            } else {
                tags.push(tag.to_string());
            }
        }
        let mut summary = Summary {
            group,
            tags,
            sent: HashMap::new(),
        };
        let rows = self.summary_rows(&summary);
        let mut bytes = Vec::new();
        for (account, tag, value, currency) in rows {
            bytes.extend(summary_frame(req_id, &account, &tag, &value, currency));
            summary.sent.insert((account, tag), value);
        }
        bytes.extend(wire::encode_frame(
            msg::IN_ACCOUNT_SUMMARY_END,
            &proto::AccountSummaryEnd { req_id: Some(req_id) },
        ));
        if let Some(c) = self.conns.get_mut(&conn) {
            c.summaries.insert(req_id, summary);
        }
        self.send_bytes(conn, bytes);
    }

    fn summary_rows(&self, summary: &Summary) -> Vec<(String, String, String, &'static str)> {
        let mut rows = Vec::new();
        for account in &self.accounts {
            if summary.group != "All" && summary.group != account.code {
                continue;
            }
            let v = account.valuation(&self.market, self.rates);
            for tag in &summary.tags {
                if let Some((value, currency)) = summary_value(tag, &v) {
                    rows.push((account.code.clone(), tag.clone(), value, currency));
                }
            }
        }
        rows
    }

    pub(crate) fn on_account_updates(&mut self, conn: u64, req: &proto::AccountDataRequest) {
        if !req.subscribe.unwrap_or(false) {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.account_updates = None;
            }
            return;
        }
        let code = req
            .acct_code
            .clone()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| self.cfg.accounts[0].clone());
        let Some(account) = self.accounts.iter().find(|a| a.code == code) else {
            let text = format!("Error validating request.-'bd' : cause - account '{code}' is not managed");
            self.send_error(conn, -1, 321, &text);
            return;
        };
        let v = account.valuation(&self.market, self.rates);
        let mut bytes = Vec::new();
        bytes.extend(account_value_frame("AccountCode", &code, "", &code));
        bytes.extend(account_value_frame("Currency", "USD", "USD", &code));
        for (key, value, currency) in account_values(&v) {
            bytes.extend(account_value_frame(&key, &value, currency, &code));
            // Recorded as sent, so the next push carries only what changes after this download.
            self.account_values_sent
                .insert((format!("{conn}:{code}"), key), value);
        }
        for &listing in account.holdings.keys() {
            bytes.extend(wire::encode_frame(
                msg::IN_PORTFOLIO_VALUE,
                &self.portfolio_value(&code, listing),
            ));
        }
        bytes.extend(update_time_frame());
        bytes.extend(wire::encode_frame(
            msg::IN_ACCOUNT_DOWNLOAD_END,
            &proto::AccountDataEnd {
                account_name: Some(code.clone()),
            },
        ));
        if let Some(c) = self.conns.get_mut(&conn) {
            c.account_updates = Some(code);
        }
        self.send_bytes(conn, bytes);
    }

    fn portfolio_value(&self, code: &str, listing: usize) -> proto::PortfolioValue {
        let account = self.accounts.iter().find(|a| a.code == code);
        let holding = account.and_then(|a| a.holdings.get(&listing));
        let (qty, _, unrealized, realized, value) =
            account.map_or(Default::default(), |a| a.position_pnl(listing, &self.market));
        proto::PortfolioValue {
            contract: Some(catalogue::contract(listing)),
            position: Some(qty.normalize().to_string()),
            market_price: Some(to_f64(dollars(self.market.quote(listing).last))),
            market_value: Some(to_f64(value)),
            average_cost: Some(holding.map_or(0.0, |h| to_f64(h.average_cost))),
            unrealized_pnl: Some(to_f64(unrealized)),
            realized_pnl: Some(to_f64(realized)),
            account_name: Some(code.to_string()),
        }
    }

    pub(crate) fn on_positions(&mut self, conn: u64) {
        let mut bytes = Vec::new();
        for account in &self.accounts {
            for (&listing, h) in &account.holdings {
                bytes.extend(wire::encode_frame(
                    msg::IN_POSITION,
                    &position_message(&account.code, listing, h),
                ));
            }
        }
        bytes.extend(wire::encode_frame(msg::IN_POSITION_END, &proto::PositionEnd {}));
        if let Some(c) = self.conns.get_mut(&conn) {
            c.positions = true;
        }
        self.send_bytes(conn, bytes);
    }

    pub(crate) fn on_positions_multi(&mut self, conn: u64, req: &proto::PositionsMultiRequest) {
        let req_id = req.req_id.unwrap_or_default();
        let filter = req.account.clone().filter(|a| !a.is_empty() && a != "All");
        let mut bytes = Vec::new();
        for account in &self.accounts {
            if filter.as_ref().is_some_and(|f| *f != account.code) {
                continue;
            }
            for (&listing, h) in &account.holdings {
                bytes.extend(wire::encode_frame(
                    msg::IN_POSITION_MULTI,
                    &position_multi(req_id, &account.code, listing, h),
                ));
            }
        }
        bytes.extend(wire::encode_frame(
            msg::IN_POSITION_MULTI_END,
            &proto::PositionMultiEnd { req_id: Some(req_id) },
        ));
        if let Some(c) = self.conns.get_mut(&conn) {
            c.positions_multi.insert(req_id, filter);
        }
        self.send_bytes(conn, bytes);
    }

    pub(crate) fn on_pnl(&mut self, conn: u64, req: &proto::PnLRequest) {
        let req_id = req.req_id.unwrap_or_default();
        let account = req.account.clone().unwrap_or_default();
        if !self.accounts.iter().any(|a| a.code == account) {
            self.send_error(
                conn,
                req_id,
                321,
                &format!("Error validating request.-'bd' : cause - account '{account}' is not managed"),
            );
            return;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.pnl.insert(req_id, account.clone());
        }
        let frame = self.pnl_frame(req_id, &account);
        self.send_bytes(conn, frame);
    }

    pub(crate) fn on_pnl_single(&mut self, conn: u64, req: &proto::PnLSingleRequest) {
        let req_id = req.req_id.unwrap_or_default();
        let account = req.account.clone().unwrap_or_default();
        let listing = req
            .con_id
            .and_then(|id| LISTINGS.iter().position(|l| l.con_id == id));
        let Some(listing) = listing.filter(|_| self.accounts.iter().any(|a| a.code == account)) else {
            self.send_error(
                conn,
                req_id,
                321,
                "Error validating request.-'bd' : cause - unknown account or contract id",
            );
            return;
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.pnl_single.insert(req_id, (account.clone(), listing));
        }
        let frame = self.pnl_single_frame(req_id, &account, listing);
        self.send_bytes(conn, frame);
    }

    fn pnl_frame(&self, req_id: i32, account: &str) -> Vec<u8> {
        let v = self
            .accounts
            .iter()
            .find(|a| a.code == account)
            .map(|a| a.valuation(&self.market, self.rates))
            .unwrap_or_default();
        wire::encode_frame(
            msg::IN_PNL,
            &proto::PnL {
                req_id: Some(req_id),
                daily_pn_l: Some(to_f64(v.daily_pnl)),
                unrealized_pn_l: Some(to_f64(v.unrealized_pnl)),
                realized_pn_l: Some(to_f64(v.realized_pnl)),
            },
        )
    }

    fn pnl_single_frame(&self, req_id: i32, account: &str, listing: usize) -> Vec<u8> {
        let (qty, daily, unrealized, realized, value) = self
            .accounts
            .iter()
            .find(|a| a.code == account)
            .map_or(Default::default(), |a| a.position_pnl(listing, &self.market));
        wire::encode_frame(
            msg::IN_PNL_SINGLE,
            &proto::PnLSingle {
                req_id: Some(req_id),
                position: Some(qty.normalize().to_string()),
                daily_pn_l: Some(to_f64(daily)),
                unrealized_pn_l: Some(to_f64(unrealized)),
                realized_pn_l: Some(to_f64(realized)),
                value: Some(to_f64(value)),
            },
        )
    }

    /// Pushes P&L to every P&L subscriber (IB does this about once a second).
    pub(crate) fn push_pnl(&mut self) {
        let mut outgoing = Vec::new();
        for (&conn, c) in &self.conns {
            let mut bytes = Vec::new();
            for (&req_id, account) in &c.pnl {
                bytes.extend(self.pnl_frame(req_id, account));
            }
            for (&req_id, (account, listing)) in &c.pnl_single {
                bytes.extend(self.pnl_single_frame(req_id, account, *listing));
            }
            if !bytes.is_empty() {
                outgoing.push((conn, bytes));
            }
        }
        for (conn, bytes) in outgoing {
            self.send_bytes(conn, bytes);
        }
    }

    /// Pushes changed account-summary rows and account values to their subscribers.
    pub(crate) fn push_account_changes(&mut self) {
        let mut outgoing = Vec::new();
        let conn_ids: Vec<u64> = self.conns.keys().copied().collect();
        for conn in conn_ids {
            let mut bytes = Vec::new();
            let req_ids: Vec<i32> = self.conns[&conn].summaries.keys().copied().collect();
            for req_id in req_ids {
                let rows = self.summary_rows(&self.conns[&conn].summaries[&req_id]);
                let summary = self
                    .conns
                    .get_mut(&conn)
                    .and_then(|c| c.summaries.get_mut(&req_id))
                    .expect("listed above");
                for (account, tag, value, currency) in rows {
                    let key = (account.clone(), tag.clone());
                    if summary.sent.get(&key) != Some(&value) {
                        bytes.extend(summary_frame(req_id, &account, &tag, &value, currency));
                        summary.sent.insert(key, value);
                    }
                }
            }
            if let Some(code) = self.conns[&conn].account_updates.clone()
                && let Some(account) = self.accounts.iter().find(|a| a.code == code)
            {
                let v = account.valuation(&self.market, self.rates);
                let mut changed = false;
                for (key, value, currency) in account_values(&v) {
                    let sent_key = (format!("{conn}:{code}"), key.clone());
                    if self.account_values_sent.get(&sent_key) != Some(&value) {
                        bytes.extend(account_value_frame(&key, &value, currency, &code));
                        self.account_values_sent.insert(sent_key, value);
                        changed = true;
                    }
                }
                if changed {
                    for &listing in account.holdings.keys() {
                        bytes.extend(wire::encode_frame(
                            msg::IN_PORTFOLIO_VALUE,
                            &self.portfolio_value(&code, listing),
                        ));
                    }
                    bytes.extend(update_time_frame());
                }
            }
            if !bytes.is_empty() {
                outgoing.push((conn, bytes));
            }
        }
        for (conn, bytes) in outgoing {
            self.send_bytes(conn, bytes);
        }
    }

    /// A position changed with no execution (the `shift_position` fault), pushed like a fill's: a new
    /// holding costs the last price, cash does not move (the shares came from elsewhere).
    pub(crate) fn shift_position(&mut self, account: Option<&str>, symbol: &str, quantity: Decimal) {
        let Some(listing) = catalogue::by_symbol(symbol) else {
            return;
        };
        let last = dollars(self.market.quote(listing).last);
        let Some(a) = self
            .accounts
            .iter_mut()
            .find(|a| account.is_none_or(|code| a.code == code))
        else {
            return;
        };
        let h = a.holdings.entry(listing).or_insert(super::accounts::Holding {
            quantity: Decimal::ZERO,
            average_cost: last,
            day_basis: last,
            realized_today: Decimal::ZERO,
        });
        h.quantity += quantity;
        if h.quantity.is_zero() {
            h.average_cost = Decimal::ZERO;
        }
        let code = a.code.clone();
        self.push_position_change(&code, listing);
        self.push_account_changes();
    }

    /// After a fill: the changed position to position subscribers.
    pub(crate) fn push_position_change(&mut self, code: &str, listing: usize) {
        let Some(h) = self
            .accounts
            .iter()
            .find(|a| a.code == code)
            .and_then(|a| a.holdings.get(&listing))
            .cloned()
        else {
            return;
        };
        let mut outgoing = Vec::new();
        for (&conn, c) in &self.conns {
            let mut bytes = Vec::new();
            if c.positions {
                bytes.extend(wire::encode_frame(
                    msg::IN_POSITION,
                    &position_message(code, listing, &h),
                ));
            }
            for (&req_id, filter) in &c.positions_multi {
                if filter.as_ref().is_none_or(|f| f == code) {
                    bytes.extend(wire::encode_frame(
                        msg::IN_POSITION_MULTI,
                        &position_multi(req_id, code, listing, &h),
                    ));
                }
            }
            if !bytes.is_empty() {
                outgoing.push((conn, bytes));
            }
        }
        for (conn, bytes) in outgoing {
            self.send_bytes(conn, bytes);
        }
    }
}

fn account_values(v: &Valuation) -> Vec<(String, String, &'static str)> {
    let mut values: Vec<(String, String, &'static str)> = SUMMARY_TAGS
        .iter()
        .filter_map(|tag| {
            summary_value(tag, v).map(|(value, currency)| ((*tag).to_string(), value, currency))
        })
        .collect();
    let money = |d: Decimal| d.round_dp(2).to_string();
    values.push(("CashBalance".to_string(), money(v.total_cash), "USD"));
    values.push(("UnrealizedPnL".to_string(), money(v.unrealized_pnl), "USD"));
    values.push(("RealizedPnL".to_string(), money(v.realized_pnl), "USD"));
    values
}

fn account_value_frame(key: &str, value: &str, currency: &str, account: &str) -> Vec<u8> {
    wire::encode_frame(
        msg::IN_ACCOUNT_VALUE,
        &proto::AccountValue {
            key: Some(key.to_string()),
            value: Some(value.to_string()),
            currency: Some(currency.to_string()),
            account_name: Some(account.to_string()),
        },
    )
}

fn summary_frame(req_id: i32, account: &str, tag: &str, value: &str, currency: &str) -> Vec<u8> {
    wire::encode_frame(
        msg::IN_ACCOUNT_SUMMARY,
        &proto::AccountSummary {
            req_id: Some(req_id),
            account: Some(account.to_string()),
            tag: Some(tag.to_string()),
            value: Some(value.to_string()),
            currency: Some(currency.to_string()),
        },
    )
}

fn update_time_frame() -> Vec<u8> {
    let now = Utc::now().with_timezone(&chrono_tz::America::New_York);
    wire::encode_frame(
        msg::IN_ACCOUNT_UPDATE_TIME,
        &proto::AccountUpdateTime {
            time_stamp: Some(now.format("%H:%M").to_string()),
        },
    )
}

fn position_message(account: &str, listing: usize, h: &super::accounts::Holding) -> proto::Position {
    proto::Position {
        account: Some(account.to_string()),
        contract: Some(catalogue::contract(listing)),
        position: Some(h.quantity.normalize().to_string()),
        avg_cost: Some(to_f64(h.average_cost)),
    }
}

fn position_multi(
    req_id: i32,
    account: &str,
    listing: usize,
    h: &super::accounts::Holding,
) -> proto::PositionMulti {
    proto::PositionMulti {
        req_id: Some(req_id),
        account: Some(account.to_string()),
        contract: Some(catalogue::contract(listing)),
        position: Some(h.quantity.normalize().to_string()),
        avg_cost: Some(to_f64(h.average_cost)),
        model_code: None,
    }
}

/// The tick messages [`tick_frames`] streams for a change (not the initial snapshot): one per side that
/// changed (price with its size), three for a trade (last with its size, volume, last timestamp).
pub(crate) fn tick_messages(change: Changed) -> u64 {
    u64::from(change.bid) + u64::from(change.ask) + 3 * u64::from(change.trade)
}

/// Tick frames for one subscription: bid/ask/last with their sizes in one `TickPrice` each, volume,
/// last-trade time, and on the first answer the session's high, low, open and close.
fn tick_frames(req_id: i32, q: &Quote, change: Changed, delayed: bool, initial: bool) -> Vec<u8> {
    let t = |kind: i32| if delayed { tick::delayed(kind) } else { kind };
    let price = |kind: i32, cents: i64, size: Option<i64>| {
        wire::encode_frame(
            msg::IN_TICK_PRICE,
            &proto::TickPrice {
                req_id: Some(req_id),
                tick_type: Some(t(kind)),
                price: Some(to_f64(dollars(cents))),
                size: size.map(|s| s.to_string()),
                attr_mask: Some(0),
            },
        )
    };
    let mut bytes = Vec::new();
    if change.bid {
        bytes.extend(price(tick::BID, q.bid, Some(q.bid_size)));
    }
    if change.ask {
        bytes.extend(price(tick::ASK, q.ask, Some(q.ask_size)));
    }
    if change.trade {
        bytes.extend(price(tick::LAST, q.last, Some(q.last_size)));
        bytes.extend(wire::encode_frame(
            msg::IN_TICK_SIZE,
            &proto::TickSize {
                req_id: Some(req_id),
                tick_type: Some(t(tick::VOLUME)),
                size: Some(q.volume.to_string()),
            },
        ));
        bytes.extend(wire::encode_frame(
            msg::IN_TICK_STRING,
            &proto::TickString {
                req_id: Some(req_id),
                tick_type: Some(t(tick::LAST_TIMESTAMP)),
                value: Some(q.last_time.timestamp().to_string()),
            },
        ));
    }
    if initial {
        for (kind, cents) in [
            (tick::HIGH, q.high),
            (tick::LOW, q.low),
            (tick::OPEN, q.open),
            (tick::CLOSE, q.close),
        ] {
            bytes.extend(price(kind, cents, None));
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames in a run of length-prefixed frames.
    fn frames(mut bytes: &[u8]) -> u64 {
        let mut n = 0;
        while let [a, b, c, d, rest @ ..] = bytes {
            let len = usize::try_from(u32::from_be_bytes([*a, *b, *c, *d])).expect("length");
            bytes = &rest[len..];
            n += 1;
        }
        n
    }

    #[test]
    fn the_flood_counts_exactly_the_tick_messages_a_change_streams() {
        let quote = *super::super::market::Market::new(1, Utc::now()).quote(0);
        for bid in [false, true] {
            for ask in [false, true] {
                for trade in [false, true] {
                    let change = Changed { bid, ask, trade };
                    let sent = frames(&tick_frames(7, &quote, change, false, false));
                    assert_eq!(tick_messages(change), sent, "{change:?}");
                }
            }
        }
    }
}
