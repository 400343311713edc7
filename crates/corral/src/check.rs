//! `corral check` and the shared reporting of load problems.

use std::path::Path;

use corral_config::{Diagnostic, LoadError, Loaded, Severity};

/// Exit status for a config that cannot be run.
pub const BAD_CONFIG: i32 = 2;

/// Loads `path`, printing every diagnostic to stderr. `Err` carries the exit status.
pub fn load_reporting(path: &Path, show_notes: bool) -> Result<Loaded, i32> {
    match corral_config::load_file(path) {
        Ok(loaded) => {
            print_diagnostics(path, &loaded.diagnostics, show_notes);
            Ok(loaded)
        }
        Err(LoadError::Invalid { file, diagnostics }) => {
            print_diagnostics(&file, &diagnostics, show_notes);
            let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
            eprintln!("corral: {}: {errors} error(s); nothing was started", file.display());
            Err(BAD_CONFIG)
        }
        Err(e) => {
            eprintln!("corral: error: {e}");
            Err(BAD_CONFIG)
        }
    }
}

fn print_diagnostics(file: &Path, diagnostics: &[Diagnostic], show_notes: bool) {
    for d in diagnostics {
        let tag = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note if show_notes => "note",
            Severity::Note => continue,
        };
        eprintln!("corral: {tag}: {}: {d}", file.display());
    }
}

pub fn check(path: &Path) -> i32 {
    match load_reporting(path, true) {
        Ok(loaded) => {
            let n = loaded.config.processes.len();
            let warnings = loaded.diagnostics.iter().filter(|d| d.severity == Severity::Warning).count();
            println!("{}: ok, {n} process(es), {warnings} warning(s)", path.display());
            0
        }
        Err(status) => status,
    }
}
