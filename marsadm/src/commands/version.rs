//! `marsadm version`: versions of marsadm and of the loaded module.

use serde::Serialize;

use crate::error::Result;
use crate::module;

/// JSON schema version of `marsadm version --json` (see docu/marsadm-json.md).
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct VersionReport {
    schema_version: u32,
    marsadm: &'static str,
    /// `null` when mars.ko is not loaded.
    module: Option<String>,
}

pub fn exec(json: bool) -> Result<()> {
    let report = VersionReport {
        schema_version: SCHEMA_VERSION,
        marsadm: env!("CARGO_PKG_VERSION"),
        module: module::loaded_version(module::proc_sys_dir())?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("marsadm {}", report.marsadm);
        match &report.module {
            Some(v) => println!("mars.ko {v}"),
            None => println!("mars.ko not loaded ({} does not exist)", module::proc_sys_dir().display()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cargo_version_is_the_shared_release_version() {
        assert_eq!(env!("CARGO_PKG_VERSION"), mars_core::version::VERSION);
    }
}
