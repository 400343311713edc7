# corral, built from this repository's Cargo workspace.
{ lib, rustPlatform, installShellFiles }:
let
  workspace = lib.importTOML ../Cargo.toml;
in
rustPlatform.buildRustPackage {
  pname = "corral";
  inherit (workspace.workspace.package) version;
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [ ../Cargo.toml ../Cargo.lock ../crates ];
  };
  cargoLock.lockFile = ../Cargo.lock;
  cargoBuildFlags = [ "--package" "corral" ];
  # The test suite runs real processes, ptys and /proc inspection that a build
  # sandbox does not offer; CI runs it (bash .ci/run).
  doCheck = false;
  # Shell completions and man pages, generated from the command line's definition.
  nativeBuildInputs = [ installShellFiles ];
  postInstall = ''
    installShellCompletion --cmd corral --bash <($out/bin/corral completions bash) --zsh <($out/bin/corral completions zsh) --fish <($out/bin/corral completions fish)
    $out/bin/corral manpage --dir man && installManPage man/*.1
  '';
  meta = {
    description = "Run a project's processes: dependency order, labelled logs, nothing left behind";
    mainProgram = "corral";
    license = with lib.licenses; [ mit asl20 ];
    platforms = lib.platforms.linux;
  };
}
