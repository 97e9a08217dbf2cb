//! One file per command family; [`run`] dispatches the parsed command line.

mod cat;
mod cluster;
mod handover;
mod hooks;
mod events;
mod logs;
mod macros;
mod members;
mod metrics;
mod monitoring;
mod primitives;
mod probe;
mod resize;
mod resource;
mod secret;
mod systemd;
mod userspace;
mod view;
mod version;
mod vocabulary;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::error::{Error, Result};
pub use monitoring::Monitoring;
pub use resource::Condition;
pub use view::{human, remaining};
use resource::Activity;

/// What a pause-* or resume-* command switches: (resources, activity, on, on every
/// member).
fn activity_of(command: &Command) -> Option<(&str, Activity, bool, bool)> {
    use Activity::{Fetch, Replay, Sync};
    Some(match command {
        Command::PauseFetch { resource } => (resource, Fetch, false, false),
        Command::PauseFetchGlobal { resource } => (resource, Fetch, false, true),
        Command::ResumeFetch { resource } => (resource, Fetch, true, false),
        Command::ResumeFetchGlobal { resource } => (resource, Fetch, true, true),
        Command::PauseSync { resource } => (resource, Sync, false, false),
        Command::PauseSyncGlobal { resource } => (resource, Sync, false, true),
        Command::ResumeSync { resource } => (resource, Sync, true, false),
        Command::ResumeSyncGlobal { resource } => (resource, Sync, true, true),
        Command::PauseReplay { resource } => (resource, Replay, false, false),
        Command::PauseReplayGlobal { resource } => (resource, Replay, false, true),
        Command::ResumeReplay { resource } => (resource, Replay, true, false),
        Command::ResumeReplayGlobal { resource } => (resource, Replay, true, true),
        _ => return None,
    })
}

/// Runs `act` on every resource `spec` names (`all`: every resource this host is a
/// member of; or a comma-separated list), once `check` has passed for all of them:
/// with several resources, nothing changes unless every check passes.
fn each(spec: &str, check: impl Fn(&Context, &str) -> Result<()>, act: impl Fn(&Context, &str) -> Result<()> + Sync) -> Result<()> {
    let ctx = Context::from_system()?;
    let list = resource::resource_list(&ctx, spec)?;
    for res in &list {
        check(&ctx, res)?;
    }
    ctx.commit()?;
    match crate::context::globals().parallel {
        Some(n) if list.len() > 1 => in_parallel(&ctx, &list, n, &act),
        _ => list.iter().try_for_each(|res| act(&ctx, res)),
    }
}

/// `--parallel[=N]`: `act` on the resources, N at a time (0: all at once); the first
/// failure is returned once every started one has finished, and no batch starts after
/// it (as one after the other, no resource is acted on after a failure).
fn in_parallel(ctx: &Context, list: &[String], n: usize, act: &(impl Fn(&Context, &str) -> Result<()> + Sync)) -> Result<()> {
    let n = if n == 0 { list.len() } else { n };
    for batch in list.chunks(n) {
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = batch.iter().map(|res| s.spawn(move || act(ctx, res))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        });
        results.into_iter().collect::<Result<()>>()?;
    }
    Ok(())
}

/// `log-rotate`: on each resource named; with `all`, on those this host is the actual
/// primary of (on the others there is nothing to rotate).
fn log_rotate(spec: &str) -> Result<()> {
    let ctx = Context::from_system()?;
    let mut list = resource::resource_list(&ctx, spec)?;
    if spec == "all" {
        let mut mine = Vec::new();
        for res in list {
            if logs::is_actual_primary(&ctx, &res)? {
                mine.push(res);
            }
        }
        list = mine;
    }
    for res in &list {
        logs::check_rotate(&ctx, res)?;
    }
    ctx.commit()?;
    for res in &list {
        logs::log_rotate(&ctx, res)?;
    }
    Ok(())
}

