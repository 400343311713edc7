//! `corral export FORMAT`: the set as systemd units, a Compose file, Kubernetes
//! manifests or a Procfile (the mapping itself is in the corral-export crate).
//!
//! This file decides only where the result goes and how bad input ends: every
//! field the target cannot express is printed on stderr by name; `--strict` makes
//! that exit 2. With `-o DIR` either every file is written or none: the files are
//! written to a scratch directory inside DIR first, then hard-linked into place
//! (a link never replaces an existing file), and a failure removes what was linked.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use corral_export::{Export, Format, Options};

use crate::check::BAD_CONFIG;
use crate::cli::Target;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// User units (system units with --system): one service per process, a target for the set.
    Systemd,
    /// A Compose file (compose.yaml).
    Compose,
    /// Deployments, Jobs, Services and ConfigMaps (kubernetes.yaml).
    Kubernetes,
    /// A Procfile for honcho, foreman or overmind.
    Procfile,
}

impl From<ExportFormat> for Format {
    fn from(f: ExportFormat) -> Format {
        match f {
            ExportFormat::Systemd => Format::Systemd,
            ExportFormat::Compose => Format::Compose,
            ExportFormat::Kubernetes => Format::Kubernetes,
            ExportFormat::Procfile => Format::Procfile,
        }
    }
}

/// Export the set to systemd, Compose, Kubernetes or a Procfile (see docs/production.md).
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub target: Target,
    /// What to export to.
    #[arg(value_enum)]
    pub format: ExportFormat,
    /// Write the files into this directory (created if missing; existing files are
    /// never replaced) instead of printing them.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// systemd: system units instead of user units.
    #[arg(long)]
    pub system: bool,
    /// A field the target cannot express is an error (exit 2), not a warning.
    #[arg(long)]
    pub strict: bool,
    /// Compose and Kubernetes: the image the processes run in (default: SET:latest,
    /// as `nix build .#SET-image` tags it).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Compose and Kubernetes: the image of one process (`outputs.images.PROCESS`); repeatable.
    #[arg(long = "process-image", value_name = "PROCESS=IMAGE")]
    pub process_image: Vec<String>,
    /// Kubernetes: put this environment variable in a Secret instead of the ConfigMap; repeatable.
    #[arg(long = "secret", value_name = "NAME")]
    pub secret: Vec<String>,
    /// Kubernetes: the image of the init containers that run `kubectl wait`.
    /// (default: registry.k8s.io/kubectl, see docs/production.md)
    #[arg(long, value_name = "IMAGE")]
    pub kubectl_image: Option<String>,
    /// Where the project lives on the target; relative paths resolve against it
    /// (default: the current directory; /app for Compose and Kubernetes).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// Flags that mean nothing for the chosen format are mistakes, not no-ops.
fn check_flags(args: &ExportArgs) -> Result<(), String> {
    let format = Format::from(args.format);
    let only = |set: bool, flag: &str, formats: &[Format]| {
        if set && !formats.contains(&format) {
            let names: Vec<&str> = formats.iter().map(|f| f.name()).collect();
            return Err(format!("{flag} applies to {} only, not {}", names.join(" and "), format.name()));
        }
        Ok(())
    };
    only(args.system, "--system", &[Format::Systemd])?;
    only(args.image.is_some(), "--image", &[Format::Compose, Format::Kubernetes])?;
    only(!args.process_image.is_empty(), "--process-image", &[Format::Compose, Format::Kubernetes])?;
    only(!args.secret.is_empty(), "--secret", &[Format::Kubernetes])?;
    only(args.kubectl_image.is_some(), "--kubectl-image", &[Format::Kubernetes])
}

