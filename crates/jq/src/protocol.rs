//! The pool ↔ worker protocol: one JSON document per line, each way.
//!
//! 1. pool → worker: a [`Config`] (the program and the limits).
//! 2. worker → pool: [`Message::Ready`] once the program compiled and the limits are set,
//!    or [`Message::Error`] (then the worker exits).
//! 3. Then, per evaluation: pool → worker one input value (compact JSON, one line);
//!    worker → pool [`Message::Ok`] with every output, or [`Message::Error`].
//!
//! The worker exits when its standard input ends, or when the pool's process is gone
//! (the kernel kills it: see [`crate::worker`]).

use serde::{Deserialize, Serialize};

/// Version of this protocol; a worker refuses a config of another version.
pub(crate) const PROTOCOL: u32 = 2;

/// Longest error message a worker sends; longer ones are cut.
pub(crate) const MAX_MESSAGE_BYTES: usize = 4096;

/// Deepest nesting of arrays and objects in an output (the pool parses replies with
/// `serde_json`, which stops at 128 levels).
pub(crate) const MAX_DEPTH: usize = 100;

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
    /// The pool's process id: the worker's parent must be that process, or the worker
    /// refuses to start (the pool died before the worker could ask to die with it, or
    /// something between them forked).
    pub parent_pid: u32,
}

/// A line from the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Message {
    /// Compiled, limited, waiting for inputs.
    Ready,
    /// Every output of one evaluation.
    Ok(Vec<serde_json::Value>),
    /// The start or the evaluation failed.
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
    /// The program raised an error.
    Runtime,
    /// An output limit (count, bytes, nesting) was hit.
    Limit,
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
    fn messages_are_one_line_of_json() {
        let line = |m: &Message| serde_json::to_string(m).unwrap();
        assert_eq!(line(&Message::Ready), r#""ready""#);
        assert_eq!(line(&Message::Ok(vec![1.into(), "a\nb".into()])), r#"{"ok":[1,"a\nb"]}"#);
        let error = Message::Error { kind: ErrorKind::Runtime, message: "x".into() };
        assert_eq!(line(&error), r#"{"error":{"kind":"runtime","message":"x"}}"#);
        assert_eq!(serde_json::from_str::<Message>(&line(&error)).unwrap(), error);
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("short".into()), "short");
        let cut = truncate("é".repeat(MAX_MESSAGE_BYTES));
        assert!(cut.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
