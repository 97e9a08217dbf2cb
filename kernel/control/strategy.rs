// SPDX-License-Identifier: GPL-2.0

//! The strategy thread `mars_main`: reads the `/mars` tree, brings every resource of
//! this host into the role the tree asks for (`mars_core::role`), and reports the actual
//! state in `resource-<res>/actual-<host>/`. It runs once a second and at once when
//! something is written to `/proc/sys/mars/trigger`. Everything is derived from the tree,
//! so after a module reload or reboot the previous roles resume by themselves.

use core::sync::atomic::Ordering;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use crate::kapi::compat::prelude::*;
use kernel::str::{CStr, CString};
use kernel::sync::Arc;

use crate::context::Context;
use crate::kapi::thread::{self, Thread};
use crate::kapi::time::real_ns;
use crate::kapi::vfs;
use crate::mars_core::names::check_host_name;
use crate::mars_core::emergency::{self as em, Level, Reserves};
use crate::mars_core::handover::{Mode, Stamps, Takeover, Wait, TAKEOVER_WAIT};
use crate::mars_core::replication::{disk_order, DiskWriter};
use crate::mars_core::role::{desired_role, switch_on, ResourceLinks, Role};
use crate::mars_core::round::{self, step, takeover_here, text, Activity, Host, Step};
use crate::mars_core::syncgate::{may_start, queued_before, SyncSlots};
use crate::mars_core::syncruns::TOOK_OVER;
use crate::mars_core::lamport::format_stamp;
use crate::mars_core::tree::{ReplayLink, ACTSIZE_PREFIX, ACTUAL_PREFIX, DATA_PREFIX, DEVICE_PREFIX, DISK_ERROR, IF_AMOUNT_RATE, IF_COMPLETION_STAMP, IF_FLYING, IF_OPS_RATE, IS_SYNC_QUEUED, NONE, PRIMARY, REPLAY_PREFIX, RESOURCE_PREFIX, SIZE, SYNCSTATUS_PREFIX, TIME, TODO_PREFIX, VERSION_PREFIX};
use crate::net::conn::{self, Listener};
use crate::tunables::{self, Traffic, SYNC_LIMIT, SYNC_NR, SYNC_WANTED};
use crate::net::{fetch_server, meta, sync_server};
use crate::net::served::Primaries;
use crate::control::resource::{delete_replayed, Resource, Setup};
use crate::tree::{host_name, path, DirLinks, Tree, ROOT};

/// What the strategy thread works with: the services' context, and the registry of the
/// resources this host serves as primary (filled by the resources, read by the servers).
struct Main {
    ctx: Arc<Context>,
    primaries: Arc<Primaries>,
}

/// The running strategy thread; stopping it (drop) detaches every resource.
pub(crate) struct Strategy {
    _thread: Thread,
}

impl Strategy {
    pub(crate) fn start(ctx: Arc<Context>, module: &'static ThisModule) -> Result<Strategy> {
        let main = Main { ctx, primaries: Primaries::new()? };
        let thread = Thread::spawn(kernel::c_str!("mars_main"), move || {
            let mut resources: KVec<Option<Resource>> = KVec::new();
            let mut listeners: Option<Listeners> = None;
            // The last failure logged and when: the same one again only once a minute
            // (a /mars that takes no writes fails every round, many a second).
            let mut failing: Option<(Error, u64)> = None;
            while !thread::should_stop() {
                listen(&main, &mut listeners);
                match round(&main, &mut resources, module) {
                    Err(e) => {
                        let now = real_ns();
                        if failing.is_none_or(|(last, at)| last != e || now.saturating_sub(at) >= 60_000_000_000) {
                            pr_warn!("strategy round failed: {:?}\n", e);
                            failing = Some((e, now));
                        }
                    }
                    Ok(()) => failing = None,
                }
                main.ctx.wait_trigger(1000);
            }
            // Leaving: no more connections, then the resources (devices, then disks)
            // are released.
            drop(listeners);
            drop(resources);
        })?;
        Ok(Strategy { _thread: thread })
    }
}

/// The listeners on the three ports (metadata, fetch, sync).
struct Listeners {
    _meta: Listener,
    _fetch: Listener,
    _sync: Listener,
    port: u16,
    at: [u8; 4],
}

