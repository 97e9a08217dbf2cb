//! The macro processor of systemd unit templates (docu/systemd.md, "Templates").
//!
//! A template is a unit file whose text, and whose file name, may contain:
//!
//! | form | expands to |
//! |---|---|
//! | `@{var}` | the value of variable `var` |
//! | `%{var}` | the same (the form of marsadm's own macro language) |
//! | `@escvar{var}` | the value of `var`, escaped like `systemd-escape --path` |
//! | `@esc{text}` | `text` (macros in it expanded first), escaped like `systemd-escape --path` |
//! | `@verbatim{text}` | `text` unchanged, no macros expanded in it |
//!
//! Anything else is copied: `@` or `%` not followed by one of these forms (systemd's own
//! specifiers `%i`, `%n`, template units `foo@.service`) stays as it is. Braces inside
//! a macro's argument must balance. An undefined variable or an unclosed macro is an
//! error naming the position, never a silent empty string.

use std::collections::BTreeMap;
use std::fmt;

/// The variables of one expansion: `res`, `host`, `dev`, ... (docu/systemd.md).
pub type Vars = BTreeMap<&'static str, String>;

/// Why a text could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroError {
    /// `@{name}` and friends with a name no variable has; carries the name.
    Undefined(String),
    /// A macro whose `{` is never closed; carries the byte offset of the macro.
    Unclosed(usize),
}

impl fmt::Display for MacroError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MacroError::Undefined(v) => write!(f, "undefined variable {v:?} (`marsadm dump-macros --list` lists them)"),
            MacroError::Unclosed(at) => write!(f, "macro at byte {at} has no closing '}}'"),
        }
    }
}

/// The macro forms, longest first so `@escvar{` is not taken for `@esc`.
const FORMS: &[(&str, Form)] =
    &[("@escvar{", Form::EscVar), ("@verbatim{", Form::Verbatim), ("@esc{", Form::Esc), ("@{", Form::Var), ("%{", Form::Var)];

#[derive(Clone, Copy)]
enum Form {
    Var,
    EscVar,
    Esc,
    Verbatim,
}

/// Whether `text` contains any macro (a template name with one is per resource).
pub fn has_macro(text: &str) -> bool {
    FORMS.iter().any(|(open, _)| text.contains(open))
}

/// The offset just past the `}` that closes a `{` ending at `start`, braces balanced.
fn closing(text: &str, start: usize) -> Option<usize> {
    let mut depth = 1usize;
    for (i, b) in text.as_bytes()[start..].iter().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(start + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Expands every macro of `text` with `vars`.
pub fn expand(text: &str, vars: &Vars) -> Result<String, MacroError> {
    expand_with(text, &mut |name| vars.get(name).cloned())
}

/// Expands every macro of `text`, asking `lookup` for each variable's value (`None`:
/// undefined) as it is met, so values that are costly to find are found only when used.
fn expand_with(text: &str, lookup: &mut dyn FnMut(&str) -> Option<String>) -> Result<String, MacroError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while rest < text.len() {
        let next = text[rest..].char_indices().find_map(|(i, _)| {
            FORMS.iter().find(|(open, _)| text[rest + i..].starts_with(open)).map(|(open, form)| (rest + i, *open, *form))
        });
        let Some((at, open, form)) = next else {
            out.push_str(&text[rest..]);
            break;
        };
        out.push_str(&text[rest..at]);
        let body_start = at + open.len();
        let end = closing(text, body_start).ok_or(MacroError::Unclosed(at))?;
        let body = &text[body_start..end];
        let var = |name: &str, lookup: &mut dyn FnMut(&str) -> Option<String>| -> Result<String, MacroError> {
            let name = name.trim();
            lookup(name).ok_or_else(|| MacroError::Undefined(name.to_owned()))
        };
        match form {
            Form::Var => {
                let name = expand_with(body, lookup)?;
                out.push_str(&var(&name, lookup)?)
            }
            Form::EscVar => {
                let name = expand_with(body, lookup)?;
                out.push_str(&escape_path(&var(&name, lookup)?))
            }
            Form::Esc => out.push_str(&escape_path(&expand_with(body, lookup)?)),
            Form::Verbatim => out.push_str(body),
        }
        rest = end + 1;
    }
    Ok(out)
}

/// `systemd-escape --path`: the path without leading, trailing and doubled `/`, each
/// `/` as `-`, every byte outside `A-Z a-z 0-9 : _ .` (and a leading `.`) as `\xNN`;
/// the root (or an empty path) is `-`.
pub fn escape_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return "-".to_owned();
    }
    let joined = parts.join("/");
    let mut out = String::with_capacity(joined.len());
    for (i, b) in joined.bytes().enumerate() {
        match b {
            b'/' => out.push('-'),
            b'.' if i == 0 => out.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.') => out.push(b as char),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut v = Vars::new();
        v.insert("res", "db-1".to_owned());
        v.insert("host", "node2".to_owned());
        v.insert("dev", "db-1".to_owned());
        v
    }

    #[test]
    fn variables_in_both_forms() {
        let v = vars();
        assert_eq!(expand("What=/dev/mars/@{dev}\nHost=%{host}", &v).unwrap(), "What=/dev/mars/db-1\nHost=node2");
        assert_eq!(expand("@{ res }", &v).unwrap(), "db-1");
        assert_eq!(expand("no macros here", &v).unwrap(), "no macros here");
        assert_eq!(expand("", &v).unwrap(), "");
    }

    #[test]
    fn escaping_like_systemd_escape_path() {
        let v = vars();
        assert_eq!(expand("mnt-mars-@escvar{res}.mount", &v).unwrap(), "mnt-mars-db\\x2d1.mount");
        assert_eq!(expand("@esc{/mnt/mars/@{res}}.mount", &v).unwrap(), "mnt-mars-db\\x2d1.mount");
        assert_eq!(escape_path("/mnt//mars/r0/"), "mnt-mars-r0");
        assert_eq!(escape_path("/"), "-");
        assert_eq!(escape_path(".hidden/x y"), "\\x2ehidden-x\\x20y");
        assert_eq!(escape_path("a:b_c.d"), "a:b_c.d");
        assert_eq!(escape_path("ä"), "\\xc3\\xa4");
    }

    #[test]
    fn other_at_and_percent_stay() {
        let v = vars();
        let text = "ExecStart=/bin/echo %i %n 100% getty@tty1.service user@host @ {x}";
        assert_eq!(expand(text, &v).unwrap(), text);
        assert_eq!(expand("@verbatim{@{res} %{host}}", &v).unwrap(), "@{res} %{host}");
        assert_eq!(expand("@verbatim{a{b}c}", &v).unwrap(), "a{b}c");
    }

    #[test]
    fn errors_are_reported() {
        let v = vars();
        assert_eq!(expand("x @{nope} y", &v), Err(MacroError::Undefined("nope".into())));
        assert_eq!(expand("x @escvar{res", &v), Err(MacroError::Unclosed(2)));
        assert_eq!(expand("%{", &v), Err(MacroError::Unclosed(0)));
        assert!(has_macro("mnt-@escvar{res}.mount"));
        assert!(has_macro("x-%{res}.service"));
        assert!(!has_macro("mars.service"));
        assert!(!has_macro("getty@.service"));
    }

    #[test]
    fn nested_variable_name() {
        let mut v = vars();
        v.insert("mars", "res".to_owned());
        assert_eq!(expand("@{@{mars}}", &v).unwrap(), "db-1");
    }
}
