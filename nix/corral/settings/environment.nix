# An `environment` option: a list of "NAME=value" strings (process-compose's
# form) or an attribute set. Values reach the shell unchanged: write "$HOME"
# and the shell expands it when the command runs.
{ lib }:
lib.mkOption {
  type = with lib.types; nullOr (either (listOf str) (attrsOf (oneOf [ str int bool ])));
  default = null;
  example = lib.literalExpression ''{ DATABASE_URL = "postgresql://localhost:5432/app"; LOG_LEVEL = "debug"; }'';
  description = ''
    Environment variables, as an attribute set or a list of `"NAME=value"` strings.
    Values are passed as written: `$VAR` is expanded by the shell when the command runs,
    never when the configuration is loaded.
  '';
}
