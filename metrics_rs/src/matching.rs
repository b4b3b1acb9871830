//! SPEC §4.1–4.4: filter, order, match and the confusion matrix, over all images in parallel.

use rayon::prelude::*;

use crate::input::Dataset;
use crate::line::{Decision, LineCounts};

#[path = "matching_image.rs"]
mod image;

use image::{Cells, Scratch, match_image, split_outputs};

/// `pred_kind` codes, shared with `validation.models.Instance.Kind`.
pub const TRUE_POSITIVE: i8 = 0;
pub const CONFUSION: i8 = 1;
pub const LOC: i8 = 2;
pub const DUPLICATE: i8 = 3;
pub const BACKGROUND: i8 = 4;
pub const DROPPED: i8 = 5;

/// `pred_gt` for a kept prediction without a match, and for one below its confidence.
pub const UNMATCHED: i64 = -1;
pub const DROPPED_INDEX: i64 = -2;

/// Confidence per label and the two overlap thresholds `τ <= λ`.
#[derive(Clone, Copy, Debug)]
pub struct Thresholds<'a> {
    pub labels: &'a [f64],
    pub iou: f64,
    pub low: f64,
}

/// Everything `evaluate` returns; indices are global (into the flat arrays).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub num_labels: usize,
    /// Row-major `(num_labels + 1) x (num_labels + 2)`.
    pub matrix: Vec<i64>,
    pub pred_gt: Vec<i64>,
    pub pred_iou: Vec<f64>,
    pub pred_kind: Vec<i8>,
    pub gt_pred: Vec<i64>,
    /// Per image (SPEC §9): `line::CAUGHT`, `ESCAPE`, `OVERKILL`, `PASS` or `SKIPPED`.
    pub image_outcome: Vec<i8>,
    /// Per image: caught, and none of its reject-label annotations taken by a kept prediction.
    pub image_by_chance: Vec<bool>,
    /// The line decision's counts over the run.
    pub lines: LineCounts,
}

impl Evaluation {
    pub fn rows(&self) -> usize {
        self.num_labels + 1
    }

    pub fn cols(&self) -> usize {
        self.num_labels + 2
    }

    /// True positives per label: the diagonal.
    pub fn tp(&self) -> Vec<i64> {
        (0..self.num_labels)
            .map(|k| self.matrix[k * self.cols() + k])
            .collect()
    }

    /// Kept predictions per label: the row sums.
    pub fn pred_count(&self) -> Vec<i64> {
        let cols = self.cols();
        (0..self.num_labels)
            .map(|k| self.matrix[k * cols..(k + 1) * cols].iter().sum())
            .collect()
    }
}

/// A key whose ascending order is the descending order of the score (-0.0 equal to 0.0):
/// sorting `(key, index)` visits highest score first, equal scores in emission order
/// (SPEC §4.2). Scores are finite (validated).
#[inline]
pub fn descending_key(score: f64) -> u64 {
    let bits = (score + 0.0).to_bits();
    let ascending = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    !ascending
}

/// Matches every image and fills the confusion matrix; every label is a reject label and no
/// image is skipped.
pub fn evaluate(ds: &Dataset<'_>, th: &Thresholds<'_>) -> Evaluation {
    let reject = vec![true; ds.num_labels];
    let decision = Decision::new(&reject, &[]);
    evaluate_lines(ds, th, &decision)
}

/// Matches every image, fills the confusion matrix and decides each image OK or NG (SPEC §9),
/// all in one pass. `decision.reject` has one value per label, `decision.skip` one per image
/// or none.
pub fn evaluate_lines(
    ds: &Dataset<'_>,
    th: &Thresholds<'_>,
    decision: &Decision<'_>,
) -> Evaluation {
    let (m, n, images) = (ds.num_pred(), ds.num_gt(), ds.num_images());
    let (labels, cells) = (ds.num_labels, (ds.num_labels + 1) * (ds.num_labels + 2));
    let mut out = Evaluation {
        num_labels: labels,
        matrix: Vec::new(),
        pred_gt: vec![0; m],
        pred_iou: vec![0.0; m],
        pred_kind: vec![0; m],
        gt_pred: vec![UNMATCHED; n],
        image_outcome: vec![0; images],
        image_by_chance: vec![false; images],
        lines: LineCounts::default(),
    };
    // Each task counts its images' cells and outcomes on its own; the counts are summed.
    let (matrix, lines) = split_outputs(ds, &mut out)
        .into_par_iter()
        .with_min_len(16)
        .fold(
            || {
                (
                    Scratch::default(),
                    vec![0_i64; cells],
                    LineCounts::new(labels),
                )
            },
            |(mut scratch, mut matrix, mut lines), job| {
                let mut cells = Cells {
                    counts: &mut matrix,
                    labels,
                    lines: &mut lines,
                    decision,
                };
                match_image(ds, th, &mut scratch, &mut cells, job);
                (scratch, matrix, lines)
            },
        )
        .map(|(_, matrix, lines)| (matrix, lines))
        .reduce(
            || (vec![0_i64; cells], LineCounts::new(labels)),
            |(mut a, lines_a), (b, lines_b)| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                (a, lines_a.merge(&lines_b))
            },
        );
    (out.matrix, out.lines) = (matrix, lines);
    out
}

#[cfg(test)]
#[path = "matching_tests.rs"]
mod tests;
