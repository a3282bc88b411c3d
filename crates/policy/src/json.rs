//! A strict RFC 8259 JSON parser that remembers where every value and object
//! key came from, so that policy validation can say `LINE:COL: error: text`.
//!
//! What it accepts is exactly RFC 8259: no comments, no trailing commas, no
//! single quotes, no `NaN`, no leading zeros, no raw control characters inside
//! strings and no unpaired UTF-16 surrogates in `\u` escapes. The only
//! leniency is a UTF-8 byte order mark at the very start, which is skipped.
//! Duplicate object keys are kept, in source order, for the validator to
//! report.
//!
//! Positions: `line` and `col` are 1-based. A line ends at `\n` (so `\r\n`
//! works too; a lone `\r` is ordinary whitespace). `col` counts Unicode scalar
//! values, not bytes; `offset` is the byte offset into the text, BOM included.
//!
//! Errors name the fault and point at it: for example a typographic quote
//! (`“`), the comma of a trailing comma, the backslash of a bad escape, or the
//! opening quote of an unterminated string. Arrays and objects may nest at
//! most [`MAX_DEPTH`] levels deep, which bounds the parser's recursion.
//!
//! [`parse_stream`] reads several values one after another (JSON Lines, or
//! values simply concatenated). After an error it resynchronises so that one
//! bad line does not hide the rest; the rule is documented on the function.

use std::fmt;

use thiserror::Error;

/// The deepest nesting of arrays and objects that is accepted.
pub const MAX_DEPTH: usize = 128;

/// Keys and bare words quoted in messages are cut to this many characters.
const QUOTE_LIMIT: usize = 40;

/// A position in the source text. `line` and `col` are 1-based; `col` counts
/// Unicode scalar values (chars), not bytes. `offset` is the byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub offset: usize,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Position {
    /// Formats as `LINE:COL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A JSON value together with the position of its first character.
#[derive(Debug, Clone, PartialEq)]
pub struct Json {
    pub value: JsonValue,
    pub at: Position,
}

/// The value itself.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    Null,
    Bool(bool),
    /// The number's source text, exactly as written (e.g. "1.50", "-3e2");
    /// validated per RFC 8259 grammar.
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Members in source order; duplicate keys are KEPT (the validator
    /// reports them). Each key carries its own position.
    Object(Vec<Member>),
}

/// One `"key": value` member of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub key: String,
    /// Position of the key's opening quote.
    pub key_at: Position,
    pub value: Json,
}

/// A parse failure: where it happened and what went wrong.
/// Displays as `LINE:COL: message`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{at}: {kind}")]
pub struct JsonError {
    pub at: Position,
    pub kind: JsonErrorKind,
}

/// Which kind of container an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Object,
    Array,
}

impl Container {
    /// The byte that closes this container.
    fn closing(self) -> u8 {
        match self {
            Container::Object => b'}',
            Container::Array => b']',
        }
    }

    /// What the container's entries are called.
    fn entries(self) -> &'static str {
        match self {
            Container::Object => "object members",
            Container::Array => "array elements",
        }
    }

    /// What may follow an entry.
    fn after_entry(self) -> &'static str {
        match self {
            Container::Object => "',' or '}'",
            Container::Array => "',' or ']'",
        }
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Container::Object => f.write_str("object"),
            Container::Array => f.write_str("array"),
        }
    }
}

/// Every fault the parser reports. The doc comment of each variant says
/// which position the enclosing [`JsonError`] points at.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JsonErrorKind {
    /// The text ended too early. Points at the end of the text.
    #[error("unexpected end of input: expected {expected}")]
    UnexpectedEnd { expected: &'static str },

    /// A character that cannot appear here. Points at that character.
    #[error("unexpected character {}: expected {expected}", show_char(.found))]
    UnexpectedChar { found: char, expected: &'static str },

    /// A curly quote (U+201C, U+201D, U+2018 or U+2019) where a token should
    /// start, typically pasted from a word processor. Points at the quote.
    #[error(
        "typographic quote {quote} (U+{:04X}) where JSON needs a straight double quote (\"): replace {} and {} with \"",
        u32::from(*.quote),
        quote_pair(.quote).0,
        quote_pair(.quote).1
    )]
    TypographicQuote { quote: char },

    /// A string in single quotes. Points at the `'`.
    #[error("single-quoted string: JSON strings need double quotes (\"), not single quotes (')")]
    SingleQuotedString,

    /// A word that is not `true`, `false` or `null`, where a value should
    /// be. Points at the word's first character.
    #[error("unexpected bare word `{word}`: {hint}")]
    BareWord { word: String, hint: &'static str },

    /// An object key without quotes. Points at the key's first character.
    #[error("unquoted object key `{word}`: JSON object keys need double quotes, as in \"{word}\"")]
    UnquotedKey { word: String },

    /// A `//` or `/*` comment. Points at the first `/`.
    #[error("comments are not allowed in JSON")]
    Comment,

    /// A comma right before `}` or `]`. Points at the comma.
    #[error("trailing comma in {container}: remove the comma before '{}'", char::from(.container.closing()))]
    TrailingComma { container: Container },

    /// Two entries of an array or object with no comma between them (or a
    /// missing closing bracket). Points at the start of the second entry.
    #[error("missing comma between {}: expected {}", .container.entries(), .container.after_entry())]
    MissingComma { container: Container },

    /// An object key not followed by `:`. Points where the colon should be.
    #[error("missing colon after object key {key:?}: expected ':'")]
    MissingColon { key: String },

    /// A backslash followed by something that is not a JSON escape. Points
    /// at the backslash.
    #[error(
        "invalid escape {}: JSON allows only \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX",
        show_escape(.found)
    )]
    InvalidEscape { found: char },

    /// `\u` not followed by four hexadecimal digits. Points at the backslash.
    #[error("invalid \\u escape: expected exactly 4 hexadecimal digits after \\u")]
    InvalidUnicodeEscape,

    /// A `\u` escape of a UTF-16 surrogate that is not part of a high+low
    /// pair. Points at the backslash of the offending escape.
    #[error(
        "unpaired surrogate \\u{code:04X}: a high surrogate (\\uD800-\\uDBFF) must be directly followed by a low surrogate (\\uDC00-\\uDFFF)"
    )]
    LoneSurrogate { code: u16 },

    /// A raw control character (U+0000 to U+001F) inside a string. Points at
    /// that character.
    #[error(
        "control character U+{:04X} is not allowed inside a string: {}",
        u32::from(*.found),
        control_hint(.found)
    )]
    ControlCharacter { found: char },

    /// The text ended inside a string. Points at the opening quote.
    #[error("unterminated string: the closing '\"' is missing")]
    UnterminatedString,

    /// A number such as `07`. Points at the leading zero.
    #[error("leading zero in number: JSON numbers start with 0 only when the integer part is 0 (as in 0.5)")]
    LeadingZero,

    /// A number that breaks the grammar some other way. Points where a digit
    /// was needed.
    #[error("malformed number: {detail}")]
    MalformedNumber { detail: &'static str },

    /// Arrays and objects nested more than [`MAX_DEPTH`] deep. Points at the
    /// bracket that went one level too deep.
    #[error("nesting deeper than {} levels of arrays and objects", MAX_DEPTH)]
    TooDeep,

    /// Something after the one value of a document (see [`parse`]). Points
    /// at the first character after the value.
    #[error(
        "unexpected {} after the JSON value: a document must contain exactly one value",
        show_char(.found)
    )]
    TrailingContent { found: char },
}

