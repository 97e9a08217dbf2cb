//! `testbed exec`: the host side of the agent protocol (`mars_testbed::proto`).

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use mars_testbed::proto::{self, Kind};

use crate::node::running_pid;
use crate::state::{read_trimmed, NodeId, Testbed};

fn connect(tb: &Testbed, id: NodeId) -> Result<TcpStream, String> {
    if running_pid(tb, id).is_none() {
        return Err(format!("{id} is not running (testbed start {id})"));
    }
    let port: u16 = read_trimmed(&tb.node_dir(id).join("mgmt.port"))
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("{id}: no management port recorded"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| format!("{id}: connect: {e}"))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(s)
}

/// Runs `argv` in the node, forwarding stdin, stdout and stderr; returns its exit status
/// (truncated to 0..=255 as a process exit status is).
pub fn exec(tb: &Testbed, id: NodeId, argv: &[String]) -> Result<u8, String> {
    exec_with_input(tb, id, argv, std::io::stdin())
}

/// Like `exec`, with `input` as the command's stdin.
fn exec_with_input(tb: &Testbed, id: NodeId, argv: &[String], mut input: impl Read + Send + 'static) -> Result<u8, String> {
    let mut stream = connect(tb, id)?;
    proto::write_request(&mut stream, argv).map_err(|e| format!("{id}: send: {e}"))?;
    let mut to_guest = stream.try_clone().map_err(|e| e.to_string())?;
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match input.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = proto::write_frame(&mut to_guest, Kind::StdinEof, &[]);
                    return;
                }
                Ok(n) => {
                    if proto::write_frame(&mut to_guest, Kind::Stdin, &buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
    });
    relay(id, stream, true)
}

/// `push NODE HOSTFILE GUESTPATH`: copies a host file into the node (through the agent,
/// as the stdin of `cat`), with the host file's permission bits. The file appears under
/// its name only once complete (written beside it, then renamed); missing parent
/// directories are made. Returns the status of the guest's shell (0 on success).
pub fn push(tb: &Testbed, id: NodeId, host: &Path, guest: &str) -> Result<u8, String> {
    let file = File::open(host).map_err(|e| format!("{}: {e}", host.display()))?;
    let meta = file.metadata().map_err(|e| format!("{}: {e}", host.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", host.display()));
    }
    if !guest.starts_with('/') {
        return Err(format!("guest path {guest:?} must be absolute"));
    }
    let mode = format!("{:o}", meta.permissions().mode() & 0o7777);
    let script = r#"set -e; d=$(dirname "$1"); mkdir -p "$d"; t="$1.push-$$"; cat > "$t"; chmod "$2" "$t"; mv -f "$t" "$1""#;
    let argv: Vec<String> = ["sh", "-c", script, "push", guest, &mode].iter().map(|s| s.to_string()).collect();
    exec_with_input(tb, id, &argv, file)
}

/// Copies the command's output to ours until its exit frame. If our stdout is closed
/// early (`testbed exec ... | grep -q`), output is dropped but the exit status still
/// comes from the command, so pipelines see the command's result, not ours.
fn relay(id: NodeId, mut stream: TcpStream, print: bool) -> Result<u8, String> {
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let mut stdout_open = print;
    loop {
        match proto::read_frame(&mut stream) {
            Ok(Some((Kind::Stdout, d))) if stdout_open => {
                stdout_open = out.write_all(&d).and_then(|_| out.flush()).is_ok();
            }
            Ok(Some((Kind::Stderr, d))) if print => {
                let _ = err.write_all(&d);
            }
            Ok(Some((Kind::Exit, d))) => {
                let code = i32::from_le_bytes(d.get(..4).and_then(|b| b.try_into().ok()).unwrap_or([0xff; 4]));
                return Ok(code.clamp(0, 255) as u8);
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err(format!("{id}: connection lost before the command finished (node crashed?)")),
            Err(e) => return Err(format!("{id}: {e}")),
        }
    }
}

/// Runs `argv` in the node with no stdin and no output; returns its exit status.
pub fn run_quiet(tb: &Testbed, id: NodeId, argv: &[String]) -> Result<u8, String> {
    run_on(id, connect(tb, id)?, argv)
}

/// Whether the node's agent answers (runs `true` successfully), with short timeouts.
pub fn probe(tb: &Testbed, id: NodeId) -> bool {
    let Ok(stream) = connect(tb, id) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    matches!(run_on(id, stream, &["true".to_string()]), Ok(0))
}

fn run_on(id: NodeId, mut stream: TcpStream, argv: &[String]) -> Result<u8, String> {
    proto::write_request(&mut stream, argv).map_err(|e| format!("{id}: send: {e}"))?;
    proto::write_frame(&mut stream, Kind::StdinEof, &[]).map_err(|e| format!("{id}: send: {e}"))?;
    relay(id, stream, false)
}
