//! Which members of the root a query can read: an event view needs only those.
//!
//! The root is reached only by queries that start at `$`, and from there only through
//! their first segment: a current node `@` is never the root itself (a filter tests the
//! children of the node it is applied to). So a query whose every `$`-query, the filters'
//! included, starts with names (`$.data...`, `$['type', 'id']`) reads no other member of
//! the root, and a view holding just those gives the same answers. Any other start
//! (`$`, `$.*`, `$..x`, `$[0]`, `$[?...]`) may read anything.

use super::{Logical, Operand, Path, RegexArg, Segment, Selector};

impl Path {
    /// The names of the root's members this query can read; `None`: any member.
    pub(crate) fn root_reads(&self) -> Option<Vec<String>> {
        let mut names = Vec::new();
        self.reads(&mut names).then_some(names)
    }

    /// Adds what this query reads of the root to `names`; `false` when it may read any.
    fn reads(&self, names: &mut Vec<String>) -> bool {
        if self.root {
            let Some(Segment::Child(first)) = self.segments.first() else { return false };
            for selector in first {
                let Selector::Name(name) = selector else { return false };
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        self.segments.iter().all(|segment| {
            let (Segment::Child(selectors) | Segment::Descendant(selectors)) = segment;
            selectors.iter().all(|selector| match selector {
                Selector::Filter(filter) => filter.reads(names),
                _ => true,
            })
        })
    }
}

impl Logical {
    fn reads(&self, names: &mut Vec<String>) -> bool {
        match self {
            Logical::Or(all) | Logical::And(all) => all.iter().all(|logical| logical.reads(names)),
            Logical::Not(logical) => logical.reads(names),
            Logical::Exists(path) => path.reads(names),
            Logical::Compare(_, left, right) => left.reads(names) && right.reads(names),
            Logical::Regex { text, pattern, .. } => {
                text.reads(names)
                    && match pattern {
                        RegexArg::Fixed(_) => true,
                        RegexArg::Read(operand) => operand.reads(names),
                    }
            }
        }
    }
}

impl Operand {
    fn reads(&self, names: &mut Vec<String>) -> bool {
        match self {
            Operand::Literal(_) => true,
            Operand::Singular(path) | Operand::Count(path) | Operand::Value(path) => path.reads(names),
            Operand::Length(operand) => operand.reads(names),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::compile;

    fn reads(query: &str) -> Option<Vec<String>> {
        compile(&jsonpath_rust::parser::parse_json_path(query).unwrap()).unwrap().root_reads()
    }

    #[test]
    fn queries_that_start_with_names_read_only_those() {
        let names = |names: &[&str]| Some(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>());
        assert_eq!(reads("$.data.items[?@.id == 2]"), names(&["data"]));
        assert_eq!(reads("$['type', 'id'].x..y[*]"), names(&["type", "id"]));
        assert_eq!(reads("$.data[?@.n == $.myext && search(@.s, $.subject)]"), names(&["data", "myext", "subject"]));
        assert_eq!(reads("$.data[?count($.data.*) > length($.type)]"), names(&["data", "type"]));
        assert_eq!(reads("$.data[?match(@, $.pattern)]"), names(&["data", "pattern"]));
        for any in [
            "$",
            "$.*",
            "$..id",
            "$[0]",
            "$[?@ == 'x']",
            "$.data[?count($.*) > 1]",
            "$.data[?$..x]",
            "$.a[?length($) > 1]",
        ] {
            assert_eq!(reads(any), None, "{any}");
        }
    }
}
