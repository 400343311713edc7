//! Any bytes as a config file: loading, validation, the dependency graph and
//! the run plan must never panic, and every error must render.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match corral_config::load_bytes(data, Path::new("fuzz.json")) {
        Ok(loaded) => {
            for d in &loaded.diagnostics {
                let _ = d.to_string();
            }
            if let Ok(plan) = corral_config::plan::Plan::new(&loaded, &[], Path::new("/project")) {
                let _ = plan.needs_notify();
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
