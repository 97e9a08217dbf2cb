//! `testbed-agent`: runs inside every testbed node and executes commands for
//! `testbed exec` (see `mars_testbed::proto`). It listens only on the management
//! interface, which qemu forwards from the host's loopback; the replication network
//! cannot reach it.
//!
//! Each connection runs one command as root in its own process group, streams its
//! stdout and stderr back, feeds it the host's stdin, and finally reports its exit
//! status. If the host side disconnects first, the command's process group is killed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use mars_testbed::proto::{self, Kind};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// After the command exits, how long to keep forwarding output still in its pipes.
/// Background processes that keep the pipes open do not hold `exec` up longer than this.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| format!("0.0.0.0:{}", proto::AGENT_PORT));
    let listener = loop {
        match TcpListener::bind(&addr) {
            Ok(l) => break l,
            Err(e) => {
                eprintln!("testbed-agent: bind {addr}: {e}; retrying");
                thread::sleep(Duration::from_millis(200));
            }
        }
    };
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                thread::spawn(move || {
                    if let Err(e) = serve(stream) {
                        eprintln!("testbed-agent: connection: {e}");
                    }
                });
            }
            Err(e) => eprintln!("testbed-agent: accept: {e}"),
        }
    }
}

fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let argv = proto::read_request(&mut stream)?;

    let spawned = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/root")
        .env("TERM", "dumb")
        .current_dir("/root")
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("testbed-agent: cannot run {:?}: {e}\n", argv[0]);
            proto::write_frame(&mut stream, Kind::Stderr, msg.as_bytes())?;
            proto::write_frame(&mut stream, Kind::Exit, &127i32.to_le_bytes())?;
            return finish(stream);
        }
    };
    let writer = Arc::new(Mutex::new(stream.try_clone()?));
    let pgid = Pid::from_raw(child.id() as i32);
    let exited = Arc::new(AtomicBool::new(false));

    // Output pumps: pipe -> frames. Each reports on `done` when its pipe reaches EOF.
    let (done_tx, done_rx) = mpsc::channel();
    for (pipe, kind) in [
        (Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Kind::Stdout),
        (Box::new(child.stderr.take().unwrap()), Kind::Stderr),
    ] {
        let writer = Arc::clone(&writer);
        let done = done_tx.clone();
        thread::spawn(move || {
            pump_output(pipe, kind, &writer);
            let _ = done.send(());
        });
    }

    // Input: frames -> child's stdin; a vanished host kills the command.
    let mut stdin = child.stdin.take();
    let mut reader = stream;
    let exited_in = Arc::clone(&exited);
    thread::spawn(move || loop {
        match proto::read_frame(&mut reader) {
            Ok(Some((Kind::Stdin, data))) => {
                if let Some(s) = stdin.as_mut() {
                    if s.write_all(&data).is_err() {
                        stdin = None;
                    }
                }
            }
            Ok(Some((Kind::StdinEof, _))) => stdin = None,
            Ok(Some(_)) | Ok(None) | Err(_) => {
                if !exited_in.load(Ordering::SeqCst) {
                    let _ = killpg(pgid, Signal::SIGKILL);
                }
                return;
            }
        }
    });

    let status = child.wait()?;
    exited.store(true, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + DRAIN_AFTER_EXIT;
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if done_rx.recv_timeout(left).is_err() {
            break;
        }
    }
    let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    let mut w = writer.lock().unwrap();
    proto::write_frame(&mut *w, Kind::Exit, &code.to_le_bytes())?;
    w.shutdown(std::net::Shutdown::Write)
}

/// Ends a connection whose command never ran: half-close, then read the host's stdin
/// frames until it hangs up. Closing with unread input would make the kernel send a
/// reset, which can destroy the frames we just sent before the host reads them.
fn finish(mut stream: TcpStream) -> std::io::Result<()> {
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

fn pump_output(mut pipe: Box<dyn Read + Send>, kind: Kind, writer: &Mutex<TcpStream>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut w = writer.lock().unwrap();
                if proto::write_frame(&mut *w, kind, &buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}
