//! `sockdiag summary`: collect the host once, reconcile the namespace read, render.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::SummaryArgs;
use crate::collect::Collector;
use crate::reconcile::reconcile;
use crate::render;
use crate::saved_ss::{self, SavedSs};

pub fn run(args: &SummaryArgs, proc_root: &Path, out: &mut impl Write) -> Result<ExitCode> {
    // Bad input is reported before any work.
    let saved = args.saved_ss.as_deref().map(read_saved).transpose()?;
    let host = Collector::open(proc_root, args.netns.path().as_deref())?.host()?;
    let report = reconcile(&host, saved.as_ref());
    if args.json {
        render::summary::json(out, &report)?;
    } else {
        render::summary::human(out, &report, args.all)?;
    }
    Ok(if args.check && report.closed.unexplained != 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn read_saved(path: &Path) -> Result<SavedSs> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("--ss -: reading stdin")?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("--ss {}", path.display()))?;
    }
    saved_ss::parse(&text).with_context(|| format!("--ss {}", path.display()))
}
