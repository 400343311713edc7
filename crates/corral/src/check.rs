//! `corral check` and the shared reporting of load problems.

use std::path::{Path, PathBuf};

use corral_config::{Diagnostic, LoadError, LoadOptions, Loaded, Severity};

use crate::cli::LoadFlags;

/// Exit status for a config that cannot be run.
pub const BAD_CONFIG: i32 = 2;

/// Loads what `opts` names, printing every diagnostic to stderr. `Err` carries the exit status.
pub fn load_reporting(opts: &LoadOptions, show_notes: bool) -> Result<Loaded, i32> {
    let path = opts.files.first().map(PathBuf::as_path).unwrap_or(Path::new("corral.json"));
    match corral_config::load(opts) {
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

/// `corral check`: every problem of the config, with notes (where load-time
/// expansion changed a value, keys accepted and ignored).
pub fn check(config: &[PathBuf], flags: &LoadFlags) -> i32 {
    let opts = match crate::discover::options(config, flags) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("corral: error: {e}");
            return BAD_CONFIG;
        }
    };
    match load_reporting(&opts, true) {
        Ok(loaded) => {
            let n = loaded.config.processes.len();
            let warnings = loaded.diagnostics.iter().filter(|d| d.severity == Severity::Warning).count();
            let shown: Vec<String> = opts.files.iter().map(|f| f.display().to_string()).collect();
            println!("{}: ok, {n} process(es), {warnings} warning(s)", shown.join(" + "));
            0
        }
        Err(status) => status,
    }
}
