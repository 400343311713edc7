# Renders the option reference of `corral.<name>` as Markdown (docs/options.md).
#   nix eval --raw --impure --expr 'import ./nix/options-doc.nix { lib = …; pkgs = …; }'
# tests/nix/options-doc.nix supplies lib and a stand-in pkgs; a test checks the
# committed file is current.
{ lib, pkgs }:
let
  eval = lib.evalModules {
    specialArgs = { inherit pkgs; name = "<name>"; };
    modules = [ ./corral { _module.check = false; } ];
  };
  docs = builtins.filter (o: o.visible && !o.internal && !(lib.hasPrefix "_module" o.name)) (lib.optionAttrSetToDocList eval.options);
  show = v:
    if v ? _type && v._type == "literalExpression" then v.text
    else if v ? _type && v._type == "literalMD" then v.text
    else builtins.toJSON v;
  fence = text: if lib.hasInfix "\n" text then "\n```nix\n${text}\n```\n" else " `${text}`";
  render = o: ''
    ## `corral.<name>.${o.name}`

    ${o.description or ""}

    *Type:* ${o.type}${lib.optionalString (o.readOnly or false) " (read-only)"}

    ${lib.optionalString (o ? default) "*Default:*${fence (show o.default)}\n"}
    ${lib.optionalString (o ? example) "*Example:*${fence (show o.example)}\n"}
  '';
in
''
  # Options of `perSystem.corral.<name>`

  Generated from the module (`nix/options-doc.nix`); do not edit by hand. The same options
  exist under `perSystem.process-compose.<name>` with the compatibility module.

'' + lib.concatMapStringsSep "\n" render docs
