//! Ultralytics YOLO. (Being written.)
use std::path::Path;

use super::{FormatWriter, WriteContext};
use crate::output::OutputDir;
use crate::{DatasetAnnotation, DatasetImage, ExportError, LabelSet};

pub fn read(path: &Path) -> Result<LabelSet, ExportError> {
    Err(ExportError::Invalid(format!("{}: YOLO reading is not written yet", path.display())))
}

#[derive(Debug)]
pub struct YoloWriter;

impl YoloWriter {
    pub fn new(_ctx: &WriteContext<'_>, _seg: bool) -> Result<Self, ExportError> {
        Err(ExportError::Invalid("YOLO writing is not written yet".into()))
    }
}

impl FormatWriter for YoloWriter {
    fn image(&mut self, _: &mut OutputDir<'_>, _: &DatasetImage, _: &[DatasetAnnotation]) -> Result<String, ExportError> {
        Err(ExportError::Invalid("not written yet".into()))
    }
    fn finish(self: Box<Self>, _: &mut OutputDir<'_>) -> Result<(), ExportError> {
        Ok(())
    }
}
