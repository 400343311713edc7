# Settings -> the JSON corral reads. Builtins only (no nixpkgs lib), so it can be
# tested on a machine without any flake input.
#
# - Values left unset (null) are dropped, and so are attribute sets that end up
#   empty, so no null or {} leaks into the JSON (except `processes`, kept even
#   when empty). Lists are kept as they are.
# - builtins.toJSON sorts attribute names: the output is deterministic.
# - Dependencies on undeclared processes and dependency cycles are rejected at
#   evaluation, naming them, before anything is built.
let
  inherit (builtins) attrNames concatStringsSep filter foldl' isAttrs isList length listToAttrs map mapAttrs elem head tail;

  # Drop nulls and (after dropping) empty attribute sets, recursively.
  clean = value:
    if isAttrs value then
      let
        cleaned = mapAttrs (_: clean) value;
        kept = filter (n: cleaned.${n} != null && cleaned.${n} != { }) (attrNames cleaned);
      in
      listToAttrs (map (n: { name = n; value = cleaned.${n}; }) kept)
    else if isList value then map clean value
    else value;

  # "NAME=value" list from either a list or an attribute set.
  envList = env:
    if env == null || env == { } then null
    else if isAttrs env then map (n: "${n}=${toString env.${n}}") (attrNames env)
    else env;

  dependenciesOf = processes: name:
    let d = processes.${name}.depends_on or null; in
    if d == null then [ ] else attrNames d;

  # Every "processes.X.depends_on.Y: unknown process" problem.
  unknownDependencies = processes:
    let
      names = attrNames processes;
      problems = name: map
        (dep: "processes.${name}.depends_on.${dep}: unknown process \"${dep}\" (declared: ${concatStringsSep ", " names})")
        (filter (dep: !(elem dep names)) (dependenciesOf processes name));
    in
    foldl' (acc: n: acc ++ problems n) [ ] names;

  # The first dependency cycle found, as a list of names ending where it began, or null.
  findCycle = processes:
    let
      names = attrNames processes;
      known = dep: processes ? ${dep};
      # Depth-first search carrying the current path; returns a cycle or null.
      visit = path: name:
        if elem name path then
          let
            # The part of the path from the first occurrence of `name`.
            dropUntil = xs: if xs == [ ] then [ ] else if head xs == name then xs else dropUntil (tail xs);
          in
          dropUntil path ++ [ name ]
        else
          foldl'
            (found: dep: if found != null then found else visit (path ++ [ name ]) dep)
            null
            (filter known (dependenciesOf processes name));
    in
    foldl' (found: n: if found != null then found else visit [ ] n) null names;

  # Throws a readable error for bad dependencies; returns `settings` otherwise.
  checkDependencies = where: settings:
    let
      processes = settings.processes or { };
      unknown = unknownDependencies processes;
      cycle = findCycle processes;
    in
    if unknown != [ ] then
      throw "${where}: ${concatStringsSep "; " unknown}"
    else if cycle != null then
      throw "${where}: dependency cycle: ${concatStringsSep " -> " cycle}"
    else settings;

  # Normalise what the options allow in several shapes into the one shape corral reads.
  normalise = settings:
    settings // {
      environment = envList (settings.environment or null);
      processes = mapAttrs
        (_: p: p // { environment = envList (p.environment or null); })
        (settings.processes or { });
    };

  # `processes` stays even when empty: a set with every service switched off still
  # runs its hooks (corral requires the key, not a process).
  toJSON = where: settings:
    let cleaned = clean (normalise (checkDependencies where settings)); in
    builtins.toJSON (cleaned // { processes = cleaned.processes or { }; });
in
{
  inherit clean envList unknownDependencies findCycle checkDependencies normalise toJSON;
}
