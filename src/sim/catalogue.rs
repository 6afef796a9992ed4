//! The simulator's instrument catalogue: US stocks and ETFs with stable contract ids, and how a request's
//! contract is resolved against it. Written against the protocol's contract fields; no domain types.

use super::proto;

/// One listed instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing {
    /// IB contract id (stable across runs).
    pub con_id: i32,
    /// Ticker.
    pub symbol: &'static str,
    /// Primary listing exchange.
    pub primary_exchange: &'static str,
    /// Long name for contract details.
    pub long_name: &'static str,
    /// Industry for contract details.
    pub industry: &'static str,
    /// `COMMON` or `ETF`.
    pub stock_type: &'static str,
    /// Opening price in cents.
    pub start_cents: i64,
}

impl Listing {
    /// Security type (the catalogue is stocks and ETFs).
    pub const SEC_TYPE: &'static str = "STK";
    /// Currency of every listing.
    pub const CURRENCY: &'static str = "USD";
}

const fn l(
    con_id: i32,
    symbol: &'static str,
    primary_exchange: &'static str,
    long_name: &'static str,
    industry: &'static str,
    stock_type: &'static str,
    start_cents: i64,
) -> Listing {
    Listing {
        con_id,
        symbol,
        primary_exchange,
        long_name,
        industry,
        stock_type,
        start_cents,
    }
}

/// Every instrument the simulator knows.
pub const LISTINGS: &[Listing] = &[
    l(
        265_598,
        "AAPL",
        "NASDAQ",
        "APPLE INC",
        "Technology",
        "COMMON",
        23_250,
    ),
    l(
        272_093,
        "MSFT",
        "NASDAQ",
        "MICROSOFT CORP",
        "Technology",
        "COMMON",
        43_120,
    ),
    l(
        3_691_937,
        "AMZN",
        "NASDAQ",
        "AMAZON.COM INC",
        "Communications",
        "COMMON",
        21_480,
    ),
    l(
        208_813_719,
        "GOOGL",
        "NASDAQ",
        "ALPHABET INC-CL A",
        "Communications",
        "COMMON",
        17_840,
    ),
    l(
        107_113_386,
        "META",
        "NASDAQ",
        "META PLATFORMS INC-CLASS A",
        "Communications",
        "COMMON",
        58_530,
    ),
    l(
        4_815_747,
        "NVDA",
        "NASDAQ",
        "NVIDIA CORP",
        "Technology",
        "COMMON",
        14_260,
    ),
    l(
        76_792_991,
        "TSLA",
        "NASDAQ",
        "TESLA INC",
        "Consumer, Cyclical",
        "COMMON",
        24_890,
    ),
    l(
        4_391,
        "AMD",
        "NASDAQ",
        "ADVANCED MICRO DEVICES",
        "Technology",
        "COMMON",
        13_820,
    ),
    l(
        270_639,
        "INTC",
        "NASDAQ",
        "INTEL CORP",
        "Technology",
        "COMMON",
        2_145,
    ),
    l(
        15_124_833,
        "NFLX",
        "NASDAQ",
        "NETFLIX INC",
        "Communications",
        "COMMON",
        70_210,
    ),
    l(
        8_314,
        "IBM",
        "NYSE",
        "INTL BUSINESS MACHINES CORP",
        "Technology",
        "COMMON",
        22_130,
    ),
    l(
        1_520_593,
        "JPM",
        "NYSE",
        "JPMORGAN CHASE & CO",
        "Financial",
        "COMMON",
        24_370,
    ),
    l(
        13_977,
        "XOM",
        "NYSE",
        "EXXON MOBIL CORP",
        "Energy",
        "COMMON",
        11_860,
    ),
    l(
        8_894,
        "KO",
        "NYSE",
        "COCA-COLA CO/THE",
        "Consumer, Non-cyclical",
        "COMMON",
        6_320,
    ),
    l(
        6_459,
        "DIS",
        "NYSE",
        "WALT DISNEY CO/THE",
        "Communications",
        "COMMON",
        11_340,
    ),
    l(
        10_098,
        "BAC",
        "NYSE",
        "BANK OF AMERICA CORP",
        "Financial",
        "COMMON",
        4_680,
    ),
    l(
        13_824,
        "WMT",
        "NYSE",
        "WALMART INC",
        "Consumer, Non-cyclical",
        "COMMON",
        9_120,
    ),
    l(
        8_719,
        "JNJ",
        "NYSE",
        "JOHNSON & JOHNSON",
        "Consumer, Non-cyclical",
        "COMMON",
        15_590,
    ),
    l(
        756_733,
        "SPY",
        "ARCA",
        "SPDR S&P 500 ETF TRUST",
        "Funds",
        "ETF",
        59_840,
    ),
    l(
        320_227_571,
        "QQQ",
        "NASDAQ",
        "INVESCO QQQ TRUST SERIES 1",
        "Funds",
        "ETF",
        51_270,
    ),
    l(
        9_579_970,
        "IWM",
        "ARCA",
        "ISHARES RUSSELL 2000 ETF",
        "Funds",
        "ETF",
        23_150,
    ),
    l(
        73_128_548,
        "DIA",
        "ARCA",
        "SPDR DJIA TRUST",
        "Funds",
        "ETF",
        44_180,
    ),
    l(
        51_529_211,
        "GLD",
        "ARCA",
        "SPDR GOLD SHARES",
        "Funds",
        "ETF",
        24_560,
    ),
    l(
        15_547_841,
        "TLT",
        "NASDAQ",
        "ISHARES 20+ YEAR TREASURY BD",
        "Funds",
        "ETF",
        9_230,
    ),
];

/// Exchanges a stock request may name besides its primary one.
const ROUTING_EXCHANGES: &[&str] = &["SMART", "ISLAND", "NYSE", "NASDAQ", "ARCA", "BATS", "IEX"];

