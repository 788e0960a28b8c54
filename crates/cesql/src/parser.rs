//! Recursive-descent parser for CESQL, with the precedence of the `CESQLParser.g4`
//! grammar (highest first): function calls and literals, `NOT` and unary `-`, `LIKE`,
//! `EXISTS`, `IN`, then `* / %`, `+ -`, comparisons (all left-associative), and last
//! `AND`, `OR`, `XOR`, which share one level and group to the right, as the grammar's
//! `<assoc=right>` says (`a OR b AND c` is `a OR (b AND c)`, `a AND b OR c` is
//! `a AND (b OR c)`). Keywords and function names are case-insensitive; attribute
//! names are read in lower case.

use crate::ast::{BinaryOp, Node};
use crate::error::ParseError;
use crate::functions;
use crate::lexer::{Tok, Token, tokenize};
use crate::like::Pattern;
use crate::value::Value;

/// How deep an expression may nest (parentheses, operators, arguments) unless the
/// caller says otherwise. Deeper input is refused, so that parsing and evaluating never
/// exhaust the stack.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// The most a caller may allow: deep enough for any expression a person writes, shallow
/// enough to parse and evaluate on a tokio worker's 2 MiB stack in a debug build (a test
/// holds it there; 192 levels do not fit).
pub const DEPTH_CEILING: usize = 128;

#[cfg(test)]
const MAX_DEPTH: usize = DEFAULT_MAX_DEPTH;

/// Parses a whole expression with the default depth bound.
#[cfg(test)]
pub(crate) fn parse(source: &str) -> Result<Node, ParseError> {
    parse_nested(source, DEFAULT_MAX_DEPTH)
}

/// Parses a whole expression nesting at most `max_depth` levels (at most [`DEPTH_CEILING`]).
pub(crate) fn parse_nested(source: &str, max_depth: usize) -> Result<Node, ParseError> {
    let tokens = tokenize(source)?;
    let mut parser = Parser { source, tokens, at: 0, max_depth: max_depth.min(DEPTH_CEILING) };
    let (node, _) = parser.expression(0)?;
    match &parser.peek().kind {
        Tok::Eof => Ok(node),
        Tok::RParen => Err(parser.error("unmatched ')'")),
        other => Err(parser.error(format!("unexpected {}, expected an operator or the end", other.describe()))),
    }
}

