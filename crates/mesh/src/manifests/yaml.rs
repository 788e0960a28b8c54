//! The one place that touches the YAML crate (serde_yaml_ng): the documents of a
//! manifest file, other YAML files fnmesh reads (`--images`), and YAML it writes
//! (`fnmesh kn`). Typed reading of a spec is [`super::spec`]'s.

use serde::Serialize;
use serde::de::DeserializeOwned;
pub use serde_yaml_ng::{Mapping, Value};

/// Flow collections (`[`, `{`) open at once beyond which a file is refused unread: the
/// YAML parser takes time quadratic in that depth (20 000 levels: 0.7 s; 100 000: 16 s)
/// and refuses more than 128 levels anyway.
const MAX_FLOW_DEPTH: usize = 1000;

/// The most a file may expand to in memory, all its documents together, counting each
/// string's bytes and 64 bytes a node. Aliases (`*a`) repeat what their anchor holds, so
/// a small file can stand for gigabytes (a 16 KB file reached 474 MB); manifests that
/// people write are far from this.
pub const MAX_EXPANDED_BYTES: usize = 64 * 1024 * 1024;

/// What a node costs in [`MAX_EXPANDED_BYTES`] besides its text.
const NODE_BYTES: usize = 64;

/// Every document of `text`, in order; an unparsable document gives its error (with line
/// and column) and ends the file, as YAML cannot resynchronise.
pub fn documents(text: &str) -> Vec<Result<Value, String>> {
    documents_within(text, MAX_EXPANDED_BYTES)
}

fn documents_within(text: &str, budget: usize) -> Vec<Result<Value, String>> {
    if let Some(line) = flow_too_deep(text) {
        return vec![Err(format!(
            "line {line}: more than {MAX_FLOW_DEPTH} flow collections ([ or {{) open at once; not read further"
        ))];
    }
    let budget = Budget { left: std::cell::Cell::new(budget), total: budget };
    let mut out = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        match serde::de::DeserializeSeed::deserialize(Bounded(&budget), document) {
            Ok(value) => out.push(Ok(value)),
            Err(e) => {
                out.push(Err(e.to_string()));
                break;
            }
        }
    }
    out
}

/// What is left of a file's [`MAX_EXPANDED_BYTES`].
struct Budget {
    left: std::cell::Cell<usize>,
    total: usize,
}

impl Budget {
    fn spend<E: serde::de::Error>(&self, bytes: usize) -> Result<(), E> {
        let cost = bytes.saturating_add(NODE_BYTES);
        match self.left.get().checked_sub(cost) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(E::custom(format!(
                "the file expands to more than {} MiB (aliases repeating large anchors?); not read further",
                self.total / (1024 * 1024)
            ))),
        }
    }
}

/// A [`Value`] read within a [`Budget`]: the same value serde_yaml_ng builds, refused
/// as soon as it outgrows the budget, before it is all in memory.
#[derive(Clone, Copy)]
struct Bounded<'b>(&'b Budget);

