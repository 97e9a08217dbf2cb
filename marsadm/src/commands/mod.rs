//! One file per command family; [`run`] dispatches the parsed command line.

mod cat;
mod cluster;
mod resource;
mod version;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::error::Result;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::CreateCluster { ip } => cluster::create_cluster(&Context::from_system()?, ip),
        Command::CreateResource { resource, disk, devname } => {
            resource::create_resource(&Context::from_system()?, &resource, &disk, devname.as_deref())
        }
        Command::Cat { logfile, summary, json } => cat::exec(&logfile, summary, json),
        Command::Version { json } => version::exec(json),
    }
}