/// A node and the depth of the tree under it.
type Built = (Node, usize);

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    at: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.tokens[(self.at + ahead).min(self.tokens.len() - 1)].kind
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        self.at += 1;
        token
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::at(self.source, self.peek().offset, message)
    }

    fn too_deep(&self) -> ParseError {
        self.error(format!("the expression nests deeper than {} levels", self.max_depth))
    }

    fn keyword(&self, ahead: usize, keyword: &str) -> bool {
        matches!(self.peek_at(ahead), Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn node(&self, node: Node, depth: usize) -> Result<Built, ParseError> {
        if depth > self.max_depth {
            return Err(self.too_deep());
        }
        Ok((node, depth))
    }

    fn binary(&self, op: BinaryOp, (left, ld): Built, (right, rd): Built) -> Result<Built, ParseError> {
        self.node(Node::Binary(op, Box::new(left), Box::new(right)), ld.max(rd) + 1)
    }

    /// `AND`, `OR`, `XOR`: one level, grouping to the right.
    fn expression(&mut self, nesting: usize) -> Result<Built, ParseError> {
        if nesting > self.max_depth {
            return Err(self.too_deep());
        }
        let left = self.comparison(nesting)?;
        let op = match self.peek_at(0) {
            Tok::Word(w) if w.eq_ignore_ascii_case("AND") => BinaryOp::And,
            Tok::Word(w) if w.eq_ignore_ascii_case("OR") => BinaryOp::Or,
            Tok::Word(w) if w.eq_ignore_ascii_case("XOR") => BinaryOp::Xor,
            _ => return Ok(left),
        };
        self.next();
        let right = self.expression(nesting + 1)?;
        self.binary(op, left, right)
    }

    fn comparison(&mut self, nesting: usize) -> Result<Built, ParseError> {
        let mut left = self.additive(nesting)?;
        loop {
            let op = match self.peek().kind {
                Tok::Eq => BinaryOp::Eq,
                Tok::NotEq | Tok::LtGt => BinaryOp::NotEq,
                Tok::Lt => BinaryOp::Lt,
                Tok::Le => BinaryOp::Le,
                Tok::Gt => BinaryOp::Gt,
                Tok::Ge => BinaryOp::Ge,
                _ => return Ok(left),
            };
            self.next();
            let right = self.additive(nesting)?;
            left = self.binary(op, left, right)?;
        }
    }

    fn additive(&mut self, nesting: usize) -> Result<Built, ParseError> {
        let mut left = self.multiplicative(nesting)?;
        loop {
            let op = match self.peek().kind {
                Tok::Plus => BinaryOp::Add,
                Tok::Minus => BinaryOp::Sub,
                _ => return Ok(left),
            };
            self.next();
            let right = self.multiplicative(nesting)?;
            left = self.binary(op, left, right)?;
        }
    }

    fn multiplicative(&mut self, nesting: usize) -> Result<Built, ParseError> {
        let mut left = self.postfix(nesting)?;
        loop {
            let op = match self.peek().kind {
                Tok::Star => BinaryOp::Mul,
                Tok::Slash => BinaryOp::Div,
                Tok::Percent => BinaryOp::Rem,
                _ => return Ok(left),
            };
            self.next();
            let right = self.postfix(nesting)?;
            left = self.binary(op, left, right)?;
        }
    }

    /// `x [NOT] LIKE 'pattern'` and `x [NOT] IN (a, b, ...)`.
    fn postfix(&mut self, nesting: usize) -> Result<Built, ParseError> {
        let mut operand = self.unary(nesting)?;
        loop {
            let negated = self.keyword(0, "NOT");
            let word = usize::from(negated);
            if self.keyword(word, "LIKE") {
                self.at += word + 1;
                let pattern = match self.peek().kind.clone() {
                    Tok::Str(pattern) => pattern,
                    other => {
                        return Err(
                            self.error(format!("LIKE needs a string literal pattern, found {}", other.describe()))
                        );
                    }
                };
                self.next();
                let (node, depth) = operand;
                operand = self.node(
                    Node::Like { operand: Box::new(node), pattern: Pattern::compile(&pattern), negated },
                    depth + 1,
                )?;
            } else if self.keyword(word, "IN") {
                self.at += word + 1;
                if self.peek().kind != Tok::LParen {
                    return Err(self
                        .error(format!("IN needs a list such as ('a', 'b'), found {}", self.peek().kind.describe())));
                }
                let (set, set_depth) = self.arguments(nesting, "IN")?;
                if set.is_empty() {
                    return Err(self.error("IN needs at least one value"));
                }
                let (node, depth) = operand;
                operand = self.node(Node::In { operand: Box::new(node), set, negated }, depth.max(set_depth) + 1)?;
            } else if negated {
                self.next();
                return Err(self.error(format!("expected LIKE or IN after NOT, found {}", self.peek().kind.describe())));
            } else {
                return Ok(operand);
            }
        }
    }

    fn unary(&mut self, nesting: usize) -> Result<Built, ParseError> {
        if nesting > self.max_depth {
            return Err(self.too_deep());
        }
        if self.keyword(0, "NOT") {
            self.next();
            let (node, depth) = self.unary(nesting + 1)?;
            return self.node(Node::Not(Box::new(node)), depth + 1);
        }
        match self.peek().kind {
            // A sign right before digits is part of the literal, as in the grammar
            // (so -2147483648 is a valid Integer).
            Tok::Minus | Tok::Plus if self.signed_literal() => {
                let sign = self.next();
                let digits = self.next();
                self.integer(&sign, &digits)
            }
            Tok::Minus => {
                self.next();
                let (node, depth) = self.unary(nesting + 1)?;
                self.node(Node::Negate(Box::new(node)), depth + 1)
            }
            _ => self.primary(nesting),
        }
    }

    /// A `+` or `-` directly followed (no space) by digits.
    fn signed_literal(&self) -> bool {
        let sign = self.peek();
        matches!(&self.tokens.get(self.at + 1), Some(Token { kind: Tok::Digits(_), offset }) if *offset == sign.offset + 1)
    }

    fn integer(&self, sign: &Token, digits: &Token) -> Result<Built, ParseError> {
        let Tok::Digits(text) = &digits.kind else { unreachable!("checked by the caller") };
        let literal = if sign.kind == Tok::Minus { format!("-{text}") } else { text.clone() };
        match literal.parse::<i32>() {
            Ok(n) => Ok((Node::Literal(Value::Integer(n)), 1)),
            Err(_) => Err(ParseError::at(
                self.source,
                sign.offset,
                format!("the integer {literal} does not fit in 32 bits (-2147483648 to 2147483647)"),
            )),
        }
    }

    fn primary(&mut self, nesting: usize) -> Result<Built, ParseError> {
        let token = self.peek().clone();
        match token.kind {
            Tok::Digits(_) => {
                self.next();
                self.integer(&Token { kind: Tok::Plus, offset: token.offset }, &token)
            }
            Tok::Str(s) => {
                self.next();
                Ok((Node::Literal(Value::String(s)), 1))
            }
            Tok::LParen => {
                self.next();
                let inner = self.expression(nesting + 1)?;
                match self.peek().kind {
                    Tok::RParen => {
                        self.next();
                        Ok(inner)
                    }
                    ref other => Err(self.error(format!("expected ')', found {}", other.describe()))),
                }
            }
            Tok::Word(word) => self.word(word, nesting),
            Tok::Plus => Err(self.error("unexpected '+': a sign must be followed directly by digits")),
            other => Err(self.error(format!("expected a value, found {}", other.describe()))),
        }
    }

    fn word(&mut self, word: String, nesting: usize) -> Result<Built, ParseError> {
        let upper = word.to_ascii_uppercase();
        match upper.as_str() {
            "TRUE" | "FALSE" => {
                self.next();
                Ok((Node::Literal(Value::Boolean(upper == "TRUE")), 1))
            }
            "EXISTS" => {
                self.next();
                match self.peek().kind.clone() {
                    Tok::Word(name) if is_attribute_name(&name) && !is_keyword(&name) => {
                        self.next();
                        Ok((Node::Exists(name.to_ascii_lowercase()), 1))
                    }
                    other => Err(self.error(format!("EXISTS needs an attribute name, found {}", other.describe()))),
                }
            }
            _ if self.peek_at(1) == &Tok::LParen && !is_keyword(&word) => self.call(word, upper, nesting),
            _ if is_keyword(&word) => Err(self.error(format!("expected a value, found the keyword {upper}"))),
            _ if is_attribute_name(&word) => {
                self.next();
                Ok((Node::Attribute(word.to_ascii_lowercase()), 1))
            }
            _ => {
                Err(self.error(format!("invalid attribute name '{word}': attribute names are letters and digits only")))
            }
        }
    }

    fn call(&mut self, word: String, name: String, nesting: usize) -> Result<Built, ParseError> {
        if !word.starts_with(|c: char| c.is_ascii_alphabetic()) || word.chars().any(|c| c.is_ascii_digit()) {
            return Err(self.error(format!("invalid function name '{word}': function names are letters and '_'")));
        }
        self.next();
        let (args, depth) = self.arguments(nesting, &name)?;
        let function = functions::resolve(&name, args.len());
        self.node(Node::Call { name, function, args }, depth + 1)
    }

    /// `( expression, ... )`, the opening parenthesis being the current token.
    fn arguments(&mut self, nesting: usize, of: &str) -> Result<(Vec<Node>, usize), ParseError> {
        self.next();
        let mut args = Vec::new();
        let mut depth = 0;
        if self.peek().kind == Tok::RParen {
            self.next();
            return Ok((args, depth));
        }
        loop {
            let (arg, d) = self.expression(nesting + 1)?;
            args.push(arg);
            depth = depth.max(d);
            match self.peek().kind {
                Tok::Comma => {
                    self.next();
                }
                Tok::RParen => {
                    self.next();
                    return Ok((args, depth));
                }
                ref other => {
                    return Err(
                        self.error(format!("expected ',' or ')' in the arguments of {of}, found {}", other.describe()))
                    );
                }
            }
        }
    }
}

fn is_keyword(word: &str) -> bool {
    ["AND", "OR", "XOR", "NOT", "LIKE", "IN", "EXISTS", "TRUE", "FALSE"].iter().any(|k| word.eq_ignore_ascii_case(k))
}

/// Letters and digits (spec section 2.2 allows lower case only; like sdk-go we accept
/// and lower-case upper-case letters, so `EXISTS SOURCE` reads `source`).
fn is_attribute_name(word: &str) -> bool {
    word.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(source: &str) -> String {
        parse(source).unwrap_err().to_string()
    }

    #[test]
    fn parse_errors_name_the_problem_and_the_column() {
        assert_eq!(error("ABC("), "expected a value, found the end of the expression at column 5");
        assert_eq!(error("x LIKE 123"), "LIKE needs a string literal pattern, found '123' at column 8");
        assert_eq!(error("a = "), "expected a value, found the end of the expression at column 5");
        assert_eq!(error("(a = 1"), "expected ')', found the end of the expression at column 7");
        assert_eq!(error("a = 1)"), "unmatched ')' at column 6");
        assert_eq!(error("a b"), "unexpected 'b', expected an operator or the end at column 3");
        assert_eq!(error("a IN ()"), "IN needs at least one value at column 8");
        assert_eq!(error("a IN 'x'"), "IN needs a list such as ('a', 'b'), found a string literal at column 6");
        assert_eq!(error("a NOT = 1"), "expected LIKE or IN after NOT, found '=' at column 7");
        assert_eq!(
            error("2147483648"),
            "the integer 2147483648 does not fit in 32 bits (-2147483648 to 2147483647) at column 1"
        );
        assert_eq!(error("EXISTS 'a'"), "EXISTS needs an attribute name, found a string literal at column 8");
        assert_eq!(
            error("my_ext = 1"),
            "invalid attribute name 'my_ext': attribute names are letters and digits only at column 1"
        );
        assert_eq!(error("AND"), "expected a value, found the keyword AND at column 1");
        assert_eq!(
            error("a =\n  + 1"),
            "unexpected '+': a sign must be followed directly by digits at line 2, column 3"
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}1{}", "(".repeat(MAX_DEPTH + 5), ")".repeat(MAX_DEPTH + 5));
        assert!(error(&deep).contains("nests deeper than"));
        let long = vec!["1"; MAX_DEPTH + 5].join(" + ");
        assert!(error(&long).contains("nests deeper than"));
        let nots = format!("{}TRUE", "NOT ".repeat(MAX_DEPTH + 5));
        assert!(error(&nots).contains("nests deeper than"));
        assert!(parse(&vec!["1"; MAX_DEPTH].join(" + ")).is_ok());
    }

    #[test]
    fn the_bound_is_the_callers_up_to_the_ceiling() {
        let parens = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
        assert!(parse_nested(&parens(10), 10).is_ok());
        assert_eq!(
            parse_nested(&parens(11), 10).unwrap_err().to_string(),
            "the expression nests deeper than 10 levels at column 12"
        );
        assert!(parse_nested(&parens(DEPTH_CEILING + 1), usize::MAX).unwrap_err().to_string().contains("128 levels"));
    }

    /// The ceiling's promise: the deepest expression allowed parses and evaluates on a
    /// tokio worker's 2 MiB stack, debug build included.
    #[test]
    fn the_deepest_expression_allowed_fits_a_small_stack() {
        let shapes = [
            format!("{}1{}", "(".repeat(DEPTH_CEILING - 1), ")".repeat(DEPTH_CEILING - 1)),
            format!("{}TRUE", "NOT ".repeat(DEPTH_CEILING - 1)),
            format!("{}1{}", "ABS(".repeat(DEPTH_CEILING - 1), ")".repeat(DEPTH_CEILING - 1)),
            vec!["1"; DEPTH_CEILING].join(" + "),
        ];
        let run = move || {
            for shape in &shapes {
                let expression = crate::Expression::parse_nested(shape, DEPTH_CEILING).unwrap();
                let _ = expression.evaluate(&std::collections::BTreeMap::<String, Value>::new());
            }
        };
        std::thread::Builder::new().stack_size(2 * 1024 * 1024).spawn(run).unwrap().join().unwrap();
    }

    #[test]
    fn signs_bind_to_adjacent_digits() {
        assert!(matches!(parse("-2147483648"), Ok(Node::Literal(Value::Integer(i32::MIN)))));
        assert!(matches!(parse("- 1"), Ok(Node::Negate(_))));
        assert!(matches!(parse("+1"), Ok(Node::Literal(Value::Integer(1)))));
        assert!(matches!(parse("4 -1"), Ok(Node::Binary(BinaryOp::Sub, ..))));
    }

    #[test]
    fn logic_operators_share_one_level_and_group_right() {
        let Ok(Node::Binary(BinaryOp::And, _, right)) = parse("a AND b OR c") else { panic!("not AND") };
        assert!(matches!(*right, Node::Binary(BinaryOp::Or, ..)));
        let Ok(Node::Binary(BinaryOp::Or, _, right)) = parse("a or b and c") else { panic!("not OR") };
        assert!(matches!(*right, Node::Binary(BinaryOp::And, ..)));
    }

    #[test]
    fn not_binds_tighter_than_like_and_comparison() {
        assert!(matches!(parse("NOT a LIKE 'x'"), Ok(Node::Like { .. })));
        assert!(matches!(parse("NOT a = b"), Ok(Node::Binary(BinaryOp::Eq, ..))));
        assert!(matches!(parse("a NOT LIKE 'x'"), Ok(Node::Like { negated: true, .. })));
        assert!(matches!(parse("a * b LIKE 'x'"), Ok(Node::Binary(BinaryOp::Mul, ..))));
    }
}
