//! Builds corral's guardian, `corral-guard` (crates/corral-guard), and puts it
//! beside corral: target/<profile>/corral-guard, where corral looks for it
//! (next to its own executable), where the tests run it, and where Nix's
//! cargoInstallHook installs every executable from.
//!
//! Why here and not as a cargo `[[bin]]`: the guardian has no std and no libc,
//! and rustc links such a program only with `panic = "abort"`, while cargo's
//! dev and test profiles unwind and a profile's `panic` cannot be set for one
//! package. So this script calls rustc itself: the library, then the
//! executable, with `panic=abort`, optimised for size whatever the profile
//! (the tests run the same code as a release), static, non-PIE, without C
//! start files (the crate brings its own `_start`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corral-guard/src");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let common = |cmd: &mut Command| {
        cmd.args(["--edition", "2021", "--target", &target, "-C", "panic=abort", "-C", "opt-level=s", "-C", "codegen-units=1"]);
        cmd.args(["-C", "relocation-model=static", "-C", "debuginfo=0", "-C", "embed-bitcode=yes"]);
        if let Some(linker) = env::var_os("RUSTC_LINKER") {
            cmd.arg("-C").arg(format!("linker={}", linker.to_string_lossy()));
        }
    };
    let mut lib = Command::new(&rustc);
    lib.arg(src.join("lib.rs")).args(["--crate-name", "corral_guard", "--crate-type", "rlib", "--out-dir"]).arg(&out);
    common(&mut lib);
    run(lib);
    let exe = out.join("corral-guard");
    let mut bin = Command::new(&rustc);
    bin.arg(src.join("main.rs")).args(["--crate-name", "corral_guard_main", "--crate-type", "bin", "-o"]).arg(&exe);
    bin.arg("--extern").arg(format!("corral_guard={}", out.join("libcorral_guard.rlib").display()));
    common(&mut bin);
    bin.args(["-C", "lto=fat", "-C", "strip=symbols", "-C", "target-feature=+crt-static"]);
    for arg in ["-nostartfiles", "-nostdlib", "-static", "-Wl,--gc-sections", "-Wl,--build-id=none"] {
        bin.arg("-C").arg(format!("link-arg={arg}"));
    }
    run(bin);
    // OUT_DIR is target/<profile>/build/corral-<hash>/out (target/<triple>/<profile>/… with --target).
    // Cargo offers build scripts no official path to the final artifacts' directory; with a
    // separate `build.build-dir` this lands there instead, and corral runs unguarded, saying so.
    let profile_dir = out.ancestors().nth(3).expect("OUT_DIR is three levels below the profile's directory");
    let tmp = profile_dir.join(format!(".corral-guard.{}", std::process::id()));
    std::fs::copy(&exe, &tmp).and_then(|_| std::fs::rename(&tmp, profile_dir.join("corral-guard"))).unwrap_or_else(|e| panic!("cannot put corral-guard in {}: {e}", profile_dir.display()));
}

fn run(mut cmd: Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(status.success(), "building corral-guard failed: {cmd:?} ({status})");
}
