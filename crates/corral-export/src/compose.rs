//! Compose (placeholder, filled in below).
use crate::common::Set;
use crate::warnings::Warnings;
use crate::{ExportError, File};
pub(crate) fn export(_set: &Set, _w: &mut Warnings) -> Result<Vec<File>, ExportError> {
    Err(ExportError::Unsupported { field: "format".into(), message: "compose: not supported yet".into() })
}
