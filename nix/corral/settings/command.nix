# A command option: shell text, or a package whose main program is run.
{ lib }:
args:
lib.mkOption ({
  type = with lib.types; nullOr (either package str);
  default = null;
  apply = v: if v == null || builtins.isString v then v else lib.getExe v;
} // args)
