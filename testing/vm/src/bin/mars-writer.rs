//! `mars-writer`: writes numbered 4 KiB blocks to a device and prints the number of each
//! block as soon as its write is acknowledged (stdout flushed per line), for the crash
//! scenarios (test-only). Block `i` goes to `(start + i) * 4096` and begins with
//! `<tag> <i as %08d>\n`. Modes: `dsync` opens the device O_DIRECT|O_DSYNC (every write a
//! REQ_FUA write, no flush); `direct` opens it O_DIRECT only (nothing asks for
//! durability: for checking that the test can fail). `check` reads blocks 0..=count-1
//! back (O_DIRECT) and exits 1 at the first one that is not as written. `prefix` reads
//! them back and exits 1 if one is as written after one that is not: a sequential
//! writer's blocks on a consistent copy are a prefix of what it wrote (prints
//! `prefix <k>`, the blocks 0..k-1 that are there).
//!
//! With `--ring M`, block `i` goes to `(start + i % M) * 4096`: the writer overwrites its
//! blocks, as a filesystem does its journal. `prefix` then checks that the `M` blocks
//! are what the writes up to some `n` left (each block the last write to it up to `n`,
//! none beyond; prints `ring <n>`): a copy that mixes older and newer writes fails,
//! which a writer that never overwrites cannot show.
//!
//! With `--acks DEV`, each acknowledged number is also written (O_DIRECT) to the start of
//! DEV before it is printed: a crash (qemu killed) keeps everything a guest wrote to a
//! disk, so after it DEV holds the last number acknowledged, to the write, whatever the
//! output stream still carried.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Dsync,
    Direct,
    Check,
    Prefix,
}

#[derive(Parser)]
#[command(about = "Write numbered 4 KiB blocks, print each acknowledged number (tests only)")]
struct Cli {
    /// The device to write.
    device: String,
    /// First block (in 4 KiB units).
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Blocks to write.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Text at the start of each block, before its number.
    #[arg(long, default_value = "dsync")]
    tag: String,
    #[arg(long, value_enum, default_value = "dsync")]
    mode: Mode,
    /// Overwrite: block `i` goes to `start + i % ring` (0: no ring).
    #[arg(long, default_value_t = 0)]
    ring: u64,
    /// A scratch device that records the last acknowledged number (`acked <i>`).
    #[arg(long)]
    acks: Option<String>,
}

const BLOCK: usize = 4096;

/// Blocks read at once by `check` and `prefix` (each read a system call, dear under TCG).
const READ_BLOCKS: usize = 64;

/// Zeroed 4 KiB blocks aligned for direct I/O.
struct Aligned(*mut u8, usize);

