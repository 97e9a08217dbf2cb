//! The original marsadm's primitive macros: all 236 names its view macros offer (and the
//! few more its complex macros call), each computed here with the original's meaning,
//! or refused with the reason it has none in this implementation. One table,
//! [`PRIMITIVES`]; docu/view-primitives.md is checked against it
//! (test `the_documented_table_is_the_code_table`).
//!
//! A primitive reads the `/mars` tree as this host (or `--host H`) sees it. Most take
//! their values from the view's one computation of a resource's state
//! ([`view::resource_state`]), made once per resource per evaluation ([`Here`]).

use std::collections::BTreeMap;
use std::rc::Rc;

use mars_core::handover::{Wait, TAKEOVER_WAIT};
use mars_core::lamport::parse_stamp;
use mars_core::replication::{Stop, REPLAY_STOPPED};
use mars_core::syncruns::{SYNC_REFUSED, SYNC_REFUSED_HINT};
use mars_core::tree::{
    LogName, ReplayLink, ACTSIZE_PREFIX, ACTUAL_PREFIX, DATA_PREFIX, DISK_ERROR, IF_COMPLETION_STAMP, IPS_DIR, IP_PREFIX, NONE, PRIMARY, REPLAY_PREFIX,
    SYSTEMD_START_UNIT, SYSTEMD_STOP_UNIT, TIME, UUID, VERSION_PREFIX,
};

use super::primitives::{self, Prim, Work};
use super::resource::{device_path, members, resource_dir, resources};
use super::view::{self, Macro, ResourceState};
use crate::context::{globals, Context};
use crate::error::{errno_text, Error, Result};
use crate::liveness;
use crate::macrolang::format_number;
use crate::tree::real_time_ns;

/// What a primitive is here.
#[derive(Clone, Copy)]
pub enum Status {
    /// Computed with the original's meaning (the note says what it gives).
    Here(Fun),
    /// A deprecated alias of another primitive (the original warns when it is used).
    Alias(&'static str),
    /// No meaning in this implementation; the note says why.
    NotHere,
}

/// A primitive: `args` are the evaluated arguments of `%name{…}` (or what follows the
/// resource on the command line of `view-<name> RES …`).
pub type Fun = fn(&mut Here<'_>, &[String]) -> Result<String>;

pub struct Primitive {
    pub name: &'static str,
    pub status: Status,
    /// What it gives here, or why it is not here.
    pub note: &'static str,
    /// Of the cluster or this host, not of a resource: `view-<name>` takes no resource.
    pub cluster: bool,
}

/// Whether `name` is one of the original's 236 primitive names (or one its complex
/// macros call directly), and what it is here.
pub fn find(name: &str) -> Option<&'static Primitive> {
    PRIMITIVES.binary_search_by(|p| p.name.cmp(name)).ok().map(|i| &PRIMITIVES[i]).or_else(|| EXTRA.iter().find(|p| p.name == name))
}

/// The evaluation of primitives for one resource (`%{res}`; empty for cluster-wide
/// ones), with each resource's state computed once (a clone shares those computed).
#[derive(Clone)]
pub struct Here<'c> {
    pub ctx: &'c Context,
    pub res: String,
    states: BTreeMap<String, Rc<ResourceState>>,
}

impl<'c> Here<'c> {
    pub fn new(ctx: &'c Context, res: &str) -> Self {
        Here { ctx, res: res.to_owned(), states: BTreeMap::new() }
    }

    /// For the resource of state `s`, computed already.
    pub fn with_state(ctx: &'c Context, s: Rc<ResourceState>) -> Self {
        Here { ctx, res: s.name.clone(), states: BTreeMap::from([(s.name.clone(), s)]) }
    }

    /// The value of primitive `name` with `args`.
    pub fn value(&mut self, name: &str, args: &[String]) -> Result<String> {
        let p = find(name).ok_or_else(|| Error::Usage(format!("call to unknown macro '{name}'")))?;
        match p.status {
            Status::Here(f) => f(self, args),
            Status::Alias(to) => {
                eprintln!("marsadm: warning: deprecated: %{name}{{}} is now %{to}{{}}");
                self.value(to, args)
            }
            Status::NotHere => Err(Error::Usage(format!("%{name}{{}} is not applicable in this implementation: {}", p.note))),
        }
    }

    pub fn state(&mut self) -> Result<Rc<ResourceState>> {
        if self.res.is_empty() {
            return Err(Error::Usage("this value belongs to a resource: give one (view-<name> RES, or %let{res}{RES})".into()));
        }
        if let Some(s) = self.states.get(&self.res) {
            return Ok(s.clone());
        }
        let s = Rc::new(view::resource_state(self.ctx, &self.res)?);
        self.states.insert(self.res.clone(), s.clone());
        Ok(s)
    }

    fn me(&self) -> &str {
        &self.ctx.host
    }

    fn dir(&self) -> String {
        resource_dir(&self.res)
    }

    fn link(&self, rel: &str) -> Result<Option<String>> {
        Ok(self.ctx.tree.get(rel)?.map(|l| l.value))
    }

    fn res_link(&self, name: &str) -> Result<Option<String>> {
        self.link(&format!("{}/{name}", self.dir()))
    }

    /// `R/actual-<host>/<name>`.
    fn actual(&self, host: &str, name: &str) -> Result<Option<String>> {
        self.res_link(&format!("{ACTUAL_PREFIX}{host}/{name}"))
    }

    /// The peer argument, or this host.
    fn peer(&self, args: &[String]) -> String {
        args.first().filter(|a| !a.is_empty()).cloned().unwrap_or_else(|| self.me().to_owned())
    }

    /// The designated primary (`None`: none).
    fn primary(&self) -> Result<Option<String>> {
        Ok(self.res_link(PRIMARY)?.filter(|p| p != NONE))
    }

    fn prim(&mut self, p: Prim) -> Result<String> {
        let s = self.state()?;
        primitives::value_of(self.ctx, &s, p)
    }

    fn view_macro(&mut self, m: Macro) -> Result<String> {
        let s = self.state()?;
        Ok(view::macro_value_of(&s, m))
    }

    /// The (pos, size) of sync, fetch, replay or work, as the original counts them:
    /// fetch-pos = replay-size = what is here of the log from the replay position on,
    /// fetch-size = work-size = what the primary has logged.
    fn vector(&mut self, what: Vector) -> Result<(u64, u64)> {
        let s = self.state()?;
        let fetched = s.replay_pos.saturating_add(s.replay_rest);
        Ok(match what {
            Vector::Sync => (s.size.saturating_sub(s.sync_rest), s.size),
            Vector::Fetch => (fetched, fetched.saturating_add(s.fetch_rest)),
            Vector::Replay => (s.replay_pos, fetched),
            Vector::Work => (s.replay_pos, fetched.saturating_add(s.fetch_rest)),
        })
    }

