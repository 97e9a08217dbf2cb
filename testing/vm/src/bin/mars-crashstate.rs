//! `mars-crashstate`: power-loss crash states from a dm-log-writes log (test-only; the
//! logic and its rules are in `mars_testbed::crashstate`, the method in
//! docu/reliability.md).
//!
//! `list LOGDEV` prints the log's counts and marks; `apply LOGDEV TARGET --point MARK
//! --mode MODE [--seed N]` (or `--entry N`) writes to TARGET the state a power loss at
//! that point could leave, touching only the sectors the log touches, and prints what
//! it kept and dropped. Exit status: 0 done, 1 the log or the point is bad, 2 I/O error.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use mars_testbed::crashstate::{self, Mode, Point, WriteAt};

#[derive(Parser)]
#[command(about = "Power-loss crash states from a dm-log-writes log (tests only)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    KeepAll,
    DropAll,
    Random,
    Torn,
}

#[derive(Subcommand)]
enum Cmd {
    /// Counts of entries, flushes, FUA writes and discards, and each mark.
    List { logdev: String },
    /// Write the crash state at a point to TARGET.
    Apply {
        logdev: String,
        target: String,
        /// The mark (its name, without a `+C` suffix).
        #[arg(long, conflicts_with = "entry", required_unless_present = "entry")]
        point: Option<String>,
        /// Or: the state before entry N.
        #[arg(long)]
        entry: Option<usize>,
        #[arg(long, value_enum)]
        mode: ModeArg,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// The target: a block device (zeros with BLKZEROOUT, which qemu's virtio disk does
/// without moving them) or a file.
struct Target {
    file: File,
    blockdev: bool,
}

impl WriteAt for Target {
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.file.write_all_at(buf, offset)
    }
    fn zero_at(&mut self, offset: u64, len: u64) -> std::io::Result<()> {
        if !self.blockdev {
            return self.file.write_all_at(&vec![0u8; len as usize], offset);
        }
        // BLKZEROOUT = _IO(0x12, 127): zero [offset, offset + len), both sector multiples.
        const BLKZEROOUT: libc::c_ulong = 0x127f;
        let range: [u64; 2] = [offset, len];
        // SAFETY: the ioctl reads two u64 from `range`, which lives across the call.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), BLKZEROOUT, range.as_ptr()) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

fn open_len(path: &str, write: bool) -> Result<(File, u64), (u8, String)> {
    let mut f = OpenOptions::new().read(true).write(write).open(path).map_err(|e| (2, format!("{path}: {e}")))?;
    let len = f.seek(SeekFrom::End(0)).map_err(|e| (2, format!("{path}: {e}")))?;
    Ok((f, len))
}

fn run(cli: Cli) -> Result<(), (u8, String)> {
    match cli.cmd {
        Cmd::List { logdev } => {
            let (f, len) = open_len(&logdev, false)?;
            let log = crashstate::parse(&f, len).map_err(|e| (1, format!("{logdev}: {e}")))?;
            let c = crashstate::counts(&log);
            println!(
                "sectorsize {} entries {} writes {} sectors {} flushes {} fua {} discards {} marks {}",
                log.sectorsize, c.entries, c.writes, c.sectors_written, c.flushes, c.fua, c.discards, c.marks
            );
            for (i, e) in log.entries.iter().enumerate() {
                let Some(text) = &e.mark else { continue };
                let pending = match crashstate::mark_name(text).1 {
                    Some(completed) => match crashstate::pending_at(&log, i, completed) {
                        Ok(p) => format!(" pending {}", p.len()),
                        Err(e) => format!(" pending: {e}"),
                    },
                    None => String::new(),
                };
                println!("mark {text} entry {i}{pending}");
            }
            Ok(())
        }
        Cmd::Apply { logdev, target, point, entry, mode, seed } => {
            let (f, len) = open_len(&logdev, false)?;
            let log = crashstate::parse(&f, len).map_err(|e| (1, format!("{logdev}: {e}")))?;
            let point = match (point, entry) {
                (Some(m), _) => Point::Mark(m),
                (None, Some(i)) => Point::Entry(i),
                (None, None) => return Err((1, "--point or --entry is needed".into())),
            };
            let mode = match mode {
                ModeArg::KeepAll => Mode::KeepAll,
                ModeArg::DropAll => Mode::DropAll,
                ModeArg::Random => Mode::Random(seed),
                ModeArg::Torn => Mode::Torn(seed),
            };
            let plan = crashstate::plan(&log, &point, mode).map_err(|e| (1, format!("{logdev}: {e}")))?;
            let (t, tlen) = open_len(&target, true)?;
            let blockdev = t.metadata().map(|m| m.file_type().is_block_device()).unwrap_or(false);
            let mut t = Target { file: t, blockdev };
            let runs = crashstate::runs(&log, &plan, tlen / u64::from(log.sectorsize))
                .map_err(|e| (1, format!("{logdev}: {e}")))?;
            let w = crashstate::write_runs(&f, log.sectorsize, &runs, &mut t).map_err(|e| (2, e))?;
            t.file.sync_all().map_err(|e| (2, format!("{target}: {e}")))?;
            print!("{}", plan.describe(&log));
            println!(
                "wrote {} sectors of the state and {} of zeros in {} runs to {target}",
                w.data_sectors, w.zero_sectors, w.runs
            );
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("mars-crashstate: {msg}");
            ExitCode::from(code)
        }
    }
}
