//! Where a function writes what users read: its stdout and its stderr.
//!
//! Functions never call `println!`: they write through a [`Console`], whose two
//! [`Output`]s are the process's stdout and stderr when run as a binary, and whatever
//! `fnmesh run` (or a test) swaps in when run in-process. Each write is one whole
//! block (an event-display event, a log line), so blocks from concurrent requests
//! never interleave.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// One destination for output, shared by all requests of a function.
#[derive(Clone)]
pub struct Output {
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl Output {
    /// Any writer; each [`Output::write_block`] is written whole and flushed.
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Self { writer: Arc::new(Mutex::new(Box::new(writer))) }
    }

    /// The process's stdout.
    pub fn stdout() -> Self {
        Self::new(io::stdout())
    }

    /// The process's stderr.
    pub fn stderr() -> Self {
        Self::new(io::stderr())
    }

    /// Discards everything (benchmarks).
    pub fn null() -> Self {
        Self::new(io::sink())
    }

    /// An output that keeps what is written, and the handle to read it back.
    pub fn capture() -> (Self, Capture) {
        let capture = Capture::default();
        (Self::new(capture.clone()), capture)
    }

    /// Writes `block` whole, then flushes.
    pub fn write_block(&self, block: &[u8]) -> io::Result<()> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        writer.write_all(block)?;
        writer.flush()
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Output")
    }
}

/// What a captured [`Output`] received.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl Capture {
    /// Everything written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A function's stdout and stderr.
#[derive(Debug, Clone)]
pub struct Console {
    /// Where results go (event-display's events).
    pub out: Output,
    /// Where logs go (the appender's Go-style log lines).
    pub err: Output,
}

impl Console {
    /// The process's stdout and stderr.
    pub fn std() -> Self {
        Self { out: Output::stdout(), err: Output::stderr() }
    }

    /// A console that discards everything.
    pub fn null() -> Self {
        Self { out: Output::null(), err: Output::null() }
    }

    /// Writes `block` to stdout; a failed write is logged, never fatal.
    pub fn print(&self, block: &[u8]) {
        if let Err(err) = self.out.write_block(block) {
            tracing::warn!(%err, "could not write to stdout");
        }
    }

    /// Writes one line to stderr as Go's `log` package does:
    /// `2020/09/14 14:50:00 <message>\n`, in local time.
    pub fn log(&self, message: &str) {
        self.log_lines(&[message]);
    }

    /// Writes several log lines with one clock reading and one write (the appender logs
    /// four per event): they stay together, and cost one syscall.
    pub fn log_lines(&self, messages: &[&str]) {
        let stamp = stamp();
        let size = messages.iter().map(|m| stamp.len() + m.len() + 1).sum();
        let mut block = String::with_capacity(size);
        for message in messages {
            block.push_str(&stamp);
            block.push_str(message);
            if !block.ends_with('\n') {
                block.push('\n');
            }
        }
        if let Err(err) = self.err.write_block(block.as_bytes()) {
            tracing::warn!(%err, "could not write to stderr");
        }
    }
}

/// Go's `log` stamp for now, `2020/09/14 14:50:00 `, in local time. The local time
/// zone is looked up once a second at most: the last stamp is kept with its second.
fn stamp() -> String {
    use chrono::{Datelike, Timelike};
    static LAST: Mutex<Option<(i64, String)>> = Mutex::new(None);
    let now = chrono::Utc::now().timestamp();
    if let Some((second, stamp)) = &*LAST.lock().unwrap_or_else(PoisonError::into_inner)
        && *second == now
    {
        return stamp.clone();
    }
    let local = chrono::DateTime::from_timestamp(now, 0).map(|t| t.with_timezone(&chrono::Local));
    let mut stamp = String::with_capacity(20);
    if let Some(t) = local {
        // Written digit by digit: chrono's strftime parses its pattern on every call.
        let push = |out: &mut String, n: u32, width: u32, then: char| {
            crate::rfc3339::push_digits(out, n, width);
            out.push(then);
        };
        push(&mut stamp, u32::try_from(t.year()).unwrap_or_default() % 10_000, 4, '/');
        push(&mut stamp, t.month(), 2, '/');
        push(&mut stamp, t.day(), 2, ' ');
        push(&mut stamp, t.hour(), 2, ':');
        push(&mut stamp, t.minute(), 2, ':');
        push(&mut stamp, t.second(), 2, ' ');
    }
    *LAST.lock().unwrap_or_else(PoisonError::into_inner) = Some((now, stamp.clone()));
    stamp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_look_like_go_log() {
        let (err, capture) = Output::capture();
        let console = Console { out: Output::null(), err };
        console.log("Received a new event: ");
        let text = capture.text();
        // "2020/09/14 14:50:00 Received a new event: \n"
        assert_eq!(text.len(), 20 + "Received a new event: \n".len(), "{text:?}");
        assert_eq!(&text[4..5], "/");
        assert_eq!(&text[19..], " Received a new event: \n");
        assert!(text[..19].bytes().all(|b| b.is_ascii_digit() || b"/ :".contains(&b)), "{text:?}");
    }

    #[test]
    fn several_lines_share_one_stamp_and_one_write() {
        let (err, capture) = Output::capture();
        let console = Console { out: Output::null(), err };
        console.log_lines(&["one", "two\n", "three"]);
        let text = capture.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text:?}");
        let stamp = &lines[0][..20];
        assert_eq!(lines, [format!("{stamp}one"), format!("{stamp}two"), format!("{stamp}three")]);
        assert!(text.ends_with("three\n"));
    }

    #[test]
    fn blocks_are_kept_whole() {
        let (out, capture) = Output::capture();
        let console = Console { out, err: Output::null() };
        std::thread::scope(|s| {
            for i in 0..4 {
                let console = console.clone();
                s.spawn(move || {
                    for _ in 0..50 {
                        console.print(format!("begin {i}\nend {i}\n").as_bytes());
                    }
                });
            }
        });
        let text = capture.text();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 400);
        for pair in lines.chunks(2) {
            assert_eq!(pair[0].replace("begin", "end"), pair[1]);
        }
    }
}