    /// The hosts named in `/mars/ips` (not deleted), sorted.
    fn configured_peers(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for name in self.ctx.tree.list(IPS_DIR)? {
            if let Some(h) = name.strip_prefix(IP_PREFIX) {
                if self.ctx.tree.get(&format!("{IPS_DIR}/{name}"))?.is_some() {
                    out.push(h.to_owned());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The resources `host` is a member of.
    fn resources_of(&self, host: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for r in resources(self.ctx)? {
            if self.ctx.tree.get(&format!("{}/{DATA_PREFIX}{host}", resource_dir(&r)))?.is_some() {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Seconds of real time since Lamport stamp `ns` (negative: in the future).
    fn age_of(ns: u64) -> f64 {
        (real_time_ns() as f64 - ns as f64) / 1e9
    }

    /// The stamp of `R/<name>`, or 0.
    fn stamp(&self, rel: &str) -> Result<u64> {
        Ok(self.ctx.tree.get(&format!("{}/{rel}", self.dir()))?.map_or(0, |l| l.stamp_ns))
    }

    /// fetch-timestamp: the newest version link of `host`.
    fn fetch_stamp(&self, host: &str) -> Result<u64> {
        let dir = self.dir();
        let suffix = format!("-{host}");
        let mut newest = 0;
        for name in self.ctx.tree.list(&dir)? {
            if name.starts_with(VERSION_PREFIX) && name.ends_with(&suffix) {
                newest = newest.max(self.stamp(&name)?);
            }
        }
        Ok(newest)
    }

    fn timestamp(&self, what: Stamp, host: &str) -> Result<u64> {
        Ok(match what {
            Stamp::Alive => self.ctx.tree.get(&format!("{ACTUAL_PREFIX}{host}/{TIME}"))?.map_or(0, |l| l.stamp_ns),
            Stamp::Fetch => self.fetch_stamp(host)?,
            Stamp::Replay => self.stamp(&format!("{REPLAY_PREFIX}{host}"))?,
            Stamp::Work => self.fetch_stamp(host)?.max(self.stamp(&format!("{REPLAY_PREFIX}{host}"))?),
        })
    }

    /// The replay link's logfile number of this host (0: none).
    fn replay_lognr(&self) -> Result<u32> {
        Ok(self.res_link(&format!("{REPLAY_PREFIX}{}", self.me()))?.and_then(|v| ReplayLink::parse(&v).ok().map(|r| r.log.nr)).unwrap_or(0))
    }

    /// The numbers of the logfiles here (files) and of the version links (`links`).
    fn lognrs(&self, links: bool) -> Result<Vec<u32>> {
        let mut out: Vec<u32> = Vec::new();
        for name in self.ctx.tree.list(&self.dir())? {
            if let Ok(l) = LogName::parse(&name) {
                out.push(l.nr);
            } else if links {
                if let Some(nr) = name.strip_prefix(VERSION_PREFIX).and_then(|r| r.get(..9)).and_then(|n| n.parse().ok()) {
                    out.push(nr);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The highest number reachable from `from` without a gap (`from` if it is absent).
    fn contiguous(nrs: &[u32], from: u32, up: bool) -> u32 {
        let mut at = from;
        loop {
            let next = if up { at.checked_add(1) } else { at.checked_sub(1).filter(|n| *n >= 1) };
            match next {
                Some(n) if nrs.binary_search(&n).is_ok() => at = n,
                _ => return at,
            }
        }
    }

    /// The sizes of the logfiles here.
    fn logfile_sizes(&self) -> Result<Vec<(u32, u64)>> {
        let dir = self.dir();
        let mut out = Vec::new();
        for name in self.ctx.tree.list(&dir)? {
            if let Ok(l) = LogName::parse(&name) {
                let size = std::fs::symlink_metadata(self.ctx.tree.path(&format!("{dir}/{name}"))).map(|m| m.len()).unwrap_or(0);
                out.push((l.nr, size));
            }
        }
        Ok(out)
    }

    /// Counts members of the resource whose `actual-<host>/<link>` is 1 (`want`).
    fn nr(&self, link: &str, want: bool) -> Result<String> {
        let mut n = 0;
        for h in members(self.ctx, &self.res)? {
            if (self.actual(&h, link)?.as_deref() == Some("1")) == want {
                n += 1;
            }
        }
        Ok(n.to_string())
    }

    /// The messages of this resource (or with `global`, of the cluster) of `level`
    /// (`None`: all), as `key: value` lines ([`messages`]).
    fn msg(&mut self, global: bool, level: Option<Level>, pretty: bool, count: bool) -> Result<String> {
        let all = if global { global_messages(self)? } else { resource_messages(self)? };
        let lines: Vec<String> = all
            .into_iter()
            .filter(|m| level.is_none_or(|l| m.level == l))
            .map(|m| if pretty { format!("{}: {} {}", m.key, pretty_stamp(m.stamp_ns), m.text) } else { format!("{}: {} {}", m.key, stamp_text(m.stamp_ns), m.text) })
            .collect();
        if count {
            return Ok(lines.len().to_string());
        }
        Ok(lines.iter().map(|l| format!("{l}\n")).collect())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vector {
    Sync,
    Fetch,
    Replay,
    Work,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    Alive,
    Fetch,
    Replay,
    Work,
}

/// The class of a message, as the original's `msg-err-*`, `msg-wrn-*`, `msg-inf-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Err,
    Wrn,
    Inf,
}

/// A message of a host: what its links in the tree say is wrong or worth knowing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    /// `<host> <what>`.
    pub key: String,
    pub stamp_ns: u64,
    pub text: String,
}

/// The messages of every member of the resource, from its links as they arrived here
/// (the original carries `msg-*` links; here each member's reports are those links).
fn resource_messages(h: &mut Here<'_>) -> Result<Vec<Message>> {
    let s = h.state()?;
    let dir = h.dir();
    let me = h.me().to_owned();
    let mut out = Vec::new();
    let link = |host: &str, name: &str| h.ctx.tree.get(&format!("{dir}/{ACTUAL_PREFIX}{host}/{name}"));
    for m in &s.members {
        let host = m.host.as_str();
        let mut say = |level, what: &str, stamp_ns, text: String| out.push(Message { level, key: format!("{host} {what}"), stamp_ns, text });
        if let Some(l) = link(host, "error")?.filter(|l| l.value != "0") {
            let e = l.value.parse::<i32>().unwrap_or(0);
            say(Level::Err, "error", l.stamp_ns, format!("the module's last error: {} (dmesg there says more)", errno_text(e)));
        }
        if let Some(l) = link(host, DISK_ERROR)?.filter(|l| l.value != "0") {
            let e = l.value.parse::<i32>().unwrap_or(0);
            say(Level::Err, "disk-error", l.stamp_ns, format!("DISK ERROR: the disk refused I/O: {}", errno_text(e)));
        }
        if let (Some(l), Some(stop)) = (link(host, REPLAY_STOPPED)?, m.replay_stopped.and_then(Stop::from_word)) {
            say(Level::Err, "replay-stopped", l.stamp_ns, format!("REPLAY STOPPED: {stop}"));
        }
        if let Some(l) = link(host, SYNC_REFUSED)?.filter(|l| l.value == "1" && m.sync_rest > 0) {
            say(Level::Err, "sync-refused", l.stamp_ns, SYNC_REFUSED_HINT.to_owned());
        }
        if let (Some(l), Some(w)) = (link(host, TAKEOVER_WAIT)?, m.takeover_wait.and_then(Wait::from_word)) {
            say(Level::Wrn, "takeover-wait", l.stamp_ns, format!("not taking over yet: {w}"));
        }
        if let Some(l) = link(host, mars_core::emergency::HAS_EMERGENCY)?.filter(|l| l.value == "1") {
            say(Level::Wrn, "emergency", l.stamp_ns, "emergency mode: its /mars is (nearly) full (docu/emergency.md)".to_owned());
        }
        if host != me && !m.reachable {
            let text = m.last_heard_ms.map_or("never heard from".to_owned(), |ms| format!("not heard from for {} s", ms / 1000));
            say(Level::Wrn, "unreachable", real_time_ns().saturating_sub(m.last_heard_ms.unwrap_or(0).saturating_mul(1_000_000)), text);
        }
        if m.beyond_rpo {
            say(Level::Wrn, "rpo", real_time_ns(), format!("BEYOND THE RPO: behind {:.1} s", m.lag_seconds.unwrap_or(0.0)));
        }
    }
    let now = real_time_ns();
    if let Some(sb) = &s.split_brain {
        out.push(Message { level: Level::Err, key: format!("{me} split-brain"), stamp_ns: now, text: format!("SPLIT BRAIN after logfile {}", sb.logfile) });
    }
    if let Some(hint) = s.emergency.hint {
        out.push(Message { level: Level::Wrn, key: format!("{me} next-step"), stamp_ns: now, text: hint.to_owned() });
    }
    if s.is_sync_queued && s.sync_rest > 0 {
        out.push(Message { level: Level::Inf, key: format!("{me} sync-queued"), stamp_ns: now, text: "the full sync waits for /proc/sys/mars/sync_limit".into() });
    }
    Ok(out)
}

/// The messages of this host about the cluster and its /mars.
fn global_messages(h: &mut Here<'_>) -> Result<Vec<Message>> {
    let me = h.me().to_owned();
    let now = real_time_ns();
    let mut out = Vec::new();
    if crate::module::loaded_version(&h.ctx.proc_sys)?.is_none() {
        out.push(Message { level: Level::Err, key: format!("{me} module"), stamp_ns: now, text: "mars.ko is not loaded: nothing runs here".into() });
    }
    if crate::module::tree_write_error(&h.ctx.proc_sys) != 0 {
        out.push(Message { level: Level::Err, key: format!("{me} mars"), stamp_ns: now, text: "/mars takes no writes".into() });
    }
    let level = h.link(&format!("{ACTUAL_PREFIX}{me}/{}", mars_core::emergency::EMERGENCY_LEVEL))?.and_then(|v| v.parse::<u8>().ok()).unwrap_or(0);
    if level > 0 {
        let l = mars_core::emergency::Level::from_number(level.min(4));
        out.push(Message { level: Level::Wrn, key: format!("{me} emergency-level"), stamp_ns: now, text: format!("/mars here: level {level} ({})", l.describe()) });
    }
    let window = globals().window;
    for peer in h.configured_peers()? {
        if peer == me {
            continue;
        }
        match liveness::last_heard(h.ctx, &peer)? {
            Some(a) if a.as_secs() <= window => {}
            Some(a) => out.push(Message {
                level: Level::Wrn,
                key: format!("{peer} comm"),
                stamp_ns: now.saturating_sub(a.as_nanos().min(u128::from(u64::MAX)) as u64),
                text: format!("not heard from for {} s", a.as_secs()),
            }),
            None => out.push(Message { level: Level::Wrn, key: format!("{peer} comm"), stamp_ns: now, text: "never heard from".into() }),
        }
    }
    Ok(out)
}

/// `sec.nsec`, as the original's message stamps.
fn stamp_text(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), as the original's pretty messages.
fn pretty_stamp(ns: u64) -> String {
    let t = super::events::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns));
    format!("{} {}", &t[..10], &t[11..19])
}

/// `errno-text`: each code of a comma-separated list as `[NAME:text]` (blanks as `_`).
fn errno_words(list: &str) -> String {
    let mut out = String::new();
    for code in list.split(',') {
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        if code.starts_with("0x") {
            out += &format!(",HEXCODE={code}");
            continue;
        }
        let n = code.parse::<i64>().unwrap_or(0).unsigned_abs().min(i32::MAX as u64) as i32;
        if n == 0 {
            out += "0";
            continue;
        }
        let e = nix::errno::Errno::from_raw(n);
        if e == nix::errno::Errno::UnknownErrno {
            out += &format!("[{n}:unknown_error]");
        } else {
            out += &format!("[{e:?}:{}]", e.desc());
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join("_")
}

fn bit(b: bool) -> String {
    u8::from(b).to_string()
}

fn lines(v: &[String]) -> String {
    v.iter().map(|l| format!("{l}\n")).collect()
}

/// `%{threshold}` or the size argument (`*-threshold-reached`).
fn threshold(args: &[String]) -> Result<u64> {
    match args.first().filter(|a| !a.is_empty()) {
        Some(a) => crate::cli::parse_size(a).map_err(Error::Usage),
        None => Ok(globals().threshold),
    }
}

/// The original's percent (or permille with `scale` 1000) of `pos` out of `size`:
/// `(scale + 0.5) * pos / size`, at most `scale`; `scale` when there is nothing to do.
fn fraction(pos: u64, size: u64, scale: f64) -> String {
    if size == 0 {
        return format_number(scale);
    }
    format_number(((scale + 0.5) * pos as f64 / size as f64).min(scale))
}

fn vec_value(h: &mut Here<'_>, v: Vector, what: &str, args: &[String]) -> Result<String> {
    let (pos, size) = h.vector(v)?;
    let rest = size.saturating_sub(pos);
    Ok(match what {
        "pos" => pos.to_string(),
        "size" => size.to_string(),
        "rest" => rest.to_string(),
        "reached" => bit(pos >= size),
        "percent" => fraction(pos, size, 100.0),
        "permille" => fraction(pos, size, 1000.0),
        "threshold-reached" => bit(pos.saturating_add(threshold(args)?) >= size),
        "almost-reached" => {
            let limit = args.first().and_then(|a| a.parse::<u64>().ok()).unwrap_or(990);
            bit(u128::from(pos) * 1000 >= u128::from(limit) * u128::from(size))
        }
        "vector" => format!("{pos}{}{size}", args.first().filter(|d| !d.is_empty()).map_or(":", |d| d.as_str())),
        _ => unreachable!("{what}"),
    })
}

fn age(h: &mut Here<'_>, what: Stamp, args: &[String]) -> Result<String> {
    let host = match (what, args.first().filter(|a| !a.is_empty())) {
        (_, Some(p)) => p.clone(),
        (Stamp::Alive, None) => match h.primary()? {
            Some(p) => p,
            None => return Ok("-1".into()),
        },
        (_, None) => h.me().to_owned(),
    };
    let ts = h.timestamp(what, &host)?;
    Ok(if ts == 0 { "-1".into() } else { (Here::age_of(ts).max(0.0) as i64).to_string() })
}

fn timestamp(h: &mut Here<'_>, what: Stamp, args: &[String]) -> Result<String> {
    let host = match (what, args.first().filter(|a| !a.is_empty())) {
        (_, Some(p)) => p.clone(),
        (Stamp::Alive, None) => match h.primary()? {
            Some(p) => p,
            None => return Ok("-1".into()),
        },
        (_, None) => h.me().to_owned(),
    };
    let ts = h.timestamp(what, &host)?;
    Ok(if ts == 0 { "-1".into() } else { stamp_text(ts) })
}

/// `*-lag`: how much later `peer`'s stamp is than the designated primary's (0 when it is
/// not later; -1 without a primary or a stamp).
fn lag(h: &mut Here<'_>, what: Stamp, args: &[String]) -> Result<String> {
    let peer = h.peer(args);
    let Some(p) = h.primary()? else { return Ok("-1".into()) };
    let (mine, theirs) = (h.timestamp(what, &peer)?, h.timestamp(what, &p)?);
    if mine == 0 || theirs == 0 {
        return Ok("-1".into());
    }
    Ok(format_number(mine.saturating_sub(theirs) as f64 / 1e9))
}

/// `is-<x>` of a peer: its link; without a peer, this host's as the view has it.
fn is_of(h: &mut Here<'_>, args: &[String], link: &str, here: Prim) -> Result<String> {
    match args.first().filter(|a| !a.is_empty() && **a != h.ctx.host) {
        Some(p) => Ok(bit(h.actual(p, link)?.as_deref() == Some("1"))),
        None => h.prim(here),
    }
}

/// `wait-<word>`: until the condition holds here, within `--timeout`; gives nothing.
fn wait(h: &mut Here<'_>, word: &str) -> Result<String> {
    let word = match word {
        "is-secondary-on" => "is-primary-off",
        "is-secondary-off" => "is-primary-on",
        "todo-secondary-on" => "todo-primary-off",
        "todo-secondary-off" => "todo-primary-on",
        w => w,
    };
    super::resource::wait_switch(h.ctx, &h.res, word, globals().timeout.unwrap_or(60))?;
    Ok(String::new())
}

/// `known-device-*`: the device's line of /proc/mounts (fields 1..3), if mounted.
fn mount_field(h: &mut Here<'_>, field: usize) -> Result<String> {
    if h.ctx.host != nix::sys::utsname::uname().map(|u| u.nodename().to_string_lossy().into_owned()).unwrap_or_default() {
        return Ok(String::new());
    }
    let dev = device_path(h.ctx, &h.res)?;
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let line = mounts.lines().find(|l| l.split_whitespace().next() == Some(&*dev.to_string_lossy()));
    Ok(match (line, field) {
        (None, _) => String::new(),
        (Some(_), 0) => "1".into(),
        (Some(l), f) => l.split_whitespace().nth(f).unwrap_or_default().to_owned(),
    })
}

macro_rules! here {
    ($name:literal, $note:expr, $f:expr) => {
        Primitive { name: $name, status: Status::Here($f), note: $note, cluster: false }
    };
}
/// A value of the cluster or of this host: `view-<name>` takes no resource.
macro_rules! global {
    ($name:literal, $note:expr, $f:expr) => {
        Primitive { name: $name, status: Status::Here($f), note: $note, cluster: true }
    };
}
macro_rules! alias {
    ($name:literal, $to:literal) => {
        Primitive { name: $name, status: Status::Alias($to), note: concat!("deprecated alias of ", $to), cluster: false }
    };
}
macro_rules! not_here {
    ($name:literal, $why:expr) => {
        Primitive { name: $name, status: Status::NotHere, note: $why, cluster: false }
    };
}
macro_rules! vector {
    ($name:literal, $note:literal, $v:ident, $what:literal) => {
        here!($name, $note, |h, a| vec_value(h, Vector::$v, $what, a))
    };
}
macro_rules! msg {
    ($name:literal, $note:literal, $global:expr, $level:expr, $pretty:expr) => {
        Primitive { name: $name, status: Status::Here(|h, _| h.msg($global, $level, $pretty, false)), note: $note, cluster: $global }
    };
}
macro_rules! wait {
    ($name:literal, $word:literal) => {
        here!($name, "waits until it holds here (within --timeout, default 60 s); gives nothing", |h, _| wait(h, $word))
    };
}

const NO_GUESTS: &str = "(none: a host either is a member of a resource or only sees its links; there are no guests)";
const NO_FEATURES: &str = "one log format and one wire protocol, each with its own fixed checksums (docu/log-format.md, docu/wire-protocol.md): no feature bits, digests or compressions to choose";
const BROKEN: &str = "a typo in the original's table: it was never callable there either";

/// The original's 236 primitive names, sorted.
pub static PRIMITIVES: &[Primitive] = &[
    here!("actual-primary", "hosts whose device is up, comma-separated (empty: none)", |h, _| h.view_macro(Macro::ActualPrimary)),
    here!("alive-age", "seconds since PEER (default: the designated primary) was heard from; -1: none or never", |h, a| age(h, Stamp::Alive, a)),
    here!("alive-lag", "seconds PEER was heard from after the designated primary (0: not later; -1: unknown)", |h, a| lag(h, Stamp::Alive, a)),
    here!("alive-timestamp", "Lamport stamp (sec.nsec) of PEER's (default: the designated primary's) last liveness report; -1: none", |h, a| timestamp(h, Stamp::Alive, a)),
    msg!("all-err-msg", "errors of every member of the resource, `HOST WHAT: STAMP TEXT` lines", false, Some(Level::Err), false),
    msg!("all-global-err-msg", "errors of this host about the cluster and its /mars", true, Some(Level::Err), false),
    msg!("all-global-inf-msg", "information of this host about the cluster", true, Some(Level::Inf), false),
    msg!("all-global-msg", "all messages of this host about the cluster and its /mars", true, None, false),
    msg!("all-global-wrn-msg", "warnings of this host about the cluster (peers not heard from within --window)", true, Some(Level::Wrn), false),
    global!("all-guests", NO_GUESTS, |_, _| Ok(String::new())),
    msg!("all-inf-msg", "information about every member of the resource", false, Some(Level::Inf), false),
    global!("all-members", "resources that have members, one a line", |h, _| {
        let mut out = Vec::new();
        for r in resources(h.ctx)? {
            if !members(h.ctx, &r)?.is_empty() {
                out.push(r);
            }
        }
        Ok(lines(&out))
    }),
    msg!("all-msg", "all messages about every member of the resource", false, None, false),
    msg!("all-pretty-err-msg", "all-err-msg with dates (UTC) for stamps", false, Some(Level::Err), true),
    msg!("all-pretty-global-err-msg", "all-global-err-msg with dates", true, Some(Level::Err), true),
    msg!("all-pretty-global-inf-msg", "all-global-inf-msg with dates", true, Some(Level::Inf), true),
    msg!("all-pretty-global-msg", "all-global-msg with dates", true, None, true),
    msg!("all-pretty-global-wrn-msg", "all-global-wrn-msg with dates", true, Some(Level::Wrn), true),
    msg!("all-pretty-inf-msg", "all-inf-msg with dates", false, Some(Level::Inf), true),
    msg!("all-pretty-msg", "all-msg with dates", false, None, true),
    msg!("all-pretty-wrn-msg", "all-wrn-msg with dates", false, Some(Level::Wrn), true),
    global!("all-resources", "every resource, one a line", |h, _| Ok(lines(&resources(h.ctx)?))),
    msg!("all-wrn-msg", "warnings about every member of the resource (not taking over yet, emergency, unreachable, beyond the RPO)", false, Some(Level::Wrn), false),
    alias!("cluster-members", "cluster-peers"),
    global!("cluster-peers", "every host of the cluster (/mars/ips and the members of resources), one a line", |h, _| {
        let mut all = h.configured_peers()?;
        for r in resources(h.ctx)? {
            all.extend(members(h.ctx, &r)?);
        }
        all.sort();
        all.dedup();
        Ok(lines(&all))
    }),
    global!("configured-peers", "the hosts in /mars/ips, one a line", |h, _| Ok(lines(&h.configured_peers()?))),
    global!("count-all-guests", NO_GUESTS, |_, _| Ok("0".into())),
    global!("count-all-members", "number of resources that have members", |h, _| Ok(h.value("all-members", &[])?.lines().count().to_string())),
    global!("count-all-resources", "number of resources", |h, _| Ok(resources(h.ctx)?.len().to_string())),
    alias!("count-cluster-members", "count-cluster-peers"),
    global!("count-cluster-peers", "number of cluster-peers", |h, _| Ok(h.value("cluster-peers", &[])?.lines().count().to_string())),
    global!("count-configured-peers", "number of hosts in /mars/ips (view's [a/b]: b)", |h, _| Ok(h.configured_peers()?.len().to_string())),
    alias!("count-guest-members", "count-guest-peers"),
    here!("count-guest-peers", NO_GUESTS, |_, _| Ok("0".into())),
    global!("count-my-guests", NO_GUESTS, |_, _| Ok("0".into())),
    global!("count-my-members", "number of resources PEER (default: this host) is a member of", |h, a| Ok(h.resources_of(&h.peer(a))?.len().to_string())),
    global!("count-my-resources", "the same as count-my-members", |h, a| Ok(h.resources_of(&h.peer(a))?.len().to_string())),
    alias!("count-resource-members", "count-resource-peers"),
    here!("count-resource-peers", "number of members of the resource (view's [a/b]: a)", |h, _| Ok(members(h.ctx, &h.res)?.len().to_string())),
    here!("deletable-size", "bytes of the logfiles here that every member has replayed (log-delete-all would remove them)", |h, _| {
        let dir = h.dir();
        let mut oldest: Option<u32> = None;
        for m in members(h.ctx, &h.res)? {
            if let Some(r) = h.link(&format!("{dir}/{REPLAY_PREFIX}{m}"))?.and_then(|v| ReplayLink::parse(&v).ok().map(|r| r.log.nr)) {
                oldest = Some(oldest.map_or(r, |o| o.min(r)));
            }
        }
        let oldest = oldest.ok_or_else(|| Error::Usage(format!("deletable-size: no replay links in resource {}", h.res)))?;
        Ok(h.logfile_sizes()?.iter().filter(|(nr, _)| *nr < oldest).map(|(_, s)| s).sum::<u64>().to_string())
    }),
    here!("device-amount-rate", "bytes per second to the device here, over the module's last round (about a second)", |h, _| Ok(h.state()?.rates.device.to_string())),
    here!("device-completion-age", "seconds the oldest request in flight on the device here waits at most (since the last completion or since it came to an idle device; 0: none in flight)", |h, _| {
        Ok(format_number(h.state()?.device_wait_s))
    }),
    here!("device-completion-stamp", "real time (sec.nsec) since which the oldest request in flight on the device here waits at most; 0: no device", |h, _| {
        let ns: u64 = h.actual(h.me(), IF_COMPLETION_STAMP)?.and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(if ns == 0 { "0".into() } else { stamp_text(ns) })
    }),
    not_here!("device-error", "the module reports the disk's errors (disk-error), not the device's: a write to /dev/mars never fails for the disk's sake"),
    here!("device-nrflying", "requests the device here holds, received and not completed (reads passed on to the disk are the disk's)", |h, _| Ok(h.state()?.device_in_flight.to_string())),
    here!("device-opened", "how many openers the device has here (0: closed)", |h, _| h.prim(Prim::DeviceOpened)),
    here!("device-ops-rate", "requests per second to the device here, over the module's last round (about a second)", |h, _| Ok(h.state()?.device_ops_rate.to_string())),
    here!("device-present", "1 if the device /dev/mars/<dev> is up here, else 0", |h, _| h.view_macro(Macro::IsPrimary)),
    here!("device-rate", "the same as device-amount-rate", |h, _| Ok(h.state()?.rates.device.to_string())),
    here!("device-size", "bytes of the device (the resource's size)", |h, _| h.view_macro(Macro::ResourceSize)),
    not_here!("disabled-log|net-digests", BROKEN),
    here!("disk-error", "the errno (negative) of the disk's last failed I/O here while it fails, else 0", |h, _| Ok(h.state()?.disk_error.to_string())),
    here!("disk-present", "1 if the disk is a block device here, 0 if it is missing, empty without a disk", |h, _| {
        let Some(disk) = h.res_link(&format!("{DATA_PREFIX}{}", h.me()))? else { return Ok(String::new()) };
        use std::os::unix::fs::FileTypeExt;
        Ok(match std::fs::metadata(&disk) {
            Ok(m) if m.file_type().is_block_device() => "1".into(),
            Ok(_) => String::new(),
            Err(_) => "0".into(),
        })
    }),
    here!("disk-size", "bytes of PEER's (default: this host's) disk, as its module reports it", |h, a| {
        let peer = h.peer(a);
        Ok(h.res_link(&format!("{ACTSIZE_PREFIX}{peer}"))?.unwrap_or_default())
    }),
    not_here!("enabled-log|net-compressions", BROKEN),
    global!("errno-text", "each code of a comma-separated list as [NAME:text], e.g. -2: [ENOENT:No_such_file_or_directory]", |_, a| Ok(errno_words(&a.join(",")))),
    not_here!("features-version", NO_FEATURES),
    here!("fetch-age", "seconds since PEER's (default: this host's) newest version link was written", |h, a| age(h, Stamp::Fetch, a)),
    vector!("fetch-almost-reached", "1 if fetch-pos reaches LIMIT permille (default 990) of fetch-size", Fetch, "almost-reached"),
    here!("fetch-amount-rate", "bytes per second fetched (as fetch-rate)", |h, _| h.prim(Prim::Rate(Work::Fetch))),
    here!("fetch-lag", "seconds PEER's newest version link is later than the designated primary's", |h, a| lag(h, Stamp::Fetch, a)),
    here!("fetch-logcount", "fetch-lognr - replay-lognr", |h, _| {
        let (f, r) = (h.value("fetch-lognr", &[])?.parse::<u32>().unwrap_or(0), h.replay_lognr()?);
        Ok(f.saturating_sub(r).to_string())
    }),
    here!("fetch-lognr", "the highest logfile number present here without a gap from replay-lognr", |h, _| {
        let (nrs, from) = (h.lognrs(false)?, h.replay_lognr()?);
        Ok(Here::contiguous(&nrs, from, true).to_string())
    }),
    not_here!("fetch-ops-rate", "the module reports fetch in bytes per second only (fetch-rate)"),
    vector!("fetch-percent", "percent of fetch-size present here (fractions, as the original)", Fetch, "percent"),
    vector!("fetch-permille", "permille of fetch-size present here", Fetch, "permille"),
    vector!("fetch-pos", "bytes of the log present here from the replay position's logfile on", Fetch, "pos"),
    here!("fetch-rate", "bytes per second fetched", |h, _| h.prim(Prim::Rate(Work::Fetch))),
    vector!("fetch-reached", "1 if everything the primary logged is here", Fetch, "reached"),
    here!("fetch-remain", "seconds fetch needs at its rate (0: nothing left; -1: no rate)", |h, _| h.prim(Prim::Remain(Work::Fetch))),
    here!("fetch-rest", "bytes still to fetch", |h, _| h.prim(Prim::Rest(Work::Fetch))),
    vector!("fetch-size", "fetch-pos plus what the primary's version links say is not here yet", Fetch, "size"),
    vector!("fetch-threshold-reached", "1 if fetch-pos + SIZE (default: --threshold) reaches fetch-size", Fetch, "threshold-reached"),
    here!("fetch-timestamp", "Lamport stamp of PEER's (default: this host's) newest version link; -1: none", |h, a| timestamp(h, Stamp::Fetch, a)),
    vector!("fetch-vector", "fetch-pos:fetch-size (DELIM instead of :)", Fetch, "vector"),
    here!("get-device", "/dev/mars/<dev> of the resource here", |h, _| h.prim(Prim::GetDevice)),
    here!("get-disk", "the disk of the resource here", |h, _| h.prim(Prim::GetDisk)),
    here!("get-log-status", "nothing (the original's is always empty)", |_, _| Ok(String::new())),
    here!("get-primary", "the designated primary (empty: none)", |h, _| h.view_macro(Macro::GetPrimary)),
    here!("get-resource-err", "the errors about the resource's members (all-pretty-err-msg)", |h, _| h.msg(false, Some(Level::Err), true, false)),
    here!("get-resource-err-count", "their number", |h, _| h.msg(false, Some(Level::Err), true, true)),
    here!("get-resource-fat", "nothing: no error here is fatal to marsadm", |_, _| Ok(String::new())),
    here!("get-resource-fat-count", "0", |_, _| Ok("0".into())),
    here!("get-resource-wrn", "the warnings about the resource's members (all-pretty-wrn-msg)", |h, _| h.msg(false, Some(Level::Wrn), true, false)),
    here!("get-resource-wrn-count", "their number", |h, _| h.msg(false, Some(Level::Wrn), true, true)),
    global!("global-sync-limit-value", "how many full syncs may run at once here (/proc/sys/mars/sync_limit; 0: any)", |h, _| {
        Ok(std::fs::read_to_string(h.ctx.proc_sys.join("sync_limit")).map(|v| v.trim().to_owned()).unwrap_or_default())
    }),
    here!("guest-peers", NO_GUESTS, |_, _| Ok(String::new())),
    not_here!("implemented-compressions", NO_FEATURES),
    not_here!("implemented-digests", NO_FEATURES),
    not_here!("implemented-features", NO_FEATURES),
    here!("is-alive", "1 if PEER (default: the designated primary, else this host) was heard from within --window", |h, a| {
        let peer = match a.first().filter(|p| !p.is_empty()) {
            Some(p) => p.clone(),
            None => h.primary()?.unwrap_or_else(|| h.me().to_owned()),
        };
        if peer == h.ctx.host {
            return Ok("1".into());
        }
        Ok(bit(liveness::last_heard(h.ctx, &peer)?.is_some_and(|age| age.as_secs() <= globals().window)))
    }),
    here!("is-attach", "1 if the disk of PEER (default: this host) is attached", |h, a| is_of(h, a, "is-attached", Prim::IsAttach)),
    here!("is-consistent", "1 if the disk here is a consistent copy", |h, _| h.view_macro(Macro::IsConsistent)),
    here!("is-emergency", "1 if PEER is in emergency mode; without PEER: the resource here or on its primary", |h, a| match a.first().filter(|p| !p.is_empty()) {
        Some(p) => Ok(bit(h.actual(p, mars_core::emergency::HAS_EMERGENCY)?.as_deref() == Some("1"))),
        None => h.view_macro(Macro::IsEmergency),
    }),
    here!("is-fetch", "1 if PEER (default: this host) fetches", |h, a| is_of(h, a, "is-fetching", Prim::IsRunning(Work::Fetch))),
    here!("is-guest", NO_GUESTS, |_, _| Ok("0".into())),
    here!("is-member", "1 if this host is a member of RES (default: the resource)", |h, a| {
        let res = a.first().filter(|r| !r.is_empty()).cloned().unwrap_or_else(|| h.res.clone());
        Ok(bit(members(h.ctx, &res)?.iter().any(|m| *m == h.ctx.host)))
    }),
    here!("is-orphan", "1 if the replay here stopped at a hole in the logfile sequence", |h, _| h.prim(Prim::IsOrphan)),
    here!("is-primary", "1 if the device of PEER (default: this host) is up", |h, a| match a.first().filter(|p| !p.is_empty() && **p != h.ctx.host) {
        Some(p) => Ok(bit(h.actual(p, "is-primary")?.as_deref() == Some("1"))),
        None => h.view_macro(Macro::IsPrimary),
    }),
    here!("is-replay", "1 if PEER (default: this host) replays", |h, a| is_of(h, a, "is-replaying", Prim::IsRunning(Work::Replay))),
    here!("is-secondary", "1 if PEER (default: this host) is attached and its device is not up", |h, a| match a.first().filter(|p| !p.is_empty() && **p != h.ctx.host) {
        Some(p) => Ok(bit(h.actual(p, "is-attached")?.as_deref() == Some("1") && h.actual(p, "is-primary")?.as_deref() != Some("1"))),
        None => h.prim(Prim::IsSecondary),
    }),
    here!("is-split-brain", "1 if the members' histories diverged", |h, _| h.view_macro(Macro::IsSplitBrain)),
    here!("is-sync", "1 if PEER (default: this host) runs its full sync", |h, a| is_of(h, a, "is-syncing", Prim::IsRunning(Work::Sync))),
    here!("known-device-fstype", "the filesystem type the device is mounted with here (empty: not mounted)", |h, _| mount_field(h, 2)),
    here!("known-device-mounted", "1 if the device is mounted here, else empty", |h, _| mount_field(h, 0)),
    here!("known-device-mountflags", "the mount options of the device here", |h, _| mount_field(h, 3)),
    here!("known-device-mountpoint", "where the device is mounted here", |h, _| mount_field(h, 1)),
    global!("my-guests", NO_GUESTS, |_, _| Ok(String::new())),
    global!("my-members", "the resources PEER (default: this host) is a member of, one a line", |h, a| Ok(lines(&h.resources_of(&h.peer(a))?))),
    global!("my-resources", "the same as my-members", |h, a| Ok(lines(&h.resources_of(&h.peer(a))?))),
    here!("nr-attach", "number of members whose disk is attached", |h, _| h.nr("is-attached", true)),
    here!("nr-fetch", "number of members that fetch", |h, _| h.nr("is-fetching", true)),
    here!("nr-primary", "number of members whose device is up (more than 1: look at view)", |h, _| h.nr("is-primary", true)),
    here!("nr-replay", "number of members that replay", |h, _| h.nr("is-replaying", true)),
    here!("nr-secondary", "number of members whose device is not up", |h, _| h.nr("is-primary", false)),
    here!("nr-sync", "number of members that run their full sync", |h, _| h.nr("is-syncing", true)),
    here!("occupied-size", "bytes of the resource's logfiles here", |h, _| Ok(h.logfile_sizes()?.iter().map(|(_, s)| s).sum::<u64>().to_string())),
    not_here!("potential-features", NO_FEATURES),
    alias!("present-device", "device-present"),
    alias!("present-disk", "disk-present"),
    global!("real-time", "seconds since 1970 (this host's clock)", |_, _| Ok((real_time_ns() / 1_000_000_000).to_string())),
    here!("replay-age", "seconds since PEER's (default: this host's) replay link was written", |h, a| age(h, Stamp::Replay, a)),
    vector!("replay-almost-reached", "1 if replay-pos reaches LIMIT permille (default 990) of replay-size", Replay, "almost-reached"),
    here!("replay-amount-rate", "bytes per second replayed (as replay-rate)", |h, _| h.prim(Prim::Rate(Work::Replay))),
    here!("replay-basenr", "the lowest logfile number here without a gap up to replay-lognr", |h, _| {
        let (nrs, from) = (h.lognrs(false)?, h.replay_lognr()?);
        Ok(Here::contiguous(&nrs, from, false).to_string())
    }),
    here!("replay-code", "0, or the module's error here (negative errno) while its replay is stopped", |h, _| {
        let s = h.state()?;
        Ok(if s.replay_stopped.is_some() { s.error.min(-1).to_string() } else { "0".into() })
    }),
    here!("replay-lag", "seconds PEER's replay link is later than the designated primary's", |h, a| lag(h, Stamp::Replay, a)),
    here!("replay-logcount", "replay-lognr - replay-basenr", |h, _| {
        let (b, r) = (h.value("replay-basenr", &[])?.parse::<u32>().unwrap_or(0), h.replay_lognr()?);
        Ok(r.saturating_sub(b).to_string())
    }),
    here!("replay-lognr", "the logfile number of this host's replay link (0: none)", |h, _| Ok(h.replay_lognr()?.to_string())),
    not_here!("replay-ops-rate", "the module reports replay in bytes per second only (replay-rate)"),
    vector!("replay-percent", "percent of replay-size replayed (fractions)", Replay, "percent"),
    vector!("replay-permille", "permille of replay-size replayed", Replay, "permille"),
    vector!("replay-pos", "bytes of the replay link's logfile replayed here", Replay, "pos"),
    here!("replay-rate", "bytes per second replayed", |h, _| h.prim(Prim::Rate(Work::Replay))),
    vector!("replay-reached", "1 if everything present here is replayed", Replay, "reached"),
    here!("replay-remain", "seconds replay needs at its rate (0: nothing left; -1: no rate)", |h, _| h.prim(Prim::Remain(Work::Replay))),
    here!("replay-rest", "bytes present here not replayed yet", |h, _| h.prim(Prim::Rest(Work::Replay))),
    vector!("replay-size", "= fetch-pos", Replay, "size"),
    vector!("replay-threshold-reached", "1 if replay-pos + SIZE (default: --threshold) reaches replay-size", Replay, "threshold-reached"),
    here!("replay-timestamp", "Lamport stamp of PEER's (default: this host's) replay link; -1: none", |h, a| timestamp(h, Stamp::Replay, a)),
    vector!("replay-vector", "replay-pos:replay-size (DELIM instead of :)", Replay, "vector"),
    alias!("resource-members", "resource-peers"),
    here!("resource-peers", "the members of the resource, one a line", |h, _| Ok(lines(&members(h.ctx, &h.res)?))),
    here!("resource-possible-size", "the smallest disk of the members (bytes): what resize could grow to", |h, _| {
        let mut min: Option<u64> = None;
        for m in members(h.ctx, &h.res)? {
            if let Some(v) = h.res_link(&format!("{ACTSIZE_PREFIX}{m}"))?.and_then(|v| v.parse::<u64>().ok()) {
                min = Some(min.map_or(v, |x| x.min(v)));
            }
        }
        Ok(min.map(|v| v.to_string()).unwrap_or_default())
    }),
    here!("resource-size", "bytes of the resource", |h, _| h.view_macro(Macro::ResourceSize)),
    here!("rest-space", "bytes left in this host's /mars (the original: KiB as the module reported)", |h, _| h.view_macro(Macro::RestSpace)),
    here!("summary-vector", "replay-pos:fetch-pos:fetch-size (DELIM instead of :)", |h, a| {
        let (rp, _) = h.vector(Vector::Replay)?;
        let (fp, fs) = h.vector(Vector::Fetch)?;
        let d = a.first().filter(|d| !d.is_empty()).map_or(":", |d| d.as_str());
        Ok(format!("{rp}{d}{fp}{d}{fs}"))
    }),
    vector!("sync-almost-reached", "1 if sync-pos reaches LIMIT permille (default 990) of sync-size", Sync, "almost-reached"),
    here!("sync-amount-rate", "bytes per second synced (as sync-rate)", |h, _| h.prim(Prim::Rate(Work::Sync))),
    not_here!("sync-ops-rate", "the module reports the sync in bytes per second only (sync-rate)"),
    vector!("sync-percent", "percent of the disk synced (fractions)", Sync, "percent"),
    vector!("sync-permille", "permille of the disk synced", Sync, "permille"),
    vector!("sync-pos", "bytes of the disk synced", Sync, "pos"),
    here!("sync-rate", "bytes per second synced", |h, _| h.prim(Prim::Rate(Work::Sync))),
    vector!("sync-reached", "1 if the full sync is complete", Sync, "reached"),
    here!("sync-remain", "seconds the sync needs at its rate (0: done; -1: no rate)", |h, _| h.prim(Prim::Remain(Work::Sync))),
    here!("sync-rest", "bytes of the disk still to sync", |h, _| h.prim(Prim::Rest(Work::Sync))),
    vector!("sync-size", "bytes of the resource", Sync, "size"),
    vector!("sync-threshold-reached", "1 if sync-pos + SIZE (default: --threshold) reaches sync-size", Sync, "threshold-reached"),
    vector!("sync-vector", "sync-pos:sync-size (DELIM instead of :)", Sync, "vector"),
    not_here!("syncpos-pos", BROKEN),
    not_here!("syncpos-size", BROKEN),
    here!("systemd-unit", "the start unit and the stop unit of the resource (set-systemd-unit)", |h, _| {
        let start = h.res_link(SYSTEMD_START_UNIT)?.unwrap_or_default();
        let stop = h.res_link(SYSTEMD_STOP_UNIT)?;
        Ok(match stop {
            Some(s) if !start.is_empty() => format!("{start} {s}"),
            _ => start,
        })
    }),
    msg!("the-err-msg", "= all-err-msg (messages here come from the present state: none is stale or transient)", false, Some(Level::Err), false),
    msg!("the-global-err-msg", "= all-global-err-msg", true, Some(Level::Err), false),
    msg!("the-global-inf-msg", "= all-global-inf-msg", true, Some(Level::Inf), false),
    msg!("the-global-msg", "= all-global-msg", true, None, false),
    msg!("the-global-wrn-msg", "= all-global-wrn-msg", true, Some(Level::Wrn), false),
    msg!("the-inf-msg", "= all-inf-msg", false, Some(Level::Inf), false),
    msg!("the-msg", "= all-msg", false, None, false),
    msg!("the-pretty-err-msg", "= all-pretty-err-msg", false, Some(Level::Err), true),
    msg!("the-pretty-global-err-msg", "= all-pretty-global-err-msg", true, Some(Level::Err), true),
    msg!("the-pretty-global-inf-msg", "= all-pretty-global-inf-msg", true, Some(Level::Inf), true),
    msg!("the-pretty-global-msg", "= all-pretty-global-msg", true, None, true),
    msg!("the-pretty-global-wrn-msg", "= all-pretty-global-wrn-msg", true, Some(Level::Wrn), true),
    msg!("the-pretty-inf-msg", "= all-pretty-inf-msg", false, Some(Level::Inf), true),
    msg!("the-pretty-msg", "= all-pretty-msg", false, None, true),
    msg!("the-pretty-wrn-msg", "= all-pretty-wrn-msg", false, Some(Level::Wrn), true),
    msg!("the-wrn-msg", "= all-wrn-msg", false, Some(Level::Wrn), false),
    global!("time", "the Lamport time here (sec.nsec)", |h, _| {
        let clock = std::fs::read_to_string(h.ctx.proc_sys.join("lamport_clock")).ok().and_then(|s| parse_stamp(s.trim()));
        Ok(stamp_text(clock.unwrap_or_else(real_time_ns)))
    }),
    here!("todo-attach", "1 if the disk is to be attached here", |h, _| h.prim(Prim::TodoAttach)),
    here!("todo-fetch", "1 if fetch is switched on here", |h, _| h.prim(Prim::Todo(Work::Fetch))),
    here!("todo-primary", "1 if this host is the designated primary, else 0", |h, _| h.prim(Prim::TodoPrimary)),
    here!("todo-replay", "1 if replay is switched on here", |h, _| h.prim(Prim::Todo(Work::Replay))),
    here!("todo-secondary", "1 if this host is not the designated primary (the original's was always 0)", |h, _| h.prim(Prim::TodoSecondary)),
    here!("todo-sync", "1 if the full sync is switched on here", |h, _| h.prim(Prim::Todo(Work::Sync))),
    here!("total-space", "bytes of this host's /mars (the original: KiB)", |h, _| h.view_macro(Macro::TotalSpace)),
    global!("tree", "the tree format version this host's module reports", |h, _| Ok(h.link(&format!("{ACTUAL_PREFIX}{}/tree", h.me()))?.unwrap_or_default())),
    not_here!("tree-version", NO_FEATURES),
    not_here!("usable-compressions", NO_FEATURES),
    not_here!("usable-digests", NO_FEATURES),
    not_here!("usable-features", NO_FEATURES),
    not_here!("used-log-compression", NO_FEATURES),
    not_here!("used-log-digest", NO_FEATURES),
    not_here!("used-net-compression", NO_FEATURES),
    not_here!("used-net-digest", NO_FEATURES),
    global!("uuid", "the cluster's identity", |h, _| Ok(h.link(UUID)?.unwrap_or_default())),
    wait!("wait-is-attach-off", "is-attach-off"),
    wait!("wait-is-attach-on", "is-attach-on"),
    wait!("wait-is-fetch-off", "is-fetch-off"),
    wait!("wait-is-fetch-on", "is-fetch-on"),
    wait!("wait-is-primary-off", "is-primary-off"),
    wait!("wait-is-primary-on", "is-primary-on"),
    wait!("wait-is-replay-off", "is-replay-off"),
    wait!("wait-is-replay-on", "is-replay-on"),
    wait!("wait-is-secondary-off", "is-secondary-off"),
    wait!("wait-is-secondary-on", "is-secondary-on"),
    wait!("wait-is-sync-off", "is-sync-off"),
    wait!("wait-is-sync-on", "is-sync-on"),
    wait!("wait-todo-attach-off", "todo-attach-off"),
    wait!("wait-todo-attach-on", "todo-attach-on"),
    wait!("wait-todo-fetch-off", "todo-fetch-off"),
    wait!("wait-todo-fetch-on", "todo-fetch-on"),
    wait!("wait-todo-primary-off", "todo-primary-off"),
    wait!("wait-todo-primary-on", "todo-primary-on"),
    wait!("wait-todo-replay-off", "todo-replay-off"),
    wait!("wait-todo-replay-on", "todo-replay-on"),
    wait!("wait-todo-secondary-off", "todo-secondary-off"),
    wait!("wait-todo-secondary-on", "todo-secondary-on"),
    wait!("wait-todo-sync-off", "todo-sync-off"),
    wait!("wait-todo-sync-on", "todo-sync-on"),
    here!("work-age", "seconds since PEER's (default: this host's) newest version or replay link was written", |h, a| age(h, Stamp::Work, a)),
    vector!("work-almost-reached", "1 if work-pos reaches LIMIT permille (default 990) of work-size", Work, "almost-reached"),
    here!("work-lag", "seconds PEER's newest version or replay link is later than the designated primary's", |h, a| lag(h, Stamp::Work, a)),
    here!("work-logcount", "work-lognr - replay-lognr", |h, _| {
        let (w, r) = (h.value("work-lognr", &[])?.parse::<u32>().unwrap_or(0), h.replay_lognr()?);
        Ok(w.saturating_sub(r).to_string())
    }),
    here!("work-lognr", "the highest logfile number without a gap from replay-lognr, counting version links too", |h, _| {
        let (nrs, from) = (h.lognrs(true)?, h.replay_lognr()?);
        Ok(Here::contiguous(&nrs, from, true).to_string())
    }),
    vector!("work-percent", "percent of what the primary logged that is replayed here (fractions)", Work, "percent"),
    vector!("work-permille", "permille of the same", Work, "permille"),
    vector!("work-pos", "= replay-pos", Work, "pos"),
    vector!("work-reached", "1 if everything the primary logged is replayed here", Work, "reached"),
    vector!("work-rest", "bytes the primary logged not replayed here yet (fetch and replay)", Work, "rest"),
    vector!("work-size", "= fetch-size", Work, "size"),
    vector!("work-threshold-reached", "1 if work-pos + SIZE (default: --threshold) reaches work-size", Work, "threshold-reached"),
    here!("work-timestamp", "Lamport stamp of PEER's (default: this host's) newest version or replay link", |h, a| timestamp(h, Stamp::Work, a)),
    vector!("work-vector", "work-pos:work-size (DELIM instead of :)", Work, "vector"),
    here!("writeback-rest", "bytes logged here and not yet known to be on the disk (primary)", |h, _| h.view_macro(Macro::WritebackRest)),
];

/// Primitives the original's complex macros call that are not among the 236.
static EXTRA: &[Primitive] = &[
    global!("is-module-loaded", "1 if mars.ko is loaded here, else empty", |h, _| {
        Ok(if crate::module::loaded_version(&h.ctx.proc_sys)?.is_some() { "1".into() } else { String::new() })
    }),
    here!("the-err-count", "number of the-err-msg lines", |h, _| h.msg(false, Some(Level::Err), false, true)),
    here!("the-wrn-count", "number of the-wrn-msg lines", |h, _| h.msg(false, Some(Level::Wrn), false, true)),
    here!("the-inf-count", "number of the-inf-msg lines", |h, _| h.msg(false, Some(Level::Inf), false, true)),
    global!("the-global-err-count", "number of the-global-err-msg lines", |h, _| h.msg(true, Some(Level::Err), false, true)),
    global!("the-global-wrn-count", "number of the-global-wrn-msg lines", |h, _| h.msg(true, Some(Level::Wrn), false, true)),
    here!("todo", "the todo switch WHAT (attach, sync, fetch, replay, primary) here", |h, a| {
        let what = a.first().map(String::as_str).unwrap_or_default();
        h.value(&format!("todo-{what}"), &[])
    }),
    here!("does", "what the module reports of WHAT (attach, sync, fetch, replay, primary, secondary) here", |h, a| {
        let what = a.first().map(String::as_str).unwrap_or_default();
        h.value(&format!("is-{what}"), &[])
    }),
    here!("is-split", "= is-split-brain", |h, _| h.view_macro(Macro::IsSplitBrain)),
    here!("lines", "this implementation's own text form of the resource (view printed it before it took the original's shape)", |h, _| {
        let s = h.state()?;
        Ok(lines(&view::lines(h.ctx, &s)))
    }),
    here!("member-lines", "a line per member (role, disk state, lag, contact), when there are several (this implementation's)", |h, _| {
        let s = h.state()?;
        Ok(lines(&view::split_brain_and_member_lines(&h.ctx.host, &s, true)))
    }),
    here!("split-brain-lines", "the split brain, if any: where the histories diverged, and each host's data after that (this implementation's)", |h, _| {
        let s = h.state()?;
        Ok(lines(&view::split_brain_and_member_lines(&h.ctx.host, &s, false)))
    }),
    here!("readlink", "the value of a link under /mars (PATH relative to /mars or absolute within it)", |h, a| {
        let path = a.first().map(String::as_str).unwrap_or_default();
        let rel = h.ctx.tree.relative(path).ok_or_else(|| Error::Usage(format!("readlink: {path} is not under {}", h.ctx.tree.root().display())))?;
        Ok(h.link(rel)?.unwrap_or_default())
    }),
];

/// `view-<name> RES [ARG]` of a primitive without a command of its own: the value for
/// each resource named (after a `--------- resource` line with several), or once for a
/// cluster-wide one.
pub fn view(ctx: &Context, name: &str, which: Option<&str>, args: &[String]) -> Result<()> {
    view::each_value(ctx, which, |res| {
        let v = Here::new(ctx, res).value(name, args)?;
        Ok(if v.is_empty() || v.ends_with('\n') { v } else { v + "\n" })
    })
}

/// The primitives that need no resource (`view-<name>` takes none).
pub fn cluster_wide(name: &str) -> bool {
    match find(name) {
        Some(Primitive { status: Status::Alias(to), .. }) => cluster_wide(to),
        Some(p) => p.cluster,
        None => false,
    }
}

/// The original's commands that have no meaning here, each with why and what to use
/// instead (docu/migration.md lists them too): `marsadm NAME` says so (exit 2).
pub const NOT_HERE_COMMANDS: &[(&[&str], &str)] = &[
    (&["err-purge-all"], "messages are what the members' links say now, nothing stale to purge (view-the-err-msg RES shows them)"),
    (&["set-replay"], "a host's replay link is its module's own (docu/cluster.md): invalidate, or leave-resource and join-resource, start a replay anew"),
    (&["set-systemd-want", "get-systemd-want"], "the units follow the designated primary (docu/systemd.md): marsadm primary moves them"),
    (&["split-cluster"], "deprecated in the original; hosts leave a cluster with leave-resource and leave-cluster (docu/cluster.md)"),
    (&["activate-guest", "deactivate-guest"], "every host pulls every member's whole tree, so each resource is known everywhere (update-cluster pulls at once)"),
    (&["set-connect-pref-list", "get-connect-pref-list"], "a secondary fetches from the designated primary (docu/replication.md)"),
    (
        &["set-global-enabled-log-compressions", "set-global-enabled-net-compressions", "set-global-disabled-log-digests", "set-global-disabled-net-digests"],
        "one fixed checksum per format and no compression (docu/log-format.md, docu/wire-protocol.md)",
    ),
    (&["show", "show-errors", "show-state", "show-info", "mars-state", "mars-info"], "deprecated in the original: marsadm view, view-the-err-msg RES, view --json"),
    (&["create-uuid"], "deprecated in the original: create-cluster makes the uuid"),
    (
        &["syncer", "check-resize", "get-gi", "show-gi", "outdate", "adjust", "create-md", "dump-md", "dump", "new-current-uuid", "verify", "invalidate-remote"],
        "a DRBD word the original ignored or refused: MARS keeps no metadata on the disk (docu/migration.md)",
    ),
];

/// Why the original's command `name` is not here, if it is one of [`NOT_HERE_COMMANDS`].
pub fn not_here_command(name: &str) -> Option<&'static str> {
    NOT_HERE_COMMANDS.iter().find(|(names, _)| names.contains(&name)).map(|(_, why)| *why)
}

/// The table of docu/view-primitives.md: one row per primitive.
#[cfg(test)]
fn doc_table(list: &[Primitive]) -> String {
    let mut out = String::from("| name | here |\n|---|---|\n");
    for p in list {
        let what = match p.status {
            Status::Here(_) | Status::Alias(_) => p.note.to_owned(),
            Status::NotHere => format!("**not applicable**: {}", p.note),
        };
        out += &format!("| `{}` | {} |\n", p.name.replace('|', "\\|"), what.replace('|', "\\|"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchTree;

    #[test]
    fn values_of_the_cluster_take_no_resource() {
        for name in ["uuid", "cluster-members", "count-cluster-members", "the-global-msg", "all-pretty-global-wrn-msg", "is-module-loaded", "the-global-err-count"] {
            assert!(cluster_wide(name), "{name}");
        }
        for name in ["diskstate", "the-err-msg", "device-nrflying", "is-alive", "nonsense"] {
            assert!(!cluster_wide(name), "{name}");
        }
    }

    /// docu/migration.md names every command of the original that is not here, on a
    /// row that says so, and none of them is a command here.
    #[test]
    fn the_commands_not_here_are_documented() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docu/migration.md")).unwrap();
        let cli = <crate::cli::Cli as clap::CommandFactory>::command();
        for (names, _) in NOT_HERE_COMMANDS {
            for name in *names {
                let row = doc.lines().find(|l| l.starts_with('|') && l.contains(&format!("`{name}`")));
                assert!(row.is_some_and(|r| r.contains("not here")), "docu/migration.md: no \"not here\" row for `{name}`");
                assert!(cli.find_subcommand(name).is_none(), "{name} is a command here");
            }
        }
        assert!(!doc.contains("| not yet |"), "docu/migration.md still lists commands as not yet here");
    }

    /// docu/view-primitives.md holds the tables of [`PRIMITIVES`] and [`EXTRA`] as they
    /// are (`MARS_BLESS=1 cargo test` writes them).
    #[test]
    fn the_documented_table_is_the_code_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docu/view-primitives.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let mut want = doc.clone();
        for (marker, list) in [("236", PRIMITIVES), ("extra", EXTRA)] {
            let (start, end) = (format!("<!-- table {marker} -->\n"), format!("<!-- end {marker} -->"));
            let a = want.find(&start).expect("start marker") + start.len();
            let b = want.find(&end).expect("end marker");
            want.replace_range(a..b, &doc_table(list));
        }
        if std::env::var_os("MARS_BLESS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        assert!(doc == want, "docu/view-primitives.md differs from the code's table: MARS_BLESS=1 cargo test -p marsadm writes it");
    }

    #[test]
    fn all_236_names_sorted_once() {
        assert_eq!(PRIMITIVES.len(), 236);
        assert!(PRIMITIVES.windows(2).all(|w| w[0].name < w[1].name), "not sorted");
        for p in PRIMITIVES {
            if let Status::Alias(to) = p.status {
                assert!(matches!(find(to).map(|t| t.status), Some(Status::Here(_))), "{} -> {to}", p.name);
            }
        }
        assert!(EXTRA.iter().all(|e| PRIMITIVES.binary_search_by(|p| p.name.cmp(e.name)).is_err()));
    }

    #[test]
    fn errno_words_as_the_original() {
        assert_eq!(errno_words("-2"), "[ENOENT:No_such_file_or_directory]");
        assert_eq!(errno_words("0"), "0");
        assert_eq!(errno_words(""), "");
        assert_eq!(errno_words("0x1f"), ",HEXCODE=0x1f");
        assert_eq!(errno_words("-5,-28"), "[EIO:I/O_error][ENOSPC:No_space_left_on_device]");
    }

    #[test]
    fn dates_and_fractions() {
        assert_eq!(pretty_stamp(0), "1970-01-01 00:00:00");
        assert_eq!(pretty_stamp(1_796_601_600_000_000_000), "2026-12-07 00:00:00");
        assert_eq!(pretty_stamp(951_782_400_000_000_000 + 3_723_000_000_000), "2000-02-29 01:02:03");
        assert_eq!(fraction(0, 0, 100.0), "100");
        assert_eq!(fraction(1, 2, 100.0), "50.25");
        assert_eq!(fraction(10, 10, 1000.0), "1000");
        assert_eq!(Here::contiguous(&[1, 2, 3, 5], 2, true), 3);
        assert_eq!(Here::contiguous(&[1, 2, 3, 5], 3, false), 1);
        assert_eq!(Here::contiguous(&[7], 4, true), 4);
    }

    /// node2 replays node1's logfile 1: 100 bytes replayed, 300 here, 500 logged.
    #[test]
    fn a_secondary_behind_in_the_original_words() {
        let mut t = ScratchTree::node1_primary("vocabulary", "node2");
        t.set("resource-r0/actual-node2/replay-rate", "50");
        t.set("resource-r0/actual-node2/is-replaying", "1");
        t.set("resource-r0/replay-node1", "log-000000001-node1,500,0");
        t.set("resource-r0/replay-node2", "log-000000001-node1,100,0");
        let v = mars_core::tree::VersionLink { digest: [7; 16], log: LogName { nr: 1, host: "node1" }, pos: 500, prev_head: "" }.to_string();
        t.set("resource-r0/version-000000001-node1", &v);
        std::fs::write(t.ctx.tree.path("resource-r0/log-000000001-node1"), [0u8; 300]).unwrap();
        t.heard("node1", 2);
        let mut h = Here::new(&t.ctx, "r0");
        let mut get = |name: &str, args: &[&str]| h.value(name, &args.iter().map(|a| a.to_string()).collect::<Vec<_>>()).unwrap();
        assert_eq!(get("fetch-vector", &[]), "300:500");
        assert_eq!(get("replay-vector", &["/"]), "100/300");
        assert_eq!(get("work-vector", &[]), "100:500");
        assert_eq!(get("summary-vector", &[]), "100:300:500");
        assert_eq!((get("fetch-rest", &[]), get("replay-rest", &[]), get("work-rest", &[])), ("200".into(), "200".into(), "400".into()));
        assert_eq!((get("fetch-reached", &[]), get("sync-reached", &[]), get("work-threshold-reached", &[])), ("0".into(), "1".into(), "1".into()));
        assert_eq!(get("work-threshold-reached", &["100"]), "0");
        assert_eq!(get("fetch-percent", &[]), "60.3");
        assert_eq!(get("replay-remain", &[]), "4");
        assert_eq!(get("fetch-remain", &[]), "-1");
        assert_eq!((get("replay-lognr", &[]), get("fetch-lognr", &[]), get("replay-basenr", &[])), ("1".into(), "1".into(), "1".into()));
        assert_eq!((get("resource-peers", &[]), get("count-resource-peers", &[])), ("node1\nnode2\n".into(), "2".into()));
        assert_eq!((get("get-primary", &[]), get("todo-primary", &[]), get("is-primary", &["node1"])), ("node1".into(), "0".into(), "1".into()));
        assert_eq!((get("is-alive", &[]), get("is-alive", &["node9"])), ("1".into(), "0".into()));
        assert!(matches!(get("alive-age", &[]).as_str(), "2" | "3"));
        assert_eq!(get("occupied-size", &[]), "300");
        assert_eq!(get("deletable-size", &[]), "0");
        assert_eq!(get("errno-text", &["-28"]), "[ENOSPC:No_space_left_on_device]");
        assert_eq!(get("device-nrflying", &[]), "0");
        let err = h.value("device-error", &[]).unwrap_err().to_string();
        assert!(err.contains("not applicable in this implementation"), "{err}");
        assert!(h.value("nonsense", &[]).is_err());
    }

    #[test]
    fn messages_of_the_members() {
        let mut t = ScratchTree::node1_primary("vocabulary-msg", "node2");
        t.set("resource-r0/actual-node2/disk-error", "-5");
        t.set("resource-r0/actual-node1/has-emergency", "1");
        t.heard("node1", 1);
        let mut h = Here::new(&t.ctx, "r0");
        let err = h.value("the-err-msg", &[]).unwrap();
        assert!(err.starts_with("node2 disk-error: ") && err.contains("EIO"), "{err}");
        assert_eq!(h.value("the-err-count", &[]).unwrap(), "1");
        let wrn = h.value("all-pretty-wrn-msg", &[]).unwrap();
        assert!(wrn.contains("node1 emergency: 20") && wrn.contains("emergency mode"), "{wrn}");
        let all = h.value("all-msg", &[]).unwrap();
        assert_eq!(all.lines().count(), 3, "{all}");
    }
}
