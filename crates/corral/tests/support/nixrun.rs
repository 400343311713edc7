//! Running Nix from tests: the offline settings, whether the pinned flake inputs
//! are in the store, fixture flakes, and the SKIPPED/required policy.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The settings that work with no network (shared/nix-offline/nix.conf).
pub const NIX_CONFIG: &str = "experimental-features = nix-command flakes\nsandbox = false\nsubstituters =\n";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn corral_bin() -> String {
    super::CORRAL.to_string()
}

fn required() -> bool {
    std::env::var("CORRAL_REQUIRE_NIX_E2E").is_ok_and(|v| v == "1")
}

/// Says loudly why a test did not run; fails instead under CORRAL_REQUIRE_NIX_E2E=1.
pub fn skip(test: &str, why: &str) {
    if required() {
        panic!("{test}: {why}, and CORRAL_REQUIRE_NIX_E2E=1 requires it");
    }
    // Written to stderr directly: libtest captures eprintln!, and a skip must be seen in CI logs.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

pub fn nix(args: &[&str], dir: &Path) -> Output {
    Command::new(args[0]).args(&args[1..]).current_dir(dir).env("NIX_CONFIG", NIX_CONFIG).output().unwrap()
}

pub fn have_nix() -> bool {
    Command::new("nix-instantiate").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Whether the inputs our flake.lock pins for flake-parts and nixpkgs-lib are in
/// the store (seeded with shared/nix-offline/seed-store), so evaluation needs no network.
pub fn inputs_seeded() -> Result<(), String> {
    if !have_nix() {
        return Err("nix is not installed (apt-get install -y nix-bin)".into());
    }
    let lock: serde_json::Value = serde_json::from_str(&fs::read_to_string(repo().join("flake.lock")).unwrap()).unwrap();
    for input in ["flake-parts", "nixpkgs-lib"] {
        let nar = lock["nodes"][input]["locked"]["narHash"].as_str().unwrap();
        let out = nix(&["nix", "hash", "to-base32", nar], &repo());
        let base32 = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let out = nix(&["nix-store", "--print-fixed-path", "--recursive", "sha256", &base32, "source"], &repo());
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let valid = nix(&["nix-store", "--check-validity", &path], &repo()).status.success();
        if !valid {
            return Err(format!("the pinned {input} is not in the Nix store (seed it: NIX_CONFIG=\"$(cat ../shared/nix-offline/nix.conf)\" ../shared/nix-offline/seed-store flake.lock ../shared/nix-offline/inputs/*.tar.gz, as .ci/run does)"));
        }
    }
    Ok(())
}

/// Runs `body` when the seeded inputs are present; otherwise reports SKIPPED.
pub fn with_inputs(test: &str, body: impl FnOnce()) {
    match inputs_seeded() {
        Ok(()) => body(),
        Err(why) => skip(test, &why),
    }
}

/// A flake in a temporary directory that uses corral's module from this checkout,
/// with the stand-in pkgs; `per_system` is Nix text inside `perSystem = { pkgs, lib, ... }: { … }`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new(module: &str, per_system: &str) -> Fixture {
        Fixture::with(module, per_system, &[], r#"{ python3 = [ "/usr/bin/python3" ]; }"#)
    }

    /// Like `new`, with extra flake inputs (`(name, url)`, reachable as
    /// `inputs.<name>` in `per_system`) and the stand-in's `hostTools` (Nix text).
    pub fn with(module: &str, per_system: &str, extra_inputs: &[(&str, &str)], host_tools: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let extra: String = extra_inputs.iter().map(|(name, url)| format!("  inputs.{name}.url = \"{url}\";\n")).collect();
        fs::copy(repo().join("tests/nix/stand-in-pkgs.nix"), dir.path().join("stand-in-pkgs.nix")).unwrap();
        let flake = format!(
            r#"{{
  inputs.corral.url = "git+file://{repo}";
  inputs.flake-parts.follows = "corral/flake-parts";
{extra}  outputs = inputs@{{ flake-parts, corral, ... }}:
    flake-parts.lib.mkFlake {{ inherit inputs; }} {{
      systems = [ "x86_64-linux" ];
      imports = [ corral.{module} ];
      perSystem = {{ config, system, pkgs, lib, ... }}: {{
        _module.args.pkgs = import ./stand-in-pkgs.nix {{
          inherit system lib;
          corralBin = "{bin}";
          hostTools = {host_tools};
        }};
        {per_system}
      }};
    }};
}}
"#,
            repo = repo().display(),
            bin = corral_bin(),
        );
        fs::write(dir.path().join("flake.nix"), flake).unwrap();
        let lock = nix(&["nix", "flake", "lock"], dir.path());
        assert!(lock.status.success(), "nix flake lock: {}", String::from_utf8_lossy(&lock.stderr));
        Fixture { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `nix build ATTR`; returns the output path, or Err(stderr).
    pub fn build(&self, attr: &str) -> Result<PathBuf, String> {
        let link = self.dir.path().join(format!("result-{}", attr.replace(['.', '#'], "-")));
        let out = nix(&["nix", "build", "-L", "--out-link", link.to_str().unwrap(), &format!(".#{attr}")], self.path());
        if out.status.success() {
            Ok(fs::canonicalize(link).unwrap())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        }
    }

    /// `nix eval --raw ATTR`, or Err(stderr).
    pub fn eval_raw(&self, attr: &str) -> Result<String, String> {
        let out = nix(&["nix", "eval", "--raw", &format!(".#{attr}")], self.path());
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        }
    }
}

/// Runs a built command; stdout comes back with label padding removed (`name | line`).
pub fn run(bin: &Path, args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(bin).args(args).current_dir(cwd).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| match l.split_once(" | ") {
            Some((name, rest)) => format!("{} | {rest}\n", name.trim_end()),
            None => format!("{l}\n"),
        })
        .collect();
    (out.status.code().unwrap_or(-1), stdout, String::from_utf8_lossy(&out.stderr).to_string())
}

