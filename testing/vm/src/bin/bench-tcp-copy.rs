//! `bench-tcp-copy`: the plain TCP copy `make bench` compares MARS' fetch with
//! (scripts/bench.sh, docu/benchmarks.md). Test-only, shipped in the nodes' initramfs.
//!
//!   bench-tcp-copy recv PORT FILE       accept one connection, write what it sends into FILE, fsync
//!   bench-tcp-copy send ADDR:PORT FILE  connect (retrying for 10 s) and send FILE
//!
//! Both copy in 1 MiB chunks (busybox nc moves 4 KiB per system call, which under TCG
//! emulation is slower than the replication it is meant to measure).

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread::sleep;
use std::time::{Duration, Instant};

const CHUNK: usize = 1 << 20;

fn copy(from: &mut impl Read, to: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total = total.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
    }
}

fn recv(port: &str, path: &str) -> io::Result<u64> {
    let listener = TcpListener::bind(format!("0.0.0.0:{port}"))?;
    let (mut conn, _) = listener.accept()?;
    let mut file = File::create(path)?;
    let n = copy(&mut conn, &mut file)?;
    file.sync_all()?;
    Ok(n)
}

fn send(addr: &str, path: &str) -> io::Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        match TcpStream::connect(addr) {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline && e.kind() == io::ErrorKind::ConnectionRefused => {
                sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    };
    let n = copy(&mut File::open(path)?, &mut conn)?;
    conn.shutdown(Shutdown::Write)?;
    // Wait for the receiver to close: it has then written (and fsync'ed) everything.
    let mut rest = [0u8; 1];
    while conn.read(&mut rest)? > 0 {}
    Ok(n)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [_, "recv", port, path] => recv(port, path),
        [_, "send", addr, path] => send(addr, path),
        _ => {
            eprintln!("usage: bench-tcp-copy recv PORT FILE | send ADDR:PORT FILE");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-tcp-copy: {e}");
            ExitCode::FAILURE
        }
    }
}
