# CI-safe test of nix/corral/json.nix: builtins only, no flake inputs.
#   nix-instantiate --eval --strict tests/nix/json-test.nix
# Evaluates to "ok", or throws naming the first failed expectation.
let
  j = import ../../nix/corral/json.nix;
  inherit (builtins) tryEval toJSON;
  expect = name: got: want:
    if got == want then true
    else throw "json-test ${name}: got ${toJSON got}, want ${toJSON want}";
  fails = name: value:
    if (tryEval (builtins.deepSeq value value)).success then throw "json-test ${name}: expected an evaluation error" else true;

  settings = {
    format_version = 1;
    environment = { B = "2"; A = "$HOME"; };
    pre_hook = null;
    processes = {
      web = {
        command = "serve";
        depends_on = { db = { condition = "process_healthy"; }; };
        environment = [ "X=1" ];
        shutdown = { command = null; signal = null; };
        availability = { restart = null; };
        readiness_probe = null;
      };
      db = { command = "db"; depends_on = null; environment = null; readiness_probe = { exec = { command = "true"; working_dir = null; }; }; };
    };
  };
  out = builtins.fromJSON (j.toJSON "corral.dev" settings);
in
assert expect "attrset environment becomes a sorted NAME=value list" out.environment [ "A=$HOME" "B=2" ];
assert expect "no null or empty set leaks" out.processes.web { command = "serve"; depends_on = { db = { condition = "process_healthy"; }; }; environment = [ "X=1" ]; };
assert expect "nested nulls are dropped" out.processes.db { command = "db"; readiness_probe = { exec = { command = "true"; }; }; };
assert expect "top-level nulls are dropped" (out ? pre_hook) false;
assert expect "lists are kept" (j.clean { a = [ ]; b = [ null ]; }) { a = [ ]; b = [ null ]; };
assert expect "deterministic" (j.toJSON "x" settings) (j.toJSON "x" (settings // { }));
assert expect "text reaches the JSON unchanged" (builtins.fromJSON (j.toJSON "x" { processes.a.command = "echo $$ \${X} 'q'"; })).processes.a.command "echo $$ \${X} 'q'";
assert expect "unknown dependencies are named" (j.unknownDependencies { a.depends_on.nope = { }; b = { }; })
  [ "processes.a.depends_on.nope: unknown process \"nope\" (declared: a, b)" ];
assert expect "a cycle is found with every member" (j.findCycle { a.depends_on.b = { }; b.depends_on.c = { }; c.depends_on.a = { }; d = { }; }) [ "a" "b" "c" "a" ];
assert expect "a self-dependency is a cycle" (j.findCycle { s.depends_on.s = { }; }) [ "s" "s" ];
assert expect "no cycle in a diamond" (j.findCycle { a.depends_on = { b = { }; c = { }; }; b.depends_on.d = { }; c.depends_on.d = { }; d = { }; }) null;
assert expect "an empty process set is kept" (builtins.fromJSON (j.toJSON "x" { processes = { }; environment = { }; })) { processes = { }; };
# Large sets: each process depending on the two before it (exponential for a search
# without memory), and a ring whose cycle is every process.
assert expect "5,000 two-back processes: no cycle" (j.findCycle (builtins.listToAttrs (builtins.genList (i: { name = "p${toString i}"; value.depends_on = builtins.listToAttrs (map (d: { name = "p${toString d}"; value = { }; }) (builtins.filter (d: d >= 0) [ (i - 1) (i - 2) ])); }) 5000))) null;
assert expect "a 3,000-process ring is one cycle" (builtins.length (j.findCycle (builtins.listToAttrs (builtins.genList (i: { name = "p${toString i}"; value.depends_on."p${toString (if i == 0 then 2999 else i - 1)}" = { }; }) 3000)))) 3001;
assert fails "unknown dependency throws" (j.toJSON "corral.dev" { processes.a.depends_on.nope = { }; });
assert fails "cycle throws" (j.toJSON "corral.dev" { processes = { a.depends_on.b = { }; b.depends_on.a = { }; }; });
assert expect "error text names the problem"
  (builtins.tryEval (j.checkDependencies "corral.dev" { processes.a.depends_on.b = { }; processes.b.depends_on.a = { }; })).success false;
"ok"
