//! services-flake's services, unchanged, through corral's compatibility module
//! (`flakeModules.process-compose`): the pinned services-flake in
//! ../shared/nix-offline/inputs is unpacked and imported as a path flake input,
//! its services' packages map to Debian's binaries in the stand-in `pkgs`, and
//! the set really runs: every service reaches ready through its own probe,
//! answers its clients, keeps its data under the project root, and nothing is
//! left after SIGTERM. postgres refuses to run as root, so the set runs as
//! `nobody` (setpriv).

mod support;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::nixrun::{repo, skip, with_inputs, Fixture};

/// services-flake's source, unpacked from shared/nix-offline/inputs into a temporary directory.
pub fn services_flake() -> Option<(tempfile::TempDir, PathBuf)> {
    let inputs = repo().join("../shared/nix-offline/inputs");
    let archive = fs::read_dir(&inputs).ok()?.flatten().map(|e| e.path()).find(|p| {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        name.starts_with("services-flake-") && name.ends_with(".tar.gz")
    })?;
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(dir.path()).status().unwrap();
    assert!(status.success(), "unpacking {}", archive.display());
    let path = dir.path().to_path_buf();
    Some((dir, path))
}

/// The stand-in's host packages for the services the tests run (Debian's binaries).
pub fn host_tools() -> String {
    let pg_bin = fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|d| d.flatten().map(|e| e.path().join("bin")).find(|b| b.join("postgres").exists()));
    let postgres = match pg_bin {
        Some(bin) => {
            let mut progs: Vec<String> = fs::read_dir(&bin).unwrap().flatten().map(|e| format!("\"{}\"", e.path().display())).collect();
            progs.sort();
            // postgres first: it is the main program.
            progs.retain(|p| !p.ends_with("/postgres\""));
            format!("[ \"{}/postgres\" {} ]", bin.display(), progs.join(" "))
        }
        None => "[ \"/nonexistent/postgres\" ]".to_string(),
    };
    format!(
        r#"{{
  python3 = [ "/usr/bin/python3" ];
  curl = [ "/usr/bin/curl" ];
  jq = [ "/usr/bin/jq" ];
  netcat = [ "/usr/bin/nc" ];
  redis = [ "/usr/bin/redis-server" "/usr/bin/redis-cli" ];
  memcached = [ "/usr/bin/memcached" ];
  postgresql = {postgres};
  nginx = [ "/usr/sbin/nginx" ];
  mailcap = {{ "etc/nginx/mime.types" = "/etc/nginx/mime.types"; }};
  nats-server = [ "/usr/sbin/nats-server" ];
  prometheus = [ "/usr/bin/prometheus" ];
  jre = [ "/usr/bin/java" ];
  # nixpkgs' zookeeper: its jars in lib/ (the service runs `java -cp "$pkg/lib/*"`;
  # Debian's zookeeper.jar names its dependencies' jars in its manifest) and
  # its scripts in bin/.
  zookeeper = {{
    "lib/zookeeper.jar" = "/usr/share/java/zookeeper.jar";
    "lib/zookeeper-jute.jar" = "/usr/share/java/zookeeper-jute.jar";
    "bin/zkServer.sh" = "/usr/share/zookeeper/bin/zkServer.sh";
    "bin/zkCli.sh" = "/usr/share/zookeeper/bin/zkCli.sh";
    "bin/zkCleanup.sh" = "/usr/share/zookeeper/bin/zkCleanup.sh";
    "bin/zkEnv.sh" = "/usr/share/zookeeper/bin/zkEnv.sh";
  }};
}}"#
    )
}

pub const HOST_PROGRAMS: &[&str] = &[
    "/usr/bin/redis-server",
    "/usr/bin/redis-cli",
    "/usr/bin/memcached",
    "/usr/sbin/nginx",
    "/usr/sbin/nats-server",
    "/usr/bin/nc",
    "/usr/bin/jq",
    "/usr/bin/curl",
    "/usr/bin/setpriv",
    "/etc/nginx/mime.types",
];

fn missing_programs() -> Vec<&'static str> {
    let mut missing: Vec<&str> = HOST_PROGRAMS.iter().copied().filter(|p| !Path::new(p).exists()).collect();
    if !Path::new("/usr/lib/postgresql").exists() {
        missing.push("/usr/lib/postgresql/*/bin/postgres");
    }
    missing
}