/// Keeps the listeners on the current `base_port` and this host's replication address
/// (`ips/ip-<me>`, all addresses while unknown): started at the first round, moved when
/// either changes, retried each round while the ports are taken.
fn listen(main: &Main, listeners: &mut Option<Listeners>) {
    let port = Traffic::Meta.port();
    let at = conn::listen_address(&main.ctx);
    if listeners.as_ref().is_some_and(|l| l.port == port && l.at == at) {
        return;
    }
    // The old ports are closed first.
    let had = listeners.take().is_some();
    let started = (|| -> Result<Listeners> {
        Ok(Listeners {
            _meta: meta::start_server(main.ctx.clone(), at)?,
            _fetch: fetch_server::start_server(main.ctx.clone(), main.primaries.clone(), at)?,
            _sync: sync_server::start_server(main.ctx.clone(), main.primaries.clone(), at)?,
            port,
            at,
        })
    })();
    match started {
        Ok(l) => {
            if had || at != [0; 4] {
                let [a, b, c, d] = at;
                pr_info!("listening on {}.{}.{}.{} ports {}-{} now\n", a, b, c, d, port, port.saturating_add(2));
            }
            *listeners = Some(l);
        }
        Err(e) => pr_warn!("cannot listen on ports {}-{}: {:?}; retrying\n", port, port.saturating_add(2), e),
    }
}

/// One pass over the tree.
fn round(main: &Main, resources: &mut KVec<Option<Resource>>, module: &'static ThisModule) -> Result {
    let tree = Tree { clock: &main.ctx.clock };
    let me_raw = host_name()?;
    let me = text(&me_raw);
    if check_host_name(me).is_err() {
        return Err(EINVAL);
    }
    let root = path(fmt!("{}", ROOT))?;
    // Liveness: a cluster member's actual-<me>/time is rewritten every round; since it
    // propagates, its age elsewhere is the time since the last metadata exchange.
    if tree.cluster_uuid()?.is_some() {
        let mut buf = [0u8; 32];
        let now = format_stamp(main.ctx.clock.peek(), &mut buf);
        tree.write(&path(fmt!("{}/{}{}", ROOT, ACTUAL_PREFIX, me))?, TIME, now)?;
    }
    let space = measure_space(&tree, me, &root);
    let mut seen: KVec<KVec<u8>> = KVec::new();
    // In name order, not the directory's (a hash order on ext4): syncs that become
    // wanted in the same round queue for `sync_limit` in the order of their names, as
    // `invalidate all` asks for them.
    let mut entries = vfs::list_dir(&root)?;
    entries.sort_unstable_by(|a, b| a.to_bytes().cmp(b.to_bytes()));
    for entry in entries {
        let Some(res) = entry.to_str().ok().and_then(|n| n.strip_prefix(RESOURCE_PREFIX)) else { continue };
        let mut name = KVec::new();
        name.extend_from_slice(res.as_bytes(), GFP_KERNEL)?;
        seen.push(name, GFP_KERNEL)?;
        if let Err(e) = handle_resource(main, &tree, resources, res, me, module, &space) {
            pr_warn!("resource {}: {:?}\n", res, e);
        }
    }
    // Resources whose directory is gone: detach them (if their device is not open).
    for slot in resources.iter_mut() {
        let gone = slot.as_ref().is_some_and(|r| !seen.iter().any(|n| n.as_slice() == r.name.as_slice()));
        if gone && slot.as_mut().is_some_and(|r| r.make_secondary().is_ok()) {
            *slot = None;
        }
    }
    let running = resources.iter().flatten().filter(|r| r.is_syncing()).count();
    let queued = resources.iter().flatten().filter(|r| r.sync_queued().is_some()).count();
    SYNC_NR.store(running as u64, Ordering::Relaxed);
    SYNC_WANTED.store((running + queued) as u64, Ordering::Relaxed);
    Ok(())
}

/// What the other resources than `resources[me]` do with their full syncs.
fn sync_slots(resources: &[Option<Resource>], me: usize) -> SyncSlots {
    let mine = resources[me].as_ref().and_then(|r| r.sync_queued());
    let mut slots = SyncSlots::default();
    for (i, r) in resources.iter().enumerate() {
        match r.as_ref() {
            Some(_) if i == me => {}
            Some(r) if r.is_syncing() => slots.running += 1,
            Some(r) if r.sync_queued().is_some_and(|t| queued_before(t, mine)) => slots.ahead += 1,
            _ => {}
        }
    }
    slots
}

