//! The command line, cargo-style: one struct per command, parsed with lexopt; per-command help,
//! unknown flags and stray arguments refused with the usage line, did-you-mean for commands and
//! flags. No I/O here: `main.rs` prints what [`parse`] returns.
//!
//! The commands themselves are in `cli/commands.rs`. Adding one: its struct with an [`Args`]
//! impl (the `SPEC` is its help), a [`Command`] variant with its line in [`COMMANDS`], and the
//! arm in main.rs that runs it.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::{Arg, Parser};

mod commands;

pub use commands::{Apply, Bench, COMMANDS, Certs, Check, Command, Diff, Dns, Gen, Plan, Verify};

/// What one flag is, for help and did-you-mean.
#[derive(Debug)]
pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    /// The name of its value (`DIR`), or `None` for a switch.
    pub value: Option<&'static str>,
    pub help: &'static str,
}

/// What one command is: its name, arguments and flags, and the text of its help.
#[derive(Debug)]
pub struct Spec {
    pub name: &'static str,
    /// The positional arguments, as in the usage line (`<ENV>`), or empty.
    pub args: &'static str,
    /// One line: the command list and the first line of its help.
    pub about: &'static str,
    /// More of its help, or empty.
    pub details: &'static str,
    pub flags: &'static [Flag],
    /// Flags of other commands that get a message of their own here, not "unknown".
    pub not_here: &'static [(&'static str, &'static str)],
}

/// A parsed command's arguments.
pub trait Args: Default + Sized {
    const SPEC: Spec;
    /// One of `SPEC.flags` (by long name) was given; `p.value()` reads its value.
    fn flag(&mut self, _long: &str, _p: &mut Parser) -> Result<(), lexopt::Error> {
        Ok(())
    }
    /// A positional argument; `Err` says why it is refused.
    fn positional(&mut self, value: String) -> Result<(), String> {
        Err(format!("unexpected argument `{value}`: `{}` takes no arguments", Self::SPEC.name))
    }
    /// Checks what only the whole command line shows.
    fn finish(&self) -> Result<(), String> {
        Ok(())
    }
    fn into_command(self) -> Command;
}

/// Flags every command takes.
#[derive(Debug, Clone, Default)]
pub struct Global {
    /// `--root DIR`; found from the current directory when absent.
    pub root: Option<PathBuf>,
    /// `--stack FILE`, relative to the root; `stack.toml` when absent.
    pub stack: Option<PathBuf>,
    /// `-q`: no summary.
    pub quiet: bool,
}

const GLOBAL_FLAGS: &[Flag] = &[
    Flag {
        long: "root",
        short: None,
        value: Some("DIR"),
        help: "the repository to work on (default: the checkout cargo runs in, else found from the current directory)",
    },
    Flag { long: "stack", short: None, value: Some("FILE"), help: "the stack file, relative to the root (default: stack.toml)" },
    Flag { long: "quiet", short: Some('q'), value: None, help: "print no summary (warnings and errors still go to stderr)" },
    Flag { long: "help", short: Some('h'), value: None, help: "print this help" },
];

const TOP_FLAGS: &[Flag] = &[Flag { long: "version", short: Some('V'), value: None, help: "print the version" }];

#[derive(Debug)]
pub struct Cli {
    pub global: Global,
    pub command: Command,
}

/// A command line that cannot be run: exit 2 with the message, the hint and the usage line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
    /// The usage line of the command (or of xtask) and where its help is.
    pub usage: String,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        write!(f, "\n\n{}", self.usage)
    }
}

impl std::error::Error for CliError {}

// ---- parsing ----