/// Processes started by this test that are still alive: they carry the test's
/// mark in their environment, or (nginx's workers drop the environment) run in
/// the project directory.
fn survivors(root: &Path, mark: &str) -> Vec<String> {
    let needle = format!("CORRAL_TEST_MARK={mark}");
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let marked = fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| env.split(|b| *b == 0).any(|e| e == needle.as_bytes()));
        let inside = fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c.starts_with(root));
        if (marked || inside) && support::is_live(pid) {
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            out.push(format!("{pid}: {}", String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
    }
    out
}

fn kill_all(root: &Path, mark: &str) {
    for line in survivors(root, mark) {
        if let Some(pid) = line.split(':').next().and_then(|p| p.parse::<i32>().ok()) {
            unsafe { nix::libc::kill(pid, nix::libc::SIGKILL) };
        }
    }
}

/// Sends one request line over TCP and reads until `until` appears (bounded).
fn tcp_exchange(port: u16, send: &[u8], until: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect to {port}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(send).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(until) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).to_string()
}

/// Kills whatever the test left, however it ended.
struct Cleanup(PathBuf, String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        kill_all(&self.0, &self.1);
    }
}

fn as_nobody(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("XDG_RUNTIME_DIR").env("HOME", "/tmp").env("USER", "nobody")
}

#[test]
fn services_flake_services_run_unchanged_through_the_compat_module() {
    with_inputs("services_flake_services_run_unchanged_through_the_compat_module", || {
        let Some((_keep, sf)) = services_flake() else {
            return skip("services_flake_services_run_unchanged_through_the_compat_module", "no services-flake archive in ../shared/nix-offline/inputs");
        };
        let missing = missing_programs();
        if !missing.is_empty() {
            return skip("services_flake_services_run_unchanged_through_the_compat_module", &format!("the host lacks {missing:?} (bash .ci/run installs them)"));
        }
        let p: Vec<u16> = (0..9).map(|_| support::free_port()).collect();
        let per_system = format!(
            r#"
process-compose.svc = {{
  imports = [ inputs.services-flake.processComposeModules.default ];
  services.redis.r1 = {{ enable = true; port = {r1}; }};
  services.redis.r2 = {{ enable = true; port = {r2}; }};
  services.postgres.pg1 = {{ enable = true; port = {pg}; initialScript.after = "CREATE DATABASE app;"; }};
  services.memcached.m1 = {{ enable = true; port = {mc}; }};
  services.nginx.web = {{ enable = true; port = {ng}; httpConfig = ''
    server {{ listen {ng2}; location / {{ return 200 "hello from nginx"; }} }}
  ''; }};
  services.nats-server.nats = {{ enable = true; settings = {{ port = {nats}; monitor_port = {natsmon}; jetstream.max_mem = "64M"; }}; }};
  settings.processes.all-ready = {{
    command = "echo every service is ready; exec sleep 600";
    depends_on = {{ r1.condition = "process_healthy"; r2.condition = "process_healthy"; pg1.condition = "process_healthy"; m1.condition = "process_healthy"; web.condition = "process_healthy"; nats.condition = "process_healthy"; }};
  }};
}};
"#,
            r1 = p[0],
            r2 = p[1],
            pg = p[2],
            mc = p[3],
            ng = p[4],
            ng2 = p[5],
            nats = p[6],
            natsmon = p[7],
        );
        let sf_url = format!("path:{}", sf.display());
        let fx = Fixture::with("flakeModules.process-compose", &per_system, &[("services-flake", &sf_url)], &host_tools());
        let bin = fx.build("svc").unwrap_or_else(|e| panic!("{e}")).join("bin/svc");

        // The project belongs to nobody, who runs the set (postgres refuses root).
        let root = fx.path().canonicalize().unwrap();
        let chown = Command::new("chown").args(["-R", "65534:65534"]).arg(&root).status().unwrap();
        assert!(chown.success());
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let mark = format!("services-{}", std::process::id());
        let _cleanup = Cleanup(root.clone(), mark.clone());
        let mut child = as_nobody(Command::new("setpriv").args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&bin).args(["--color", "never"]))
            .current_dir(&root)
            .env("CORRAL_TEST_MARK", &mark)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let ready = loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    let done = line.contains("every service is ready");
                    seen.push(line);
                    if done {
                        break true;
                    }
                }
                Err(_) if std::time::Instant::now() > deadline => break false,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break false,
                Err(_) => {}
            }
        };
        if !ready {
            kill_all(&root, &mark);
            let _ = child.kill();
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("the services did not all become ready:\n{}\n{err}", seen.join("\n"));
        }

        // Each service answers its clients.
        let redis = |port: u16, args: &[&str]| {
            let out = Command::new("redis-cli").args(["-p", &port.to_string()]).args(args).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        assert_eq!(redis(p[0], &["set", "k", "one"]), "OK");
        assert_eq!(redis(p[1], &["set", "k", "two"]), "OK");
        assert_eq!(redis(p[0], &["get", "k"]), "one", "two separate redis instances");
        assert_eq!(redis(p[1], &["get", "k"]), "two");
        let psql = as_nobody(Command::new("setpriv").args(["--reuid=65534", "--regid=65534", "--clear-groups", "psql", "-h", "127.0.0.1", "-p", &p[2].to_string(), "-d", "app", "-tAc", "select 40 + 2"]))
            .current_dir("/tmp")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "42", "postgres answers in the database its initial script made: {}", String::from_utf8_lossy(&psql.stderr));
        let stored = tcp_exchange(p[3], b"set k 0 0 5\r\nhello\r\nget k\r\n", "END");
        assert!(stored.contains("STORED") && stored.contains("VALUE k 0 5\r\nhello"), "memcached: {stored:?}");
        let page = Command::new("curl").args(["-s", &format!("http://127.0.0.1:{}/", p[5])]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&page.stdout), "hello from nginx");
        let info = tcp_exchange(p[6], b"PING\r\n", "PONG");
        assert!(info.starts_with("INFO ") && info.contains("PONG"), "nats: {info:?}");

        // Data directories under the project root, as services-flake's doc/datadir.md says.
        assert!(root.join("data/r1").is_dir() && root.join("data/r2").is_dir(), "redis data dirs");
        assert!(root.join("data/pg1/PG_VERSION").is_file(), "postgres data dir");
        assert!(root.join("data/web/nginx/nginx.pid").is_file(), "nginx data dir");
        assert!(root.join("data/nats/jetstream").is_dir(), "nats data dir");

        // SIGTERM: everything stops, nothing is left.
        unsafe { nix::libc::kill(child.id() as i32, nix::libc::SIGTERM) };
        let status = support::wait_until(support::HANG_GUARD, || child.try_wait().unwrap().is_some());
        if !status {
            kill_all(&root, &mark);
            let _ = child.kill();
            panic!("corral did not end after SIGTERM");
        }
        let status = child.wait().unwrap();
        let _ = reader.join();
        let gone = support::wait_until(Duration::from_secs(10), || survivors(&root, &mark).is_empty());
        let left = survivors(&root, &mark);
        kill_all(&root, &mark);
        assert!(gone, "processes survived SIGTERM: {left:?}");
        assert_eq!(status.code(), Some(0), "a run stopped by a signal exits 0");
        for port in &p[..8] {
            assert!(TcpStream::connect(("127.0.0.1", *port)).is_err(), "port {port} still answers");
        }
    });
}

