//! Role changes (docu/failover.md): `primary` (planned handover), `primary --force`
//! (failover), `invalidate` (discard this host's version after a split brain).
//!
//! Every check runs before anything is written. The module does the data-side work
//! (`mars_core::handover`): a host designated primary takes over only once the old
//! primary has left its role and everything it logged is replayed — or at once with
//! what it has when its fetch is paused (forced).

use std::time::{Duration, Instant};

use mars_core::emergency::HAS_EMERGENCY;
use mars_core::handover::Takeover;
use mars_core::round::{self, Links};
use mars_core::syncruns::SYNC_FROM;
use mars_core::tree::{ReplayLink, VersionLink, ACTUAL_PREFIX, DELETED, NONE, PRIMARY, REPLAY_PREFIX, SIZE, SYNCPOS_PREFIX, SYNCSTATUS_PREFIX, TODO_PREFIX, VERSION_PREFIX};

use super::resource::{device_up, discard_history, require_member, resource_dir, set_todo_of};
use super::systemd;
use super::view::split_brain;
use crate::context::Context;
use crate::progress::{Progress, Wait};
use crate::error::{Error, Result};
use crate::liveness;

/// How long the old primary's liveness link may take to arrive anew before it counts
/// as unreachable: it is rewritten every second and pulled every 2 s, but a busy or
/// slow host's pulls can take many seconds (three debug-kernel nodes during a full sync
/// missed 8 s). As long as a host counts as unreachable by the age of that link.
const HEARD_WITHIN: Duration = liveness::UNREACHABLE_AFTER;

/// How long a non-zero open count of the old primary is re-read before a refusal: a
/// few metadata pull intervals.
const OPEN_COUNT_FRESH: Duration = Duration::from_secs(6);

/// With systemd units, the old primary's application runs until its systemd learns of
/// the handover, so this host need only come this close before it designates itself;
/// the module replays the rest before it takes over (`mars_core::handover`).
const SYSTEMD_CATCH_UP_SLACK: u64 = 4 << 20;

/// How long `invalidate` and `fake-sync` wait for a fresh listing of the designated
/// primary ([`liveness::fresh_view`]): two pulls, also after a partition, when the
/// first pull may come only after the longest backoff (30 s).
const FRESH_WITHIN: Duration = Duration::from_secs(45);

fn refused(res: &str, why: impl Into<String>) -> Error {
    Error::Refused { res: res.into(), why: why.into() }
}

/// What the tree says about a resource, read once per decision.
pub(crate) struct View<'a> {
    pub(crate) ctx: &'a Context,
    dir: String,
}

impl<'a> View<'a> {
    pub(crate) fn new(ctx: &'a Context, res: &str) -> View<'a> {
        View { ctx, dir: resource_dir(res) }
    }
}

/// The module's decisions (`mars_core::round`) read the same links through it.
impl Links for View<'_> {
    type Value = Vec<u8>;
    type Error = Error;

    fn stamped(&self, name: std::fmt::Arguments<'_>) -> Result<Option<(Vec<u8>, u64)>> {
        Ok(self.ctx.tree.get(&format!("{}/{name}", self.dir))?.map(|l| (l.value.into_bytes(), l.stamp_ns)))
    }

    fn names(&self, each: &mut dyn FnMut(&str)) -> Result<()> {
        self.ctx.tree.list(&self.dir)?.iter().for_each(|n| each(n));
        Ok(())
    }
}

