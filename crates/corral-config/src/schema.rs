//! The JSON Schema of the contract, generated from the serde model so the two
//! cannot drift apart. Printed by `corral schema`; editors and the Nix module's
//! tests can validate against it.

use crate::model::Config;

pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(Config);
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("title".into(), "corral process set".into());
        obj.insert(
            "$comment".into(),
            "Follows process-compose's schema; see docs/config.md. Unknown keys are warnings (errors under is_strict); x-* keys are always allowed.".into(),
        );
    }
    let mut value = schema.to_value();
    add_compose_keys(&mut value);
    value
}

/// Keys that the process-compose pipeline consumes before the typed model sees
/// them (see crate::compose): described here so editors know them too.
fn add_compose_keys(schema: &mut serde_json::Value) {
    use serde_json::json;
    let vars = json!({"type": "object", "description": "Values for {{.NAME}} templates in commands, working_dir, log_location, description, environment and probes."});
    if let Some(props) = schema.get_mut("properties").and_then(|p| p.as_object_mut()) {
        props.insert("extends".into(), json!({"type": "string", "description": "A file whose settings this file extends (merged first; relative to this file)."}));
        props.insert("vars".into(), vars.clone());
        props.insert("env_cmds".into(), json!({"type": "object", "additionalProperties": {"type": "string"}, "description": "NAME: command; the command's trimmed output becomes the variable (5 s deadline; failure is an error)."}));
        props.insert("disable_env_expansion".into(), json!({"type": "boolean", "description": "YAML files: do not expand $VAR at load time (JSON files never are)."}));
    }
    let process = schema.pointer_mut("/$defs/Process/properties").and_then(|p| p.as_object_mut());
    if let Some(props) = process {
        props.insert("extends".into(), json!({"type": "string", "description": "Another process whose settings this one extends (its own win)."}));
        props.insert("vars".into(), vars);
        props.insert("env_file".into(), json!({"type": "string", "description": "A dotenv file read at load time (relative to working_dir, else the project root); a missing file is an error."}));
        props.insert("replicas".into(), json!({"type": "integer", "minimum": 1, "maximum": crate::compose::MAX_REPLICAS, "description": "Run this many copies, named NAME-0 … NAME-(N-1), each with PC_REPLICA_NUM."}));
        props.insert("is_disabled".into(), json!({"type": ["string", "boolean"], "description": "\"true\" or \"false\" (may come from $VAR): sets disabled."}));
        props.insert("is_dotenv_disabled".into(), json!({"type": "boolean", "description": "This process does not get .env's variables."}));
        props.insert("is_template_disabled".into(), json!({"type": "boolean", "description": "The command is not rendered as a template."}));
    }
}
