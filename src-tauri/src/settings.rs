//! What the desktop app starts with, read from the command line and the environment: the
//! project folder, the acting person and where the recent-projects list lives.

use std::path::PathBuf;

/// The author when neither `LACUNA_USER` nor the OS user is known.
const FALLBACK_AUTHOR: &str = "local";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// The project to open at start: the first positional argument, else `LACUNA_PROJECT`.
    pub(crate) project_dir: Option<PathBuf>,
    /// Who edits: `LACUNA_USER`, else `USER` / `USERNAME`, else "local".
    pub(crate) author: String,
    /// `$XDG_CONFIG_HOME/lacuna`, else `~/.config/lacuna`; `None` when neither is known.
    pub(crate) config_dir: Option<PathBuf>,
}

impl Settings {
    /// Reads the settings from `args` (without the program name) and the variables `env` looks up.
    pub(crate) fn from(args: impl IntoIterator<Item = String>, env: impl Fn(&str) -> Option<String>) -> Self {
        // Set but empty counts as unset, as a shell user would expect.
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        // Flags are not ours (e.g. macOS' `-psn_…` when started from the Finder).
        let project_dir = args
            .into_iter()
            .find(|a| !a.starts_with('-'))
            .or_else(|| var("LACUNA_PROJECT"))
            .map(PathBuf::from);
        let author = var("LACUNA_USER")
            .or_else(|| var("USER"))
            .or_else(|| var("USERNAME"))
            .unwrap_or_else(|| FALLBACK_AUTHOR.to_string());
        // The XDG spec says to ignore a relative XDG_CONFIG_HOME.
        let config_home = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".config")));
        Self { project_dir, author, config_dir: config_home.map(|dir| dir.join("lacuna")) }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn settings(args: &[&str], vars: &[(&str, &str)]) -> Settings {
        let vars: BTreeMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from(args.iter().map(|a| a.to_string()), |name| vars.get(name).cloned())
    }

    #[test]
    fn the_first_argument_wins_over_lacuna_project() {
        let s = settings(&["/data/a"], &[("LACUNA_PROJECT", "/data/b")]);
        assert_eq!(s.project_dir, Some(PathBuf::from("/data/a")));
        let s = settings(&[], &[("LACUNA_PROJECT", "/data/b")]);
        assert_eq!(s.project_dir, Some(PathBuf::from("/data/b")));
        let s = settings(&["-psn_0_123"], &[]);
        assert_eq!(s.project_dir, None);
    }

    #[test]
    fn the_author_falls_back_from_lacuna_user_to_the_os_user_to_local() {
        let all = [("LACUNA_USER", "ann"), ("USER", "bob"), ("USERNAME", "cy")];
        assert_eq!(settings(&[], &all).author, "ann");
        assert_eq!(settings(&[], &all[1..]).author, "bob");
        assert_eq!(settings(&[], &all[2..]).author, "cy");
        assert_eq!(settings(&[], &[("LACUNA_USER", " "), ("USER", "bob")]).author, "bob");
        assert_eq!(settings(&[], &[]).author, "local");
    }

    #[test]
    fn the_config_dir_follows_xdg_and_ignores_a_relative_xdg_config_home() {
        let s = settings(&[], &[("XDG_CONFIG_HOME", "/x/cfg"), ("HOME", "/home/ann")]);
        assert_eq!(s.config_dir, Some(PathBuf::from("/x/cfg/lacuna")));
        let s = settings(&[], &[("XDG_CONFIG_HOME", "cfg"), ("HOME", "/home/ann")]);
        assert_eq!(s.config_dir, Some(PathBuf::from("/home/ann/.config/lacuna")));
        assert_eq!(settings(&[], &[]).config_dir, None);
    }
}
