//! The Nix outputs of issue 17: `outputs.exports.<format>`, `outputs.image`
//! (wired to `packages.<name>-image`) and `outputs.images.<process>`, evaluated
//! with the real flake-parts and nixpkgs lib and the stand-in pkgs
//! (tests/nix/stand-in-pkgs.nix, whose `dockerTools.streamLayeredImage` has the
//! real interface and streams a tar of the image's root and its config). The
//! image's config is checked as evaluated, and corral runs the set from the
//! layout the image holds. Without the seeded inputs: SKIPPED (fails under
//! CORRAL_REQUIRE_NIX_E2E=1).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::nixrun::{nix, with_inputs, Fixture};

const SET: &str = r#"
corral.shop = {
  settings.processes = {
    web = {
      command = "exec python3 -m http.server $CORRAL_PORT_WEB_HTTP --bind 127.0.0.1";
      ports.http = 18431;
      readiness_probe.http_get.port = "http";
    };
    hello = {
      command = "python3 -c 'import os, urllib.request as u; print(\"fetched\", u.urlopen(\"http://127.0.0.1:%s/\" % os.environ[\"CORRAL_PORT_WEB_HTTP\"]).status)'";
      depends_on.web.condition = "process_healthy";
      availability.exit_on_end = true;
    };
  };
};
# The same set built with nix2container: a stand-in buildImage that records its arguments.
corral.boxed = {
  settings.processes.web = { command = "exec python3 -m http.server 8000"; ports.http = 8000; };
  image.nix2container.buildImage = { name, tag, config, copyToRoot, perms ? [ ], ... }:
    pkgs.writeTextFile { name = "n2c-${name}"; text = builtins.toJSON { inherit name tag config; roots = map toString copyToRoot; }; };
};
packages = lib.mapAttrs' (f: d: lib.nameValuePair "shop-export-${f}" d) config.corral.shop.outputs.exports
  // { shop-web-image = config.corral.shop.outputs.images.web; };
"#;

/// The fixture flake (support::nixrun) with SET, and what these tests ask of it.
struct Flake(Fixture);

impl Flake {
    fn new() -> Flake {
        Flake(Fixture::new("flakeModule", SET))
    }

    fn build(&self, attr: &str) -> PathBuf {
        self.0.build(attr).unwrap_or_else(|e| panic!("nix build .#{attr}: {e}"))
    }

