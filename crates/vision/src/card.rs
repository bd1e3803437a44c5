//! The model card: what a set of weights is (family, scale, task), its class names and input
//! size, and where it came from. Read from a `model.toml` beside the weights, or built from the
//! metadata an Ultralytics ONNX export or a converted safetensors file carries.
//!
//! `model.toml` is this struct in TOML (see docs/models.md):
//!
//! ```toml
//! name = "yolov12n"
//! family = "v12"          # v8 | v11 | v12
//! scale = "n"             # n | s | m | l | x
//! task = "detect"         # detect | segment
//! class_names = ["person", "bicycle"]
//! input_size_px = 640
//! stride_px = 32
//! source = "..."          # optional
//! license = "AGPL-3.0"    # optional
//! sha256 = "..."          # optional, of the weights file
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, VisionError};

/// The input size assumed when the metadata does not state one.
pub const DEFAULT_INPUT_SIZE_PX: u32 = 640;
/// The largest stride of every supported family (P5 heads).
pub const DEFAULT_STRIDE_PX: u32 = 32;

/// Describes a set of weights. See the module documentation for the `model.toml` form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// E.g. "yolov12n".
    pub name: String,
    pub family: Family,
    pub scale: Scale,
    pub task: Task,
    /// Index = class id.
    pub class_names: Vec<String>,
    /// Side of the square letterboxed input, e.g. 640.
    pub input_size_px: u32,
    /// The largest stride, e.g. 32.
    pub stride_px: u32,
    /// Where the weights came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// E.g. "AGPL-3.0".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// SHA-256 (hex) of the weights file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// The YOLO generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    V8,
    V11,
    V12,
}

/// The model size (Ultralytics' depth/width multiples).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    N,
    S,
    M,
    L,
    X,
}

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Detect,
    Segment,
}

impl Family {
    /// Accepts "v8", "8", "yolov8", "YOLO11", "v11", "yolo12", ... (case-insensitive).
    pub fn parse(text: &str) -> Option<Family> {
        let lower = text.trim().to_ascii_lowercase();
        let rest = lower.strip_prefix("yolo").unwrap_or(&lower);
        let digits = rest.strip_prefix('v').unwrap_or(rest);
        Self::from_generation(digits)
    }

    fn from_generation(digits: &str) -> Option<Family> {
        match digits {
            "8" => Some(Family::V8),
            "11" => Some(Family::V11),
            "12" => Some(Family::V12),
            _ => None,
        }
    }

    /// The lower-case name used in `model.toml`: "v8", "v11", "v12".
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V8 => "v8",
            Family::V11 => "v11",
            Family::V12 => "v12",
        }
    }
}

impl Scale {
    /// Accepts "n", "s", "m", "l", "x" (case-insensitive).
    pub fn parse(text: &str) -> Option<Scale> {
        match text.trim().to_ascii_lowercase().as_str() {
            "n" => Some(Scale::N),
            "s" => Some(Scale::S),
            "m" => Some(Scale::M),
            "l" => Some(Scale::L),
            "x" => Some(Scale::X),
            _ => None,
        }
    }

    /// The lower-case letter used in `model.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scale::N => "n",
            Scale::S => "s",
            Scale::M => "m",
            Scale::L => "l",
            Scale::X => "x",
        }
    }
}

impl Task {
    /// Accepts "detect" and "segment" (Ultralytics' task names), also "seg".
    pub fn parse(text: &str) -> Option<Task> {
        match text.trim().to_ascii_lowercase().as_str() {
            "detect" | "detection" => Some(Task::Detect),
            "segment" | "seg" | "segmentation" => Some(Task::Segment),
            _ => None,
        }
    }