impl View<'_> {
    fn link(&self, name: &str) -> Result<Option<String>> {
        Ok(self.ctx.tree.get(&format!("{}/{name}", self.dir))?.map(|l| l.value))
    }

    fn actual(&self, host: &str, name: &str) -> Result<Option<String>> {
        self.link(&format!("actual-{host}/{name}"))
    }

    fn switch(&self, name: &str) -> Result<bool> {
        Ok(self.link(&format!("{TODO_PREFIX}{}/{name}", self.ctx.host))?.as_deref() == Some("1"))
    }

    fn designated(&self) -> Result<Option<String>> {
        Ok(self.link(PRIMARY)?.filter(|p| p != NONE))
    }

    fn replay(&self, host: &str) -> Result<Option<String>> {
        self.link(&format!("{REPLAY_PREFIX}{host}"))
    }

    fn version(&self, nr: u32, host: &str) -> Result<Option<String>> {
        self.link(&format!("{VERSION_PREFIX}{nr:09}-{host}"))
    }

    fn number(&self, name: &str) -> Result<Option<u64>> {
        Ok(self.link(name)?.and_then(|v| v.parse().ok()))
    }

    /// This host's disk is a consistent copy (sync finished, replay past its end).
    fn consistent(&self) -> Result<bool> {
        self.consistent_at(&self.ctx.host)
    }

    /// `host`'s disk is a consistent copy, as far as this host's tree tells.
    pub(crate) fn consistent_at(&self, host: &str) -> Result<bool> {
        round::consistent(self, host, self.number(SIZE)?.unwrap_or(0))
    }

    fn reachable(&self, host: &str) -> Result<bool> {
        liveness::is_reachable(self.ctx, host)
    }

    /// The module's takeover decision for this host, as far as the tree here tells:
    /// whether everything `old` logged is replayed here (`fetch_on` as given).
    fn takeover(&self, fetch_on: bool) -> Result<Option<Takeover>> {
        let size = self.number(SIZE)?.unwrap_or(0);
        round::takeover_here(self, &self.ctx.host, size, fetch_on)
    }

    /// Bytes of `old`'s log not yet replayed here (as far as its links tell).
    fn behind(&self, old: &str) -> Result<u64> {
        let mine = self.replay(&self.ctx.host)?;
        let Some(mine) = mine.as_deref().and_then(|v| ReplayLink::parse(v).ok()) else { return Ok(0) };
        self.rest_after(&mine, old)
    }

    /// Bytes of `writer`'s log beyond `from` (a replay position), as far as its links
    /// here tell: to its replay link, through the logfiles its version links name.
    pub(crate) fn rest_after(&self, from: &ReplayLink<'_>, writer: &str) -> Result<u64> {
        let Some(theirs) = self.replay(writer)? else { return Ok(0) };
        let Ok(theirs) = ReplayLink::parse(&theirs) else { return Ok(0) };
        let mut rest = 0u64;
        for nr in from.log.nr..=theirs.log.nr.max(from.log.nr) {
            let end = if nr == theirs.log.nr {
                theirs.start
            } else {
                self.version(nr, writer)?.as_deref().and_then(|v| VersionLink::parse(v).ok().map(|v| v.pos)).unwrap_or(0)
            };
            rest = rest.saturating_add(if nr == from.log.nr { end.saturating_sub(from.start) } else { end });
        }
        Ok(rest)
    }
}

/// The host whose logfile this host replays (the old primary of a handover), unless
/// it is this host.
fn replay_origin(v: &View<'_>) -> Result<Option<String>> {
    let me = &v.ctx.host;
    let link = v.replay(me)?;
    Ok(link.as_deref().and_then(|l| ReplayLink::parse(l).ok()).map(|l| l.log.host.to_owned()).filter(|h| h != me))
}

