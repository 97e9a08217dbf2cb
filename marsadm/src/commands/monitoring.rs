//! The monitoring commands (docu/monitoring.md): `events`, `metrics` and the
//! `view-<primitive>` commands of primitives.rs. Their command-line definition lives
//! here and is flattened into [`crate::cli::Command`], so the families stay apart.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use super::primitives::{self, Prim, Work};
use super::{events, metrics};
use crate::context::Context;
use crate::error::Result;

#[derive(Debug, Subcommand)]
pub enum Monitoring {
    /// Print state changes as they happen, one line each (--json: one JSON object a line).
    ///
    /// First the state of each resource (event `state`), then, polling every --interval
    /// milliseconds, every change of this host's role, the designated primary, the disk
    /// and replication state (the words of `marsadm view`), split brain and emergency
    /// mode, and when the module's sync, fetch or replay starts or finishes here
    /// (`sync-started`, ..., `replay-finished`). Runs until --count events are printed
    /// or stdout is closed. Schema: docu/marsadm-json.md; meanings: docu/monitoring.md.
    Events {
        /// A resource, a comma-separated list, or "all" (also resources created later).
        #[arg(default_value = "all")]
        resource: String,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
        /// Milliseconds between two looks at the tree.
        #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..))]
        interval: u64,
        /// End after this many events.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Print the state of the resources as Prometheus metrics (text exposition format).
    ///
    /// Every metric is described in docu/monitoring.md. --output FILE writes them
    /// atomically (a temporary file renamed over FILE), for node_exporter's textfile
    /// collector (mars-metrics.timer does that every 30 s); --listen ADDR:PORT serves
    /// them at http://ADDR:PORT/metrics until killed (bind to where your Prometheus
    /// scrapes from, e.g. 127.0.0.1:9775 behind a proxy).
    Metrics {
        /// A resource, a comma-separated list, or "all".
        #[arg(default_value = "all")]
        resource: String,
        /// Write into FILE (e.g. /var/lib/prometheus/node-exporter/mars.prom).
        #[arg(long, value_name = "FILE", conflicts_with = "listen")]
        output: Option<PathBuf>,
        /// Serve HTTP at ADDR:PORT.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<SocketAddr>,
    },
    /// Print 1 if this host is attached to RESOURCE (module's is-attached), else 0.
    #[command(name = "view-is-attach")]
    ViewIsAttach { resource: String },
    /// Print 1 if the module runs the full sync of RESOURCE here (is-syncing), else 0.
    #[command(name = "view-is-sync")]
    ViewIsSync { resource: String },
    /// Print 1 if the module fetches RESOURCE's logfiles here (is-fetching), else 0.
    #[command(name = "view-is-fetch")]
    ViewIsFetch { resource: String },
    /// Print 1 if the module replays RESOURCE's logfiles here (is-replaying), else 0.
    #[command(name = "view-is-replay")]
    ViewIsReplay { resource: String },
    /// Print 1 if this host is attached to RESOURCE and its device is not up, else 0.
    #[command(name = "view-is-secondary")]
    ViewIsSecondary { resource: String },
    /// Print 1 if this host's attach switch of RESOURCE is on, else 0.
    #[command(name = "view-todo-attach")]
    ViewTodoAttach { resource: String },
    /// Print 1 if this host's sync switch of RESOURCE is on (resume-sync), else 0.
    #[command(name = "view-todo-sync")]
    ViewTodoSync { resource: String },
    /// Print 1 if this host's fetch switch of RESOURCE is on (resume-fetch), else 0.
    #[command(name = "view-todo-fetch")]
    ViewTodoFetch { resource: String },
    /// Print 1 if this host's replay switch of RESOURCE is on (resume-replay), else 0.
    #[command(name = "view-todo-replay")]
    ViewTodoReplay { resource: String },
    /// Print 1 if this host is the designated primary of RESOURCE, else 0.
    #[command(name = "view-todo-primary")]
    ViewTodoPrimary { resource: String },
    /// Print 1 if this host is not the designated primary of RESOURCE, else 0.
    #[command(name = "view-todo-secondary")]
    ViewTodoSecondary { resource: String },
    /// Print 1 if this secondary stopped at a hole in the logfile sequence (Orphan), else 0.
    #[command(name = "view-is-orphan")]
    ViewIsOrphan { resource: String },
    /// Print this host's disk state of RESOURCE (as `view`).
    #[command(name = "view-diskstate")]
    ViewDiskstate { resource: String },
    /// Print this host's replication state of RESOURCE (as `view`).
    #[command(name = "view-replstate")]
    ViewReplstate { resource: String },
    /// Print how many openers /dev/mars/<dev> of RESOURCE has here (0: closed or not up).
    #[command(name = "view-device-opened")]
    ViewDeviceOpened { resource: String },
    /// Print the full sync's rate here, bytes per second.
    #[command(name = "view-sync-rate")]
    ViewSyncRate { resource: String },
    /// Print the fetch's rate here, bytes per second.
    #[command(name = "view-fetch-rate")]
    ViewFetchRate { resource: String },
    /// Print the replay's rate here, bytes per second.
    #[command(name = "view-replay-rate")]
    ViewReplayRate { resource: String },
    /// Print the seconds the full sync still takes at its rate (0: done; -1: not moving).
    #[command(name = "view-sync-remain")]
    ViewSyncRemain { resource: String },
    /// Print the seconds the fetch still takes at its rate (0: done; -1: not moving).
    #[command(name = "view-fetch-remain")]
    ViewFetchRemain { resource: String },
    /// Print the seconds the replay still takes at its rate (0: done; -1: not moving).
    #[command(name = "view-replay-remain")]
    ViewReplayRemain { resource: String },
    /// Print the whole percent of the disk the full sync has done (100: done).
    #[command(name = "view-sync-percent")]
    ViewSyncPercent { resource: String },
    /// Print the whole percent fetched of the logfiles from the replay position on.
    #[command(name = "view-fetch-percent")]
    ViewFetchPercent { resource: String },
    /// Print the whole percent replayed of what is fetched from the replay position on.
    #[command(name = "view-replay-percent")]
    ViewReplayPercent { resource: String },
    /// Print the seconds since the designated primary of RESOURCE was last heard from
    /// here (-1: none designated or never heard from).
    #[command(name = "view-alive-age")]
    ViewAliveAge { resource: String },
    /// Print this host's underlying disk of RESOURCE (empty: not a member).
    #[command(name = "view-get-disk")]
    ViewGetDisk { resource: String },
    /// Print RESOURCE's device on this host, /dev/mars/<dev> (up or not).
    #[command(name = "view-get-device")]
    ViewGetDevice { resource: String },
    /// Print the resources this host is a member of, one a line.
    #[command(name = "view-my-resources")]
    ViewMyResources,
    /// Print the members of RESOURCE, one a line.
    #[command(name = "view-resource-members")]
    ViewResourceMembers { resource: String },
}

pub fn run(cmd: Monitoring) -> Result<()> {
    let ctx = Context::from_system()?;
    match cmd {
        Monitoring::Events { resource, json, interval, count } => {
            events::events(&ctx, &resource, json, Duration::from_millis(interval), count)
        }
        Monitoring::Metrics { resource, output, listen } => metrics::metrics(&ctx, &resource, output.as_deref(), listen),
        Monitoring::ViewMyResources => primitives::my_resources(&ctx),
        ref cmd => {
            let (p, res) = primitive_of(cmd).expect("every other monitoring command prints a primitive");
            primitives::view_primitive(&ctx, p, res)?;
            // The value stands as the tree has it; a script is told that nothing runs here.
            ctx.require_module()
        }
    }
}

/// The primitive command `cmd` prints and the RESOURCE it names (`None`: not a
/// `view-<primitive> RESOURCE` command).
pub fn primitive_of(cmd: &Monitoring) -> Option<(Prim, &str)> {
    Some(match cmd {
        Monitoring::Events { .. } | Monitoring::Metrics { .. } | Monitoring::ViewMyResources => return None,
        Monitoring::ViewIsAttach { resource } => (Prim::IsAttach, resource.as_str()),
        Monitoring::ViewIsSync { resource } => (Prim::IsRunning(Work::Sync), resource.as_str()),
        Monitoring::ViewIsFetch { resource } => (Prim::IsRunning(Work::Fetch), resource.as_str()),
        Monitoring::ViewIsReplay { resource } => (Prim::IsRunning(Work::Replay), resource.as_str()),
        Monitoring::ViewIsSecondary { resource } => (Prim::IsSecondary, resource.as_str()),
        Monitoring::ViewTodoAttach { resource } => (Prim::TodoAttach, resource.as_str()),
        Monitoring::ViewTodoSync { resource } => (Prim::Todo(Work::Sync), resource.as_str()),
        Monitoring::ViewTodoFetch { resource } => (Prim::Todo(Work::Fetch), resource.as_str()),
        Monitoring::ViewTodoReplay { resource } => (Prim::Todo(Work::Replay), resource.as_str()),
        Monitoring::ViewTodoPrimary { resource } => (Prim::TodoPrimary, resource.as_str()),
        Monitoring::ViewTodoSecondary { resource } => (Prim::TodoSecondary, resource.as_str()),
        Monitoring::ViewIsOrphan { resource } => (Prim::IsOrphan, resource.as_str()),
        Monitoring::ViewDiskstate { resource } => (Prim::DiskState, resource.as_str()),
        Monitoring::ViewReplstate { resource } => (Prim::ReplState, resource.as_str()),
        Monitoring::ViewDeviceOpened { resource } => (Prim::DeviceOpened, resource.as_str()),
        Monitoring::ViewSyncRate { resource } => (Prim::Rate(Work::Sync), resource.as_str()),
        Monitoring::ViewFetchRate { resource } => (Prim::Rate(Work::Fetch), resource.as_str()),
        Monitoring::ViewReplayRate { resource } => (Prim::Rate(Work::Replay), resource.as_str()),
        Monitoring::ViewSyncRemain { resource } => (Prim::Remain(Work::Sync), resource.as_str()),
        Monitoring::ViewFetchRemain { resource } => (Prim::Remain(Work::Fetch), resource.as_str()),
        Monitoring::ViewReplayRemain { resource } => (Prim::Remain(Work::Replay), resource.as_str()),
        Monitoring::ViewSyncPercent { resource } => (Prim::Percent(Work::Sync), resource.as_str()),
        Monitoring::ViewFetchPercent { resource } => (Prim::Percent(Work::Fetch), resource.as_str()),
        Monitoring::ViewReplayPercent { resource } => (Prim::Percent(Work::Replay), resource.as_str()),
        Monitoring::ViewAliveAge { resource } => (Prim::AliveAge, resource.as_str()),
        Monitoring::ViewGetDisk { resource } => (Prim::GetDisk, resource.as_str()),
        Monitoring::ViewGetDevice { resource } => (Prim::GetDevice, resource.as_str()),
        Monitoring::ViewResourceMembers { resource } => (Prim::ResourceMembers, resource.as_str()),
    })
}
