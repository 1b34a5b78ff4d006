//! sockdiag: which sockets stand behind the numbers `ss -s` prints.
//!
//! `main` only parses the command line, runs it and maps the outcome to an exit status:
//! 0 on success (a closed output pipe included), 1 for `summary --check` with an unexplained
//! gap, 2 for any error, printed once as `sockdiag: {err:#}`.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;

use sockdiag::cli::{Cli, Command};
use sockdiag::cmd;
use sockdiag::render::escape;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version: output like any other, with the same failures.
        Err(e) if !e.use_stderr() => {
            return finish(stdout().and_then(|mut out| {
                let help = e.render();
                if io::IsTerminal::is_terminal(&io::stdout()) {
                    write!(out, "{}", help.ansi())?;
                } else {
                    write!(out, "{help}")?;
                }
                out.flush()?;
                Ok(ExitCode::SUCCESS)
            }));
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!(
                "sockdiag: a command is required: list, summary, watch or metrics (see sockdiag --help)"
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!(
                "sockdiag: {}",
                escape::for_terminal(first_line(&e.to_string()).as_bytes())
            );
            return ExitCode::from(2);
        }
    };
    finish(run(&cli))
}

/// The exit status of a run: its own, 0 when the reader closed the pipe, else 2 with the
/// error on one line.
fn finish(outcome: anyhow::Result<ExitCode>) -> ExitCode {
    match outcome {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Arguments, file contents and names quoted in an error are untrusted text too.
            eprintln!("sockdiag: {}", escape::for_terminal(format!("{e:#}").as_bytes()));
            ExitCode::from(2)
        }
    }
}

/// Standard output, buffered; an error when it was closed before the start.
fn stdout() -> anyhow::Result<BufWriter<io::StdoutLock<'static>>> {
    anyhow::ensure!(
        !sockdiag::collect::sys::stdout_was_closed(),
        "standard output is closed: nothing could be written (redirect it to /dev/null to discard it)"
    );
    Ok(BufWriter::with_capacity(64 * 1024, io::stdout().lock()))
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let mut out = stdout()?;
    let code = match &cli.command {
        Command::List(args) => {
            cmd::list::run(args, &cli.proc_root, &mut out)?;
            ExitCode::SUCCESS
        }
        Command::Summary(args) => cmd::summary::run(args, &cli.proc_root, &mut out)?,
        Command::Watch(args) => {
            cmd::watch::run(args, &cli.proc_root, &mut out)?;
            ExitCode::SUCCESS
        }
        Command::Metrics(args) => {
            cmd::metrics::run(args, &cli.proc_root, &mut out)?;
            ExitCode::SUCCESS
        }
        Command::Completions(args) => {
            cmd::completions::run(args.shell, &mut out)?;
            ExitCode::SUCCESS
        }
    };
    out.flush()?;
    Ok(code)
}

/// clap's message without its `error: ` prefix, tips and usage block.
fn first_line(message: &str) -> &str {
    let line = message.lines().next().unwrap_or(message);
    line.strip_prefix("error: ").unwrap_or(line)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
