//! The guardian as a binary of its own: the same code as `corral __guard`, but
//! without the command line, runtime and config machinery, so the one helper
//! process a run adds stays small (see corral_supervisor::guardian).

fn main() {
    let run_id = std::env::args().nth(1).unwrap_or_default();
    std::process::exit(corral_supervisor::guardian::guardian_main(&run_id));
}
