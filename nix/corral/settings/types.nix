# Option types shared by the settings files.
{ lib }:
{
  seconds = lib.types.addCheck lib.types.number (x: x >= 0) // { description = "non-negative number of seconds"; };
  port = lib.types.either lib.types.port lib.types.str;

  # One `depends_on` entry, `{ condition = …; }`. The same checks and priorities
  # (`lib.mkDefault`, `lib.mkForce`, `lib.mkIf`) as a submodule with one option,
  # merged directly: a submodule per edge made dense sets slow to evaluate
  # (each process depending on ten others evaluated ten module systems).
  dependency = conditions: default: lib.types.mkOptionType {
    name = "dependency";
    description = "dependency (`{ condition = ${lib.concatMapStringsSep " | " builtins.toJSON conditions}; }`)";
    descriptionClass = "noun";
    check = builtins.isAttrs;
    merge = loc: defs:
      let
        extra = lib.concatMap (d: map (k: { inherit k; inherit (d) file; }) (builtins.filter (k: k != "condition") (builtins.attrNames d.value))) defs;
        withCondition = builtins.filter (d: d.value ? condition) defs;
        merged = lib.modules.mergeDefinitions (loc ++ [ "condition" ]) (lib.types.enum conditions)
          (map (d: { inherit (d) file; value = d.value.condition; }) withCondition);
      in
      if extra != [ ] then
        throw "The option `${lib.showOption (loc ++ [ (builtins.head extra).k ])}' does not exist (a dependency has only `condition`). Definition in ${(builtins.head extra).file}."
      else { condition = if withCondition == [ ] || !merged.optionalValue ? value then default else merged.mergedValue; };
  };
}
