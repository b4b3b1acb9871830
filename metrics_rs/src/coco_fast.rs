//! The results file's fast path: the file read in blocks, each block's complete objects found
//! by a scan of braces and strings, then parsed in parallel, each with serde_json over its
//! slice. It only says yes or no: any problem sends the caller to the located, streaming
//! parser, which reads the file again and names the place.
//!
//! Equivalence: the separators between objects are checked here (`[`, commas, `]`, white
//! space) and every object is checked whole by serde_json, so a file accepted here is a valid
//! JSON list of valid records, which the streaming parser accepts with the same values.

use std::fs::File;
use std::io::Read;
use std::marker::PhantomData;
use std::ops::Range;
use std::path::Path;

use rayon::prelude::*;
use serde::de::DeserializeSeed;

use crate::coco_json::Place;
use crate::coco_records::{Detection, RecordSeed};

const BLOCK: usize = 4 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Open,
    FirstOrClose,
    Element,
    CommaOrClose,
}

/// Where the complete objects of `buf` lie; how far it was consumed; whether `]` was met.
struct Split {
    objects: Vec<Range<usize>>,
    consumed: usize,
    closed: bool,
}

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The first position from `i` on that is not white space (`buf.len()` if none).
#[inline]
fn skip_space(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && is_space(buf[i]) {
        i += 1;
    }
    i
}

/// The end (exclusive) of the object starting at `start`, `None` if `buf` ends first.
fn end_of_object(buf: &[u8], start: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in buf.iter().enumerate().skip(start) {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits `buf` into objects; `None` for anything but a list of objects.
fn split(buf: &[u8], expect: &mut Expect) -> Option<Split> {
    let mut s = Split {
        objects: Vec::new(),
        consumed: 0,
        closed: false,
    };
    loop {
        let i = skip_space(buf, s.consumed);
        s.consumed = i;
        let Some(&b) = buf.get(i) else {
            return Some(s);
        };
        match (*expect, b) {
            (Expect::Open, b'[') => *expect = Expect::FirstOrClose,
            (Expect::FirstOrClose | Expect::CommaOrClose, b']') => {
                s.consumed = i + 1;
                s.closed = true;
                return Some(s);
            }
            (Expect::FirstOrClose | Expect::Element, b'{') => {
                let Some(end) = end_of_object(buf, i) else {
                    return Some(s);
                };
                s.objects.push(i..end);
                *expect = Expect::CommaOrClose;
                s.consumed = end;
                continue;
            }
            (Expect::CommaOrClose, b',') => *expect = Expect::Element,
            _ => return None,
        }
        s.consumed = i + 1;
    }
}

fn parse_one(bytes: &[u8]) -> Option<Detection> {
    let place = Place::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = RecordSeed::<Detection> {
        place: &place,
        kind: PhantomData,
    };
    let record = seed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(record)
}

/// Appends up to `BLOCK` bytes of `file` to `buf`; false at the end of the file.
fn fill(file: &mut File, buf: &mut Vec<u8>) -> Option<bool> {
    let n = file.by_ref().take(BLOCK as u64).read_to_end(buf).ok()?;
    Some(n > 0)
}

/// The detections of a COCO results file, or `None` where the located parser must look.
pub(crate) fn parse_results_fast(path: &Path) -> Option<Vec<Detection>> {
    let mut file = File::open(path).ok()?;
    let mut buf = Vec::with_capacity(BLOCK);
    let mut more = fill(&mut file, &mut buf)?;
    if buf.starts_with(b"\xEF\xBB\xBF") {
        buf.drain(..3);
    }
    let mut expect = Expect::Open;
    let mut out = Vec::new();
    loop {
        let s = split(&buf, &mut expect)?;
        let parsed: Option<Vec<Detection>> = s
            .objects
            .par_iter()
            .map(|r| parse_one(&buf[r.clone()]))
            .collect();
        out.extend(parsed?);
        buf.drain(..s.consumed);
        if s.closed {
            loop {
                if !buf.iter().all(|&b| is_space(b)) {
                    return None;
                }
                buf.clear();
                if !fill(&mut file, &mut buf)? {
                    return Some(out);
                }
            }
        }
        if !more {
            return None;
        }
        more = fill(&mut file, &mut buf)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(text: &str) -> Option<usize> {
        let mut expect = Expect::Open;
        let s = split(text.as_bytes(), &mut expect)?;
        s.closed.then_some(s.objects.len())
    }

    #[test]
    fn a_list_of_objects_is_split_at_its_top_level_braces() {
        assert_eq!(objects(r#" [ {"a": "}{\"", "b": [{}]} , {} ] "#), Some(2));
        assert_eq!(objects("[]"), Some(0));
    }

    #[test]
    fn anything_else_is_left_to_the_located_parser() {
        for text in ["[1]", "[{},]", "[{} {}]", "{}", "[,{}]", "[{}}]"] {
            assert_eq!(objects(text), None, "{text}");
        }
        assert_eq!(objects("[{}, {"), None);
    }

    #[test]
    fn a_file_of_several_blocks_gives_the_located_parsers_records() {
        let mut text = String::from("\u{feff}[\n");
        for i in 0..120_000 {
            let sep = if i == 0 { "" } else { ",\n" };
            text += &format!(
                r#"{sep}  {{"image_id": {i}, "note": "a \"}}\" ü", "category_id": {}, "bbox": [{}, 0.1, 2e-3, 1E2], "score": {}}}"#,
                i % 7,
                i as f64 / 3.0,
                1.0 / (i as f64 + 1.0),
            );
        }
        text += "\n]\n";
        assert!(text.len() > 2 * BLOCK);
        let path = std::env::temp_dir().join(format!("coco_fast_{}.json", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let fast = parse_results_fast(&path).expect("the fast path takes a valid file");
        let slow = crate::coco_json::parse_results(&path).unwrap();
        assert_eq!(fast.len(), 120_000);
        for (a, b) in fast.iter().zip(&slow) {
            assert_eq!((a.image_id, a.category_id), (b.image_id, b.category_id));
            assert_eq!((a.bbox, a.score.to_bits()), (b.bbox, b.score.to_bits()));
        }
        std::fs::write(&path, &text[..text.len() - 3]).unwrap();
        assert!(parse_results_fast(&path).is_none());
        std::fs::write(&path, text + "x").unwrap();
        assert!(parse_results_fast(&path).is_none());
        let _ = std::fs::remove_file(&path);
    }
}
