//! `sockdiag completions SHELL`: a completion script generated from the clap definition
//! (clap_complete). The scripts the Debian package installs are these, committed under
//! `man/completions/` and kept honest by a test as the man page is:
//! `UPDATE_COMPLETIONS=1 cargo test completions` rewrites them.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Shell};

/// The script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    // Generated into memory: clap_complete panics on a write error, and a closed stdout
    // (`sockdiag completions bash | head`) must end quietly as every command does.
    let mut script = Vec::new();
    clap_complete::generate(generator, &mut Cli::command(), "sockdiag", &mut script);
    script
}

pub fn run(shell: Shell, out: &mut impl Write) -> Result<()> {
    out.write_all(&script(shell))?;
    Ok(())
}

/// The file each script is committed as, under `man/completions/`, named as each shell
/// looks it up in the directory the package installs it to.
pub fn file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "sockdiag",
        Shell::Zsh => "_sockdiag",
        Shell::Fish => "sockdiag.fish",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_are_current() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/man/completions");
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let path = format!("{dir}/{}/{}", shell_dir(shell), file_name(shell));
            let fresh = script(shell);
            if std::env::var_os("UPDATE_COMPLETIONS").is_some() {
                std::fs::create_dir_all(std::path::Path::new(&path).parent().expect("dir")).expect("mkdir");
                std::fs::write(&path, &fresh).expect("write completion script");
            }
            let committed = std::fs::read(&path).unwrap_or_default();
            assert!(
                committed == fresh,
                "{path} is stale: run `UPDATE_COMPLETIONS=1 cargo test completions`"
            );
        }
    }

    fn shell_dir(shell: Shell) -> &'static str {
        match shell {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }

    #[test]
    fn state_names_are_offered() {
        let bash = String::from_utf8(script(Shell::Bash)).expect("utf8");
        assert!(
            bash.contains("bound-inactive"),
            "--state names in the bash script"
        );
        let fish = String::from_utf8(script(Shell::Fish)).expect("utf8");
        assert!(fish.contains("time-wait"), "--state names in the fish script");
    }
}
