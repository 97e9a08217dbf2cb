//! The original marsadm's macro language (docu/view-macros.md): the text of `view`
//! macros, `--macro` and `<name>.tpl` files. Plain text is copied; `%NAME{arg}{arg}…`
//! calls a built-in, a macro (a `.tpl` file or a built-in text, found by [`World`]) or
//! a primitive (a value of this host's state, also from [`World`]); `%{name}` reads a
//! variable; `\X` escapes. Arguments are handed over unevaluated and each construct
//! evaluates what it needs, as in the original, whose semantics a script would notice
//! are kept (truth is "" or "0" false, numbers as Perl reads and prints them, `%foreach`
//! and `%{x}{delim}{index}` split by a regular expression, `%call` in a copy of the
//! variables, a direct call of a macro in the caller's).
//!
//! Deliberate differences (the documentation lists them): `%min`/`%max` give the
//! minimum/maximum (the original swaps them), `%&`, `%|`, `%^` and `%~` work on
//! integers (the original on the bytes of the decimal text), `%return{}`, `%abort{}`,
//! `%stop-eval{}`, `%next{}` and `%last{}` do what their names say for the innermost
//! text, loop or macro. Bad input never panics: an error names the macro, its file and
//! the line and column of the call, and recursion, steps, loop rounds and output are
//! bounded.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

use regex::{Regex, RegexBuilder};

/// Most nested evaluations (macro calls, arguments).
pub const MAX_DEPTH: usize = 200;
/// Most calls in one evaluation.
pub const MAX_STEPS: u64 = 2_000_000;
/// Longest result.
pub const MAX_OUTPUT: usize = 16 << 20;
/// Most brace levels inside one argument (as the original).
pub const MAX_NESTING: usize = 20;

/// A macro's text as loaded: comments stripped, `\n` converted (for files and
/// `--macro`), with where each byte came from for error positions.
#[derive(Debug)]
pub struct Source {
    /// The macro's name.
    pub name: String,
    /// Where it was read from (a `.tpl` file, "--macro", "built-in").
    pub origin: String,
    /// The text evaluated.
    pub text: String,
    /// For each byte of `text`, its offset in `original`.
    map: Vec<usize>,
    original: String,
}

impl Source {
    /// A text as written by a person (a `.tpl` file, `--macro`): comments (`#` to the end
    /// of the line, `// ` to the end of the line, `/* … */`) and line continuations
    /// (`\` newline and the blanks after it) removed, `\n` made a newline.
    pub fn written(name: &str, origin: &str, original: &str) -> Source {
        let (text, map) = strip(original);
        Source { name: name.into(), origin: origin.into(), text, map, original: original.into() }
    }

