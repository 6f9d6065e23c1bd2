//! `cargo xtask`: parses flags and dispatches to one module per task. Nothing else lives here.

use std::process::ExitCode;

use xtask::cli::{self, Command, Flags};
use xtask::{bench_cmd, certs_cmd, check, diff_cmd, dns_cmd, gen_cmd, terraform_cmd, verify_cmd};

fn main() -> ExitCode {
    let flags = match Flags::from_args(std::env::args().skip(1)) {
        Ok(flags) => flags,
        Err(err) => {
            eprintln!("error: {err:#}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let result = match &flags.command {
        Command::Help => {
            println!("{}", cli::USAGE);
            Ok(())
        }
        Command::Gen => gen_cmd::run(&flags),
        Command::Check => check::run(&flags),
        Command::Dns => dns_cmd::run(&flags),
        Command::Certs => certs_cmd::run(&flags),
        Command::Plan | Command::Apply => terraform_cmd::run(&flags),
        Command::Diff => diff_cmd::run(&flags),
        Command::Bench => bench_cmd::run(&flags),
        Command::Verify => verify_cmd::run(&flags),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            // Terraform's own exit code, passed through.
            match err.downcast_ref::<terraform_cmd::TerraformFailed>() {
                Some(failed) => ExitCode::from(failed.code),
                None => ExitCode::FAILURE,
            }
        }
    }
}
