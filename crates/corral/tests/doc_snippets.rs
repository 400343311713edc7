//! Every Nix snippet in README.md and docs/ works as written: each ```nix block
//! (docs/options.md excepted: it is generated from the module's own examples)
//! carries a `<!-- snippet: KIND -->` line saying where it goes, is placed there
//! in a flake that uses this checkout's corral with the stand-in `pkgs`, and its
//! wrapper is built (so `corral check` accepts its JSON); every command it runs
//! must exist. The README's example (`run`) also runs.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::nixrun::{nix, repo, with_inputs};

struct Snippet {
    file: String,
    line: usize,
    kind: String,
    text: String,
}

fn snippets() -> Vec<Snippet> {
    let mut files = vec![repo().join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(repo().join("docs")).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "md")).collect();
    docs.sort();
    files.extend(docs.into_iter().filter(|p| !p.ends_with("options.md")));
    let mut out = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let name = path.strip_prefix(repo()).unwrap().display().to_string();
        let mut i = 0;
        while i < lines.len() {
            if lines[i].trim() == "```nix" {
                let kind = i.checked_sub(1).and_then(|j| lines[j].trim().strip_prefix("<!-- snippet: ")).and_then(|k| k.strip_suffix(" -->"));
                let kind = kind.unwrap_or_else(|| panic!("{name}:{}: a ```nix block without a `<!-- snippet: KIND -->` line before it", i + 1)).to_string();
                let end = (i + 1..lines.len()).find(|&j| lines[j].trim() == "```").unwrap();
                out.push(Snippet { file: name.clone(), line: i + 1, kind, text: lines[i + 1..end].join("\n") });
                i = end;
            }
            i += 1;
        }
    }
    out
}

const HOST_TOOLS: &str = r#"{ python3 = [ "/usr/bin/python3" ]; curl = [ "/usr/bin/curl" ]; redis = [ "/usr/bin/redis-server" "/usr/bin/redis-cli" ]; }"#;

/// The flake.nix a snippet of `kind` lives in.
fn flake_for(kind: &str, text: &str) -> String {
    let module = |body: &str| format!("{{\n  outputs = inputs: inputs.flake-parts.lib.mkFlake {{ inherit inputs; }} {{\n    systems = [ \"x86_64-linux\" ];\n{body}\n  }};\n}}\n");
    let per_system = |body: &str| module(&format!("imports = [ inputs.corral.flakeModule ];\nperSystem = {{ config, pkgs, lib, ... }}: {{\n  corral.dev = {{ }};\n{body}\n}};"));
    match kind {
        "flake" => text.to_string(),
        "flake-module" => module(text),
        "per-system" => per_system(text),
        "set" => per_system(&format!("corral.dev = {{\n{text}\n}};")),
        other => panic!("unknown snippet kind {other:?}"),
    }
}

