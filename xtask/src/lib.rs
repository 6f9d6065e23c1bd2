//! xtask as a library: the pipeline stack.toml → validated `Stack` → in-memory `Tree` → disk,
//! shared by the `cargo xtask` binary and the tests.

pub mod bench_cmd;
pub mod certs_cmd;
pub mod check;
pub mod cli;
pub mod dates;
pub mod diff_cmd;
pub mod dns_cmd;
pub mod formats;
pub mod gen_cmd;
pub mod memo;
pub mod par;
pub mod plan_guard;
pub mod project;
pub mod render;
pub mod review;
pub mod review_lab;
pub mod secrets;
pub mod stack;
pub mod targets;
pub mod terraform_cmd;
pub mod tidy_cmd;
pub mod tls;
pub mod tree;
pub mod ui;
pub mod url;
pub mod verify;
pub mod verify_cmd;
pub mod vm_fate;
pub mod walk;
pub mod warnings;