/// Whether a wanted full sync that does not run yet may start now: not while
/// `/proc/sys/mars/sync_limit` syncs run or are queued before it.
fn may_sync(slots: SyncSlots) -> bool {
    may_start(SYNC_LIMIT.load(Ordering::Relaxed).max(0) as u32, slots)
}

/// Index of the running resource `res`.
fn find(resources: &[Option<Resource>], res: &str) -> Option<usize> {
    resources.iter().position(|r| r.as_ref().is_some_and(|r| r.name.as_slice() == res.as_bytes()))
}

/// Stores a newly attached resource in a free slot (or a new one).
fn insert(resources: &mut KVec<Option<Resource>>, r: Resource) -> Result<usize> {
    if let Some(i) = resources.iter().position(Option::is_none) {
        resources[i] = Some(r);
        return Ok(i);
    }
    resources.push(Some(r), GFP_KERNEL)?;
    Ok(resources.len() - 1)
}

/// This round's space of `/mars` (`mars_core::emergency`).
struct Space {
    level: Level,
    rest: u64,
    total: u64,
}

/// Measures `/mars`, moves the emergency level (logging each level it crosses), and
/// reports it in `/proc/sys/mars` and `actual-<me>/`.
fn measure_space(tree: &Tree<'_>, me: &str, root: &CStr) -> Space {
    use core::sync::atomic::Ordering::Relaxed;
    let previous = Level::from_number(tunables::EMERGENCY_LEVEL.load(Relaxed).clamp(0, 4) as u8);
    let Ok(fs) = vfs::space(root) else {
        return Space { level: previous, rest: 0, total: 0 };
    };
    let rest = em::rest_space(fs.free, tunables::UNLOGGED.load(Relaxed) as u64);
    let auto = (em::auto_reserve(fs.total) >> 20) as i32;
    let mut mib = [0i64; 4];
    for (m, t) in mib.iter_mut().zip(&tunables::REQUIRED_FREE_SPACE_MB) {
        // Not set yet: the automatic value, shown from now on.
        let _ = t.compare_exchange(-1, auto, Relaxed, Relaxed);
        *m = i64::from(t.load(Relaxed));
    }
    let wanted = Reserves::from_mib(mib, fs.total).level(rest);
    let level = em::next_level(previous, wanted, tunables::RESET_EMERGENCY.load(Relaxed) != 0);
    for n in (previous as u8 + 1)..=(level as u8) {
        pr_warn!("/mars: emergency level {}: {} ({} MiB left of {} MiB)\n", n, Level::from_number(n).describe(), rest >> 20, fs.total >> 20);
    }
    if level < previous {
        pr_info!("/mars: emergency level down to {} ({} MiB left of {} MiB)\n", level as u8, rest >> 20, fs.total >> 20);
    }
    tunables::EMERGENCY_LEVEL.store(level as i32, Relaxed);
    tunables::REMAINING_SPACE_KB.store(rest >> 10, Relaxed);
    tunables::TOTAL_SPACE_KB.store(fs.total >> 10, Relaxed);
    let start = tunables::WRITE_THROTTLE_START_PERCENT.load(Relaxed);
    let used_pct = fs.total.saturating_sub(rest).saturating_mul(100) / fs.total.max(1);
    tunables::THROTTLING.store(start > 0 && used_pct >= start as u64, Relaxed);
    let report = || -> Result {
        if tree.cluster_uuid()?.is_none() {
            return Ok(());
        }
        let dir = path(fmt!("{}/{}{}", ROOT, ACTUAL_PREFIX, me))?;
        let text = |v: u64| path(fmt!("{}", v));
        tree.write(&dir, em::EMERGENCY_LEVEL, text(level as u64)?.to_str().map_err(|_| EINVAL)?)?;
        // In whole MiB, so the tree does not change every round.
        tree.write(&dir, em::REST_SPACE_KB, text((rest >> 20) << 10)?.to_str().map_err(|_| EINVAL)?)?;
        tree.write(&dir, em::TOTAL_SPACE_KB, text(fs.total >> 10)?.to_str().map_err(|_| EINVAL)?)
    };
    if let Err(e) = report() {
        pr_debug!("cannot report the space of /mars: {:?}\n", e);
    }
    Space { level, rest, total: fs.total }
}

