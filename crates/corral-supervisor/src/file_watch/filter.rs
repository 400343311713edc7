//! Which changed paths concern a process: its roots' include/exclude globs,
//! devenv-style `extensions` and `ignore`, and the default excludes (`.git`,
//! editor swap and backup files). `.gitignore` is checked separately
//! ([`super::gitignore`]), since it needs the file system.
//!
//! As in process-compose, a glob containing '/' matches the path relative to
//! the watched root; one without matches a file name (and, for excludes, any
//! directory name on the way, so `node_modules` prunes a whole subtree).

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::plan::WatchSpec;

struct Patterns {
    /// Globs with a '/': matched against the root-relative path.
    relative: GlobSet,
    /// Globs without: matched against names.
    names: GlobSet,
    empty: bool,
}

impl Patterns {
    fn new(globs: &[String]) -> Result<Patterns, String> {
        let (mut rel, mut names) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        for g in globs {
            let glob = Glob::new(g).map_err(|e| format!("invalid glob {g:?}: {}", e.kind()))?;
            if g.contains('/') {
                rel.add(glob);
            } else {
                names.add(glob);
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| e.to_string());
        Ok(Patterns { relative: build(rel)?, names: build(names)?, empty: globs.is_empty() })
    }

    /// For includes: the relative path, or the file name.
    fn matches_file(&self, rel: &Path) -> bool {
        self.relative.is_match(rel) || rel.file_name().is_some_and(|n| self.names.is_match(n))
    }

    /// For excludes: also any directory on the way.
    fn matches_any_part(&self, rel: &Path) -> bool {
        self.relative.is_match(rel) || rel.components().any(|c| self.names.is_match(c.as_os_str()))
    }
}

struct Root {
    path: PathBuf,
    include: Patterns,
    exclude: Patterns,
}

pub(crate) struct Filter {
    roots: Vec<Root>,
    ignore: Patterns,
    extensions: Vec<String>,
    default_excludes: bool,
}

impl Filter {
    pub(crate) fn new(spec: &WatchSpec) -> Result<Filter, String> {
        let roots = spec
            .roots
            .iter()
            .map(|r| Ok(Root { path: r.path.clone(), include: Patterns::new(&r.include)?, exclude: Patterns::new(&r.exclude)? }))
            .collect::<Result<_, String>>()?;
        Ok(Filter {
            roots,
            ignore: Patterns::new(&spec.ignore)?,
            extensions: spec.extensions.iter().map(|e| e.trim_start_matches('.').to_string()).collect(),
            default_excludes: spec.default_excludes,
        })
    }

    /// Whether a change at `path` concerns the process, by its globs alone.
    pub(crate) fn matches(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| {
            let Ok(rel) = path.strip_prefix(&root.path) else { return false };
            // A change of the root itself (created, removed) counts.
            if rel.as_os_str().is_empty() {
                return true;
            }
            if self.default_excludes && is_default_excluded(rel) {
                return false;
            }
            if self.ignore.matches_any_part(rel) || root.exclude.matches_any_part(rel) {
                return false;
            }
            if !self.extensions.is_empty() {
                let ext = rel.extension().and_then(|e| e.to_str()).unwrap_or("");
                if !self.extensions.iter().any(|e| e == ext) {
                    return false;
                }
            }
            root.include.empty || root.include.matches_file(rel)
        })
    }
}

/// `.git` anywhere on the way, and editors' swap and backup files.
fn is_default_excluded(rel: &Path) -> bool {
    if rel.components().any(|c| c.as_os_str() == ".git") {
        return true;
    }
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".swp") || name.ends_with(".swx") || name.ends_with('~') || name.starts_with(".#") || name == "4913"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::WatchRoot;

    fn filter(include: &[&str], exclude: &[&str], ext: &[&str], ignore: &[&str]) -> Filter {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Filter::new(&WatchSpec {
            roots: vec![WatchRoot { path: "/p/src".into(), include: s(include), exclude: s(exclude) }],
            extensions: s(ext),
            ignore: s(ignore),
            gitignore: false,
            cascade: false,
            debounce: std::time::Duration::ZERO,
            default_excludes: true,
        })
        .unwrap()
    }

    #[test]
    fn includes_and_excludes() {
        let f = filter(&["*.rs", "conf/*.toml"], &["gen/**", "node_modules"], &[], &[]);
        assert!(f.matches(Path::new("/p/src/main.rs")));
        assert!(f.matches(Path::new("/p/src/deep/lib.rs")));
        assert!(f.matches(Path::new("/p/src/conf/a.toml")));
        assert!(!f.matches(Path::new("/p/src/other/a.toml")), "a glob with '/' is relative to the root");
        assert!(!f.matches(Path::new("/p/src/gen/x.rs")));
        assert!(!f.matches(Path::new("/p/src/a/node_modules/b/c.rs")), "a name exclude prunes a subtree");
        assert!(!f.matches(Path::new("/p/elsewhere/main.rs")));
        assert!(f.matches(Path::new("/p/src")), "the root itself");
    }

    #[test]
    fn extensions_ignore_and_defaults() {
        let f = filter(&[], &[], &["rs", ".toml"], &["*_test.rs", "target/**"]);
        assert!(f.matches(Path::new("/p/src/a.rs")) && f.matches(Path::new("/p/src/a.toml")));
        assert!(!f.matches(Path::new("/p/src/a.py")));
        assert!(!f.matches(Path::new("/p/src/a_test.rs")));
        assert!(!f.matches(Path::new("/p/src/target/debug/a.rs")));
        assert!(!f.matches(Path::new("/p/src/.git/HEAD.rs")));
        assert!(!f.matches(Path::new("/p/src/.main.rs.swp")));
    }
}