impl Aligned {
    fn layout(blocks: usize) -> Layout {
        // 4096 is a power of two and the size is nonzero.
        Layout::from_size_align(blocks * BLOCK, BLOCK).expect("layout")
    }
    fn new(blocks: usize) -> Aligned {
        // SAFETY: the layout has a nonzero size (blocks >= 1).
        let p = unsafe { alloc_zeroed(Self::layout(blocks.max(1))) };
        assert!(!p.is_null(), "out of memory");
        Aligned(p, blocks.max(1))
    }
    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `self.0` points to `self.1` blocks owned by `self`, initialized (zeroed).
        unsafe { std::slice::from_raw_parts_mut(self.0, self.1 * BLOCK) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with the same layout.
        unsafe { dealloc(self.0, Self::layout(self.1)) }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let flags = match cli.mode {
        Mode::Dsync => libc::O_DIRECT | libc::O_DSYNC,
        Mode::Direct | Mode::Check | Mode::Prefix => libc::O_DIRECT,
    };
    let check = matches!(cli.mode, Mode::Check | Mode::Prefix);
    let dev = match OpenOptions::new().read(check).write(!check).custom_flags(flags).open(&cli.device) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("mars-writer: cannot open {}: {e}", cli.device);
            return ExitCode::from(2);
        }
    };
    let acks = match cli.acks.as_deref().map(|a| OpenOptions::new().write(true).custom_flags(libc::O_DIRECT).open(a)) {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            eprintln!("mars-writer: cannot open the acks device: {e}");
            return ExitCode::from(2);
        }
        None => None,
    };
    let (mut buf, mut ack) = (Aligned::new(if check { READ_BLOCKS } else { 1 }), Aligned::new(1));
    let mut out = std::io::stdout().lock();
    if cli.ring > 0 && matches!(cli.mode, Mode::Prefix) {
        return check_ring(&dev, &cli, &mut buf);
    }
    // Prefix mode: the first block that is not as written.
    let mut missing = None;
    for i in 0..cli.count {
        let text = format!("{} {i:08}\n", cli.tag);
        let at = (cli.start + if cli.ring > 0 { i % cli.ring } else { i }) * BLOCK as u64;
        if check {
            // Consecutive blocks are read READ_BLOCKS at a time (one at a time in a ring).
            let (n, k) = if cli.ring > 0 { (1, 0) } else { ((cli.count - i).min(READ_BLOCKS as u64) as usize, (i % READ_BLOCKS as u64) as usize) };
            if k == 0 {
                if let Err(e) = dev.read_exact_at(&mut buf.bytes()[..n * BLOCK], at) {
                    eprintln!("mars-writer: block {i}: {e}");
                    return ExitCode::from(2);
                }
            }
            let b = &buf.bytes()[k * BLOCK..(k + 1) * BLOCK];
            let written = b.starts_with(text.as_bytes());
            match (cli.mode, missing) {
                (Mode::Prefix, None) if !written => missing = Some(i),
                (Mode::Prefix, Some(k)) if written => {
                    println!("block {i} is as written, block {k} is not: not a prefix of the writes");
                    return ExitCode::from(1);
                }
                (Mode::Check, _) if !written => {
                    let got = String::from_utf8_lossy(&b[..text.len()]).into_owned();
                    println!("block {i}: {got:?} instead of {:?}", text);
                    return ExitCode::from(1);
                }
                _ => {}
            }
            continue;
        }
        let b = buf.bytes();
        b.fill(0);
        b[..text.len()].copy_from_slice(text.as_bytes());
        if let Err(e) = dev.write_all_at(b, at) {
            eprintln!("mars-writer: block {i}: {e}");
            return ExitCode::from(1);
        }
        if let Some(acks) = &acks {
            let text = format!("acked {i}\n");
            let a = ack.bytes();
            a.fill(0);
            a[..text.len()].copy_from_slice(text.as_bytes());
            if let Err(e) = acks.write_all_at(a, 0) {
                eprintln!("mars-writer: acks device: {e}");
                return ExitCode::from(1);
            }
        }
        if writeln!(out, "{i}").and_then(|_| out.flush()).is_err() {
            return ExitCode::from(1);
        }
    }
    if matches!(cli.mode, Mode::Prefix) {
        println!("prefix {}", missing.unwrap_or(cli.count));
    }
    ExitCode::SUCCESS
}

/// `--mode prefix --ring M`: the ring's blocks are what the writes up to the newest
/// number found left there.
fn check_ring(dev: &std::fs::File, cli: &Cli, buf: &mut Aligned) -> ExitCode {
    let prefix = format!("{} ", cli.tag);
    let mut found = Vec::new();
    for slot in 0..cli.ring {
        let b = &mut buf.bytes()[..BLOCK];
        if let Err(e) = dev.read_exact_at(b, (cli.start + slot) * BLOCK as u64) {
            eprintln!("mars-writer: ring block {slot}: {e}");
            return ExitCode::from(2);
        }
        let number = b.strip_prefix(prefix.as_bytes()).and_then(|rest| std::str::from_utf8(rest.get(..8)?).ok()?.parse::<u64>().ok());
        found.push(number);
    }
    let Some(newest) = found.iter().flatten().max().copied() else {
        println!("ring empty");
        return ExitCode::SUCCESS;
    };
    for (slot, number) in found.iter().enumerate() {
        let slot = slot as u64;
        // The last write to this block up to `newest`, if there was one.
        let expected = (slot <= newest).then(|| newest - (newest - slot) % cli.ring);
        if *number != expected {
            println!("ring block {slot} holds write {number:?}, the writes up to {newest} left {expected:?} there: a mix of older and newer writes");
            return ExitCode::from(1);
        }
    }
    println!("ring {newest}");
    ExitCode::SUCCESS
}
