#![expect(clippy::unwrap_used, reason = "tests")]

use std::path::Path;

use super::*;

const EXAMPLE: &str = include_str!("../../config.example.toml");

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("test.toml"))
}

fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Err(ConfigError::Invalid { problems, .. }) => problems.iter().map(ToString::to_string).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn line_column_counts_from_one_in_characters() {
    assert_eq!(line_column("abc", 0), (1, 1));
    assert_eq!(line_column("ab\ncd", 4), (2, 2));
    assert_eq!(line_column("é\nx", 3), (2, 1));
    assert_eq!(line_column("x", 99), (1, 2), "past the end clamps");
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let err = parse("a = 1\nb = [\n").unwrap_err();
    let ConfigError::Syntax { line, column, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*line, 2, "the unclosed array");
    assert!(*column > 1);
    assert!(
        err.to_string().starts_with(&format!("test.toml:2:{column}: ")),
        "{err}"
    );
}

#[test]
fn a_profile_overrides_one_session_key_and_keeps_the_others() {
    let text = EXAMPLE.replace(
        "[profiles.live.policy]",
        "[profiles.live.policy.session]\nclose = \"15:00\"\n\n[profiles.live.policy]",
    );
    let config = parse(&text).unwrap();
    let live = &config.profiles["live"].policy.session;
    let paper = &config.profiles["paper"].policy.session;
    assert_eq!(live.close.format("%H:%M").to_string(), "15:00");
    assert_eq!(paper.close.format("%H:%M").to_string(), "16:00");
    assert_eq!(live.open, paper.open);
    assert_eq!(live.holidays, paper.holidays);
}

#[test]
fn the_hash_follows_the_bytes() {
    let a = parse(EXAMPLE).unwrap();
    let b = parse(&format!("{EXAMPLE}\n# a comment\n")).unwrap();
    assert_ne!(a.hash, b.hash);
    assert_eq!(a.hash, parse(EXAMPLE).unwrap().hash);
}

#[test]
fn a_bad_default_value_is_reported_once_not_once_per_profile() {
    let text = EXAMPLE.replace("max_position = \"2000\"", "max_position = \"-3\"");
    let found = problems(&text);
    assert_eq!(
        found
            .iter()
            .filter(|p| p.starts_with("policy.max_position:"))
            .count(),
        1,
        "{found:?}"
    );
}

#[test]
fn money_takes_at_most_cents_and_percentages_four_places() {
    let text = EXAMPLE
        .replace(
            "max_order_notional = \"50000.00\"",
            "max_order_notional = \"50000.001\"",
        )
        .replace("price_collar_pct = \"5\"", "price_collar_pct = \"5.00001\"");
    let found = problems(&text);
    assert!(
        found.contains(&"policy.max_order_notional: '50000.001' has more than 2 decimal places".to_string()),
        "{found:?}"
    );
    assert!(
        found.contains(&"policy.price_collar_pct: '5.00001' has more than 4 decimal places".to_string()),
        "{found:?}"
    );
}

#[test]
fn allow_live_execute_belongs_to_live_profiles_only() {
    let text = EXAMPLE.replace(
        "agent_permission = \"execute\"\n",
        "agent_permission = \"execute\"\nallow_live_execute = true\n",
    );
    assert!(
        problems(&text)
            .contains(&"profiles.dry-run.allow_live_execute: only a live profile takes this key".to_string())
    );
}

#[test]
fn named_keys_are_accepted_and_others_refused() {
    for ok in ["a", "K", "?", "Enter", "Esc", "F1", "F12"] {
        assert!(build::valid_key(ok), "{ok}");
    }
    for bad in ["", " ", "ab", "F0", "F13", "F01", "\u{1b}", "enter"] {
        assert!(!build::valid_key(bad), "{bad:?}");
    }
}

#[test]
fn the_default_profile_and_lookups() {
    let config = parse(EXAMPLE).unwrap();
    assert_eq!(config.profile(None).unwrap().name, "paper");
    assert_eq!(config.profile(Some("live")).unwrap().mode, Mode::Live);
    assert!(config.profile(Some("nope")).is_none());
    assert_eq!(config.agent_by_uid(1002).unwrap().name, "rebalancer");
    assert!(config.agent_by_uid(0).is_none());
}