    /// The lower-case name used in `model.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Detect => "detect",
            Task::Segment => "segment",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Metadata keys of a converted safetensors file (`__metadata__`), see docs/models.md.
pub mod metadata_keys {
    /// JSON list of class names, index = class id (a JSON object or Ultralytics' Python dict
    /// literal `{0: 'person', ...}` is accepted too).
    pub const NAMES: &str = "names";
    /// Input size: `640` or `[640, 640]`.
    pub const IMGSZ: &str = "imgsz";
    /// Largest stride: `32` (a list such as `[8, 16, 32]` is accepted too).
    pub const STRIDE: &str = "stride";
    /// `detect` or `segment`.
    pub const TASK: &str = "task";
    /// `v8`, `v11` or `v12`.
    pub const FAMILY: &str = "family";
    /// `n`, `s`, `m`, `l` or `x`.
    pub const SCALE: &str = "scale";
    /// E.g. `yolov12n`.
    pub const NAME: &str = "name";
    /// Optional: where the weights came from.
    pub const SOURCE: &str = "source";
    /// Optional: the weights' licence.
    pub const LICENSE: &str = "license";
    /// Optional: the epsilon of the batch-norm layers when they are not folded yet (default
    /// 1e-3, what Ultralytics' `initialize_weights` sets).
    pub const BN_EPS: &str = "bn_eps";
    /// Ultralytics' free-text description ("Ultralytics YOLOv12n model ..."): family and scale
    /// are read from it when `family` / `scale` are absent.
    pub const DESCRIPTION: &str = "description";
}

impl ModelCard {
    /// Number of classes (`class_names.len()`).
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Reads a `model.toml`.
    pub fn load(path: &Path) -> Result<ModelCard> {
        let text = std::fs::read_to_string(path).map_err(|e| VisionError::io(path, e))?;
        Self::from_toml_str(&text, path)
    }

    /// Parses the text of a `model.toml`; `path` only names the file in errors.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<ModelCard> {
        let card: ModelCard = toml::from_str(text)
            .map_err(|e| VisionError::format(path, format!("invalid model card: {e}")))?;
        card.validate(path)?;
        Ok(card)
    }

    /// The card as `model.toml` text.
    pub fn to_toml_string(&self) -> String {
        // Serialising plain strings, numbers and lists to TOML cannot fail.
        toml::to_string(self).unwrap_or_default()
    }