#[allow(clippy::too_many_arguments)]
fn handle_resource(
    main: &Main,
    tree: &Tree<'_>,
    resources: &mut KVec<Option<Resource>>,
    res: &str,
    me: &str,
    module: &'static ThisModule,
    space: &Space,
) -> Result {
    let dir = path(fmt!("{}/{}{}", ROOT, RESOURCE_PREFIX, res))?;
    let link = |name: core::fmt::Arguments<'_>| -> Result<Option<KVec<u8>>> {
        tree.read(&path(fmt!("{}/{}", &*dir, name))?)
    };
    let data = link(fmt!("{}{}", DATA_PREFIX, me))?;
    let attach = link(fmt!("{}{}/attach", TODO_PREFIX, me))?;
    let connect = link(fmt!("{}{}/connect", TODO_PREFIX, me))?;
    let primary = link(fmt!("{}", PRIMARY))?;
    let primary = primary.as_deref().map(text).filter(|p| *p != NONE);
    let want = desired_role(&ResourceLinks { has_data: data.is_some(), attach: switch_on(attach.as_deref()), primary }, me);

    let actual = path(fmt!("{}/actual-{}", &*dir, me))?;
    let mut problem: Option<Error> = None;
    let limit = link(fmt!("{}{}/{}", TODO_PREFIX, me, em::EMERGENCY_LIMIT))?.and_then(|v| text(&v).parse::<u8>().ok()).unwrap_or(0);
    let over = em::over_limit(space.rest, space.total, limit.min(100));
    let emergency = em::for_resource(space.level, over, primary == Some(me));

    // What an attached resource is set up from: missing while it is wanted, nothing
    // changes here and the error says so.
    let (size, devname) = if want == Role::Detached {
        (None, None)
    } else {
        (link(fmt!("{}", SIZE))?.and_then(|v| text(&v).parse::<u64>().ok()), link(fmt!("{}{}", DEVICE_PREFIX, me))?)
    };
    let data_path = match (size, data.as_deref()) {
        (Some(_), Some(d)) => Some(path(fmt!("{}", text(d)))?),
        _ => None,
    };
    let setup = data_path.as_deref().zip(size).map(|(data_path, size)| Setup {
        name: res.as_bytes(),
        data_path,
        devname: devname.as_deref().map(text).unwrap_or(res),
        size,
    });

    // The resource's state machine (`round::step`): every transition of a resource on
    // this host is one arm here.
    let mut idx = find(resources, res);
    let here = idx.and_then(|i| resources[i].as_ref());
    let mut next = step(want, here.map_or(Role::Detached, |r| r.role()), here.is_some_and(|r| r.open_count() > 0));
    if want != Role::Detached && setup.is_none() {
        problem = Some(EINVAL);
        next = Step::Idle;
    }
    if let (Step::Attach, Some(setup)) = (next, setup.as_ref()) {
        next = Step::Idle;
        match Resource::attach(setup, &main.ctx, &main.primaries) {
            Ok(r) => {
                pr_info!("resource {}: attached {}\n", res, setup.data_path);
                let i = insert(resources, r)?;
                idx = Some(i);
                next = step(want, Role::Secondary, false);
            }
            Err(e) => problem = Some(e),
        }
    }
    match (next, idx, setup.as_ref()) {
        (Step::Detach, Some(i), _) => match resources[i].as_mut().map_or(Ok(()), |r| r.make_secondary()) {
            Ok(()) => {
                resources[i] = None;
                pr_info!("resource {}: detached\n", res);
            }
            Err(e) => problem = Some(e),
        },
        (Step::StayPrimary | Step::TakeOver | Step::Remain | Step::Follow, Some(i), Some(setup)) => {
            let slots = sync_slots(resources, i);
            if let Some(r) = resources[i].as_mut() {
                let activity = Activity {
                    connected: switch_on(connect.as_deref()),
                    syncing: r.is_syncing(),
                    sync_slot_free: may_sync(slots),
                    space_allows_sync: emergency.may_sync,
                };
                if let Err(e) = attached_step(next, tree, &dir, r, res, setup, primary, me, module, activity, &emergency, space) {
                    problem = Some(e);
                }
            }
        }
        _ => {}
    }

    // Report what is (not what was asked for).
    let current = find(resources, res).and_then(|i| resources[i].as_ref());
    let role = current.map_or(Role::Detached, |r| r.role());
    if emergency.delete_replayed && role == Role::Secondary {
        let replay = link(fmt!("{}{}", REPLAY_PREFIX, me))?;
        if let Some(l) = replay.as_deref().and_then(|v| ReplayLink::parse(text(v)).ok()) {
            delete_replayed(&dir, res, l.log.nr)?;
        }
    }
    let ceased = current.is_some_and(|r| r.emergency().0);
    tree.write(&actual, em::HAS_EMERGENCY, if ceased || emergency.emergency { "1" } else { "0" })?;
    let open = current.map_or(0, |r| r.open_count());
    tree.write(&actual, "is-attached", if role == Role::Detached { "0" } else { "1" })?;
    // The device came or went: systemd here may have a unit to start or stop.
    let was_primary = tree.read(&path(fmt!("{}/is-primary", &*actual))?)?.is_some_and(|v| v.as_slice() == b"1");
    if was_primary && role != Role::Primary {
        // A host taking over acts on `is-primary` = 0 for good, so what it relies on is
        // durable before that shows: the final replay and version links and the
        // `primary` link this host gave way to. Else a crash within the filesystem's
        // commit interval brings this host back with its old tree: primary again, next
        // to the new one (docu/failover.md, "A crash during a handover").
        vfs::sync_dir(&dir)?;
    }
    tree.write(&actual, "is-primary", if role == Role::Primary { "1" } else { "0" })?;
    if was_primary != (role == Role::Primary) {
        tree.touch_systemd_trigger();
    }
    if role != Role::Primary {
        restamp_final_links(tree, &dir, &actual, me, was_primary)?;
    }
    tree.write(&actual, "open-count", number(open)?.to_str().map_err(|_| EINVAL)?)?;
    // The device's requests, for the LocalDevice line of `marsadm view`.
    let io = current.and_then(|r| r.io_stats()).map(|s| s.sample());
    let figure = |v: u64| path(fmt!("{}", v));
    tree.write(&actual, IF_OPS_RATE, figure(io.map_or(0, |s| s.ops_rate))?.to_str().map_err(|_| EINVAL)?)?;
    tree.write(&actual, IF_AMOUNT_RATE, figure(io.map_or(0, |s| s.bytes_rate))?.to_str().map_err(|_| EINVAL)?)?;
    tree.write(&actual, IF_FLYING, figure(io.map_or(0, |s| s.flying))?.to_str().map_err(|_| EINVAL)?)?;
    tree.write(&actual, IF_COMPLETION_STAMP, figure(io.map_or(0, |s| s.progress_ns))?.to_str().map_err(|_| EINVAL)?)?;
    let (fetching, syncing, replaying) = current.map_or((false, false, false), |r| r.activity());
    tree.write(&actual, "is-fetching", if fetching { "1" } else { "0" })?;
    tree.write(&actual, "is-syncing", if syncing { "1" } else { "0" })?;
    let queued = current.is_some_and(|r| r.sync_queued().is_some());
    tree.write(&actual, IS_SYNC_QUEUED, if queued { "1" } else { "0" })?;
    tree.write(&actual, "is-replaying", if replaying { "1" } else { "0" })?;
    // The disk's size as it is now, for `marsadm resize` (design reference §5.9).
    if let Some(bytes) = current.map(|r| r.disk_bytes()) {
        let name = path(fmt!("{}{}", ACTSIZE_PREFIX, me))?;
        tree.write(&dir, name.to_str().map_err(|_| EINVAL)?, path(fmt!("{}", bytes))?.to_str().map_err(|_| EINVAL)?)?;
    }
    // Why a takeover waits, for `marsadm view` here and on the other members.
    tree.write(&actual, TAKEOVER_WAIT, current.and_then(|r| r.waiting()).map_or("0", Wait::word))?;
    let disk_error = current.map_or(0, |r| r.disk_error());
    tree.write(&actual, DISK_ERROR, number(disk_error)?.to_str().map_err(|_| EINVAL)?)?;
    let err = problem.map_or(0, |e| e.to_errno());
    tree.write(&actual, "error", number(err)?.to_str().map_err(|_| EINVAL)?)?;
    Ok(())
}

