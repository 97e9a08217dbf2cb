//! `mars-hostile`: a hostile MARS peer for the VM scenarios (test-only; see
//! `mars_testbed::hostile` and docu/security.md). Each attack prints one line and exits
//! 0 when the server refused everything, 1 when it gave something it must not have, 2
//! when the attack could not be judged (its legitimate part failed).

use std::fs;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mars_core::auth;
use mars_testbed::hostile::attacks::{self, Forbidden, Known};
use mars_testbed::hostile::{fuzz, server, Creds, Target, Verdict};

#[derive(Parser)]
#[command(about = "Attack a MARS host over the replication network (tests only)")]
struct Cli {
    /// The host under attack.
    #[arg(long, default_value = "10.77.0.1")]
    target: Ipv4Addr,
    /// Its base port (metadata; fetch and sync are the next two).
    #[arg(long, default_value_t = mars_core::wire::DEFAULT_BASE_PORT)]
    base_port: u16,
    /// Bound on every connect and read, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// The cluster key (for the attacks by a member, and for the key id of wrong-key).
    #[arg(long, default_value = "/mars/cluster.key")]
    key_file: String,
    /// The cluster uuid a member presents (default: this host's /mars/uuid); never
    /// allowed to reach the attacks without the key.
    #[arg(long)]
    cluster: Option<String>,
    /// The host name a member presents (default: this host's name).
    #[arg(long)]
    as_host: Option<String>,
    /// The resource to attack.
    #[arg(long, default_value = "r0")]
    res: String,
    /// Bytes that must never be received (repeatable), besides the uuid and /etc/passwd's.
    #[arg(long)]
    forbid: Vec<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// (a) No key: v1 Hello "(any)", requests before authentication, unknown key ids.
    NoKey,
    /// (b) The right key id, tags made with a wrong key.
    WrongKey,
    /// (c) A member's recorded sessions replayed on new connections.
    Replay,
    /// (d) Changed, swapped, reflected, untagged and repeated frames in a member's session.
    Tamper,
    /// (e) A malicious member: paths outside the logfiles, unknown resources, ranges
    /// beyond the disk, huge lengths.
    Member,
    /// All attacks, one line each.
    All,
    /// Not an attack on the target: serve, as the member --as-host on ADDR's metadata
    /// port, a tree listing that never ends to whoever pulls it (until killed).
    EndlessTree {
        #[arg(long)]
        listen: Ipv4Addr,
        /// Milliseconds between two entries.
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
    },
    /// Random and mutated frames at all three ports for SECONDS.
    Fuzz {
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Only unauthenticated connections.
        #[arg(long)]
        no_key: bool,
    },
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let t = Target { addr: cli.target, base_port: cli.base_port, timeout: Duration::from_secs(cli.timeout) };
    let cluster = cli.cluster.clone().or_else(|| fs::read_link("/mars/uuid").ok().map(|p| p.to_string_lossy().into_owned()));
    let host = cli.as_host.clone().or_else(|| read_trimmed("/proc/sys/kernel/hostname")).unwrap_or_else(|| "hostile".into());
    let key = fs::read(&cli.key_file).ok().and_then(|t| auth::parse_key(&t).ok());
    let mut extra: Vec<Vec<u8>> = cli.forbid.iter().map(|s| s.as_bytes().to_vec()).collect();
    let without_key = {
        let mut f = extra.clone();
        f.extend(cluster.iter().map(|c| c.as_bytes().to_vec()));
        Forbidden::with_defaults(f)
    };
    let with_key = Forbidden::with_defaults(std::mem::take(&mut extra));
    let creds = || -> Result<Creds, String> {
        let key = key.ok_or_else(|| format!("no valid key in {}", cli.key_file))?;
        let cluster = cluster.clone().ok_or("no cluster uuid: give --cluster")?;
        Ok(Creds { key, cluster, host: host.clone() })
    };
    let learn = |c: &Creds| -> Result<Known, String> { attacks::learn(&t, c, &cli.res) };

    let run = |name: &str| -> Verdict {
        let need = |v: &mut Verdict| -> Option<(Creds, Known)> {
            let c = match creds() {
                Ok(c) => c,
                Err(e) => {
                    v.inconclusive = Some(e);
                    return None;
                }
            };
            match learn(&c) {
                Ok(k) => Some((c, k)),
                Err(e) => {
                    v.inconclusive = Some(format!("a member cannot read the primary's tree: {e}"));
                    None
                }
            }
        };
        match name {
            "no-key" => attacks::no_key(&t, &without_key),
            "wrong-key" => match creds() {
                Ok(c) => attacks::wrong_key(&t, &c, &without_key),
                Err(e) => Verdict { inconclusive: Some(e), ..Verdict::new("wrong-key") },
            },
            other => {
                let mut v = Verdict::new(other);
                let Some((c, k)) = need(&mut v) else { return v };
                match other {
                    "replay" => attacks::replay(&t, &c, &k, &without_key),
                    "tamper" => attacks::tamper(&t, &c, &k, &with_key),
                    _ => attacks::member(&t, &c, &k, &with_key),
                }
            }
        }
    };
    let names: &[&str] = match &cli.cmd {
        Cmd::NoKey => &["no-key"],
        Cmd::WrongKey => &["wrong-key"],
        Cmd::Replay => &["replay"],
        Cmd::Tamper => &["tamper"],
        Cmd::Member => &["member"],
        Cmd::All => &["no-key", "wrong-key", "replay", "tamper", "member"],
        Cmd::EndlessTree { listen, delay_ms } => {
            let c = match creds() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("endless-tree: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Err(e) = server::endless_tree(*listen, cli.base_port, &c, Duration::from_millis(*delay_ms)) {
                eprintln!("endless-tree: {e}");
                return ExitCode::from(2);
            }
            return ExitCode::SUCCESS;
        }
        Cmd::Fuzz { seconds, seed, no_key } => {
            let c = if *no_key { None } else { creds().ok() };
            if !*no_key && c.is_none() {
                eprintln!("fuzz: no key or uuid (give --no-key to fuzz without authentication)");
                return ExitCode::from(2);
            }
            let k = c.as_ref().and_then(|c| learn(c).ok());
            let st = fuzz::run(&t, c.as_ref(), k.as_ref(), Duration::from_secs(*seconds), *seed);
            println!("{}", st.line(*seed));
            for b in &st.breaches {
                println!("fuzz: BREACH: {b}");
            }
            return ExitCode::from(if st.breaches.is_empty() { 0 } else { 1 });
        }
    };
    let mut status = 0;
    for n in names {
        let v = run(n);
        println!("{}", v.line());
        status = status.max(v.status());
    }
    ExitCode::from(status as u8)
}
