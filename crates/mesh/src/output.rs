//! One output stream for everything `fnmesh run` shows: each service's lines as
//! `<service> | <line>`, and fnmesh's own delivery log as `fnmesh | <line>`.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use fnmesh_runtime::{Capture, Console, Output};

/// The shared stream.
#[derive(Clone)]
pub struct Out {
    sink: Output,
    color: bool,
    /// Whether delivery decisions are logged.
    pub verbose: bool,
    /// The sources in the order they were first seen: each takes the next colour.
    sources: Arc<Mutex<Vec<String>>>,
    /// The recent lines, for `fnmesh logs`.
    pub recent: Arc<Recent>,
}

/// The most recent lines of every source (bounded), and the lines as they come, for
/// `fnmesh logs` (`/.fnmesh/logs`).
#[derive(Debug)]
pub struct Recent {
    lines: Mutex<std::collections::VecDeque<(String, String)>>,
    updates: tokio::sync::broadcast::Sender<(String, String)>,
}

impl Recent {
    /// How many lines are kept, of all sources together.
    pub const LINES: usize = 5000;

    fn new() -> Arc<Self> {
        Arc::new(Self { lines: Mutex::default(), updates: tokio::sync::broadcast::channel(1024).0 })
    }

    fn push(&self, source: &str, line: &str) {
        let mut lines = self.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if lines.len() == Self::LINES {
            lines.pop_front();
        }
        lines.push_back((source.to_owned(), line.to_owned()));
        drop(lines);
        if self.updates.receiver_count() > 0 {
            let _ = self.updates.send((source.to_owned(), line.to_owned()));
        }
    }

    /// The kept lines of `source` (every source when `None`), oldest first.
    pub fn lines(&self, source: Option<&str>) -> Vec<(String, String)> {
        let lines = self.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        lines.iter().filter(|(s, _)| source.is_none_or(|want| s == want)).cloned().collect()
    }

    /// Lines as they come: `(source, line)`.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<(String, String)> {
        self.updates.subscribe()
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Out").field("color", &self.color).finish_non_exhaustive()
    }
}

/// Colours for service names, given in the order services start (their order in the
/// manifests), so no two of the first eleven share one and a run always colours a set
/// the same way. A hash of the name could not promise that: the seed's Parallel has five
/// services, and five names in six colours collide more often than not.
const PALETTE: [&str; 11] = [
    "\x1b[36m", "\x1b[33m", "\x1b[35m", "\x1b[32m", "\x1b[34m", "\x1b[91m", "\x1b[96m", "\x1b[93m", "\x1b[95m",
    "\x1b[92m", "\x1b[94m",
];
/// fnmesh's own lines: bold, no colour of a service's.
const FNMESH: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl Out {
    /// Standard output; coloured when it is a terminal and `color` allows.
    pub fn stdout(color: Option<bool>, verbose: bool) -> Self {
        let color = color.unwrap_or_else(|| std::io::stdout().is_terminal());
        Self { sink: Output::stdout(), color, verbose, sources: Arc::default(), recent: Recent::new() }
    }

    /// A stream kept in memory, for tests.
    pub fn capture() -> (Self, Capture) {
        let (sink, capture) = Output::capture();
        (Self { sink, color: false, verbose: true, sources: Arc::default(), recent: Recent::new() }, capture)
    }

    /// Writes `line` (no newline) as coming from `source`. Control characters in it are
    /// escaped (`\r`, `\u{1b}`): a service, or an event attribute it prints, cannot
    /// forge a line of another source or drive the terminal.
    pub fn line(&self, source: &str, line: &str) {
        self.lines(source, std::iter::once(line));
    }

    /// Writes `lines` as coming from `source`, in one write (a function's log block is
    /// several lines: one write, one lock of the stream, for all of them).
    pub fn lines<'a>(&self, source: &str, lines: impl IntoIterator<Item = &'a str>) {
        let colour = if self.color { self.colour(source) } else { "" };
        let mut text = String::new();
        for line in lines {
            let line = escape_controls(line);
            self.recent.push(source, &line);
            if self.color {
                text.extend([colour, source, " |", RESET, " ", &line, "\n"]);
            } else {
                text.extend([source, " | ", &line, "\n"]);
            }
        }
        if text.is_empty() {
            return;
        }
        // Output is best effort: a closed stdout must not stop the mesh.
        let _ = self.sink.write_block(text.as_bytes());
    }

    /// The colour of `source`: fnmesh's own, or the next free one of the palette the
    /// first time a source is seen ([`Out::console`] and [`pipe_lines`] see a service
    /// when it starts).
    fn colour(&self, source: &str) -> &'static str {
        if source == "fnmesh" {
            return FNMESH;
        }
        let mut sources = self.sources.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let index = match sources.iter().position(|s| s == source) {
            Some(index) => index,
            None => {
                sources.push(source.to_owned());
                sources.len() - 1
            }
        };
        PALETTE[index % PALETTE.len()]
    }

    /// A delivery decision or a mesh event, when verbose.
    pub fn log(&self, line: &str) {
        if self.verbose {
            self.line("fnmesh", line);
        }
    }

    /// A message shown whatever the verbosity (start, stop, errors).
    pub fn say(&self, line: &str) {
        self.line("fnmesh", line);
    }

    /// A console for a function: both its stdout and stderr become prefixed lines.
    pub fn console(&self, service: &str) -> Console {
        self.colour(service);
        let writer = || Output::new(Prefixed { out: self.clone(), source: service.to_owned(), partial: Vec::new() });
        Console { out: writer(), err: writer() }
    }
}

