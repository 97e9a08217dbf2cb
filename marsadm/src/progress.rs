//! What a waiting command shows while it waits (`primary`, `wait-resource`, ...), on
//! stderr: on a terminal one line rewritten in place with the amount still to go, its
//! rate and the time left; in a pipe (a log, a script) one line per step, printed when
//! the step changes, not when only its figures do.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Why a command still waits: a step, and how many bytes it still has to go, if that
/// is known.
pub struct Wait {
    pub why: String,
    pub rest: Option<u64>,
}

impl From<String> for Wait {
    fn from(why: String) -> Wait {
        Wait { why, rest: None }
    }
}

impl From<&str> for Wait {
    fn from(why: &str) -> Wait {
        Wait { why: why.to_owned(), rest: None }
    }
}

/// The rate is taken over this much of the recent past.
const WINDOW: Duration = Duration::from_secs(10);

pub struct Progress {
    tty: bool,
    step: String,
    /// (when, rest) of the current step, oldest first, within [`WINDOW`].
    samples: std::collections::VecDeque<(Instant, u64)>,
    /// A line without its newline is on the terminal.
    open: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress { tty: std::io::stderr().is_terminal(), step: String::new(), samples: Default::default(), open: false }
    }

    /// Shows that the command waits for `wait` now.
    pub fn show(&mut self, wait: &Wait) {
        let now = Instant::now();
        let new_step = wait.why != self.step;
        if new_step {
            self.step = wait.why.clone();
            self.samples.clear();
        }
        if let Some(rest) = wait.rest {
            self.samples.push_back((now, rest));
            while self.samples.front().is_some_and(|(t, _)| now.duration_since(*t) > WINDOW) {
                self.samples.pop_front();
            }
        }
        let line = self.line(wait);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[K{line}");
            self.open = true;
        } else if new_step {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn line(&self, wait: &Wait) -> String {
        let Some(rest) = wait.rest else { return format!("waiting: {}", wait.why) };
        format!("waiting: {}: {} to go{}", wait.why, human(rest), rate_and_eta(&self.samples))
    }

    /// Ends the line on a terminal, so that what follows starts on a line of its own.
    pub fn finish(&mut self) {
        if self.open {
            eprintln!();
            self.open = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `, 12.000 MiB/s, 00:00:42 left` from the samples, or nothing before a rate is known
/// (less than a second of samples, or nothing moved).
fn rate_and_eta(samples: &std::collections::VecDeque<(Instant, u64)>) -> String {
    let (Some((t0, r0)), Some((t1, r1))) = (samples.front(), samples.back()) else { return String::new() };
    let secs = t1.duration_since(*t0).as_secs_f64();
    if secs < 1.0 {
        return String::new();
    }
    let rate = (r0.saturating_sub(*r1) as f64 / secs) as u64;
    if rate == 0 {
        return ", not moving".to_owned();
    }
    format!(", {}/s, {} left", human(rate), crate::commands::remaining(*r1, rate))
}

use crate::commands::human;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_time_left_from_the_samples() {
        let t = Instant::now();
        let mut s = std::collections::VecDeque::new();
        s.push_back((t, 100 << 20));
        assert_eq!(rate_and_eta(&s), "");
        s.push_back((t + Duration::from_secs(2), 80 << 20));
        assert_eq!(rate_and_eta(&s), ", 10.000 MiB/s, 00:00:08 left");
        s.push_back((t + Duration::from_secs(4), 80 << 20));
        assert_eq!(rate_and_eta(&s), ", 5.000 MiB/s, 00:00:16 left");
        let still: std::collections::VecDeque<_> = [(t, 5), (t + Duration::from_secs(3), 5)].into();
        assert_eq!(rate_and_eta(&still), ", not moving");
    }

    #[test]
    fn a_line_per_step() {
        let p = Progress { tty: false, step: String::new(), samples: Default::default(), open: false };
        assert_eq!(p.line(&"the module to detach".into()), "waiting: the module to detach");
        assert_eq!(p.line(&Wait { why: "node1's log to fetch and replay".into(), rest: Some(1536) }), "waiting: node1's log to fetch and replay: 1.500 KiB to go");
    }
}
