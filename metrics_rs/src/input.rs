//! Borrowed input columns (float32/float64, int32/int64, any strides) and their validation.

use std::fmt;
use std::ops::Range;

use rayon::prelude::*;

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

fn fail<T>(message: String) -> Result<T> {
    Err(InputError(message))
}

/// A borrowed, contiguous float column (scores, thresholds, box coordinates).
#[derive(Clone, Copy, Debug)]
pub enum Floats<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl Floats<'_> {
    pub fn len(&self) -> usize {
        match self {
            Floats::F32(a) => a.len(),
            Floats::F64(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn get(&self, i: usize) -> f64 {
        match self {
            Floats::F32(a) => f64::from(a[i]),
            Floats::F64(a) => a[i],
        }
    }

    pub fn to_vec(&self) -> Vec<f64> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }

    /// Appends `self[range]` as f64 (one dtype dispatch per call, not per value).
    #[inline]
    pub fn extend_into(&self, range: Range<usize>, out: &mut Vec<f64>) {
        match self {
            Floats::F32(a) => out.extend(a[range].iter().map(|&v| f64::from(v))),
            Floats::F64(a) => out.extend_from_slice(&a[range]),
        }
    }
}

/// Boxes `(rows, cols)` as x1 y1 x2 y2, borrowed row-major; `cols` must be 4.
#[derive(Clone, Copy, Debug)]
pub struct Boxes<'a> {
    pub values: Floats<'a>,
    pub cols: usize,
}

impl<'a> Boxes<'a> {
    pub fn f64(values: &'a [f64], cols: usize) -> Self {
        Boxes {
            values: Floats::F64(values),
            cols,
        }
    }

    pub fn f32(values: &'a [f32], cols: usize) -> Self {
        Boxes {
            values: Floats::F32(values),
            cols,
        }
    }

    pub fn shape(&self) -> (usize, usize) {
        (
            self.values.len().checked_div(self.cols).unwrap_or(0),
            self.cols,
        )
    }

