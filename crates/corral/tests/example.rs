//! The README's first command: the example runs and ends by itself with 0.

mod support;

use support::Project;

#[test]
fn the_example_config_runs_to_success_and_cleans_up() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../example/dev.json");
    let p = Project::new();
    let f = p.start(&["up", "-f", example.to_str().unwrap()]).wait();
    assert_eq!(f.status, 0, "stdout:\n{}\nstderr:\n{}", f.stdout, f.stderr);
    assert!(f.lines_of("init")[0].starts_with("seeded "), "{}", f.stdout);
    assert_eq!(f.lines_of("test"), ["<h1>hello from corral</h1>"]);
    assert!(f.stdout.contains("GET / HTTP/1.1"), "the server logged the request: {}", f.stdout);
    assert!(!p.file(".corral-example").exists(), "the pre_hook's trap removed the data directory");
    assert!(corral_check(&example), "the example passes corral check");
}

fn corral_check(path: &std::path::Path) -> bool {
    std::process::Command::new(support::CORRAL).args(["check", "-f"]).arg(path).status().unwrap().success()
}

#[test]
fn the_readme_commands_are_the_ones_tested() {
    let readme = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    assert!(readme.contains("cargo run -p corral -- up -f example/dev.json"), "the README's first command runs the example");
    assert!(readme.contains("cargo test --workspace"), "the README's second command runs every test");
    let ci = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/run")).unwrap();
    assert!(ci.contains("cargo test --workspace"), ".ci/run calls the same test command");
    // `cargo run -p corral` must pick corral among the package's binaries.
    let manifest = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    assert!(manifest.contains("default-run = \"corral\""));
}
