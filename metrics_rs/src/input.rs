//! A run's borrowed input arrays and their validation.

use std::fmt;
use std::ops::Range;

use rayon::prelude::*;

pub use crate::columns::{Boxes, Column, Floats, Ints};

/// A bad argument: the message names the argument and, where there is one, the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

pub type Result<T> = std::result::Result<T, InputError>;

pub(crate) fn fail<T>(message: String) -> Result<T> {
    Err(InputError(message))
}

/// The annotation side of a whole run.
#[derive(Clone, Copy, Debug)]
pub struct GroundTruth<'a> {
    pub boxes: Boxes<'a>,
    pub labels: Ints<'a>,
    pub offsets: Ints<'a>,
}

/// The prediction side of a whole run.
#[derive(Clone, Copy, Debug)]
pub struct Predictions<'a> {
    pub boxes: Boxes<'a>,
    pub labels: Ints<'a>,
    pub scores: Floats<'a>,
    pub offsets: Ints<'a>,
}

/// A run's seven arrays, owned (what `read_coco` builds, and tests by hand).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnedRun {
    /// `(N, 4)` row-major x1 y1 x2 y2.
    pub gt_boxes: Vec<f64>,
    pub gt_labels: Vec<i64>,
    pub gt_offsets: Vec<i64>,
    /// `(M, 4)` row-major x1 y1 x2 y2.
    pub pred_boxes: Vec<f64>,
    pub pred_labels: Vec<i64>,
    pub pred_scores: Vec<f64>,
    pub pred_offsets: Vec<i64>,
}

impl OwnedRun {
    /// The arrays borrowed and checked as a [`Dataset`].
    pub fn dataset(&self, num_labels: i64) -> Result<Dataset<'_>> {
        let gt = GroundTruth {
            boxes: Boxes::f64(&self.gt_boxes, 4),
            labels: Column::Wide(&self.gt_labels),
            offsets: Column::Wide(&self.gt_offsets),
        };
        let pred = Predictions {
            boxes: Boxes::f64(&self.pred_boxes, 4),
            labels: Column::Wide(&self.pred_labels),
            scores: Column::Wide(&self.pred_scores),
            offsets: Column::Wide(&self.pred_offsets),
        };
        Dataset::new(gt, pred, num_labels)
    }
}

/// Annotations and predictions of a run, checked: every index below is in range.
#[derive(Clone, Copy, Debug)]
pub struct Dataset<'a> {
    pub gt: GroundTruth<'a>,
    pub pred: Predictions<'a>,
    pub num_labels: usize,
}

impl<'a> Dataset<'a> {
    /// Checks shapes, offsets, labels and finiteness; the first problem found is reported.
    pub fn new(gt: GroundTruth<'a>, pred: Predictions<'a>, num_labels: i64) -> Result<Self> {
        let Ok(num_labels) = usize::try_from(num_labels) else {
            return fail(format!("num_labels: expected >= 0, got {num_labels}"));
        };
        check_table("gt_boxes", gt.boxes, &[("gt_labels", gt.labels.len())])?;
        let pred_columns = [
            ("pred_labels", pred.labels.len()),
            ("pred_scores", pred.scores.len()),
        ];
        check_table("pred_boxes", pred.boxes, &pred_columns)?;
        check_offsets("gt_offsets", gt.offsets, gt.boxes.len(), "gt_boxes")?;
        check_offsets("pred_offsets", pred.offsets, pred.boxes.len(), "pred_boxes")?;
        if pred.offsets.len() != gt.offsets.len() {
            return fail(format!(
                "pred_offsets: expected {} values like gt_offsets (images + 1), got {}",
                gt.offsets.len(),
                pred.offsets.len()
            ));
        }
        check_labels("gt_labels", gt.labels, num_labels)?;
        check_labels("pred_labels", pred.labels, num_labels)?;
        check_boxes("gt_boxes", gt.boxes)?;
        check_boxes("pred_boxes", pred.boxes)?;
        check_finite("pred_scores", pred.scores)?;
        Ok(Dataset {
            gt,
            pred,
            num_labels,
        })
    }