    pub fn len(&self) -> usize {
        self.shape().0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends rows `range` as f64 (one dtype dispatch per call, not per row).
    #[inline]
    pub fn extend_into(&self, range: Range<usize>, out: &mut Vec<[f64; 4]>) {
        let flat = 4 * range.start..4 * range.end;
        match self.values {
            Floats::F32(a) => out.extend(a[flat].chunks_exact(4).map(|r| {
                [
                    f64::from(r[0]),
                    f64::from(r[1]),
                    f64::from(r[2]),
                    f64::from(r[3]),
                ]
            })),
            Floats::F64(a) => out.extend(a[flat].chunks_exact(4).map(|r| [r[0], r[1], r[2], r[3]])),
        }
    }

    /// Row `i` as f64; `i` must be in range and the boxes validated to have 4 columns.
    #[inline]
    pub fn get(&self, i: usize) -> [f64; 4] {
        match self.values {
            Floats::F32(a) => {
                let r = &a[4 * i..4 * i + 4];
                [
                    f64::from(r[0]),
                    f64::from(r[1]),
                    f64::from(r[2]),
                    f64::from(r[3]),
                ]
            }
            Floats::F64(a) => {
                let r = &a[4 * i..4 * i + 4];
                [r[0], r[1], r[2], r[3]]
            }
        }
    }
}

/// A borrowed, contiguous integer column (labels, offsets).
#[derive(Clone, Copy, Debug)]
pub enum Ints<'a> {
    I32(&'a [i32]),
    I64(&'a [i64]),
}

impl Ints<'_> {
    pub fn len(&self) -> usize {
        match self {
            Ints::I32(a) => a.len(),
            Ints::I64(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        match self {
            Ints::I32(a) => i64::from(a[i]),
            Ints::I64(a) => a[i],
        }
    }

    /// Appends `self[range]` as indices; the values must be validated non-negative.
    #[inline]
    pub fn extend_into(&self, range: Range<usize>, out: &mut Vec<usize>) {
        match self {
            Ints::I32(a) => out.extend(a[range].iter().map(|&v| v as usize)),
            Ints::I64(a) => out.extend(a[range].iter().map(|&v| v as usize)),
        }
    }
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
        check_box_shape("gt_boxes", gt.boxes)?;
        check_len(
            "gt_labels",
            gt.labels.len(),
            gt.boxes.len(),
            "rows of gt_boxes",
        )?;
        check_box_shape("pred_boxes", pred.boxes)?;
        check_len(
            "pred_labels",
            pred.labels.len(),
            pred.boxes.len(),
            "rows of pred_boxes",
        )?;
        check_len(
            "pred_scores",
            pred.scores.len(),
            pred.boxes.len(),
            "rows of pred_boxes",
        )?;
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

fn check_box_shape(name: &str, boxes: Boxes<'_>) -> Result<()> {
    let (rows, cols) = boxes.shape();
    if cols != 4 {
        return fail(format!(
            "{name}: expected shape (N, 4), got ({rows}, {cols})"
        ));
    }
    Ok(())
}

fn check_len(name: &str, got: usize, want: usize, what: &str) -> Result<()> {
    if got != want {
        return fail(format!(
            "{name}: expected {want} values (one per {what}), got {got}"
        ));
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
        Ints::I32(a) => first_bad(a, |[v]| (i64::from(v) < 0) | (i64::from(v) >= limit)),
        Ints::I64(a) => first_bad(a, |[v]| (v < 0) | (v >= limit)),
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

fn check_boxes(name: &str, boxes: Boxes<'_>) -> Result<()> {
    let found = match boxes.values {
        Floats::F32(a) => first_bad(a, |r: [f32; 4]| bad_box(r.map(f64::from))),
        Floats::F64(a) => first_bad(a, bad_box),
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
        Floats::F32(a) => first_bad(a, |[v]: [f32; 1]| !finite(v.into())),
        Floats::F64(a) => first_bad(a, |[v]: [f64; 1]| !finite(v)),
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
pub(crate) mod tests {
    use super::*;

    /// Owned arrays for one test run, viewed as a `Dataset`.
    pub struct Owned {
        pub gt_boxes: Vec<f64>,
        pub gt_labels: Vec<i64>,
        pub gt_offsets: Vec<i64>,
        pub pred_boxes: Vec<f64>,
        pub pred_labels: Vec<i64>,
        pub pred_scores: Vec<f64>,
        pub pred_offsets: Vec<i64>,
    }

    impl Owned {
        /// Images given as (annotations [(box, label)], predictions [(box, label, score)]).
        #[allow(clippy::type_complexity)]
        pub fn new(images: &[(Vec<([f64; 4], i64)>, Vec<([f64; 4], i64, f64)>)]) -> Self {
            let (mut gb, mut gl, mut go) = (vec![], vec![], vec![0_i64]);
            let (mut pb, mut pl, mut ps, mut po) = (vec![], vec![], vec![], vec![0_i64]);
            for (gts, preds) in images {
                for (b, l) in gts {
                    gb.extend_from_slice(b);
                    gl.push(*l);
                }
                go.push(gl.len() as i64);
                for (b, l, s) in preds {
                    pb.extend_from_slice(b);
                    pl.push(*l);
                    ps.push(*s);
                }
                po.push(pl.len() as i64);
            }
            Owned {
                gt_boxes: gb,
                gt_labels: gl,
                gt_offsets: go,
                pred_boxes: pb,
                pred_labels: pl,
                pred_scores: ps,
                pred_offsets: po,
            }
        }

        pub fn dataset(&self, num_labels: i64) -> Result<Dataset<'_>> {
            Dataset::new(
                GroundTruth {
                    boxes: Boxes::f64(&self.gt_boxes, 4),
                    labels: Ints::I64(&self.gt_labels),
                    offsets: Ints::I64(&self.gt_offsets),
                },
                Predictions {
                    boxes: Boxes::f64(&self.pred_boxes, 4),
                    labels: Ints::I64(&self.pred_labels),
                    scores: Floats::F64(&self.pred_scores),
                    offsets: Ints::I64(&self.pred_offsets),
                },
                num_labels,
            )
        }
    }

    fn one_image() -> Owned {
        Owned::new(&[(
            vec![([0.0, 0.0, 10.0, 10.0], 0), ([5.0, 5.0, 9.0, 9.0], 1)],
            vec![([0.0, 0.0, 10.0, 10.0], 1, 0.9)],
        )])
    }

    fn message(result: Result<Dataset<'_>>) -> String {
        result.expect_err("expected an error").0
    }

    #[test]
    fn valid_input_is_accepted() {
        let owned = one_image();
        let ds = owned.dataset(2).unwrap();
        assert_eq!(ds.num_images(), 1);
        assert_eq!(ds.gt_range(0), 0..2);
        assert_eq!(ds.pred_range(0), 0..1);
        assert_eq!(ds.gt_count(), vec![1, 1]);
    }

    #[test]
    fn label_out_of_range_names_argument_and_index() {
        let owned = one_image();
        let msg = message(owned.dataset(1));
        assert!(msg.starts_with("gt_labels[1]: 1 is out of range"), "{msg}");
    }

    #[test]
    fn negative_num_labels_is_rejected() {
        let owned = one_image();
        assert!(message(owned.dataset(-1)).starts_with("num_labels"));
    }

    #[test]
    fn decreasing_offsets_are_rejected() {
        let mut owned = one_image();
        owned.gt_offsets = vec![0, 2, 1, 2];
        owned.pred_offsets = vec![0, 1, 1, 1];
        let msg = message(owned.dataset(2));
        assert!(
            msg.starts_with("gt_offsets[2]: 1 is less than gt_offsets[1] = 2"),
            "{msg}"
        );
    }

    #[test]
    fn offsets_must_end_at_the_row_count() {
        let mut owned = one_image();
        owned.pred_offsets = vec![0, 0];
        let msg = message(owned.dataset(2));
        assert!(msg.starts_with("pred_offsets[1]: expected 1"), "{msg}");
    }

    #[test]
    fn offsets_of_different_lengths_are_rejected() {
        let mut owned = one_image();
        owned.pred_offsets = vec![0, 1, 1];
        owned.gt_offsets = vec![0, 2];
        assert!(message(owned.dataset(2)).starts_with("pred_offsets: expected 2 values"));
    }

    #[test]
    fn non_finite_values_are_rejected() {
        let mut owned = one_image();
        owned.pred_scores[0] = f64::NAN;
        assert!(message(owned.dataset(2)).starts_with("pred_scores[0]: NaN is not finite"));
        let mut owned = one_image();
        owned.gt_boxes[4 + 2] = f64::INFINITY;
        let msg = message(owned.dataset(2));
        assert!(
            msg.starts_with("gt_boxes[1]:") && msg.ends_with("not finite"),
            "{msg}"
        );
    }

    #[test]
    fn inverted_boxes_are_rejected() {
        let mut owned = one_image();
        owned.pred_boxes[2] = -1.0;
        let msg = message(owned.dataset(2));
        assert!(msg.ends_with("x2 < x1 or y2 < y1"), "{msg}");
    }

    #[test]
    fn threshold_checks() {
        assert!(check_overlaps(0.5, 0.5).is_ok());
        assert!(check_overlaps(0.5, 1.0).is_ok());
        assert!(check_overlaps(0.0, 0.5).is_err());
        assert!(check_overlaps(0.6, 0.5).is_err());
        assert!(check_overlaps(0.5, 1.5).is_err());
        assert!(check_overlaps(f64::NAN, 0.5).is_err());
        let values = vec![0.2, 1.5];
        let err = check_label_thresholds(Floats::F64(&values), 2).unwrap_err();
        assert_eq!(err.0, "label_thresholds[1]: 1.5 is outside [0, 1]");
        let err = check_label_thresholds(Floats::F64(&values), 3).unwrap_err();
        assert!(err.0.starts_with("label_thresholds: expected 3 values"));
    }
}
