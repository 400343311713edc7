//! Procfile (placeholder).
use crate::common::Set;
use crate::warnings::Warnings;
use crate::File;
pub(crate) fn export(_set: &Set, _w: &mut Warnings) -> Vec<File> {
    Vec::new()
}
