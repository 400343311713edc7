//! Loading one or more files the way process-compose does: each file read
//! (YAML with load-time `$VAR` expansion, JSON as written), its `extends`
//! loaded before it, all merged in order, process `extends` resolved,
//! `replicas` expanded, `vars` rendered, the environment built; then the one
//! typed parse, validation and graph that every config goes through.
//!
//! Every step works on value trees that remember where each node was written,
//! so an error found late (after a merge, in a template) still names the file,
//! line and field path.

mod environment;
mod expand;
mod merge;
mod processes;
mod templates;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, LoadError};
use crate::format::{self, Format, Tree};
use crate::load::Loaded;

pub use processes::MAX_REPLICAS;
pub(crate) use processes::{UNSUPPORTED_PROCESS_KEYS, UNSUPPORTED_TOP_KEYS};

/// What to load, and how.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The files, merged in order (later wins).
    pub files: Vec<PathBuf>,
    /// The project directory: `.env`, relative `env_file`s and `env_cmds` are resolved there.
    pub root: PathBuf,
    /// `--env FILE` (repeatable). None: `.env` in `root` for process-compose YAML
    /// files (if it exists); nothing for JSON.
    pub env_files: Option<Vec<PathBuf>>,
    /// `--disable-dotenv`.
    pub disable_dotenv: bool,
}

impl LoadOptions {
    pub fn new(files: Vec<PathBuf>, root: PathBuf) -> Self {
        LoadOptions { files, root, env_files: None, disable_dotenv: false }
    }
}

/// A file being extended: its canonical path, the path as named, where its `extends` is.
type Extending = (PathBuf, PathBuf, Option<(u64, u64)>);

/// How deep `extends` may chain files; deeper is certainly a mistake.
const MAX_EXTENDS_DEPTH: usize = 32;

/// A load in progress: the parsed files (for positions) and the notes found.
pub(crate) struct Pass<'a> {
    opts: &'a LoadOptions,
    trees: Vec<Tree>,
    notes: Vec<Diagnostic>,
    dotenv: Vec<(String, String)>,
    /// Replica name → the process it was cloned from (for positions).
    renamed: Vec<(String, String)>,
}

/// Loads `opts.files` as process-compose would.
pub fn load(opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let main_file = opts.files.first().cloned().unwrap_or_else(|| PathBuf::from("corral.json"));
    let yaml = opts.files.iter().any(|f| Format::of(f) == Format::Yaml);
    let mut pass = Pass { opts, trees: Vec::new(), notes: Vec::new(), dotenv: Vec::new(), renamed: Vec::new() };
    pass.dotenv = pass.read_dotenv(yaml)?;

    for file in &opts.files {
        pass.load_with_extends(file, &mut Vec::new())?;
    }
    let mut merged = Value::Object(Map::new());
    for tree in &pass.trees {
        merge::merge(&mut merged, &tree.value, "");
    }
    let Value::Object(mut root) = merged else { unreachable!("merged trees are objects") };

    processes::resolve_extends(&mut pass, &mut root)?;
    processes::honour_selection_keys(&mut pass, &mut root)?;
    processes::expand_replicas(&mut pass, &mut root)?;
    let replicated = !pass.renamed.is_empty();
    processes::render_templates(&mut pass, &mut root, yaml)?;
    processes::build_environment(&mut pass, &mut root, yaml || replicated)?;
    processes::reject_unsupported_keys(&mut pass, &mut root)?;
    root.remove("extends");

    let mut loaded = crate::load::finish_value(Value::Object(root), &main_file, &|segs| pass.locate(segs))?;
    let mut notes = std::mem::take(&mut pass.notes);
    notes.append(&mut loaded.diagnostics);
    loaded.diagnostics = notes;
    Ok(loaded)
}

