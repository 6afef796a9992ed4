//! Where Cockpit keeps its state and finds its config: resolution only, no file I/O.

use std::path::{Path, PathBuf};

/// Looks up an environment variable; injected so resolution is testable without touching the process env.
pub trait Env {
    /// The variable's value, if set and non-empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// Why a path could not be resolved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    /// Neither the flag, the specific variable, the XDG variable nor `HOME` is set.
    #[error("cannot find a {what}: pass {flag}, or set {var}, XDG_{xdg}_HOME or HOME")]
    Unresolvable {
        /// What was being looked for.
        what: &'static str,
        /// The command-line flag that sets it.
        flag: &'static str,
        /// The Cockpit-specific environment variable.
        var: &'static str,
        /// The XDG base directory kind (`STATE`, `CONFIG`).
        xdg: &'static str,
    },
}

/// The state dir: `--state-dir`, else `$COCKPIT_STATE_DIR`, else `$XDG_STATE_HOME/cockpit`, else
/// `~/.local/state/cockpit`.
pub fn state_dir(flag: Option<&Path>, env: &impl Env) -> Result<PathBuf, PathError> {
    if let Some(dir) = flag {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = env.var("COCKPIT_STATE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(xdg) = env.var("XDG_STATE_HOME") {
        return Ok(Path::new(&xdg).join("cockpit"));
    }
    env.var("HOME")
        .map(|home| Path::new(&home).join(".local/state/cockpit"))
        .ok_or(PathError::Unresolvable {
            what: "state directory",
            flag: "--state-dir",
            var: "COCKPIT_STATE_DIR",
            xdg: "STATE",
        })
}

/// The config file: `--config`, else `$XDG_CONFIG_HOME/cockpit/config.toml`, else
/// `~/.config/cockpit/config.toml`.
pub fn config_file(flag: Option<&Path>, env: &impl Env) -> Result<PathBuf, PathError> {
    if let Some(file) = flag {
        return Ok(file.to_path_buf());
    }
    if let Some(xdg) = env.var("XDG_CONFIG_HOME") {
        return Ok(Path::new(&xdg).join("cockpit/config.toml"));
    }
    env.var("HOME")
        .map(|home| Path::new(&home).join(".config/cockpit/config.toml"))
        .ok_or(PathError::Unresolvable {
            what: "config file",
            flag: "--config",
            var: "COCKPIT_CONFIG",
            xdg: "CONFIG",
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnv(HashMap<&'static str, &'static str>);

    impl Env for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_string())
        }
    }

    fn env(pairs: &[(&'static str, &'static str)]) -> FakeEnv {
        FakeEnv(pairs.iter().copied().collect())
    }

    #[test]
    fn state_dir_prefers_flag_then_cockpit_var_then_xdg_then_home() {
        let all = env(&[
            ("COCKPIT_STATE_DIR", "/c"),
            ("XDG_STATE_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(state_dir(Some(Path::new("/f")), &all), Ok("/f".into()));
        assert_eq!(state_dir(None, &all), Ok("/c".into()));
        let xdg = env(&[("XDG_STATE_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(state_dir(None, &xdg), Ok("/x/cockpit".into()));
        let home = env(&[("HOME", "/h")]);
        assert_eq!(state_dir(None, &home), Ok("/h/.local/state/cockpit".into()));
    }

    #[test]
    fn state_dir_without_any_source_names_the_ways_to_set_it() {
        let err = state_dir(None, &env(&[])).expect_err("nothing set");
        let text = err.to_string();
        assert!(
            text.contains("--state-dir") && text.contains("COCKPIT_STATE_DIR"),
            "{text}"
        );
    }

    #[test]
    fn config_file_prefers_flag_then_xdg_then_home() {
        let all = env(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(
            config_file(Some(Path::new("/f.toml")), &all),
            Ok("/f.toml".into())
        );
        assert_eq!(config_file(None, &all), Ok("/x/cockpit/config.toml".into()));
        let home = env(&[("HOME", "/h")]);
        assert_eq!(
            config_file(None, &home),
            Ok("/h/.config/cockpit/config.toml".into())
        );
    }
}