/// Waits on every resource `spec` names in turn, all within `timeout_s` seconds.
fn wait_each(spec: &str, timeout_s: u64, wait: impl Fn(&Context, &str, u64) -> Result<()>) -> Result<()> {
    let ctx = Context::from_system()?;
    let start = std::time::Instant::now();
    for res in &resource::resource_list(&ctx, spec)? {
        wait(&ctx, res, timeout_s.saturating_sub(start.elapsed().as_secs()))?;
    }
    Ok(())
}

/// The commands that print one of the original's complex macros (`view-<name>`): the
/// macro and the resources named.
fn complex_of(command: &Command) -> Option<(&'static str, &str)> {
    Some(match command {
        Command::View { resource, json: false } => ("default", resource),
        Command::View1and1 { resource } => ("1and1", resource),
        Command::Role { resource } | Command::ViewRole { resource } => ("role", resource),
        Command::Monitoring(Monitoring::ViewDiskstate { resource }) => ("diskstate", resource),
        Command::Monitoring(Monitoring::ViewReplstate { resource }) => ("replstate", resource),
        _ => return None,
    })
}

/// `view-<name> [RES] [ARG...]` of one of the original's primitives that has no command
/// of its own (`vocabulary`); any other unknown command is a usage error.
fn external(words: &[String], macro_text: Option<&str>) -> Result<()> {
    let cmd = words.first().map(String::as_str).unwrap_or_default();
    // A complex macro: view-<name>, or DRBD's words for the states (macros cstate, dstate).
    let name = cmd.strip_prefix("view-").unwrap_or(cmd);
    if (name != cmd || matches!(cmd, "cstate" | "dstate")) && macros::is_view_macro(name) {
        let (ctx, which) = (Context::from_system()?, words.get(1).map_or("all", String::as_str));
        return match macro_text {
            Some(text) => macros::view_macro_text(&ctx, text, which),
            None => macros::view_named(&ctx, name, which),
        };
    }
    if let Some(why) = vocabulary::not_here_command(cmd) {
        return Err(Error::Usage(format!("{cmd} is the original's and has no meaning in this implementation: {why}")));
    }
    let Some(name) = cmd.strip_prefix("view-").filter(|n| vocabulary::find(n).is_some()) else {
        return Err(Error::Usage(format!("unrecognized subcommand '{cmd}': `marsadm --help` lists the commands, docu/view-primitives.md the view-<name> values")));
    };
    let ctx = Context::from_system()?;
    let (res, args) = match (vocabulary::cluster_wide(name), words.get(1)) {
        (true, _) => (None, &words[1..]),
        (false, Some(r)) => (Some(r.as_str()), &words[2..]),
        (false, None) => return Err(Error::Usage(format!("{cmd} RESOURCE: give the resource (or all)"))),
    };
    match macro_text {
        Some(text) => macros::view_macro_text(&ctx, text, res.unwrap_or("all")),
        None => vocabulary::view(&ctx, name, res, args),
    }
}

/// Whether `command` only reads (and waits): it never takes the host lock.
fn only_reads(command: &Command) -> bool {
    matches!(
        command,
        Command::Cat { .. }
            | Command::External(_)
            | Command::View { .. }
            | Command::View1and1 { .. }
            | Command::DumpMacros { .. }
            | Command::DumpAllMacros
            | Command::WaitResource { .. }
            | Command::WaitUmount { .. }
            | Command::WaitCluster
            | Command::UpdateCluster
            | Command::MergeClusterCheck { .. }
            | Command::MergeClusterList
            | Command::LowlevelLsHostIps
            | Command::GetLink { .. }
            | Command::GetEmergencyLimit { .. }
            | Command::GetGlobalSyncLimitValue
            | Command::Version { .. }
            | Command::Monitoring(_)
            | Command::GetSystemdUnit { .. }
            // Started by systemd while a command that made the change may still run.
            | Command::SystemdTrigger { .. }
    ) || macros::variable_of(command).is_some()
}