impl Json {
    /// Object member lookup by exact key (first occurrence).
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.as_object()?
            .iter()
            .find(|member| member.key == key)
            .map(|member| &member.value)
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            JsonValue::String(text) => Some(text),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Json]> {
        match &self.value {
            JsonValue::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members in source order, if this is an object.
    pub fn as_object(&self) -> Option<&[Member]> {
        match &self.value {
            JsonValue::Object(members) => Some(members),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.value, JsonValue::Null)
    }

    /// A short name of the value's type for messages: "null", "boolean",
    /// "number", "string", "array", "object".
    pub fn type_name(&self) -> &'static str {
        match self.value {
            JsonValue::Null => "null",
            JsonValue::Bool(_) => "boolean",
            JsonValue::Number(_) => "number",
            JsonValue::String(_) => "string",
            JsonValue::Array(_) => "array",
            JsonValue::Object(_) => "object",
        }
    }
}

/// Parses exactly one JSON value. Whitespace may surround it; anything else
/// after it is a [`JsonErrorKind::TrailingContent`] error.
pub fn parse(text: &str) -> Result<Json, JsonError> {
    let mut parser = Parser::new(text);
    let value = parser.parse_value(0, "a JSON value")?;
    parser.skip_whitespace();
    if parser.at_end() {
        Ok(value)
    } else {
        Err(parser.trailing_fault())
    }
}

/// Parses a sequence of JSON values separated by optional whitespace (JSON
/// Lines, or values simply concatenated), returning each value or error in
/// order.
///
/// Resynchronisation rule: after an error, parsing resumes at the first `{`
/// or `[` that begins a line (preceded on that line only by spaces, tabs or
/// `\r`) and lies after the error position. It may also resume at the error
/// position itself when the error is a missing comma, missing colon or
/// unexpected character found at such a line-leading bracket: that is how an
/// unclosed value on one line is told apart from the good value on the next
/// line. If there is no such place, the stream ends with the error.
///
/// The rule is made for JSON Lines. In a stream of pretty-printed documents,
/// an error can make parsing resume at an indented nested object or array of
/// the broken document, which then comes back as a value of its own.
pub fn parse_stream(text: &str) -> Vec<Result<Json, JsonError>> {
    let mut parser = Parser::new(text);
    let mut results = Vec::new();
    loop {
        parser.skip_whitespace();
        if parser.at_end() {
            break;
        }
        let start = parser.pos;
        match parser.parse_value(0, "a JSON value") {
            Ok(value) => results.push(Ok(value)),
            Err(error) => {
                let resumed = parser.resync(start, &error);
                results.push(Err(error));
                if !resumed {
                    break;
                }
            }
        }
    }
    results
}

/// The parser's cursor over the text, with line tracking.
///
/// Columns are computed lazily: `col_mark` is an offset on the current line
/// whose column `col_at_mark` is known, and columns further right are found
/// by counting the chars in between, so a long line costs linear time.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
    col_mark: usize,
    col_at_mark: u32,
    /// The last string read that held a typographic quote: the byte after its
    /// closing quote, and the offset and char of its first typographic quote.
    last_curly: Option<(usize, usize, char)>,
}