impl<'de> serde::de::DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any YAML value")
    }

    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Value, E> {
        self.0.spend(0)?;
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: serde::de::Error>(self, i: i64) -> Result<Value, E> {
        self.0.spend(0)?;
        Ok(Value::Number(i.into()))
    }

    fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Value, E> {
        self.0.spend(0)?;
        Ok(Value::Number(u.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<Value, E> {
        self.0.spend(0)?;
        Ok(Value::Number(f.into()))
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Value, E> {
        self.0.spend(s.len())?;
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Value, E> {
        self.0.spend(s.len())?;
        Ok(Value::String(s))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.0.spend(0)?;
        Ok(Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        self.0.spend(0)?;
        let mut sequence = Vec::new();
        while let Some(item) = items.next_element_seed(self)? {
            sequence.push(item);
        }
        Ok(Value::Sequence(sequence))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        self.0.spend(0)?;
        let mut mapping = Mapping::new();
        while let Some(key) = entries.next_key_seed(self)? {
            if mapping.contains_key(&key) {
                return Err(serde::de::Error::custom(duplicate(&key)));
            }
            let value = entries.next_value_seed(self)?;
            mapping.insert(key, value);
        }
        Ok(Value::Mapping(mapping))
    }

    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        use serde::de::VariantAccess;
        let (tag, contents) = data.variant::<String>()?;
        self.0.spend(tag.len())?;
        let value = contents.newtype_variant_seed(self)?;
        Ok(Value::Tagged(Box::new(serde_yaml_ng::value::TaggedValue {
            tag: serde_yaml_ng::value::Tag::new(tag),
            value,
        })))
    }
}

/// serde_yaml_ng's words for a key given twice.
fn duplicate(key: &Value) -> String {
    match key {
        Value::Null => "duplicate entry with null key".into(),
        Value::Bool(b) => format!("duplicate entry with key `{b}`"),
        Value::Number(n) => format!("duplicate entry with key {n}"),
        Value::String(s) => format!("duplicate entry with key {s:?}"),
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => "duplicate entry in YAML map".into(),
    }
}

/// A whole YAML text as a `T` (a file that is not a manifest, e.g. `--images`).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
}

/// `value` as YAML text.
pub fn to_string(value: &impl Serialize) -> Result<String, String> {
    serde_yaml_ng::to_string(value).map_err(|e| e.to_string())
}

/// The string at `key` of a mapping, if it is one.
pub fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The line where more than [`MAX_FLOW_DEPTH`] brackets are open, counting every `[`
/// and `{` against every `]` and `}` (quotes are not understood, which only matters for
/// text no manifest holds: a thousand unclosed brackets).
fn flow_too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut line) = (0usize, 1usize);
    for byte in text.bytes() {
        match byte {
            b'\n' => line += 1,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some(line);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_refused_before_parsing() {
        let deep = format!("a: 1\nkind: {}x{}\n", "[".repeat(1001), "]".repeat(1001));
        let documents = documents(&deep);
        assert_eq!(documents.len(), 1);
        assert_eq!(
            documents[0].as_ref().unwrap_err(),
            "line 2: more than 1000 flow collections ([ or {) open at once; not read further"
        );
        // Within the bound, the parser speaks (its own limit is 128).
        let parsed = super::documents(&format!("k: {}x{}\n", "[".repeat(200), "]".repeat(200)));
        assert!(parsed[0].as_ref().unwrap_err().contains("recursion limit"), "{parsed:?}");
        assert!(super::documents("k: '[[[['\n").into_iter().all(|d| d.is_ok()));
    }

    #[test]
    fn aliases_cannot_expand_a_small_file_past_the_budget() {
        // 1 KiB anchored once, repeated by 2 000 aliases: 2 MiB expanded, from 26 KB of text.
        let big = "x".repeat(1024);
        let aliases: String = (0..2000).map(|i| format!("  k{i}: *big\n")).collect();
        let text = format!("anchor: &big {big}\nrepeats:\n{aliases}");
        assert!(text.len() < 30_000, "{}", text.len());
        let refused = documents_within(&text, 1024 * 1024);
        let error = refused[0].as_ref().unwrap_err();
        assert!(error.contains("the file expands to more than 1 MiB"), "{error}");
        // The same within a budget that holds it reads as serde_yaml_ng reads it.
        let read = documents_within(&text, 4 * 1024 * 1024);
        let value = read[0].as_ref().unwrap();
        assert_eq!(value["repeats"]["k1999"].as_str(), Some(big.as_str()));
        let plain: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(value, &plain);
    }

    #[test]
    fn bounded_reading_keeps_what_serde_yaml_ng_reads() {
        let text = "a: [1, -2, 3.5, true, null, ~, 'x']\nb: {c: !Custom {d: e}}\n---\nk: v\n";
        let ours: Vec<Value> = documents(text).into_iter().map(Result::unwrap).collect();
        let theirs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(text)
            .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap())
            .collect();
        assert_eq!(ours, theirs);
        let twice = documents("a: 1\na: 2\n");
        assert!(twice[0].as_ref().unwrap_err().contains("duplicate entry with key \"a\""), "{twice:?}");
    }
}
