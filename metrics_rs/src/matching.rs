//! SPEC §4.1–4.4: filter, order, match and the confusion matrix, over all images in parallel.

use rayon::prelude::*;

use crate::input::Dataset;

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

/// Matches every image and fills the confusion matrix.
pub fn evaluate(ds: &Dataset<'_>, th: &Thresholds<'_>) -> Evaluation {
    let (m, n) = (ds.num_pred(), ds.num_gt());
    let cells = (ds.num_labels + 1) * (ds.num_labels + 2);
    let mut out = Evaluation {
        num_labels: ds.num_labels,
        matrix: Vec::new(),
        pred_gt: vec![0; m],
        pred_iou: vec![0.0; m],
        pred_kind: vec![0; m],
        gt_pred: vec![UNMATCHED; n],
    };
    // Each task counts its images' cells in a matrix of its own; the matrices are summed.
    out.matrix = split_outputs(ds, &mut out)
        .into_par_iter()
        .with_min_len(16)
        .fold(
            || (Scratch::default(), vec![0_i64; cells]),
            |(mut scratch, mut matrix), job| {
                let mut cells = Cells {
                    counts: &mut matrix,
                    labels: ds.num_labels,
                };
                match_image(ds, th, &mut scratch, &mut cells, job);
                (scratch, matrix)
            },
        )
        .map(|(_, matrix)| matrix)
        .reduce(
            || vec![0_i64; cells],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    out
}

#[cfg(test)]
#[path = "matching_tests.rs"]
mod tests;