impl<'a> Parser<'a> {
    /// A parser at the start of `text`, past a byte order mark if any.
    fn new(text: &'a str) -> Self {
        let start = bom_len(text);
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: start,
            line: 1,
            line_start: start,
            col_mark: start,
            col_at_mark: 1,
            last_curly: None,
        }
    }

    // ----- cursor and positions -----

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The byte `ahead` bytes after the cursor.
    fn peek_ahead(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos.saturating_add(ahead)).copied()
    }

    /// The char starting at byte `offset`, if any.
    fn char_at(&self, offset: usize) -> Option<char> {
        self.text.get(offset..)?.chars().next()
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips JSON whitespace, counting lines.
    fn skip_whitespace(&mut self) {
        while let Some(byte) = self.peek() {
            match byte {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.start_line(self.line.saturating_add(1), self.pos);
                }
                _ => break,
            }
        }
    }

    /// Records that line number `line` begins at byte `start`.
    fn start_line(&mut self, line: u32, start: usize) {
        self.line = line;
        self.line_start = start;
        self.col_mark = start;
        self.col_at_mark = 1;
    }

    /// The position of the cursor.
    fn here(&mut self) -> Position {
        self.position_at(self.pos)
    }

    /// The position of byte `offset`, which is normally on the current line.
    fn position_at(&mut self, offset: usize) -> Position {
        if offset < self.line_start {
            return position_from_scratch(self.text, offset);
        }
        if offset < self.col_mark {
            self.col_mark = self.line_start;
            self.col_at_mark = 1;
        }
        let between = self.bytes.get(self.col_mark..offset).unwrap_or_default();
        self.col_at_mark = self.col_at_mark.saturating_add(count_chars(between));
        self.col_mark = offset;
        Position {
            offset,
            line: self.line,
            col: self.col_at_mark,
        }
    }

    /// An error of `kind` at byte `offset`.
    fn fail(&mut self, offset: usize, kind: JsonErrorKind) -> JsonError {
        JsonError {
            at: self.position_at(offset),
            kind,
        }
    }

    // ----- values -----

    /// Parses one value inside `depth` open containers. `expected` describes
    /// what is wanted here, for the error message if no value is found.
    fn parse_value(&mut self, depth: usize, expected: &'static str) -> Result<Json, JsonError> {
        self.skip_whitespace();
        let at = self.here();
        let value = match self.peek() {
            Some(b'{') => self.parse_object(depth)?,
            Some(b'[') => self.parse_array(depth)?,
            Some(b'"') => JsonValue::String(self.parse_string()?),
            Some(b'-' | b'0'..=b'9') => self.parse_number()?,
            _ => self.parse_literal(expected)?,
        };
        Ok(Json { value, at })
    }

    /// Parses `true`, `false` or `null`, or explains what is here instead.
    fn parse_literal(&mut self, expected: &'static str) -> Result<JsonValue, JsonError> {
        let start = self.pos;
        let Some(found) = self.char_at(start) else {
            return Err(self.fail(start, JsonErrorKind::UnexpectedEnd { expected }));
        };
        if !is_word_start(found) {
            return Err(self.value_fault(found, expected));
        }
        let word = word_at(self.text, start);
        let value = match word {
            "true" => JsonValue::Bool(true),
            "false" => JsonValue::Bool(false),
            "null" => JsonValue::Null,
            _ => {
                let kind = JsonErrorKind::BareWord {
                    word: shorten(word),
                    hint: bare_word_hint(word),
                };
                return Err(self.fail(start, kind));
            }
        };
        self.pos += word.len();
        Ok(value)
    }

    /// Parses an object; the cursor is on its `{`.
    fn parse_object(&mut self, depth: usize) -> Result<JsonValue, JsonError> {
        let depth = self.enter(depth)?;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.eat(b'}') {
            return Ok(JsonValue::Object(members));
        }
        let mut expected = "a string key or '}'";
        loop {
            members.push(self.parse_member(depth, expected)?);
            self.skip_whitespace();
            if self.eat(b'}') {
                return Ok(JsonValue::Object(members));
            }
            if self.peek() != Some(b',') {
                return Err(self.separator_fault(Container::Object));
            }
            self.eat_comma(Container::Object)?;
            expected = "a string key in double quotes";
        }
    }

    /// Parses `"key": value`, starting at optional whitespace.
    fn parse_member(&mut self, depth: usize, expected: &'static str) -> Result<Member, JsonError> {
        self.skip_whitespace();
        let key_at = self.here();
        if self.peek() != Some(b'"') {
            return Err(self.key_fault(expected));
        }
        let key = self.parse_string()?;
        self.skip_whitespace();
        if !self.eat(b':') {
            return Err(self.colon_fault(&key));
        }
        let value = self.parse_value(depth, "a JSON value")?;
        Ok(Member { key, key_at, value })
    }

    /// Parses an array; the cursor is on its `[`.
    fn parse_array(&mut self, depth: usize) -> Result<JsonValue, JsonError> {
        let depth = self.enter(depth)?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.eat(b']') {
            return Ok(JsonValue::Array(items));
        }
        let mut expected = "a JSON value or ']'";
        loop {
            items.push(self.parse_value(depth, expected)?);
            self.skip_whitespace();
            if self.eat(b']') {
                return Ok(JsonValue::Array(items));
            }
            if self.peek() != Some(b',') {
                return Err(self.separator_fault(Container::Array));
            }
            self.eat_comma(Container::Array)?;
            expected = "a JSON value";
        }
    }

    /// Consumes the opening bracket of a container inside `depth` others and
    /// returns the new depth, or fails if that is too deep.
    fn enter(&mut self, depth: usize) -> Result<usize, JsonError> {
        let inner = depth.saturating_add(1);
        if inner > MAX_DEPTH {
            return Err(self.fail(self.pos, JsonErrorKind::TooDeep));
        }
        self.pos += 1;
        Ok(inner)
    }

    /// Consumes a comma (the cursor is on it) and the whitespace after it,
    /// and fails if the container closes right after.
    fn eat_comma(&mut self, container: Container) -> Result<(), JsonError> {
        let comma = self.here();
        self.pos += 1;
        self.skip_whitespace();
        if self.peek() == Some(container.closing()) {
            return Err(JsonError {
                at: comma,
                kind: JsonErrorKind::TrailingComma { container },
            });
        }
        Ok(())
    }

    // ----- strings -----

    /// Parses a string; the cursor is on its opening quote.
    fn parse_string(&mut self) -> Result<String, JsonError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(byte) = self.peek() {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The run ends at an ASCII byte or the end, so it is valid UTF-8.
            out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
            match self.peek() {
                None => {
                    return Err(self.string_fault(open, open, JsonErrorKind::UnterminatedString))
                }
                Some(b'"') => {
                    self.pos += 1;
                    self.last_curly = self.run_on_quote(open);
                    return Ok(out);
                }
                Some(b'\\') => self.parse_escape(open, &mut out)?,
                Some(control) => {
                    let kind = JsonErrorKind::ControlCharacter {
                        found: char::from(control),
                    };
                    return Err(self.string_fault(open, self.pos, kind));
                }
            }
        }
    }

    /// The first typographic quote in `start..end`, with its offset.
    fn curly_between(&self, start: usize, end: usize) -> Option<(usize, char)> {
        let raw = self.text.get(start..end)?;
        // Every typographic quote is encoded with a leading 0xE2 byte.
        if !raw.as_bytes().contains(&0xE2) {
            return None;
        }
        raw.char_indices()
            .find(|(_, c)| is_typographic_quote(*c))
            .map(|(i, c)| (start + i, c))
    }

    /// For the string just read (from `open` to the cursor): when its content
    /// ends with a typographic quote followed only by blanks and `,:]}`, as in
    /// `"Allow”, "`, returns the end, the quote's offset and the quote.
    fn run_on_quote(&self, open: usize) -> Option<(usize, usize, char)> {
        let content = self.text.get(open + 1..self.pos - 1)?;
        let kept = content.trim_end_matches([' ', '\t', '\r', ',', ':', ']', '}']);
        let quote = kept
            .chars()
            .next_back()
            .filter(|c| is_typographic_quote(*c))?;
        Some((self.pos, open + 1 + kept.len() - quote.len_utf8(), quote))
    }

    /// A string that runs to the end of the text or of its line usually began
    /// with a straight quote and was meant to end at a typographic one: report
    /// that quote when there is one, otherwise `kind` at `offset`.
    fn string_fault(&mut self, open: usize, offset: usize, kind: JsonErrorKind) -> JsonError {
        match self.curly_between(open, self.pos) {
            Some((at, quote)) => self.fail(at, JsonErrorKind::TypographicQuote { quote }),
            None => self.fail(offset, kind),
        }
    }

    /// Parses one escape sequence; the cursor is on its backslash.
    fn parse_escape(&mut self, open: usize, out: &mut String) -> Result<(), JsonError> {
        let backslash = self.pos;
        let Some(letter) = self.peek_ahead(1) else {
            return Err(self.fail(open, JsonErrorKind::UnterminatedString));
        };
        let simple = match letter {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.parse_unicode_escape(out),
            _ => {
                let found = self.char_at(backslash + 1).unwrap_or(char::from(letter));
                return Err(self.fail(backslash, JsonErrorKind::InvalidEscape { found }));
            }
        };
        out.push(simple);
        self.pos += 2;
        Ok(())
    }

    /// Parses `\uXXXX`, or a `\uXXXX\uXXXX` surrogate pair; the cursor is on
    /// the first backslash.
    fn parse_unicode_escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let backslash = self.pos;
        let first = self.hex_escape_at(backslash)?;
        self.pos += 6;
        let code = match first {
            0xD800..=0xDBFF => self.finish_surrogate_pair(backslash, first)?,
            0xDC00..=0xDFFF => return Err(self.lone_surrogate(backslash, first)),
            _ => u32::from(first),
        };
        match char::from_u32(code) {
            Some(decoded) => {
                out.push(decoded);
                Ok(())
            }
            None => Err(self.lone_surrogate(backslash, first)),
        }
    }

    /// Reads the low half of a surrogate pair whose high half `high` was the
    /// escape at `backslash`; the cursor is right after that escape.
    fn finish_surrogate_pair(&mut self, backslash: usize, high: u16) -> Result<u32, JsonError> {
        let next = self.pos;
        if self.peek() != Some(b'\\') || self.peek_ahead(1) != Some(b'u') {
            return Err(self.lone_surrogate(backslash, high));
        }
        let low = self.hex_escape_at(next)?;
        if !(0xDC00..=0xDFFF).contains(&low) {
            return Err(self.lone_surrogate(backslash, high));
        }
        self.pos += 6;
        let high_bits = u32::from(high - 0xD800) << 10;
        let low_bits = u32::from(low - 0xDC00);
        Ok(0x10000 + (high_bits | low_bits))
    }

    /// The value of the four hex digits of the `\u` escape at `backslash`.
    fn hex_escape_at(&mut self, backslash: usize) -> Result<u16, JsonError> {
        let digits = self.bytes.get(backslash + 2..backslash + 6);
        match digits.and_then(parse_hex4) {
            Some(value) => Ok(value),
            None => Err(self.fail(backslash, JsonErrorKind::InvalidUnicodeEscape)),
        }
    }

    fn lone_surrogate(&mut self, backslash: usize, code: u16) -> JsonError {
        self.fail(backslash, JsonErrorKind::LoneSurrogate { code })
    }

    // ----- numbers -----

    /// Parses a number; the cursor is on its `-` or first digit.
    fn parse_number(&mut self) -> Result<JsonValue, JsonError> {
        let start = self.pos;
        self.eat(b'-');
        self.integer_part()?;
        if self.eat(b'.') {
            self.digits("expected a digit after the decimal point")?;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            self.digits("expected a digit in the exponent")?;
        }
        let text = self.text.get(start..self.pos).unwrap_or_default();
        Ok(JsonValue::Number(text.to_string()))
    }

    /// Consumes `0` or a run of digits not starting with `0`.
    fn integer_part(&mut self) -> Result<(), JsonError> {
        let zero = self.pos;
        if self.eat(b'0') {
            if self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
                return Err(self.fail(zero, JsonErrorKind::LeadingZero));
            }
            return Ok(());
        }
        self.digits("expected a digit after '-'")
    }

    /// Consumes one or more digits, or fails with `detail`.
    fn digits(&mut self, detail: &'static str) -> Result<(), JsonError> {
        if !self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            return Err(self.fail(self.pos, JsonErrorKind::MalformedNumber { detail }));
        }
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.pos += 1;
        }
        Ok(())
    }

    // ----- explaining what went wrong -----

    /// Reports `found`, the char at the cursor, as `kind`, unless it is a
    /// fault reported the same way wherever a token was expected: a
    /// typographic quote or the start of a comment.
    fn fault_here(&mut self, found: char, kind: JsonErrorKind) -> JsonError {
        // A string that ended just before the fault and holds a typographic
        // quote most likely ran on past it ("Allow”, "Action": ...): the quote
        // is the real fault.
        if let Some((end, offset, quote)) = self.last_curly {
            let gap = self.bytes.get(end..self.pos).unwrap_or(b"x");
            if gap
                .iter()
                .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            {
                return self.fail(offset, JsonErrorKind::TypographicQuote { quote });
            }
        }
        let starts_comment = matches!(self.peek_ahead(1), Some(b'/' | b'*'));
        let kind = if is_typographic_quote(found) {
            JsonErrorKind::TypographicQuote { quote: found }
        } else if found == '/' && starts_comment {
            JsonErrorKind::Comment
        } else {
            kind
        };
        self.fail(self.pos, kind)
    }

    /// Explains `found` (not a word) where a value was expected.
    fn value_fault(&mut self, found: char, expected: &'static str) -> JsonError {
        let next_is_digit = self.peek_ahead(1).is_some_and(|byte| byte.is_ascii_digit());
        let kind = match found {
            '\'' => JsonErrorKind::SingleQuotedString,
            '+' if next_is_digit => JsonErrorKind::MalformedNumber {
                detail: "a number cannot start with '+'",
            },
            '.' if next_is_digit => JsonErrorKind::MalformedNumber {
                detail: "a digit is needed before the decimal point",
            },
            _ => JsonErrorKind::UnexpectedChar { found, expected },
        };
        self.fault_here(found, kind)
    }

    /// Explains what is at the cursor where an object key was expected.
    fn key_fault(&mut self, expected: &'static str) -> JsonError {
        let Some(found) = self.char_at(self.pos) else {
            return self.fail(self.pos, JsonErrorKind::UnexpectedEnd { expected });
        };
        let kind = if found == '\'' {
            JsonErrorKind::SingleQuotedString
        } else if is_word_start(found) {
            let word = shorten(word_at(self.text, self.pos));
            JsonErrorKind::UnquotedKey { word }
        } else {
            JsonErrorKind::UnexpectedChar { found, expected }
        };
        self.fault_here(found, kind)
    }

    /// Explains what is at the cursor where `,` or a closing bracket was
    /// expected after an entry of `container`.
    fn separator_fault(&mut self, container: Container) -> JsonError {
        let expected = container.after_entry();
        let Some(found) = self.char_at(self.pos) else {
            return self.fail(self.pos, JsonErrorKind::UnexpectedEnd { expected });
        };
        let kind = if can_start_value(found) {
            JsonErrorKind::MissingComma { container }
        } else {
            JsonErrorKind::UnexpectedChar { found, expected }
        };
        self.fault_here(found, kind)
    }

    /// Explains what is at the cursor where `:` was expected after `key`.
    fn colon_fault(&mut self, key: &str) -> JsonError {
        let Some(found) = self.char_at(self.pos) else {
            let expected = "':' after the object key";
            return self.fail(self.pos, JsonErrorKind::UnexpectedEnd { expected });
        };
        let kind = JsonErrorKind::MissingColon { key: shorten(key) };
        self.fault_here(found, kind)
    }

    /// Explains what is at the cursor after the one value of a document;
    /// the cursor is not at the end.
    fn trailing_fault(&mut self) -> JsonError {
        let found = self
            .char_at(self.pos)
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        self.fault_here(found, JsonErrorKind::TrailingContent { found })
    }

    // ----- stream recovery -----

    /// Moves the cursor to where parsing should resume after `error` broke
    /// the value that started at byte `value_start`, following the rule
    /// documented on [`parse_stream`]. Returns false if there is no such place.
    fn resync(&mut self, value_start: usize, error: &JsonError) -> bool {
        let at = error.at;
        if at.offset > value_start && may_start_next_value(&error.kind) {
            if let Some(line_start) = leading_bracket_line_start(self.bytes, at.offset) {
                self.start_line(at.line, line_start);
                self.pos = at.offset;
                return true;
            }
        }
        let mut line = at.line;
        let mut cursor = at.offset;
        while let Some(newline) = find_newline(self.bytes, cursor) {
            line = line.saturating_add(1);
            let line_start = newline + 1;
            let first = skip_blanks(self.bytes, line_start);
            if matches!(self.bytes.get(first), Some(b'{' | b'[')) {
                self.start_line(line, line_start);
                self.pos = first;
                return true;
            }
            cursor = line_start;
        }
        false
    }
}

