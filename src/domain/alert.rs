//! Alerts shown to the trader and their acknowledgement; acknowledging never changes the trading state, and
//! this module does not sanitise agent text (the agent gateway refuses control characters before it gets here).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The cockpit's id for an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlertId(pub u64);

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How urgent an alert is; ordered `Info < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For information.
    Info,
    /// Needs attention.
    Warning,
    /// Needs action now.
    Critical,
}

/// Who raised an alert.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSource {
    /// The cockpit itself.
    System,
    /// The broker (IB error and status messages).
    Broker,
    /// An agent, by its configured name; shown as agent-written.
    Agent(String),
}

/// An alert in the Alerts pane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The alert's id.
    pub id: AlertId,
    /// How urgent it is.
    pub severity: Severity,
    /// When it was raised.
    pub raised_at: DateTime<Utc>,
    /// What happened.
    pub text: String,
    /// Who raised it.
    pub source: AlertSource,
    /// Whether the trader has acknowledged it.
    pub acknowledged: bool,
}

impl Alert {
    /// A new, unacknowledged alert.
    #[must_use]
    pub fn new(
        id: AlertId,
        severity: Severity,
        raised_at: DateTime<Utc>,
        text: impl Into<String>,
        source: AlertSource,
    ) -> Self {
        Self {
            id,
            severity,
            raised_at,
            text: text.into(),
            source,
            acknowledged: false,
        }
    }

    /// Marks the alert acknowledged; returns whether it was not already (so only the first is journaled).
    pub fn acknowledge(&mut self) -> bool {
        !std::mem::replace(&mut self.acknowledged, true)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn alert(source: AlertSource) -> Alert {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 14, 30, 0).unwrap();
        Alert::new(AlertId(7), Severity::Warning, at, "reject streak", source)
    }

    #[test]
    fn acknowledge_once() {
        let mut alert = alert(AlertSource::System);
        assert!(!alert.acknowledged);
        assert!(alert.acknowledge());
        assert!(alert.acknowledged);
        assert!(!alert.acknowledge());
        assert!(alert.acknowledged);
    }

    #[test]
    fn severities_are_ordered_and_serialise_lowercase() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
        assert_eq!(
            serde_json::to_string(&Severity::Critical).unwrap(),
            "\"critical\""
        );
    }

    #[test]
    fn serde_round_trip_names_the_agent() {
        let original = alert(AlertSource::Agent("momentum".into()));
        let json = serde_json::to_string(&original).unwrap();
        assert!(json.contains(r#""source":{"agent":"momentum"}"#), "{json}");
        assert_eq!(serde_json::from_str::<Alert>(&json).unwrap(), original);
        assert_eq!(serde_json::to_string(&AlertSource::Broker).unwrap(), "\"broker\"");
    }
}