    /// Writes the card as `model.toml`.
    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_toml_string()).map_err(|e| VisionError::io(path, e))
    }

    /// Checks the card on its own: at least one class, a positive input size that is a
    /// multiple of the stride. `path` names the card in errors.
    pub fn validate(&self, path: &Path) -> Result<()> {
        if self.class_names.is_empty() {
            return Err(VisionError::format(path, "the model card lists no class names"));
        }
        if self.stride_px == 0 || self.input_size_px == 0 {
            return Err(VisionError::format(path, "the model card's input size and stride must be positive"));
        }
        if !self.input_size_px.is_multiple_of(self.stride_px) {
            return Err(VisionError::format(
                path,
                format!(
                    "the input size {} px is not a multiple of the stride {} px",
                    self.input_size_px, self.stride_px
                ),
            ));
        }
        Ok(())
    }

    /// Builds the card from an Ultralytics ONNX export's `metadata_props` (`names`, `imgsz`,
    /// `stride`, `task`, `description`, `license`, ...). `path` names the file in errors.
    pub fn from_onnx_metadata(metadata: &HashMap<String, String>, path: &Path) -> Result<Self> {
        match Self::from_metadata(metadata, path)? {
            Some(card) => Ok(card),
            None => Err(VisionError::format(
                path,
                "the ONNX metadata has no `names` (class names); export the model with \
                 Ultralytics, or put a model.toml beside it",
            )),
        }
    }

    /// Builds the card from a safetensors file's `__metadata__` (keys in [`metadata_keys`]).
    /// `Ok(None)` when the metadata carries no class names (then a `model.toml` is needed).
    pub fn from_safetensors_metadata(
        metadata: &HashMap<String, String>,
        path: &Path,
    ) -> Result<Option<Self>> {
        Self::from_metadata(metadata, path)
    }

    /// The card as safetensors `__metadata__` (the inverse of
    /// [`ModelCard::from_safetensors_metadata`]).
    pub fn to_safetensors_metadata(&self) -> HashMap<String, String> {
        use metadata_keys as k;
        let mut m = HashMap::new();
        m.insert(k::NAME.to_owned(), self.name.clone());
        m.insert(k::FAMILY.to_owned(), self.family.as_str().to_owned());
        m.insert(k::SCALE.to_owned(), self.scale.as_str().to_owned());
        m.insert(k::TASK.to_owned(), self.task.as_str().to_owned());
        m.insert(k::NAMES.to_owned(), serde_json::to_string(&self.class_names).unwrap_or_default());
        m.insert(k::IMGSZ.to_owned(), self.input_size_px.to_string());
        m.insert(k::STRIDE.to_owned(), self.stride_px.to_string());
        if let Some(source) = &self.source {
            m.insert(k::SOURCE.to_owned(), source.clone());
        }
        if let Some(license) = &self.license {
            m.insert(k::LICENSE.to_owned(), license.clone());
        }
        m
    }

    fn from_metadata(metadata: &HashMap<String, String>, path: &Path) -> Result<Option<Self>> {
        use metadata_keys as k;
        let get = |key: &str| metadata.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let bad =
            |key: &str, reason: String| VisionError::format(path, format!("metadata `{key}`: {reason}"));
        let Some(names_text) = get(k::NAMES) else {
            return Ok(None);
        };
        let class_names = parse_class_names(names_text).map_err(|r| bad(k::NAMES, r))?;
        let input_size_px = match get(k::IMGSZ) {
            Some(v) => parse_size(v).map_err(|r| bad(k::IMGSZ, r))?,
            None => DEFAULT_INPUT_SIZE_PX,
        };
        let stride_px = match get(k::STRIDE) {
            Some(v) => parse_size(v).map_err(|r| bad(k::STRIDE, r))?,
            None => DEFAULT_STRIDE_PX,
        };
        let task = match get(k::TASK) {
            Some(v) => Task::parse(v).ok_or_else(|| {
                bad(k::TASK, format!("unsupported task {v:?} (supported: detect, segment)"))
            })?,
            None => Task::Detect,
        };

        // Family and scale: explicit keys, else the name, else Ultralytics' description.
        let id = [get(k::NAME), get(k::DESCRIPTION)].into_iter().flatten().find_map(ModelId::find);
        let family = match get(k::FAMILY) {
            Some(v) => Some(Family::parse(v).ok_or_else(|| {
                bad(k::FAMILY, format!("unsupported family {v:?} (supported: v8, v11, v12)"))
            })?),
            None => match &id {
                Some(id) => Some(id.family().ok_or_else(|| {
                    VisionError::format(
                        path,
                        format!(
                            "{} is not a supported model family (supported: YOLOv8, YOLO11, \
                             YOLOv12)",
                            id.token
                        ),
                    )
                })?),
                None => None,
            },
        };
        let scale = match get(k::SCALE) {
            Some(v) => Some(Scale::parse(v).ok_or_else(|| {
                bad(k::SCALE, format!("unsupported scale {v:?} (supported: n, s, m, l, x)"))
            })?),
            None => id.as_ref().map(|id| id.scale),
        };
        let (Some(family), Some(scale)) = (family, scale) else {
            return Err(VisionError::format(
                path,
                "the metadata does not say which model this is: no `family`/`scale` keys and no \
                 `name` or `description` like \"YOLOv12n\"; put a model.toml beside the weights",
            ));
        };
        let name = match get(k::NAME) {
            Some(name) => name.to_owned(),
            None => {
                let base = id.map_or_else(
                    || format!("yolo{}{}", family.as_str(), scale.as_str()),
                    |id| id.token.to_ascii_lowercase(),
                );
                if task == Task::Segment && !base.ends_with("-seg") { format!("{base}-seg") } else { base }
            }
        };
        let source = get(k::SOURCE).map(str::to_owned).or_else(|| {
            get("author").map(|author| {
                let mut s = format!("{author} export");
                if let Some(version) = get("version") {
                    s = format!("{author} {version} export");
                }
                if let Some(date) = get("date") {
                    s.push_str(&format!(" ({date})"));
                }
                s
            })
        });
        let card = ModelCard {
            name,
            family,
            scale,
            task,
            class_names,
            input_size_px,
            stride_px,
            source,
            license: get(k::LICENSE).map(str::to_owned),
            sha256: None,
        };
        card.validate(path)?;
        Ok(Some(card))
    }

    /// Checks that `other` (the card embedded in the weights) describes the same model as this
    /// card (read from `path`): same family, scale, task, class names, input size and stride.
    pub(crate) fn check_agrees_with(&self, other: &ModelCard, path: &Path) -> Result<()> {
        let mismatch = |what: &str, mine: String, theirs: String| {
            Err(VisionError::card_mismatch(
                path,
                format!("it says {what} {mine}, the weights' metadata says {theirs}"),
            ))
        };
        if self.family != other.family {
            return mismatch("family", self.family.to_string(), other.family.to_string());
        }
        if self.scale != other.scale {
            return mismatch("scale", self.scale.to_string(), other.scale.to_string());
        }
        if self.task != other.task {
            return mismatch("task", self.task.to_string(), other.task.to_string());
        }
        if self.class_names.len() != other.class_names.len() {
            return mismatch(
                "class count",
                self.class_names.len().to_string(),
                other.class_names.len().to_string(),
            );
        }
        if let Some((i, (a, b))) =
            self.class_names.iter().zip(&other.class_names).enumerate().find(|(_, (a, b))| a != b)
        {
            return mismatch(&format!("class {i} is"), format!("{a:?}"), format!("{b:?}"));
        }
        if self.input_size_px != other.input_size_px {
            return mismatch("input size", self.input_size_px.to_string(), other.input_size_px.to_string());
        }
        if self.stride_px != other.stride_px {
            return mismatch("stride", self.stride_px.to_string(), other.stride_px.to_string());
        }
        Ok(())
    }
}

