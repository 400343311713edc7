# A stand-in for the few nixpkgs functions corral's module (and the template,
# the example and the services-flake services the tests run) use, over host
# binaries, for machines that cannot fetch nixpkgs. Derivations are made with
# builtins.derivation and the host's /bin/sh (sandbox = false). Each function
# mirrors the real one's semantics where the tests rely on them: builders run
# with errexit like stdenv, runCommand puts its inputs' bin/ on PATH,
# writeShellApplication runs its text under bash with errexit, nounset and
# pipefail and its runtimeInputs first on PATH, and checks its syntax.
#
# Every builder starts with `exec 3>&1 4>&2`: Nix 2.8 on these machines often
# SIGKILLs a builder when a child holding its log pty exits; extra references to
# the pty avoid it (shared/nix-offline/README.md). Real nixpkgs needs none of this.
#
#   corralBin: the corral binary to use as `pkgs.corral` (and for callPackage)
#   hostTools: { NAME = [ "/usr/bin/prog" … ]; } packages made of host binaries
#              (linked into bin/; the first one is the main program), or
#              { NAME = { "bin/prog" = "/usr/bin/prog"; "etc/x" = "/etc/x"; }; }
#              for a package laid out file by file (main program: NAME)
#   hostPassthru: { NAME = { ATTR = "OTHER"; }; } attributes of a host package
#              that are other host packages, as nixpkgs' packages carry them:
#              `zookeeper.jre = "jre"` (its passthru), `netcat.nc = "netcat"`
#              (an output that is the package itself)
#   lib:       nixpkgs lib, needed only by `formats` (and given as `pkgs.lib`)
{ system, corralBin, hostTools ? { }, hostPassthru ? { }, lib ? null }:
let
  inherit (builtins) concatStringsSep map attrNames isList head;
  defaultPath = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  binPath = pkgs: concatStringsSep ":" (map (p: "${p}/bin") pkgs);
  mk = name: script: attrs: derivation ({
    inherit name system;
    builder = "/bin/sh";
    # stdenv builders run with errexit; so does the stand-in.
    args = [ "-c" ("exec 3>&1 4>&2\nset -e\n" + script) ];
    PATH = defaultPath;
  } // attrs);
  baseName = p: baseNameOf (toString p);
  hostPackage = name: paths:
    if isList paths then
      (mk name ''
        mkdir -p $out/bin
        ${concatStringsSep "\n" (map (p: "ln -s ${p} $out/bin/${baseName p}") paths)}
      '' { }) // { pname = name; meta.mainProgram = baseName (head paths); }
    else
      (mk name ''
        ${concatStringsSep "\n" (map (rel: ''mkdir -p "$(dirname "$out/${rel}")"; ln -s ${paths.${rel}} "$out/${rel}"'') (attrNames paths))}
      '' { }) // { pname = name; meta.mainProgram = name; };
  self = {
    bash = hostPackage "bash" [ "/bin/bash" ];
    corral = hostPackage "corral" [ corralBin ];
    coreutils = hostPackage "coreutils" [ "/bin/ls" "/bin/mkdir" "/bin/cat" "/bin/ln" "/bin/readlink" "/usr/bin/realpath" "/bin/mktemp" "/bin/rm" "/bin/cp" "/usr/bin/id" "/bin/echo" "/usr/bin/dirname" "/usr/bin/env" "/bin/sleep" "/usr/bin/touch" "/bin/chmod" ];
    gnugrep = hostPackage "gnugrep" [ "/bin/grep" ];
    gawk = hostPackage "gawk" [ "/usr/bin/awk" ];
    findutils = hostPackage "findutils" [ "/usr/bin/find" "/usr/bin/xargs" ];

    writeTextFile = { name, text, executable ? false, destination ? "", checkPhase ? "", meta ? { } }:
      (mk name ''
        target="$out${destination}"
        mkdir -p "$(dirname "$target")"
        cp "$textPath" "$target"
        ${if executable then ''chmod +x "$target"'' else ""}
        ${checkPhase}
      '' { inherit text; passAsFile = [ "text" ]; }) // { inherit meta; };

    writeText = name: text: self.writeTextFile { inherit name text; };

    writeTextDir = path: text: self.writeTextFile { inherit text; name = baseNameOf path; destination = "/${path}"; };

    # buildEnv: one tree of symlinks to the files of `paths`, directories merged;
    # two paths providing the same file is an error, as there.
    buildEnv = { name, paths, ... }:
      mk name ''
        mkdir -p $out
        for p in $paths; do cp -rs "$p"/. $out/; chmod -R u+w $out; done
      '' { inherit paths; };

    writeShellApplication = { name, text, runtimeInputs ? [ ], meta ? { }, ... }:
      self.writeTextFile {
        inherit name;
        executable = true;
        destination = "/bin/${name}";
        text = ''
          #!/bin/bash
          set -o errexit
          set -o nounset
          set -o pipefail
          ${if runtimeInputs == [ ] then "" else ''export PATH="${binPath runtimeInputs}:$PATH"''}
          ${text}
        '';
        checkPhase = ''/bin/bash -n "$target"'';
        meta = { mainProgram = name; } // meta;
      };

    runCommand = name: env: script:
      let inputs = (env.nativeBuildInputs or [ ]) ++ (env.buildInputs or [ ]); in
      mk name script (env // { PATH = (if inputs == [ ] then "" else binPath inputs + ":") + defaultPath; });

    # JSON is YAML too: both formats write JSON.
    formats.json = { }: {
      type = lib.types.attrsOf lib.types.anything;
      generate = name: value: self.writeText name (builtins.toJSON value);
    };
    formats.yaml = self.formats.json;

    stdenv = { isLinux = true; isDarwin = false; hostPlatform = { isLinux = true; isDarwin = false; inherit system; }; };

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
  } // (if lib == null then { } else { inherit lib; })
  // builtins.mapAttrs (name: paths: hostPackage name paths // builtins.mapAttrs (_: other: self.${other}) (hostPassthru.${name} or { })) hostTools;
in
self