/// What a state-changing command would do, as `--dry-run` says once its checks passed.
fn plan(cli: &Cli) -> String {
    let (command, global_force) = (&cli.command, cli.force);
    if let Some((resource, what, on, global)) = activity_of(command) {
        let verb = if on { "resume" } else { "pause" };
        return format!("{verb} {} of {resource} {}", what.name(), if global { "on every member" } else { "on this host" });
    }
    match command {
        Command::CreateCluster { .. } => "make this host the first member of a new cluster (secret, uuid, its address)".into(),
        Command::JoinCluster { peer, .. } => format!("install the secret and join {peer}'s cluster, then wait for its tree"),
        Command::MergeCluster { peer, .. } => format!("adopt {peer}'s cluster secret (keeping this one's as the old key) and uuid, then wait for its tree"),
        Command::LeaveCluster => "leave the cluster (mark this host's address deleted, wait until every member has it, remove the secret)".into(),
        Command::RotateSecret { .. } => "change the cluster secret files here and publish this host's key ids".into(),
        Command::CreateResource { resource, disk, .. } => format!("create {resource} on {} with this host as its primary (the disk's content is kept)", disk.display()),
        Command::JoinResource { resource, disk, force, .. } => format!(
            "join {resource} as a secondary on {}{} (a full sync then copies what differs)",
            disk.display(),
            if *force || global_force { ", discarding this host's old replay position, versions and logfiles first" } else { "" }
        ),
        Command::LeaveResource { resource, .. } => format!("remove {} from {resource}", cli.host.as_deref().unwrap_or("this host")),
        Command::LowlevelSetHostIp { host, ip } => format!("set the address of {host} to {ip} on this host"),
        Command::LowlevelDeleteHost { host } => format!("mark {host}'s address deleted on this host"),
        Command::SetLink { value, path } => format!("set {path} to {value:?} (cluster-wide)"),
        Command::DeleteFile { path } => format!("mark {path} deleted (cluster-wide)"),
        Command::Attach { resource } => format!("attach {resource} here"),
        Command::Detach { resource } => format!("detach {resource} here"),
        Command::Up { resource } => format!("attach {resource} here and allow fetch, sync and replay"),
        Command::Down { resource } => format!("pause replay, sync and fetch of {resource} here, then detach"),
        Command::SetEmergencyLimit { resource, percent } => format!("set this host's emergency limit of {resource} to {percent} %"),
        Command::SetGlobalSyncLimitValue { value } => format!("let {value} full syncs run at once on this host (/proc/sys/mars/sync_limit)"),
        Command::SetRpo { resource, seconds } => format!("set the recovery point objective of {resource} to {seconds} s (cluster-wide)"),
        Command::Primary { resource, force } if !(*force || global_force) => {
            format!("make this host primary of {resource} by a planned handover (catch up, designate this host, the old primary leaves the role)")
        }
        Command::Primary { resource, .. } => {
            format!("make this host primary of {resource} at once, with what it has (a failover: what the old primary wrote beyond it becomes a split brain)")
        }
        Command::Invalidate { resource } => format!("discard this host's version of {resource} (its own logfiles and versions) and fully sync it from the primary"),
        Command::FakeSync { resource } => format!("declare this host's disk of {resource} a copy of the primary's without a sync"),
        Command::Secondary { resource } => format!("give up the primary role of {resource} (no host designated)"),
        Command::DeleteResource { resource, .. } => format!("delete {resource}: its links and this host's logfiles (the disk keeps its data)"),
        Command::LogPurgeAll { resource, .. } => format!("remove logfiles of {resource} that no member needs"),
        Command::Resize { resource, size } => match size {
            Some(s) => format!("grow {resource} to {s} bytes"),
            None => format!("grow {resource} to the smallest member disk"),
        },
        Command::LogRotate { resource } => format!("start a new logfile of {resource}"),
        Command::LogDeleteOne { resource } => format!("delete this host's oldest logfile of {resource} that every member has replayed"),
        Command::LogDelete { resource } | Command::LogDeleteAll { resource } => format!("delete this host's logfiles of {resource} that every member has replayed"),
        Command::Cron => "rotate and delete logfiles and purge old deletion marks".into(),
        Command::LinkPurgeAll => "remove .deleted marks and temporary links older than an hour".into(),
        Command::SetSystemdUnit { resource, start_unit, .. } => format!("set the systemd units of {resource} (start unit {start_unit})"),
        Command::SystemdTrigger { resource } => format!("start or stop the systemd units of {resource} here as the tree says"),
        _ => "change nothing (it only reads)".into(),
    }
}