/// The model card file for `weights`, if one exists: `x.model.toml` beside `x.onnx` /
/// `x.safetensors`, else `model.toml` in the same folder.
pub fn sidecar_card_path(weights: &Path) -> Option<PathBuf> {
    let dir = weights.parent().unwrap_or_else(|| Path::new("."));
    let stem = weights.file_stem()?.to_string_lossy();
    [dir.join(format!("{stem}.model.toml")), dir.join("model.toml")].into_iter().find(|p| p.is_file())
}

/// "YOLOv12n" / "yolo11s-seg" found in a name or description.
struct ModelId {
    /// As written, e.g. "YOLOv12n".
    token: String,
    generation: String,
    scale: Scale,
}

impl ModelId {
    fn find(text: &str) -> Option<ModelId> {
        let lower = text.to_ascii_lowercase();
        let mut from = 0;
        while let Some(pos) = lower[from..].find("yolo") {
            let start = from + pos;
            from = start + 4;
            if let Some(id) = Self::parse_at(text, &lower, start) {
                return Some(id);
            }
        }
        None
    }

    fn parse_at(text: &str, lower: &str, start: usize) -> Option<ModelId> {
        let bytes = lower.as_bytes();
        let mut i = start + 4;
        if bytes.get(i) == Some(&b'v') {
            i += 1;
        }
        let digits_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == digits_start {
            return None;
        }
        let generation = lower[digits_start..i].to_owned();
        let scale = Scale::parse(&char::from(*bytes.get(i)?).to_string())?;
        i += 1;
        if bytes.get(i).is_some_and(u8::is_ascii_alphanumeric) {
            return None;
        }
        Some(ModelId { token: text[start..i].to_owned(), generation, scale })
    }

    fn family(&self) -> Option<Family> {
        Family::from_generation(&self.generation)
    }
}