    /// Line and column (from 1) of byte `at` of `text` in the original.
    pub fn position(&self, at: usize) -> (usize, usize) {
        let orig = self.map.get(at).copied().unwrap_or(self.original.len());
        let before = &self.original[..orig.min(self.original.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

/// Comments and continuations out, `\n` in (see [`Source::written`]).
fn strip(s: &str) -> (String, Vec<usize>) {
    let b = s.as_bytes();
    let (mut out, mut map) = (Vec::with_capacity(b.len()), Vec::with_capacity(b.len()));
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') && matches!(b.get(i + 2), Some(b' ' | b'\t')) => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => match s[i + 2..].find("*/") {
                Some(end) => i += 2 + end + 2,
                None => {
                    out.push(b[i]);
                    map.push(i);
                    i += 1;
                }
            },
            b'\\' if b.get(i + 1) == Some(&b'\n') => {
                i += 2;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
            b'\\' if b.get(i + 1) == Some(&b'n') => {
                out.push(b'\n');
                map.push(i);
                i += 2;
            }
            c => {
                out.push(c);
                map.push(i);
                i += 1;
            }
        }
    }
    // Only ASCII bytes were removed or replaced: still UTF-8.
    (String::from_utf8(out).unwrap_or_default(), map)
}

/// An evaluation error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroError {
    pub message: String,
    /// "<origin> line L, column C (macro NAME)" of the innermost call that failed,
    /// where the call is in a macro's own text.
    pub place: Option<String>,
}

impl std::fmt::Display for MacroError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.place {
            Some(p) => write!(f, "{p}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

type Result<T> = std::result::Result<T, MacroError>;

fn err<T>(message: impl Into<String>) -> Result<T> {
    Err(MacroError { message: message.into(), place: None })
}

/// What the language asks of marsadm.
pub trait World {
    /// The text of macro `name`: a `<name>.tpl` file on the search path, or a built-in
    /// macro. `None`: no such macro.
    fn find_macro(&mut self, name: &str) -> Option<Rc<Source>>;
    /// Whether `name` is a primitive (a value of the host's state).
    fn is_primitive(&self, name: &str) -> bool;
    /// The value of primitive `name` with its evaluated arguments, in the context the
    /// variables give (`host`, `res`, `resdir`, `window`, …).
    fn primitive(&mut self, name: &str, args: &[String], vars: &Vars) -> std::result::Result<String, String>;
    /// The value of a variable no one set: `None` for "" (the original's rule); marsadm
    /// gives its `view-*` values so (`%{diskstate}` as `%diskstate{}`).
    fn value(&mut self, _name: &str, _vars: &Vars) -> Option<std::result::Result<String, String>> {
        None
    }
    /// A warning (`%warn{}`, a bad index): to stderr.
    fn warn(&mut self, message: &str);
    /// The paths `pattern` matches (`*`, `?`, `[...]`, `{a,b}`), sorted, without links
    /// whose value is `.deleted` (`%get-glob`, `%foreach-glob`).
    fn glob(&mut self, _pattern: &str) -> std::result::Result<Vec<String>, String> {
        Err("no file system to look at here".into())
    }
    /// The global `--timeout` in seconds, if given (`%timeout{}`).
    fn timeout(&self) -> Option<f64> {
        None
    }
    /// Waits `secs` seconds (`%sleep{}`, `%timeout{}`).
    fn sleep(&mut self, secs: f64) {
        std::thread::sleep(std::time::Duration::from_secs_f64(secs));
    }
}

/// The longest `%sleep{}` (one call), in seconds.
const MAX_SLEEP_S: f64 = 3600.0;

/// The variables of one evaluation (undefined: absent).
pub type Vars = HashMap<String, String>;

/// Control flags (the original's `__return__`… variables), set by `%return{}` etc.
const FLAGS: [&str; 5] = ["__abort__", "__return__", "__stop_eval__", "__next__", "__last__"];

/// The variables evaluation starts with: `cmd`, `res`, `resdir`, `host`, `window`,
/// `threshold`, … as the caller gives them, `0` = `cmd`, and the flags.
pub fn new_vars(given: &[(&str, String)]) -> Vars {
    let mut v: Vars = given.iter().map(|(k, val)| ((*k).to_string(), val.clone())).collect();
    for f in FLAGS {
        v.insert(f.into(), "0".into());
    }
    if let Some(cmd) = v.get("cmd").cloned() {
        v.insert("0".into(), cmd.clone());
        v.insert("callstack".into(), cmd);
    }
    v
}

/// Truth as in the original: "" and "0" are false.
pub fn truthy(s: &str) -> bool {
    !s.is_empty() && s != "0"
}

fn bool_str(b: bool) -> String {
    if b { "1".into() } else { String::new() }
}

/// A text's number as Perl reads it after the original's `make_numeric` (cut at the
/// first comma): leading blanks, sign, digits, fraction, exponent, `inf`/`nan`; the
/// rest ignored; nothing numeric is 0.
pub fn number(s: &str) -> f64 {
    let s = s.split(',').next().unwrap_or("").trim_start();
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let rest = &s[i..];
    let lower = rest.get(..3).map(str::to_ascii_lowercase);
    if lower.as_deref() == Some("inf") || lower.as_deref() == Some("nan") {
        let v = if lower.as_deref() == Some("inf") { f64::INFINITY } else { f64::NAN };
        return if b.first() == Some(&b'-') { -v } else { v };
    }
    let digits = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let int_end = digits(i);
    let mut end = int_end;
    if end < b.len() && b[end] == b'.' {
        let frac_end = digits(end + 1);
        if frac_end > end + 1 || int_end > i {
            end = frac_end;
        }
    }
    if end == i || (end == i + 1 && b[i] == b'.') {
        return 0.0;
    }
    if end < b.len() && (b[end] == b'e' || b[end] == b'E') {
        let mut j = end + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_end = digits(j);
        if exp_end > j {
            end = exp_end;
        }
    }
    s[..end].parse().unwrap_or(0.0)
}

/// A number as Perl prints it: integers without a point, else 15 significant digits.
pub fn format_number(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-4..15).contains(&exp) {
        let s = format!("{:.14e}", x);
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = mant.trim_end_matches('0').trim_end_matches('.');
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (14 - exp).max(0) as usize;
    let s = format!("{:.*}", decimals, x);
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

fn int(x: f64) -> i64 {
    if x.is_nan() { 0 } else { x.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64 }
}

/// The evaluator: one per top-level evaluation.
pub struct Interp<'w> {
    world: &'w mut dyn World,
    steps: u64,
    depth: usize,
    /// Seconds `%timeout{}` has waited so far.
    waited_s: f64,
}

/// A call found in a text: its name, its raw arguments (with their offsets in the
/// text), and where it ends.
struct Call<'t> {
    name: &'t str,
    args: Vec<(&'t str, usize)>,
    end: usize,
}

fn name_char(c: u8) -> bool {
    !(c == b'\\' || c.is_ascii_whitespace() || matches!(c, b'{' | b'}' | b'(' | b')' | b'[' | b']'))
}

/// The end (exclusive, after `}`) of the balanced `{…}` at `at`, if any.
fn balanced(b: &[u8], at: usize) -> Option<usize> {
    if b.get(at) != Some(&b'{') {
        return None;
    }
    let (mut depth, mut i) = (0usize, at);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'{' => {
                depth += 1;
                if depth > MAX_NESTING + 1 {
                    return None;
                }
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The call at `at` (a `%`), if it is one.
fn call_at(t: &str, at: usize) -> Option<Call<'_>> {
    let b = t.as_bytes();
    let mut i = at + 1;
    while i < b.len() && name_char(b[i]) {
        i += 1;
    }
    let name = &t[at + 1..i];
    let mut args = Vec::new();
    while let Some(end) = balanced(b, i) {
        args.push((&t[i + 1..end - 1], i + 1));
        i = end;
    }
    if args.is_empty() {
        return None;
    }
    Some(Call { name, args, end: i })
}

fn escape(c: char) -> Option<char> {
    Some(match c {
        't' => '\t',
        'n' => '\n',
        'r' => '\r',
        'f' => '\x0c',
        'b' => '\x08',
        'a' => '\x07',
        'e' => '\x1b',
        _ => return None,
    })
}

/// Where a text being evaluated comes from: a macro's source and the offset of the
/// text in it (for error positions), or nothing (a value computed meanwhile).
#[derive(Clone, Copy)]
struct At<'s> {
    src: Option<&'s Rc<Source>>,
    base: usize,
}

impl At<'_> {
    const NONE: At<'static> = At { src: None, base: 0 };

    fn place(&self, off: usize) -> Option<String> {
        let src = self.src?;
        let (line, col) = src.position(self.base + off);
        Some(format!("{} line {line}, column {col} (macro {})", src.origin, src.name))
    }
}

impl<'w> Interp<'w> {
    pub fn new(world: &'w mut dyn World) -> Interp<'w> {
        Interp { world, steps: 0, depth: 0, waited_s: 0.0 }
    }

    /// Evaluates macro source `src` with `vars`.
    pub fn run(&mut self, src: &Rc<Source>, vars: &mut Vars) -> Result<String> {
        self.parse(vars, &src.text, At { src: Some(src), base: 0 })
    }

    /// Evaluates a top-level text: a `%next{}`/`%last{}` outside any loop ends it.
    pub fn run_top(&mut self, src: &Rc<Source>, vars: &mut Vars) -> Result<String> {
        let out = self.run(src, vars)?;
        for f in ["__next__", "__last__"] {
            vars.insert(f.into(), "0".into());
        }
        Ok(out)
    }

    fn take_flag(vars: &mut Vars, flag: &str) -> bool {
        let set = vars.get(flag).is_some_and(|v| truthy(v));
        if set {
            vars.insert(flag.into(), "0".into());
        }
        set
    }

    fn parse(&mut self, vars: &mut Vars, text: &str, at: At<'_>) -> Result<String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            return Err(MacroError { message: format!("macros nested more than {MAX_DEPTH} deep (a macro that calls itself?)"), place: at.place(0) });
        }
        let r = self.parse_inner(vars, text, at);
        self.depth -= 1;
        r
    }

    fn parse_inner(&mut self, vars: &mut Vars, text: &str, at: At<'_>) -> Result<String> {
        let b = text.as_bytes();
        let saved_stack = vars.get("callstack").cloned();
        let mut out = String::new();
        let (mut copied, mut i) = (0usize, 0usize);
        while i < b.len() {
            match b[i] {
                b'\\' if i + 1 < b.len() => {
                    out.push_str(&text[copied..i]);
                    let c = text[i + 1..].chars().next().unwrap_or('\\');
                    match escape(c) {
                        Some(e) => out.push(e),
                        None => {
                            if c.is_ascii_alphabetic() {
                                self.world.warn(&format!("control sequence '\\{c}' is reserved for future use"));
                            }
                            out.push(c);
                        }
                    }
                    i += 1 + c.len_utf8();
                    copied = i;
                }
                b'%' => {
                    let Some(call) = call_at(text, i) else {
                        i += 1;
                        continue;
                    };
                    if Self::take_flag(vars, "__abort__") {
                        return Ok(String::new());
                    }
                    if Self::take_flag(vars, "__return__") {
                        return Ok(out);
                    }
                    if Self::take_flag(vars, "__stop_eval__") {
                        out.push_str(&text[copied..]);
                        return Ok(out);
                    }
                    if Self::loop_flag(vars) {
                        // `%next{}`/`%last{}`: the rest up to the loop's body is cut.
                        return Ok(out);
                    }
                    out.push_str(&text[copied..i]);
                    let v = self.call(vars, &call, At { src: at.src, base: at.base }).map_err(|mut e| {
                        if e.place.is_none() {
                            e.place = at.place(i);
                        }
                        e
                    })?;
                    match &saved_stack {
                        Some(s) => vars.insert("callstack".into(), s.clone()),
                        None => vars.remove("callstack"),
                    };
                    out.push_str(&v);
                    if out.len() > MAX_OUTPUT {
                        return err(format!("output longer than {MAX_OUTPUT} bytes"));
                    }
                    i = call.end;
                    copied = i;
                }
                _ => i += 1,
            }
        }
        if Self::take_flag(vars, "__abort__") {
            return Ok(String::new());
        }
        if Self::take_flag(vars, "__return__") {
            return Ok(out);
        }
        Self::take_flag(vars, "__stop_eval__");
        if !Self::loop_flag(vars) {
            out.push_str(&text[copied..]);
        }
        Ok(out)
    }

