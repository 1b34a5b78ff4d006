//! `man/sockdiag.1`, rendered from the clap definition (clap_mangen) and kept honest by this
//! test: it fails when the committed page differs; `UPDATE_MAN=1 cargo test` rewrites it.
//!
//! One page documents every subcommand: clap_mangen renders each part, the subcommands'
//! sections become subsections, and the after-help blocks (a heading in capitals, then
//! indented text) become sections of preformatted text.

use clap::CommandFactory;
use clap_mangen::Man;

use crate::cli::Cli;

/// The page's date: the release's, `[package.metadata.sockdiag] release-date` in Cargo.toml,
/// set with each version bump (never the day the page happens to be generated).
fn release_date() -> String {
    let manifest = include_str!("../Cargo.toml");
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("release-date = "))
        .map(|date| date.trim_matches('"').to_owned())
        .expect("Cargo.toml: [package.metadata.sockdiag] release-date")
}

/// clap_mangen's synopsis names options without their value: `[--state]`. Each option that
/// takes one gets its placeholder, as in the OPTIONS list: `[--state NAME]`.
fn synopsis_placeholders(part: &str, cmd: &clap::Command) -> String {
    let mut part = part.to_owned();
    for arg in cmd.get_arguments() {
        let (Some(long), Some(names)) = (arg.get_long(), arg.get_value_names()) else {
            continue;
        };
        if !arg.get_action().takes_values() || arg.is_positional() {
            continue;
        }
        let long = long.replace('-', "\\-");
        let value: Vec<String> = names.iter().map(ToString::to_string).collect();
        part = part.replace(
            &format!("[\\fB\\-\\-{long}\\fR]"),
            &format!("[\\fB\\-\\-{long}\\fR \\fI{}\\fR]", value.join(" ")),
        );
    }
    part
}

fn render() -> std::io::Result<String> {
    let cmd = Cli::command();
    let man = Man::new(cmd.clone()).date(release_date());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    for sub in cmd.get_subcommands() {
        let name = format!("sockdiag {}", sub.get_name());
        let sub_man = Man::new(sub.clone().bin_name(&name));
        page.extend(format!(".SH \"{}\"\n", name.to_uppercase()).bytes());
        let mut part = Vec::new();
        sub_man.render_synopsis_section(&mut part)?;
        sub_man.render_description_section(&mut part)?;
        sub_man.render_options_section(&mut part)?;
        let part = synopsis_placeholders(&String::from_utf8_lossy(&part), sub);
        page.extend(part.replace(".SH ", ".SS ").bytes());
        blocks(
            &mut page,
            ".SS",
            &sub.get_after_long_help()
                .map(ToString::to_string)
                .unwrap_or_default(),
        );
    }
    blocks(
        &mut page,
        ".SH",
        &cmd.get_after_long_help()
            .map(ToString::to_string)
            .unwrap_or_default(),
    );
    man.render_version_section(&mut page)?;
    Ok(String::from_utf8_lossy(&page).into_owned())
}

/// Each block of `text` (separated by blank lines): a heading line, then preformatted lines.
fn blocks(page: &mut Vec<u8>, heading: &str, text: &str) {
    for block in text.split("\n\n") {
        let mut lines = block.lines();
        let Some(title) = lines.next() else { continue };
        page.extend(format!("{heading} \"{title}\"\n.nf\n").bytes());
        for line in lines {
            let line = line.replace('\\', "\\e").replace('-', "\\-");
            let line = if line.starts_with(['.', '\'']) {
                format!("\\&{line}")
            } else {
                line
            };
            page.extend(format!("{line}\n").bytes());
        }
        page.extend(b".fi\n");
    }
}

#[test]
fn man_page_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/man/sockdiag.1");
    let fresh = render().expect("render");
    if std::env::var_os("UPDATE_MAN").is_some() {
        std::fs::write(path, &fresh).expect("write man page");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == fresh,
        "man/sockdiag.1 is stale: run `UPDATE_MAN=1 cargo test man_page`"
    );
}
