//! The check on publish `data` before it is forwarded byte for byte: JSON that
//! switchboard's parser accepts but other clients' parsers cannot read back is refused
//! with 116 `invalid_data`:
//!
//! - a string holding a lone UTF-16 surrogate escape (`"\ud800"`, or a trailing half
//!   `"\udc00"` with no leading half before it): not Unicode, so strict parsers (Rust's
//!   `serde_json`, Go's) refuse the whole message;
//! - a number no 64-bit float holds (`1e999999`, a 400-digit integer): JavaScript reads
//!   `Infinity`, strict parsers refuse it.
//!
//! The text is already valid JSON (`serde_json` checked its syntax), so one pass over
//! its bytes with no allocation suffices; a number is converted only when it could be
//! out of range (it has an exponent or more than [`PLAIN_DIGITS_IN_RANGE`] characters).
//! Every index is checked, so no input can make it panic.

/// A number written without exponent in fewer characters than this is always finite
/// as a 64-bit float (`f64::MAX` has 309 integer digits).
const PLAIN_DIGITS_IN_RANGE: usize = 309;

/// At most this much of an offending number is quoted in the error.
const QUOTED_NUMBER_LEN: usize = 24;

/// Why `raw` (one JSON value, as sent) may not be forwarded, or `None`.
pub(crate) fn data_problem(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at = match byte {
            b'"' => match string_end(bytes, at + 1) {
                Ok(end) => end,
                Err(problem) => return Some(problem),
            },
            b'-' | b'0'..=b'9' => {
                let len = bytes[at..]
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .unwrap_or(bytes.len() - at);
                let number = &raw[at..at + len];
                if let Some(problem) = number_problem(number) {
                    return Some(problem);
                }
                at + len
            }
            _ => at + 1,
        };
    }
    None
}

/// Where the string starting at `at` (just past its opening quote) ends, or the
/// problem with it.
fn string_end(bytes: &[u8], mut at: usize) -> Result<usize, String> {
    loop {
        match bytes.get(at) {
            None => return Ok(at),
            Some(b'"') => return Ok(at + 1),
            Some(b'\\') if bytes.get(at + 1) == Some(&b'u') => {
                let unit = hex_unit(bytes, at + 2);
                match unit {
                    Some(0xD800..=0xDBFF) => {
                        let pair = bytes.get(at + 6) == Some(&b'\\')
                            && bytes.get(at + 7) == Some(&b'u')
                            && matches!(hex_unit(bytes, at + 8), Some(0xDC00..=0xDFFF));
                        if !pair {
                            return Err(surrogate_problem(unit));
                        }
                        at += 12;
                    }
                    Some(0xDC00..=0xDFFF) => return Err(surrogate_problem(unit)),
                    _ => at += 6,
                }
            }
            Some(b'\\') => at += 2,
            Some(_) => at += 1,
        }
    }
}

fn surrogate_problem(unit: Option<u16>) -> String {
    format!(
        "`data` holds a lone UTF-16 surrogate (\\u{:04x}): every string must be valid Unicode",
        unit.unwrap_or_default()
    )
}

/// The four hex digits at `at` as a UTF-16 unit.
fn hex_unit(bytes: &[u8], at: usize) -> Option<u16> {
    let digits = bytes.get(at..at + 4)?;
    u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

fn number_problem(number: &str) -> Option<String> {
    let may_overflow =
        number.len() >= PLAIN_DIGITS_IN_RANGE || number.bytes().any(|b| b == b'e' || b == b'E');
    if !may_overflow || number.parse::<f64>().is_ok_and(f64::is_finite) {
        return None;
    }
    let quoted: String = number.chars().take(QUOTED_NUMBER_LEN).collect();
    let more = if number.len() > QUOTED_NUMBER_LEN {
        "..."
    } else {
        ""
    };
    Some(format!(
        "`data` holds a number out of the 64-bit float range ({quoted}{more})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_every_parser_reads_pass() {
        for ok in [
            r#"{"a":[1,2.5,-3e10,1E308,1e-999999,0]}"#,
            r#""plain \" \\ \n \u00e9 \ud83d\ude00 text""#,
            r#"["\\ud800 is only text here", true, false, null]"#,
            "123456789012345678901234567890",
            r#""""#,
        ] {
            assert_eq!(data_problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn lone_surrogates_and_infinite_numbers_are_refused() {
        for bad in [
            r#""\ud800""#,
            r#""\uDBFF x""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            r#""\ud800\ud800""#,
            r#"{"k":["ok","\ud83d"]}"#,
            "1e999999",
            "-1e400",
            r#"{"n":[1,2,1.8e308]}"#,
        ] {
            assert!(data_problem(bad).is_some(), "{bad}");
        }
        let digits = "9".repeat(400);
        let problem = data_problem(&digits).unwrap();
        assert!(problem.ends_with("...)"), "{problem}");
    }

    #[test]
    fn truncated_text_never_panics() {
        for cut in [
            r#""\ud8"#,
            r#""\ud800\u"#,
            r#""\ud800\udc"#,
            r#""\"#,
            "1e",
            "-",
        ] {
            let _ = data_problem(cut);
        }
    }
}
