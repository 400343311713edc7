{
  description = "corral: run a project's processes, declared in Nix, with a shutdown that leaves nothing behind";

  inputs = {
    nixpkgs.url = "github:nixos/nixpkgs/nixpkgs-unstable";
    nixpkgs-lib.url = "github:nix-community/nixpkgs.lib";
    flake-parts = {
      url = "github:hercules-ci/flake-parts";
      inputs.nixpkgs-lib.follows = "nixpkgs-lib";
    };
  };

  outputs = inputs@{ flake-parts, nixpkgs-lib, ... }:
    flake-parts.lib.mkFlake { inherit inputs; } ({ self, ... }: {
      # corral supervises with Linux interfaces (subreaper, /proc, process groups).
      systems = [ "x86_64-linux" "aarch64-linux" ];

      imports = [ ./nix/flake-module.nix ];

      flake = {
        flakeModules = {
          default = ./nix/flake-module.nix;
          process-compose = ./nix/compat-module.nix;
        };
        flakeModule = self.flakeModules.default;
        lib = import ./nix/lib.nix { inherit (nixpkgs-lib) lib; };
        templates.default = {
          path = ./templates/default;
          description = "A project whose processes run with corral";
          welcomeText = "Run `nix run .#dev` to start the processes, `nix flake check` to run the test.";
        };
      };

      perSystem = { config, pkgs, ... }: {
        packages.default = pkgs.callPackage ./nix/package.nix { };

        # corral runs its own test in a set of its own (dogfooding test mode).
        corral.selftest = {
          package = config.packages.default;
          settings.processes = {
            greeter = { command = "echo ready; sleep 300"; ready_log_line = "ready"; };
            test = { command = "echo ok"; depends_on.greeter.condition = "process_log_ready"; };
          };
        };

        devShells.default = pkgs.mkShell {
          packages = with pkgs; [ cargo rustc clippy rustfmt rust-analyzer cargo-nextest python3 ];
        };
      };
    });
}
