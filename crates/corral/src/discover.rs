//! Which config files a command reads, found as process-compose finds them.
//!
//! With `-f` (repeatable): those files, merged in order. Without: `$CORRAL_CONFIG`;
//! else `corral.json` in the current directory; else `$PC_CONFIG_FILES`
//! (comma-separated); else the first of `compose.yml`, `compose.yaml`,
//! `process-compose.yml`, `process-compose.yaml`, plus the first of their
//! `.override` files. When corral.json wins over a process-compose file that is
//! also there, a note names the file that was not read.
//!
//! Discovery looks in the current directory first, then in each directory above
//! it (so `corral ps` in `src/` finds the set started at the project's top); the
//! project root is then decided from the file found (see project.rs).

use std::path::{Path, PathBuf};

use corral_config::LoadOptions;

use crate::project::Located;

use crate::cli::LoadFlags;

const COMPOSE_FILES: &[&str] = &["compose.yml", "compose.yaml", "process-compose.yml", "process-compose.yaml"];
const OVERRIDE_FILES: &[&str] = &["compose.override.yml", "compose.override.yaml", "process-compose.override.yml", "process-compose.override.yaml"];

/// The files found, and notes for the user about what was chosen.
pub struct Found {
    pub files: Vec<PathBuf>,
    pub notes: Vec<String>,
}

/// The files to read: `explicit` (`-f`), else discovery in `dir`, then in the
/// directories above it (files found there are named by their full path).
pub fn discover(explicit: &[PathBuf], dir: &Path) -> Result<Found, String> {
    let here = discover_in(explicit, dir);
    if here.is_ok() || !explicit.is_empty() {
        return here;
    }
    for above in dir.ancestors().skip(1) {
        if let Ok(mut found) = discover_in(&[], above) {
            found.files = found.files.into_iter().map(|f| if f.is_relative() { above.join(f) } else { f }).collect();
            return Ok(found);
        }
    }
    here
}

/// Discovery in `dir` alone.
fn discover_in(explicit: &[PathBuf], dir: &Path) -> Result<Found, String> {
    if !explicit.is_empty() {
        return Ok(Found { files: explicit.to_vec(), notes: Vec::new() });
    }
    if let Some(v) = std::env::var_os("CORRAL_CONFIG").filter(|v| !v.is_empty()) {
        return Ok(Found { files: vec![PathBuf::from(v)], notes: Vec::new() });
    }
    let first = |names: &[&str]| names.iter().find(|n| dir.join(n).is_file()).map(|n| PathBuf::from(*n));
    let all = |names: &[&str]| names.iter().filter(|n| dir.join(n).is_file()).map(|n| n.to_string()).collect::<Vec<_>>();
    if dir.join("corral.json").is_file() {
        let mut notes = Vec::new();
        let skipped = all(COMPOSE_FILES);
        if !skipped.is_empty() {
            notes.push(format!("reading corral.json; {} is not read (name it with -f to use it)", skipped.join(", ")));
        }
        return Ok(Found { files: vec![PathBuf::from("corral.json")], notes });
    }
    if let Ok(v) = std::env::var("PC_CONFIG_FILES") {
        let files: Vec<PathBuf> = v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(PathBuf::from).collect();
        if !files.is_empty() {
            return Ok(Found { files, notes: Vec::new() });
        }
    }
    let Some(main) = first(COMPOSE_FILES) else {
        return Err(format!(
            "no config found in {}: looked for corral.json, {} (or name one with -f)",
            dir.display(),
            COMPOSE_FILES.join(", ")
        ));
    };
    let mut notes = Vec::new();
    let found = all(COMPOSE_FILES);
    if found.len() > 1 {
        notes.push(format!("found {}; reading {} only", found.join(", "), main.display()));
    }
    let mut files = vec![main];
    if let Some(o) = first(OVERRIDE_FILES) {
        let overrides = all(OVERRIDE_FILES);
        if overrides.len() > 1 {
            notes.push(format!("found {}; reading {} only", overrides.join(", "), o.display()));
        }
        files.push(o);
    }
    Ok(Found { files, notes })
}

/// Discovery plus the load flags, as the config crate's options; notes are printed.
pub fn options(explicit: &[PathBuf], flags: &LoadFlags) -> Result<LoadOptions, String> {
    options_located(explicit, flags).map(|(opts, _)| opts)
}

/// [`options`], and where the first file is and which project root it runs in.
pub fn options_located(explicit: &[PathBuf], flags: &LoadFlags) -> Result<(LoadOptions, Located), String> {
    let dir = std::env::current_dir().map_err(|e| format!("cannot determine the current directory: {e}"))?;
    let found = discover(explicit, &dir)?;
    for n in &found.notes {
        eprintln!("corral: note: {n}");
    }
    let located = crate::project::locate(&found.files[0])?;
    let mut opts = LoadOptions::new(found.files, located.root.clone());
    if !flags.env.is_empty() {
        opts.env_files = Some(flags.env.clone());
    }
    opts.disable_dotenv = flags.disable_dotenv;
    Ok((opts, located))
}

/// The first file discovery finds (it names the project), without notes.
pub fn primary(explicit: &[PathBuf]) -> PathBuf {
    let dir = std::env::current_dir().unwrap_or_default();
    discover(explicit, &dir).ok().and_then(|f| f.files.into_iter().next()).unwrap_or_else(|| PathBuf::from("corral.json"))
}