// ----- helpers on text -----

/// The length of a UTF-8 byte order mark at the start of `text`, or 0.
fn bom_len(text: &str) -> usize {
    if text.starts_with('\u{FEFF}') {
        '\u{FEFF}'.len_utf8()
    } else {
        0
    }
}

/// The number of chars in a run of UTF-8 bytes (continuation bytes don't
/// count), saturated to `u32`.
fn count_chars(bytes: &[u8]) -> u32 {
    let chars = bytes.iter().filter(|&&byte| byte & 0xC0 != 0x80).count();
    u32::try_from(chars).unwrap_or(u32::MAX)
}

/// The position of byte `offset`, computed from the start of the text.
fn position_from_scratch(text: &str, offset: usize) -> Position {
    let bytes = text.as_bytes();
    let before = bytes.get(..offset).unwrap_or(bytes);
    let newlines = before.iter().filter(|&&byte| byte == b'\n').count();
    let line_start = match before.iter().rposition(|&byte| byte == b'\n') {
        Some(newline) => newline + 1,
        None => bom_len(text),
    };
    let line_chars = bytes.get(line_start..offset).unwrap_or_default();
    Position {
        offset,
        line: u32::try_from(newlines)
            .unwrap_or(u32::MAX)
            .saturating_add(1),
        col: count_chars(line_chars).saturating_add(1),
    }
}

/// The index of the first `\n` at or after `from`.
fn find_newline(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let index = rest.iter().position(|&byte| byte == b'\n')?;
    Some(from + index)
}

/// The index of the first byte at or after `from` that is not a space, tab
/// or carriage return.
fn skip_blanks(bytes: &[u8], from: usize) -> usize {
    let rest = bytes.get(from..).unwrap_or_default();
    let blanks = rest
        .iter()
        .take_while(|&&byte| matches!(byte, b' ' | b'\t' | b'\r'))
        .count();
    from + blanks
}

/// If byte `offset` is a `{` or `[` preceded on its line only by blanks, and
/// that line is not the first, the offset where that line starts.
fn leading_bracket_line_start(bytes: &[u8], offset: usize) -> Option<usize> {
    if !matches!(bytes.get(offset), Some(b'{' | b'[')) {
        return None;
    }
    let before = bytes.get(..offset)?;
    let newline = before
        .iter()
        .rposition(|&byte| !matches!(byte, b' ' | b'\t' | b'\r'))?;
    if before.get(newline) == Some(&b'\n') {
        Some(newline + 1)
    } else {
        None
    }
}

/// Whether an error of this kind is found at a token that does not belong
/// to the broken value, so that parsing may resume right there.
fn may_start_next_value(kind: &JsonErrorKind) -> bool {
    matches!(
        kind,
        JsonErrorKind::MissingComma { .. }
            | JsonErrorKind::MissingColon { .. }
            | JsonErrorKind::UnexpectedChar { .. }
    )
}

/// The value of four ASCII hex digits.
fn parse_hex4(digits: &[u8]) -> Option<u16> {
    if digits.len() != 4 {
        return None;
    }
    digits.iter().try_fold(0u16, |value, &digit| {
        let nibble = char::from(digit).to_digit(16)?;
        Some(value << 4 | u16::try_from(nibble).ok()?)
    })
}

fn is_word_start(found: char) -> bool {
    found.is_alphabetic() || found == '_' || found == '$'
}

fn is_word_char(found: char) -> bool {
    found.is_alphanumeric() || found == '_' || found == '$'
}