    pub fn num_images(&self) -> usize {
        self.gt.offsets.len() - 1
    }

    pub fn num_gt(&self) -> usize {
        self.gt.boxes.len()
    }

    pub fn num_pred(&self) -> usize {
        self.pred.boxes.len()
    }

    /// Global indices of image `img`'s annotations.
    #[inline]
    pub fn gt_range(&self, img: usize) -> Range<usize> {
        to_usize(self.gt.offsets.get(img))..to_usize(self.gt.offsets.get(img + 1))
    }

    /// Global indices of image `img`'s predictions.
    #[inline]
    pub fn pred_range(&self, img: usize) -> Range<usize> {
        to_usize(self.pred.offsets.get(img))..to_usize(self.pred.offsets.get(img + 1))
    }

    #[inline]
    pub fn gt_label(&self, i: usize) -> usize {
        to_usize(self.gt.labels.get(i))
    }

    #[inline]
    pub fn pred_label(&self, i: usize) -> usize {
        to_usize(self.pred.labels.get(i))
    }

    /// Annotations per label.
    pub fn gt_count(&self) -> Vec<i64> {
        let mut counts = vec![0_i64; self.num_labels];
        for i in 0..self.num_gt() {
            counts[self.gt_label(i)] += 1;
        }
        counts
    }
}

/// Validated values are never negative; this keeps the conversion panic-free anyway.
#[inline]
fn to_usize(value: i64) -> usize {
    usize::try_from(value).unwrap_or(0)
}

/// Checks that `boxes` is `(N, 4)` and that each of `columns` (name, length) has one value
/// per row of it.
pub(crate) fn check_table(name: &str, boxes: Boxes<'_>, columns: &[(&str, usize)]) -> Result<()> {
    let (rows, cols) = boxes.shape();
    if cols != 4 {
        return fail(format!(
            "{name}: expected shape (N, 4), got ({rows}, {cols})"
        ));
    }
    for &(column, len) in columns {
        if len != rows {
            return fail(format!(
                "{column}: expected {rows} values (one per rows of {name}), got {len}"
            ));
        }
    }
    Ok(())
}

fn check_offsets(name: &str, offsets: Ints<'_>, total: usize, of: &str) -> Result<()> {
    let len = offsets.len();
    if len == 0 {
        return fail(format!(
            "{name}: expected images + 1 values starting at 0, got none"
        ));
    }
    if offsets.get(0) != 0 {
        return fail(format!("{name}[0]: expected 0, got {}", offsets.get(0)));
    }
    for i in 1..len {
        let (prev, cur) = (offsets.get(i - 1), offsets.get(i));
        if cur < prev {
            return fail(format!(
                "{name}[{i}]: {cur} is less than {name}[{}] = {prev} (offsets must not decrease)",
                i - 1
            ));
        }
    }
    let last = offsets.get(len - 1);
    if usize::try_from(last).ok() != Some(total) {
        return fail(format!(
            "{name}[{}]: expected {total} (the number of rows of {of}), got {last}",
            len - 1
        ));
    }
    Ok(())
}

/// Rows per parallel validation task.
const CHUNK: usize = 1 << 14;

/// First row of `values` (rows of `W` values) for which `bad` holds: blocks of rows are
/// checked in parallel, without branches inside a block (so it vectorises, with AVX2 where the
/// CPU has it), then the first bad block again row by row for the index (only on the error path).
fn first_bad<T: Copy + Sync, const W: usize>(
    values: &[T],
    bad: impl Fn([T; W]) -> bool + Sync,
) -> Option<usize> {
    let rows = values.as_chunks::<W>().0;
    let first = rows
        .par_chunks(CHUNK)
        .position_first(|block| any_bad(block, &bad))?;
    let offset = rows[first * CHUNK..].iter().position(|&r| bad(r))?;
    Some(first * CHUNK + offset)
}