impl Pass<'_> {
    /// `.env` and `--env` files, unless disabled. The default `.env` may be
    /// missing; a file named with `--env` may not.
    fn read_dotenv(&self, yaml: bool) -> Result<Vec<(String, String)>, LoadError> {
        if self.opts.disable_dotenv {
            return Ok(Vec::new());
        }
        let (files, must_exist) = match &self.opts.env_files {
            Some(files) => (files.iter().map(|f| environment::resolve(&self.opts.root, &f.to_string_lossy())).collect(), true),
            None if yaml => (vec![self.opts.root.join(".env")], false),
            None => return Ok(Vec::new()),
        };
        let mut out: Vec<(String, String)> = Vec::new();
        for f in files {
            if !must_exist && !f.exists() {
                continue;
            }
            let vars = environment::read_env_file(&f).map_err(|message| LoadError::Parse { file: f.clone(), path: String::new(), message })?;
            for (k, v) in vars {
                match out.iter_mut().find(|(n, _)| *n == k) {
                    Some(slot) => slot.1 = v,
                    None => out.push((k, v)),
                }
            }
        }
        Ok(out)
    }

    /// Loads `file` and, first, the file it `extends` (recursively); trees are
    /// pushed in merge order. `chain` holds the files being extended, with the
    /// position of their `extends`.
    fn load_with_extends(&mut self, file: &Path, chain: &mut Vec<Extending>) -> Result<(), LoadError> {
        let canonical = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        let cycle = chain.iter().any(|(c, _, _)| *c == canonical);
        if cycle || chain.len() > MAX_EXTENDS_DEPTH {
            let mut names: Vec<String> = chain.iter().map(|(_, f, _)| f.display().to_string()).collect();
            names.push(file.display().to_string());
            let (_, parent, at) = chain.last().cloned().expect("a cycle needs a parent");
            let what = if cycle { "extends cycle".to_string() } else { format!("extends chain deeper than {MAX_EXTENDS_DEPTH} files") };
            return Err(LoadError::Parse { file: parent, path: "extends".into(), message: format!("{what}: {}{}", names.join(" -> "), at_line(at)) });
        }
        let mut tree = self.read_tree(file)?;
        let extends = tree.value.as_object_mut().and_then(|o| o.remove("extends"));
        let at = tree.lines.find(&["extends".to_string()]);
        match extends {
            None | Some(Value::Null) => {}
            Some(Value::String(base)) if !base.is_empty() => {
                let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
                let base_path = environment::resolve(&dir, &base);
                // process-compose refuses this too: the file would be merged twice.
                let base_canonical = std::fs::canonicalize(&base_path).unwrap_or_else(|_| base_path.clone());
                let cycle = base_canonical == canonical || chain.iter().any(|(c, _, _)| *c == base_canonical);
                if !cycle && self.opts.files.iter().any(|f| std::fs::canonicalize(f).is_ok_and(|c| c == base_canonical)) {
                    return Err(LoadError::Parse {
                        file: file.to_path_buf(),
                        path: "extends".into(),
                        message: format!("extends {}, which is also given with -f (it would be merged twice){}", base_path.display(), at_line(at)),
                    });
                }
                chain.push((canonical, file.to_path_buf(), at));
                let result = self.load_with_extends(&base_path, chain);
                chain.pop();
                result.map_err(|e| match e {
                    LoadError::Read { file: missing, source } => LoadError::Parse {
                        file: file.to_path_buf(),
                        path: "extends".into(),
                        message: format!("cannot read {}: {source}{}", missing.display(), at_line(at)),
                    },
                    other => other,
                })?;
                // process-compose runs an extended file's processes in that file's directory.
                let base_dir = base_path.parent().map(Path::to_path_buf).unwrap_or_default();
                if let Some(last) = self.trees.last_mut() {
                    set_working_dirs(&mut last.value, &base_dir);
                }
            }
            Some(other) => {
                return Err(LoadError::Parse { file: file.to_path_buf(), path: "extends".into(), message: format!("expected a file name, got {other}{}", at_line(at)) });
            }
        }
        self.trees.push(tree);
        Ok(())
    }

    /// Reads and parses one file; YAML is expanded first unless it sets `disable_env_expansion: true`.
    fn read_tree(&mut self, file: &Path) -> Result<Tree, LoadError> {
        let bytes = crate::load::read_limited(file)?;
        if Format::of(file) == Format::Json {
            // The typed parse first: JSON's own errors carry line and column.
            crate::load::parse_json_typed(&bytes, file)?;
            return format::parse_json(&bytes, file);
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| LoadError::Parse { file: file.to_path_buf(), path: String::new(), message: format!("not UTF-8 text ({e})") })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let raw = format::parse_yaml(text, file);
        let mut tree = match &raw {
            Ok(t) if t.value.get("disable_env_expansion").and_then(Value::as_bool) == Some(true) => t.clone(),
            _ => {
                let dotenv = &self.dotenv;
                let lookup = |name: &str| dotenv.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| std::env::var(name).ok());
                let expanded = expand::expand(text, &lookup).map_err(|(line, message)| LoadError::Parse {
                    file: file.to_path_buf(),
                    path: String::new(),
                    message: format!("{message} at line {line} (process-compose expands $VAR when it loads a file; write $$ for a literal $)"),
                })?;
                let tree = format::parse_yaml(&expanded, file)?;
                if let Ok(raw) = &raw {
                    if expanded != text {
                        note_expansions(&mut self.notes, &raw.value, &tree.value, &mut Vec::new(), &tree);
                    }
                }
                tree
            }
        };
        if let Some(o) = tree.value.as_object_mut() {
            o.remove("disable_env_expansion");
        } else {
            return Err(LoadError::Parse { file: file.to_path_buf(), path: String::new(), message: format!("expected a mapping of keys (processes, environment, …) at the top, got {}", kind(&tree.value)) });
        }
        Ok(tree)
    }

    /// The file, line and column where `segs` (or its nearest ancestor) was written:
    /// the last file that wrote it wins, as in the merge.
    pub(crate) fn locate(&self, segs: &[String]) -> Option<(PathBuf, u64, u64)> {
        let mut segs = segs.to_vec();
        if let [first, name, ..] = segs.as_mut_slice() {
            if first == "processes" {
                if let Some((_, orig)) = self.renamed.iter().find(|(r, _)| r == name) {
                    *name = orig.clone();
                }
            }
        }
        for n in (1..=segs.len()).rev() {
            let key = crate::path::join(&segs[..n]);
            if let Some(t) = self.trees.iter().rev().find(|t| t.lines.0.contains_key(&key)) {
                let (l, c) = t.lines.0[&key];
                return Some((t.file.clone(), l, c));
            }
        }
        None
    }

    /// An error at `segs`, with its position.
    pub(crate) fn error(&self, segs: &[String], message: String) -> LoadError {
        let path = crate::path::join(segs);
        match self.locate(segs) {
            Some((file, l, c)) => LoadError::Parse { file, path, message: format!("{message} at line {l} column {c}") },
            None => LoadError::Parse { file: self.opts.files.first().cloned().unwrap_or_default(), path, message },
        }
    }
}

