//! Progress of one job: an indicatif bar (iteration, loss, img/s, ETA) on a
//! terminal, plain periodic lines otherwise (Slurm logs, CI, `nohup`).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How a job reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on a terminal, lines otherwise.
    Auto,
    /// Plain lines every `interval` seconds.
    Lines,
    /// Nothing.
    Quiet,
}

/// A job's progress reporter.
pub struct JobProgress {
    bar: Option<ProgressBar>,
    lines: bool,
    id: String,
    total: u64,
    last_line: Instant,
    interval: Duration,
}

impl JobProgress {
    /// Start reporting on a job of `total` iterations, starting at `start`.
    pub fn new(id: &str, start: u64, total: u64, mode: ProgressMode) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = (mode == ProgressMode::Auto && tty).then(|| {
            let b = ProgressBar::new(total);
            b.set_style(ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}").expect("valid template").progress_chars("=> "));
            b.set_prefix(id.to_string());
            b.set_position(start);
            b
        });
        let lines = bar.is_none() && mode != ProgressMode::Quiet;
        JobProgress { bar, lines, id: id.to_string(), total, last_line: Instant::now(), interval: Duration::from_secs(10) }
    }

    /// Report iteration `it` done with the last loss read (at the last
    /// evaluation or checkpoint; none before the first) and throughput.
    pub fn update(&mut self, it: u64, loss: Option<f64>, img_per_s: f64) {
        let loss = loss.map_or("–".to_string(), |l| format!("{l:.4}"));
        let msg = format!("loss {loss} {img_per_s:.0} img/s");
        if let Some(b) = &self.bar {
            b.set_position(it);
            b.set_message(msg);
        } else if self.lines && (self.last_line.elapsed() >= self.interval || it == self.total) {
            eprintln!("[{}] iteration {it}/{} {msg}", self.id, self.total);
            self.last_line = Instant::now();
        }
    }

    /// A one-off message (evaluations, resume, finish).
    pub fn say(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.println(format!("[{}] {msg}", self.id)),
            None if self.lines => eprintln!("[{}] {msg}", self.id),
            None => {}
        }
    }

    /// Close the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// CPU seconds of this process so far (defined beside the other process-level
/// runtime settings in `model::backend`, which the benches share).
pub use model::backend::process_cpu_seconds;