/// Performs the step of an attached resource (`round::step`): as primary, as a host
/// designated primary, as one that leaves the primary role or follows.
#[allow(clippy::too_many_arguments)]
fn attached_step(
    next: Step,
    tree: &Tree<'_>,
    dir: &CString,
    r: &mut Resource,
    res: &str,
    setup: &Setup<'_>,
    primary: Option<&str>,
    me: &str,
    module: &'static ThisModule,
    activity: Activity,
    emergency: &em::ResourceEmergency,
    space: &Space,
) -> Result {
    let size = setup.size;
    let links = &DirLinks { tree, dir };
    let actual = path(fmt!("{}/actual-{}", &**dir, me))?;
    // Whether `follow` decided about the sync queue this round, and why a takeover
    // waits.
    let (mut followed, mut waits) = (false, None);
    let result = match next {
        Step::StayPrimary => {
            r.follow_emergency(emergency, space.rest);
            r.rotate_if_asked(dir, me).and_then(|()| r.grow(res, size)).and_then(|()| own_grown_area(tree, links, dir, me, size))
        }
        Step::TakeOver => match takeover_here(links, me, size, activity.connected).and_then(|t| t.ok_or(EINVAL)) {
            Ok(Takeover::Now(mode)) => note_takeover(tree, dir, &actual, me, mode).and_then(|()| r.make_primary(setup, dir, me, module, mode)).and_then(|()| note_primary(dir, &actual, tree)).and_then(|()| {
                tree.write(&actual, "forced-primary", if mode == Mode::Forced { "1" } else { "0" })
            }),
            Ok(Takeover::Wait(why)) => {
                waits = Some(why);
                followed = true;
                follow(links, r, res, me, primary, size, activity)
            }
            Err(e) => Err(e),
        },
        Step::Remain => {
            r.note_remains(res, true);
            Ok(())
        }
        Step::Follow => {
            // Back after a crash as primary (no device now), designated secondary: its
            // own log first (a host that leaves with its device had its logger write
            // the final links).
            let crashed = r.role() != Role::Primary;
            r.make_secondary().and_then(|()| {
                if crashed && tree.read(&path(fmt!("{}/is-primary", &*actual))?)?.is_some_and(|v| v.as_slice() == b"1") {
                    r.recover_left(dir, me)?;
                }
                r.note_remains(res, false);
                followed = true;
                follow(links, r, res, me, primary, size, activity)
            })
        }
        Step::Idle | Step::Attach | Step::Detach => Ok(()),
    };
    r.note_wait(res, waits);
    if !followed {
        // No sync wanted here this round: no place in the queue kept.
        r.queue_sync(res, None);
    }
    result
}

