//! Pascal VOC XML. (Being written.)
use std::path::Path;

use super::{FormatWriter, WriteContext};
use crate::output::OutputDir;
use crate::{DatasetAnnotation, DatasetImage, ExportError, LabelSet};

pub fn read(path: &Path) -> Result<LabelSet, ExportError> {
    Err(ExportError::Invalid(format!("{}: VOC reading is not written yet", path.display())))
}

#[derive(Debug)]
pub struct VocWriter;

impl VocWriter {
    pub fn new(_ctx: &WriteContext<'_>) -> Result<Self, ExportError> {
        Err(ExportError::Invalid("VOC writing is not written yet".into()))
    }
}

impl FormatWriter for VocWriter {
    fn image(&mut self, _: &mut OutputDir<'_>, _: &DatasetImage, _: &[DatasetAnnotation]) -> Result<String, ExportError> {
        Err(ExportError::Invalid("not written yet".into()))
    }
    fn finish(self: Box<Self>, _: &mut OutputDir<'_>) -> Result<(), ExportError> {
        Ok(())
    }
}