/// Whether `found` could begin a value (used to spot a missing comma).
fn can_start_value(found: char) -> bool {
    matches!(found, '"' | '\'' | '{' | '[' | '-') || found.is_ascii_digit() || is_word_start(found)
}

/// The run of word characters starting at byte `start`.
fn word_at(text: &str, start: usize) -> &str {
    let rest = text.get(start..).unwrap_or_default();
    let end = rest
        .char_indices()
        .find(|&(_, found)| !is_word_char(found))
        .map_or(rest.len(), |(index, _)| index);
    rest.get(..end).unwrap_or_default()
}

/// `text`, cut to [`QUOTE_LIMIT`] chars with an ellipsis if longer.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_string(),
    }
}

/// Advice for a bare word found where a value was expected.
fn bare_word_hint(word: &str) -> &'static str {
    match word.to_ascii_lowercase().as_str() {
        "true" => "did you mean `true`? JSON literals are lower case",
        "false" => "did you mean `false`? JSON literals are lower case",
        "null" | "none" | "nil" | "undefined" => "did you mean `null`?",
        "nan" | "infinity" | "inf" => "JSON numbers cannot be NaN or infinite",
        _ => "JSON strings need double quotes",
    }
}

// ----- helpers for messages -----

fn is_typographic_quote(found: char) -> bool {
    matches!(found, '\u{201C}' | '\u{201D}' | '\u{2018}' | '\u{2019}')
}

/// The opening and closing members of the typographic quote pair `quote`
/// belongs to; any other char is returned as both.
fn quote_pair(quote: &char) -> (char, char) {
    match quote {
        '\u{201C}' | '\u{201D}' => ('\u{201C}', '\u{201D}'),
        '\u{2018}' | '\u{2019}' => ('\u{2018}', '\u{2019}'),
        other => (*other, *other),
    }
}

/// A char as shown in messages: `'x'` for printable ASCII, `U+0009` for
/// control characters, `'é' (U+00E9)` for the rest.
fn show_char(found: &char) -> String {
    let code = u32::from(*found);
    if found.is_ascii_graphic() || *found == ' ' {
        format!("'{found}'")
    } else if found.is_control() {
        format!("U+{code:04X}")
    } else {
        format!("'{found}' (U+{code:04X})")
    }
}

/// An invalid escape as shown in messages, e.g. `'\x'`.
fn show_escape(found: &char) -> String {
    if found.is_control() || found.is_whitespace() {
        format!("'\\' followed by {}", show_char(found))
    } else {
        format!("'\\{found}'")
    }
}

