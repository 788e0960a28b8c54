//! Inputs as they go to a worker: JSON text, or an object given member by member.
//!
//! An [`ObjectInput`] spares its builder writing JSON and the worker lexing it: its
//! members are strings, taken as they are, or values that are JSON when `serde_json`'s
//! `Value` parser accepts them and strings otherwise, decided (and parsed, once) in the
//! worker. Frame payload: a kind byte, then for [`OBJECT`] the member count and each
//! member as a kind byte, the name's length and bytes, the value's length and bytes
//! (lengths as 4 bytes, little-endian).

/// The payload is JSON text.
pub(crate) const JSON: u8 = 0;
/// The payload is an object, member by member.
pub(crate) const OBJECT: u8 = 1;
/// A member whose value is a string.
pub(crate) const STRING: u8 = 0;
/// A member whose value is JSON if `serde_json` reads it as a `Value`, else a string.
pub(crate) const JSON_OR_TEXT: u8 = 1;

/// A JSON text input as a frame payload.
pub(crate) fn json(text: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(1 + text.len());
    payload.push(JSON);
    payload.extend_from_slice(text);
    payload
}

/// An object input, built member by member (later members with the same name replace
/// the value of earlier ones, which keep their place, as in `serde_json`'s maps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInput {
    payload: Vec<u8>,
    members: u32,
}

impl ObjectInput {
    /// An empty object, with room for `bytes` of names and values.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut payload = Vec::with_capacity(5 + bytes);
        payload.push(OBJECT);
        payload.extend_from_slice(&0u32.to_le_bytes());
        Self { payload, members: 0 }
    }

    /// Adds a member whose value is the string `value`.
    pub fn string(&mut self, name: &str, value: &str) {
        self.member(STRING, name, value.as_bytes());
    }

    /// Adds a member whose value is `value` parsed as JSON when `serde_json::from_slice::<
    /// serde_json::Value>` accepts it (its grammar, number range and 128 levels of
    /// nesting), and else `value` as a string (invalid UTF-8 replaced).
    pub fn json_or_text(&mut self, name: &str, value: &[u8]) {
        self.member(JSON_OR_TEXT, name, value);
    }

    fn member(&mut self, kind: u8, name: &str, value: &[u8]) {
        self.payload.push(kind);
        self.payload.extend_from_slice(&(name.len() as u32).to_le_bytes());
        self.payload.extend_from_slice(name.as_bytes());
        self.payload.extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.payload.extend_from_slice(value);
        self.members += 1;
    }

    /// The frame payload.
    pub(crate) fn into_payload(mut self) -> Vec<u8> {
        self.payload[1..5].copy_from_slice(&self.members.to_le_bytes());
        self.payload
    }
}
