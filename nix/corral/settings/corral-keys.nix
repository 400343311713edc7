# Keys corral's JSON reads (or accepts from process-compose) that are not options
# of this module: they pass through `settings` (freeform) and corral decides at
# build time (`corral check`): process-compose's no-ops are accepted, the fields
# corral does not run yet are errors. Any other freeform key is unknown to corral
# too, and the module warns about it at evaluation (see ./default.nix). A test
# keeps these lists in step with `corral schema` and corral-config's no-op table.
{
  topLevel = [ "version" "disable_env_expansion" "env_cmds" "vars" "extends" "pre_hook" "post_hook" "log_level" "log_length" "log_configuration" "is_tui_disabled" "disable_ansi_colors" "ordered_shutdown" ];
  process = [ "is_daemon" "replicas" "env_file" "is_dotenv_disabled" "is_tty" "launch_timeout_seconds" "log_configuration" "disable_ansi_colors" "extends" "is_disabled" "is_template_disabled" "vars" "namespace" ];
}
