//! Turns one record into a sequence of tokens in which variable material is already masked.
//!
//! Masking is deliberately type-driven and vocabulary-free: a token becomes a slot because of its
//! *shape* (numeric, hexadecimal, an address, a path, ...), never because of a list of words taken
//! from some particular log source. The only closed vocabulary used is English month and weekday
//! names, because dates are variables in every log format.

use crate::SlotKind;

/// Beyond this many tokens a record is summarised by a trailing `<*>`: it bounds both the work per
/// record and the size of a stored template, and the head of a message is what identifies it.
pub(crate) const MAX_TOKENS: usize = 160;
/// Every constant token (a word or a run of punctuation) is cut to this many bytes, so that no
/// input can make one token of a stored template large.
pub(crate) const MAX_TOKEN_BYTES: usize = 64;
/// The constant text of one template (the sum of its tokens' bytes) stops at this many bytes; the
/// rest of the record is summarised by a trailing `<*>`, like a record of too many tokens.
pub(crate) const MAX_TEMPLATE_BYTES: usize = 1_024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// A constant containing at least one letter: may be generalised into a slot by the clusterer.
    Word,
    /// Punctuation only: structure of the message, never generalised (`=`, `:`, `(`, `****`, `...`).
    Punct,
    Slot(SlotKind),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Lexeme<'a> {
    pub text: &'a str,
    pub class: Class,
    pub space_before: bool,
}

/// Separates the title from the first line of the body inside one template.
pub(crate) const BODY_SEPARATOR: &str = "\n";

pub(crate) fn lex_record<'a>(title: &'a str, body: Option<&'a str>, out: &mut Vec<Lexeme<'a>>) {
    out.clear();
    lex_line(title, out);
    // Only the first meaningful body line takes part: it usually carries the exception or the top
    // frame, while the rest of a body (full traces, payloads) varies between occurrences of the
    // same failure and would split patterns.
    if let Some(first) = body.and_then(|b| b.lines().map(str::trim).find(|l| !l.is_empty())) {
        out.push(Lexeme { text: BODY_SEPARATOR, class: Class::Punct, space_before: false });
        let body_start = out.len();
        lex_line(first, out);
        if let Some(first_token) = out.get_mut(body_start) {
            first_token.space_before = false;
        }
    }
    if out.len() > MAX_TOKENS {
        out.truncate(MAX_TOKENS - 1);
        push(out, Lexeme { text: "", class: Class::Slot(SlotKind::Any), space_before: true });
    }
    let mut bytes = 0;
    if let Some(over) = out.iter().position(|l| {
        bytes += if matches!(l.class, Class::Slot(_)) { 0 } else { l.text.len() };
        bytes > MAX_TEMPLATE_BYTES
    }) {
        out.truncate(over);
        push(out, Lexeme { text: "", class: Class::Slot(SlotKind::Any), space_before: true });
    }
    mask_calendar_words(out);
}

fn lex_line<'a>(line: &'a str, out: &mut Vec<Lexeme<'a>>) {
    // Chunks are the runs between ASCII whitespace, as `split_ascii_whitespace` gives them; an
    // ASCII byte never occurs inside a multi-byte character, so the cuts are char boundaries.
    let bytes = line.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        // The chunk runs up to the next whitespace byte or the end of the line; it is empty when
        // `start` is at whitespace.
        let mut end = start;
        let mut seen = 0;
        for &byte in &bytes[start..] {
            let class = BYTE_CLASS[byte as usize];
            if class & SPACE != 0 {
                break;
            }
            seen |= class;
            end += 1;
        }
        if end > start {
            if out.len() > MAX_TOKENS {
                return;
            }
            let chunk = &line[start..end];
            if seen & NOT_LETTER == 0 {
                // The most common chunk, a plain word: no brackets or punctuation around it, and
                // no typed shape applies (see `lex_core`).
                push_word(chunk, true, out);
            } else if seen & NOT_DIGIT == 0 {
                // The next most common, a plain integer (a UUID has dashes, an IP dots).
                push(out, Lexeme { text: chunk, class: Class::Slot(SlotKind::Num), space_before: true });
            } else {
                lex_chunk(chunk, seen, out);
            }
        }
        // Past the whitespace byte that ended the chunk (or past the end of the line).
        start = end + 1;
    }
}

