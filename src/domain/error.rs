//! The domain's one error type for values that fail validation; it does not cover order-status transitions
//! (see [`TransitionError`](super::TransitionError)) and never carries I/O or broker errors.

use thiserror::Error;

/// Longest stretch of an offending value repeated in an error message.
const SHOWN_CHARS: usize = 40;

/// A value refused by a domain constructor or parser; the message names the value in quotes and the rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A value that breaks a rule, e.g. `symbol 'AAPL$': only A-Z, 0-9, '.' and '-' are allowed`.
    #[error("{what} '{value}': {rule}")]
    Invalid {
        /// What the value was meant to be (`symbol`, `quantity`, …).
        what: &'static str,
        /// The offending value, escaped and shortened for display.
        value: String,
        /// What was expected instead.
        rule: String,
    },
    /// An order ticket lacks a price its order type needs.
    #[error("{field}: required when order_type is '{order_type}'")]
    MissingPrice {
        /// The ticket field (`limit_price` or `stop_price`).
        field: &'static str,
        /// The ticket's order type, as IB spells it.
        order_type: &'static str,
    },
    /// An order ticket carries a price its order type does not take.
    #[error("{field} '{value}': must be empty when order_type is '{order_type}'")]
    UnexpectedPrice {
        /// The ticket field (`limit_price` or `stop_price`).
        field: &'static str,
        /// The price that should not be there.
        value: String,
        /// The ticket's order type, as IB spells it.
        order_type: &'static str,
    },
}

impl DomainError {
    /// Builds [`DomainError::Invalid`], escaping control characters and shortening long values so the
    /// message stays one inert line whatever the input was.
    pub(crate) fn invalid(what: &'static str, value: &str, rule: impl Into<String>) -> Self {
        let mut shown: String = value
            .chars()
            .take(SHOWN_CHARS)
            .flat_map(char::escape_debug)
            .collect();
        if value.chars().nth(SHOWN_CHARS).is_some() {
            shown.push('…');
        }
        Self::Invalid {
            what,
            value: shown,
            rule: rule.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_the_value_and_the_rule() {
        let err = DomainError::invalid("symbol", "AAPL$", "only A-Z, 0-9, '.' and '-' are allowed");
        assert_eq!(
            err.to_string(),
            "symbol 'AAPL$': only A-Z, 0-9, '.' and '-' are allowed"
        );
    }

    #[test]
    fn control_characters_are_escaped_and_long_values_shortened() {
        let err = DomainError::invalid("symbol", "A\u{1b}[2J", "bad");
        assert_eq!(err.to_string(), "symbol 'A\\u{1b}[2J': bad");
        let long = "X".repeat(100);
        let DomainError::Invalid { value, .. } = DomainError::invalid("symbol", &long, "too long") else {
            panic!("expected Invalid");
        };
        assert_eq!(value, format!("{}…", "X".repeat(40)));
    }
}
