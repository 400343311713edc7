//! corral's exporters: one process set, taken to the engines people already run
//! in production (systemd, Compose, Kubernetes, Procfile runners).
//!
//! Pure by design: a validated [`corral_config::Config`] goes in, files and
//! [`Warning`]s come out; nothing here touches the file system or a runtime, so
//! the CLI decides where the files go (stdout, or a directory written all at once)
//! and the tests can check every mapping without running anything.
//!
//! Every field a target cannot express becomes a [`Warning`] naming the field
//! (`processes.web.ready_log_line`), never a silent drop: with `--strict` the CLI
//! turns them into an error. docs/production.md holds the mapping tables; the
//! code of each format starts with a doc comment saying what it maps how.

mod common;
mod compose;
mod kubernetes;
mod procfile;
mod replicas;
mod shell;
mod systemd;
mod warnings;

use std::collections::BTreeMap;
use std::path::PathBuf;

use corral_config::Config;

pub use kubernetes::KUBECTL_IMAGE;
pub use warnings::{Warning, Warnings};

/// The targets `corral export` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Systemd,
    Compose,
    Kubernetes,
    Procfile,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Systemd, Format::Compose, Format::Kubernetes, Format::Procfile];

    pub fn name(self) -> &'static str {
        match self {
            Format::Systemd => "systemd",
            Format::Compose => "compose",
            Format::Kubernetes => "kubernetes",
            Format::Procfile => "procfile",
        }
    }
}

/// What the target needs to know that the config does not say.
#[derive(Debug, Clone)]
pub struct Options {
    /// The set's name: unit prefix, Compose project, Kubernetes label.
    pub name: String,
    /// Where the project lives on the target: relative paths (working directories,
    /// log files, Unix sockets) are resolved against it, and processes run in it.
    pub root: PathBuf,
    /// systemd: system units (`multi-user.target`, `systemctl`) instead of user units.
    pub system: bool,
    /// Compose and Kubernetes: the image every process runs in (default `NAME:latest`).
    pub image: Option<String>,
    /// Compose and Kubernetes: an image per process, winning over `image`.
    pub images: BTreeMap<String, String>,
    /// Kubernetes: environment variables that go to a Secret instead of the ConfigMap.
    pub secrets: Vec<String>,
    /// Kubernetes: the image `kubectl wait` init containers run (default [`KUBECTL_IMAGE`]).
    pub kubectl_image: Option<String>,
}

impl Options {
    pub fn new(name: impl Into<String>, root: impl Into<PathBuf>) -> Self {
        Options { name: name.into(), root: root.into(), system: false, image: None, images: BTreeMap::new(), secrets: Vec::new(), kubectl_image: None }
    }

    pub(crate) fn image_for(&self, process: &str) -> String {
        self.images
            .get(process)
            .or(self.image.as_ref())
            .cloned()
            .unwrap_or_else(|| format!("{}:latest", common::dns_label(&self.name)))
    }
}

/// One file of an export, with its name relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub contents: String,
}

/// The result of an export: the files and what could not be expressed.
#[derive(Debug, Clone)]
pub struct Export {
    pub files: Vec<File>,
    pub warnings: Vec<Warning>,
}

/// An export that cannot be produced at all.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{field}: {message}")]
    Unsupported { field: String, message: String },
    #[error("cannot write YAML: {0}")]
    Yaml(String),
}

/// Exports `config` (already loaded and validated) to `format`.
pub fn export(config: &Config, format: Format, options: &Options) -> Result<Export, ExportError> {
    let mut warnings = Warnings::default();
    let set = common::Set::new(config, options, &mut warnings);
    let files = match format {
        Format::Systemd => systemd::export(&set, &mut warnings),
        Format::Compose => compose::export(&set, &mut warnings)?,
        Format::Kubernetes => kubernetes::export(&set, &mut warnings)?,
        Format::Procfile => procfile::export(&set, &mut warnings)?,
    };
    Ok(Export { files, warnings: warnings.into_vec() })
}