/// What one scan over a token's bytes found, so that no later step has to scan it again.
#[derive(Clone, Copy, Default)]
struct Shape {
    alphanumeric: bool,
    digit: bool,
    colon: bool,
    /// A delimiter byte, or a run of two or more dots.
    delimiter: bool,
    non_ascii: bool,
    /// Non-empty and nothing but ASCII letters: a plain word, whatever the other rules say.
    letters_only: bool,
}

/// A set of byte classes, one bit each (the constants below).
type ByteClasses = u16;

const ALNUM: ByteClasses = 1;
const DIGIT: ByteClasses = 2;
const COLON: ByteClasses = 4;
const DELIM: ByteClasses = 8;
const DOT: ByteClasses = 16;
const NON_ASCII: ByteClasses = 32;
const LETTER: ByteClasses = 64;
/// ASCII whitespace, which separates chunks.
const SPACE: ByteClasses = 128;
/// See [`is_opener`] and [`is_trailer`].
const OPENER: ByteClasses = 256;
const TRAILER: ByteClasses = 512;
/// The complements of `LETTER` and `DIGIT`, so that the OR of a chunk's classes alone tells
/// whether all its bytes are letters (or digits).
const NOT_LETTER: ByteClasses = 1024;
const NOT_DIGIT: ByteClasses = 2048;

/// Byte classes for chunking and [`Shape`], built at compile time from the same predicates the
/// rules use, so that each test on a byte is one table lookup.
const BYTE_CLASS: [ByteClasses; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        let mut class = 0;
        if byte.is_ascii_alphanumeric() {
            class |= ALNUM;
        }
        if byte.is_ascii_digit() {
            class |= DIGIT;
        }
        if byte == b':' {
            class |= COLON;
        }
        if is_delimiter(byte) {
            class |= DELIM;
        }
        if byte == b'.' {
            class |= DOT;
        }
        if byte >= 0x80 {
            class |= NON_ASCII;
        }
        if byte.is_ascii_alphabetic() {
            class |= LETTER;
        } else {
            class |= NOT_LETTER;
        }
        if !byte.is_ascii_digit() {
            class |= NOT_DIGIT;
        }
        if byte.is_ascii_whitespace() {
            class |= SPACE;
        }
        if is_opener(byte) {
            class |= OPENER;
        }
        if is_trailer(byte) {
            class |= TRAILER;
        }
        table[b] = class;
        b += 1;
    }
    table
};

fn shape_of(bytes: &[u8]) -> Shape {
    let mut seen = 0;
    for &b in bytes {
        let class = BYTE_CLASS[b as usize];
        seen |= class;
    }
    shape_from(bytes, seen)
}

/// The shape of `bytes` from the OR (`seen`) of their byte classes.
fn shape_from(bytes: &[u8], seen: ByteClasses) -> Shape {
    // Runs of dots count as delimiters; look for one only when it could matter.
    let dot_run = seen & DELIM == 0 && seen & DOT != 0 && bytes.windows(2).any(|pair| pair == b"..");
    Shape {
        alphanumeric: seen & ALNUM != 0,
        digit: seen & DIGIT != 0,
        colon: seen & COLON != 0,
        delimiter: seen & DELIM != 0 || dot_run,
        non_ascii: seen & NON_ASCII != 0,
        letters_only: !bytes.is_empty() && seen & NOT_LETTER == 0,
    }
}

