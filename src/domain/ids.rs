//! Identifiers: ticker symbols, IB account codes and the numeric ids of proposals, orders, contracts and
//! API clients, each validated once at the edge; it does not look anything up at the broker.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::DomainError;

const SYMBOL_CHARS: &str = "only A-Z, 0-9, '.' and '-' are allowed";

/// A normalised ticker symbol: 1–12 of `A-Z`, `0-9`, `.` and `-`, starting with a letter or digit.
///
/// Parsing trims and upper-cases ASCII only, so lookalikes (Cyrillic `А`, the Kelvin sign, dotless `ı`) are
/// refused rather than folded into a real ticker.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

impl Symbol {
    /// The longest symbol accepted.
    pub const MAX_LEN: usize = 12;

    /// Trims, checks and upper-cases `text`.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let text = super::trim_blanks(text);
        let refuse = |rule: String| Err(DomainError::invalid("symbol", text, rule));
        if text.is_empty() {
            return refuse("must not be empty".into());
        }
        if let Some(c) = text.chars().find(|c| !c.is_ascii()) {
            return refuse(format!(
                "character U+{:04X} is not ASCII; {SYMBOL_CHARS}",
                u32::from(c)
            ));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return refuse(SYMBOL_CHARS.into());
        }
        if text.len() > Self::MAX_LEN {
            return refuse(format!("at most {} characters", Self::MAX_LEN));
        }
        if !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return refuse("must start with a letter or digit".into());
        }
        Ok(Self(text.to_ascii_uppercase()))
    }

    /// The symbol text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Symbol {
    type Err = DomainError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<String> for Symbol {
    type Error = DomainError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Symbol> for String {
    fn from(symbol: Symbol) -> Self {
        symbol.0
    }
}

/// Whether an account trades real money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// An IB paper-trading account (`DU…` individual, `DF…` advisor).
    Paper,
    /// Anything else: real money.
    Live,
}

