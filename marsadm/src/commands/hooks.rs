//! Hook scripts, as the original's: executables on the search path of the `.tpl` files
//! that run before and after a command that changes something. For `marsadm primary r0`
//! before it: `hook-pre-primary`, `hook-pre`, then each file in `hook-pre-primary.d/` and
//! `hook-pre.d/` (sorted), in each directory of the path in turn; after it the same with
//! `post`. Each is called with the command's words (`primary r0`). A pre hook that fails
//! stops the command before it changed anything (exit 1) unless `--force`; a post hook
//! that fails is a warning. Not under `--dry-run`.
//!
//! Unlike the original, never from the current directory (nor any relative directory of
//! `MARS_PATH`): root would run whatever program lies where it happens to stand.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The hooks of `when` (`pre`, `post`) for command `cmd` in `dirs`, in the order they run.
fn hooks(dirs: &[PathBuf], when: &str, cmd: &str) -> Vec<PathBuf> {
    let executable = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    let mut out = Vec::new();
    for dir in dirs.iter().filter(|d| d.is_absolute()) {
        for name in [format!("hook-{when}-{cmd}"), format!("hook-{when}")] {
            let p = dir.join(&name);
            if executable(&p) {
                out.push(p);
            }
        }
        for sub in [format!("hook-{when}-{cmd}.d"), format!("hook-{when}.d")] {
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
            let mut found: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| !p.to_string_lossy().ends_with('~') && executable(p)).collect();
            found.sort();
            out.extend(found);
        }
    }
    out
}

/// Runs the `when` hooks for the command `words` (its name first). `force`: a failing pre
/// hook is a warning, not a refusal.
pub fn run_in(dirs: &[PathBuf], when: &str, words: &[String], force: bool) -> Result<()> {
    let Some(cmd) = words.first() else { return Ok(()) };
    for hook in hooks(dirs, when, cmd) {
        let status = Command::new(&hook).args(words).status();
        let failed = match &status {
            Ok(s) if s.success() => continue,
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        };
        let hook = hook.display().to_string();
        if when == "pre" && !force {
            return Err(Error::HookFailed { hook, status: failed });
        }
        eprintln!("marsadm: warning: hook {hook} failed ({failed}); going on");
    }
    Ok(())
}

/// [`run_in`] on the search path of the `.tpl` files (`MARS_PATH`, else the original's
/// directories).
pub fn run(when: &str, words: &[String], force: bool) -> Result<()> {
    run_in(&super::macros::search_path(), when, words, force)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchDir;

    fn script(dir: &Path, name: &str, body: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn hooks_run_in_order_and_a_failing_pre_hook_refuses() {
        let d = ScratchDir::new("hooks");
        let dir = d.as_ref().to_path_buf();
        let log = dir.join("log");
        let words: Vec<String> = ["primary", "r0"].map(String::from).to_vec();
        for name in ["hook-pre-primary", "hook-pre", "hook-pre-primary.d/b", "hook-pre-primary.d/a", "hook-pre.d/x", "hook-post"] {
            script(&dir, name, &format!("echo {name} \"$@\" >> {}", log.display()));
        }
        script(&dir, "hook-pre-primary.d/old~", "exit 1");
        std::fs::write(dir.join("hook-pre-secondary"), "not executable").unwrap();
        run_in(&[dir.clone(), "relative".into()], "pre", &words, false).unwrap();
        run_in(std::slice::from_ref(&dir), "post", &words, false).unwrap();
        let got = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            got,
            "hook-pre-primary primary r0\nhook-pre primary r0\nhook-pre-primary.d/a primary r0\nhook-pre-primary.d/b primary r0\nhook-pre.d/x primary r0\nhook-post primary r0\n"
        );
        script(&dir, "hook-pre", "exit 3");
        let e = run_in(std::slice::from_ref(&dir), "pre", &words, false).unwrap_err();
        assert!(matches!(&e, Error::HookFailed { hook, .. } if hook.ends_with("/hook-pre")), "{e}");
        assert_eq!(e.exit_code(), crate::error::exit::REFUSED);
        run_in(std::slice::from_ref(&dir), "pre", &words, true).unwrap();
        script(&dir, "hook-post", "exit 1");
        run_in(std::slice::from_ref(&dir), "post", &words, false).unwrap();
        // Nothing from a relative directory.
        assert!(hooks(&["relative".into()], "pre", "primary").is_empty());
    }
}