/// Appends a token; adjacent whitespace-separated slots fold into one so that variable-length runs
/// of values (lists of numbers, multi-part timestamps) do not change the shape of a message.
#[inline(always)]
fn push<'a>(out: &mut Vec<Lexeme<'a>>, mut lexeme: Lexeme<'a>) {
    if lexeme.text.len() > MAX_TOKEN_BYTES && !matches!(lexeme.class, Class::Slot(_)) {
        lexeme.text = cut(lexeme.text);
    }
    if let Class::Slot(kind) = lexeme.class {
        // A comma-separated list of values ("10.0.0.1,10.0.0.2", "3, 4, 5") is one value too.
        let n = out.len();
        if n >= 2 && out[n - 1].class == Class::Punct && out[n - 1].text == "," {
            if let Class::Slot(prev) = out[n - 2].class {
                out.pop();
                out[n - 2].class = Class::Slot(prev.join(kind));
                return;
            }
        }
        if lexeme.space_before {
            if let Some(Lexeme { class: Class::Slot(prev), .. }) = out.last_mut() {
                *prev = prev.join(kind);
                return;
            }
        }
    }
    // A unit written after a number ("5.2 KB", "30 ms") belongs to the value.
    if lexeme.class == Class::Word && lexeme.space_before && lexeme.text.len() <= 4 {
        if let Some(last) = out.last_mut().filter(|l| l.class == Class::Slot(SlotKind::Num)) {
            if UNITS.contains(&lexeme.text) {
                let is_time = DURATION_UNITS.contains(&lexeme.text);
                last.class = Class::Slot(if is_time { SlotKind::Duration } else { SlotKind::Num });
                return;
            }
        }
    }
    out.push(lexeme);
}

/// Abbreviated units of size and time; spelled-out words ("bytes", "seconds") stay constants.
const UNITS: &[&str] = &[
    "B", "kB", "KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "ns", "us", "µs", "ms", "s", "sec", "secs",
    "min", "mins", "h", "hr", "hrs",
];

const fn is_opener(b: u8) -> bool {
    matches!(b, b'(' | b'[' | b'{' | b'<' | b'"' | b'\'')
}

const fn is_trailer(b: u8) -> bool {
    matches!(b, b')' | b']' | b'}' | b'>' | b'"' | b'\'' | b',' | b';' | b':' | b'.' | b'!' | b'?')
}

const fn is_delimiter(b: u8) -> bool {
    matches!(b, b'=' | b':' | b',' | b';' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'<' | b'>' | b'"' | b'\'' | b'|')
}

/// `seen` is the OR of the chunk's byte classes.
fn lex_chunk<'a>(chunk: &'a str, seen: ByteClasses, out: &mut Vec<Lexeme<'a>>) {
    let bytes = chunk.as_bytes();
    let mut core_start = 0;
    let mut end = bytes.len();
    while core_start < end && BYTE_CLASS[bytes[core_start] as usize] & OPENER != 0 {
        core_start += 1;
    }
    while end > core_start && BYTE_CLASS[bytes[end - 1] as usize] & TRAILER != 0 {
        end -= 1;
    }
    // Openers and trailers are ASCII punctuation, so the core alone decides whether the whole
    // chunk is punctuation. Most chunks have neither, and their classes are already known.
    let core = &bytes[core_start..end];
    let shape = if core.len() == bytes.len() { shape_from(core, seen) } else { shape_of(core) };
    if !shape.alphanumeric && !shape.non_ascii {
        lex_punctuation_chunk(chunk, out);
        return;
    }
    let mut space_before = true;
    for start in 0..core_start {
        push(out, Lexeme { text: &chunk[start..start + 1], class: Class::Punct, space_before });
        space_before = false;
    }
    if core_start < end {
        lex_core(&chunk[core_start..end], shape, space_before, out);
    }
    for i in end..bytes.len() {
        push(out, Lexeme { text: &chunk[i..i + 1], class: Class::Punct, space_before: false });
    }
}

