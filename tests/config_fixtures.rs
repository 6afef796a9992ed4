//! Config fixtures: every file in `tests/configs/valid` loads; every file in `tests/configs/invalid` fails
//! with each message its `# expect:` lines name. `config.example.toml` itself must load and explain itself.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use cockpit::config::{Config, Mode, Permission};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs")
        .join(kind);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

fn expectations(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_valid_fixture_loads() {
    for path in fixtures("valid") {
        if let Err(e) = Config::load(&path) {
            panic!("{} should be valid:\n{e}", path.display());
        }
    }
}

#[test]
fn every_invalid_fixture_fails_with_each_expected_message() {
    for path in fixtures("invalid") {
        let expected = expectations(&path);
        assert!(!expected.is_empty(), "{} has no '# expect:' line", path.display());
        let Err(error) = Config::load(&path) else {
            panic!("{} should be refused", path.display());
        };
        let text = error.to_string();
        for e in &expected {
            assert!(
                text.contains(e.as_str()),
                "{}: missing {e:?} in:\n{text}",
                path.display()
            );
        }
    }
}

#[test]
fn the_example_config_loads_with_its_three_profiles() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let config = Config::load(&path).unwrap();
    assert_eq!(config.default_profile, "paper");
    let modes: Vec<(&str, Mode)> = config
        .profiles
        .values()
        .map(|p| (p.name.as_str(), p.mode))
        .collect();
    assert_eq!(
        modes,
        [
            ("dry-run", Mode::DryRun),
            ("live", Mode::Live),
            ("paper", Mode::Paper)
        ]
    );
    let live = &config.profiles["live"];
    assert_eq!(live.port, 4001);
    assert_eq!(
        live.policy.max_order_quantity.to_string(),
        "200",
        "the live override applies"
    );
    assert_eq!(
        config.profiles["paper"].policy.max_order_quantity.to_string(),
        "500",
        "paper keeps the default"
    );
    assert_eq!(
        live.policy.max_position,
        config.profiles["paper"].policy.max_position
    );
    let rebalancer = config.agents.iter().find(|a| a.name == "rebalancer").unwrap();
    assert_eq!(rebalancer.permission, Permission::Execute);
    assert_eq!(
        live.effective_permission(rebalancer),
        Permission::Prepare,
        "narrowed by live"
    );
    assert_eq!(
        config.profiles["dry-run"].effective_permission(rebalancer),
        Permission::Execute
    );
    assert_eq!(config.hash.len(), 64);
}

#[test]
fn check_config_explains_the_example_and_exits_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_cockpit"))
        .args(["check-config", "--config"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "is valid (sha256 ",
        "LIVE",
        "127.0.0.1:4001",
        "rebalancer",
        "max notional / order",
        "20000.00",
        "America/New_York 09:30-16:00",
        "Profile live",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
}

#[test]
fn check_config_lists_every_problem_and_exits_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/invalid/many_bad_values.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_cockpit"))
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for e in expectations(&path) {
        assert!(stderr.contains(&e), "missing {e:?} in:\n{stderr}");
    }
    assert!(stderr.contains("12 problem(s)"), "{stderr}");
}

#[test]
fn check_config_names_a_missing_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_cockpit"))
        .args(["check-config", "--config", "/nonexistent/cockpit.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/cockpit.toml: cannot read the config"),
        "{stderr}"
    );
}