    fn loop_flag(vars: &Vars) -> bool {
        ["__next__", "__last__"].iter().any(|f| vars.get(*f).is_some_and(|v| truthy(v)))
    }

    /// Evaluates argument `k` of `call` (empty if missing).
    fn arg(&mut self, vars: &mut Vars, call: &Call<'_>, k: usize, at: At<'_>) -> Result<String> {
        match call.args.get(k) {
            Some((t, off)) => self.parse(vars, t, At { src: at.src, base: at.base + off }),
            None => Ok(String::new()),
        }
    }

    fn raw<'c>(call: &Call<'c>, k: usize) -> Option<&'c str> {
        call.args.get(k).map(|(t, _)| *t)
    }

    /// `%{0}` = `name`, `%{1}…` = the evaluated arguments (in `outer`), later ones
    /// undefined; the call stack extended.
    fn set_args(&mut self, outer: &mut Vars, inner: Option<&mut Vars>, name: &str, call: &Call<'_>, skip: usize, at: At<'_>) -> Result<()> {
        let mut values = vec![name.to_string()];
        for k in skip..call.args.len() {
            values.push(self.arg(outer, call, k, at)?);
        }
        let target = match inner {
            Some(v) => v,
            None => outer,
        };
        let stack = match target.get("callstack") {
            Some(s) if !s.is_empty() => format!("{s},{name}"),
            _ => name.to_string(),
        };
        target.insert("callstack".into(), stack);
        let n = values.len();
        for (k, v) in values.into_iter().enumerate() {
            target.insert(k.to_string(), v);
        }
        let mut k = n;
        while target.remove(&k.to_string()).is_some() {
            k += 1;
        }
        Ok(())
    }

