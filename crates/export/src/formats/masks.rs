//! PNG masks. (Being written.)

use super::{FormatWriter, WriteContext};
use crate::output::OutputDir;
use crate::{DatasetAnnotation, DatasetImage, ExportError};

#[derive(Debug)]
pub struct MasksWriter;

impl MasksWriter {
    pub fn new(_ctx: &WriteContext<'_>) -> Result<Self, ExportError> {
        Err(ExportError::Invalid("mask writing is not written yet".into()))
    }
}

impl FormatWriter for MasksWriter {
    fn image(&mut self, _: &mut OutputDir<'_>, _: &DatasetImage, _: &[DatasetAnnotation]) -> Result<String, ExportError> {
        Err(ExportError::Invalid("not written yet".into()))
    }
    fn finish(self: Box<Self>, _: &mut OutputDir<'_>) -> Result<(), ExportError> {
        Ok(())
    }
}
