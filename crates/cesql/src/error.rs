//! CESQL errors: the parse error (with its position) and the evaluation errors of
//! spec section 3.3.

/// The kinds of error of spec section 3.3 (the TCK's `error:` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The expression does not parse.
    Parse,
    /// A math operator failed: division by zero, overflow.
    Math,
    /// A value cannot be cast to the type an operator or function needs.
    Cast,
    /// The expression reads an attribute the event does not have.
    MissingAttribute,
    /// No function with that name takes that many arguments.
    MissingFunction,
    /// A function refused its arguments.
    FunctionEvaluation,
    /// Anything else.
    Generic,
}

impl ErrorKind {
    /// The TCK's name for the kind: `parse`, `math`, `cast`, `missingAttribute`, ...
    pub fn tck_name(self) -> &'static str {
        match self {
            Self::Parse => "parse",
            Self::Math => "math",
            Self::Cast => "cast",
            Self::MissingAttribute => "missingAttribute",
            Self::MissingFunction => "missingFunction",
            Self::FunctionEvaluation => "functionEvaluation",
            Self::Generic => "generic",
        }
    }
}

/// An error met while evaluating.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// What kind of error.
    pub kind: ErrorKind,
    /// What happened, for people.
    pub message: String,
}

impl EvalError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

/// The expression does not parse: what is wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {}", place(*.line, *.column, *.multiline))]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    multiline: bool,
}

fn place(line: usize, column: usize, multiline: bool) -> String {
    if multiline { format!("line {line}, column {column}") } else { format!("column {column}") }
}

impl ParseError {
    /// An error at byte `offset` of `source`.
    pub(crate) fn at(source: &str, offset: usize, message: impl Into<String>) -> Self {
        let before = source.get(..offset).unwrap_or(source);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Self { message: message.into(), line, column, multiline: source.contains('\n') }
    }

    /// Always [`ErrorKind::Parse`].
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Parse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_characters() {
        assert_eq!(ParseError::at("ab", 1, "x").to_string(), "x at column 2");
        assert_eq!(ParseError::at("é(", 2, "x").to_string(), "x at column 2");
        assert_eq!(ParseError::at("a\nbc", 3, "x").to_string(), "x at line 2, column 2");
        assert_eq!(ParseError::at("a", 1, "x").column, 2);
    }
}