    fn call(&mut self, vars: &mut Vars, call: &Call<'_>, at: At<'_>) -> Result<String> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return err(format!("more than {MAX_STEPS} macro calls (a loop that does not end?)"));
        }
        let name = call.name;
        let builtin = name.strip_prefix("primitive").map(|n| n.strip_prefix(['-', '_']).unwrap_or(n));
        if builtin.is_none() {
            if let Some(src) = self.world.find_macro(name).filter(|s| truthy(&s.text)) {
                // A direct call: in the caller's variables (as `%include`).
                self.set_args(vars, None, name, call, 0, at)?;
                return self.run(&src, vars);
            }
        }
        let name = builtin.unwrap_or(name);
        if let Some(v) = self.builtin(vars, name, call, at)? {
            return Ok(v);
        }
        if self.world.is_primitive(name) {
            let mut args = Vec::with_capacity(call.args.len());
            for k in 0..call.args.len() {
                args.push(self.arg(vars, call, k, at)?);
            }
            while args.last().is_some_and(String::is_empty) {
                args.pop();
            }
            return self.world.primitive(name, &args, vars).or_else(|e| err(e));
        }
        err(format!("call to unknown macro '{name}' (`marsadm dump-all-macros` writes every macro there is)"))
    }

    /// A built-in construct, or `None` when `name` is none.
    fn builtin(&mut self, vars: &mut Vars, name: &str, call: &Call<'_>, at: At<'_>) -> Result<Option<String>> {
        let n_args = call.args.len();
        let v = match name {
            "" => self.variable(vars, call, at)?,
            "let" | "append" => {
                let var = self.arg(vars, call, 0, at)?;
                let value = self.arg(vars, call, 1, at)?;
                if name == "let" {
                    vars.insert(var, value);
                } else {
                    vars.entry(var).or_default().push_str(&value);
                }
                String::new()
            }
            "set" => {
                let var = self.arg(vars, call, 0, at)?;
                let delim = self.arg(vars, call, 1, at)?;
                let index = self.arg(vars, call, 2, at)?;
                let value = self.arg(vars, call, 3, at)?;
                let old = vars.get(&var).cloned().unwrap_or_default();
                let mut parts = split(&old, &delim)?;
                if index.is_empty() || index == "*" {
                    parts.push(value);
                } else {
                    let i = usize::try_from(int(number(&index))).map_err(|_| MacroError { message: format!("%set: index {index} below 0"), place: None })?;
                    if i > 1 << 20 {
                        return err(format!("%set: index {i} too large"));
                    }
                    if parts.len() <= i {
                        parts.resize(i + 1, String::new());
                    }
                    parts[i] = value;
                }
                vars.insert(var, parts.join(&delim));
                String::new()
            }
            "dump-vars" | "dump_vars" | "dumpvars" => {
                let mut keys: Vec<_> = vars.keys().filter(|k| !FLAGS.contains(&k.as_str())).cloned().collect();
                keys.sort();
                let mut s = String::new();
                for k in keys {
                    let _ = writeln!(s, "{k}='{}'", vars[&k]);
                }
                self.world.warn(&s);
                String::new()
            }
            "+" | "-" | "*" | "/" | "%" | "&" | "|" | "^" | "<<" | ">>" | "min" | "max" => {
                let first = self.arg(vars, call, 0, at)?;
                if n_args == 1 {
                    return Ok(Some(first.split(',').next().unwrap_or("").to_string()).map(|s| if s.is_empty() { "0".into() } else { s }));
                }
                let mut acc = number(&first);
                for k in 1..n_args {
                    let x = number(&self.arg(vars, call, k, at)?);
                    acc = match name {
                        "+" => acc + x,
                        "-" => acc - x,
                        "*" => acc * x,
                        "/" if x == 0.0 => return err("illegal division by zero"),
                        "/" => acc / x,
                        "%" => {
                            let (a, m) = (int(acc), int(x));
                            if m == 0 {
                                return err("illegal modulus zero");
                            }
                            // Perl: the result takes the sign of the right operand.
                            (((a % m) + m) % m) as f64
                        }
                        "&" => (int(acc) & int(x)) as f64,
                        "|" => (int(acc) | int(x)) as f64,
                        "^" => (int(acc) ^ int(x)) as f64,
                        "<<" => int(acc).checked_shl(u32::try_from(int(x)).unwrap_or(64)).unwrap_or(0) as f64,
                        ">>" => int(acc).checked_shr(u32::try_from(int(x)).unwrap_or(64)).unwrap_or(0) as f64,
                        "min" => acc.min(x),
                        _ => acc.max(x),
                    };
                }
                format_number(acc)
            }
            "<" | ">" | "<=" | ">=" | "==" | "!=" => {
                let (a, b) = (number(&self.arg(vars, call, 0, at)?), number(&self.arg(vars, call, 1, at)?));
                bool_str(match name {
                    "<" => a < b,
                    ">" => a > b,
                    "<=" => a <= b,
                    ">=" => a >= b,
                    "==" => a == b,
                    _ => a != b,
                })
            }
            "lt" | "gt" | "le" | "ge" | "eq" | "ne" => {
                let (a, b) = (self.arg(vars, call, 0, at)?, self.arg(vars, call, 1, at)?);
                bool_str(match name {
                    "lt" => a < b,
                    "gt" => a > b,
                    "le" => a <= b,
                    "ge" => a >= b,
                    "eq" => a == b,
                    _ => a != b,
                })
            }
            "=~" | "match" => {
                let s = self.arg(vars, call, 0, at)?;
                let re = self.arg(vars, call, 1, at)?;
                let opts = if n_args > 2 { self.arg(vars, call, 2, at)? } else { "m".into() };
                bool_str(regex(&re, &opts).is_some_and(|r| r.is_match(&s)))
            }
            "&&" | "and" | "||" | "or" => {
                let and = name == "&&" || name == "and";
                let mut v = self.arg(vars, call, 0, at)?;
                for k in 1..n_args {
                    if and && !truthy(&v) {
                        return Ok(Some("0".into()));
                    }
                    if !and && truthy(&v) {
                        return Ok(Some("1".into()));
                    }
                    v = self.arg(vars, call, k, at)?;
                }
                v
            }
            "!" | "not" => bool_str(!truthy(&self.arg(vars, call, 0, at)?)),
            "~" => format_number(!int(number(&self.arg(vars, call, 0, at)?)) as f64),
            "toupper" => self.arg(vars, call, 0, at)?.to_ascii_uppercase(),
            "tolower" => self.arg(vars, call, 0, at)?.to_ascii_lowercase(),
            "length" => self.arg(vars, call, 0, at)?.len().to_string(),
            "subst" => {
                let text = self.arg(vars, call, 0, at)?;
                let re = self.arg(vars, call, 1, at)?;
                let repl = self.arg(vars, call, 2, at)?;
                let opts = if n_args > 3 { self.arg(vars, call, 3, at)? } else { "m".into() };
                match regex(&re, &opts) {
                    Some(r) if opts.contains('g') => r.replace_all(&text, repl.as_str()).into_owned(),
                    Some(r) => r.replace(&text, repl.as_str()).into_owned(),
                    None => text,
                }
            }
            _ if name.ends_with("printf") => {
                // The format is taken as written (not evaluated), as in the original.
                let fmt = Self::raw(call, 0).unwrap_or("").to_string();
                let mut args = Vec::new();
                for k in 1..n_args {
                    args.push(self.arg(vars, call, k, at)?);
                }
                sprintf(&fmt, &args)
            }
            "human-numbers" | "human-number" | "humannumbers" | "humannumber" | "human_numbers" | "human_number" => {
                let unit = self.arg(vars, call, 0, at)?;
                let delim = if n_args > 1 { self.arg(vars, call, 1, at)? } else { String::new() };
                let usep = if n_args > 2 { self.arg(vars, call, 2, at)? } else { String::new() };
                let mut nums = Vec::new();
                for k in 3..n_args {
                    nums.push(number(&self.arg(vars, call, k, at)?));
                }
                if nums.is_empty() {
                    self.world.warn("macro human-numbers: no number arguments given");
                }
                human_numbers(&unit, if delim.is_empty() { "/" } else { &delim }, if usep.is_empty() { " " } else { &usep }, &nums)
            }
            "human-seconds" | "human_seconds" | "humanseconds" => human_seconds(&self.arg(vars, call, 0, at)?),
            "progress" => {
                let len = number(&self.arg(vars, call, 0, at)?);
                let len = if len <= 0.0 { 20.0 } else { len.min(1000.0) };
                if n_args < 2 {
                    let v = self.world.primitive("summary-vector", &[":".into()], vars).or_else(|e| err(e))?;
                    let mut p = v.split(':').map(number);
                    progress(len, p.next().unwrap_or(0.0), p.next().unwrap_or(0.0), p.next().unwrap_or(0.0))
                } else {
                    let (a, b, c) = (self.arg(vars, call, 1, at)?, self.arg(vars, call, 2, at)?, self.arg(vars, call, 3, at)?);
                    progress(len, number(&a), number(&b), number(&c))
                }
            }
            "if" | "unless" => {
                let cond = truthy(&self.arg(vars, call, 0, at)?) == (name == "if");
                if cond {
                    if n_args < 2 {
                        return err(format!("undefined {name}-part"));
                    }
                    self.arg(vars, call, 1, at)?
                } else {
                    self.arg(vars, call, 2, at)?
                }
            }
            "elsif" | "elseif" | "elsunless" | "elseunless" => {
                let negate = name.ends_with("unless");
                let mut k = 0;
                loop {
                    if k + 1 >= n_args {
                        break if k < n_args { self.arg(vars, call, k, at)? } else { String::new() };
                    }
                    if truthy(&self.arg(vars, call, k, at)?) != negate {
                        break self.arg(vars, call, k + 1, at)?;
                    }
                    k += 2;
                }
            }
            "while" | "until" => {
                let mut out = String::new();
                while truthy(&self.arg(vars, call, 0, at)?) == (name == "while") {
                    out.push_str(&self.arg(vars, call, 1, at)?);
                    if self.loop_control(vars, &out)? {
                        break;
                    }
                }
                out
            }
            "for" => {
                self.arg(vars, call, 0, at)?;
                let mut out = String::new();
                while truthy(&self.arg(vars, call, 1, at)?) {
                    out.push_str(&self.arg(vars, call, 3, at)?);
                    if self.loop_control(vars, &out)? {
                        break;
                    }
                    self.arg(vars, call, 2, at)?;
                }
                out
            }
            "foreach" => {
                let var = self.arg(vars, call, 0, at)?;
                let text = self.arg(vars, call, 1, at)?;
                let delim = self.arg(vars, call, 2, at)?;
                let mut out = String::new();
                for item in split(&text, &delim)? {
                    vars.insert(var.clone(), item);
                    out.push_str(&self.arg(vars, call, 3, at)?);
                    if self.loop_control(vars, &out)? {
                        break;
                    }
                }
                out
            }
            "get-glob" | "getglob" | "get_glob" | "foreach-glob" | "foreachglob" | "foreach_glob" => {
                let pattern = self.arg(vars, call, 0, at)?;
                let var = self.arg(vars, call, 1, at)?;
                let paths = match self.world.glob(&pattern) {
                    Ok(p) => p,
                    Err(e) => return err(format!("%{name}{{{pattern}}}: {e}")),
                };
                if name.starts_with("get") {
                    paths.join(&self.arg(vars, call, 2, at)?)
                } else {
                    let mut out = String::new();
                    for path in paths {
                        vars.insert(var.clone(), path);
                        out.push_str(&self.arg(vars, call, 2, at)?);
                        if self.loop_control(vars, &out)? {
                            break;
                        }
                    }
                    out
                }
            }
            "sleep" => {
                let secs = number(&self.arg(vars, call, 0, at)?);
                self.world.sleep(secs.clamp(0.0, MAX_SLEEP_S));
                String::new()
            }
            "timeout" => {
                let secs = number(&self.arg(vars, call, 0, at)?).clamp(0.0, MAX_SLEEP_S);
                match self.world.timeout() {
                    None => self.world.sleep(secs),
                    Some(limit) if self.waited_s >= limit => return err(format!("%timeout: the --timeout of {limit} s is reached")),
                    Some(limit) => {
                        let now = secs.min(limit - self.waited_s);
                        self.world.sleep(now);
                        self.waited_s += now;
                    }
                }
                String::new()
            }
            "protect" => Self::raw(call, 0).unwrap_or("").to_string(),
            "eval" => {
                let times = int(number(&self.arg(vars, call, 0, at)?)).clamp(0, 1000);
                let mut x = Self::raw(call, 1).unwrap_or("").to_string();
                for _ in 0..times {
                    x = self.parse(vars, &x, At::NONE)?;
                }
                x
            }
            "eval-down" | "evaldown" | "eval_down" => {
                let mut x = Self::raw(call, 0).unwrap_or("").to_string();
                let mut rounds = 0;
                loop {
                    let next = self.parse(vars, &x, At::NONE)?;
                    if next == x {
                        break x;
                    }
                    rounds += 1;
                    if rounds > 1000 {
                        return err("%eval-down: no fixed point after 1000 rounds");
                    }
                    x = next;
                }
            }
            "tmp" => {
                let mut copy = vars.clone();
                self.arg(&mut copy, call, 0, at)?
            }
            "call" | "include" => {
                let target = self.arg(vars, call, 0, at)?;
                let Some(src) = self.world.find_macro(&target) else {
                    return err(format!("cannot find macro '{target}'"));
                };
                if name == "call" {
                    let mut copy = vars.clone();
                    self.set_args(vars, Some(&mut copy), &target, call, 1, at)?;
                    self.run(&src, &mut copy)?
                } else {
                    self.set_args(vars, None, &target, call, 1, at)?;
                    self.run(&src, vars)?
                }
            }
            "callstack" => vars.get("callstack").cloned().unwrap_or_default(),
            _ if name.starts_with("warn") => {
                let text = self.arg(vars, call, 0, at)?;
                self.world.warn(&text);
                String::new()
            }
            "die" => return err(self.arg(vars, call, 0, at)?),
            "abort" | "return" | "stop-eval" | "next" | "last" => {
                vars.insert(name.into(), "1".into());
                let flag = match name {
                    "abort" => "__abort__",
                    "stop-eval" => "__stop_eval__",
                    "next" => "__next__",
                    "last" => "__last__",
                    _ => "__return__",
                };
                vars.insert(flag.into(), "1".into());
                String::new()
            }
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    /// After a loop body: whether the loop ends (`%last{}`), consuming the flags.
    fn loop_control(&mut self, vars: &mut Vars, out: &str) -> Result<bool> {
        if out.len() > MAX_OUTPUT {
            return err(format!("output longer than {MAX_OUTPUT} bytes"));
        }
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return err(format!("more than {MAX_STEPS} macro calls (a loop that does not end?)"));
        }
        if Self::take_flag(vars, "__next__") {
            return Ok(false);
        }
        Ok(Self::take_flag(vars, "__last__"))
    }

    /// `%{name}`, `%{name}{++}`, `%{++}{name}`, `%{name}{delim}{index}`.
    fn variable(&mut self, vars: &mut Vars, call: &Call<'_>, at: At<'_>) -> Result<String> {
        let (first, second) = (Self::raw(call, 0).unwrap_or(""), Self::raw(call, 1));
        if first == "++" || first == "--" {
            let var = self.arg(vars, call, 1, at)?;
            let new = step(vars.get(&var).map(String::as_str), first == "++");
            vars.insert(var, new.clone());
            return Ok(new);
        }
        let var = self.arg(vars, call, 0, at)?;
        if var.is_empty() {
            self.world.warn("macro processor: varname sub-expanded from argument is empty");
        }
        let value = match vars.get(&var) {
            Some(v) => v.clone(),
            None => match self.world.value(&var, vars) {
                Some(v) => v.or_else(|e| err(e))?,
                None => String::new(),
            },
        };
        let mut rest = 1;
        if let Some(op @ ("++" | "--")) = second {
            vars.insert(var.clone(), step(Some(&value), op == "++"));
            rest = 2;
        }
        if call.args.len() >= rest + 2 {
            let delim = self.arg(vars, call, rest, at)?;
            let index = self.arg(vars, call, rest + 1, at)?;
            let parts = split(&value, &delim)?;
            let i = if index.is_empty() || index == "*" { parts.len() as i64 - 1 } else { int(number(&index)) };
            let i = if i < 0 { parts.len() as i64 + i } else { i };
            return match usize::try_from(i).ok().and_then(|i| parts.get(i)) {
                Some(p) => Ok(p.clone()),
                None => err(format!("expansion of variable '{var}' yields no element {index}")),
            };
        }
        Ok(value)
    }
}

