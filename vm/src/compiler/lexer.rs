//! Lexer: SOM source text to tokens.
//!
//! Follows the SOM grammar (operator sequences, `----` separators, strings
//! with backslash escapes) plus the Smalltalk-80 forms Mica accepts:
//! character literals (`$a`), braces, doubled quotes inside strings, radix
//! integers (`16rFF`) and exponents (`1e10`, `2.5e-3`).

use super::error::{CompileError, Result, Span};

/// An integer literal's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntValue {
    /// Fits 64 bits.
    Small(i64),
    /// Larger: canonical decimal text, `-` first when negative.
    Large(String),
}

impl IntValue {
    /// The value negated.
    pub fn negated(&self) -> IntValue {
        match self {
            IntValue::Small(i) => match i.checked_neg() {
                Some(n) => IntValue::Small(n),
                None => IntValue::Large(i.to_string()[1..].to_string()),
            },
            IntValue::Large(s) => {
                if s == "9223372036854775808" {
                    IntValue::Small(i64::MIN)
                } else if let Some(rest) = s.strip_prefix('-') {
                    IntValue::Large(rest.to_string())
                } else {
                    IntValue::Large(format!("-{s}"))
                }
            }
        }
    }
}

/// The kinds of token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// `foo`
    Ident(String),
    /// `foo:`
    Keyword(String),
    /// A binary operator: one or more of `~&|*/\+=><,@%-`.
    BinOp(String),
    /// An integer.
    Int(IntValue),
    /// A Double.
    Double(f64),
    /// A string (escapes resolved).
    Str(String),
    /// `$c`
    Char(char),
    /// `#foo`, `#at:put:`, `#+`, `#'text'`
    Symbol(String),
    /// `#(`
    LitArrayStart,
    /// `:=`
    Assign,
    /// `:`
    Colon,
    /// `^`
    Caret,
    /// `.`
    Period,
    /// `;`
    Semicolon,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `----` (four or more dashes)
    Separator,
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("identifier '{s}'"),
            Tok::Keyword(s) => format!("keyword '{s}'"),
            Tok::BinOp(s) => format!("'{s}'"),
            Tok::Int(IntValue::Small(i)) => format!("number {i}"),
            Tok::Int(IntValue::Large(s)) => format!("number {s}"),
            Tok::Double(d) => format!("number {d}"),
            Tok::Str(_) => "a string".to_string(),
            Tok::Char(c) => format!("character ${c}"),
            Tok::Symbol(s) => format!("symbol #{s}"),
            Tok::LitArrayStart => "'#('".to_string(),
            Tok::Assign => "':='".to_string(),
            Tok::Colon => "':'".to_string(),
            Tok::Caret => "'^'".to_string(),
            Tok::Period => "'.'".to_string(),
            Tok::Semicolon => "';'".to_string(),
            Tok::LParen => "'('".to_string(),
            Tok::RParen => "')'".to_string(),
            Tok::LBracket => "'['".to_string(),
            Tok::RBracket => "']'".to_string(),
            Tok::LBrace => "'{'".to_string(),
            Tok::RBrace => "'}'".to_string(),
            Tok::Separator => "'----'".to_string(),
            Tok::Eof => "the end of the file".to_string(),
        }
    }
}

/// A token and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Where it starts.
    pub span: Span,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past its last character.
    pub end: usize,
}

