//! Progress of a fetch: bars on a terminal, one JSON line per file otherwise.
//!
//! The JSON lines go to standard output as `{"paramFile": <ParamFileStatus>, "outcome": ...}`; the operator
//! reads them from the fetch Job's log into the ParamCache status. Logs go to standard error.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

pub use sealstack_crds::param_cache::{FetchOutcome as Outcome, FetchProgressLine as ProgressLine};

/// Receives progress events; implementations must be cheap, they run on the download path.
pub trait Progress: Send + Sync {
    /// A download starts (or resumes at `done` bytes); `total` when the server said.
    fn started(&self, name: &str, done: u64, total: Option<u64>);
    /// `bytes` more bytes arrived.
    fn advanced(&self, name: &str, bytes: u64);
    /// The file is done.
    fn finished(&self, line: &ProgressLine);
}

/// One JSON line per finished file, written to `out`.
pub struct LineProgress<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> LineProgress<W> {
    /// Writes lines to `out`.
    pub fn new(out: W) -> Self {
        Self { out: Mutex::new(out) }
    }

    /// The writer back (for tests).
    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl<W: Write + Send> Progress for LineProgress<W> {
    fn started(&self, _: &str, _: u64, _: Option<u64>) {}

    fn advanced(&self, _: &str, _: u64) {}

    fn finished(&self, line: &ProgressLine) {
        let json = serde_json::to_string(line).expect("a progress line serialises");
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A closed stdout must not fail the fetch itself.
        let _ = writeln!(out, "{json}").and_then(|()| out.flush());
    }
}

/// Progress bars on a terminal.
#[derive(Default)]
pub struct TerminalProgress {
    bars: MultiProgress,
    active: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress for TerminalProgress {
    fn started(&self, name: &str, done: u64, total: Option<u64>) {
        let bar = self.bars.add(total.map_or_else(ProgressBar::no_length, ProgressBar::new));
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:60!} {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12} {eta:>4} [{bar:30}]",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_message(name.to_owned());
        bar.set_position(done);
        self.active.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_owned(), bar);
    }

    fn advanced(&self, name: &str, bytes: u64) {
        if let Some(bar) = self.active.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
            bar.inc(bytes);
        }
    }

    fn finished(&self, line: &ProgressLine) {
        let name = &line.param_file.name;
        match self.active.lock().unwrap_or_else(|e| e.into_inner()).remove(name) {
            Some(bar) => bar.finish_with_message(format!("{name} verified")),
            None => {
                let _ = self.bars.println(format!("{name}: {:?}", line.outcome).to_lowercase());
            }
        }
    }
}
