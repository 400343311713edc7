{
  description = "corral example: a database, a one-shot seed, a web app that waits for the database to be healthy, and a test";

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

      perSystem = { config, pkgs, lib, ... }: {
        # `nix run .#demo` starts everything; `nix run .#demo -- web` starts web and what
        # it needs; `nix flake check` runs the `test` process in the build sandbox.
        corral.demo = {
          # Data lives in the project directory, not in the store.
          preHook = ''
            export DATA="$CORRAL_PROJECT_ROOT/.demo-data"
            mkdir -p "$DATA"
          '';
          settings = {
            environment = { REDIS_PORT = "6390"; WEB_PORT = "8390"; };
            processes = {
              db = {
                command = ''${pkgs.redis}/bin/redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DATA" --save ""'';
                readiness_probe = {
                  exec.command = ''${pkgs.redis}/bin/redis-cli -p "$REDIS_PORT" ping | grep -q PONG'';
                  period_seconds = 0.2;
                  failure_threshold = 50;
                };
                shutdown.signal = "SIGINT";
              };
              seed = {
                command = ''${pkgs.redis}/bin/redis-cli -p "$REDIS_PORT" set greeting "hello from corral"'';
                depends_on.db.condition = "process_healthy";
              };
              web = {
                command = "${pkgs.python3}/bin/python3 -u ${./app.py}";
                depends_on = {
                  db.condition = "process_healthy";
                  seed.condition = "process_completed_successfully";
                };
                readiness_probe = {
                  http_get = { port = 8390; path = "/health"; };
                  period_seconds = 0.2;
                  failure_threshold = 50;
                };
              };
              test = {
                command = ''${pkgs.curl}/bin/curl -fsS "http://127.0.0.1:$WEB_PORT/" | grep "hello from corral"'';
                depends_on.web.condition = "process_healthy";
              };
            };
          };
        };

        # The command inside a development shell: `nix develop`, then `demo`.
        devShells.default = pkgs.mkShell { packages = [ config.packages.demo ]; };
      };
    };
}
