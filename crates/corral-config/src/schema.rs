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
    schema.to_value()
}