/// Builds `attr` of the flake in `dir` through tests/nix/harness.nix; returns the out path.
/// `services_flake`: an unpacked services-flake, given as the `services-flake` input.
fn build(dir: &Path, attr: &str, services_flake: Option<&Path>) -> Result<PathBuf, String> {
    let extra = match services_flake {
        Some(sf) => format!(r#"{{ services-flake = (import {sf}/flake.nix).outputs {{ }} // {{ _type = "flake"; outPath = {sf}; }}; }}"#, sf = sf.display()),
        None => "{ }".to_string(),
    };
    let expr = format!(
        r#"(import {repo}/tests/nix/harness.nix {{ repo = "{repo}"; flakeDir = {dir}; corralBin = "{bin}"; hostTools = {tools}; extraInputs = {extra}; }}).{attr}"#,
        repo = repo().display(),
        dir = dir.display(),
        bin = support::CORRAL,
        tools = if services_flake.is_some() { services_tools() } else { HOST_TOOLS.to_string() }
    );
    build_expr(dir, &expr, attr)
}

fn build_expr(dir: &Path, expr: &str, name: &str) -> Result<PathBuf, String> {
    let link = dir.join(format!("result-{}", name.replace('.', "-")));
    let out = nix(&["nix", "build", "--impure", "--out-link", link.to_str().unwrap(), "--expr", expr], dir);
    if out.status.success() {
        Ok(fs::canonicalize(link).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// services-flake's source (shared/nix-offline/inputs), unpacked under `dir`.
fn services_flake(dir: &Path) -> PathBuf {
    let inputs = repo().join("../shared/nix-offline/inputs");
    let archive = fs::read_dir(&inputs).unwrap().flatten().map(|e| e.path()).find(|p| p.file_name().unwrap().to_string_lossy().starts_with("services-flake-")).expect("the services-flake archive in ../shared/nix-offline/inputs");
    let out = dir.join("services-flake");
    fs::create_dir_all(&out).unwrap();
    assert!(Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(&out).status().unwrap().success());
    out
}

/// The stand-in's packages for the services docs/services-flake.md uses (Debian's binaries).
fn services_tools() -> String {
    let bin = fs::read_dir("/usr/lib/postgresql").ok().and_then(|d| d.flatten().map(|e| e.path().join("bin")).find(|b| b.join("postgres").exists())).unwrap_or_else(|| PathBuf::from("/nonexistent"));
    let progs: Vec<String> = ["postgres", "initdb", "pg_ctl", "pg_isready", "psql"].iter().map(|p| format!("\"{}/{p}\"", bin.display())).collect();
    format!(r#"{{ python3 = [ "/usr/bin/python3" ]; curl = [ "/usr/bin/curl" ]; redis = [ "/usr/bin/redis-server" "/usr/bin/redis-cli" ]; postgresql = [ {} ]; }}"#, progs.join(" "))
}

/// The first word a shell would run, after `VAR=value` assignments and `exec`.
fn program(command: &str) -> Option<String> {
    command.split_whitespace().find(|w| !w.contains('=') && *w != "exec").map(str::to_string)
}

fn exists(program: &str) -> bool {
    if program.starts_with('/') {
        return Path::new(program).exists();
    }
    Command::new("/bin/bash").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// Every process command and exec probe of the JSON the wrapper runs names a program that exists.
fn commands_exist(wrapper: &Path, snippet: &str) {
    let text = fs::read_to_string(wrapper).unwrap();
    let config = text.lines().find_map(|l| l.strip_prefix("export CORRAL_CONFIG=")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&fs::read_to_string(config).unwrap()).unwrap();
    for (name, p) in json["processes"].as_object().unwrap() {
        let mut commands = vec![p["command"].as_str().map(str::to_string).or_else(|| p["entrypoint"][0].as_str().map(str::to_string)).unwrap()];
        for probe in ["readiness_probe", "liveness_probe"] {
            if let Some(c) = p[probe]["exec"]["command"].as_str() {
                commands.push(c.to_string());
            }
        }
        for c in commands {
            let prog = program(&c).unwrap_or_default();
            assert!(exists(&prog), "{snippet}: process {name} runs {prog:?}, which does not exist ({c})");
        }
    }
}

#[test]
fn every_nix_snippet_in_the_readme_and_docs_builds_with_commands_that_exist() {
    with_inputs("every_nix_snippet_in_the_readme_and_docs_builds_with_commands_that_exist", || {
        let all = snippets();
        assert!(all.len() >= 7, "found only {} snippets", all.len());
        assert!(all.iter().any(|s| s.file == "README.md" && s.kind.ends_with(" run")), "the README's example is run");
        for s in &all {
            let at = format!("{}:{}", s.file, s.line);
            let dir = tempfile::tempdir().unwrap();
            let kind = s.kind.trim_end_matches(" run").trim_end_matches(" services-flake");
            let sf = s.kind.ends_with(" services-flake").then(|| services_flake(dir.path()));
            if kind == "expression" {
                let expr = format!(
                    "let corral = builtins.getFlake \"git+file://{repo}\"; pkgs = import {repo}/tests/nix/stand-in-pkgs.nix {{ system = \"x86_64-linux\"; corralBin = \"{bin}\"; hostTools = {HOST_TOOLS}; }}; in\n{text}",
                    repo = repo().display(),
                    bin = support::CORRAL,
                    text = s.text
                );
                let out = build_expr(dir.path(), &expr, "expr").unwrap_or_else(|e| panic!("{at}: {e}"));
                let wrapper = fs::read_dir(out.join("bin")).unwrap().flatten().next().unwrap().path();
                commands_exist(&wrapper, &at);
                continue;
            }
            fs::write(dir.path().join("flake.nix"), flake_for(kind, &s.text)).unwrap();
            let set = set_name(&s.text);
            let out = build(dir.path(), &format!("packages.x86_64-linux.{set}"), sf.as_deref()).unwrap_or_else(|e| panic!("{at}: {e}"));
            commands_exist(&out.join("bin").join(&set), &at);
            if s.text.contains("devShells") {
                build(dir.path(), "devShells.x86_64-linux.default", sf.as_deref()).unwrap_or_else(|e| panic!("{at}: {e}"));
            }
            if s.kind.ends_with(" run") {
                run_readme_example(&out.join("bin/dev"), dir.path(), &at);
            }
        }
    });
}

/// The set a snippet declares: the first `corral.NAME` (or `process-compose.NAME`) that is not
/// itself an attribute of something else (`inputs.corral.url`), else `dev`.
fn set_name(text: &str) -> String {
    let declared = |prefix: &str| {
        text.match_indices(prefix).find_map(|(at, _)| {
            if text[..at].chars().next_back().is_some_and(|c| c == '.' || c.is_ascii_alphanumeric()) {
                return None;
            }
            let name: String = text[at + prefix.len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
            (!name.is_empty() && !["url", "inputs", "flakeModule", "flakeModules", "lib", "packages"].contains(&name.as_str())).then_some(name)
        })
    };
    declared("corral.").or_else(|| declared("process-compose.")).unwrap_or_else(|| "dev".to_string())
}

/// The README's example really runs: db ready through its probe, api answering, then `down`.
fn run_readme_example(bin: &Path, dir: &Path, at: &str) {
    let run = |args: &[&str]| {
        let out = Command::new(bin).args(args).current_dir(dir).env_remove("PRJ_ROOT").output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (status, _, err) = run(&["-d", "--wait", "--timeout", "60"]);
    let cleanup = || {
        let _ = run(&["down"]);
    };
    if status != Some(0) {
        cleanup();
        panic!("{at}: the example did not start: {err}");
    }
    let page = Command::new("curl").args(["-fsS", "http://127.0.0.1:8181/"]).output().unwrap();
    let (_, ps, _) = run(&["ps"]);
    cleanup();
    assert!(page.status.success(), "{at}: api answers: {}", String::from_utf8_lossy(&page.stderr));
    assert!(ps.contains("db") && ps.contains("api"), "{at}: {ps}");
    assert!(dir.join("data").is_dir(), "{at}: the data directory is under the project root");
}