/// Parses the arguments after `cargo xtask`.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Cli, CliError> {
    let mut p = Parser::from_args(args);
    let mut global = Global::default();
    let top_usage = || "usage: cargo xtask <COMMAND> [OPTIONS]\nfor more, run `cargo xtask --help`".to_string();
    let top_error = |message: String, hint: Option<String>| CliError { message, hint, usage: top_usage() };
    loop {
        let token = next(&mut p).map_err(|e| top_error(e, None))?;
        let command = match token {
            None => Command::Help(main_help()),
            Some(Token::Long(name)) if name == "help" => Command::Help(main_help()),
            Some(Token::Short('h')) => Command::Help(main_help()),
            Some(Token::Long(name)) if name == "version" => Command::Version,
            Some(Token::Short('V')) => Command::Version,
            Some(token @ (Token::Long(_) | Token::Short(_))) => {
                let long = long_name(&token, GLOBAL_FLAGS);
                if global_flag(&long, &mut p, &mut global).map_err(|e| top_error(lexopt_message(e), None))? {
                    continue;
                }
                let (message, hint) = unknown_flag(&token, &[GLOBAL_FLAGS, TOP_FLAGS], None);
                return Err(top_error(message, hint));
            }
            Some(Token::Value(name)) => {
                if name == "help" {
                    help_command(&mut p).map_err(|e| top_error(e, None))?
                } else if let Some((_, parse)) = COMMANDS.iter().find(|(spec, _)| spec.name == name) {
                    parse(&mut p, &mut global)?
                } else {
                    let names = COMMANDS.iter().map(|(s, _)| s.name).chain(["help"]);
                    let hint = match did_you_mean(&name, names) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "`cargo xtask --help` lists the commands".to_string(),
                    };
                    return Err(top_error(format!("unknown command `{name}`"), Some(hint)));
                }
            }
        };
        return Ok(Cli { global, command });
    }
}

/// `help [COMMAND]`.
fn help_command(p: &mut Parser) -> Result<Command, String> {
    match next(p)? {
        None => Ok(Command::Help(main_help())),
        Some(Token::Value(name)) => match COMMANDS.iter().find(|(spec, _)| spec.name == name) {
            Some((spec, _)) => match next(p)? {
                None => Ok(Command::Help(command_help(spec))),
                Some(extra) => Err(format!("help: unexpected `{}` after `{name}`", extra.display())),
            },
            None => Err(format!(
                "help: unknown command `{name}`{}",
                did_you_mean(&name, COMMANDS.iter().map(|(s, _)| s.name)).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
            )),
        },
        // `help --help` (or `-h`): the help of `help` is the list of commands, as every other
        // command's `--help` is its own help.
        Some(Token::Long(ref name)) if name == "help" => Ok(Command::Help(main_help())),
        Some(Token::Short('h')) => Ok(Command::Help(main_help())),
        Some(other) => Err(format!("help: unexpected `{}`", other.display())),
    }
}

/// Parses one command's arguments, global flags included, anywhere after its name.
pub(crate) fn command<A: Args>(p: &mut Parser, global: &mut Global) -> Result<Command, CliError> {
    let spec = &A::SPEC;
    let error = |message: String, hint: Option<String>| CliError { message: format!("{}: {message}", spec.name), hint, usage: usage(spec) };
    let mut args = A::default();
    while let Some(token) = next(p).map_err(|e| error(e, None))? {
        match token {
            Token::Value(value) => args.positional(value).map_err(|m| error(m, None))?,
            Token::Long(ref name) if name == "help" => return Ok(Command::Help(command_help(spec))),
            Token::Short('h') => return Ok(Command::Help(command_help(spec))),
            token => {
                let long = long_name(&token, spec.flags);
                let long = if long.is_empty() { long_name(&token, GLOBAL_FLAGS) } else { long };
                if spec.flags.iter().any(|f| f.long == long) {
                    args.flag(&long, p).map_err(|e| error(lexopt_message(e), None))?;
                } else if !global_flag(&long, p, global).map_err(|e| error(lexopt_message(e), None))? {
                    let (message, hint) = unknown_flag(&token, &[spec.flags, GLOBAL_FLAGS], Some(spec));
                    return Err(error(message, hint));
                }
            }
        }
    }
    args.finish().map_err(|m| error(m, None))?;
    Ok(args.into_command())
}

/// Handles `--root`, `--stack`, `-q`; false when `long` is none of them.
fn global_flag(long: &str, p: &mut Parser, global: &mut Global) -> Result<bool, lexopt::Error> {
    match long {
        "root" => global.root = Some(PathBuf::from(p.value()?)),
        "stack" => global.stack = Some(PathBuf::from(p.value()?)),
        "quiet" => global.quiet = true,
        _ => return Ok(false),
    }
    Ok(true)
}

/// One argument, owned (lexopt's borrows the parser).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Long(String),
    Short(char),
    Value(String),
}

impl Token {
    fn display(&self) -> String {
        match self {
            Token::Long(l) => format!("--{l}"),
            Token::Short(c) => format!("-{c}"),
            Token::Value(v) => v.clone(),
        }
    }
}

