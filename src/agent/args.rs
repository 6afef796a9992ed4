//! Tool arguments as an agent sends them, checked field by field: unknown fields refused, numbers parsed
//! from their literal JSON text (or a string) into `Decimal` — never through `f64` — with NaN, infinities,
//! exponents and more than 28 significant digits refused by name, and text with control or format
//! characters (escape sequences, bidi overrides, zero-width characters) refused naming the field and the
//! code point. Every error says what is wrong and how to write it instead.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// The largest arguments object accepted, serialised.
pub const MAX_ARGUMENT_BYTES: usize = 8 * 1024;
/// The longest free text (rationale, message, recommendation) accepted.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// Significant digits a `Decimal` can hold.
const MAX_DIGITS: usize = 28;

/// A tool's arguments, with the fields read so far.
#[derive(Debug)]
pub struct Args<'a> {
    map: &'a Map<String, Value>,
    read: BTreeSet<&'static str>,
}

impl<'a> Args<'a> {
    /// Wraps `map`.
    #[must_use]
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            read: BTreeSet::new(),
        }
    }

    fn get(&mut self, field: &'static str) -> Option<&'a Value> {
        self.read.insert(field);
        self.map.get(field).filter(|v| !v.is_null())
    }

    /// A required text field.
    pub fn text(&mut self, field: &'static str) -> Result<String, String> {
        self.text_opt(field)?
            .ok_or_else(|| format!("{field}: missing; it is required"))
    }

    /// An optional text field (at most [`MAX_TEXT_CHARS`] characters, no control or format characters but
    /// newline and tab).
    pub fn text_opt(&mut self, field: &'static str) -> Result<Option<String>, String> {
        let Some(value) = self.get(field) else {
            return Ok(None);
        };
        let Value::String(text) = value else {
            return Err(format!("{field}: expected a string, got {}", kind(value)));
        };
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(format!(
                "{field}: {} characters; the limit is {MAX_TEXT_CHARS}",
                text.chars().count()
            ));
        }
        if let Some(c) = text.chars().find(|c| crate::report::text::dangerous(*c)) {
            return Err(format!(
                "{field}: contains the control or format character U+{:04X}; only printable text, newlines and tabs are accepted",
                u32::from(c)
            ));
        }
        Ok(Some(text.clone()))
    }

    /// A required decimal, from a JSON number's literal text or a string.
    pub fn decimal(&mut self, field: &'static str) -> Result<Decimal, String> {
        self.decimal_opt(field)?
            .ok_or_else(|| format!("{field}: missing; it is required"))
    }

    /// An optional decimal.
    pub fn decimal_opt(&mut self, field: &'static str) -> Result<Option<Decimal>, String> {
        let Some(value) = self.get(field) else {
            return Ok(None);
        };
        let text = match value {
            // With serde_json's arbitrary_precision, a number keeps the literal text the agent wrote.
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().to_owned(),
            other => {
                return Err(format!(
                    "{field}: expected a number or a string such as \"10\" or \"187.25\", got {}",
                    kind(other)
                ));
            }
        };
        decimal(field, &text).map(Some)
    }

    /// A required whole number (an id).
    pub fn id(&mut self, field: &'static str) -> Result<u64, String> {
        let value = self.decimal(field)?;
        if value.fract().is_zero()
            && value.is_sign_positive()
            && let Ok(id) = u64::try_from(value)
        {
            return Ok(id);
        }
        Err(format!(
            "{field}: {value} is not an id; expected a positive whole number"
        ))
    }

    /// Refuses fields that no read asked for.
    pub fn finish(&self) -> Result<(), String> {
        let unknown: Vec<&str> = self
            .map
            .keys()
            .map(String::as_str)
            .filter(|k| !self.read.contains(k))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let known: Vec<&str> = self.read.iter().copied().collect();
        Err(format!(
            "unknown field(s) {}; this tool takes: {}",
            unknown.join(", "),
            if known.is_empty() {
                "no arguments".to_owned()
            } else {
                known.join(", ")
            }
        ))
    }
}