/// Performs `mars_core::round::follow`: fetch, full sync (or its place in the queue)
/// and replay as decided; the one of sync and replay that stops goes first
/// (`replication::disk_order`).
fn follow(links: &DirLinks<'_>, r: &mut Resource, res: &str, me: &str, primary: Option<&str>, size: u64, activity: Activity) -> Result {
    let plan = round::follow(links, me, primary, size, activity)?;
    // A failing fetch start does not skip the sync queue's decision (the error is
    // returned at the end).
    let fetching = r.fetch_from(res, plan.fetch.as_ref().map(Host::as_str));
    r.queue_sync(res, plan.sync_queued());
    for writer in disk_order(plan.replay_on) {
        match writer {
            DiskWriter::Sync => r.sync_from(res, plan.sync_from(), size)?,
            DiskWriter::Replay => r.replay(res, plan.replay_on)?,
        }
    }
    fetching
}

/// On the primary, its device grown to `size`: `syncstatus-<me>` = `size` where it was
/// below (`round::primary_status`: a resize heard of only after a forced takeover).
fn own_grown_area(tree: &Tree<'_>, links: &DirLinks<'_>, dir: &CString, me: &str, size: u64) -> Result {
    let Some(status) = round::primary_status(links, me, size)? else { return Ok(()) };
    let name = path(fmt!("{}{}", SYNCSTATUS_PREFIX, me))?;
    tree.write(dir, name.to_str().map_err(|_| EINVAL)?, path(fmt!("{}", status))?.to_str().map_err(|_| EINVAL)?)
}