/// An empty bracket pair or empty quotes ("()", "[]", `""`) is a value that happens to be empty:
/// it becomes an empty slot so that it lines up with the same message carrying a value.
fn lex_punctuation_chunk<'a>(chunk: &'a str, out: &mut Vec<Lexeme<'a>>) {
    let trimmed = chunk.trim_end_matches([',', ';', '.', ':']);
    if matches!(trimmed, "()" | "[]" | "{}" | "<>" | "\"\"" | "''") {
        push(out, Lexeme { text: &trimmed[..1], class: Class::Punct, space_before: true });
        push(out, Lexeme { text: "", class: Class::Slot(SlotKind::Any), space_before: false });
        push(out, Lexeme { text: &trimmed[1..], class: Class::Punct, space_before: false });
        for i in trimmed.len()..chunk.len() {
            push(out, Lexeme { text: &chunk[i..i + 1], class: Class::Punct, space_before: false });
        }
    } else {
        push(out, Lexeme { text: chunk, class: Class::Punct, space_before: true });
    }
}

/// `core` has no surrounding brackets/quotes/trailing punctuation; `shape` is its scan.
fn lex_core<'a>(core: &'a str, shape: Shape, space_before: bool, out: &mut Vec<Lexeme<'a>>) {
    if shape.letters_only {
        // The common case, answered at once: with no digit, colon or path prefix no typed shape
        // applies, it is not a unit name (those end in digits), so it is a word.
        push_word(core, space_before, out);
        return;
    }
    if let Some(kind) = token_kind(core, shape) {
        push(out, Lexeme { text: core, class: Class::Slot(kind), space_before });
        return;
    }
    // A URL embedded after a key (`url=http://...`) must be taken whole before `:` splits it.
    let (head, url) = match shape.colon.then(|| find_embedded_url(core)).flatten() {
        Some(at) => (&core[..at], Some(&core[at..])),
        None => (core, None),
    };
    if !shape.delimiter && url.is_none() {
        // No delimiter at all: the piece is the core, already known to have no typed shape.
        push_piece_kind(head, shape, None, space_before, out);
        return;
    }
    let mut space_before = space_before;
    let bytes = head.as_bytes();
    let mut piece_start = 0;
    // The piece's shape, gathered on the way; a piece never holds a delimiter (`:` included).
    let mut piece = 0;
    let mut i = 0;
    while i < bytes.len() {
        let class = BYTE_CLASS[bytes[i] as usize];
        let delimiter_len = if class & DELIM != 0 {
            1
        } else if class & DOT != 0 && bytes.get(i + 1) == Some(&b'.') {
            // Dot leaders ("processor......0") and ellipses separate words like any delimiter.
            bytes[i..].iter().take_while(|&&b| b == b'.').count()
        } else {
            0
        };
        if delimiter_len == 0 {
            piece |= class;
            i += 1;
            continue;
        }
        if piece_start < i {
            push_piece(&head[piece_start..i], piece, space_before, out);
            space_before = false;
        }
        push(out, Lexeme { text: &head[i..i + delimiter_len], class: Class::Punct, space_before });
        space_before = false;
        i += delimiter_len;
        piece_start = i;
        piece = 0;
    }
    if piece_start < bytes.len() {
        push_piece(&head[piece_start..], piece, space_before, out);
        space_before = false;
    }
    if let Some(url) = url {
        push(out, Lexeme { text: url, class: Class::Slot(SlotKind::Url), space_before });
    }
}

/// A non-empty piece of a split core: `any` is the OR of its byte classes.
fn push_piece<'a>(piece: &'a str, any: ByteClasses, space_before: bool, out: &mut Vec<Lexeme<'a>>) {
    if any & NOT_LETTER == 0 {
        push_word(piece, space_before, out);
        return;
    }
    let shape = Shape {
        alphanumeric: any & ALNUM != 0,
        digit: any & DIGIT != 0,
        colon: false,
        delimiter: false,
        non_ascii: any & NON_ASCII != 0,
        letters_only: false,
    };
    push_piece_kind(piece, shape, token_kind(piece, shape), space_before, out);
}

/// `text` cut to at most [`MAX_TOKEN_BYTES`], at a character boundary.
#[cold]
fn cut(text: &str) -> &str {
    let mut at = MAX_TOKEN_BYTES.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    &text[..at]
}

