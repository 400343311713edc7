# Option types shared by the settings files.
{ lib }:
{
  seconds = lib.types.addCheck lib.types.number (x: x >= 0) // { description = "non-negative number of seconds"; };
  port = lib.types.either lib.types.port lib.types.str;
}