pub fn run(args: &ExportArgs) -> i32 {
    if let Err(e) = check_flags(args) {
        eprintln!("corral: error: {e}");
        return BAD_CONFIG;
    }
    // The config is found as `up` finds it (see discover.rs).
    let opts = match crate::discover::options(&args.target.config, &crate::cli::LoadFlags::default()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("corral: error: {e}");
            return BAD_CONFIG;
        }
    };
    let loaded = match crate::check::load_reporting(&opts, false) {
        Ok(l) => l,
        Err(status) => return status,
    };
    let format = Format::from(args.format);
    let name = args.target.project.clone().or_else(|| loaded.config.name.clone()).unwrap_or_else(|| {
        opts.files[0].file_stem().map_or_else(|| "corral".into(), |s| s.to_string_lossy().into_owned())
    });
    let root = match &args.root {
        Some(r) if r.is_absolute() => r.clone(),
        Some(r) => {
            eprintln!("corral: error: --root {}: must be an absolute path (it is a path on the target)", r.display());
            return BAD_CONFIG;
        }
        None if matches!(format, Format::Compose | Format::Kubernetes) => PathBuf::from("/app"),
        None => match std::env::current_dir() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("corral: error: cannot determine the current directory: {e}");
                return 1;
            }
        },
    };
    let known = |var: &str| loaded.config.environment.iter().any(|(k, _)| k == var) || loaded.config.processes.values().any(|p| p.environment.iter().any(|(k, _)| k == var));
    if let Some(unknown) = args.secret.iter().find(|s| !known(s)) {
        eprintln!("corral: error: --secret {unknown}: no process has this environment variable");
        return BAD_CONFIG;
    }
    let mut options = Options::new(name, root);
    options.system = args.system;
    options.image = args.image.clone();
    options.secrets = args.secret.clone();
    options.kubectl_image = args.kubectl_image.clone();
    for pi in &args.process_image {
        match pi.split_once('=') {
            // A replicated process is named as written (`api`), like its one workload.
            Some((p, img)) if (loaded.config.processes.contains_key(p) || loaded.config.processes.values().any(|x| x.replica_of.as_deref() == Some(p))) && !img.is_empty() => {
                options.images.insert(p.to_string(), img.to_string());
            }
            _ => {
                eprintln!("corral: error: --process-image {pi:?}: expected PROCESS=IMAGE with a process of the set");
                return BAD_CONFIG;
            }
        }
    }
    let export = match corral_export::export(&loaded.config, format, &options) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("corral: error: export {}: {e}", format.name());
            return BAD_CONFIG;
        }
    };
    let tag = if args.strict { "error" } else { "warning" };
    for w in &export.warnings {
        eprintln!("corral: {tag}: export {}: {w}", format.name());
    }
    if args.strict && !export.warnings.is_empty() {
        eprintln!("corral: {} field(s) cannot be expressed in {} (--strict); nothing was written", export.warnings.len(), format.name());
        return BAD_CONFIG;
    }
    let written = match &args.output {
        None => print(&export),
        Some(dir) => write_all(dir, &export),
    };
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("corral: error: {e}; nothing was written");
            BAD_CONFIG
        }
    }
}

fn print(export: &Export) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    let many = export.files.len() > 1;
    for f in &export.files {
        if many {
            let _ = writeln!(out, "### {}", f.name);
        }
        out.write_all(f.contents.as_bytes()).map_err(|e| format!("stdout: {e}"))?;
        if many {
            let _ = writeln!(out);
        }
    }
    out.flush().map_err(|e| format!("stdout: {e}"))
}

/// Writes every file into `dir`, or none.
fn write_all(dir: &Path, export: &Export) -> Result<(), String> {
    let created = if dir.exists() {
        if !dir.is_dir() {
            return Err(format!("{}: exists and is not a directory", dir.display()));
        }
        false
    } else {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create the directory: {e}", dir.display()))?;
        true
    };
    let result = stage_and_link(dir, export);
    if result.is_err() && created {
        let _ = std::fs::remove_dir(dir);
    }
    result
}

fn stage_and_link(dir: &Path, export: &Export) -> Result<(), String> {
    for f in &export.files {
        let path = dir.join(&f.name);
        if path.symlink_metadata().is_ok() {
            return Err(format!("{}: already exists (export never replaces a file)", path.display()));
        }
    }
    let scratch = dir.join(format!(".corral-export.{}", std::process::id()));
    std::fs::create_dir(&scratch).map_err(|e| format!("{}: cannot write: {e}", dir.display()))?;
    let result = (|| {
        for f in &export.files {
            std::fs::write(scratch.join(&f.name), &f.contents).map_err(|e| format!("{}: cannot write: {e}", dir.join(&f.name).display()))?;
        }
        let mut linked: Vec<PathBuf> = Vec::new();
        for f in &export.files {
            let to = dir.join(&f.name);
            if let Err(e) = std::fs::hard_link(scratch.join(&f.name), &to) {
                for l in &linked {
                    let _ = std::fs::remove_file(l);
                }
                return Err(format!("{}: {e}", to.display()));
            }
            linked.push(to);
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}