/// Waits until `done` says yes, at most `timeout`, printing what it waits for whenever
/// that changes; `Ok(false)` after the timeout.
fn wait_for(timeout: Duration, mut done: impl FnMut() -> Result<std::result::Result<(), Wait>>) -> Result<bool> {
    let deadline = Instant::now() + timeout;
    let mut progress = Progress::new();
    loop {
        match done()? {
            Ok(()) => return Ok(true),
            Err(wait) => progress.show(&wait),
        }
        if Instant::now() > deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn set_primary(ctx: &Context, res: &str, host: &str) -> Result<()> {
    let dir = resource_dir(res);
    ctx.tree.set(&format!("{dir}/{PRIMARY}"), host, ctx.stamp(&[&dir])?)?;
    ctx.trigger();
    Ok(())
}

/// The refusals of `primary [--force] RES` that need no waiting; `Ok(false)`: this
/// host is primary already.
pub fn check_primary(ctx: &Context, res: &str, force: bool) -> Result<bool> {
    require_member(ctx, res)?;
    ctx.require_module()?;
    let v = View { ctx, dir: resource_dir(res) };
    let me = ctx.host.as_str();
    let designated = v.designated()?;
    if v.actual(me, "is-primary")?.as_deref() == Some("1") {
        // Primary already, or still (RemainsPrimary: its device is open): at most the
        // designation changes back; nothing else moves.
        return Ok(designated.as_deref() != Some(me));
    }
    if v.actual(me, "is-attached")?.as_deref() != Some("1") {
        return Err(refused(res, format!("it is not attached here: run `marsadm up {res}` first")));
    }
    if !v.consistent()? {
        return Err(refused(res, "this host's disk is not a consistent copy yet (full sync or its replay unfinished): wait until `marsadm view` shows it UpToDate"));
    }
    if v.actual(me, HAS_EMERGENCY)?.as_deref() == Some("1") {
        return Err(refused(res, "this host is in emergency mode (/mars too full, docu/emergency.md): free space in its /mars first"));
    }
    if force {
        if v.switch("connect")? {
            return Err(refused(res, format!("a forced failover needs fetch paused first: `marsadm pause-fetch {res}`")));
        }
        return Ok(true);
    }
    let Some(old) = old_primary(&v)? else { return Ok(true) };
    if !v.switch("connect")? {
        return Err(refused(res, format!("fetch is paused here: `marsadm resume-fetch {res}` first (or, for a failover, `marsadm primary --force {res}`)")));
    }
    if !v.switch("allow-replay")? {
        return Err(refused(res, format!("replay is paused here: `marsadm resume-replay {res}` first")));
    }
    if !liveness::heard_anew(ctx, &old, HEARD_WITHIN)? {
        return Err(refused(res, format!("{old} is unreachable; for a failover use `marsadm pause-fetch {res}; marsadm primary --force {res}`")));
    }
    if v.actual(&old, HAS_EMERGENCY)?.as_deref() == Some("1") {
        return Err(refused(res, format!("{old} is in emergency mode (it ceased transaction logging, docu/emergency.md): this host cannot catch up; free space in {old}'s /mars, then `marsadm invalidate {res}` here")));
    }
    // The old primary's open count arrives with the metadata pulls (every 2 s): a
    // device closed just now may still look open for a moment.
    let open = || -> Result<u32> { Ok(v.actual(&old, "open-count")?.and_then(|n| n.parse().ok()).unwrap_or(0)) };
    let deadline = Instant::now() + OPEN_COUNT_FRESH;
    while open()? > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    let openers = open()?;
    if openers > 0 {
        if !systemd::configured(ctx, res)? {
            return Err(refused(res, format!("the device is in use on {old} ({openers} openers): umount it there first")));
        }
        println!("{res}: the device is in use on {old} ({openers} openers): systemd there stops the stop unit (docu/systemd.md)");
    }
    if let Some(sb) = split_brain(ctx, res, designated.as_deref())? {
        return Err(refused(res, format!("SPLIT BRAIN after logfile {}: resolve it first (`marsadm view {res}`, docu/failover.md)", sb.logfile)));
    }
    Ok(true)
}

/// The old primary: the designated one, else whoever's logfile this host replays.
fn old_primary(v: &View<'_>) -> Result<Option<String>> {
    match v.designated()?.filter(|p| *p != v.ctx.host) {
        Some(p) => Ok(Some(p)),
        None => replay_origin(v),
    }
}

/// `primary [--force] RES`.
pub fn primary(ctx: &Context, res: &str, force: bool, timeout: Duration) -> Result<()> {
    let v = View { ctx, dir: resource_dir(res) };
    if !check_primary(ctx, res, force)? {
        if device_up(ctx, res)? {
            println!("{res}: this host is primary already");
            return Ok(());
        }
        // Primary before a crash or an unload (`is-primary` says so until the role is
        // left): the module recovers the log and brings the device back.
        println!("{res}: this host is primary; waiting for the module to bring the device back");
        return wait_primary(&v, res, None, timeout);
    }
    let me = ctx.host.as_str();
    let designated = v.designated()?;
    if v.actual(me, "is-primary")?.as_deref() == Some("1") {
        // RemainsPrimary: its device never went away, so its version is the one
        // designated again (after a failover elsewhere: a split brain to resolve there).
        set_primary(ctx, res, me)?;
        println!("{res}: this host is still the actual primary; it is the designated one again");
        if let Some(sb) = split_brain(ctx, res, Some(me))? {
            eprintln!("WARNING: SPLIT BRAIN after logfile {}: `marsadm invalidate {res}` on the other primary once its device is closed", sb.logfile);
        }
        return Ok(());
    }
    let old = old_primary(&v)?;
    if force {
        return forced(ctx, &v, res, old.as_deref(), timeout);
    }
    let Some(old) = old else {
        // Nobody else was primary: this host's own log, nothing to hand over.
        set_primary(ctx, res, me)?;
        wait_primary(&v, res, None, timeout)?;
        return systemd::started_primary(ctx, res);
    };
    // Everything the old primary has logged so far must arrive and be replayed here
    // before the roles change (it logs nothing more: its device is closed). With
    // systemd its application still writes until systemd there stops it: close is
    // enough, the module replays the rest before it takes over.
    let slack = if systemd::configured(ctx, res)? { SYSTEMD_CATCH_UP_SLACK } else { 0 };
    let caught_up = wait_for(timeout, || {
        if !v.reachable(&old)? {
            return Ok(Err(format!("{old} is unreachable").into()));
        }
        match v.behind(&old)? {
            n if n <= slack => Ok(Ok(())),
            n => Ok(Err(Wait { why: format!("{old}'s log to fetch and replay here"), rest: Some(n) })),
        }
    })?;
    if !caught_up {
        return Err(Error::WaitTimeout { res: res.into(), what: format!("caught up with {old} (nothing changed)"), secs: timeout.as_secs() });
    }
    let previous = designated.clone().unwrap_or_else(|| NONE.to_owned());
    set_primary(ctx, res, me)?;
    println!("{res}: designated {me} primary; {old} hands over");
    match wait_primary(&v, res, Some(&old), timeout) {
        Ok(()) => systemd::started_primary(ctx, res),
        Err(e) => {
            // Not taken over: the old primary keeps (or gets back) its role, unless it
            // is no consistent copy any more (invalidated meanwhile: it could never take
            // over again, found by the simulation, docu/simulation.md).
            if v.actual(me, "is-primary")?.as_deref() != Some("1") {
                if previous == NONE || v.consistent_at(&previous)? {
                    set_primary(ctx, res, &previous)?;
                    eprintln!("{res}: handover aborted; primary is {previous} again");
                } else {
                    eprintln!("{res}: handover aborted; {previous} is no consistent copy any more, so {me} stays designated: designate the host to be primary with `marsadm primary {res}` there");
                }
            }
            Err(e)
        }
    }
}

/// Waits until this host is primary, saying why not yet.
fn wait_primary(v: &View<'_>, res: &str, old: Option<&str>, timeout: Duration) -> Result<()> {
    let done = wait_for(timeout, || {
        v.ctx.trigger();
        if device_up(v.ctx, res)? {
            return Ok(Ok(()));
        }
        if let Some(old) = old {
            if v.actual(old, "is-primary")?.as_deref() == Some("1") {
                let open = v.actual(old, "open-count")?.unwrap_or_default();
                return Ok(Err(format!("{old} to leave the primary role (its device has {open} openers)").into()));
            }
        }
        Ok(Err(match v.takeover(v.switch("connect")?)? {
            Some(Takeover::Wait(why)) => format!("the module here: {why}").into(),
            _ => "the module here to start the device".into(),
        }))
    })?;
    if done {
        println!("{res}: this host is primary now");
        Ok(())
    } else {
        Err(Error::WaitTimeout { res: res.into(), what: "primary".into(), secs: timeout.as_secs() })
    }
}

/// `primary --force`: fetch must be paused (and stopped); the disk must be consistent.
fn forced(ctx: &Context, v: &View<'_>, res: &str, old: Option<&str>, timeout: Duration) -> Result<()> {
    let me = ctx.host.as_str();
    let stopped = wait_for(Duration::from_secs(10), || {
        ctx.trigger();
        Ok(if v.actual(me, "is-fetching")?.as_deref() == Some("1") { Err("the fetch to stop".into()) } else { Ok(()) })
    })?;
    if !stopped {
        return Err(refused(res, "the fetch did not stop within 10 s (see dmesg)"));
    }
    if let Some(old) = old {
        let old_primary = v.actual(old, "is-primary")?.as_deref() == Some("1");
        if v.reachable(old)? && old_primary {
            // (Reachable: heard within 20 s; a host that crashed just now still is.)
            let ago = crate::liveness::last_heard(ctx, old)?.map_or(0, |d| d.as_secs());
            eprintln!("WARNING: {old} was primary of {res} when last heard from, {ago} s ago: if it is up and goes on writing, this creates a SPLIT BRAIN (`marsadm view {res}` will show it)");
        }
        let behind = v.behind(old)?;
        if behind > 0 {
            eprintln!("WARNING: {behind} bytes logged by {old} (as far as known here) are not replayed here and will be missing: a SPLIT BRAIN with {old}'s version");
        }
    }
    set_primary(ctx, res, me)?;
    wait_primary(v, res, None, timeout)?;
    // Fetch back on: should this host become a secondary again, it follows at once.
    set_todo_of(ctx, res, me, "connect", true)?;
    ctx.trigger();
    systemd::started_primary(ctx, res)
}

/// The refusals of `invalidate RES`.
pub fn check_invalidate(ctx: &Context, res: &str) -> Result<()> {
    require_member(ctx, res)?;
    ctx.require_module()?;
    let v = View { ctx, dir: resource_dir(res) };
    let me = ctx.host.as_str();
    let Some(primary) = v.designated()? else {
        return Err(refused(res, "no host is designated primary: make the host whose version survives primary first (`marsadm primary` there)"));
    };
    if primary == me {
        return Err(refused(res, "this host is the designated primary; invalidate runs on the hosts whose version is discarded"));
    }
    if v.actual(me, "is-primary")?.as_deref() == Some("1") {
        let open = v.actual(me, "open-count")?.unwrap_or_default();
        return Err(refused(res, format!("this host is still primary ({open} openers): umount /dev/mars/… here first")));
    }
    require_replay_known(&v, res, &primary)
}

/// invalidate and fake-sync start from the designated primary's replay link: it must be
/// known here.
fn require_replay_known(v: &View<'_>, res: &str, primary: &str) -> Result<()> {
    if v.replay(primary)?.as_deref().and_then(|l| ReplayLink::parse(l).ok()).is_none() {
        return Err(refused(res, format!("{primary}'s replay link is not known here (yet): is it reachable? (marsadm wait-cluster)")));
    }
    Ok(())
}

/// The designated primary's replay link as it is now: only after a complete listing of
/// it has arrived (after a partition the link here may be from before it: an
/// `invalidate` would then start replay at a logfile the primary has left, maybe before
/// a hole it can never cross, and keep that logfile from being deleted everywhere).
fn fresh_replay(v: &View<'_>, res: &str, primary: &str) -> Result<String> {
    if !liveness::fresh_view(v.ctx, primary, FRESH_WITHIN)? {
        return Err(refused(res, format!("{primary} was not heard from anew within {} s, so its replay position known here may be stale: make it reachable (`marsadm wait-cluster`) and retry", FRESH_WITHIN.as_secs())));
    }
    let theirs = v.replay(primary)?.unwrap_or_default();
    match ReplayLink::parse(&theirs) {
        Ok(_) => Ok(theirs),
        Err(_) => Err(refused(res, format!("{primary}'s replay link is not known here"))),
    }
}

/// The checks of `fake-sync RES`, before anything changes: this host is a secondary
/// member and the designated primary's replay link is known here.
pub fn check_fake_sync(ctx: &Context, res: &str) -> Result<()> {
    require_member(ctx, res)?;
    ctx.require_module()?;
    let v = View { ctx, dir: resource_dir(res) };
    let me = ctx.host.as_str();
    let Some(primary) = v.designated()? else {
        return Err(refused(res, "no host is designated primary: there is no disk to be a copy of"));
    };
    if primary == me || v.actual(me, "is-primary")?.as_deref() == Some("1") {
        return Err(refused(res, "this host is the primary: its disk is the original, not a copy"));
    }
    require_replay_known(&v, res, &primary)
}

/// `fake-sync RES` (experts; design reference §6): declare this host's disk a copy of
/// the primary's without the full sync, at the operator's risk: for disks known to be
/// equal, e.g. both zeroed before `create-resource`. The sync is paused and its thread
/// gone before the status is written (the module would overwrite it otherwise); the
/// consistency point is the primary's logged position as known here, as a real sync's
/// end would be, and the sync switch is restored.
pub fn fake_sync(ctx: &Context, res: &str, timeout: Duration) -> Result<()> {
    check_fake_sync(ctx, res)?;
    let v = View { ctx, dir: resource_dir(res) };
    let me = ctx.host.as_str();
    let dir = resource_dir(res);
    let size = v.number(SIZE)?.unwrap_or(0);
    if v.number(&format!("{SYNCSTATUS_PREFIX}{me}"))?.is_none_or(|s| s >= size) {
        println!("{res}: no sync to fake: this host's sync is finished");
        return Ok(());
    }
    let sync_on = v.switch("sync")?;
    let stamp = ctx.stamp(&[&dir, &format!("{dir}/{TODO_PREFIX}{me}")])?;
    ctx.tree.set(&format!("{dir}/{TODO_PREFIX}{me}/sync"), "0", stamp)?;
    ctx.trigger();
    let stopped = wait_for(timeout, || {
        ctx.trigger();
        Ok(if v.actual(me, "is-syncing")?.as_deref() != Some("1") { Ok(()) } else { Err("the module to stop the sync".into()) })
    })?;
    if !stopped {
        // Nothing faked: the sync goes on as before.
        ctx.tree.set(&format!("{dir}/{TODO_PREFIX}{me}/sync"), if sync_on { "1" } else { "0" }, stamp + 1)?;
        ctx.trigger();
        return Err(Error::WaitTimeout { res: res.into(), what: "sync stopped".into(), secs: timeout.as_secs() });
    }
    let primary = v.designated()?.ok_or_else(|| refused(res, "no host is designated primary"))?;
    let theirs = match fresh_replay(&v, res, &primary) {
        Ok(t) => t,
        Err(e) => {
            // Nothing faked: the sync goes on as before.
            ctx.tree.set(&format!("{dir}/{TODO_PREFIX}{me}/sync"), if sync_on { "1" } else { "0" }, stamp + 1)?;
            ctx.trigger();
            return Err(e);
        }
    };
    let theirs = ReplayLink::parse(&theirs).map_err(|_| refused(res, format!("{primary}'s replay link is not known here")))?;
    let syncpos = ReplayLink { log: theirs.log, start: theirs.start.saturating_add(theirs.len), len: 0 };
    let stamp = ctx.stamp(&[&dir, &format!("{dir}/{TODO_PREFIX}{me}")])?;
    // The sync ends without a pass over the whole disk: its replay start does not move
    // (`replication::replay_after_sync`), also not when a later sync (after `resize`) completes.
    let from = format!("{dir}/{ACTUAL_PREFIX}{me}/{SYNC_FROM}");
    if ctx.tree.get(&from)?.is_some() {
        ctx.tree.set(&from, DELETED, stamp)?;
    }
    ctx.tree.set(&format!("{dir}/{SYNCPOS_PREFIX}{me}"), &syncpos.to_string(), stamp)?;
    ctx.tree.set(&format!("{dir}/{SYNCSTATUS_PREFIX}{me}"), &size.to_string(), stamp + 1)?;
    ctx.tree.set(&format!("{dir}/{TODO_PREFIX}{me}/sync"), if sync_on { "1" } else { "0" }, stamp + 1)?;
    ctx.trigger();
    println!("{res}: the sync is declared done without copying: this host's disk counts as {primary}'s (your word for it)");
    println!("it is a consistent copy once replay reaches {syncpos} (`marsadm view {res}` shows UpToDate)");
    Ok(())
}

/// `invalidate RES` (design reference §5.6): discard this host's version of the data
/// and make it a fresh copy of the designated primary: detach, forget this host's
/// replay position, version history and logfiles, then attach again with a full sync
/// (only differing blocks are copied) and replay from the primary's current logfile.
pub fn invalidate(ctx: &Context, res: &str, timeout: Duration) -> Result<()> {
    check_invalidate(ctx, res)?;
    let v = View { ctx, dir: resource_dir(res) };
    let me = ctx.host.as_str();
    let primary = v.designated()?.ok_or_else(|| refused(res, "no host is designated primary"))?;
    let theirs = fresh_replay(&v, res, &primary)?;
    let theirs = ReplayLink::parse(&theirs).map_err(|_| refused(res, format!("{primary}'s replay link is not known here")))?;
    if theirs.log.host == me {
        // Replay would start in a logfile of this host's, which the invalidation removes
        // and no one sends back (nobody's copy replaces its origin's logfile).
        return Err(refused(res, format!("{primary} still replays this host's {} (it is taking over from it): retry once it logs into its own logfile (`marsadm view {res}`)", theirs.log)));
    }
    let size = v.number(SIZE)?.unwrap_or(0);
    if v.actual(&primary, "is-primary")?.as_deref() != Some("1") {
        eprintln!("WARNING: {primary} is designated but not (yet) actual primary; the sync starts once it is");
    }
    if v.actual(&primary, HAS_EMERGENCY)?.as_deref() == Some("1") {
        eprintln!("WARNING: {primary} is in emergency mode (docu/emergency.md); the sync starts once its logging resumes (free space in its /mars)");
    }

    // Detach first: no fetch, sync or replay may run while the links change.
    let dir = resource_dir(res);
    let stamp = ctx.stamp(&[&dir, &format!("{dir}/{TODO_PREFIX}{me}")])?;
    ctx.tree.set(&format!("{dir}/{TODO_PREFIX}{me}/attach"), "0", stamp)?;
    ctx.trigger();
    let detached = wait_for(timeout, || {
        ctx.trigger();
        Ok(if v.actual(me, "is-attached")?.as_deref() == Some("0") { Ok(()) } else { Err("the module to detach".into()) })
    })?;
    if !detached {
        return Err(Error::WaitTimeout { res: res.into(), what: "detached".into(), secs: timeout.as_secs() });
    }
    let stamp = ctx.stamp(&["", &dir])?;
    // This host's history is forgotten: its version links and logfiles go (except
    // copies of the primary's logfiles from its current one on, which are still valid).
    let removed = discard_history(ctx, res, &primary, theirs.log.nr, stamp)?;
    // Like a join: replication starts at the primary's current logfile, after a sync.
    let replay = ReplayLink { log: theirs.log, start: 0, len: 0 };
    ctx.tree.set(&format!("{dir}/{REPLAY_PREFIX}{me}"), &replay.to_string(), stamp)?;
    ctx.tree.set(&format!("{dir}/{SYNCSTATUS_PREFIX}{me}"), "0", stamp)?;
    if ctx.tree.get(&format!("{dir}/syncpos-{me}"))?.is_some() {
        ctx.tree.set(&format!("{dir}/syncpos-{me}"), mars_core::tree::DELETED, stamp)?;
    }
    if theirs.log.nr > 1 {
        let prev = theirs.log.nr - 1;
        if let Some(v) = v.version(prev, &primary)? {
            ctx.tree.set(&format!("{dir}/{VERSION_PREFIX}{prev:09}-{me}"), &v, stamp + 1)?;
        }
    }
    for switch in ["connect", "sync", "allow-replay"] {
        ctx.tree.set(&format!("{dir}/{TODO_PREFIX}{me}/{switch}"), "1", stamp)?;
    }
    ctx.tree.set(&format!("{dir}/{TODO_PREFIX}{me}/attach"), "1", stamp + 1)?;
    ctx.trigger();
    println!("{res}: this host's version is discarded ({removed} bytes of logfiles removed); a full sync of {size} bytes from {primary} (only differing blocks are copied) and replay from {} follow", theirs.log);
    println!("it is a consistent copy again once `marsadm view {res}` shows UpToDate");
    Ok(())
}