/// How to write control character `found` inside a JSON string.
fn control_hint(found: &char) -> String {
    match found {
        '\n' => "escape it as \\n (or is the closing quote missing?)".to_string(),
        '\r' => "escape it as \\r".to_string(),
        '\t' => "escape it as \\t".to_string(),
        other => format!("escape it as \\u{:04X}", u32::from(*other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JsonErrorKind as K;

    /// The error of `parse(text)` as (line, col, kind).
    fn fault(text: &str) -> (u32, u32, JsonErrorKind) {
        match parse(text) {
            Ok(value) => panic!("{text:?} parsed as {value:?}"),
            Err(error) => (error.at.line, error.at.col, error.kind),
        }
    }

    fn pos(json: &Json) -> (u32, u32) {
        (json.at.line, json.at.col)
    }

    fn key_pos(member: &Member) -> (u32, u32) {
        (member.key_at.line, member.key_at.col)
    }

    fn string(text: &str) -> String {
        match parse(text) {
            Ok(Json {
                value: JsonValue::String(decoded),
                ..
            }) => decoded,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    // ----- values and positions -----

    #[test]
    fn scalars() {
        assert!(parse("null").unwrap().is_null());
        assert_eq!(parse(" true ").unwrap().value, JsonValue::Bool(true));
        assert_eq!(parse("false").unwrap().value, JsonValue::Bool(false));
        assert_eq!(parse("\"hi\"").unwrap().as_str(), Some("hi"));
        for number in [
            "0",
            "-0",
            "1.50",
            "-3e2",
            "0.5E+10",
            "-0.0e-1",
            "123456789012345678901234567890",
        ] {
            assert_eq!(
                parse(number).unwrap().value,
                JsonValue::Number(number.to_string())
            );
        }
    }

    #[test]
    fn positions_of_nested_values_and_keys() {
        let text = "{\n  \"naïve\": [1, {\"k\": \"v\"}],\n\t\"b\": null\n}";
        let root = parse(text).unwrap();
        assert_eq!(pos(&root), (1, 1));
        let members = root.as_object().unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(key_pos(&members[0]), (2, 3));
        let array = root.get("naïve").unwrap();
        assert_eq!(pos(array), (2, 12));
        assert_eq!(array.at.offset, text.find('[').unwrap());
        let items = array.as_array().unwrap();
        assert_eq!(pos(&items[0]), (2, 13));
        assert_eq!(pos(&items[1]), (2, 16));
        let inner = items[1].as_object().unwrap();
        assert_eq!(key_pos(&inner[0]), (2, 17));
        assert_eq!(pos(&inner[0].value), (2, 22));
        assert_eq!(inner[0].value.at.offset, text.find("\"v\"").unwrap());
        assert_eq!(key_pos(&members[1]), (3, 2));
        assert_eq!(pos(&members[1].value), (3, 7));
    }

    #[test]
    fn columns_count_chars_not_bytes() {
        // "日本" is 6 bytes but 2 chars; "😀" is 4 bytes, 1 char.
        let root = parse("[\"日本\", \"😀\", 7]").unwrap();
        let items = root.as_array().unwrap();
        assert_eq!(pos(&items[1]), (1, 8));
        assert_eq!(pos(&items[2]), (1, 13));
        assert_eq!(items[2].at.offset, 19);
    }

    #[test]
    fn crlf_and_bom() {
        let root = parse("{\r\n\"a\": 1\r\n}").unwrap();
        assert_eq!(key_pos(&root.as_object().unwrap()[0]), (2, 1));
        let root = parse("\u{FEFF}{\"a\": 1}").unwrap();
        assert_eq!(
            root.at,
            Position {
                offset: 3,
                line: 1,
                col: 1
            }
        );
        assert_eq!(key_pos(&root.as_object().unwrap()[0]), (1, 2));
        // A BOM anywhere else is not whitespace.
        assert_eq!(
            fault("1 \u{FEFF}"),
            (1, 3, K::TrailingContent { found: '\u{FEFF}' })
        );
    }

    #[test]
    fn duplicate_keys_are_kept_and_get_finds_first() {
        let root = parse("{\"a\": 1, \"a\": 2}").unwrap();
        let members = root.as_object().unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(key_pos(&members[1]), (1, 10));
        assert_eq!(root.get("a").unwrap().value, JsonValue::Number("1".into()));
        assert!(root.get("b").is_none());
    }

    #[test]
    fn accessors_and_type_names() {
        let root = parse("[null, true, 1, \"s\", [], {}]").unwrap();
        let names: Vec<_> = root
            .as_array()
            .unwrap()
            .iter()
            .map(Json::type_name)
            .collect();
        assert_eq!(
            names,
            ["null", "boolean", "number", "string", "array", "object"]
        );
        assert!(root.as_object().is_none());
        assert!(root.as_str().is_none());
        assert!(root.get("x").is_none());
        assert!(!root.is_null());
    }

    // ----- strings and escapes -----

    #[test]
    fn escapes_including_surrogate_pairs() {
        assert_eq!(
            string(r#""\" \\ \/ \b \f \n \r \t""#),
            "\" \\ / \u{8} \u{c} \n \r \t"
        );
        assert_eq!(string(r#""\u0041\u00e9\u00E9\u4e2d""#), "Aéé中");
        assert_eq!(string(r#""\uD83D\uDE00""#), "😀");
        assert_eq!(string(r#""x\ud83d\ude00y""#), "x😀y");
        assert_eq!(string(r#""\u0000""#), "\u{0}");
        assert_eq!(string("\"raw é 😀 “quoted” ok\""), "raw é 😀 “quoted” ok");
        assert_eq!(string("\"\u{7f}\""), "\u{7f}");
    }

    #[test]
    fn string_errors() {
        assert_eq!(fault(r#""a\qb""#), (1, 3, K::InvalidEscape { found: 'q' }));
        assert_eq!(fault(r#"["\'"]"#), (1, 3, K::InvalidEscape { found: '\'' }));
        assert_eq!(fault("\"\\é\""), (1, 2, K::InvalidEscape { found: 'é' }));
        assert_eq!(fault(r#""\u12G4""#), (1, 2, K::InvalidUnicodeEscape));
        assert_eq!(fault(r#""\u12""#), (1, 2, K::InvalidUnicodeEscape));
        assert_eq!(fault(r#""\uD800\u12""#), (1, 8, K::InvalidUnicodeEscape));
        assert_eq!(
            fault(r#""\uD800""#),
            (1, 2, K::LoneSurrogate { code: 0xD800 })
        );
        assert_eq!(
            fault(r#""\uDC00""#),
            (1, 2, K::LoneSurrogate { code: 0xDC00 })
        );
        assert_eq!(
            fault(r#""x\uD83D\u0041""#),
            (1, 3, K::LoneSurrogate { code: 0xD83D })
        );
        assert_eq!(
            fault(r#""x\uD83D\n""#),
            (1, 3, K::LoneSurrogate { code: 0xD83D })
        );
        assert_eq!(
            fault(r#""\uD83D\uD83D""#),
            (1, 2, K::LoneSurrogate { code: 0xD83D })
        );
        assert_eq!(
            fault("\"a\tb\""),
            (1, 3, K::ControlCharacter { found: '\t' })
        );
        assert_eq!(
            fault("[\"é\nb\"]"),
            (1, 4, K::ControlCharacter { found: '\n' })
        );
        assert_eq!(
            fault("\"\u{0}\""),
            (1, 2, K::ControlCharacter { found: '\u{0}' })
        );
        assert_eq!(fault("[\"abc"), (1, 2, K::UnterminatedString));
        assert_eq!(fault("\"abc\\"), (1, 1, K::UnterminatedString));
        assert_eq!(fault("\"abc\\u00"), (1, 5, K::InvalidUnicodeEscape));
    }

    // ----- curly quotes -----

    #[test]
    fn typographic_quotes() {
        let error = parse("{\"Action\": “ses:*”}").unwrap_err();
        assert_eq!((error.at.line, error.at.col), (1, 12));
        assert_eq!(error.at.offset, 11);
        assert_eq!(error.kind, K::TypographicQuote { quote: '“' });
        assert_eq!(
            error.to_string(),
            "1:12: typographic quote “ (U+201C) where JSON needs a straight double quote (\"): replace “ and ” with \""
        );
        assert_eq!(
            fault("{“Effect”: 1}"),
            (1, 2, K::TypographicQuote { quote: '“' })
        );
        assert_eq!(fault("[”x”]"), (1, 2, K::TypographicQuote { quote: '”' }));
        assert_eq!(
            fault("{\"é\": ‘x’}"),
            (1, 7, K::TypographicQuote { quote: '‘' })
        );
        assert_eq!(
            fault("{\"a\"’}"),
            (1, 5, K::TypographicQuote { quote: '’' })
        );
        assert_eq!(fault("[1 “x”]"), (1, 4, K::TypographicQuote { quote: '“' }));
        assert_eq!(fault("1 ’"), (1, 3, K::TypographicQuote { quote: '’' }));
        assert_eq!(
            K::TypographicQuote { quote: '’' }.to_string(),
            "typographic quote ’ (U+2019) where JSON needs a straight double quote (\"): replace ‘ and ’ with \""
        );
        // Inside a properly quoted string they are just content.
        let root = parse("{\"a\": \"say “hi” and ‘bye’\"}").unwrap();
        assert_eq!(root.get("a").unwrap().as_str(), Some("say “hi” and ‘bye’"));
    }

    #[test]
    fn typographic_closing_quote_after_a_straight_opening_quote() {
        // The string runs on to the end of the line: the quote is the fault.
        let text = "{\n  \"Action\": \"ses:SendEmail”,\n  \"Resource\": \"*\"\n}";
        assert_eq!(fault(text), (2, 27, K::TypographicQuote { quote: '”' }));
        // The string runs on to the next straight quote: the quote is still the fault.
        assert_eq!(
            fault("{\"Action\": \"ses:SendEmail”, \"Resource\": \"*\"}"),
            (1, 26, K::TypographicQuote { quote: '”' })
        );
        assert_eq!(
            fault("{\"Effect”: \"Allow\"}"),
            (1, 9, K::TypographicQuote { quote: '”' })
        );
        assert_eq!(
            fault("[\"a’, \"b\"]"),
            (1, 4, K::TypographicQuote { quote: '’' })
        );
        // Unterminated at the end of the text.
        assert_eq!(fault("\"abc”"), (1, 5, K::TypographicQuote { quote: '”' }));
        // A curly quote in the middle of a string is content, and a later fault
        // is reported as usual.
        assert_eq!(
            fault("[\"say “hi” now\" 1]"),
            (
                1,
                17,
                K::MissingComma {
                    container: Container::Array
                }
            )
        );
    }

    // ----- structural errors -----

    #[test]
    fn unexpected_end() {
        let end = |expected| K::UnexpectedEnd { expected };
        assert_eq!(fault(""), (1, 1, end("a JSON value")));
        assert_eq!(fault("  \n "), (2, 2, end("a JSON value")));
        assert_eq!(fault("{\"a\": 1"), (1, 8, end("',' or '}'")));
        assert_eq!(fault("{"), (1, 2, end("a string key or '}'")));
        assert_eq!(
            fault("{\"a\": 1,"),
            (1, 9, end("a string key in double quotes"))
        );
        assert_eq!(fault("{\"a\""), (1, 5, end("':' after the object key")));
        assert_eq!(fault("{\"a\":"), (1, 6, end("a JSON value")));
        assert_eq!(fault("["), (1, 2, end("a JSON value or ']'")));
        assert_eq!(fault("[1,"), (1, 4, end("a JSON value")));
        assert_eq!(fault("[1"), (1, 3, end("',' or ']'")));
    }

    #[test]
    fn unexpected_characters() {
        let unexpected = |found, expected| K::UnexpectedChar { found, expected };
        assert_eq!(fault("[1}"), (1, 3, unexpected('}', "',' or ']'")));
        assert_eq!(fault("{\"a\": 1]"), (1, 8, unexpected(']', "',' or '}'")));
        assert_eq!(fault("{\"a\": }"), (1, 7, unexpected('}', "a JSON value")));
        assert_eq!(fault("[}"), (1, 2, unexpected('}', "a JSON value or ']'")));
        assert_eq!(
            fault("{1: 2}"),
            (1, 2, unexpected('1', "a string key or '}'"))
        );
        assert_eq!(fault("@"), (1, 1, unexpected('@', "a JSON value")));
        assert_eq!(fault("[\"é\", ¿]"), (1, 7, unexpected('¿', "a JSON value")));
        assert_eq!(fault("[.]"), (1, 2, unexpected('.', "a JSON value or ']'")));
        assert_eq!(fault("[/]"), (1, 2, unexpected('/', "a JSON value or ']'")));
        assert_eq!(
            parse("[\u{a0}1]").unwrap_err().to_string(),
            "1:2: unexpected character '\u{a0}' (U+00A0): expected a JSON value or ']'"
        );
        assert_eq!(
            parse("{\"a\": 1\u{7}}").unwrap_err().to_string(),
            "1:8: unexpected character U+0007: expected ',' or '}'"
        );
    }

    #[test]
    fn commas_and_colons() {
        let array = Container::Array;
        let object = Container::Object;
        assert_eq!(
            fault("[1, 2,]"),
            (1, 6, K::TrailingComma { container: array })
        );
        assert_eq!(
            fault("[1,\n\n  ]"),
            (1, 3, K::TrailingComma { container: array })
        );
        assert_eq!(
            fault("{\"a\": 1,\n}"),
            (1, 8, K::TrailingComma { container: object })
        );
        assert_eq!(
            fault("[1, 2 3]"),
            (1, 7, K::MissingComma { container: array })
        );
        assert_eq!(
            fault("[\"a\"\n \"b\"]"),
            (2, 2, K::MissingComma { container: array })
        );
        assert_eq!(
            fault("[true false]"),
            (1, 7, K::MissingComma { container: array })
        );
        assert_eq!(
            fault("{\"a\": 1 \"b\": 2}"),
            (1, 9, K::MissingComma { container: object })
        );
        assert_eq!(
            fault("{\"a\" 1}"),
            (1, 6, K::MissingColon { key: "a".into() })
        );
        assert_eq!(
            fault("{\"a\"}"),
            (1, 5, K::MissingColon { key: "a".into() })
        );
        assert_eq!(
            fault("{\"a\" = 1}"),
            (1, 6, K::MissingColon { key: "a".into() })
        );
        assert_eq!(
            fault("[,1]"),
            (
                1,
                2,
                K::UnexpectedChar {
                    found: ',',
                    expected: "a JSON value or ']'"
                }
            )
        );
        assert_eq!(
            fault("[1,,2]"),
            (
                1,
                4,
                K::UnexpectedChar {
                    found: ',',
                    expected: "a JSON value"
                }
            )
        );
    }

    #[test]
    fn numbers() {
        let bad = |detail| K::MalformedNumber { detail };
        assert_eq!(fault("01"), (1, 1, K::LeadingZero));
        assert_eq!(fault("[-012]"), (1, 3, K::LeadingZero));
        assert_eq!(fault("00.5"), (1, 1, K::LeadingZero));
        assert_eq!(
            fault("1."),
            (1, 3, bad("expected a digit after the decimal point"))
        );
        assert_eq!(
            fault("1.e5"),
            (1, 3, bad("expected a digit after the decimal point"))
        );
        assert_eq!(fault("1e"), (1, 3, bad("expected a digit in the exponent")));
        assert_eq!(
            fault("[1E+]"),
            (1, 5, bad("expected a digit in the exponent"))
        );
        assert_eq!(fault("-"), (1, 2, bad("expected a digit after '-'")));
        assert_eq!(
            fault("-Infinity"),
            (1, 2, bad("expected a digit after '-'"))
        );
        assert_eq!(fault("+1"), (1, 1, bad("a number cannot start with '+'")));
        assert_eq!(
            fault("[.5]"),
            (1, 2, bad("a digit is needed before the decimal point"))
        );
        assert_eq!(fault("0x1F"), (1, 2, K::TrailingContent { found: 'x' }));
        assert_eq!(fault("1 2"), (1, 3, K::TrailingContent { found: '2' }));
    }

    #[test]
    fn quotes_words_and_comments() {
        assert_eq!(fault("{'a': 1}"), (1, 2, K::SingleQuotedString));
        assert_eq!(fault("['x']"), (1, 2, K::SingleQuotedString));
        assert_eq!(
            fault("True"),
            (
                1,
                1,
                K::BareWord {
                    word: "True".into(),
                    hint: "did you mean `true`? JSON literals are lower case"
                }
            )
        );
        assert_eq!(
            fault("[None]"),
            (
                1,
                2,
                K::BareWord {
                    word: "None".into(),
                    hint: "did you mean `null`?"
                }
            )
        );
        assert_eq!(
            fault("{\"a\": NaN}"),
            (
                1,
                7,
                K::BareWord {
                    word: "NaN".into(),
                    hint: "JSON numbers cannot be NaN or infinite"
                }
            )
        );
        assert_eq!(
            fault("{\"Effect\": Allow}"),
            (
                1,
                12,
                K::BareWord {
                    word: "Allow".into(),
                    hint: "JSON strings need double quotes"
                }
            )
        );
        assert_eq!(
            fault("truex"),
            (
                1,
                1,
                K::BareWord {
                    word: "truex".into(),
                    hint: "JSON strings need double quotes"
                }
            )
        );
        assert_eq!(
            fault("{Effect: 1}"),
            (
                1,
                2,
                K::UnquotedKey {
                    word: "Effect".into()
                }
            )
        );
        assert_eq!(
            fault("{\"a\": 1, b: 2}"),
            (1, 10, K::UnquotedKey { word: "b".into() })
        );
        assert_eq!(fault("{\"a\": 1 // note\n}"), (1, 9, K::Comment));
        assert_eq!(fault("/* c */ {}"), (1, 1, K::Comment));
        assert_eq!(fault("{} // c"), (1, 4, K::Comment));
        assert_eq!(fault("{} x"), (1, 4, K::TrailingContent { found: 'x' }));
        let long = "x".repeat(100);
        match fault(&long).2 {
            K::BareWord { word, .. } => assert_eq!(word, format!("{}…", "x".repeat(40))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn messages_start_with_line_and_col() {
        let cases = [
            ("[1,]", "1:3: trailing comma in array: remove the comma before ']'"),
            ("{\"a\":1,}", "1:7: trailing comma in object: remove the comma before '}'"),
            ("[1 2]", "1:4: missing comma between array elements: expected ',' or ']'"),
            ("{\"a\":1 \"b\":2}", "1:8: missing comma between object members: expected ',' or '}'"),
            ("{\"Effect\" 1}", "1:11: missing colon after object key \"Effect\": expected ':'"),
            ("'a'", "1:1: single-quoted string: JSON strings need double quotes (\"), not single quotes (')"),
            ("{Effect: 1}", "1:2: unquoted object key `Effect`: JSON object keys need double quotes, as in \"Effect\""),
            ("None", "1:1: unexpected bare word `None`: did you mean `null`?"),
            ("\"\\x\"", "1:2: invalid escape '\\x': JSON allows only \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX"),
            ("\"\\\u{1}\"", "1:2: invalid escape '\\' followed by U+0001: JSON allows only \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX"),
            ("\"\\u12\"", "1:2: invalid \\u escape: expected exactly 4 hexadecimal digits after \\u"),
            ("\"\\uDC00\"", "1:2: unpaired surrogate \\uDC00: a high surrogate (\\uD800-\\uDBFF) must be directly followed by a low surrogate (\\uDC00-\\uDFFF)"),
            ("\"a\nb\"", "1:3: control character U+000A is not allowed inside a string: escape it as \\n (or is the closing quote missing?)"),
            ("\"\u{1f}\"", "1:2: control character U+001F is not allowed inside a string: escape it as \\u001F"),
            ("\"abc", "1:1: unterminated string: the closing '\"' is missing"),
            ("07", "1:1: leading zero in number: JSON numbers start with 0 only when the integer part is 0 (as in 0.5)"),
            ("1.", "1:3: malformed number: expected a digit after the decimal point"),
            ("// x", "1:1: comments are not allowed in JSON"),
            ("{}}", "1:3: unexpected '}' after the JSON value: a document must contain exactly one value"),
            ("{", "1:2: unexpected end of input: expected a string key or '}'"),
            ("[1 ]]", "1:5: unexpected ']' after the JSON value: a document must contain exactly one value"),
        ];
        for (text, message) in cases {
            assert_eq!(
                parse(text).unwrap_err().to_string(),
                message,
                "for {text:?}"
            );
        }
    }

    // ----- nesting -----

    #[test]
    fn nesting_up_to_the_limit_is_accepted() {
        let text = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&text).is_ok());
        let text = format!("{}1{}", "{\"a\":".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn deep_nesting_is_rejected_without_overflowing_the_stack() {
        let text = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(fault(&text), (1, 129, K::TooDeep));
        assert_eq!(fault(&"[".repeat(100_000)), (1, 129, K::TooDeep));
        assert_eq!(fault(&"{\"a\":".repeat(100_000)), (1, 641, K::TooDeep));
        assert_eq!(
            fault(&"[{\"a\":".repeat(50_000)),
            (1, 6 * 64 + 1, K::TooDeep)
        );
        let results = parse_stream(&"[".repeat(100_000));
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].as_ref().unwrap_err().kind, K::TooDeep);
        assert_eq!(
            K::TooDeep.to_string(),
            "nesting deeper than 128 levels of arrays and objects"
        );
    }

    // ----- streams -----

    /// Each result as Ok(value of "n") or Err((line, col, kind)).
    fn stream_summary(text: &str) -> Vec<Result<String, (u32, u32, JsonErrorKind)>> {
        parse_stream(text)
            .into_iter()
            .map(|result| match result {
                Ok(json) => Ok(match json.get("n") {
                    Some(Json {
                        value: JsonValue::Number(n),
                        ..
                    }) => n.clone(),
                    _ => json.type_name().to_string(),
                }),
                Err(error) => Err((error.at.line, error.at.col, error.kind)),
            })
            .collect()
    }

    #[test]
    fn stream_recovers_after_a_bad_line() {
        let text = "{\"n\": 1}\n{\"n\": 2,}\n{\"n\": 3}\n";
        assert_eq!(
            stream_summary(text),
            vec![
                Ok("1".to_string()),
                Err((
                    2,
                    8,
                    K::TrailingComma {
                        container: Container::Object
                    }
                )),
                Ok("3".to_string()),
            ]
        );
    }

    #[test]
    fn stream_recovers_from_several_kinds_of_damage() {
        let text = concat!(
            "{\"n\": 1}\n",            // 1
            "{'n': 2}\n",              // 2: single quotes
            "[4]\n",                   // 3
            "  {\"n\": 5 \"x\": 0}\n", // 4: missing comma
            "{\"n\": 6\n",             // 5: unclosed object
            "{\"n\": 7}\r\n",          // 6: must not be lost to line 5's error
            "{\"n\": “8”}\n",          // 7: curly quotes
            "{\"n\": 9} junk\n",       // 8: good value, then junk
            "{\"n\": 10}",             // 9
        );
        let object = Container::Object;
        assert_eq!(
            stream_summary(text),
            vec![
                Ok("1".to_string()),
                Err((2, 2, K::SingleQuotedString)),
                Ok("array".to_string()),
                Err((4, 11, K::MissingComma { container: object })),
                Err((6, 1, K::MissingComma { container: object })),
                Ok("7".to_string()),
                Err((7, 7, K::TypographicQuote { quote: '“' })),
                Ok("9".to_string()),
                Err((
                    8,
                    10,
                    K::BareWord {
                        word: "junk".into(),
                        hint: "JSON strings need double quotes"
                    }
                )),
                Ok("10".to_string()),
            ]
        );
    }

    #[test]
    fn stream_positions_after_recovery_are_exact() {
        let text = "{\"a\": x}\n\t{\"é\": 1, \"b\": [true]}";
        let results = parse_stream(text);
        assert_eq!(results.len(), 2);
        let second = results[1].as_ref().unwrap();
        assert_eq!(pos(second), (2, 2));
        let members = second.as_object().unwrap();
        assert_eq!(key_pos(&members[1]), (2, 11));
        assert_eq!(pos(&members[1].value.as_array().unwrap()[0]), (2, 17));
    }

    #[test]
    fn stream_of_concatenated_values() {
        let results = parse_stream("\u{FEFF}{\"a\":1}{\"b\":2} [3]\"s\" 4 null\n\n");
        let names: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().unwrap().type_name())
            .collect();
        assert_eq!(
            names,
            ["object", "object", "array", "string", "number", "null"]
        );
        assert_eq!(pos(results[4].as_ref().unwrap()), (1, 23));
        assert!(parse_stream("").is_empty());
        assert!(parse_stream(" \n\t\r\n").is_empty());
        assert!(parse_stream("\u{FEFF}").is_empty());
    }

    #[test]
    fn stream_ends_when_it_cannot_resynchronise() {
        let results = parse_stream("1\n2\nfoo\n3\n");
        assert_eq!(results.len(), 3);
        assert!(results[2].is_err());
        let results = parse_stream("{\"a\": [1,\n");
        assert_eq!(results.len(), 1);
    }

    // ----- quick property: agreement with serde_json -----

    /// Converts to serde_json's model (duplicate keys: last one wins, as
    /// serde_json does).
    fn to_serde(json: &Json) -> serde_json::Value {
        match &json.value {
            JsonValue::Null => serde_json::Value::Null,
            JsonValue::Bool(flag) => serde_json::Value::Bool(*flag),
            JsonValue::Number(text) => serde_json::from_str(text).unwrap(),
            JsonValue::String(text) => serde_json::Value::String(text.clone()),
            JsonValue::Array(items) => {
                serde_json::Value::Array(items.iter().map(to_serde).collect())
            }
            JsonValue::Object(members) => serde_json::Value::Object(
                members
                    .iter()
                    .map(|m| (m.key.clone(), to_serde(&m.value)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn agrees_with_serde_json_on_hand_made_documents() {
        let valid = [
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ses:SendEmail", "ses:SendRawEmail"], "Resource": "*", "Condition": {"StringLike": {"ses:FromAddress": "*@example.com"}}}]}"#,
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\n    \"Effect\": \"Deny\",\n    \"NotAction\": \"ses:*\",\n    \"Resource\": [\"arn:aws:ses:eu-west-1:123456789012:identity/é.example\"]\n  }\n}\n",
            "[]",
            "{}",
            " [ [ ] , { } , \"\" , 0 , -0.0 , 1e-7 , 2E+3 ] ",
            r#"{"a": {"b": {"c": [1, [2, [3, {"d": null}]]]}}}"#,
            r#""\u00e9\ud83d\ude00\n\"\\/""#,
            "\"😀 ü “curly” inside\"",
            "12345678901234567890.123e45",
            "\t\r\n true \n",
        ];
        for text in valid {
            let ours = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(to_serde(&ours), theirs, "for {text:?}");
        }
        let invalid = [
            "",
            " ",
            "[1,]",
            "{\"a\":1,}",
            "[01]",
            "[1.]",
            "[.1]",
            "[+1]",
            "[1e]",
            "'a'",
            "{a:1}",
            "True",
            "NaN",
            "[\"\\uD800\"]",
            "[\"\\uDC00x\"]",
            "\"\t\"",
            "\"\\x\"",
            "[1 2]",
            "{\"a\" 1}",
            "[\"a\"",
            "{} {}",
            "// c\n{}",
            "“a”",
            "[-]",
            "[1,,2]",
            "{,}",
        ];
        for text in invalid {
            assert!(parse(text).is_err(), "we accepted {text:?}");
            assert!(
                serde_json::from_str::<serde_json::Value>(text).is_err(),
                "serde_json accepted {text:?}"
            );
        }
    }

    #[test]
    #[ignore = "timing; run with --release -- --ignored"]
    fn ten_thousand_documents_parse_quickly() {
        let document = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Send", "Effect": "Allow", "Action": ["ses:SendEmail", "ses:SendRawEmail"], "Resource": "arn:aws:ses:eu-west-1:123456789012:identity/example.com", "Condition": {"StringEquals": {"ses:FromAddress": "noreply@example.com"}, "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}}]}"#;
        let text = format!("{document}\n").repeat(10_000);
        let started = std::time::Instant::now();
        let results = parse_stream(&text);
        let elapsed = started.elapsed();
        assert_eq!(results.len(), 10_000);
        assert!(results.iter().all(Result::is_ok));
        eprintln!(
            "parsed 10,000 documents ({} bytes) in {elapsed:?}",
            text.len()
        );
    }
}
