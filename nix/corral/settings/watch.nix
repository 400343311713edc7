# watch: restart the process (or run it again, if it has ended) when its files change.
# (docs/watch.md)
{ lib }:
let
  inherit (lib) mkOption types literalExpression;
  globs = types.either types.str (types.listOf types.str);
in
mkOption {
  default = null;
  example = literalExpression ''
    {
      paths = [ "src" { path = "config"; include = [ "*.toml" ]; exclude = [ "tmp/**" ]; } ];
      extensions = [ "rs" ];
      debounce = "300ms";
      cascade = true;
    }
  '';
  description = ''
    Watch files: a running process restarts (with its normal stop sequence) when they change; one
    that has ended (a one-shot, or one that gave up) runs again. Paths are relative to the project
    root and may not exist yet. `.gitignore` files are respected unless `gitignore = false`.
  '';
  type = types.nullOr (types.submodule {
    options = {
      paths = mkOption {
        type = types.listOf (types.either types.str (types.submodule {
          options = {
            path = mkOption { type = types.str; example = "src"; description = "A directory or file, relative to the project root."; };
            include = mkOption { type = types.nullOr globs; default = null; example = [ "*.rs" ]; description = "Only matching files trigger (a glob with '/' matches the path below `path`, one without the file name)."; };
            exclude = mkOption { type = types.nullOr globs; default = null; example = [ "generated/**" ]; description = "Matching files never trigger."; };
          };
        }));
        example = [ "src" ];
        description = "What to watch.";
      };
      extensions = mkOption { type = types.nullOr (types.listOf types.str); default = null; example = [ "rs" "toml" ]; description = "Only files with these extensions trigger (devenv's `extensions`)."; };
      ignore = mkOption { type = types.nullOr (types.listOf types.str); default = null; example = [ "*.tmp" ]; description = "Globs of files that never trigger (devenv's `ignore`)."; };
      gitignore = mkOption { type = types.nullOr types.bool; default = null; example = false; description = "Respect `.gitignore` files (default true)."; };
      cascade = mkOption { type = types.nullOr types.bool; default = null; example = true; description = "Also restart the processes depending on this one, after it (default false)."; };
      debounce = mkOption { type = types.nullOr types.str; default = null; example = "300ms"; description = "How long changes must settle before acting (default 500ms)."; };
      disable_default_excludes = mkOption { type = types.nullOr types.bool; default = null; example = true; description = "Do not skip `.git` and editor swap files."; };
    };
  });
}