fn next(p: &mut Parser) -> Result<Option<Token>, String> {
    Ok(match p.next().map_err(lexopt_message)? {
        None => None,
        Some(Arg::Long(l)) => Some(Token::Long(l.to_string())),
        Some(Arg::Short(c)) => Some(Token::Short(c)),
        Some(Arg::Value(v)) => Some(Token::Value(text(v).map_err(lexopt_message)?)),
    })
}

/// The long name of a flag token among `flags` (a short one mapped through them); empty when a
/// short flag is none of them.
fn long_name(token: &Token, flags: &[Flag]) -> String {
    match token {
        Token::Long(l) => l.clone(),
        Token::Short(c) => flags.iter().find(|f| f.short == Some(*c)).map(|f| f.long.to_string()).unwrap_or_default(),
        Token::Value(_) => String::new(),
    }
}

pub(crate) fn text(value: OsString) -> Result<String, lexopt::Error> {
    value.into_string().map_err(lexopt::Error::NonUnicodeValue)
}

/// lexopt's errors in our words.
fn lexopt_message(e: lexopt::Error) -> String {
    match e {
        lexopt::Error::MissingValue { option: Some(o) } => format!("`{o}` needs a value"),
        lexopt::Error::UnexpectedValue { option, value } => format!("`{option}` takes no value (got `{}`)", value.to_string_lossy()),
        lexopt::Error::NonUnicodeValue(v) => format!("argument `{}` is not valid UTF-8", v.to_string_lossy()),
        other => other.to_string(),
    }
}

/// "unknown flag", with the likeliest flag meant, or the command it belongs to.
fn unknown_flag(token: &Token, known: &[&[Flag]], spec: Option<&Spec>) -> (String, Option<String>) {
    let shown = token.display();
    if let (Some(spec), Token::Long(long)) = (spec, token)
        && let Some((_, why)) = spec.not_here.iter().find(|(f, _)| f == long)
    {
        return (format!("`{shown}` is not a flag of `{}`: {why}", spec.name), None);
    }
    let message = format!("unknown flag `{shown}`");
    let candidates: Vec<String> =
        known.iter().flat_map(|flags| flags.iter()).flat_map(|f| std::iter::once(format!("--{}", f.long)).chain(f.short.map(|c| format!("-{c}")))).collect();
    if let Some(s) = did_you_mean(&shown, candidates.iter().map(String::as_str)) {
        return (message, Some(format!("did you mean `{s}`?")));
    }
    if let Token::Long(long) = token
        && let Some((owner, _)) = COMMANDS.iter().find(|(s, _)| s.flags.iter().any(|f| f.long == long))
    {
        return (message, Some(format!("`{shown}` is a flag of `cargo xtask {}`", owner.name)));
    }
    (message, None)
}

/// The candidate closest to `typed`, when it is close enough to be a typo.
pub fn did_you_mean<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let max = if typed.trim_start_matches('-').chars().count() <= 3 { 1 } else { 2 };
    candidates.into_iter().map(|c| (distance(typed, c), c)).filter(|(d, _)| *d <= max).min_by_key(|(d, _)| *d).map(|(_, c)| c)
}

/// Edit distance with transpositions (optimal string alignment), shared with stack.toml's
/// did-you-mean: `gne` is one edit from `gen`.
pub use crate::stack::diag::edit_distance as distance;

// ---- help ----

fn usage_line(spec: &Spec) -> String {
    let args = if spec.args.is_empty() { String::new() } else { format!(" {}", spec.args) };
    format!("usage: cargo xtask {}{args} [OPTIONS]", spec.name)
}

fn usage(spec: &Spec) -> String {
    format!("{}\nfor more, run `cargo xtask {} --help`", usage_line(spec), spec.name)
}

fn flag_lines<'a>(flags: impl Iterator<Item = &'a Flag> + Clone) -> String {
    let left = |f: &Flag| {
        let short = f.short.map(|c| format!("-{c}, ")).unwrap_or_else(|| "    ".to_string());
        let value = f.value.map(|v| format!(" {v}")).unwrap_or_default();
        format!("{short}--{}{value}", f.long)
    };
    let width = flags.clone().map(|f| left(f).len()).max().unwrap_or(0);
    flags.map(|f| format!("  {:<width$}  {}\n", left(f), f.help)).collect()
}

