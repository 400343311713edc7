//! The run plan is resolved on the config side (`corral_config::plan`): a pure
//! function of the loaded config. This module only names it for the supervisor.

pub(crate) use corral_config::plan::*;
