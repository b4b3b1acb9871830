//! COCO files parsed as a stream of typed records (`coco_records`), each error located (file,
//! section, element, field, line and column). The arrays are built from the records in
//! `coco_files`.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::marker::PhantomData;
use std::path::Path;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category as ErrorCategory;

use crate::coco_records::{Annotation, Category, Detection, FromRecord, Image, RecordSeed};

/// Where the parser is, kept up to date while it reads, so that an error can name the place.
#[derive(Default)]
pub(crate) struct Place {
    section: Cell<&'static str>,
    index: Cell<Option<usize>>,
    field: Cell<&'static str>,
}

impl Place {
    /// The field being read, `""` between fields.
    pub(crate) fn set_field(&self, name: &'static str) {
        self.field.set(name);
    }

    fn prefix(&self, file: &str) -> String {
        let mut out = file.to_owned();
        if !self.section.get().is_empty() {
            out = format!("{out}: {}", self.section.get());
        }
        if let Some(i) = self.index.get() {
            out = format!("{out}[{i}]");
        }
        if !self.field.get().is_empty() {
            out = format!("{out}: \"{}\"", self.field.get());
        }
        out
    }
}

/// A JSON list of records of kind `T`, the index of the element being read kept in `place`.
struct ListSeed<'a, T> {
    place: &'a Place,
    kind: PhantomData<T>,
}

impl<'a, T> ListSeed<'a, T> {
    fn new(place: &'a Place) -> Self {
        ListSeed {
            place,
            kind: PhantomData,
        }
    }
}

impl<'de, T: FromRecord> DeserializeSeed<'de> for ListSeed<'_, T> {
    type Value = Vec<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: FromRecord> Visitor<'de> for ListSeed<'_, T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::new();
        loop {
            self.place.index.set(Some(out.len()));
            let seed = RecordSeed {
                place: self.place,
                kind: PhantomData,
            };
            match seq.next_element_seed(seed)? {
                Some(record) => out.push(record),
                None => break,
            }
        }
        self.place.index.set(None);
        Ok(out)
    }
}

/// The three lists of a COCO data set that evaluation reads; `None` where the key is absent.
#[derive(Default)]
pub(crate) struct RawDataset {
    pub images: Option<Vec<Image>>,
    pub categories: Option<Vec<Category>>,
    pub annotations: Option<Vec<Annotation>>,
}

struct DatasetSeed<'a>(&'a Place);

impl<'de> DeserializeSeed<'de> for DatasetSeed<'_> {
    type Value = RawDataset;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawDataset, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DatasetSeed<'_> {
    type Value = RawDataset;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a COCO data set (a JSON object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawDataset, A::Error> {
        let mut out = RawDataset::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "images" => {
                    self.0.section.set("images");
                    out.images = Some(map.next_value_seed(ListSeed::new(self.0))?);
                }
                "categories" => {
                    self.0.section.set("categories");
                    out.categories = Some(map.next_value_seed(ListSeed::new(self.0))?);
                }
                "annotations" => {
                    self.0.section.set("annotations");
                    out.annotations = Some(map.next_value_seed(ListSeed::new(self.0))?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            self.0.section.set("");
        }
        for (key, present) in [
            ("categories", out.categories.is_some()),
            ("images", out.images.is_some()),
            ("annotations", out.annotations.is_some()),
        ] {
            if !present {
                return Err(de::Error::custom(format!("\"{key}\" is missing")));
            }
        }
        Ok(out)
    }
}

/// A file that could not be used: `syntax` for unreadable or invalid JSON, else a COCO error.
#[derive(Debug)]
pub(crate) struct FileError {
    pub syntax: bool,
    pub message: String,
}

fn io_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_owned()
}

/// Streams `path` through `seed` (a buffer, never the whole file in memory).
fn parse<T>(
    path: &Path,
    seed: impl for<'de> DeserializeSeed<'de, Value = T>,
    place: &Place,
) -> Result<T, FileError> {
    let file = path.display().to_string();
    let unreadable = |e: std::io::Error| FileError {
        syntax: true,
        message: format!("{file}: cannot read the file ({})", io_message(&e)),
    };
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(unreadable)?);
    if reader
        .fill_buf()
        .map_err(unreadable)?
        .starts_with(b"\xEF\xBB\xBF")
    {
        reader.consume(3); // a UTF-8 byte order mark, as Python's json.loads accepts
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    let located = |e: serde_json::Error| match e.classify() {
        ErrorCategory::Data => FileError {
            syntax: false,
            message: format!("{}: {e}", place.prefix(&file)),
        },
        ErrorCategory::Io => FileError {
            syntax: true,
            message: format!("{file}: cannot read the file ({e})"),
        },
        ErrorCategory::Syntax | ErrorCategory::Eof => FileError {
            syntax: true,
            message: format!("{file}: not valid JSON ({e})"),
        },
    };
    let value = seed.deserialize(&mut de).map_err(located)?;
    de.end().map_err(located)?;
    Ok(value)
}

/// A COCO data set file: its categories, images and annotations.
pub(crate) fn parse_dataset(path: &Path) -> Result<RawDataset, FileError> {
    let place = Place::default();
    parse(path, DatasetSeed(&place), &place)
}

/// A COCO results file: a list of detections.
pub(crate) fn parse_results(path: &Path) -> Result<Vec<Detection>, FileError> {
    let place = Place::default();
    parse(path, ListSeed::new(&place), &place)
}