/// The global options a command cannot take, refused before anything runs.
fn check_globals(cli: &Cli) -> Result<()> {
    let value_command = matches!(cli.command, Command::View { .. } | Command::External(_)) || macros::variable_of(&cli.command).is_some();
    if let Some(h) = &cli.host {
        mars_core::names::check_host_name(h).map_err(|e| Error::Name { what: "host", name: h.clone(), reason: e.to_string() })?;
        if !only_reads(&cli.command) && !matches!(cli.command, Command::LeaveResource { .. }) {
            return Err(Error::Usage("--host H is for view, view-* and leave-resource here: a command that changes something acts only as this host".into()));
        }
    }
    if cli.macro_text.is_some() && !value_command {
        return Err(Error::Usage("--macro TEXT is for view and view-* (e.g. marsadm --macro='%diskstate{}' view r0)".into()));
    }
    if cli.macro_text.is_some() && matches!(cli.command, Command::View { json: true, .. }) {
        return Err(Error::Usage("--macro and --json exclude each other: give one".into()));
    }
    Ok(())
}

/// `run` with the command's name as typed (`view-<name>` for an external one).
pub fn run(cli: Cli, name: &str) -> Result<()> {
    if cli.json {
        if let Some((value, which, args)) = value_of(&cli.command, name) {
            check_globals(&cli)?;
            // (A command that is no macro prints its own value: the same in JSON.)
            let own = macros::variable_of(&cli.command).filter(|_| complex_of(&cli.command).is_none()).map(|(s, _)| s);
            return macros::values_json(&Context::from_system()?, value, which, &args, own);
        }
    }
    // The command's words, for hook scripts (`primary r0`).
    let args: Vec<String> = std::env::args().collect();
    let words = args.iter().position(|a| a == name).map_or_else(|| vec![name.to_owned()], |i| args[i..].to_vec());
    run_command(cli, &words)
}

/// The value a `view-<name>` (or `role`, `state`) command prints: its name, the
/// resources and the arguments after them.
fn value_of<'c>(command: &'c Command, name: &'c str) -> Option<(&'c str, Option<&'c str>, Vec<String>)> {
    if let Command::External(words) = command {
        let value = words.first()?.strip_prefix("view-")?;
        let cluster_wide = vocabulary::cluster_wide(value);
        let which = if cluster_wide { None } else { words.get(1).map(String::as_str) };
        let skip = if cluster_wide { 1 } else { 2 };
        return Some((value, which, words.iter().skip(skip).cloned().collect()));
    }
    let which = macros::variable_of(command).map(|(_, r)| r).or(complex_of(command).map(|(_, r)| r))?;
    (!matches!(command, Command::View { .. })).then(|| (name.strip_prefix("view-").unwrap_or(name), Some(which), Vec::new()))
}