/// Whether `bad` holds for any row; every row is looked at (no early exit, no branch).
#[inline(always)]
fn any_bad_portable<T: Copy, const W: usize>(
    rows: &[[T; W]],
    bad: &impl Fn([T; W]) -> bool,
) -> bool {
    rows.iter().fold(false, |acc, &r| acc | bad(r))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn any_bad_avx2<T: Copy, const W: usize>(rows: &[[T; W]], bad: &impl Fn([T; W]) -> bool) -> bool {
    any_bad_portable(rows, bad)
}

fn any_bad<T: Copy, const W: usize>(rows: &[[T; W]], bad: &impl Fn([T; W]) -> bool) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { any_bad_avx2(rows, bad) };
    }
    any_bad_portable(rows, bad)
}

/// `|v| < inf` is false for infinities and NaN alike.
#[inline(always)]
fn finite(v: f64) -> bool {
    v.abs() < f64::INFINITY
}

fn check_labels(name: &str, labels: Ints<'_>, num_labels: usize) -> Result<()> {
    let limit = i64::try_from(num_labels).unwrap_or(i64::MAX);
    let found = match labels {
        Column::Narrow(a) => first_bad(a, |[v]| (i64::from(v) < 0) | (i64::from(v) >= limit)),
        Column::Wide(a) => first_bad(a, |[v]| (v < 0) | (v >= limit)),
    };
    if let Some(i) = found {
        return fail(format!(
            "{name}[{i}]: {} is out of range for num_labels = {num_labels} \
             (expected 0 <= label < {num_labels})",
            labels.get(i)
        ));
    }
    Ok(())
}

/// Not finite, or x2 < x1 or y2 < y1 (NaN fails the comparisons too).
#[inline(always)]
fn bad_box(b: [f64; 4]) -> bool {
    let finite = finite(b[0]) & finite(b[1]) & finite(b[2]) & finite(b[3]);
    !(finite & (b[2] >= b[0]) & (b[3] >= b[1]))
}

pub(crate) fn check_boxes(name: &str, boxes: Boxes<'_>) -> Result<()> {
    let found = match boxes.values {
        Column::Narrow(a) => first_bad(a, |r: [f32; 4]| bad_box(r.map(f64::from))),
        Column::Wide(a) => first_bad(a, bad_box),
    };
    if let Some(i) = found {
        let b = boxes.get(i);
        let what = if b.iter().all(|v| v.is_finite()) {
            "x2 < x1 or y2 < y1"
        } else {
            "not finite"
        };
        return fail(format!(
            "{name}[{i}]: [{}, {}, {}, {}] is {what}",
            b[0], b[1], b[2], b[3]
        ));
    }
    Ok(())
}

fn check_finite(name: &str, values: Floats<'_>) -> Result<()> {
    let found = match values {
        Column::Narrow(a) => first_bad(a, |[v]: [f32; 1]| !finite(v.into())),
        Column::Wide(a) => first_bad(a, |[v]: [f64; 1]| !finite(v)),
    };
    if let Some(i) = found {
        return fail(format!("{name}[{i}]: {} is not finite", values.get(i)));
    }
    Ok(())
}

/// Checks `0 < iou <= low <= 1`.
pub fn check_overlaps(iou: f64, low: f64) -> Result<()> {
    if !(iou > 0.0 && iou <= low && low <= 1.0) {
        return fail(format!(
            "iou_threshold, low_overlap_threshold: expected 0 < iou_threshold <= \
             low_overlap_threshold <= 1, got {iou} and {low}"
        ));
    }
    Ok(())
}

/// Checks a confidence in [0, 1].
pub fn check_confidence(name: &str, value: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&value) {
        return fail(format!("{name}: {value} is outside [0, 1]"));
    }
    Ok(())
}

/// Checks one confidence per label, each in [0, 1], and returns them as f64.
pub fn check_label_thresholds(values: Floats<'_>, num_labels: usize) -> Result<Vec<f64>> {
    if values.len() != num_labels {
        return fail(format!(
            "label_thresholds: expected {num_labels} values (num_labels), got {}",
            values.len()
        ));
    }
    let values = values.to_vec();
    for (i, &v) in values.iter().enumerate() {
        check_confidence(&format!("label_thresholds[{i}]"), v)?;
    }
    Ok(values)
}

#[cfg(test)]
#[path = "input_tests.rs"]
pub(crate) mod tests;
