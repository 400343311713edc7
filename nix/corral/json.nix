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
  inherit (builtins) attrNames concatStringsSep filter foldl' isAttrs isList map mapAttrs removeAttrs;

  # Drop nulls and (after dropping) empty attribute sets, recursively.
  clean = value:
    if isAttrs value then
      let
        cleaned = mapAttrs (_: clean) value;
      in
      removeAttrs cleaned (filter (n: cleaned.${n} == null || cleaned.${n} == { }) (attrNames cleaned))
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

  # Every "processes.X.depends_on.Y: unknown process" problem. Linear: one
  # attribute lookup per edge.
  unknownDependencies = processes:
    let
      names = attrNames processes;
      problems = name: map
        (dep: "processes.${name}.depends_on.${dep}: unknown process \"${dep}\" (declared: ${concatStringsSep ", " names})")
        (filter (dep: !(processes ? ${dep})) (dependenciesOf processes name));
    in
    builtins.concatMap problems names;

  # The first dependency cycle found, as a list of names ending where it began, or null.
  #
  # One depth-first search over the whole graph that remembers what it has seen
  # (`entered`, `done`), so every process and every edge is visited once: a set
  # where each process depends on the two before it takes as long as a chain.
  # A process entered but not done is on the current path, so meeting it again
  # closes a cycle; the path is a cons list ({ name; up; }) so pushing is O(1).
  # (Each `//` on the seen sets copies them: cheap in Nix's C++, but quadratic in
  # memory traffic on very large sets; see docs/benchmarks.md.)
  findCycle = processes:
    let
      names = attrNames processes;
      deps = name: filter (dep: processes ? ${dep}) (dependenciesOf processes name);
      # The names on `path` from `name` down to the top of the path, in order.
      cycleFrom = name: path:
        let
          go = p: acc: if p.name == name then [ name ] ++ acc else go p.up ([ p.name ] ++ acc);
        in
        go path [ name ];
      visit = path: state: name:
        if state.cycle != null || state.done ? ${name} then state
        else if state.entered ? ${name} then state // { cycle = cycleFrom name path; }
        else
          let
            here = { inherit name; up = path; };
            after = foldl' (s: dep: visit here s dep) (state // { entered = state.entered // { ${name} = true; }; }) (deps name);
          in
          if after.cycle != null then after
          else after // { done = after.done // { ${name} = true; }; };
      final = foldl' (state: name: visit null state name) { entered = { }; done = { }; cycle = null; } names;
    in
    final.cycle;

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