/// Whether `c` can be part of a binary operator.
pub fn is_operator_char(c: char) -> bool {
    matches!(c, '~' | '&' | '|' | '*' | '/' | '\\' | '+' | '=' | '>' | '<' | ',' | '@' | '%' | '-')
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Turns source text into tokens, ending with [`Tok::Eof`].
pub fn tokenize(file: &str, source: &str) -> Result<Vec<Token>> {
    let mut lexer = Lexer { file, source, chars: source.char_indices().collect(), pos: 0, line: 1, col: 1 };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.tok == Tok::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

struct Lexer<'a> {
    file: &'a str,
    source: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
    line: u32,
    col: u32,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).map(|&(_, c)| c)
    }

    fn offset(&self) -> usize {
        self.chars.get(self.pos).map_or(self.source.len(), |&(o, _)| o)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn span(&self) -> Span {
        Span::new(self.line, self.col)
    }

    fn error(&self, span: Span, message: impl Into<String>) -> CompileError {
        CompileError::new(self.file, self.source, span, message)
    }

    fn skip_trivia(&mut self) -> Result<()> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('"') => {
                    let start = self.span();
                    self.bump();
                    loop {
                        match self.bump() {
                            Some('"') => break,
                            Some(_) => {}
                            None => {
                                return Err(self
                                    .error(start, "comment is not closed: expected '\"' before the end of the file"));
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn next_token(&mut self) -> Result<Token> {
        self.skip_trivia()?;
        let span = self.span();
        let start = self.offset();
        let tok = match self.peek() {
            None => Tok::Eof,
            Some(c) => self.lex(c, span)?,
        };
        Ok(Token { tok, span, start, end: self.offset() })
    }

    fn lex(&mut self, c: char, span: Span) -> Result<Tok> {
        let simple = match c {
            '^' => Some(Tok::Caret),
            '.' => Some(Tok::Period),
            ';' => Some(Tok::Semicolon),
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            _ => None,
        };
        if let Some(tok) = simple {
            self.bump();
            return Ok(tok);
        }
        match c {
            ':' => {
                self.bump();
                if self.peek() == Some('=') {
                    self.bump();
                    Ok(Tok::Assign)
                } else {
                    Ok(Tok::Colon)
                }
            }
            '\'' => self.lex_string(span).map(Tok::Str),
            '$' => {
                self.bump();
                match self.bump() {
                    Some(ch) => Ok(Tok::Char(ch)),
                    None => Err(self.error(span, "expected a character after '$' but found the end of the file")),
                }
            }
            '#' => self.lex_pound(span),
            '-' if (1..4).all(|n| self.peek_at(n) == Some('-')) => {
                while self.peek() == Some('-') {
                    self.bump();
                }
                Ok(Tok::Separator)
            }
            c if is_operator_char(c) => Ok(Tok::BinOp(self.lex_operator())),
            c if c.is_ascii_digit() => self.lex_number(span),
            c if is_ident_start(c) => {
                let name = self.lex_ident();
                if self.peek() == Some(':') && self.peek_at(1) != Some('=') {
                    self.bump();
                    Ok(Tok::Keyword(name + ":"))
                } else {
                    Ok(Tok::Ident(name))
                }
            }
            other => Err(self.error(span, format!("unexpected character '{}'", other.escape_debug()))),
        }
    }

    fn lex_ident(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek().filter(|&c| is_ident_char(c)) {
            name.push(c);
            self.bump();
        }
        name
    }

    fn lex_operator(&mut self) -> String {
        let mut op = String::new();
        while let Some(c) = self.peek().filter(|&c| is_operator_char(c)) {
            // A `----` inside an operator run still starts a separator.
            if c == '-' && !op.is_empty() && (1..4).all(|n| self.peek_at(n) == Some('-')) {
                break;
            }
            op.push(c);
            self.bump();
        }
        op
    }

    fn lex_string(&mut self, span: Span) -> Result<String> {
        self.bump();
        let mut out = String::new();
        loop {
            let here = self.span();
            match self.bump() {
                None => {
                    return Err(self.error(span, "string is not closed: expected ' before the end of the file"));
                }
                Some('\'') => {
                    if self.peek() == Some('\'') {
                        self.bump();
                        out.push('\'');
                    } else {
                        return Ok(out);
                    }
                }
                Some('\\') => {
                    let escaped = match self.bump() {
                        Some('t') => '\t',
                        Some('b') => '\u{8}',
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('f') => '\u{c}',
                        Some('0') => '\0',
                        Some('\'') => '\'',
                        Some('\\') => '\\',
                        Some(other) => {
                            return Err(self.error(
                                here,
                                format!(
                                    "unknown escape '\\{}' in string: expected one of \\t \\b \\n \\r \\f \\0 \\' \\\\",
                                    other.escape_debug()
                                ),
                            ));
                        }
                        None => {
                            return Err(self.error(span, "string is not closed: expected ' before the end of the file"));
                        }
                    };
                    out.push(escaped);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn lex_pound(&mut self, span: Span) -> Result<Tok> {
        self.bump();
        match self.peek() {
            Some('(') => {
                self.bump();
                Ok(Tok::LitArrayStart)
            }
            Some('\'') => self.lex_string(span).map(Tok::Symbol),
            Some(c) if is_operator_char(c) => Ok(Tok::Symbol(self.lex_operator())),
            Some(c) if is_ident_start(c) => {
                let mut sym = self.lex_ident();
                // Keyword selectors: `#at:put:`.
                while self.peek() == Some(':') {
                    sym.push(':');
                    self.bump();
                    if self.peek().is_some_and(is_ident_start) {
                        let next = self.lex_ident();
                        if self.peek() != Some(':') {
                            return Err(self.error(span, format!("symbol #{sym}{next} mixes keyword and unary parts")));
                        }
                        sym.push_str(&next);
                    } else {
                        break;
                    }
                }
                Ok(Tok::Symbol(sym))
            }
            Some(c) => Err(self
                .error(span, format!("expected a symbol, '(' or a string after '#' but found '{}'", c.escape_debug()))),
            None => Err(self.error(span, "expected a symbol after '#' but found the end of the file")),
        }
    }

    fn digits(&mut self, radix: u32) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_digit(radix)) {
            s.push(c);
            self.bump();
        }
        s
    }

    fn lex_number(&mut self, span: Span) -> Result<Tok> {
        let mut int_part = self.digits(10);
        let mut radix = 10;
        if self.peek() == Some('r') {
            let r: u32 = int_part.parse().unwrap_or(0);
            if (2..=36).contains(&r) && self.peek_at(1).is_some_and(|c| c.is_digit(r) && !c.is_ascii_lowercase()) {
                self.bump();
                radix = r;
                int_part = self.radix_digits(r);
            }
        }
        let mut fraction = None;
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_digit(radix)) && radix == 10 {
            self.bump();
            fraction = Some(self.digits(10));
        }
        let mut exponent: Option<i32> = None;
        if radix == 10 && self.peek() == Some('e') {
            let negative = self.peek_at(1) == Some('-');
            let first_digit = if negative { 2 } else { 1 };
            if self.peek_at(first_digit).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
                if negative {
                    self.bump();
                }
                let digits = self.digits(10);
                let value: i32 = digits.parse().map_err(|_| self.error(span, "exponent is too large"))?;
                exponent = Some(if negative { -value } else { value });
            }
        }
        match (fraction, exponent) {
            (None, None) => Ok(Tok::Int(parse_integer(&int_part, radix))),
            (None, Some(e)) if (0..=10_000).contains(&e) => {
                let digits = format!("{int_part}{}", "0".repeat(e as usize));
                Ok(Tok::Int(parse_integer(&digits, 10)))
            }
            (fraction, exponent) => {
                let text = format!("{int_part}.{}e{}", fraction.unwrap_or_else(|| "0".into()), exponent.unwrap_or(0));
                match text.parse::<f64>() {
                    Ok(d) if d.is_finite() => Ok(Tok::Double(d)),
                    Ok(_) => Err(self.error(span, format!("number {text} is too large for a Double"))),
                    Err(_) => Err(self.error(span, format!("malformed number {text}"))),
                }
            }
        }
    }

    fn radix_digits(&mut self, radix: u32) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_digit(radix) && !c.is_ascii_lowercase()) {
            s.push(c);
            self.bump();
        }
        s
    }
}

/// Converts digits in `radix` to an [`IntValue`].
fn parse_integer(digits: &str, radix: u32) -> IntValue {
    if let Ok(v) = i64::from_str_radix(digits, radix) {
        return IntValue::Small(v);
    }
    // Arbitrary precision: little-endian base-1e9 limbs.
    let mut limbs: Vec<u64> = vec![0];
    for c in digits.chars() {
        let mut carry = u64::from(c.to_digit(radix).unwrap_or(0));
        for limb in limbs.iter_mut() {
            let v = *limb * u64::from(radix) + carry;
            *limb = v % 1_000_000_000;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            limbs.push(carry % 1_000_000_000);
            carry /= 1_000_000_000;
        }
    }
    let mut text = String::new();
    for (i, limb) in limbs.iter().rev().enumerate() {
        if i == 0 {
            text.push_str(&limb.to_string());
        } else {
            text.push_str(&format!("{limb:09}"));
        }
    }
    IntValue::Large(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        tokenize("t", src).expect("lexes").into_iter().map(|t| t.tok).collect()
    }

    fn err(src: &str) -> CompileError {
        tokenize("t", src).expect_err("should fail")
    }

    #[test]
    fn identifiers_keywords_and_assignment() {
        assert_eq!(
            toks("foo at: x:=y"),
            [
                Tok::Ident("foo".into()),
                Tok::Keyword("at:".into()),
                Tok::Ident("x".into()),
                Tok::Assign,
                Tok::Ident("y".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn integers_of_any_size() {
        assert_eq!(toks("42"), [Tok::Int(IntValue::Small(42)), Tok::Eof]);
        assert_eq!(toks("9223372036854775807"), [Tok::Int(IntValue::Small(i64::MAX)), Tok::Eof]);
        assert_eq!(toks("9223372036854775808"), [Tok::Int(IntValue::Large("9223372036854775808".into())), Tok::Eof]);
        assert_eq!(
            toks("123456789012345678901234567890"),
            [Tok::Int(IntValue::Large("123456789012345678901234567890".into())), Tok::Eof]
        );
        assert_eq!(toks("16rFF 2r1010"), [Tok::Int(IntValue::Small(255)), Tok::Int(IntValue::Small(10)), Tok::Eof]);
        assert_eq!(toks("1e3"), [Tok::Int(IntValue::Small(1000)), Tok::Eof]);
    }

    #[test]
    fn negation_of_integer_values() {
        assert_eq!(IntValue::Large("9223372036854775808".into()).negated(), IntValue::Small(i64::MIN));
        assert_eq!(IntValue::Small(i64::MIN).negated(), IntValue::Large("9223372036854775808".into()));
        assert_eq!(
            IntValue::Large("99999999999999999999".into()).negated(),
            IntValue::Large("-99999999999999999999".into())
        );
    }

    #[test]
    fn doubles() {
        assert_eq!(toks("2.75"), [Tok::Double(2.75), Tok::Eof]);
        assert_eq!(toks("2.5e-3"), [Tok::Double(2.5e-3), Tok::Eof]);
        assert_eq!(toks("1e-2"), [Tok::Double(0.01), Tok::Eof]);
        assert_eq!(toks("1.5e-400"), [Tok::Double(0.0), Tok::Eof]);
        assert!(err("1e99999").message.contains("too large for a Double"));
        // `1.` is an integer followed by a period.
        assert_eq!(toks("1."), [Tok::Int(IntValue::Small(1)), Tok::Period, Tok::Eof]);
        // `1 exp` is a send, not an exponent.
        assert_eq!(toks("1e"), [Tok::Int(IntValue::Small(1)), Tok::Ident("e".into()), Tok::Eof]);
    }

    #[test]
    fn strings_with_escapes() {
        assert_eq!(toks(r"'a\tb\nc\\d\'e'"), [Tok::Str("a\tb\nc\\d'e".into()), Tok::Eof]);
        assert_eq!(toks("'it''s'"), [Tok::Str("it's".into()), Tok::Eof]);
        assert_eq!(toks("''"), [Tok::Str(String::new()), Tok::Eof]);
        assert_eq!(toks("'two\nlines'"), [Tok::Str("two\nlines".into()), Tok::Eof]);
        assert_eq!(toks(r"'\0\b\f\r'"), [Tok::Str("\0\u{8}\u{c}\r".into()), Tok::Eof]);
    }

    #[test]
    fn symbols() {
        assert_eq!(
            toks("#foo #at:put: #+ #'hello world' #~= #value:"),
            [
                Tok::Symbol("foo".into()),
                Tok::Symbol("at:put:".into()),
                Tok::Symbol("+".into()),
                Tok::Symbol("hello world".into()),
                Tok::Symbol("~=".into()),
                Tok::Symbol("value:".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn characters_and_punctuation() {
        assert_eq!(
            toks("$a $  $' #( { } ^ ; [:x]"),
            [
                Tok::Char('a'),
                Tok::Char(' '),
                Tok::Char('\''),
                Tok::LitArrayStart,
                Tok::LBrace,
                Tok::RBrace,
                Tok::Caret,
                Tok::Semicolon,
                Tok::LBracket,
                Tok::Colon,
                Tok::Ident("x".into()),
                Tok::RBracket,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn operators_and_separator() {
        assert_eq!(
            toks("a <= b ~= c || d - -1 ----- x"),
            [
                Tok::Ident("a".into()),
                Tok::BinOp("<=".into()),
                Tok::Ident("b".into()),
                Tok::BinOp("~=".into()),
                Tok::Ident("c".into()),
                Tok::BinOp("||".into()),
                Tok::Ident("d".into()),
                Tok::BinOp("-".into()),
                Tok::BinOp("-".into()),
                Tok::Int(IntValue::Small(1)),
                Tok::Separator,
                Tok::Ident("x".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(toks("\"a comment\" x \"another\n one\""), [Tok::Ident("x".into()), Tok::Eof]);
    }

    #[test]
    fn positions() {
        let t = tokenize("t", "a\n  bb").expect("lexes");
        assert_eq!(t[1].span, Span::new(2, 3));
    }

    #[test]
    fn errors_have_positions() {
        let e = err("x := 'open");
        assert_eq!(e.span, Span::new(1, 6));
        assert!(e.message.contains("string is not closed"));
        let e = err("\n \"open");
        assert_eq!(e.span, Span::new(2, 2));
        assert!(e.message.contains("comment is not closed"));
        let e = err("a ` b");
        assert_eq!(e.span, Span::new(1, 3));
        let e = err("'bad \\q escape'");
        assert_eq!(e.span, Span::new(1, 6));
        assert!(err("$").message.contains("character"));
        assert!(err("# foo").message.contains("after '#'"));
    }
}
