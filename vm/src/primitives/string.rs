//! String, Symbol and Character primitives. Strings hold UTF-8; lengths
//! and indices count characters (from 1), with a fast path for ASCII.

use super::{ErrorKind, Prim, arg, receiver};
use crate::object::Format;
use crate::universe::Universe;
use crate::value::Value;

fn ok_or(r: crate::universe::Result<Value>) -> Prim {
    match r {
        Ok(v) => Prim::Ok(v),
        Err(e) => e.into(),
    }
}

/// Whether character and byte positions of string `s` agree.
fn is_ascii(s: Value) -> bool {
    s.format() == Format::Ascii || s.bytes().is_ascii()
}

/// The number of characters of string `s`.
fn char_count(s: Value) -> usize {
    if is_ascii(s) { s.size() } else { String::from_utf8_lossy(s.bytes()).chars().count() }
}

/// The byte range of characters `start..end` (0-based) of string `s`.
fn char_range(s: Value, start: usize, end: usize) -> std::ops::Range<usize> {
    if is_ascii(s) {
        return start..end;
    }
    let bytes = s.bytes();
    let text = std::str::from_utf8(bytes).unwrap_or("");
    let mut offsets = text.char_indices().map(|(i, _)| i).chain(std::iter::once(text.len()));
    let from = offsets.nth(start).unwrap_or(text.len());
    let to = if end > start { offsets.nth(end - start - 1).unwrap_or(text.len()) } else { from };
    from..to
}

fn receiver_bytes(u: &Universe, argc: usize) -> Option<Vec<u8>> {
    let r = receiver(u, argc);
    u.is_string(r).then(|| r.bytes().to_vec())
}

/// `concatenate:`: a new String of the receiver's and the argument's text.
pub fn concatenate(u: &mut Universe, argc: usize) -> Prim {
    let (r, a) = (receiver(u, argc), arg(u, argc, 0));
    if !u.is_string(r) || !u.is_string(a) {
        return Prim::Fail;
    }
    let mut bytes = r.bytes().to_vec();
    bytes.extend_from_slice(a.bytes());
    ok_or(u.new_string_bytes(&bytes))
}

/// `asSymbol`
pub fn as_symbol(u: &mut Universe, argc: usize) -> Prim {
    let Some(text) = u.string_value(receiver(u, argc)) else { return Prim::Fail };
    ok_or(u.intern(&text))
}

/// `String>>asString`: the receiver.
pub fn as_string(u: &mut Universe, argc: usize) -> Prim {
    Prim::Ok(receiver(u, argc))
}

/// `Symbol>>asString`: a new String.
pub fn symbol_as_string(u: &mut Universe, argc: usize) -> Prim {
    let Some(bytes) = receiver_bytes(u, argc) else { return Prim::Fail };
    ok_or(u.new_string_bytes(&bytes))
}

/// A hash of string contents (equal for a String and a Symbol with the
/// same text).
pub fn string_hash(bytes: &[u8]) -> i64 {
    let mut h: u32 = 0;
    for &b in bytes {
        h = h.wrapping_mul(31).wrapping_add(u32::from(b));
    }
    i64::from(h as i32)
}

/// `hashcode`
pub fn hashcode(u: &mut Universe, argc: usize) -> Prim {
    let Some(bytes) = receiver_bytes(u, argc) else { return Prim::Fail };
    Prim::Ok(Value::small(string_hash(&bytes)))
}

/// `length`: the number of characters.
pub fn length(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !u.is_string(r) {
        return Prim::Fail;
    }
    Prim::Ok(Value::small(char_count(r) as i64))
}

/// `=`: same text (a String equals the Symbol with its text); false for
/// non-strings.
pub fn eq(u: &mut Universe, argc: usize) -> Prim {
    let (r, a) = (receiver(u, argc), arg(u, argc, 0));
    if !u.is_string(r) {
        return Prim::Fail;
    }
    let equal = u.is_string(a) && r.bytes() == a.bytes();
    Prim::Ok(u.boolean(equal))
}

fn all_chars(u: &mut Universe, argc: usize, test: fn(char) -> bool) -> Prim {
    let Some(text) = u.string_value(receiver(u, argc)) else { return Prim::Fail };
    let result = !text.is_empty() && text.chars().all(test);
    Prim::Ok(u.boolean(result))
}

/// `isWhiteSpace`
pub fn is_white_space(u: &mut Universe, argc: usize) -> Prim {
    all_chars(u, argc, char::is_whitespace)
}

/// `isLetters`
pub fn is_letters(u: &mut Universe, argc: usize) -> Prim {
    all_chars(u, argc, char::is_alphabetic)
}

/// `isDigits`
pub fn is_digits(u: &mut Universe, argc: usize) -> Prim {
    all_chars(u, argc, |c| c.is_ascii_digit())
}