/// `line` with its control characters (C0 but tab, DEL, C1) written as Rust escapes.
fn escape_controls(line: &str) -> std::borrow::Cow<'_, str> {
    // Control characters are C0 and DEL (one byte each) or C1 (`\u{80}`-`\u{9f}`, two
    // bytes from 0xC2): a byte scan finds every line without one.
    // A fold, not `any`: without an early exit the scan runs branch-free (vectorised).
    let control = line.bytes().fold(false, |found, b| found | ((b < 0x20) & (b != b'\t')) | (b == 0x7f) | (b == 0xc2));
    if !control {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Cuts what a service writes into lines and prefixes each.
struct Prefixed {
    out: Out,
    source: String,
    partial: Vec<u8>,
}

impl Write for Prefixed {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(bytes);
        // Every complete line of what was written, in one write; the rest waits.
        let Some(last) = self.partial.iter().rposition(|b| *b == b'\n') else { return Ok(bytes.len()) };
        // Checked as UTF-8 first: `from_utf8_lossy`'s chunking costs more per byte.
        let text = match std::str::from_utf8(&self.partial[..last]) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(&self.partial[..last]),
        };
        self.out.lines(&self.source, text.split('\n').map(|line| line.trim_end_matches('\r')));
        self.partial.drain(..=last);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Prefixed {
    fn drop(&mut self) {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.out.line(&self.source, &String::from_utf8_lossy(&rest));
        }
    }
}

/// Lines of a child process's stream, prefixed, until it ends.
pub fn pipe_lines(out: Out, source: String, stream: impl tokio::io::AsyncRead + Unpin + Send + 'static, tail: Tail) {
    out.colour(&source);
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            out.line(&source, &line);
            tail.push(&line);
        }
    });
}

/// The last lines a process printed, for the error when it fails to start.
#[derive(Debug, Clone, Default)]
pub struct Tail(Arc<Mutex<std::collections::VecDeque<String>>>);

impl Tail {
    /// How many lines are kept.
    pub const LINES: usize = 15;

    /// Keeps `line`, forgetting the oldest past [`Tail::LINES`].
    pub fn push(&self, line: &str) {
        let mut lines = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if lines.len() == Self::LINES {
            lines.pop_front();
        }
        lines.push_back(line.to_owned());
    }

    /// The lines kept, oldest first, each indented for an error message; empty when none.
    pub fn render(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if lines.is_empty() {
            return String::new();
        }
        let body: Vec<String> = lines.iter().map(|l| format!("  | {}", escape_controls(l))).collect();
        format!("; its last lines:\n{}", body.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_gets_its_service_prefix() {
        let (out, capture) = Out::capture();
        let console = out.console("third");
        console.print(b"one\ntw");
        console.print(b"o\n");
        console.log("Received a new event");
        out.log("sequence/sequence step 0 -> first: 200 in 0.4 ms");
        let text = capture.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "third | one");
        assert_eq!(lines[1], "third | two");
        assert!(lines[2].starts_with("third | ") && lines[2].ends_with(" Received a new event"), "{}", lines[2]);
        assert_eq!(lines[3], "fnmesh | sequence/sequence step 0 -> first: 200 in 0.4 ms");
    }

    #[test]
    fn the_seeds_services_have_colours_of_their_own() {
        // flows/sequence (first, second, third) and flows/parallel (even-filter, odd-filter,
        // even-transformer, odd-transformer, event-display), started in the plan's order.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../flows");
        let images = crate::plan::Images::load(&[] as &[&str]).unwrap();
        for flow in ["sequence", "parallel"] {
            let (documents, problems) = crate::manifests::load(&[root.join(flow)], "default");
            let plan = crate::plan::plan(&documents, Some(&images), problems).unwrap();
            let (sink, capture) = Output::capture();
            let out = Out { sink, color: true, verbose: true, sources: Arc::default(), recent: Recent::new() };
            let names: Vec<&str> = plan.services.iter().map(|s| s.name.as_str()).collect();
            assert!(names.len() >= 3, "{flow}: {names:?}");
            for name in &names {
                drop(out.console(name));
            }
            for name in names.iter().rev() {
                out.line(name, "x");
            }
            out.say("ready");
            let text = capture.text();
            let mut colours: Vec<&str> = text.lines().map(|l| &l[..=l.find('m').unwrap()]).collect();
            assert_eq!(colours.len(), names.len() + 1, "{text:?}");
            assert_eq!(colours.last(), Some(&FNMESH));
            colours.sort();
            colours.dedup();
            assert_eq!(colours.len(), names.len() + 1, "{flow}: a colour is shared in {text:?}");
        }
    }

    #[test]
    fn control_characters_cannot_forge_lines_or_drive_the_terminal() {
        let (out, capture) = Out::capture();
        let console = out.console("event-display");
        console.print(b"type: a\rfnmesh | forged\n");
        console.print(b"source: \x1b[2J\x1b]0;title\x07 and \xc2\x9b C1\tkept\n");
        out.log("broker/default: dropped event \u{1b}[31mred");
        let text = capture.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "event-display | type: a\\rfnmesh | forged");
        assert_eq!(lines[1], "event-display | source: \\u{1b}[2J\\u{1b}]0;title\\u{7} and \\u{9b} C1\tkept");
        assert_eq!(lines[2], "fnmesh | broker/default: dropped event \\u{1b}[31mred");
        assert!(!text.contains('\x1b') && !text.contains('\r'), "{text:?}");
    }
}
