//! One file per command family; [`run`] dispatches the parsed command line.

mod cat;
mod cluster;
mod resource;
mod view;
mod version;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::error::Result;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::CreateCluster { ip } => cluster::create_cluster(&Context::from_system()?, ip),
        Command::LeaveCluster { timeout } => cluster::leave_cluster(&Context::from_system()?, timeout),
        Command::WaitCluster { timeout } => cluster::wait_cluster(&Context::from_system()?, timeout),
        Command::JoinCluster { peer, peer_ip, ip, timeout } => {
            cluster::join_cluster(&Context::from_system()?, &peer, peer_ip, ip, timeout)
        }
        Command::JoinResource { resource, disk, devname } => {
            resource::join_resource(&Context::from_system()?, &resource, &disk, devname.as_deref())
        }
        Command::CreateResource { resource, disk, devname } => {
            resource::create_resource(&Context::from_system()?, &resource, &disk, devname.as_deref())
        }
        Command::Cat { logfile, summary, json } => cat::exec(&logfile, summary, json),
        Command::Attach { resource } => resource::attach(&Context::from_system()?, &resource),
        Command::Detach { resource } => resource::detach(&Context::from_system()?, &resource),
        Command::PauseFetch { resource } => resource::set_fetch(&Context::from_system()?, &resource, false, false),
        Command::PauseFetchGlobal { resource } => resource::set_fetch(&Context::from_system()?, &resource, false, true),
        Command::ResumeFetch { resource } => resource::set_fetch(&Context::from_system()?, &resource, true, false),
        Command::ResumeFetchGlobal { resource } => resource::set_fetch(&Context::from_system()?, &resource, true, true),
        Command::Up { resource } => resource::up(&Context::from_system()?, &resource),
        Command::Down { resource } => resource::down(&Context::from_system()?, &resource),
        Command::Primary { resource } => resource::primary(&Context::from_system()?, &resource),
        Command::Secondary { resource } => resource::secondary(&Context::from_system()?, &resource),
        Command::DeleteResource { resource } => resource::delete_resource(&Context::from_system()?, &resource),
        Command::View { resource, json } => view::view(&Context::from_system()?, &resource, json),
        Command::ViewIsPrimary { resource } => view::view_macro(&Context::from_system()?, view::Macro::IsPrimary, &resource),
        Command::ViewIsAttached { resource } => view::view_macro(&Context::from_system()?, view::Macro::IsAttached, &resource),
        Command::ViewGetPrimary { resource } => view::view_macro(&Context::from_system()?, view::Macro::GetPrimary, &resource),
        Command::ViewResourceSize { resource } => {
            view::view_macro(&Context::from_system()?, view::Macro::ResourceSize, &resource)
        }
        Command::ViewFetchRest { resource } => {
            view::view_macro(&Context::from_system()?, view::Macro::FetchRest, &resource)
        }
        Command::ViewReplayRest { resource } => {
            view::view_macro(&Context::from_system()?, view::Macro::ReplayRest, &resource)
        }
        Command::ViewWritebackRest { resource } => {
            view::view_macro(&Context::from_system()?, view::Macro::WritebackRest, &resource)
        }
        Command::Version { json } => version::exec(json),
    }
}