/// `primSubstringFrom: start to: end` (1-based, inclusive).
pub fn substring(u: &mut Universe, argc: usize) -> Prim {
    let r = receiver(u, argc);
    if !u.is_string(r) {
        return Prim::Fail;
    }
    let (Some(start), Some(end)) = (arg(u, argc, 0).as_int(), arg(u, argc, 1).as_int()) else { return Prim::Fail };
    let len = char_count(r);
    if end < start {
        return ok_or(u.new_string(""));
    }
    if start < 1 || end as usize > len {
        return Prim::Raise(
            ErrorKind::Index,
            format!("Attempting to index string out of its bounds (start: {start} end: {end} length: {len})"),
        );
    }
    let range = char_range(r, start as usize - 1, end as usize);
    // Copy out before allocating (which may move the receiver).
    let part = r.bytes()[range].to_vec();
    ok_or(u.new_string_bytes(&part))
}

/// The byte range of the character at the argument index, in the
/// receiver's bytes.
fn index(u: &Universe, argc: usize) -> Result<std::ops::Range<usize>, Prim> {
    let r = receiver(u, argc);
    if !u.is_string(r) {
        return Err(Prim::Fail);
    }
    let Some(i) = arg(u, argc, 0).as_int() else { return Err(Prim::Fail) };
    let len = char_count(r);
    if i < 1 || i as usize > len {
        return Err(Prim::Raise(ErrorKind::Index, format!("Index {i} not valid for string of length {len}.")));
    }
    Ok(char_range(r, i as usize - 1, i as usize))
}

/// `charAt:`: a one-character String (SOM has no Character).
pub fn char_at(u: &mut Universe, argc: usize) -> Prim {
    match index(u, argc) {
        Ok(range) => {
            // Copy the character out before allocating (which may move the
            // receiver).
            let mut buf = [0u8; 4];
            let n = range.len();
            buf[..n].copy_from_slice(&receiver(u, argc).bytes()[range]);
            ok_or(u.new_string_bytes(&buf[..n]))
        }
        Err(p) => p,
    }
}

/// `at:`: the Character at an index.
pub fn at(u: &mut Universe, argc: usize) -> Prim {
    match index(u, argc) {
        Ok(range) => {
            let bytes = &receiver(u, argc).bytes()[range];
            let c = std::str::from_utf8(bytes).ok().and_then(|s| s.chars().next()).unwrap_or('\u{fffd}');
            Prim::Ok(Value::char(c))
        }
        Err(p) => p,
    }
}

/// `Character>>value`: the code point.
pub fn char_value(u: &mut Universe, argc: usize) -> Prim {
    match receiver(u, argc).as_char() {
        Some(c) => Prim::Ok(Value::small(i64::from(u32::from(c)))),
        None => Prim::Fail,
    }
}

/// `Character>>asString`
pub fn char_as_string(u: &mut Universe, argc: usize) -> Prim {
    match receiver(u, argc).as_char() {
        Some(c) => ok_or(u.new_string(&c.to_string())),
        None => Prim::Fail,
    }
}

/// `Character value: n`
pub fn char_from_value(u: &mut Universe, argc: usize) -> Prim {
    match arg(u, argc, 0).as_int().and_then(|i| u32::try_from(i).ok()).and_then(char::from_u32) {
        Some(c) => Prim::Ok(Value::char(c)),
        None => Prim::Fail,
    }
}

/// `asInteger`: the Integer the text spells, or nil.
pub fn as_integer(u: &mut Universe, argc: usize) -> Prim {
    let Some(text) = u.string_value(receiver(u, argc)) else { return Prim::Fail };
    match text.trim().parse::<num_bigint::BigInt>() {
        Ok(n) => ok_or(u.new_integer(&n)),
        Err(_) => Prim::Ok(u.nil()),
    }
}

/// `String>>primCharacters`: an Array of the string's Characters.
pub fn characters(u: &mut Universe, argc: usize) -> Prim {
    let Some(bytes) = receiver_bytes(u, argc) else { return Prim::Fail };
    let text = String::from_utf8_lossy(&bytes);
    let chars: Vec<char> = text.chars().collect();
    let array = match u.new_array(chars.len()) {
        Ok(a) => a,
        Err(e) => return e.into(),
    };
    for (i, c) in chars.into_iter().enumerate() {
        // Characters are immediates: no barrier.
        array.set_slot_raw(i, Value::char(c));
    }
    Prim::Ok(array)
}

/// `String class>>primFromCharacters: anArray from: start to: end`: the
/// String of those Characters (empty when `end < start`).
pub fn from_characters(u: &mut Universe, argc: usize) -> Prim {
    let array = arg(u, argc, 0);
    let (Some(start), Some(end)) = (arg(u, argc, 1).as_int(), arg(u, argc, 2).as_int()) else { return Prim::Fail };
    if !u.is_array(array) {
        return Prim::Fail;
    }
    if end < start {
        return ok_or(u.new_string(""));
    }
    if start < 1 || end as usize > array.size() {
        return Prim::Raise(
            ErrorKind::Index,
            format!("Characters {start} to {end} are not within an Array of length {}.", array.size()),
        );
    }
    let mut text = String::with_capacity((end - start + 1) as usize);
    for i in start as usize - 1..end as usize {
        match array.slot(i).as_char() {
            Some(c) => text.push(c),
            None => return Prim::Error(format!("Element {} is not a Character.", i + 1)),
        }
    }
    ok_or(u.new_string(&text))
}
