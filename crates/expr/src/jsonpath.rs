//! JSONPath (RFC 9535, with jsonpath-rust) over the event view: queries for the filter,
//! and the transformer's template.
//!
//! The template is a JSON document in which every string that starts with `$` is a
//! JSONPath query, replaced by what it selects: the node itself when it selects exactly
//! one, `null` when it selects none, an array of the nodes when it selects several.
//! A string that starts with `$$` is the literal text after the first `$`. Anything
//! else is copied as is. `{"greeting": "$.data.message", "kind": "$.type", "ids":
//! "$.data.items[*].id", "cost": "$$5"}`.

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::{Map, Value};

/// A compiled JSONPath query.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    query: JpQuery,
}

impl Query {
    /// Compiles `text`; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Self, String> {
        let query = parse_json_path(text).map_err(|e| format!("invalid JSONPath {text:?}: {e}"))?;
        Ok(Self { text: text.to_owned(), query })
    }

    /// The nodes `value` has at this path.
    pub fn select<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        match js_path_process(&self.query, value) {
            Ok(nodes) => nodes.into_iter().map(|node| node.val()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Whether the query selects at least one node.
    pub fn matches(&self, value: &Value) -> bool {
        !self.select(value).is_empty()
    }

    /// The query's text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A compiled template.
#[derive(Debug, Clone)]
pub struct Template(Node);

#[derive(Debug, Clone)]
enum Node {
    Literal(Value),
    Query(Query),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Template {
    /// Compiles a template given as JSON text; errors name the JSON problem or the
    /// query and where it is in the template (`/a/0`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("the template is not JSON: {e}"))?;
        compile(value, "").map(Self)
    }

    /// The template filled from `view`.
    pub fn render(&self, view: &Value) -> Value {
        render(&self.0, view)
    }
}

fn compile(value: Value, at: &str) -> Result<Node, String> {
    Ok(match value {
        Value::String(text) if text.starts_with("$$") => Node::Literal(Value::String(text[1..].to_owned())),
        Value::String(text) if text.starts_with('$') => {
            Node::Query(Query::parse(&text).map_err(|e| format!("at {}: {e}", if at.is_empty() { "/" } else { at }))?)
        }
        Value::Array(items) => Node::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| compile(item, &format!("{at}/{i}")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(members) => Node::Object(
            members
                .into_iter()
                .map(|(key, item)| {
                    let node = compile(item, &format!("{at}/{}", key.replace('~', "~0").replace('/', "~1")))?;
                    Ok((key, node))
                })
                .collect::<Result<_, String>>()?,
        ),
        other => Node::Literal(other),
    })
}

fn render(node: &Node, view: &Value) -> Value {
    match node {
        Node::Literal(value) => value.clone(),
        Node::Query(query) => match query.select(view).as_slice() {
            [] => Value::Null,
            [one] => (*one).clone(),
            many => Value::Array(many.iter().map(|v| (*v).clone()).collect()),
        },
        Node::Array(items) => Value::Array(items.iter().map(|item| render(item, view)).collect()),
        Node::Object(members) => {
            Value::Object(members.iter().map(|(key, item)| (key.clone(), render(item, view))).collect::<Map<_, _>>())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view() -> Value {
        json!({"id": "1", "type": "order.created", "data": {"message": "hi", "items": [{"id": 1}, {"id": 2}], "n": 5}})
    }

    #[test]
    fn queries_match_when_they_select_something() {
        assert!(Query::parse("$.data.items[?@.id == 2]").unwrap().matches(&view()));
        assert!(!Query::parse("$.data.items[?@.id == 3]").unwrap().matches(&view()));
        assert!(Query::parse("$[?@.type == 'order.created']").unwrap().matches(&json!([view()])));
        assert!(!Query::parse("$.nothing").unwrap().matches(&view()));
        let err = Query::parse("$.data[").unwrap_err();
        assert!(err.starts_with("invalid JSONPath \"$.data[\": "), "{err}");
    }

    #[test]
    fn templates_fill_one_none_and_many() {
        let template = Template::parse(
            r#"{"greeting": "$.data.message", "kind": "$.type", "ids": "$.data.items[*].id", "none": "$.missing",
                "cost": "$$5", "fixed": [1, true, "text"], "nested": {"n": "$.data.n"}}"#,
        )
        .unwrap();
        assert_eq!(
            template.render(&view()),
            json!({"greeting": "hi", "kind": "order.created", "ids": [1, 2], "none": null, "cost": "$5",
                   "fixed": [1, true, "text"], "nested": {"n": 5}})
        );
        assert_eq!(Template::parse(r#""$.data.n""#).unwrap().render(&view()), json!(5));
    }

    #[test]
    fn template_errors_say_where() {
        let err = Template::parse(r#"{"a": [1, "$.x["]}"#).unwrap_err();
        assert!(err.starts_with("at /a/1: invalid JSONPath"), "{err}");
        assert!(Template::parse("{").unwrap_err().starts_with("the template is not JSON"));
    }
}