/// Class names from a JSON list, a JSON object `{"0": "person", ...}` or Ultralytics' Python
/// dict literal `{0: 'person', 1: 'bicycle'}`. Ids must run from 0 without gaps.
pub fn parse_class_names(text: &str) -> std::result::Result<Vec<String>, String> {
    let text = text.trim();
    if text.starts_with('[') {
        return serde_json::from_str::<Vec<String>>(text)
            .map_err(|e| format!("not a JSON list of strings: {e}"));
    }
    let pairs = match serde_json::from_str::<HashMap<String, String>>(text) {
        Ok(map) => map
            .into_iter()
            .map(|(k, v)| {
                k.trim()
                    .parse::<usize>()
                    .map(|id| (id, v))
                    .map_err(|_| format!("class id {k:?} is not a number"))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?,
        Err(_) => parse_python_dict(text)?,
    };
    let mut names = vec![None; pairs.len()];
    for (id, name) in pairs {
        let slot = names
            .get_mut(id)
            .ok_or_else(|| format!("class ids must run from 0 without gaps; found id {id}"))?;
        if slot.is_some() {
            return Err(format!("class id {id} appears twice"));
        }
        *slot = Some(name);
    }
    // Every slot is filled: `pairs.len()` distinct ids, each below `pairs.len()`.
    Ok(names.into_iter().flatten().collect())
}

/// `{0: 'person', 1: "it's"}`: integer keys, single- or double-quoted strings with Python
/// escapes.
fn parse_python_dict(text: &str) -> std::result::Result<Vec<(usize, String)>, String> {
    let mut p = DictParser { chars: text.chars().collect(), pos: 0 };
    p.expect('{')?;
    let mut out = Vec::new();
    p.skip_ws();
    if p.peek() == Some('}') {
        p.pos += 1;
    } else {
        loop {
            p.skip_ws();
            let id = p.integer()?;
            p.skip_ws();
            p.expect(':')?;
            p.skip_ws();
            let name = p.string()?;
            out.push((id, name));
            p.skip_ws();
            match p.next() {
                Some(',') => {
                    p.skip_ws();
                    if p.peek() == Some('}') {
                        p.pos += 1;
                        break;
                    }
                }
                Some('}') => break,
                other => return Err(format!("expected ',' or '}}', found {other:?}")),
            }
        }
    }
    p.skip_ws();
    if p.pos != p.chars.len() {
        return Err("unexpected text after the closing '}'".into());
    }
    Ok(out)
}

struct DictParser {
    chars: Vec<char>,
    pos: usize,
}

impl DictParser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, want: char) -> std::result::Result<(), String> {
        match self.next() {
            Some(c) if c == want => Ok(()),
            other => Err(format!("expected {want:?}, found {other:?}")),
        }
    }

    fn integer(&mut self) -> std::result::Result<usize, String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        digits.parse().map_err(|_| format!("expected a class id at character {start}"))
    }

    fn string(&mut self) -> std::result::Result<String, String> {
        let quote = match self.next() {
            Some(q @ ('\'' | '"')) => q,
            other => return Err(format!("expected a quoted class name, found {other:?}")),
        };
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err("unterminated string".into()),
                Some(c) if c == quote => return Ok(out),
                Some('\\') => {
                    let c = self.next().ok_or("unterminated escape")?;
                    match c {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'x' => out.push(self.hex_char(2)?),
                        'u' => out.push(self.hex_char(4)?),
                        'U' => out.push(self.hex_char(8)?),
                        other => out.push(other),
                    }
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn hex_char(&mut self, len: usize) -> std::result::Result<char, String> {
        let end = self.pos + len;
        let hex: String = self.chars.get(self.pos..end).ok_or("truncated escape")?.iter().collect();
        self.pos = end;
        u32::from_str_radix(&hex, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| format!("bad escape \\{hex}"))
    }
}

/// `640`, `[640, 640]`, `[640]`, or a stride list `[8, 16, 32]`: the largest value.
fn parse_size(text: &str) -> std::result::Result<u32, String> {
    let text = text.trim();
    let values: Vec<f64> = if text.starts_with('[') || text.starts_with('(') {
        let inner = text.trim_start_matches(['[', '(']).trim_end_matches([']', ')']);
        inner
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<f64>().map_err(|_| format!("{s:?} is not a number")))
            .collect::<std::result::Result<_, _>>()?
    } else {
        vec![text.parse::<f64>().map_err(|_| format!("{text:?} is not a number"))?]
    };
    let max = values.iter().copied().fold(f64::NAN, f64::max);
    if !(max.is_finite() && (1.0..=65_536.0).contains(&max) && max.fract() == 0.0) {
        return Err(format!("{text:?} is not a positive whole number of pixels"));
    }
    Ok(max as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ultralytics_names() {
        let names =
            parse_class_names("{0: 'person', 1: \"it's\", 2: 'a\\'b', 3: 'caf\\xe9'}").expect("parses");
        assert_eq!(names, ["person", "it's", "a'b", "café"]);
        assert_eq!(parse_class_names("[\"a\", \"b\"]").expect("json list"), ["a", "b"]);
        assert_eq!(parse_class_names("{\"1\": \"b\", \"0\": \"a\"}").expect("json object"), ["a", "b"]);
        assert_eq!(parse_class_names("{1: 'b', 0: 'a',}").expect("any order"), ["a", "b"]);
        assert!(parse_class_names("{0: 'a', 2: 'c'}").is_err());
        assert!(parse_class_names("{0: 'a', 0: 'b'}").is_err());
        assert!(parse_class_names("{0: 'a'").is_err());
        assert!(parse_class_names("nonsense").is_err());
    }

    #[test]
    fn finds_model_ids() {
        let id = ModelId::find("Ultralytics YOLOv12n model trained on coco.yaml").expect("id");
        assert_eq!((id.token.as_str(), id.family(), id.scale), ("YOLOv12n", Some(Family::V12), Scale::N));
        let id = ModelId::find("Ultralytics YOLO11s-seg model").expect("id");
        assert_eq!((id.token.as_str(), id.family(), id.scale), ("YOLO11s", Some(Family::V11), Scale::S));
        let id = ModelId::find("yolov8x.pt").expect("id");
        assert_eq!((id.family(), id.scale), (Some(Family::V8), Scale::X));
        let id = ModelId::find("Ultralytics YOLOv10n model").expect("id");
        assert_eq!(id.family(), None);
        assert!(ModelId::find("Ultralytics YOLO model").is_none());
        assert!(ModelId::find("yolov8").is_none());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("640"), Ok(640));
        assert_eq!(parse_size("[640, 640]"), Ok(640));
        assert_eq!(parse_size("[480, 640]"), Ok(640));
        assert_eq!(parse_size("[8, 16, 32]"), Ok(32));
        assert_eq!(parse_size("32.0"), Ok(32));
        assert!(parse_size("-1").is_err());
        assert!(parse_size("[]").is_err());
        assert!(parse_size("abc").is_err());
    }

    #[test]
    fn metadata_round_trip_and_toml_round_trip() {
        let card = ModelCard {
            name: "yolo11s-seg".into(),
            family: Family::V11,
            scale: Scale::S,
            task: Task::Segment,
            class_names: vec!["a".into(), "b \"quoted\"".into()],
            input_size_px: 320,
            stride_px: 32,
            source: Some("test".into()),
            license: Some("AGPL-3.0".into()),
            sha256: None,
        };
        let path = Path::new("x.safetensors");
        let back = ModelCard::from_safetensors_metadata(&card.to_safetensors_metadata(), path)
            .expect("valid")
            .expect("has names");
        assert_eq!(back, card);
        let toml_text = card.to_toml_string();
        assert!(toml_text.contains("family = \"v11\""), "{toml_text}");
        assert_eq!(ModelCard::from_toml_str(&toml_text, path).expect("parses"), card);
        assert!(ModelCard::from_toml_str("name = 1", path).is_err());
        let unknown = format!("{toml_text}\nbogus = 1\n");
        assert!(ModelCard::from_toml_str(&unknown, path).is_err());
    }

    #[test]
    fn metadata_without_identity_is_an_error() {
        let mut m = HashMap::new();
        m.insert("names".to_owned(), "[\"a\"]".to_owned());
        let err =
            ModelCard::from_safetensors_metadata(&m, Path::new("w.safetensors")).expect_err("no family");
        assert!(err.to_string().contains("model.toml"), "{err}");
        m.insert("description".to_owned(), "Ultralytics YOLOv10n model".to_owned());
        let err = ModelCard::from_safetensors_metadata(&m, Path::new("w.safetensors")).expect_err("v10");
        assert!(err.to_string().contains("YOLOv10n"), "{err}");
        m.remove("names");
        assert!(
            ModelCard::from_safetensors_metadata(&m, Path::new("w.safetensors"))
                .expect("no names is not an error")
                .is_none()
        );
    }
}