/// A word of ASCII letters ([`push`] cuts it to [`MAX_TOKEN_BYTES`]).
#[inline(always)]
fn push_word<'a>(word: &'a str, space_before: bool, out: &mut Vec<Lexeme<'a>>) {
    push(out, Lexeme { text: word, class: Class::Word, space_before });
}

fn push_piece_kind<'a>(
    piece: &'a str,
    shape: Shape,
    kind: Option<SlotKind>,
    space_before: bool,
    out: &mut Vec<Lexeme<'a>>,
) {
    let class = if let Some(kind) = kind {
        Class::Slot(kind)
    } else if is_unit_name(piece) {
        Class::Word
    } else if shape.digit {
        // Identifiers that embed digits (blk_123, node-7, attempt_1445_0001_m_000003_0, req-ab12...)
        // name instances, not kinds of events.
        Class::Slot(SlotKind::Any)
    } else if shape.alphanumeric || (shape.non_ascii && piece.chars().any(char::is_alphanumeric)) {
        Class::Word
    } else {
        Class::Punct
    };
    push(out, Lexeme { text: piece, class, space_before });
}

/// Two or more letters followed by one or two digits (eth0, tty2, sda1, ipv4) name a device, a
/// unit or a version far more often than an instance; they stay words, and the clusterer
/// generalises them like any other word if they turn out to vary. A single letter with digits
/// (U11, J16, R02) is a coordinate and stays masked.
fn is_unit_name(piece: &str) -> bool {
    let b = piece.as_bytes();
    let letters = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    let digits = b.len() - letters;
    letters >= 2 && (1..=2).contains(&digits) && b[letters..].iter().all(u8::is_ascii_digit)
}

