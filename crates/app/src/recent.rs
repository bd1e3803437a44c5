//! The recently opened projects, newest first, in `recent-projects.json` in the config folder.

use std::path::Path;

use serde::{Deserialize, Serialize};

const FILE: &str = "recent-projects.json";
const KEEP: usize = 20;

/// A project opened before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RecentProject {
    pub path: String,
    /// The folder's name.
    pub name: String,
    pub opened_at_unix_s: i64,
    /// Whether the project is still there (checked when listed).
    #[serde(default)]
    pub exists: bool,
}

pub(crate) fn list(config: &Path) -> Vec<RecentProject> {
    let Ok(text) = std::fs::read_to_string(config.join(FILE)) else { return Vec::new() };
    let mut list: Vec<RecentProject> = serde_json::from_str(&text).unwrap_or_default();
    for p in &mut list {
        p.exists = Path::new(&p.path).join(lacuna_api::CATALOG_FILE).is_file();
    }
    list
}

pub(crate) fn remember(config: &Path, dir: &Path, now: i64) -> std::io::Result<()> {
    let path = dir.display().to_string();
    let mut list = list(config);
    list.retain(|p| p.path != path);
    list.insert(
        0,
        RecentProject {
            name: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.clone()),
            path,
            opened_at_unix_s: now,
            exists: true,
        },
    );
    list.truncate(KEEP);
    std::fs::create_dir_all(config)?;
    // Written whole then renamed, so a crash never leaves half a list.
    let tmp = config.join(format!("{FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&list).map_err(std::io::Error::other)?)?;
    std::fs::rename(tmp, config.join(FILE))
}
