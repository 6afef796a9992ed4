//! Writing a [`Report`] in a [`Format`]: Markdown (see `markdown`), JSON (the model as serde writes it) or
//! CSV (see `csv`), and the text forms the formats share. It computes nothing: every number comes from the
//! report.

use std::collections::BTreeMap;
use std::io;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::{Report, Ticket};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Markdown, readable in a terminal.
    Md,
    /// One `section,key,subkey,value` table (RFC 4180).
    Csv,
    /// One JSON object.
    Json,
}

/// Writes `report` to `out` in `format`.
pub fn render(report: &Report, format: Format, out: &mut dyn io::Write) -> io::Result<()> {
    match format {
        Format::Md => {
            let mut text = String::new();
            super::markdown::write(report, &mut text).map_err(io::Error::other)?;
            out.write_all(text.as_bytes())
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            out.write_all(b"\n")
        }
        Format::Csv => super::csv::write(report, out),
    }
}

pub(super) const NONE: &str = "none";

/// `BUY 100 AAPL LMT 187.25`; a stop-limit shows `stop/limit`.
pub(super) fn ticket_text(t: &Ticket) -> String {
    let prices = match (t.stop_price, t.limit_price) {
        (Some(stop), Some(limit)) => format!(" {stop}/{limit}"),
        (Some(p), None) | (None, Some(p)) => format!(" {p}"),
        (None, None) => String::new(),
    };
    format!("{} {} {} {}{prices}", t.side, t.quantity, t.symbol, t.order_type)
}

/// `1.25 USD; 0.5 EUR`, or `none`.
pub(super) fn amounts(map: &BTreeMap<String, Decimal>) -> String {
    if map.is_empty() {
        return NONE.to_owned();
    }
    map.iter()
        .map(|(currency, amount)| format!("{amount} {currency}").trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

/// `1h 02m 03s`, `5m 30.5s`, `12s`.
pub(super) fn duration(seconds: Decimal) -> String {
    let whole = seconds.trunc();
    let total = whole.to_i64().unwrap_or(i64::MAX);
    let (h, m, sec) = (total / 3600, total % 3600 / 60, total % 60);
    let secs = (Decimal::from(sec) + (seconds - whole)).normalize().to_string();
    let padded = if sec < 10 {
        format!("0{secs}")
    } else {
        secs.clone()
    };
    match (h, m) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m {padded}s"),
        (h, m) => format!("{h}h {m:02}m {padded}s"),
    }
}