/// Typed recognition of a whole token whose bytes were scanned into `shape`. Order matters: the
/// most specific shapes first.
fn token_kind(token: &str, shape: Shape) -> Option<SlotKind> {
    let b = token.as_bytes();
    let first = *b.first()?;
    let (digit, colon) = (shape.digit, shape.colon);
    let url = colon && is_url(token);
    if !digit {
        // Every other shape needs a digit; most words end here cheaply.
        return if url {
            Some(SlotKind::Url)
        } else if is_path(b) {
            Some(SlotKind::Path)
        } else {
            None
        };
    }
    let numeric_start = first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.');
    if is_uuid(b) {
        Some(SlotKind::Uuid)
    } else if url {
        Some(SlotKind::Url)
    } else if (first.is_ascii_digit() && is_ipv4_endpoint(b)) || (colon && is_ipv6(b)) {
        Some(SlotKind::Ip)
    } else if is_path(b) {
        Some(SlotKind::Path)
    } else if numeric_start && is_number(b) {
        Some(SlotKind::Num)
    } else if first.is_ascii_digit() && is_duration(b) {
        Some(SlotKind::Duration)
    } else if is_hex(b) || (colon || first.is_ascii_hexdigit()) && is_hex_bytes(b) {
        Some(SlotKind::Hex)
    } else {
        None
    }
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn scheme_start_before(b: &[u8], colon: usize) -> Option<usize> {
    let mut start = colon;
    while start > 0 && (b[start - 1].is_ascii_alphanumeric() || matches!(b[start - 1], b'+' | b'.' | b'-')) {
        start -= 1;
    }
    (start < colon && b[start].is_ascii_alphabetic()).then_some(start)
}

/// The first `://`, visiting only the colons.
fn find_scheme_separator(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = b[from..].iter().position(|&c| c == b':') {
        let colon = from + offset;
        if b.get(colon + 1..colon + 3) == Some(b"//".as_slice()) {
            return Some(colon);
        }
        from = colon + 1;
    }
    None
}

fn is_url(token: &str) -> bool {
    let b = token.as_bytes();
    match find_scheme_separator(b) {
        Some(colon) => colon + 3 < b.len() && scheme_start_before(b, colon) == Some(0),
        None => false,
    }
}

fn find_embedded_url(core: &str) -> Option<usize> {
    let b = core.as_bytes();
    let colon = find_scheme_separator(b)?;
    if colon + 3 >= b.len() {
        return None;
    }
    scheme_start_before(b, colon)
}

fn parse_digits(b: &[u8], at: usize) -> usize {
    b[at..].iter().take_while(|c| c.is_ascii_digit()).count()
}

fn is_ipv4_endpoint(b: &[u8]) -> bool {
    let mut at = 0;
    for octet in 0..4 {
        let n = parse_digits(b, at);
        if n == 0 || n > 3 {
            return false;
        }
        at += n;
        if octet < 3 {
            if b.get(at) != Some(&b'.') {
                return false;
            }
            at += 1;
        }
    }
    // Optional port or prefix length.
    if at < b.len() && matches!(b[at], b':' | b'/') {
        let n = parse_digits(b, at + 1);
        if n == 0 {
            return false;
        }
        at += 1 + n;
    }
    at == b.len()
}

fn is_ipv6(b: &[u8]) -> bool {
    // The cheap test that fails for most tokens (times, keys) comes first.
    if b.len() < 3 || !b.iter().all(|c| c.is_ascii_hexdigit() || *c == b':') {
        return false;
    }
    let colons = b.iter().filter(|&&c| c == b':').count();
    let compressed = b.windows(2).any(|w| w == b"::");
    (colons == 7 || (compressed && colons >= 2)) && b.iter().any(|c| c.is_ascii_hexdigit())
}

fn is_path(b: &[u8]) -> bool {
    let rooted = b.len() >= 2 && b[0] == b'/' && b[1] != b'/';
    let relative = b.starts_with(b"./") || b.starts_with(b"../") || b.starts_with(b"~/");
    let windows = b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/');
    (rooted || relative || windows) && b.iter().any(|c| c.is_ascii_alphanumeric())
}

/// Integer, decimal or scientific number, optionally signed, optionally a percentage.
fn is_number(b: &[u8]) -> bool {
    let mut at = usize::from(matches!(b[0], b'-' | b'+'));
    let int = parse_digits(b, at);
    at += int;
    let mut frac = 0;
    if b.get(at) == Some(&b'.') {
        frac = parse_digits(b, at + 1);
        at += 1 + frac;
    }
    if int + frac == 0 {
        return false;
    }
    if matches!(b.get(at), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(at + 1), Some(b'-' | b'+')));
        let exp = parse_digits(b, at + 1 + sign);
        if exp > 0 {
            at += 1 + sign + exp;
        }
    }
    if b.get(at) == Some(&b'%') {
        at += 1;
    }
    at == b.len()
}

const DURATION_UNITS: &[&str] =
    &["ns", "us", "µs", "ms", "s", "sec", "secs", "m", "min", "mins", "h", "hr", "hrs", "d", "days"];

/// `250ms`, `1.5s`, `3h20m10s`.
fn is_duration(b: &[u8]) -> bool {
    let mut at = 0;
    let mut parts = 0;
    while at < b.len() {
        let int = parse_digits(b, at);
        if int == 0 {
            return false;
        }
        at += int;
        if b.get(at) == Some(&b'.') {
            let frac = parse_digits(b, at + 1);
            if frac == 0 {
                return false;
            }
            at += 1 + frac;
        }
        let unit_len = b[at..].iter().take_while(|c| !c.is_ascii_digit() && **c != b'.').count();
        let unit = &b[at..at + unit_len];
        if !DURATION_UNITS.iter().any(|u| u.as_bytes() == unit) {
            return false;
        }
        at += unit_len;
        parts += 1;
    }
    parts > 0
}

/// `0x1f`, or a long hexadecimal string that mixes digits and letters (hashes, ids, addresses).
fn is_hex(b: &[u8]) -> bool {
    if b.len() > 2 && (b.starts_with(b"0x") || b.starts_with(b"0X")) {
        return b[2..].iter().all(u8::is_ascii_hexdigit);
    }
    b.len() >= 6
        && b.iter().all(u8::is_ascii_hexdigit)
        && b.iter().any(u8::is_ascii_digit)
        && b.iter().any(u8::is_ascii_alphabetic)
}