/// The services whose own test module (services-flake's `nix/services/*_test.nix`)
/// runs here as a check in corral's test mode. docs/services-flake.md lists the
/// others, each with the reason it is not run here.
const CHECKED: &[&str] = &["redis", "memcached", "nginx", "redis-cluster", "prometheus", "zookeeper"];

/// services-flake's own test flake (test/flake.nix), evaluated with its
/// process-compose-flake input replaced by corral's compatibility module: the one
/// import a user changes. Its nixpkgs is the stand-in over Debian's binaries.
fn services_flake_check_expr(sf: &Path, nixpkgs: &Path, check: &str) -> String {
    format!(
        r#"let
  corral = builtins.getFlake "git+file://{repo}";
  sf = {sf};
  testFlake = import (sf + "/test/flake.nix");
  inputs = {{
    self = outputs // {{ _type = "flake"; outPath = sf + "/test"; inherit inputs outputs; }};
    nixpkgs = {{ _type = "flake"; outPath = {nixpkgs}; }};
    flake-parts = corral.inputs.flake-parts;
    systems = {{ outPath = {nixpkgs} + "/systems.nix"; }};
    process-compose-flake = {{ flakeModule = corral.flakeModules.process-compose; }};
    services-flake = (import (sf + "/flake.nix")).outputs {{ }} // {{ _type = "flake"; outPath = sf; }};
  }};
  outputs = testFlake.outputs inputs;
in outputs.checks.x86_64-linux.{check}"#,
        repo = repo().display(),
        sf = sf.display(),
        nixpkgs = nixpkgs.display(),
    )
}

/// What nixpkgs' packages carry besides their files, for the services' modules:
/// zookeeper's `jre` (the service runs it) and netcat's `nc` output.
const HOST_PASSTHRU: &str = r#"{ zookeeper.jre = "jre"; netcat.nc = "netcat"; }"#;

