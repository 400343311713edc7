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

  # A persistent set of integers in [0, 2^bits): a binary trie with `true` at
  # the leaves and null for an empty branch. Adding copies only the path to the
  # leaf (`bits` two-field sets), so n additions cost O(n log n), where copying a
  # whole attribute set per addition would cost O(n^2).
  bitsFor = n: let go = b: p: if p >= n then b else go (b + 1) (p * 2); in go 1 2;
  powers = builtins.genList (b: builtins.foldl' (acc: _: acc * 2) 1 (builtins.genList (x: x) b)) 63;
  trieHas = bits: trie: i:
    let go = b: t: if t == null then false else if b == 0 then true
      else go (b - 1) (if builtins.bitAnd i (builtins.elemAt powers (b - 1)) == 0 then t.l else t.r);
    in go bits trie;
  trieAdd = bits: trie: i:
    let go = b: t:
      if b == 0 then true
      else
        let node = if t == null then { l = null; r = null; } else t; in
        if builtins.bitAnd i (builtins.elemAt powers (b - 1)) == 0 then { l = go (b - 1) node.l; inherit (node) r; }
        else { inherit (node) l; r = go (b - 1) node.r; };
    in go bits trie;

  # The first dependency cycle found, as a list of names ending where it began, or null.
  #
  # One depth-first search over the whole graph that remembers what it has seen
  # (`entered`, `done`: tries over the processes' indices), so every process and
  # every edge is visited once and each visit costs O(log n): a set where each
  # process depends on the two before it takes as long as a chain. A process
  # entered but not done is on the current path, so meeting it again closes a
  # cycle; the path is a cons list ({ name; up; }) so pushing is O(1).
  findCycle = processes:
    let
      names = attrNames processes;
      index = builtins.listToAttrs (builtins.genList (i: { name = builtins.elemAt names i; value = i; }) (builtins.length names));
      bits = bitsFor (builtins.length names);
      deps = name: filter (dep: processes ? ${dep}) (dependenciesOf processes name);
      # The names on `path` from `name` down to the top of the path, in order.
      cycleFrom = name: path:
        let
          go = p: acc: if p.name == name then [ name ] ++ acc else go p.up ([ p.name ] ++ acc);
        in
        go path [ name ];
      visit = path: state: name:
        let i = index.${name}; in
        if state.cycle != null || trieHas bits state.done i then state
        else if trieHas bits state.entered i then state // { cycle = cycleFrom name path; }
        else
          let
            here = { inherit name; up = path; };
            after = foldl' (s: dep: visit here s dep) (state // { entered = trieAdd bits state.entered i; }) (deps name);
          in
          if after.cycle != null then after
          else after // { done = trieAdd bits after.done i; };
      final = foldl' (state: name: visit null state name) { entered = null; done = null; cycle = null; } names;
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