/// Five or more hex byte pairs joined by `:` or `-`: MAC addresses, WWNs, chip ids.
fn is_hex_bytes(b: &[u8]) -> bool {
    (b.len() + 1).is_multiple_of(3)
        && b.len() >= 14
        && b.iter().enumerate().all(|(i, &c)| match i % 3 {
            2 => c == b':' || c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Lowercase; see [`is_calendar_word`].
const CALENDAR_WORDS: &[&str] = &[
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "mon",
    "tue",
    "tues",
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "sun",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Longest entry of [`CALENDAR_WORDS`] ("september", "wednesday").
const LONGEST_CALENDAR_WORD: usize = 9;

fn is_calendar_word(text: &str) -> bool {
    let b = text.as_bytes();
    let capitalised = b.first().is_some_and(u8::is_ascii_uppercase);
    if !capitalised || b.len() > LONGEST_CALENDAR_WORD {
        return false;
    }
    // Lowercased once into a fixed-size key and compared whole, as integers: capitalised words
    // are common in logs, and comparing slices called `memcmp` once per name of the same length.
    let mut lower = [0u8; LONGEST_CALENDAR_WORD];
    for (slot, byte) in lower.iter_mut().zip(b) {
        *slot = byte.to_ascii_lowercase();
    }
    CALENDAR_KEYS.contains(&calendar_key(&lower, b.len()))
}

/// A word of at most [`LONGEST_CALENDAR_WORD`] bytes, zero-padded, with its length in the top
/// byte (so that a word ending in NUL bytes is not taken for a shorter one).
const fn calendar_key(word: &[u8], len: usize) -> u128 {
    let mut key = (len as u128) << 120;
    let mut i = 0;
    while i < len {
        key |= (word[i] as u128) << (8 * i);
        i += 1;
    }
    key
}

const CALENDAR_KEYS: [u128; CALENDAR_WORDS.len()] = {
    let mut keys = [0u128; CALENDAR_WORDS.len()];
    let mut i = 0;
    while i < keys.len() {
        let word = CALENDAR_WORDS[i].as_bytes();
        keys[i] = calendar_key(word, word.len());
        i += 1;
    }
    keys
};

/// Month and weekday names that sit inside a date ("Sun Jul 10 03:03:10 2005", "Jun 14") are
/// part of a timestamp: fold them into the neighbouring slot.
fn mask_calendar_words(tokens: &mut Vec<Lexeme<'_>>) {
    let mut i = tokens.len();
    while i > 0 {
        i -= 1;
        // The neighbour is checked first: a word followed by a spaced slot is rare, while testing
        // every word against the calendar names was a tenth of the lexer's time.
        let Some(&Lexeme { class: Class::Slot(kind), space_before: true, .. }) = tokens.get(i + 1) else {
            continue;
        };
        let t = tokens[i];
        if t.class != Class::Word || !is_calendar_word(t.text) {
            continue;
        }
        tokens[i].class = Class::Slot(kind.join(SlotKind::Any));
        tokens.remove(i + 1);
        if i > 0 && tokens[i].space_before {
            if let Class::Slot(prev) = tokens[i - 1].class {
                tokens[i - 1].class = Class::Slot(prev.join(SlotKind::Any));
                tokens.remove(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_words_are_capitalised_month_and_day_names_in_any_case() {
        for word in ["Jul", "JUL", "July", "September", "WEDNESDAY", "Sun"] {
            assert!(is_calendar_word(word), "{word}");
        }
        for word in ["jul", "Julyy", "Juli", "S", "", "Septembers", "Éjul"] {
            assert!(!is_calendar_word(word), "{word}");
        }
        assert!(CALENDAR_WORDS.iter().all(|w| w.len() <= LONGEST_CALENDAR_WORD && *w == w.to_ascii_lowercase()));
    }
}
