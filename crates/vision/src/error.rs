//! The crate's error type: every failure names the file, tensor or setting at fault.

use std::path::PathBuf;

/// Everything that can go wrong loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// File missing / unreadable: names the path.
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Not a valid ONNX / safetensors / model.toml: names the file and what is wrong.
    #[error("{} is not a usable model file: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
    /// A tensor the architecture needs is absent: names the tensor.
    #[error("the weights lack the tensor `{name}`")]
    MissingTensor { name: String },
    /// A tensor has the wrong shape: names the tensor and both shapes.
    #[error("the tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch { name: String, expected: Vec<usize>, found: Vec<usize> },
    /// The model card disagrees with the weights (class count, input size, task, ...).
    #[error("the model card {} disagrees with the weights: {reason}", path.display())]
    CardMismatch { path: PathBuf, reason: String },
    /// A device or input that cannot be used: names it and why.
    #[error("device {device}: {reason}")]
    Device { device: String, reason: String },
    /// Candle failed (out of GPU memory is turned into a clear message suggesting a smaller
    /// batch).
    #[error("{}", describe_candle_error(.0))]
    Candle(#[from] candle_core::Error),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, VisionError>;

impl VisionError {
    /// Whether this is the accelerator running out of memory (a smaller batch may help).
    pub fn is_out_of_memory(&self) -> bool {
        match self {
            VisionError::Candle(e) => is_out_of_memory_text(&e.to_string()),
            _ => false,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        VisionError::Io { path: path.into(), source }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        VisionError::Format { path: path.into(), reason: reason.into() }
    }

    pub(crate) fn card_mismatch(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        VisionError::CardMismatch { path: path.into(), reason: reason.into() }
    }
}

fn is_out_of_memory_text(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("out of memory") || lower.contains("out_of_memory")
}

fn describe_candle_error(e: &candle_core::Error) -> String {
    let text = e.to_string();
    if is_out_of_memory_text(&text) {
        format!(
            "the accelerator ran out of memory ({text}); try a smaller batch size, a smaller \
             model, or the CPU"
        )
    } else {
        format!("candle: {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_memory_gets_a_hint() {
        let e = VisionError::from(candle_core::Error::Msg(
            "DriverError(CUDA_ERROR_OUT_OF_MEMORY, \"out of memory\")".into(),
        ));
        assert!(e.is_out_of_memory());
        assert!(e.to_string().contains("smaller batch"), "{e}");
        let other = VisionError::from(candle_core::Error::Msg("shape mismatch".into()));
        assert!(!other.is_out_of_memory());
        assert_eq!(other.to_string(), "candle: shape mismatch");
    }
}
