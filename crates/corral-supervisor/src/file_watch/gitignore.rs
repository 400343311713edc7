//! `.gitignore` rules for changed paths, read lazily: only the directories
//! between a changed file and its repository's top are consulted, each
//! `.gitignore` parsed once and cached until it changes. Nothing walks the
//! watched tree.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

#[derive(Default)]
pub(crate) struct Gitignores {
    cache: HashMap<PathBuf, Option<Gitignore>>,
}

impl Gitignores {
    /// Whether `path` is ignored by the `.gitignore` files of the directories from
    /// its repository's top (or, outside a repository, from `boundary`) down to it.
    pub(crate) fn ignored(&mut self, path: &Path, boundary: &Path) -> bool {
        let Some(parent) = path.parent() else { return false };
        let mut dirs: Vec<&Path> = Vec::new();
        for dir in parent.ancestors() {
            dirs.push(dir);
            if dir.join(".git").exists() || dir == boundary {
                break;
            }
        }
        let is_dir = path.is_dir();
        let mut ignored = false;
        // Outermost first, so deeper files (and `!` re-includes) win.
        for dir in dirs.into_iter().rev() {
            let matcher = self.cache.entry(dir.to_path_buf()).or_insert_with(|| load(dir));
            match matcher.as_ref().map(|m| m.matched_path_or_any_parents(path, is_dir)) {
                Some(Match::Ignore(_)) => ignored = true,
                Some(Match::Whitelist(_)) => ignored = false,
                _ => {}
            }
        }
        ignored
    }

    /// Forgets a changed `.gitignore`, so the next check reads it again.
    pub(crate) fn invalidate(&mut self, changed: &Path) {
        if changed.file_name().is_some_and(|n| n == ".gitignore") {
            if let Some(dir) = changed.parent() {
                self.cache.remove(dir);
            }
        }
    }
}

fn load(dir: &Path) -> Option<Gitignore> {
    let file = dir.join(".gitignore");
    if !file.is_file() {
        return None;
    }
    let mut b = GitignoreBuilder::new(dir);
    if let Some(e) = b.add(&file) {
        tracing::debug!("{}: {e}", file.display());
    }
    b.build().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_rules_and_reincludes() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join("src/gen")).unwrap();
        std::fs::write(root.join(".gitignore"), "target/\n*.log\n").unwrap();
        std::fs::write(root.join("src/.gitignore"), "gen/\n!keep.log\n").unwrap();
        let mut g = Gitignores::default();
        assert!(g.ignored(&root.join("target/debug/x"), root));
        assert!(g.ignored(&root.join("a.log"), root));
        assert!(g.ignored(&root.join("src/gen/code.rs"), root));
        assert!(!g.ignored(&root.join("src/keep.log"), root), "re-included deeper");
        assert!(!g.ignored(&root.join("src/main.rs"), root));
        std::fs::write(root.join("src/.gitignore"), "main.rs\n").unwrap();
        assert!(!g.ignored(&root.join("src/main.rs"), root), "cached until invalidated");
        g.invalidate(&root.join("src/.gitignore"));
        assert!(g.ignored(&root.join("src/main.rs"), root));
    }
}