    fn eval(&self, attr: &str) -> String {
        let out = nix(&["nix", "eval", "--raw", &format!(".#{attr}")], self.0.path());
        assert!(out.status.success(), "nix eval .#{attr}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Runs an image's stream script and unpacks what it writes; returns (config, root).
fn unpack(stream: &Path, into: &Path) -> (serde_json::Value, PathBuf) {
    let tar = Command::new("sh").arg("-c").arg(format!("{} | tar -x -C {}", stream.display(), into.display())).output().unwrap();
    assert!(tar.status.success(), "streaming the image: {}", String::from_utf8_lossy(&tar.stderr));
    let _ = Command::new("chmod").args(["-R", "u+w"]).arg(into).status();
    let config: serde_json::Value = serde_json::from_str(&fs::read_to_string(into.join("config.json")).unwrap()).unwrap();
    (config, into.join("root"))
}

#[test]
fn the_set_image_holds_corral_as_entrypoint_and_runs_the_set_from_its_layout() {
    with_inputs("the_set_image_holds_corral_as_entrypoint_and_runs_the_set_from_its_layout", || {
        let fx = Flake::new();
        assert_eq!(fx.eval("packages.x86_64-linux.shop-image.imageName"), "shop");
        assert_eq!(fx.eval("packages.x86_64-linux.shop-image.imageTag"), "latest");
        let stream = fx.build("shop-image");
        let tmp = tempfile::tempdir().unwrap();
        let (config, root) = unpack(&stream, tmp.path());

        // The config as evaluated: corral up as entrypoint, the set's JSON, the declared port.
        let entry: Vec<String> = serde_json::from_value(config["Entrypoint"].clone()).unwrap();
        assert!(entry[0].starts_with("/nix/store/") && entry[0].ends_with("/bin/corral") && entry[1] == "up", "{config}");
        let env: Vec<String> = serde_json::from_value(config["Env"].clone()).unwrap();
        assert!(env.contains(&"PATH=/bin".to_string()), "{config}");
        let settings = env.iter().find_map(|e| e.strip_prefix("CORRAL_CONFIG=")).expect("CORRAL_CONFIG in Env");
        assert!(settings.starts_with("/nix/store/") && settings.ends_with("corral-shop.json"), "{settings}");
        assert_eq!(config["ExposedPorts"], serde_json::json!({ "18431/tcp": {} }));
        assert_eq!(config["WorkingDir"], "/app");

        // The layout: /bin with corral and the shell, the project directory, /tmp.
        for p in ["bin/corral", "bin/bash", "app", "tmp"] {
            assert!(root.join(p).exists(), "{p} missing from the image's root");
        }

        // corral runs the set as the image would: its entrypoint, its environment
        // (PATH is the image's /bin), in its working directory.
        let out = Command::new(&entry[0])
            .args(&entry[1..])
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", root.join("bin").display()))
            .env("CORRAL_CONFIG", settings)
            .current_dir(root.join("app"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("fetched 200"), "{stdout}");
    });
}

#[test]
fn with_nix2container_the_image_is_its_build_image_with_the_same_config() {
    with_inputs("with_nix2container_the_image_is_its_build_image_with_the_same_config", || {
        let fx = Flake::new();
        let built: serde_json::Value = serde_json::from_str(&fs::read_to_string(fx.build("boxed-image")).unwrap()).unwrap();
        assert_eq!(built["name"], "boxed");
        assert_eq!(built["tag"], "latest");
        assert_eq!(built["config"]["Entrypoint"][1], "up");
        assert_eq!(built["config"]["ExposedPorts"], serde_json::json!({ "8000/tcp": {} }));
        let roots: Vec<String> = serde_json::from_value(built["roots"].clone()).unwrap();
        assert!(roots.iter().any(|r| r.ends_with("-corral")) && roots.iter().any(|r| r.ends_with("-corral-image-dirs")), "{roots:?}");
    });
}

#[test]
fn exports_and_per_process_images_build_from_the_declaration() {
    with_inputs("exports_and_per_process_images_build_from_the_declaration", || {
        let fx = Flake::new();
        let systemd = fx.build("shop-export-systemd");
        let web = fs::read_to_string(systemd.join("shop-web.service")).unwrap();
        assert!(web.contains("WorkingDirectory=/var/lib/shop\n") && web.contains("ExecStartPost="), "{web}");
        assert!(systemd.join("shop.target").is_file());
        let compose = fs::read_to_string(fx.build("shop-export-compose").join("compose.yaml")).unwrap();
        assert!(compose.contains("image: shop:latest") && compose.contains("- 18431:18431"), "{compose}");
        let kube = fs::read_to_string(fx.build("shop-export-kubernetes").join("kubernetes.yaml")).unwrap();
        assert!(kube.contains("image: shop-web:latest") && kube.contains("image: shop-hello:latest"), "{kube}");
        let procfile = fs::read_to_string(fx.build("shop-export-procfile").join("Procfile")).unwrap();
        assert!(procfile.lines().any(|l| l.starts_with("web: ")), "{procfile}");

        // The per-process image: the process's command through the shell, its port.
        assert_eq!(fx.eval("packages.x86_64-linux.shop-web-image.imageName"), "shop-web");
        let tmp = tempfile::tempdir().unwrap();
        let (config, root) = unpack(&fx.build("shop-web-image"), tmp.path());
        let entry: Vec<String> = serde_json::from_value(config["Entrypoint"].clone()).unwrap();
        assert!(entry[0].ends_with("/bin/bash") && entry[1] == "-c" && entry[2].starts_with("exec python3 -m http.server"), "{config}");
        assert_eq!(config["ExposedPorts"], serde_json::json!({ "18431/tcp": {} }));
        assert!(root.join("bin/bash").exists() && !root.join("bin/corral").exists());
    });
}
