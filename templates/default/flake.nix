{
  description = "A project whose processes run with corral";

  inputs = {
    nixpkgs.url = "github:nixos/nixpkgs/nixpkgs-unstable";
    flake-parts.url = "github:hercules-ci/flake-parts";
    corral.url = "github:corral-dev/corral";
    # corral is built with your nixpkgs: one nixpkgs in the lock.
    corral.inputs.nixpkgs.follows = "nixpkgs";
  };

  outputs = inputs@{ flake-parts, corral, ... }:
    flake-parts.lib.mkFlake { inherit inputs; } {
      systems = [ "x86_64-linux" "aarch64-linux" ];
      imports = [ corral.flakeModule ];

      perSystem = { config, pkgs, ... }: {
        # `nix run .#dev` starts the processes; Ctrl-C stops them in reverse order.
        corral.dev = {
          preHook = ''
            export SITE="$CORRAL_PROJECT_ROOT/.site"
            mkdir -p "$SITE" && echo "hello" > "$SITE/index.html"
          '';
          settings.processes = {
            web = {
              command = ''${pkgs.python3}/bin/python3 -m http.server 8080 --bind 127.0.0.1 --directory "$SITE"'';
              readiness_probe = { http_get.port = 8080; period_seconds = 0.5; failure_threshold = 20; };
            };
            # Disabled in `nix run .#dev`; `nix flake check` runs it and fails when it fails.
            test = {
              command = "${pkgs.curl}/bin/curl -fsS http://127.0.0.1:8080/";
              depends_on.web.condition = "process_healthy";
            };
          };
        };

        devShells.default = pkgs.mkShell { packages = [ config.packages.dev ]; };
      };
    };
}
