//! The order a trader or agent asks for: side, order type, time in force and the ticket that combines them,
//! with its shape checked; it does not judge risk (that is `policy`) or talk to the broker.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AccountId, DomainError, Instrument, Price, Quantity};

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Side {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl Side {
    /// `+1` for a buy, `-1` for a sell: the sign a fill adds to a position.
    #[must_use]
    pub fn sign(self) -> Decimal {
        match self {
            Self::Buy => Decimal::ONE,
            Self::Sell => Decimal::NEGATIVE_ONE,
        }
    }

    /// IB's action text.
    #[must_use]
    pub fn as_ib(self) -> &'static str {
        match self {
            Self::Buy => "BUY",
            Self::Sell => "SELL",
        }
    }

    /// The other side.
    #[must_use]
    pub fn opposite(self) -> Self {
        match self {
            Self::Buy => Self::Sell,
            Self::Sell => Self::Buy,
        }
    }

    /// Parses `buy`/`sell` (any case), IB's execution sides `BOT`/`SLD`, and `b`/`s`.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        match super::trim_blanks(text).to_ascii_uppercase().as_str() {
            "BUY" | "BOT" | "B" => Ok(Self::Buy),
            "SELL" | "SLD" | "S" => Ok(Self::Sell),
            _ => Err(DomainError::invalid(
                "side",
                super::trim_blanks(text),
                "expected BUY or SELL",
            )),
        }
    }
}

/// The order types the cockpit places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum OrderType {
    /// `MKT`.
    Market,
    /// `LMT`.
    Limit,
    /// `STP`.
    Stop,
    /// `STP LMT`.
    StopLimit,
}

impl OrderType {
    /// IB's order type code.
    #[must_use]
    pub fn as_ib(self) -> &'static str {
        match self {
            Self::Market => "MKT",
            Self::Limit => "LMT",
            Self::Stop => "STP",
            Self::StopLimit => "STP LMT",
        }
    }

    /// Whether a limit price is required (and allowed).
    #[must_use]
    pub fn needs_limit_price(self) -> bool {
        matches!(self, Self::Limit | Self::StopLimit)
    }

    /// Whether a stop (trigger) price is required (and allowed).
    #[must_use]
    pub fn needs_stop_price(self) -> bool {
        matches!(self, Self::Stop | Self::StopLimit)
    }

    /// Parses IB codes and names in any case; `_`, `-` and runs of spaces count as one space
    /// (`STP LMT`, `stop_limit`, `Stop-Limit`).
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let words: Vec<String> = text
            .split([' ', '_', '-'])
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_uppercase)
            .collect();
        match words.join(" ").as_str() {
            "MKT" | "MARKET" => Ok(Self::Market),
            "LMT" | "LIMIT" => Ok(Self::Limit),
            "STP" | "STOP" => Ok(Self::Stop),
            "STP LMT" | "STOP LIMIT" => Ok(Self::StopLimit),
            _ => Err(DomainError::invalid(
                "order_type",
                super::trim_blanks(text),
                "expected MKT, LMT, STP or STP LMT",
            )),
        }
    }
}

/// Time in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Tif {
    /// `DAY`: expires at the end of the session.
    Day,
    /// `GTC`: good till cancelled.
    Gtc,
    /// `IOC`: immediate or cancel.
    Ioc,
}

impl Tif {
    /// IB's code.
    #[must_use]
    pub fn as_ib(self) -> &'static str {
        match self {
            Self::Day => "DAY",
            Self::Gtc => "GTC",
            Self::Ioc => "IOC",
        }
    }

    /// Parses IB's code in any case.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        match super::trim_blanks(text).to_ascii_uppercase().as_str() {
            "DAY" => Ok(Self::Day),
            "GTC" => Ok(Self::Gtc),
            "IOC" => Ok(Self::Ioc),
            _ => Err(DomainError::invalid(
                "tif",
                super::trim_blanks(text),
                "expected DAY, GTC or IOC",
            )),
        }
    }
}

/// Display, `FromStr`, and the serde conversions of the code enums, all through `as_ib`/`parse`.
macro_rules! ib_code_text {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_ib())
            }
        }

        impl FromStr for $ty {
            type Err = DomainError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = DomainError;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                Self::parse(&text)
            }
        }

        impl From<$ty> for &'static str {
            fn from(value: $ty) -> Self {
                value.as_ib()
            }
        }
    )*};
}

ib_code_text!(Side, OrderType, Tif);

/// An order as asked for, before policy and approval.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderTicket {
    /// The account to trade in.
    pub account: AccountId,
    /// What to trade.
    pub instrument: Instrument,
    /// Buy or sell.
    pub side: Side,
    /// How many shares.
    pub quantity: Quantity,
    /// Market, limit, stop or stop-limit.
    pub order_type: OrderType,
    /// Required for `LMT` and `STP LMT`, refused otherwise.
    pub limit_price: Option<Price>,
    /// Required for `STP` and `STP LMT`, refused otherwise.
    pub stop_price: Option<Price>,
    /// Time in force.
    pub tif: Tif,
    /// Whether the order may work outside regular trading hours.
    pub outside_rth: bool,
}

