# A stand-in for the few nixpkgs functions corral's module (and the template and
# example) use, over host binaries, for machines that cannot fetch nixpkgs.
# Derivations are made with builtins.derivation and the host's /bin/sh
# (sandbox = false).
#
# Every builder starts with `exec 3>&1 4>&2`: Nix 2.8 on these machines often
# SIGKILLs a builder when a child holding its log pty exits; extra references to
# the pty avoid it (shared/nix-offline/README.md). Real nixpkgs needs none of this.
#
#   corralBin: the corral binary to use as `pkgs.corral` (and for callPackage)
#   hostTools: { NAME = [ "/usr/bin/prog" … ]; } packages made of host binaries;
#              the first one is the main program
{ system, corralBin, hostTools ? { } }:
let
  mk = name: script: attrs: derivation ({
    inherit name system;
    builder = "/bin/sh";
    # stdenv builders run with errexit; so does the stand-in.
    args = [ "-c" ("exec 3>&1 4>&2\nset -e\n" + script) ];
    PATH = "/usr/local/bin:/usr/bin:/bin";
  } // attrs);
  baseName = p: baseNameOf (toString p);
  hostPackage = name: paths:
    (mk name ''
      mkdir -p $out/bin
      ${builtins.concatStringsSep "\n" (map (p: "ln -s ${p} $out/bin/${baseName p}") paths)}
    '' { }) // { pname = name; meta.mainProgram = baseName (builtins.head paths); };
  self = {
    bash = hostPackage "bash" [ "/bin/bash" ];
    corral = hostPackage "corral" [ corralBin ];

    writeTextFile = { name, text, executable ? false, destination ? "", checkPhase ? "", meta ? { } }:
      (mk name ''
        target="$out${destination}"
        mkdir -p "$(dirname "$target")"
        cp "$textPath" "$target"
        ${if executable then ''chmod +x "$target"'' else ""}
        ${checkPhase}
      '' { inherit text; passAsFile = [ "text" ]; }) // { inherit meta; };

    runCommand = name: env: script: mk name script env;

    mkShell = { packages ? [ ], ... }: mk "shell" "mkdir $out" { };

    # dockerTools.streamLayeredImage's interface; the result is, as there, an
    # executable that writes the image to stdout: here a tar of the image's root
    # (root/: `contents`' bin/ linked into /bin, then `extraCommands`) and its
    # config (config.json), since the real layer format needs nixpkgs' tools.
    dockerTools.streamLayeredImage = { name, tag ? null, contents ? [ ], config ? { }, extraCommands ? "", ... }:
      let
        layout = mk "${name}-layout" ''
          mkdir -p $out/root/bin
          for p in $contents; do
            if [ -d "$p/bin" ]; then for b in "$p"/bin/*; do ln -sf "$b" "$out/root/bin/"; done; fi
          done
          cp "$configJSONPath" $out/config.json
          cd $out/root
          ${extraCommands}
        '' { contents = contents; configJSON = builtins.toJSON config; passAsFile = [ "configJSON" ]; };
      in
      (mk "stream-${name}" ''
        printf '#!/bin/sh\nexec tar -C %s -c .\n' ${layout} > $out
        chmod +x $out
      '' { }) // { imageName = name; imageTag = tag; };

    # The module's only callPackage is corral's own package (rustPlatform is not available here).
    callPackage = _: _: self.corral;
  } // builtins.mapAttrs hostPackage hostTools;
in
self