/// Perl's `++`/`--` on a variable's value: letters-then-digits count as a string
/// (`a9` → `b0`, `zz` → `aaa`), anything else numerically.
fn step(v: Option<&str>, up: bool) -> String {
    let v = v.unwrap_or("");
    let magic = up && !v.is_empty() && {
        let letters = v.trim_end_matches(|c: char| c.is_ascii_digit());
        letters.chars().all(|c| c.is_ascii_alphabetic())
    };
    if !magic {
        return format_number(number(v) + if up { 1.0 } else { -1.0 });
    }
    let mut bytes = v.as_bytes().to_vec();
    let mut i = bytes.len();
    loop {
        if i == 0 {
            let first = match bytes[0] {
                b'0'..=b'9' => b'1',
                b'a'..=b'z' => b'a',
                _ => b'A',
            };
            bytes.insert(0, first);
            break;
        }
        i -= 1;
        match bytes[i] {
            b'9' => bytes[i] = b'0',
            b'z' => bytes[i] = b'a',
            b'Z' => bytes[i] = b'A',
            c => {
                bytes[i] = c + 1;
                break;
            }
        }
    }
    String::from_utf8(bytes).unwrap_or_default()
}

fn regex(re: &str, opts: &str) -> Option<Regex> {
    RegexBuilder::new(re)
        .case_insensitive(opts.contains('i'))
        .multi_line(opts.contains('m'))
        .dot_matches_new_line(opts.contains('s'))
        .ignore_whitespace(opts.contains('x'))
        .size_limit(1 << 20)
        .build()
        .ok()
}