impl OrderTicket {
    /// Checks that the prices present match the order type; returns every problem at once.
    pub fn validate(&self) -> Result<(), Vec<DomainError>> {
        let order_type = self.order_type.as_ib();
        let check = |field, price: Option<Price>, needed| match (price, needed) {
            (None, true) => Some(DomainError::MissingPrice { field, order_type }),
            (Some(price), false) => Some(DomainError::UnexpectedPrice {
                field,
                value: price.to_string(),
                order_type,
            }),
            _ => None,
        };
        let problems: Vec<DomainError> = [
            check(
                "limit_price",
                self.limit_price,
                self.order_type.needs_limit_price(),
            ),
            check("stop_price", self.stop_price, self.order_type.needs_stop_price()),
        ]
        .into_iter()
        .flatten()
        .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::domain::{Currency, Symbol};

    fn ticket(order_type: OrderType, limit: Option<&str>, stop: Option<&str>) -> OrderTicket {
        OrderTicket {
            account: AccountId::parse("DU1234567").unwrap(),
            instrument: Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ"),
            side: Side::Buy,
            quantity: Quantity::parse("100").unwrap(),
            order_type,
            limit_price: limit.map(|p| Price::parse(p).unwrap()),
            stop_price: stop.map(|p| Price::parse(p).unwrap()),
            tif: Tif::Day,
            outside_rth: false,
        }
    }

    fn problems(ticket: &OrderTicket) -> Vec<String> {
        ticket
            .validate()
            .err()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn side_parses_ib_and_human_text() {
        assert_eq!(Side::parse(" buy ").unwrap(), Side::Buy);
        assert_eq!(Side::parse("SLD").unwrap(), Side::Sell);
        assert_eq!(Side::Sell.sign(), Decimal::NEGATIVE_ONE);
        assert_eq!(Side::Buy.sign(), Decimal::ONE);
        assert_eq!(Side::Buy.opposite(), Side::Sell);
        assert_eq!(
            Side::parse("hold").unwrap_err().to_string(),
            "side 'hold': expected BUY or SELL"
        );
        assert_eq!(serde_json::to_string(&Side::Sell).unwrap(), "\"SELL\"");
        assert_eq!(serde_json::from_str::<Side>("\"buy\"").unwrap(), Side::Buy);
    }

    #[test]
    fn order_type_parses_codes_and_names() {
        for (text, expected) in [
            ("mkt", OrderType::Market),
            ("Limit", OrderType::Limit),
            ("STP", OrderType::Stop),
            ("STP LMT", OrderType::StopLimit),
            ("stop_limit", OrderType::StopLimit),
            ("Stop-Limit", OrderType::StopLimit),
            ("  stp   lmt ", OrderType::StopLimit),
        ] {
            assert_eq!(OrderType::parse(text).unwrap(), expected, "{text}");
            assert_eq!(OrderType::parse(expected.as_ib()).unwrap(), expected);
        }
        assert_eq!(
            OrderType::parse("TRAIL").unwrap_err().to_string(),
            "order_type 'TRAIL': expected MKT, LMT, STP or STP LMT"
        );
        assert_eq!(
            serde_json::to_string(&OrderType::StopLimit).unwrap(),
            "\"STP LMT\""
        );
    }

    #[test]
    fn order_type_price_needs() {
        use OrderType::{Limit, Market, Stop, StopLimit};
        let needs = |t: OrderType| (t.needs_limit_price(), t.needs_stop_price());
        assert_eq!(needs(Market), (false, false));
        assert_eq!(needs(Limit), (true, false));
        assert_eq!(needs(Stop), (false, true));
        assert_eq!(needs(StopLimit), (true, true));
    }

    #[test]
    fn tif_parses_codes() {
        assert_eq!(Tif::parse("gtc").unwrap(), Tif::Gtc);
        assert_eq!(Tif::Ioc.to_string(), "IOC");
        assert_eq!(
            Tif::parse("GTD").unwrap_err().to_string(),
            "tif 'GTD': expected DAY, GTC or IOC"
        );
    }

    #[test]
    fn well_formed_tickets_validate() {
        assert_eq!(ticket(OrderType::Market, None, None).validate(), Ok(()));
        assert_eq!(ticket(OrderType::Limit, Some("150"), None).validate(), Ok(()));
        assert_eq!(ticket(OrderType::Stop, None, Some("140")).validate(), Ok(()));
        assert_eq!(
            ticket(OrderType::StopLimit, Some("141"), Some("140")).validate(),
            Ok(())
        );
    }

    #[test]
    fn validate_reports_every_problem_naming_the_field() {
        assert_eq!(
            problems(&ticket(OrderType::StopLimit, None, None)),
            [
                "limit_price: required when order_type is 'STP LMT'",
                "stop_price: required when order_type is 'STP LMT'",
            ]
        );
        assert_eq!(
            problems(&ticket(OrderType::Market, Some("150.5"), Some("140"))),
            [
                "limit_price '150.5': must be empty when order_type is 'MKT'",
                "stop_price '140': must be empty when order_type is 'MKT'",
            ]
        );
        assert_eq!(
            problems(&ticket(OrderType::Stop, Some("150"), None)),
            [
                "limit_price '150': must be empty when order_type is 'STP'",
                "stop_price: required when order_type is 'STP'",
            ]
        );
        assert_eq!(
            problems(&ticket(OrderType::Limit, None, None)),
            ["limit_price: required when order_type is 'LMT'"]
        );
    }

    #[test]
    fn ticket_serde_round_trip() {
        let original = ticket(OrderType::StopLimit, Some("141.25"), Some("140"));
        let json = serde_json::to_string(&original).unwrap();
        assert!(json.contains(r#""order_type":"STP LMT""#), "{json}");
        assert!(json.contains(r#""limit_price":"141.25""#), "{json}");
        assert_eq!(serde_json::from_str::<OrderTicket>(&json).unwrap(), original);
    }
}