/// The index of the listing a request's contract names, or `None` (IB answers error 200).
///
/// `con_id` 0 or absent means unset (IB's Python client sends `conId: 0`): then symbol, security type,
/// currency and exchange must match. A `con_id` that disagrees with a given symbol matches nothing.
#[must_use]
pub fn resolve(contract: &proto::Contract) -> Option<usize> {
    let con_id = contract.con_id.filter(|id| *id != 0);
    let symbol = non_empty(contract.symbol.as_deref());
    let index = match (con_id, symbol) {
        (Some(id), _) => LISTINGS.iter().position(|l| l.con_id == id)?,
        (None, Some(sym)) => LISTINGS.iter().position(|l| l.symbol.eq_ignore_ascii_case(sym))?,
        (None, None) => return None,
    };
    let listing = &LISTINGS[index];
    let symbol_ok = symbol.is_none_or(|s| listing.symbol.eq_ignore_ascii_case(s));
    let sec_type_ok = non_empty(contract.sec_type.as_deref()).is_none_or(|t| t == Listing::SEC_TYPE);
    let currency_ok = non_empty(contract.currency.as_deref()).is_none_or(|c| c == Listing::CURRENCY);
    let exchange_ok = non_empty(contract.exchange.as_deref())
        .is_none_or(|e| e == listing.primary_exchange || ROUTING_EXCHANGES.contains(&e));
    let primary_ok =
        non_empty(contract.primary_exch.as_deref()).is_none_or(|p| p == listing.primary_exchange);
    (symbol_ok && sec_type_ok && currency_ok && exchange_ok && primary_ok).then_some(index)
}

/// The index of a listing by ticker (case-insensitive).
#[must_use]
pub fn by_symbol(symbol: &str) -> Option<usize> {
    LISTINGS
        .iter()
        .position(|l| l.symbol.eq_ignore_ascii_case(symbol))
}

/// The full contract as IB reports it in responses.
#[must_use]
pub fn contract(index: usize) -> proto::Contract {
    let l = &LISTINGS[index];
    proto::Contract {
        con_id: Some(l.con_id),
        symbol: Some(l.symbol.to_string()),
        sec_type: Some(Listing::SEC_TYPE.to_string()),
        exchange: Some("SMART".to_string()),
        primary_exch: Some(l.primary_exchange.to_string()),
        currency: Some(Listing::CURRENCY.to_string()),
        local_symbol: Some(l.symbol.to_string()),
        trading_class: Some(
            if l.primary_exchange == "NASDAQ" {
                "NMS"
            } else {
                l.symbol
            }
            .to_string(),
        ),
        ..Default::default()
    }
}

/// Contract details as `reqContractDetails` answers them.
#[must_use]
pub fn details(index: usize) -> proto::ContractDetails {
    let l = &LISTINGS[index];
    proto::ContractDetails {
        market_name: Some(
            if l.primary_exchange == "NASDAQ" {
                "NMS"
            } else {
                l.symbol
            }
            .to_string(),
        ),
        min_tick: Some("0.01".to_string()),
        order_types: Some("ACTIVETIM,AD,ALERT,ALLOC,DAY,GTC,IOC,LMT,MKT,STP,STPLMT,TRAIL".to_string()),
        valid_exchanges: Some(format!("SMART,{},ARCA,BATS,IEX,ISLAND", l.primary_exchange)),
        price_magnifier: Some(1),
        under_con_id: Some(0),
        long_name: Some(l.long_name.to_string()),
        industry: Some(l.industry.to_string()),
        time_zone_id: Some("US/Eastern".to_string()),
        trading_hours: Some("20261124:0400-20261124:2000;20261125:0400-20261125:2000".to_string()),
        liquid_hours: Some("20261124:0930-20261124:1600;20261125:0930-20261125:1600".to_string()),
        market_rule_ids: Some("26,26,26,26,26,26".to_string()),
        stock_type: Some(l.stock_type.to_string()),
        min_size: Some("1".to_string()),
        size_increment: Some("1".to_string()),
        suggested_size_increment: Some("100".to_string()),
        ..Default::default()
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stock(symbol: &str) -> proto::Contract {
        proto::Contract {
            symbol: Some(symbol.to_string()),
            sec_type: Some("STK".to_string()),
            exchange: Some("SMART".to_string()),
            currency: Some("USD".to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn catalogue_has_twenty_unique_instruments() {
        assert!(LISTINGS.len() >= 20);
        let mut ids: Vec<_> = LISTINGS.iter().map(|l| l.con_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), LISTINGS.len(), "contract ids must be unique");
    }

    #[test]
    fn resolves_by_symbol_and_by_con_id() {
        let aapl = resolve(&stock("AAPL")).expect("AAPL");
        assert_eq!(LISTINGS[aapl].con_id, 265_598);
        let by_id = proto::Contract {
            con_id: Some(265_598),
            ..Default::default()
        };
        assert_eq!(resolve(&by_id), Some(aapl));
    }

    #[test]
    fn con_id_zero_means_unset() {
        let mut c = stock("MSFT");
        c.con_id = Some(0);
        assert_eq!(resolve(&c).map(|i| LISTINGS[i].symbol), Some("MSFT"));
    }

    #[test]
    fn mismatches_resolve_to_nothing() {
        assert_eq!(resolve(&stock("NOPE")), None);
        let mut c = stock("AAPL");
        c.currency = Some("EUR".to_string());
        assert_eq!(resolve(&c), None);
        let mut c = stock("AAPL");
        c.con_id = Some(272_093);
        assert_eq!(resolve(&c), None, "conId of MSFT with symbol AAPL");
        assert_eq!(resolve(&proto::Contract::default()), None);
    }
}