/// Perl's `split(DELIM, text)`: DELIM a regular expression, one blank: on runs of
/// whitespace after leading whitespace, empty: into characters; trailing empty fields
/// dropped.
fn split(text: &str, delim: &str) -> Result<Vec<String>> {
    let mut parts: Vec<String> = if delim == " " {
        text.split_whitespace().map(String::from).collect()
    } else if delim.is_empty() {
        text.chars().map(String::from).collect()
    } else {
        let Some(r) = regex(delim, "") else { return err(format!("bad separator /{delim}/")) };
        if r.is_match("") {
            text.chars().map(String::from).collect()
        } else {
            r.split(text).map(String::from).collect()
        }
    };
    while parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    Ok(parts)
}

/// Perl's `sprintf` for `%[flags][width][.precision](d|i|u|s|c|f|F|e|E|g|G|x|X|o|b|%)`.
pub fn sprintf(fmt: &str, args: &[String]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::from("%");
        let conv = loop {
            match chars.next() {
                Some(x) if "-+ 0#.123456789".contains(x) => spec.push(x),
                Some('*') => spec.push_str(&int(number(args.next().map_or("", |s| s.as_str()))).to_string()),
                Some(x) => break Some(x),
                None => break None,
            }
        };
        let Some(conv) = conv else {
            out.push_str(&spec);
            break;
        };
        if conv == '%' {
            out.push('%');
            continue;
        }
        let flags: String = spec[1..].chars().take_while(|c| "-+ 0#".contains(*c)).collect();
        let rest = &spec[1 + flags.len()..];
        let (width, prec) = match rest.split_once('.') {
            Some((w, p)) => (w.parse::<usize>().ok(), Some(p.parse::<usize>().unwrap_or(0))),
            None => (rest.parse::<usize>().ok(), None),
        };
        let width = width.map(|w| w.min(4096));
        let prec = prec.map(|p| p.min(100));
        let arg = args.next().map_or("", |s| s.as_str());
        let x = number(arg);
        let sign = |neg: bool| if neg { "-" } else if flags.contains('+') { "+" } else if flags.contains(' ') { " " } else { "" };
        let (body, numeric) = match conv {
            'd' | 'i' | 'u' => {
                let v = int(x);
                (format!("{}{}", sign(v < 0), v.unsigned_abs()), true)
            }
            's' => (prec.map_or(arg.to_string(), |p| arg.chars().take(p).collect()), false),
            'c' => (char::from_u32(int(x) as u32).map(String::from).unwrap_or_default(), false),
            'f' | 'F' => (format!("{}{:.*}", sign(x < 0.0), prec.unwrap_or(6), x.abs()), true),
            'e' | 'E' => {
                let s = format!("{:.*e}", prec.unwrap_or(6), x.abs());
                let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                let e: i32 = e.parse().unwrap_or(0);
                let s = format!("{}{m}e{}{:02}", sign(x < 0.0), if e < 0 { '-' } else { '+' }, e.abs());
                (if conv == 'E' { s.to_uppercase() } else { s }, true)
            }
            'g' | 'G' => {
                let s = format!("{}{}", sign(x < 0.0), format_number(x.abs()));
                (if conv == 'G' { s.to_uppercase() } else { s }, true)
            }
            'x' => (format!("{}{:x}", if flags.contains('#') && int(x) != 0 { "0x" } else { "" }, int(x)), true),
            'X' => (format!("{}{:X}", if flags.contains('#') && int(x) != 0 { "0X" } else { "" }, int(x)), true),
            'o' => (format!("{:o}", int(x)), true),
            'b' => (format!("{:b}", int(x)), true),
            other => {
                out.push_str(&spec);
                out.push(other);
                continue;
            }
        };
        let w = width.unwrap_or(0);
        let len = body.chars().count();
        if len >= w {
            out.push_str(&body);
        } else if flags.contains('-') {
            out.push_str(&body);
            out.extend(std::iter::repeat_n(' ', w - len));
        } else if flags.contains('0') && numeric {
            let (s, digits) = body.split_at(body.find(|c: char| c.is_ascii_alphanumeric()).unwrap_or(0));
            out.push_str(s);
            out.extend(std::iter::repeat_n('0', w - len));
            out.push_str(digits);
        } else {
            out.extend(std::iter::repeat_n(' ', w - len));
            out.push_str(&body);
        }
    }
    out
}

/// `%human-numbers{UNIT}{DELIM}{USEP}{n…}` (see the documentation).
pub fn human_numbers(unit: &str, delim: &str, usep: &str, nums: &[f64]) -> String {
    let max = nums.iter().copied().fold(0.0f64, f64::max);
    let k = 1024.0f64;
    let unit = if unit.is_empty() {
        if max >= k.powi(4) * 9.99 {
            "T"
        } else if max >= k.powi(3) * 9.99 {
            "G"
        } else if max >= k.powi(2) {
            "M"
        } else if max >= k {
            "K"
        } else {
            ""
        }
    } else {
        unit
    };
    let decimal = unit.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    let base: f64 = if decimal { 1000.0 } else { 1024.0 };
    let lower = unit.to_ascii_lowercase();
    let (power, name) = if lower.contains('t') {
        (4, "T")
    } else if lower.contains('g') {
        (3, "G")
    } else if lower.contains('m') {
        (2, "M")
    } else if lower.contains('k') {
        (1, "K")
    } else {
        (0, "")
    };
    let unit_name = match (power, decimal) {
        (0, _) => "B".to_string(),
        (_, true) => format!("{name}B"),
        (_, false) => format!("{name}iB"),
    };
    let parts: Vec<String> = nums
        .iter()
        .map(|n| if power == 0 { format!("{}", (n + 0.1).trunc().max(0.0) as i64) } else { format!("{:.3}", n / base.powi(power)) })
        .collect();
    if nums.is_empty() {
        return usep.to_string();
    }
    format!("{}{usep}{unit_name}", parts.join(delim))
}

/// `%human-seconds{s}`: `HH:MM:SS`, `--:--:--` for nothing or a negative value.
pub fn human_seconds(s: &str) -> String {
    if s.is_empty() || number(s) < 0.0 {
        return "--:--:--".into();
    }
    let t = int(number(s));
    format!("{:02}:{:02}:{:02}", t / 3600, t % 3600 / 60, t % 60)
}