/// `cargo xtask <command> --help`.
pub fn command_help(spec: &Spec) -> String {
    let mut out = format!("cargo xtask {}: {}\n\n{}\n", spec.name, spec.about, usage_line(spec));
    if !spec.details.is_empty() {
        out.push_str(&format!("\n{}\n", spec.details));
    }
    if !spec.flags.is_empty() {
        out.push_str(&format!("\noptions:\n{}", flag_lines(spec.flags.iter())));
    }
    out.push_str(&format!("\nglobal options:\n{}", flag_lines(GLOBAL_FLAGS.iter())));
    out
}

/// `cargo xtask --help`.
pub fn main_help() -> String {
    let mut out =
        String::from("cargo xtask: stack.toml → generated/ for the homelab observability stack\n\nusage: cargo xtask <COMMAND> [OPTIONS]\n\ncommands:\n");
    let width = COMMANDS.iter().map(|(s, _)| s.name.len()).max().unwrap_or(0);
    for (spec, _) in COMMANDS {
        out.push_str(&format!("  {:<width$}  {}\n", spec.name, spec.about));
    }
    out.push_str(&format!("  {:<width$}  print the help of a command (`help gen`)\n", "help"));
    out.push_str(&format!("\noptions:\n{}", flag_lines(GLOBAL_FLAGS.iter().chain(TOP_FLAGS))));
    out.push_str("\n`cargo xtask <COMMAND> --help` shows a command's own options.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Cli, CliError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn typos_are_one_or_two_edits() {
        assert_eq!(distance("gne", "gen"), 1);
        assert_eq!(distance("chek", "check"), 1);
        assert_eq!(did_you_mean("--forse", ["--force", "--root"]), Some("--force"));
        assert_eq!(did_you_mean("--frobnicate", ["--force", "--root", "--stack", "--quiet"]), None);
        assert_eq!(did_you_mean("x", ["gen", "dns"]), None);
    }

    #[test]
    fn global_flags_go_before_or_after_the_command() {
        let cli = parse_str(&["--root", "/r", "gen", "-q", "--stack=s.toml", "-v"]).unwrap();
        assert_eq!(cli.global.root, Some(PathBuf::from("/r")));
        assert_eq!(cli.global.stack, Some(PathBuf::from("s.toml")));
        assert!(cli.global.quiet);
        assert!(matches!(cli.command, Command::Gen(Gen { verbose: true })));
    }

    #[test]
    fn each_command_takes_only_its_flags() {
        let err = parse_str(&["gen", "--force"]).unwrap_err();
        assert_eq!(err.message, "gen: unknown flag `--force`");
        assert_eq!(err.hint.as_deref(), Some("`--force` is a flag of `cargo xtask certs`"));
        let err = parse_str(&["plan", "prod", "--auto-approve"]).unwrap_err();
        assert!(err.message.starts_with("plan: `--auto-approve` is not a flag of `plan`: plan never applies"), "{err}");
        assert!(matches!(parse_str(&["apply", "prod", "--auto-approve"]).unwrap().command, Command::Apply(Apply { auto_approve: true, .. })));
    }

    #[test]
    fn help_takes_one_command() {
        assert!(matches!(parse_str(&["help", "gen"]).unwrap().command, Command::Help(_)));
        for flag in ["--help", "-h"] {
            assert!(matches!(parse_str(&["help", flag]).unwrap().command, Command::Help(_)), "help {flag}");
        }
        assert_eq!(parse_str(&["help", "gen", "x"]).unwrap_err().message, "help: unexpected `x` after `gen`");
        assert!(parse_str(&["help", "gne"]).unwrap_err().message.ends_with("did you mean `gen`?"));
    }

    #[test]
    fn bench_is_a_command() {
        assert!(matches!(parse_str(&["bench"]).unwrap().command, Command::Bench(_)));
    }

    #[test]
    fn every_command_has_help() {
        for (spec, _) in COMMANDS {
            let Command::Help(text) = parse_str(&[spec.name, "--help"]).unwrap().command else { panic!("{}", spec.name) };
            assert!(text.starts_with(&format!("cargo xtask {}: ", spec.name)), "{text}");
            assert!(main_help().contains(spec.about), "{}", spec.name);
        }
    }
}