fn run_command(cli: Cli, words: &[String]) -> Result<()> {
    check_globals(&cli)?;
    crate::context::set_dry_run(cli.dry_run);
    let acting = cli.host.clone().filter(|_| !matches!(cli.command, Command::LeaveResource { .. }));
    if let Some(h) = &acting {
        eprintln!("ATTENTION: acting as if I were host {h}");
    }
    crate::context::set_globals(crate::context::Globals {
        window: cli.window,
        threshold: cli.threshold,
        stuck_seconds: cli.stuck_seconds,
        verbose: cli.verbose,
        parallel: cli.parallel,
        host: acting,
        timeout: cli.timeout,
    });
    // (A command that only reads runs as always.)
    let changes = !only_reads(&cli.command) || matches!(cli.command, Command::SystemdTrigger { .. });
    let plan = (cli.dry_run && changes).then(|| plan(&cli));
    let hooked = changes && !cli.dry_run;
    let force = cli.force;
    if hooked {
        hooks::run("pre", words, force)?;
    }
    let result = dispatch(cli);
    if hooked && result.is_ok() {
        hooks::run("post", words, force)?;
    }
    match result {
        Err(Error::DryRun) => {
            println!("dry run: every check passed; it would {}; nothing changed", plan.unwrap_or_default());
            Ok(())
        }
        Ok(()) if plan.is_some() => {
            println!("dry run: nothing to do, nothing changed");
            Ok(())
        }
        other => other,
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    // --timeout S (global, as in the original), else each command's default.
    let secs = |default: u64| cli.timeout.unwrap_or(default);
    let wait = |default: u64| std::time::Duration::from_secs(secs(default));
    if let Some(s) = cli.timeout {
        resource::set_module_wait(std::time::Duration::from_secs(s));
    }
    // --macro TEXT replaces what a view or view-* command prints (as the original).
    let named = macros::variable_of(&cli.command).map(|(_, r)| r).or(complex_of(&cli.command).map(|(_, r)| r));
    if let (Some(text), Some(res)) = (&cli.macro_text, named) {
        return macros::view_macro_text(&Context::from_system()?, text, res);
    }
    // The value commands that are the original's complex macros evaluate them.
    if let Some((name, res)) = complex_of(&cli.command) {
        let ctx = Context::from_system()?;
        macros::view_named(&ctx, name, res)?;
        // (A value stands as the tree has it; a script is told that nothing runs here.
        // The views say so themselves.)
        return if matches!(name, "default" | "1and1") { Ok(()) } else { ctx.require_module() };
    }
    // (--dry-run changes nothing: it needs no lock.)
    let _lock = if only_reads(&cli.command) || cli.dry_run { None } else { crate::lock::exclusive(std::path::Path::new(crate::context::MARS_ROOT), wait(60))? };
    match cli.command {
        Command::CreateCluster { ip } => cluster::create_cluster(&Context::from_system()?, ip),
        Command::LeaveCluster => cluster::leave_cluster(&Context::from_system()?, secs(30)),
        Command::MergeCluster { peer, peer_ip, secret_file } => {
            cluster::merge_cluster(&Context::from_system()?, &peer, peer_ip, secret_file.as_deref(), secs(30))
        }
        Command::MergeClusterCheck { peer, peer_ip, secret_file } => {
            cluster::merge_cluster_check(&Context::from_system()?, &peer, peer_ip, secret_file.as_deref())
        }
        Command::MergeClusterList => cluster::merge_cluster_list(&Context::from_system()?),
        Command::WaitCluster => cluster::wait_cluster(&Context::from_system()?, secs(30)),
        Command::JoinCluster { peer, peer_ip, ip, secret_file } => {
            cluster::join_cluster(&Context::from_system()?, &peer, peer_ip, ip, secret_file.as_deref(), secs(30))
        }
        Command::RotateSecret { generate, secret_file, finish, force } => {
            let force = force || cli.force;
            let how = match (&generate, &secret_file) {
                (Some(f), _) => secret::Rotation::Generate(f),
                (_, Some(f)) => secret::Rotation::Install(f),
                _ => secret::Rotation::Finish { force: finish && force },
            };
            secret::rotate(&Context::from_system()?, how)
        }
        Command::JoinResource { resource, disk, devname, force } => {
            let force = force || cli.force;
            let ctx = Context::from_system()?;
            resource::join_resource(&ctx, &resource, &disk, devname.as_deref(), force)?;
            systemd::membership_changed(&ctx);
            Ok(())
        }
        Command::CreateResource { resource, disk, devname, force } => {
            let force = force || cli.force;
            let ctx = Context::from_system()?;
            resource::create_resource(&ctx, &resource, &disk, devname.as_deref(), force)?;
            systemd::membership_changed(&ctx);
            Ok(())
        }
        Command::Cat { logfile, summary, json } => cat::exec(&logfile, summary, json),
        Command::Attach { resource } => each(&resource, resource::require_member, resource::attach),
        Command::Detach { resource } => each(&resource, resource::check_detach, resource::detach),
        Command::SetEmergencyLimit { resource, percent } => {
            each(&resource, resource::require_member, |ctx, res| resource::set_emergency_limit(ctx, res, percent))
        }
        Command::GetEmergencyLimit { resource } => resource::get_emergency_limit(&Context::from_system()?, &resource),
        Command::SetGlobalSyncLimitValue { value } => resource::set_sync_limit(&Context::from_system()?, value),
        Command::GetGlobalSyncLimitValue => resource::get_sync_limit(&Context::from_system()?),
        Command::SetRpo { resource, seconds } => each(&resource, resource::require_member, |ctx, res| resource::set_rpo(ctx, res, seconds)),
        Command::PauseFetch { .. }
        | Command::PauseFetchGlobal { .. }
        | Command::ResumeFetch { .. }
        | Command::ResumeFetchGlobal { .. }
        | Command::PauseSync { .. }
        | Command::PauseSyncGlobal { .. }
        | Command::ResumeSync { .. }
        | Command::ResumeSyncGlobal { .. }
        | Command::PauseReplay { .. }
        | Command::PauseReplayGlobal { .. }
        | Command::ResumeReplay { .. }
        | Command::ResumeReplayGlobal { .. } => {
            let (resource, what, on, global) = activity_of(&cli.command).expect("a pause or resume command");
            each(resource, resource::require_member, |ctx, res| resource::set_activity(ctx, res, what, on, global))
        }
        Command::Up { resource } => each(&resource, resource::require_member, resource::up),
        Command::Down { resource } => each(&resource, resource::check_down, resource::down),
        Command::Primary { resource, force } => {
            let force = force || cli.force;
            each(&resource, |ctx, res| handover::check_primary(ctx, res, force).map(drop), |ctx, res| handover::primary(ctx, res, force, wait(60)))
        }
        Command::FakeSync { resource } => each(&resource, handover::check_fake_sync, |ctx, res| handover::fake_sync(ctx, res, wait(60))),
        Command::Invalidate { resource } => each(&resource, handover::check_invalidate, |ctx, res| handover::invalidate(ctx, res, wait(60))),
        Command::Secondary { resource } => each(&resource, resource::check_secondary, resource::secondary),
        Command::DeleteResource { resource, force } => resource::delete_resource(&Context::from_system()?, &resource, force || cli.force),
        Command::LogPurgeAll { resource, force } => logs::log_purge_all(&Context::from_system()?, &resource, force || cli.force),
        Command::View { resource, .. } if cli.macro_text.is_some() => {
            macros::view_macro_text(&Context::from_system()?, cli.macro_text.as_deref().unwrap_or_default(), &resource)
        }
        Command::View { resource, .. } => {
            let ctx = Context::from_system()?;
            view::view_json(&ctx, &resource, |s| macros::original_words(&ctx, s))
        }
        Command::View1and1 { .. } => unreachable!("a complex macro"),
        // The value commands (view-<name> RES): macros::variable_of says which they are.
        Command::ViewIsEmergency { .. }
        | Command::ViewRestSpace { .. }
        | Command::ViewTotalSpace { .. }
        | Command::ViewIsPrimary { .. }
        | Command::ViewIsAttached { .. }
        | Command::ViewGetPrimary { .. }
        | Command::ViewResourceSize { .. }
        | Command::ViewFetchRest { .. }
        | Command::ViewReplayRest { .. }
        | Command::ViewWritebackRest { .. }
        | Command::ViewSyncRest { .. }
        | Command::ViewIsConsistent { .. }
        | Command::Role { .. }
        | Command::ViewRole { .. }
        | Command::State { .. }
        | Command::ViewIsSplitBrain { .. }
        | Command::ViewActualPrimary { .. } => {
            let (source, res) = macros::variable_of(&cli.command).expect("a value command");
            let ctx = Context::from_system()?;
            match &cli.macro_text {
                // As the original: --macro replaces the command's own macro.
                Some(text) => macros::view_macro_text(&ctx, text, res)?,
                None => macros::print(&ctx, source, res)?,
            }
            // The value stands as the tree has it; a script is told that nothing runs here.
            ctx.require_module()
        }
        Command::DumpMacros { list: true } => macros::list_values(),
        Command::DumpMacros { list: false } => macros::dump_macros(false),
        Command::DumpAllMacros => macros::dump_macros(true),
        Command::External(words) => external(&words, cli.macro_text.as_deref()),
        Command::LeaveResource { resource, force } => {
            let ctx = Context::from_system()?;
            resource::leave_resource(&ctx, &resource, cli.host.as_deref(), force || cli.force)?;
            systemd::membership_changed(&ctx);
            Ok(())
        }
        Command::WaitUmount { resource } => wait_each(&resource, secs(60), resource::wait_umount),
        Command::WaitResource { resource, condition: Some(word), .. } => {
            wait_each(&resource, secs(60), |ctx, res, left| resource::wait_switch(ctx, res, &word, left))
        }
        Command::WaitResource { resource, until, condition: None } => {
            wait_each(&resource, secs(60), |ctx, res, left| resource::wait_resource(ctx, res, until, left))
        }
        Command::UpdateCluster => cluster::update_cluster(&Context::from_system()?, secs(30)),
        Command::LowlevelSetHostIp { host, ip } => cluster::set_host_ip(&Context::from_system()?, &host, ip),
        Command::LowlevelDeleteHost { host } => cluster::delete_host(&Context::from_system()?, &host),
        Command::LowlevelLsHostIps => cluster::ls_host_ips(&Context::from_system()?),
        Command::SetLink { value, path } => userspace::set_link(&Context::from_system()?, &value, &path),
        Command::DeleteFile { path } => userspace::delete_link(&Context::from_system()?, &path),
        Command::GetLink { paths } => userspace::get_links(&Context::from_system()?, &paths),
        Command::Resize { resource, size } => resize::resize(&Context::from_system()?, &resource, size, wait(60)),
        Command::LogRotate { resource } => log_rotate(&resource),
        Command::LogDeleteOne { resource } => {
            each(&resource, resource::require_exists, |ctx, res| logs::log_delete(ctx, res, false, false).map(drop))
        }
        Command::LogDelete { resource } | Command::LogDeleteAll { resource } => {
            each(&resource, resource::require_exists, |ctx, res| logs::log_delete(ctx, res, true, false).map(drop))
        }
        Command::Cron => logs::cron(&Context::from_system()?),
        Command::LinkPurgeAll => logs::link_purge_all(&Context::from_system()?),
        Command::Version { json } => version::exec(json),
        Command::Monitoring(cmd) => monitoring::run(cmd),
        Command::SetSystemdUnit { resource, start_unit, stop_unit } => {
            systemd::set_unit(&Context::from_system()?, &resource, &start_unit, stop_unit.as_deref())
        }
        Command::GetSystemdUnit { resource, json } => systemd::get_unit(&Context::from_system()?, &resource, json),
        Command::SystemdTrigger { resource } => systemd::trigger(&Context::from_system()?, &resource),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--parallel=N`: every resource is acted on, N at a time; a failure is returned
    /// after the others ran.
    #[test]
    fn parallel_acts_on_every_resource() {
        let t = crate::scratch::ScratchTree::new("parallel", "node1");
        let list: Vec<String> = (0..5).map(|i| format!("r{i}")).collect();
        let done = std::sync::Mutex::new(Vec::new());
        let res = in_parallel(&t.ctx, &list, 2, &|_: &Context, r: &str| {
            done.lock().unwrap().push(r.to_owned());
            if r == "r1" { Err(Error::NoResource(r.into())) } else { Ok(()) }
        });
        assert!(matches!(res, Err(Error::NoResource(r)) if r == "r1"));
        let mut done = done.into_inner().unwrap();
        done.sort();
        assert_eq!(done, ["r0", "r1"], "a batch after a failure does not start");
        assert!(in_parallel(&t.ctx, &list, 0, &|_: &Context, _: &str| Ok(())).is_ok());
    }

    #[test]
    fn unknown_command_is_a_usage_error() {
        for words in [&["frobnicate"][..], &["view-frobnicate", "r0"], &["view-fetch-lognr"]] {
            let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            let err = external(&words, None).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::exit::USAGE, "{words:?}: {err}");
        }
    }
}