/// `actual-<me>/took-over` = `<mode>,<old primary>` before the device and the sync
/// server start: a host whose full sync is unfinished resumes it after a planned
/// handover, and starts it again after any other (`mars_core::syncruns::start_at`).
fn note_takeover(tree: &Tree<'_>, dir: &CStr, actual: &CStr, me: &str, mode: Mode) -> Result {
    let raw = tree.replay_link(dir, me)?.ok_or(EINVAL)?;
    let link = ReplayLink::parse(text(&raw)).map_err(|_| EINVAL)?;
    let value = path(fmt!("{},{}", mode.word(), link.log.host))?;
    // Stamped anew also when the value is the same as last time: the stamp says it is
    // about this takeover.
    vfs::mkdir(actual)?;
    vfs::replace_link(actual, TOOK_OVER, value.to_str().map_err(|_| EINVAL)?, tree.clock.stamp())
}

/// `is-primary` = 1 once the device is there (marsadm and systemd take it for that),
/// made durable at once, right after the device appeared (before marsadm or systemd
/// can have started an application on it): a crash in the filesystem's commit interval
/// would otherwise bring this host back saying it had not been primary, and a handover
/// back asked for meanwhile could be designated on that word and take over beside the
/// writes this host's application made (found by the simulation, docu/simulation.md).
fn note_primary(dir: &CStr, actual: &CStr, tree: &Tree<'_>) -> Result {
    vfs::replace_link(actual, "is-primary", "1", tree.clock.stamp())?;
    vfs::sync_dir(dir)
}

/// After `is-primary` = 0: this host's replay link and the version link of the logfile
/// it names written again, same values, newer stamps, so a host taking over can tell
/// them from links written before this host left the primary role
/// (`mars_core::handover::Stamps::final_links`). At once when it has just left
/// (`left`); at any later round where the links of its own last logfile are not
/// stamped after `is-primary` = 0 (a crash came between the two writes) or after the
/// `primary` link (a designation newer than its leaving): a host taking over waits for
/// that.
fn restamp_final_links(tree: &Tree<'_>, dir: &CStr, actual: &CStr, me: &str, left: bool) -> Result {
    let replay_name = path(fmt!("{}{}", REPLAY_PREFIX, me))?;
    let Some((raw, replay_stamp)) = tree.read_stamped(&path(fmt!("{}/{}", dir, &*replay_name))?)? else { return Ok(()) };
    let Ok(link) = ReplayLink::parse(text(&raw)) else { return Ok(()) };
    let version_name = path(fmt!("{}{:09}-{}", VERSION_PREFIX, link.log.nr, me))?;
    let version = tree.read_stamped(&path(fmt!("{}/{}", dir, &*version_name))?)?;
    let designated = tree.read_stamped(&path(fmt!("{}/{}", dir, PRIMARY))?)?.map_or(0, |(_, s)| s);
    if !left {
        let Some((_, version_stamp)) = version.as_ref() else { return Ok(()) };
        let is_primary = tree.read_stamped(&path(fmt!("{}/is-primary", actual))?)?.map_or(0, |(_, s)| s);
        let stamps = Stamps { is_primary, replay: replay_stamp, version: *version_stamp, designated };
        if link.log.host != me || stamps.final_links() {
            return Ok(());
        }
    }
    // Stamped after the designation, also one written by hand with another clock. Only
    // the stamps change: a value marsadm wrote since they were read (create-resource
    // --force re-creating the resource here) stays, it is not undone by the one read.
    tree.clock.observe(designated);
    vfs::restamp_link(dir, replay_name.to_str().map_err(|_| EINVAL)?, text(&raw), tree.clock.stamp())?;
    if let Some((value, _)) = version {
        vfs::restamp_link(dir, version_name.to_str().map_err(|_| EINVAL)?, text(&value), tree.clock.stamp())?;
    }
    Ok(())
}

fn number(v: i32) -> Result<kernel::str::CString> {
    path(fmt!("{}", v))
}