/// A directory that `import inputs.nixpkgs {{ system; … }}` turns into the stand-in pkgs.
fn stand_in_nixpkgs(dir: &Path) -> PathBuf {
    let nixpkgs = dir.join("nixpkgs");
    fs::create_dir_all(&nixpkgs).unwrap();
    fs::write(
        nixpkgs.join("default.nix"),
        format!(
            r#"{{ system, ... }}:
import {repo}/tests/nix/stand-in-pkgs.nix {{
  inherit system;
  lib = (builtins.getFlake "git+file://{repo}").inputs.nixpkgs-lib.lib;
  corralBin = "{bin}";
  hostTools = {tools};
  hostPassthru = {passthru};
}}
"#,
            repo = repo().display(),
            bin = support::CORRAL,
            tools = host_tools(),
            passthru = HOST_PASSTHRU,
        ),
    )
    .unwrap();
    fs::write(nixpkgs.join("systems.nix"), "[ \"x86_64-linux\" ]\n").unwrap();
    nixpkgs
}

#[test]
fn services_flake_own_test_modules_pass_as_checks_in_corral_test_mode() {
    with_inputs("services_flake_own_test_modules_pass_as_checks_in_corral_test_mode", || {
        let Some((_keep, sf)) = services_flake() else {
            return skip("services_flake_own_test_modules_pass_as_checks_in_corral_test_mode", "no services-flake archive in ../shared/nix-offline/inputs");
        };
        let mut missing = missing_programs();
        for p in ["/usr/bin/prometheus", "/usr/bin/java", "/usr/share/java/zookeeper.jar", "/usr/share/zookeeper/bin/zkServer.sh"] {
            if !Path::new(p).exists() {
                missing.push(p);
            }
        }
        if !missing.is_empty() {
            return skip("services_flake_own_test_modules_pass_as_checks_in_corral_test_mode", &format!("the host lacks {missing:?} (bash .ci/run installs them)"));
        }
        let dir = tempfile::tempdir().unwrap();
        let nixpkgs = stand_in_nixpkgs(dir.path());
        let mut failures = Vec::new();
        for check in CHECKED {
            let link = dir.path().join(format!("result-{check}"));
            // A hang guard, not a timing goal.
            let out = support::nixrun::nix(&["timeout", "600", "nix", "build", "-L", "--impure", "--out-link", link.to_str().unwrap(), "--expr", &services_flake_check_expr(&sf, &nixpkgs, check)], dir.path());
            if !out.status.success() {
                failures.push(format!("{check}:\n{}", String::from_utf8_lossy(&out.stderr)));
            }
        }
        assert!(failures.is_empty(), "services-flake test modules failed in corral's test mode:\n{}", failures.join("\n\n"));
    });
}

#[test]
fn a_service_whose_package_is_missing_fails_evaluation_naming_the_option_path() {
    with_inputs("a_service_whose_package_is_missing_fails_evaluation_naming_the_option_path", || {
        let Some((_keep, sf)) = services_flake() else {
            return skip("a_service_whose_package_is_missing_fails_evaluation_naming_the_option_path", "no services-flake archive in ../shared/nix-offline/inputs");
        };
        let sf_url = format!("path:{}", sf.display());
        let per_system = "process-compose.svc = { imports = [ inputs.services-flake.processComposeModules.default ]; services.memcached.m1.enable = true; };";
        // The stand-in has no memcached.
        let fx = Fixture::with("flakeModules.process-compose", per_system, &[("services-flake", &sf_url)], r#"{ netcat = [ "/usr/bin/nc" ]; }"#);
        let err = fx.build("svc").expect_err("memcached is missing from pkgs");
        assert!(err.contains("while evaluating process-compose.svc.settings.processes.m1:") && err.contains("memcached cannot be found in pkgs"), "{err}");
    });
}

#[test]
fn a_set_whose_services_are_all_switched_off_builds_and_runs_its_hooks() {
    with_inputs("a_set_whose_services_are_all_switched_off_builds_and_runs_its_hooks", || {
        let Some((_keep, sf)) = services_flake() else {
            return skip("a_set_whose_services_are_all_switched_off_builds_and_runs_its_hooks", "no services-flake archive in ../shared/nix-offline/inputs");
        };
        let sf_url = format!("path:{}", sf.display());
        let per_system = r#"process-compose.off = {
  imports = [ inputs.services-flake.processComposeModules.default ];
  services.redis.r1.enable = false;
  services.memcached.m1.enable = false;
  cli.preHook = "echo pre > pre.txt";
  cli.postHook = "echo post > post.txt";
};"#;
        let fx = Fixture::with("flakeModules.process-compose", per_system, &[("services-flake", &sf_url)], &host_tools());
        let bin = fx.build("off").unwrap_or_else(|e| panic!("{e}")).join("bin/off");
        let out = Command::new(&bin).current_dir(fx.path()).env_remove("PRJ_ROOT").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(fs::read_to_string(fx.path().join("pre.txt")).unwrap(), "pre\n");
        assert_eq!(fs::read_to_string(fx.path().join("post.txt")).unwrap(), "post\n");
    });
}