/// An IB account code such as `DU1234567`: 2–20 ASCII letters and digits, upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    /// Trims, checks and upper-cases `text`.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let text = super::trim_blanks(text);
        let refuse = |rule: &str| Err(DomainError::invalid("account", text, rule));
        if !text.chars().all(|c| c.is_ascii_alphanumeric()) {
            return refuse("only ASCII letters and digits are allowed");
        }
        if !(2..=20).contains(&text.len()) {
            return refuse("must be 2 to 20 characters long");
        }
        Ok(Self(text.to_ascii_uppercase()))
    }

    /// Paper for IB's paper prefixes (`DU`, `DF`); everything else is treated as live.
    #[must_use]
    pub fn kind(&self) -> AccountKind {
        if self.0.starts_with("DU") || self.0.starts_with("DF") {
            AccountKind::Paper
        } else {
            AccountKind::Live
        }
    }

    /// The account code.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AccountId {
    type Err = DomainError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<String> for AccountId {
    type Error = DomainError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<AccountId> for String {
    fn from(account: AccountId) -> Self {
        account.0
    }
}

/// The cockpit's id for a staged proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProposalId(pub u64);

impl fmt::Display for ProposalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An IB order id that the cockpit may use: `0 ≤ id < 1_500_000_000`.
///
/// Orders outside that range (manual TWS orders, other tools' ranges) are not ours and do not convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i32", into = "i32")]
pub struct OrderId(i32);

impl OrderId {
    /// The first id that is no longer ours.
    pub const LIMIT: i32 = 1_500_000_000;

    /// Checks that `id` is in the cockpit's range.
    pub fn new(id: i32) -> Result<Self, DomainError> {
        if (0..Self::LIMIT).contains(&id) {
            Ok(Self(id))
        } else {
            Err(DomainError::invalid(
                "order id",
                &id.to_string(),
                "must be at least 0 and below 1500000000",
            ))
        }
    }

    /// The raw id, as IB takes it.
    #[must_use]
    pub fn get(self) -> i32 {
        self.0
    }

    /// The following id, or `None` once the range is used up.
    #[must_use]
    pub fn next(self) -> Option<Self> {
        Self::new(self.0.checked_add(1)?).ok()
    }
}

impl TryFrom<i32> for OrderId {
    type Error = DomainError;
    fn try_from(id: i32) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl From<OrderId> for i32 {
    fn from(id: OrderId) -> Self {
        id.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An IB contract id (`conId`), always positive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i32", into = "i32")]
pub struct ContractId(i32);

impl ContractId {
    /// Checks that `id` is positive.
    pub fn new(id: i32) -> Result<Self, DomainError> {
        if id > 0 {
            Ok(Self(id))
        } else {
            Err(DomainError::invalid(
                "contract id",
                &id.to_string(),
                "must be greater than 0",
            ))
        }
    }

    /// The raw `conId`.
    #[must_use]
    pub fn get(self) -> i32 {
        self.0
    }
}

impl TryFrom<i32> for ContractId {
    type Error = DomainError;
    fn try_from(id: i32) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl From<ContractId> for i32 {
    fn from(id: ContractId) -> Self {
        id.0
    }
}

impl fmt::Display for ContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A TWS API client id; any `i32` is a valid one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(pub i32);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn symbol_is_trimmed_and_upper_cased() {
        assert_eq!(Symbol::parse("  brk.b ").unwrap().as_str(), "BRK.B");
        assert_eq!(Symbol::parse("ab-c1").unwrap().as_str(), "AB-C1");
        assert_eq!(Symbol::parse("ABCDEFGHIJKL").unwrap().as_str(), "ABCDEFGHIJKL");
        assert_eq!(Symbol::parse("\tSPY ").unwrap().as_str(), "SPY");
    }

    #[test]
    fn only_spaces_and_tabs_are_trimmed_other_whitespace_is_refused() {
        for text in [
            "AAPL\n",
            "\rAAPL",
            "AAPL\u{85}",
            "\u{A0}AAPL",
            "AAPL\u{2003}",
            "\u{B}AAPL",
        ] {
            assert!(Symbol::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn symbol_refusals_name_the_value_and_the_rule() {
        let msg = |text: &str| Symbol::parse(text).unwrap_err().to_string();
        assert_eq!(
            msg("AAPL$"),
            "symbol 'AAPL$': only A-Z, 0-9, '.' and '-' are allowed"
        );
        assert_eq!(msg("   "), "symbol '': must not be empty");
        assert_eq!(
            msg("BRK B"),
            "symbol 'BRK B': only A-Z, 0-9, '.' and '-' are allowed"
        );
        assert_eq!(
            msg("ABCDEFGHIJKLM"),
            "symbol 'ABCDEFGHIJKLM': at most 12 characters"
        );
        assert_eq!(msg(".A"), "symbol '.A': must start with a letter or digit");
        assert_eq!(
            msg("\u{410}APL"),
            "symbol '\u{410}APL': character U+0410 is not ASCII; only A-Z, 0-9, '.' and '-' are allowed"
        );
    }

    #[test]
    fn symbol_refuses_characters_that_upper_case_into_ascii() {
        // 'ı' (dotless i) and 'ſ' (long s) upper-case to 'I' and 'S' under Unicode rules.
        assert!(Symbol::parse("ıbm").is_err());
        assert!(Symbol::parse("ſpy").is_err());
        assert!(Symbol::parse("A\u{200b}").is_err());
    }

    #[test]
    fn symbol_serde_validates() {
        let symbol: Symbol = serde_json::from_str("\"msft\"").unwrap();
        assert_eq!(serde_json::to_string(&symbol).unwrap(), "\"MSFT\"");
        assert!(serde_json::from_str::<Symbol>("\"MS FT\"").is_err());
    }

    #[test]
    fn account_kind_follows_the_paper_prefixes() {
        assert_eq!(AccountId::parse("DU1234567").unwrap().kind(), AccountKind::Paper);
        assert_eq!(AccountId::parse("df123").unwrap().kind(), AccountKind::Paper);
        assert_eq!(AccountId::parse("U1234567").unwrap().kind(), AccountKind::Live);
        assert_eq!(AccountId::parse("F1234567").unwrap().kind(), AccountKind::Live);
    }

    #[test]
    fn account_refusals() {
        let msg = |text: &str| AccountId::parse(text).unwrap_err().to_string();
        assert_eq!(msg("D"), "account 'D': must be 2 to 20 characters long");
        assert_eq!(
            msg("DU-1"),
            "account 'DU-1': only ASCII letters and digits are allowed"
        );
        assert!(AccountId::parse(&"U".repeat(21)).is_err());
        assert!(serde_json::from_str::<AccountId>("\"DU 1\"").is_err());
    }

    #[test]
    fn order_id_range() {
        assert_eq!(OrderId::new(0).unwrap().get(), 0);
        assert!(OrderId::new(1_499_999_999).is_ok());
        assert_eq!(
            OrderId::new(1_500_000_000).unwrap_err().to_string(),
            "order id '1500000000': must be at least 0 and below 1500000000"
        );
        assert!(OrderId::new(-1).is_err());
        assert_eq!(OrderId::new(7).unwrap().next(), Some(OrderId::new(8).unwrap()));
        assert_eq!(OrderId::new(1_499_999_999).unwrap().next(), None);
        assert!(serde_json::from_str::<OrderId>("-5").is_err());
    }

    #[test]
    fn contract_id_is_positive() {
        assert_eq!(ContractId::new(265_598).unwrap().get(), 265_598);
        assert_eq!(
            ContractId::new(0).unwrap_err().to_string(),
            "contract id '0': must be greater than 0"
        );
        assert_eq!(
            serde_json::to_string(&ContractId::new(8314).unwrap()).unwrap(),
            "8314"
        );
    }

    proptest! {
        #[test]
        fn symbol_parse_never_panics_and_is_idempotent(text in any::<String>()) {
            if let Ok(symbol) = Symbol::parse(&text) {
                prop_assert!(symbol.as_str().len() <= Symbol::MAX_LEN);
                prop_assert_eq!(Symbol::parse(symbol.as_str()).unwrap(), symbol);
            }
        }

        #[test]
        fn symbol_accepts_its_alphabet(text in "[A-Za-z0-9][A-Za-z0-9.-]{0,11}") {
            let symbol = Symbol::parse(&text).unwrap();
            prop_assert_eq!(symbol.as_str(), text.to_ascii_uppercase());
        }
    }
}