fn at_line(at: Option<(u64, u64)>) -> String {
    at.map(|(l, c)| format!(" at line {l} column {c}")).unwrap_or_default()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// process-compose's copyWorkingDirToProcesses: an extended file's processes run in its directory.
fn set_working_dirs(value: &mut Value, dir: &Path) {
    let Some(procs) = value.get_mut("processes").and_then(Value::as_object_mut) else { return };
    for p in procs.values_mut() {
        let Some(p) = p.as_object_mut() else { continue };
        let wd = match p.get("working_dir").and_then(Value::as_str) {
            None | Some("") => dir.to_path_buf(),
            Some(w) => environment::resolve(dir, w),
        };
        p.insert("working_dir".into(), Value::String(wd.to_string_lossy().into_owned()));
    }
}

/// A note for every string that load-time expansion changed.
fn note_expansions(notes: &mut Vec<Diagnostic>, raw: &Value, expanded: &Value, path: &mut Vec<String>, tree: &Tree) {
    match (raw, expanded) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                if let Some(w) = b.get(k) {
                    path.push(k.clone());
                    note_expansions(notes, v, w, path, tree);
                    path.pop();
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                path.push(i.to_string());
                note_expansions(notes, v, w, path, tree);
                path.pop();
            }
        }
        (Value::String(a), Value::String(b)) if a != b => {
            let line = tree.lines.find(path).map(|(l, _)| format!(" (line {l})")).unwrap_or_default();
            notes.push(Diagnostic::note(
                crate::path::join(path),
                format!("$VAR expanded at load time{line}: {a:?} -> {b:?}"),
            ));
        }
        _ => {}
    }
}
