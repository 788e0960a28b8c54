//! The pool ↔ worker protocol.
//!
//! 1. pool → worker: a [`Config`] (the program and the limits), one line of JSON.
//! 2. worker → pool: [`Message::Ready`] once the program compiled and the limits are set,
//!    or [`Message::Error`] (then the worker exits), one line of JSON.
//! 3. Then frames, each a length (4 bytes, little-endian) and that many bytes:
//!    pool → worker one input per frame (JSON text), several frames per write when
//!    evaluations queue up; worker → pool one reply per input, in order: a [`Tag`] byte,
//!    then for [`Tag::Ok`] every output as compact JSON followed by a newline (compact
//!    JSON holds no raw newline), for the others the error message.
//!
//! The worker exits when its standard input ends, or when the pool's process is gone
//! (the kernel kills it: see [`crate::worker`]).

use serde::{Deserialize, Serialize};

/// Version of this protocol; a worker refuses a config of another version.
pub(crate) const PROTOCOL: u32 = 3;

/// Longest error message a worker sends; longer ones are cut.
pub(crate) const MAX_MESSAGE_BYTES: usize = 4096;

/// Deepest nesting of arrays and objects in an output (the pool's callers parse outputs
/// with `serde_json`, which stops at 128 levels).
pub(crate) const MAX_DEPTH: usize = 100;

/// Bytes of a frame's length.
pub(crate) const HEADER: usize = 4;

/// The first line a worker reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Config {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// The jq program.
    pub program: String,
    /// `RLIMIT_AS` for the worker.
    pub memory_bytes: u64,
    /// Outputs per evaluation.
    pub max_outputs: usize,
    /// Bytes of JSON of the outputs of one evaluation.
    pub max_output_bytes: usize,
    /// How long the worker may hold replies to send them together (microseconds): it
    /// writes what it holds before any evaluation that starts later than this after it
    /// read its inputs.
    pub hold_micros: u64,
    /// The pool's process id: the worker's parent must be that process, or the worker
    /// refuses to start (the pool died before the worker could ask to die with it, or
    /// something between them forked).
    pub parent_pid: u32,
}

/// A start-up line from the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Message {
    /// Compiled, limited, waiting for inputs.
    Ready,
    /// The start failed.
    Error {
        /// What failed.
        kind: ErrorKind,
        /// Why.
        message: String,
    },
}

/// What a [`Message::Error`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorKind {
    /// The worker cannot start: bad config, compile error, limits not set.
    Start,
}

/// The first byte of a reply frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Tag {
    /// Every output, each followed by a newline.
    Ok = 0,
    /// The program raised an error: the message follows.
    Runtime = 1,
    /// An output limit (count, bytes, nesting) was hit: the message follows.
    Limit = 2,
}

impl Tag {
    pub(crate) fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::Ok),
            1 => Some(Self::Runtime),
            2 => Some(Self::Limit),
            _ => None,
        }
    }
}

/// Appends a frame holding `payload`.
pub(crate) fn push_frame(buf: &mut Vec<u8>, payload: &[u8]) {
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(payload);
}

/// The length of the frame that starts `buf`, when its header is there.
pub(crate) fn frame_len(buf: &[u8]) -> Option<usize> {
    let header: [u8; HEADER] = buf.get(..HEADER)?.try_into().ok()?;
    Some(u32::from_le_bytes(header) as usize)
}

/// Starts a frame in `buf`, its length to be set by [`end_frame`]; returns where it starts.
pub(crate) fn begin_frame(buf: &mut Vec<u8>) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    start
}

/// Sets the length of the frame begun at `start` to what follows its header.
pub(crate) fn end_frame(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start - HEADER) as u32;
    buf[start..start + HEADER].copy_from_slice(&len.to_le_bytes());
}

/// `message` cut to at most [`MAX_MESSAGE_BYTES`] (on a character boundary), marked with `…`.
pub(crate) fn truncate(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_messages_are_one_line_of_json() {
        let line = |m: &Message| serde_json::to_string(m).unwrap();
        assert_eq!(line(&Message::Ready), r#""ready""#);
        let error = Message::Error { kind: ErrorKind::Start, message: "x".into() };
        assert_eq!(line(&error), r#"{"error":{"kind":"start","message":"x"}}"#);
        assert_eq!(serde_json::from_str::<Message>(&line(&error)).unwrap(), error);
    }

    #[test]
    fn frames_carry_their_length() {
        let mut buf = Vec::new();
        push_frame(&mut buf, b"abc");
        let start = begin_frame(&mut buf);
        buf.extend_from_slice(&[Tag::Limit as u8, b'x']);
        end_frame(&mut buf, start);
        assert_eq!(frame_len(&buf), Some(3));
        assert_eq!(&buf[HEADER..HEADER + 3], b"abc");
        assert_eq!(frame_len(&buf[start..]), Some(2));
        assert_eq!(Tag::from_byte(buf[start + HEADER]), Some(Tag::Limit));
        assert_eq!(frame_len(&buf[..3]), None, "a header cut short");
        assert_eq!(Tag::from_byte(9), None);
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("short".into()), "short");
        let cut = truncate("é".repeat(MAX_MESSAGE_BYTES));
        assert!(cut.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
