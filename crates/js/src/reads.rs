//! Which members of `event` an expression can reach, read from its text, so that the
//! object an evaluation gets holds only those (`event.time` needs no parsed `data`).
//!
//! The object is new for each evaluation and nothing else refers to it: the expression
//! reaches it only through its parameter `event`, or through `arguments` of the function
//! it is wrapped in (code from strings is refused, see `lockdown.js`). So when every
//! mention of `event` in the text is a member access with a plain name, `event.name`,
//! those names are all it can look at: a member it does not name is never read, and the
//! object itself (its other members, their order) never reaches anything that could
//! look (`Object.keys(event)`, `JSON.stringify(event)`, `f(event)` all mention `event`
//! otherwise). Names that `Object.prototype` has (`valueOf` returns the object,
//! `hasOwnProperty` looks at its members) count as reaching the whole object.
//!
//! The reading is conservative: the text is not tokenised, so `event` inside a string
//! or a comment counts too, and anything not recognised means the whole object:
//! `event` followed by anything but `.name` (`event[k]`, `event?.x`, `(event)`, a
//! shadowing parameter `event =>`), `arguments` anywhere, or `\u` anywhere (an
//! identifier may be spelled with escapes, `ev\u0065nt`).

/// The members of `event` an evaluation needs, and of `event.data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reads {
    /// The names read (sorted, without repeats); `None`: the whole object.
    event: Option<Vec<String>>,
    /// The same for the data, when it is a JSON object: `None` when it may be looked at
    /// whole (or is not read at all).
    data: Option<Vec<String>>,
}

/// The own properties of `Object.prototype` (QuickJS's; a test checks the list): a
/// member with one of these names may see the object (`event.valueOf()`).
const OBJECT_PROTOTYPE: [&str; 12] = [
    "constructor",
    "__proto__",
    "toString",
    "toLocaleString",
    "valueOf",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

impl Reads {
    /// Every member, of the event and of its data.
    pub const WHOLE: Self = Self { event: None, data: None };

    /// What `source`, an expression with the parameter `event`, can reach of it. The data
    /// is read by member too when every `event.data` in the text is followed by `.name` or
    /// `?.name` (the same reasoning one level down: the data object, new for each
    /// evaluation, is reached only through `event.data`).
    pub fn of(source: &str) -> Self {
        let Some((mut event, mut data)) = Self::scan(source.as_bytes()) else { return Self::WHOLE };
        for names in std::iter::once(&mut event).chain(data.as_mut()) {
            names.sort_unstable();
            names.dedup();
        }
        Self { event: Some(event), data }
    }

    /// Whether the evaluation needs the member `name` of the event.
    pub fn wants(&self, name: &str) -> bool {
        self.event.as_ref().is_none_or(|names| names.binary_search_by(|n| n.as_str().cmp(name)).is_ok())
    }

    /// The members of `event` the evaluation needs, `None` for all of them.
    pub fn members(&self) -> Option<&[String]> {
        self.event.as_deref()
    }

    /// The members of the data the evaluation needs when the data is a JSON object,
    /// `None` for all of them.
    pub fn data_members(&self) -> Option<&[String]> {
        self.data.as_deref()
    }

    /// The names of every `event.name` in `text`, and of every `event.data.name` (`None`
    /// when `event.data` is used otherwise); `None` when `event` (or `arguments`) is used
    /// otherwise, or may be.
    fn scan(text: &[u8]) -> Option<(Vec<String>, Option<Vec<String>>)> {
        if text.windows(2).any(|w| w == b"\\u") {
            return None;
        }
        let (mut names, mut data) = (Vec::new(), Some(Vec::new()));
        let mut i = 0;
        while i < text.len() {
            if !is_word(text[i]) || (i > 0 && is_word(text[i - 1])) {
                i += 1;
                continue;
            }
            let end = word_end(text, i);
            match &text[i..end] {
                b"arguments" => return None,
                b"event" => {
                    let (name, next) = member(text, end, false)?;
                    if OBJECT_PROTOTYPE.contains(&name) {
                        return None;
                    }
                    if name == "data" {
                        match member(text, next, true) {
                            Some((inner, _)) if !OBJECT_PROTOTYPE.contains(&inner) => {
                                if let Some(data) = data.as_mut() {
                                    data.push(inner.to_owned());
                                }
                            }
                            _ => data = None,
                        }
                    }
                    names.push(name.to_owned());
                    i = next;
                }
                _ => i = end,
            }
        }
        Some((names, data))
    }
}

/// An ASCII identifier character (what may be part of the same word as `event`).
fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$'
}

