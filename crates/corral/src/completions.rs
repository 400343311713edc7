//! `corral completions SHELL` and `corral manpage`: generated from the clap
//! definition of the command line (clap_complete, clap_mangen), so they
//! always match it. The Nix package installs both.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) -> i32 {
    let mut cmd = Cli::command();
    // Into memory first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "corral", &mut script);
    let mut out = std::io::stdout().lock();
    i32::from(out.write_all(&script).and_then(|_| out.flush()).is_err())
}

/// Prints corral.1, or with `dir` writes it and one page per subcommand
/// (`corral-tui.1` …, as git does) into `dir`.
pub fn manpage(dir: Option<&Path>) -> i32 {
    let result = match dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page).and_then(|_| {
                let mut out = std::io::stdout().lock();
                out.write_all(&page)?;
                out.flush()
            })
        }
        Some(dir) => write_pages(dir),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("corral: error: cannot write the manual page: {e}");
            1
        }
    }
}

fn write_pages(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let cmd = Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    std::fs::write(dir.join("corral.1"), &page)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        // clap names are &'static str (without its "string" feature); this runs once and exits.
        let name: &'static str = Box::leak(format!("corral-{}", sub.get_name()).into_boxed_str());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name).bin_name(format!("corral {}", sub.get_name()))).render(&mut page)?;
        std::fs::write(dir.join(format!("{name}.1")), &page)?;
    }
    Ok(())
}