/// A decimal written plainly: digits with at most one point and an optional sign.
pub fn decimal(field: &str, text: &str) -> Result<Decimal, String> {
    let lower = text.to_ascii_lowercase();
    if ["nan", "inf", "+inf", "-inf", "infinity", "-infinity"].contains(&lower.as_str()) {
        return Err(format!("{field}: {text} is not a finite number"));
    }
    if lower.contains('e') && lower.chars().all(|c| c.is_ascii_digit() || "+-.e".contains(c)) {
        return Err(format!(
            "{field}: {text} uses an exponent; write it as a plain decimal such as \"1500\" or \"0.25\""
        ));
    }
    let digits = text.chars().filter(char::is_ascii_digit).collect::<String>();
    let significant = digits.trim_start_matches('0').len();
    if significant > MAX_DIGITS {
        return Err(format!(
            "{field}: {text} has {significant} significant digits; at most {MAX_DIGITS} are accepted"
        ));
    }
    Decimal::from_str_exact(text)
        .map_err(|_| format!("{field}: '{text}' is not a number; write it like \"10\" or \"187.25\""))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use serde_json::json;

    use super::*;

    fn map(v: &Value) -> &Map<String, Value> {
        v.as_object().unwrap()
    }

    #[test]
    fn numbers_keep_their_literal_text() {
        let v: Value =
            serde_json::from_str(r#"{"q": 0.1, "p": "187.25", "big": 12345678901234567890.123}"#).unwrap();
        let mut a = Args::new(map(&v));
        assert_eq!(a.decimal("q").unwrap().to_string(), "0.1");
        assert_eq!(a.decimal("p").unwrap().to_string(), "187.25");
        assert_eq!(a.decimal("big").unwrap().to_string(), "12345678901234567890.123");
        a.finish().unwrap();
    }

    #[test]
    fn bad_numbers_are_named() {
        for (text, says) in [
            (r#"{"q": "NaN"}"#, "not a finite number"),
            (r#"{"q": "inf"}"#, "not a finite number"),
            (r#"{"q": 1e3}"#, "exponent"),
            (
                r#"{"q": "12345678901234567890123456789"}"#,
                "29 significant digits",
            ),
            (r#"{"q": "ten"}"#, "is not a number"),
            (r#"{"q": true}"#, "got a boolean"),
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            let e = Args::new(map(&v)).decimal("q").unwrap_err();
            assert!(e.starts_with("q: ") && e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn text_with_control_or_format_characters_is_refused_naming_the_code_point() {
        for (text, code) in [
            ("a\u{1b}[31m", "U+001B"),
            ("a\u{202e}b", "U+202E"),
            ("a\u{200b}b", "U+200B"),
        ] {
            let v = json!({ "rationale": text });
            let e = Args::new(map(&v)).text("rationale").unwrap_err();
            assert!(e.contains("rationale") && e.contains(code), "{e}");
        }
        let v = json!({ "rationale": "line one\nline\ttwo" });
        assert!(Args::new(map(&v)).text("rationale").is_ok());
    }

    #[test]
    fn unknown_fields_are_refused_with_the_known_ones() {
        let v = json!({ "symbol": "AAPL", "sneaky": 1 });
        let mut a = Args::new(map(&v));
        a.text("symbol").unwrap();
        let e = a.finish().unwrap_err();
        assert!(e.contains("sneaky") && e.contains("symbol"), "{e}");
    }

    #[test]
    fn ids_are_positive_whole_numbers() {
        let v = json!({ "a": 12, "b": -1, "c": "1.5" });
        let mut a = Args::new(map(&v));
        assert_eq!(a.id("a").unwrap(), 12);
        assert!(a.id("b").is_err());
        assert!(a.id("c").is_err());
    }
}
