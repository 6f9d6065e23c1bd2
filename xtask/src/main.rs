//! `cargo xtask`: parses the command line and dispatches to one module per task. Nothing else
//! lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use xtask::cli::{self, Command, Global};
use xtask::project::{self, Project};
use xtask::ui::{self, Ui};
use xtask::{bench_cmd, certs_cmd, check, diff_cmd, dns_cmd, gen_cmd, terraform_cmd, tidy_cmd, verify_cmd};

fn main() -> ExitCode {
    ui::end_quietly_on_closed_pipe();
    tune_allocator();
    let cli = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli) => cli,
        Err(err) => {
            Ui::from_env(false).error(err);
            return ExitCode::from(2);
        }
    };
    let ui = Ui::from_env(cli.global.quiet);
    let global = &cli.global;
    let result = match &cli.command {
        Command::Help(text) => {
            print!("{text}");
            Ok(())
        }
        Command::Version => {
            println!("xtask {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Gen(args) => project(global).and_then(|p| gen_cmd::run(&p, args, &ui)),
        Command::Check(args) => project(global).and_then(|p| check::run(&p, args, &ui)),
        Command::Dns(_) => project(global).and_then(|p| dns_cmd::run(&p)),
        Command::Certs(args) => project(global).and_then(|p| certs_cmd::run(&p, args)),
        Command::Plan(args) => project(global).and_then(|p| terraform_cmd::plan(&p, args)),
        Command::Apply(args) => project(global).and_then(|p| terraform_cmd::apply(&p, args)),
        Command::Diff(args) => project(global).and_then(|p| diff_cmd::run(&p, args)),
        Command::Bench(_) => project(global).and_then(|p| bench_cmd::run(&p)),
        Command::Verify(args) => project(global).and_then(|p| verify_cmd::run(&p, &args.options)),
        Command::Tidy(_) => project(global).and_then(|p| tidy_cmd::run(&p.root)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            ui.error(format_args!("{err:#}"));
            // Terraform's own exit code, passed through.
            match err.downcast_ref::<terraform_cmd::TerraformFailed>() {
                Some(failed) => ExitCode::from(failed.code),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// glibc's malloc grows each thread's heap a few pages at a time, one `mprotect` each: thousands
/// in a 1,000-VM check. 16 MiB of headroom per growth makes them a few hundred (untouched pages
/// cost no memory; the bench's peak-memory figure shows it).
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of the allocator, before any thread is started.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
    }
}

/// The checkout to work on: `--root`, else found at run time; the stack file in it.
fn project(global: &Global) -> Result<Project> {
    let root = match &global.root {
        Some(root) => root.clone(),
        None => project::find_root(std::env::var_os("CARGO_MANIFEST_DIR"), &std::env::current_dir()?)?,
    };
    Ok(Project::new(root, global.stack.clone().unwrap_or_else(|| PathBuf::from("stack.toml"))))
}