/// Where the word starting at `start` ends.
fn word_end(text: &[u8], start: usize) -> usize {
    text[start..].iter().position(|b| !is_word(*b)).map_or(text.len(), |n| start + n)
}

/// `.name` (or, if `optional`, `?.name`) after a word that ends at `at`, spaces allowed
/// around the dot: the name and where it ends. `None` for anything else, or a name that
/// may go on past what is read as ASCII (`event.é`, `event.a\u0062`), or when the word
/// itself may (`eventé`).
fn member(text: &[u8], at: usize, optional: bool) -> Option<(&str, usize)> {
    let skip = |mut i: usize| {
        while i < text.len() && text[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut dot = skip(at);
    if optional && text[dot..].starts_with(b"?.") {
        dot += 1;
    }
    if text.get(at).is_some_and(|b| !b.is_ascii()) || text.get(dot) != Some(&b'.') {
        return None;
    }
    let start = skip(dot + 1);
    if !text.get(start).is_some_and(|b| is_word(*b) && !b.is_ascii_digit()) {
        return None;
    }
    let end = word_end(text, start);
    if text.get(end).is_some_and(|b| !b.is_ascii() || *b == b'\\') {
        return None;
    }
    Some((std::str::from_utf8(&text[start..end]).ok()?, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> Option<Vec<String>> {
        Some(names.iter().map(|n| (*n).to_owned()).collect())
    }

    fn reads(event: &[&str], data: Option<&[&str]>) -> Reads {
        Reads { event: names(event), data: data.and_then(names) }
    }

    #[test]
    fn member_accesses_with_plain_names_are_all_that_is_needed() {
        let filter = "Math.round(Date.parse(event.time) / 60000) % 2 === 0";
        assert_eq!(Reads::of(filter), reads(&["time"], Some(&[])));
        assert_eq!(Reads::of("({message: event.data.message + '!'})"), reads(&["data"], Some(&["message"])));
        let typed = Reads::of("event .\n type === 'a' && event.data.n > event.data?.m && event.data.n");
        assert_eq!(typed, reads(&["data", "type"], Some(&["m", "n"])));
        assert_eq!(Reads::of("`${event.id}`.length + events + myevent + event_ + $event"), reads(&["id"], Some(&[])));
        assert_eq!(Reads::of("1 + 2"), reads(&[], Some(&[])));
        assert!(typed.wants("type") && !typed.wants("time"));
        assert!(Reads::WHOLE.wants("anything"));
        assert_eq!(
            (typed.members(), Reads::WHOLE.members(), Reads::WHOLE.data_members()),
            (names(&["data", "type"]).as_deref(), None, None)
        );
    }

    #[test]
    fn the_data_whole_when_it_is_used_otherwise() {
        for source in [
            "event.data",
            "JSON.stringify(event.data)",
            "event.data['a']",
            "event.data.valueOf()",
            "event.data.a + event.data",
            "({...event.data})",
            "event.data?.[0]",
        ] {
            let reads = Reads::of(source);
            assert!(reads.wants("data") && reads.data_members().is_none(), "{source}");
        }
    }

    #[test]
    fn anything_else_needs_the_whole_object() {
        for source in [
            "JSON.stringify(event)",
            "Object.keys(event).length",
            "event['time']",
            "event?.time",
            "event.valueOf().data",
            "event.hasOwnProperty('data')",
            "event.__proto__",
            "arguments[0].data",
            "(() => arguments)()",
            "ev\\u0065nt.data",
            "event.\\u0064ata",
            "event.tim\\u0065",
            "event.timeé",
            "eventé.time",
            "event./* */data",
            "event.0",
            "event",
            "x => event",
            "(event => event.time)(1)",
            "({event: 1})",
            "'event'",
        ] {
            assert_eq!(Reads::of(source), Reads::WHOLE, "{source}");
        }
    }
}
