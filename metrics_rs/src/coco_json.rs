//! COCO files parsed as a stream of typed records, each error located (file, section, element,
//! field, line and column). The arrays are built from the records in `coco_files`.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::error::Category as ErrorCategory;

/// Where the parser is, kept up to date while it reads, so that an error can name the place.
#[derive(Default)]
pub(crate) struct Place {
    section: Cell<&'static str>,
    index: Cell<Option<usize>>,
    field: Cell<&'static str>,
}

impl Place {
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

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Id,
    ImageId,
    CategoryId,
    Bbox,
    Score,
    Name,
    Other,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::ImageId => "image_id",
            Field::CategoryId => "category_id",
            Field::Bbox => "bbox",
            Field::Score => "score",
            Field::Name => "name",
            Field::Other => "",
        }
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "id" => Field::Id,
                    "image_id" => Field::ImageId,
                    "category_id" => Field::CategoryId,
                    "bbox" => Field::Bbox,
                    "score" => Field::Score,
                    "name" => Field::Name,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(FieldVisitor)
    }
}

/// A JSON integer that fits an i64 (not a float, not a boolean).
struct Int(i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IntVisitor;
        impl Visitor<'_> for IntVisitor {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &"a 64-bit integer"))
            }
        }
        d.deserialize_i64(IntVisitor)
    }
}

/// A JSON number, integer or not (never a boolean); JSON has no NaN or infinity.
struct Number(f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl Visitor<'_> for NumberVisitor {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
        }
        d.deserialize_f64(NumberVisitor)
    }
}

/// `[x, y, w, h]`: exactly four numbers.
struct Bbox([f64; 4]);

impl<'de> Deserialize<'de> for Bbox {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct BboxVisitor;
        impl<'de> Visitor<'de> for BboxVisitor {
            type Value = Bbox;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("4 numbers [x, y, w, h]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bbox, A::Error> {
                let mut out = [0.0; 4];
                let mut n = 0;
                while let Some(Number(v)) = seq.next_element()? {
                    if n < 4 {
                        out[n] = v;
                    }
                    n += 1;
                }
                if n != 4 {
                    return Err(de::Error::invalid_length(n, &self));
                }
                Ok(Bbox(out))
            }
        }
        d.deserialize_seq(BboxVisitor)
    }
}

/// The fields of one object that its kind of record reads; other fields are skipped unread.
#[derive(Default)]
pub(crate) struct Record {
    id: Option<i64>,
    image_id: Option<i64>,
    category_id: Option<i64>,
    bbox: Option<[f64; 4]>,
    score: Option<f64>,
    name: Option<serde_json::Value>,
}

/// A kind of COCO record: which fields it reads, which it requires, and its compact form.
pub(crate) trait FromRecord: Sized {
    const FIELDS: &'static [Field];
    /// The compact record, or the first required field that is missing.
    fn from_record(r: Record) -> Result<Self, &'static str>;
}

pub(crate) struct Image {
    pub id: i64,
}

pub(crate) struct Category {
    pub id: i64,
    pub name: Option<String>,
}

pub(crate) struct Annotation {
    pub image_id: i64,
    pub category_id: i64,
    pub bbox: [f64; 4],
}

pub(crate) struct Detection {
    pub image_id: i64,
    pub category_id: i64,
    pub bbox: [f64; 4],
    pub score: f64,
}

impl FromRecord for Image {
    const FIELDS: &'static [Field] = &[Field::Id];
    fn from_record(r: Record) -> Result<Self, &'static str> {
        Ok(Image {
            id: r.id.ok_or("id")?,
        })
    }
}

impl FromRecord for Category {
    const FIELDS: &'static [Field] = &[Field::Id, Field::Name];
    fn from_record(r: Record) -> Result<Self, &'static str> {
        let name = match r.name {
            Some(serde_json::Value::String(s)) => Some(s),
            _ => None,
        };
        Ok(Category {
            id: r.id.ok_or("id")?,
            name,
        })
    }
}

impl FromRecord for Annotation {
    const FIELDS: &'static [Field] = &[Field::ImageId, Field::CategoryId, Field::Bbox];
    fn from_record(r: Record) -> Result<Self, &'static str> {
        Ok(Annotation {
            image_id: r.image_id.ok_or("image_id")?,
            category_id: r.category_id.ok_or("category_id")?,
            bbox: r.bbox.ok_or("bbox")?,
        })
    }
}

impl FromRecord for Detection {
    const FIELDS: &'static [Field] =
        &[Field::ImageId, Field::CategoryId, Field::Bbox, Field::Score];
    fn from_record(r: Record) -> Result<Self, &'static str> {
        Ok(Detection {
            image_id: r.image_id.ok_or("image_id")?,
            category_id: r.category_id.ok_or("category_id")?,
            bbox: r.bbox.ok_or("bbox")?,
            score: r.score.ok_or("score")?,
        })
    }
}

/// One JSON object read as a record of kind `T` (only objects: COCO has no array records).
pub(crate) struct RecordSeed<'a, T> {
    pub place: &'a Place,
    pub kind: PhantomData<T>,
}

impl<'de, T: FromRecord> DeserializeSeed<'de> for RecordSeed<'_, T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: FromRecord> Visitor<'de> for RecordSeed<'_, T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut r = Record::default();
        while let Some(field) = map.next_key::<Field>()? {
            if !T::FIELDS.contains(&field) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            self.place.field.set(field.name());
            // A repeated field keeps its last value, as Python's json module does.
            match field {
                Field::Id => r.id = Some(map.next_value::<Int>()?.0),
                Field::ImageId => r.image_id = Some(map.next_value::<Int>()?.0),
                Field::CategoryId => r.category_id = Some(map.next_value::<Int>()?.0),
                Field::Bbox => r.bbox = Some(map.next_value::<Bbox>()?.0),
                Field::Score => r.score = Some(map.next_value::<Number>()?.0),
                Field::Name => r.name = Some(map.next_value()?),
                Field::Other => unreachable!("no record reads unknown fields"),
            }
            self.place.field.set("");
        }
        T::from_record(r).map_err(|name| de::Error::custom(format!("\"{name}\" is missing")))
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
