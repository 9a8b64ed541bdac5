//! Compile errors: a position, what was expected, what was found, and the
//! source line with a caret under the position.

use std::fmt;

/// A position in a source file (1-based line and column, in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

impl Span {
    /// A span at `line`, `col`.
    pub const fn new(line: u32, col: u32) -> Span {
        Span { line, col }
    }
}

/// An error in a source file, with everything needed to show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// The file (as given on the command line), or a name like `<repl>`.
    pub file: String,
    /// Where the error is.
    pub span: Span,
    /// What is wrong, e.g. "expected ')' but found '.'".
    pub message: String,
    /// The text of the line at `span`, for the caret display.
    pub source_line: String,
}

impl CompileError {
    /// Makes an error at `span` of `source`.
    pub fn new(file: &str, source: &str, span: Span, message: impl Into<String>) -> CompileError {
        let source_line = source.lines().nth(span.line.saturating_sub(1) as usize).unwrap_or("").to_string();
        CompileError { file: file.to_string(), span, message: message.into(), source_line }
    }

    /// An error about a whole file (no useful position).
    pub fn file_level(file: &str, message: impl Into<String>) -> CompileError {
        CompileError {
            file: file.to_string(),
            span: Span::new(0, 0),
            message: message.into(),
            source_line: String::new(),
        }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.span.line == 0 {
            return write!(f, "{}: error: {}", self.file, self.message);
        }
        writeln!(f, "{}:{}:{}: error: {}", self.file, self.span.line, self.span.col, self.message)?;
        let number = self.span.line.to_string();
        let gutter = " ".repeat(number.len());
        // Tabs keep their width in the caret line so the caret stays under
        // the right character.
        let line: String =
            self.source_line.chars().map(|c| if c.is_control() && c != '\t' { ' ' } else { c }).collect();
        let caret_pad: String = line
            .chars()
            .take(self.span.col.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{number} | {line}")?;
        write!(f, "{gutter} | {caret_pad}^")
    }
}

impl std::error::Error for CompileError {}

/// The compiler's result type.
pub type Result<T> = std::result::Result<T, CompileError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_line_and_caret() {
        let src = "Foo = (\n  bar = ( ^1 + )\n)";
        let e = CompileError::new("Foo.som", src, Span::new(2, 16), "expected an expression but found ')'");
        let text = e.to_string();
        assert_eq!(
            text,
            "Foo.som:2:16: error: expected an expression but found ')'\n  |\n2 |   bar = ( ^1 + )\n  |                ^"
        );
    }
}
