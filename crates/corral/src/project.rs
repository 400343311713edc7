//! Which running corral a command talks to: the project's name and the
//! directory it runs in (see corral_supervisor::control::project).

use std::path::Path;

use corral_supervisor::control::project::Project;

/// The project for `config` (its `name`, else its file stem), unless named explicitly.
pub fn project(config: &Path, explicit: Option<&str>, config_name: Option<&str>) -> Result<Project, String> {
    let name = match (explicit, config_name) {
        (Some(n), _) => n.to_string(),
        (None, Some(n)) => n.to_string(),
        (None, None) => name_in_file(config).unwrap_or_else(|| config.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "corral".into())),
    };
    let root = std::env::current_dir().map_err(|e| format!("cannot determine the current directory: {e}"))?;
    Ok(Project::new(&name, &root))
}

/// The config's `name`, read without validating the rest (client commands
/// must work even while the config is being edited).
fn name_in_file(config: &Path) -> Option<String> {
    corral_config::config_name(config)
}
