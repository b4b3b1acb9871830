//! The records of COCO files (images, categories, annotations, detections) and the JSON
//! values they hold, read by serde with messages that name what was expected.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, DeserializeSeed, Expected, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor,
};
use serde::{Deserialize, Deserializer};

use crate::coco_json::Place;

/// The fields that records read; any other is skipped unread.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
pub(crate) enum Field {
    Id,
    ImageId,
    CategoryId,
    Bbox,
    Score,
    Name,
    #[serde(other)]
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

/// A number as serde_json's parser hands it over (JSON has no NaN or infinity).
#[derive(Clone, Copy)]
enum Parsed {
    Signed(i64),
    Unsigned(u64),
    Float(f64),
}

/// What a number field holds: ids an integer that fits an i64, coordinates and scores any
/// number.
trait FromNumber: Sized {
    const EXPECTING: &'static str;
    /// The value, or `None` where the field refuses the number.
    fn from_number(n: Parsed) -> Option<Self>;
}

impl FromNumber for i64 {
    const EXPECTING: &'static str = "an integer";
    fn from_number(n: Parsed) -> Option<i64> {
        match n {
            Parsed::Signed(v) => Some(v),
            Parsed::Unsigned(v) => i64::try_from(v).ok(),
            Parsed::Float(_) => None,
        }
    }
}

impl FromNumber for f64 {
    const EXPECTING: &'static str = "a number";
    fn from_number(n: Parsed) -> Option<f64> {
        Some(match n {
            Parsed::Signed(v) => v as f64,
            Parsed::Unsigned(v) => v as f64,
            Parsed::Float(v) => v,
        })
    }
}

/// A JSON number read as `T` (never a boolean, a string or null).
struct Number<T>(T);

impl<'de, T: FromNumber> Deserialize<'de> for Number<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // serde_json parses every number alike, whichever `deserialize_*` is asked for.
        d.deserialize_f64(NumberVisitor(PhantomData))
    }
}

struct NumberVisitor<T>(PhantomData<T>);

impl<T: FromNumber> NumberVisitor<T> {
    fn take<E: de::Error>(&self, n: Parsed) -> Result<Number<T>, E> {
        T::from_number(n)
            .map(Number)
            .ok_or_else(|| refused(n, self))
    }
}

/// The error for a number a field refuses: too large for an integer, or not one.
fn refused<E: de::Error>(n: Parsed, expected: &dyn Expected) -> E {
    match n {
        Parsed::Unsigned(v) => E::invalid_value(Unexpected::Unsigned(v), &"a 64-bit integer"),
        Parsed::Signed(v) => E::invalid_type(Unexpected::Signed(v), expected),
        Parsed::Float(v) => E::invalid_type(Unexpected::Float(v), expected),
    }
}

impl<T: FromNumber> Visitor<'_> for NumberVisitor<T> {
    type Value = Number<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number<T>, E> {
        self.take(Parsed::Signed(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number<T>, E> {
        self.take(Parsed::Unsigned(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number<T>, E> {
        self.take(Parsed::Float(v))
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
                while let Some(Number(v)) = seq.next_element::<Number<f64>>()? {
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
            self.place.set_field(field.name());
            // A repeated field keeps its last value, as Python's json module does.
            match field {
                Field::Id => r.id = Some(map.next_value::<Number<i64>>()?.0),
                Field::ImageId => r.image_id = Some(map.next_value::<Number<i64>>()?.0),
                Field::CategoryId => r.category_id = Some(map.next_value::<Number<i64>>()?.0),
                Field::Bbox => r.bbox = Some(map.next_value::<Bbox>()?.0),
                Field::Score => r.score = Some(map.next_value::<Number<f64>>()?.0),
                Field::Name => r.name = Some(map.next_value()?),
                Field::Other => unreachable!("no record reads unknown fields"),
            }
            self.place.set_field("");
        }
        T::from_record(r).map_err(|name| de::Error::custom(format!("\"{name}\" is missing")))
    }
}
