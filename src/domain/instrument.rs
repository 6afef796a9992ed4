//! What is traded: security type, currency and the instrument as the cockpit names it; it does not resolve
//! contracts (`conId`) at the broker.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{DomainError, Symbol};

/// An ISO-4217-style currency code: three ASCII letters, upper-cased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// US dollars.
    pub const USD: Self = Self(*b"USD");

    /// Trims, checks and upper-cases `text`.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let text = super::trim_blanks(text);
        match text.as_bytes() {
            &[a, b, c] if text.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Ok(Self([a, b, c].map(|b| b.to_ascii_uppercase())))
            }
            _ => Err(DomainError::invalid(
                "currency",
                text,
                "expected three letters such as 'USD'",
            )),
        }
    }

    /// The code, e.g. `"USD"`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a currency holds three ASCII letters by construction")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = DomainError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<String> for Currency {
    type Error = DomainError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> Self {
        currency.as_str().to_owned()
    }
}

/// IB's security type; the cockpit trades stocks (ETFs are `STK` at IB too), others are carried as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SecType {
    /// `STK`: stocks and ETFs.
    Stk,
    /// Any other IB security type (`OPT`, `FUT`, `CASH`, …), upper-cased.
    Other(String),
}

impl SecType {
    /// Parses IB's code case-insensitively: 1–8 ASCII letters.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let text = super::trim_blanks(text);
        if text.is_empty() || text.len() > 8 || !text.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(DomainError::invalid(
                "sec_type",
                text,
                "expected an IB security type such as 'STK'",
            ));
        }
        let code = text.to_ascii_uppercase();
        Ok(if code == "STK" {
            Self::Stk
        } else {
            Self::Other(code)
        })
    }

    /// IB's code, e.g. `"STK"`.
    #[must_use]
    pub fn as_ib(&self) -> &str {
        match self {
            Self::Stk => "STK",
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for SecType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_ib())
    }
}

impl TryFrom<String> for SecType {
    type Error = DomainError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<SecType> for String {
    fn from(sec_type: SecType) -> Self {
        sec_type.as_ib().to_owned()
    }
}

/// A tradable instrument as the cockpit names it (the broker resolves it to a `conId`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Instrument {
    /// The ticker.
    pub symbol: Symbol,
    /// IB's security type.
    pub sec_type: SecType,
    /// The trading currency.
    pub currency: Currency,
    /// IB's primary exchange (e.g. `NASDAQ`), used to disambiguate; may be empty.
    pub primary_exchange: String,
}

impl Instrument {
    /// A stock or ETF.
    #[must_use]
    pub fn stock(symbol: Symbol, currency: Currency, primary_exchange: impl Into<String>) -> Self {
        Self {
            symbol,
            sec_type: SecType::Stk,
            currency,
            primary_exchange: primary_exchange.into(),
        }
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.symbol, self.sec_type, self.currency)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn currency_is_three_letters() {
        assert_eq!(Currency::parse(" usd ").unwrap(), Currency::USD);
        assert_eq!(Currency::parse("EUR").unwrap().to_string(), "EUR");
        assert_eq!(
            Currency::parse("US").unwrap_err().to_string(),
            "currency 'US': expected three letters such as 'USD'"
        );
        assert!(Currency::parse("US1").is_err());
        assert!(Currency::parse("USDX").is_err());
        assert!(Currency::parse("U\u{405}D").is_err());
        assert!(serde_json::from_str::<Currency>("\"12A\"").is_err());
    }

    #[test]
    fn sec_type_keeps_ib_codes() {
        assert_eq!(SecType::parse("stk").unwrap(), SecType::Stk);
        assert_eq!(SecType::parse("opt").unwrap(), SecType::Other("OPT".into()));
        assert!(SecType::parse("").is_err());
        assert!(SecType::parse("S T K").is_err());
    }

    #[test]
    fn instrument_serde_round_trip() {
        let aapl = Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ");
        let json = serde_json::to_string(&aapl).unwrap();
        assert_eq!(
            json,
            r#"{"symbol":"AAPL","sec_type":"STK","currency":"USD","primary_exchange":"NASDAQ"}"#
        );
        assert_eq!(serde_json::from_str::<Instrument>(&json).unwrap(), aapl);
        assert_eq!(aapl.to_string(), "AAPL STK USD");
    }
}