/// `%progress{LEN}{MIN}{MID}{MAX}`: `[===>:::...]`.
pub fn progress(len: f64, min: f64, mid: f64, max: f64) -> String {
    let min = min.max(0.0);
    let mid = mid.max(min);
    let max = max.max(mid).max(1.0);
    let mut out = String::from("[");
    let mut p1 = len * min / max;
    out.extend(std::iter::repeat_n('=', (p1 - 1.0).max(0.0) as usize));
    if p1 < len {
        out.push('>');
        p1 += 1.0;
    }
    let p2 = len * mid / max;
    if p1 < p2 {
        out.extend(std::iter::repeat_n(':', (p2 - p1) as usize));
    }
    if p2 < len {
        out.extend(std::iter::repeat_n('.', (len - p2) as usize));
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A world with macros from a table and two primitives.
    #[derive(Default)]
    struct Test {
        macros: HashMap<String, Rc<Source>>,
        warnings: Vec<String>,
        slept: Vec<f64>,
        timeout: Option<f64>,
    }

    impl World for Test {
        fn find_macro(&mut self, name: &str) -> Option<Rc<Source>> {
            self.macros.get(name).cloned()
        }
        fn is_primitive(&self, name: &str) -> bool {
            matches!(name, "is-primary" | "summary-vector")
        }
        fn primitive(&mut self, name: &str, args: &[String], vars: &Vars) -> std::result::Result<String, String> {
            match name {
                "is-primary" => Ok(if args.first().map_or(vars.get("res").map(String::as_str), |a| Some(a.as_str())) == Some("r0") { "1" } else { "0" }.into()),
                _ => Ok("5:10:20".into()),
            }
        }
        fn warn(&mut self, message: &str) {
            self.warnings.push(message.into());
        }
        fn glob(&mut self, pattern: &str) -> std::result::Result<Vec<String>, String> {
            Ok(["a", "b", "c"].iter().map(|x| format!("{pattern}{x}")).collect())
        }
        fn timeout(&self) -> Option<f64> {
            self.timeout
        }
        fn sleep(&mut self, secs: f64) {
            self.slept.push(secs);
        }
    }

    #[test]
    fn globs_sleeps_and_timeouts() {
        assert_eq!(ev("%get-glob{/mars/x-}{v}{,}"), "/mars/x-a,/mars/x-b,/mars/x-c");
        assert_eq!(ev("%foreach-glob{p}{v}{[%{v}]}"), "[pa][pb][pc]");
        let mut w = Test::default();
        ev_in(&mut w, "%sleep{1.5}%sleep{-3}%sleep{99999}%timeout{2}").unwrap();
        assert_eq!(w.slept, [1.5, 0.0, MAX_SLEEP_S, 2.0]);
        let mut w = Test { timeout: Some(3.0), ..Test::default() };
        let e = ev_in(&mut w, "%timeout{2}%timeout{2}%timeout{2}").unwrap_err().to_string();
        assert_eq!(w.slept, [2.0, 1.0]);
        assert!(e.contains("--timeout of 3 s is reached"), "{e}");
    }

    fn ev_in(w: &mut Test, text: &str) -> Result<String> {
        let mut vars = new_vars(&[("cmd", "test".into()), ("res", "r0".into()), ("host", "node1".into())]);
        let src = Rc::new(Source::written("test", "--macro", text));
        Interp::new(w).run_top(&src, &mut vars)
    }

    fn ev(text: &str) -> String {
        ev_in(&mut Test::default(), text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn text_variables_and_escapes() {
        assert_eq!(ev("%{res} on %{host}"), "r0 on node1");
        assert_eq!(ev("100% done, %x and 50%"), "100% done, %x and 50%");
        assert_eq!(ev(r"a\tb\{c\}\\"), "a\tb{c}\\");
        assert_eq!(ev("%{nothing}|"), "|");
        assert_eq!(ev("%let{x}{res}%{%{x}}"), "r0");
        assert_eq!(ev("%if {1}{a}"), "%if {1}{a}");
        assert_eq!(ev("%if{1}{a} {b}"), "a {b}");
        assert_eq!(ev("%{res}{x}"), "r0");
        assert_eq!(ev("a}b{c"), "a}b{c");
        assert_eq!(ev("100% %let{a{x}"), "100% %let{a{x}");
    }

    #[test]
    fn comments_and_continuations_in_written_text() {
        assert_eq!(ev("x # comment\ny"), "x \ny");
        assert_eq!(ev("w \\\n     cont"), "w cont");
        assert_eq!(ev("a/* gone */b // also gone\nc http://x"), "ab \nc http://x");
        assert_eq!(ev(r"one\ntwo"), "one\ntwo");
    }

    #[test]
    fn counters_arrays_and_assignment() {
        assert_eq!(ev("%let{i}{5}%{i}{++}%{i}"), "56");
        assert_eq!(ev("%let{i}{5}%{++}{i}"), "6");
        assert_eq!(ev("%let{s}{a9}%{++}{s} %let{z}{zz}%{++}{z} %{--}{q}"), "b0 aaa -1");
        assert_eq!(ev("%let{l}{a,b,c}%{l}{,}{1} %{l}{,}{*} %{l}{,}{-3}"), "b c a");
        assert_eq!(ev("%let{l}{a,b,c}%set{l}{,}{1}{B}%set{l}{,}{5}{G}%{l}"), "a,B,c,,,G");
        assert_eq!(ev("%append{s}{x}%append{s}{y}%{s}"), "xy");
        assert!(ev_in(&mut Test::default(), "%let{l}{a}%{l}{,}{3}").is_err());
    }

    #[test]
    fn arithmetic_and_comparisons_as_perl() {
        assert_eq!(ev("%+{1}{2}{3} %-{10}{4} %*{2}{2.5} %/{1}{3} %/{6}{3}"), "6 6 5 0.333333333333333 2");
        assert_eq!(ev("%%{-7}{3} %%{7.9}{2} %<<{1}{10} %>>{1024}{3}"), "2 1 1024 128");
        assert_eq!(ev("%+{abc} %+{1,5} %+{} %+{12abc}{1}"), "abc 1 0 13");
        assert_eq!(ev("%min{5}{3}{9} %max{5}{3}{9}"), "3 9");
        assert_eq!(ev("[%<{1}{2}][%>{1}{2}][%=={1.0}{1}][%eq{1.0}{1}][%lt{a}{b}]"), "[1][][1][][1]");
        assert!(ev_in(&mut Test::default(), "%/{1}{0}").unwrap_err().message.contains("division by zero"));
        assert!(ev_in(&mut Test::default(), "%%{1}{0}").is_err());
    }

    #[test]
    fn truth_logic_and_conditions() {
        assert_eq!(ev("%if{0.0}{T}{F}%if{ }{T}{F}%if{}{T}{F}%if{0}{T}{F}"), "TTFF");
        assert_eq!(ev("%unless{0}{U}"), "U");
        assert_eq!(ev("%elsif{0}{A}{1}{B}{C}|%elsif{0}{A}{0}{B}{C}|%elsif{0}{A}"), "B|C|");
        assert_eq!(ev("[%and{1}{%{x}}][%and{}{x}][%or{abc}{d}][%or{}{d}][%not{0}][%!{1}]"), "[][0][1][d][1][]");
        assert!(ev_in(&mut Test::default(), "%if{1}").unwrap_err().message.contains("if-part"));
    }

    #[test]
    fn loops() {
        assert_eq!(ev("%foreach{v}{a,b,,c}{,}{<%{v}>}"), "<a><b><><c>");
        assert_eq!(ev("%foreach{v}{ x  y }{ }{<%{v}>}"), "<x><y>");
        assert_eq!(ev("%foreach{v}{a1b22c}{[0-9]+}{%{v}.}"), "a.b.c.");
        assert_eq!(ev("%let{i}{0}%while{%<{%{i}}{3}}{%{i}{++}}"), "012");
        assert_eq!(ev("%let{i}{3}%until{%=={%{i}}{0}}{%{--}{i}}"), "210");
        assert_eq!(ev("%for{%let{i}{0}}{%<{%{i}}{3}}{%{++}{i}}{[%{i}]}"), "[0][1][2]");
        assert_eq!(ev("%foreach{v}{1,2,3,4}{,}{%if{%=={%{v}}{3}}{%last{}}%{v}}"), "12");
        assert_eq!(ev("%foreach{v}{1,2,3}{,}{%if{%=={%{v}}{2}}{%next{}}<%{v}>}"), "<1><3>");
    }

    #[test]
    fn strings() {
        assert_eq!(ev("%toupper{ab} %tolower{CD} %length{hello}"), "AB cd 5");
        assert_eq!(ev("%subst{Hello}{(l+)}{<$1>} %subst{aaa}{a}{b}{g} %subst{abc}{(}{x}"), "He<ll>o bbb abc");
        assert_eq!(ev("[%match{abc}{^a}][%=~{ABC}{b}{i}][%match{abc}{(}]"), "[1][1][]");
        assert_eq!(ev("%sprintf{%5d|%-4s|%05.1f|%x|%%}{42}{ab}{3.14159}{255}"), "   42|ab  |003.1|ff|%");
        assert_eq!(ev("%printf{%s-%s}{a}"), "a-");
        assert_eq!(ev("%protect{%{res}}"), "%{res}");
        assert_eq!(ev("%let{x}{%protect{%{res}}}%eval{1}{%{x}}|%eval{2}{%{x}}|%eval{0}{%{x}}"), "%{res}|r0|%{x}");
    }

    #[test]
    fn human_forms_and_progress() {
        assert_eq!(ev("%human-numbers{}{}{}{1000}"), "1000 B");
        assert_eq!(ev("%human-numbers{}{ }{ }{1024}{2048}"), "1.000 2.000 KiB");
        assert_eq!(ev("%human-numbers{k}{}{}{123456}"), "123.456 KB");
        assert_eq!(ev("%human-numbers{G}{,}{:}{1073741824}{0}"), "1.000,0.000:GiB");
        assert_eq!(ev("%human-numbers{}{}{}{12345678}{99999999999}"), "0.011/93.132 GiB");
        assert_eq!(ev("%human-seconds{90061.7} %human-seconds{} %human-seconds{-1}"), "25:01:01 --:--:-- --:--:--");
        assert_eq!(ev("%progress{20}{5}{10}{20}"), "[====>::::..........]");
        assert_eq!(ev("%progress{10}{0}{0}{0}"), "[>..........]");
        assert_eq!(ev("%progress{20}{20}{20}{20}"), "[===================]");
        assert_eq!(ev("%progress{5}{1}{2}{3}"), "[>.]");
        assert_eq!(ev("%progress{20}"), "[====>::::..........]");
    }

    #[test]
    fn macros_calls_scopes_and_primitives() {
        let mut w = Test::default();
        w.macros.insert("twice".into(), Rc::new(Source::written("twice", "twice.tpl", "%{1}%{1}%let{seen}{yes}")));
        w.macros.insert("stack".into(), Rc::new(Source::written("stack", "stack.tpl", "%callstack{}")));
        assert_eq!(ev_in(&mut w, "%twice{ab}[%{seen}]").unwrap(), "abab[yes]");
        assert_eq!(ev_in(&mut w, "%call{twice}{x}[%{seen}]").unwrap(), "xx[]");
        assert_eq!(ev_in(&mut w, "%include{twice}{y}[%{seen}][%{0}]").unwrap(), "yy[yes][twice]");
        assert_eq!(ev_in(&mut w, "%call{stack}").unwrap(), "test,stack");
        assert_eq!(ev_in(&mut w, "%tmp{%let{res}{r9}%is-primary{}}%is-primary{}%is-primary{r0}").unwrap(), "011");
        // A macro overrides a built-in; `%primitive-` reaches the built-in.
        w.macros.insert("if".into(), Rc::new(Source::written("if", "if.tpl", "IF")));
        assert_eq!(ev_in(&mut w, "%if{1}{a}|%primitive-if{1}{a}").unwrap(), "IF|a");
        let e = ev_in(&mut w, "ok %nosuch{}").unwrap_err();
        assert!(e.message.contains("unknown macro 'nosuch'"), "{e}");
        assert_eq!(e.place.as_deref(), Some("--macro line 1, column 4 (macro test)"));
    }

    #[test]
    fn errors_say_where_in_a_file() {
        let mut w = Test::default();
        let text = "# a template\nline two\n  %if{1}{%die{stop here}}\n";
        w.macros.insert("bad".into(), Rc::new(Source::written("bad", "/etc/marsadm/bad.tpl", text)));
        let e = ev_in(&mut w, "%bad{}").unwrap_err();
        assert_eq!(e.to_string(), "/etc/marsadm/bad.tpl line 3, column 10 (macro bad): stop here");
        let e = ev_in(&mut w, "\\\n   %warn{x}%nosuch{}").unwrap_err();
        assert_eq!(e.place.as_deref(), Some("--macro line 2, column 12 (macro test)"));
    }

    #[test]
    fn hostile_templates_are_bounded() {
        let mut w = Test::default();
        w.macros.insert("loop".into(), Rc::new(Source::written("loop", "loop.tpl", "%loop{}")));
        assert!(ev_in(&mut w, "%loop{}").unwrap_err().message.contains("nested more than"));
        assert!(ev_in(&mut w, "%while{1}{x}").unwrap_err().message.contains("does not end"));
        assert!(ev_in(&mut w, "%let{x}{a}%while{1}{%append{x}{%{x}}}").is_err());
        assert!(ev_in(&mut w, "%eval-down{%protect{%%{1}{2}x}}").is_ok());
        assert!(ev_in(&mut w, "%let{a}{%protect{%{a}x}}%eval-down{%{a}}").is_err());
        // More than 20 brace levels inside an argument: not an argument (as the original).
        let nested = |n: usize| format!("%if{{1}}{{{}x{}}}", "{".repeat(n), "}".repeat(n));
        assert_eq!(ev(&nested(MAX_NESTING)), format!("{}x{}", "{".repeat(MAX_NESTING), "}".repeat(MAX_NESTING)));
        assert!(ev_in(&mut w, &nested(MAX_NESTING + 1)).unwrap_err().message.contains("if-part"));
        for text in ["%", "%{", "%}", "\\", "%{}{", "%set{x}{,}{99999999}{y}", "%sprintf{%999999999d}{1}", "%progress{1e300}{1}{2}{3}", "%<<{1}{999}", "%{x}{(}{1}"] {
            let _ = ev_in(&mut w, text);
        }
    }

    #[test]
    fn numbers_as_perl_reads_and_prints_them() {
        for (s, v) in [("12", 12.0), (" 3.5x", 3.5), ("-2e3", -2000.0), ("0x1F", 0.0), ("abc", 0.0), (".5", 0.5), ("5.", 5.0), ("1,9", 1.0), ("", 0.0)] {
            assert_eq!(number(s), v, "{s}");
        }
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(1e20), "1e+20");
        assert_eq!(format_number(-2.5), "-2.5");
    }
}
