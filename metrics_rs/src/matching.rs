//! SPEC §4.1–4.4: filter, order, match and the confusion matrix, over all images in parallel.

use std::cmp::Ordering;

use rayon::prelude::*;

use crate::geometry::{area, iou};
use crate::input::Dataset;

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

/// One image's share of the per-prediction and per-annotation outputs.
struct ImageOut<'o> {
    img: usize,
    pred_gt: &'o mut [i64],
    pred_iou: &'o mut [f64],
    pred_kind: &'o mut [i8],
    gt_pred: &'o mut [i64],
}

/// Per-thread buffers reused from image to image.
#[derive(Default)]
struct Scratch {
    gt_boxes: Vec<[f64; 4]>,
    gt_areas: Vec<f64>,
    gt_labels: Vec<usize>,
    taken: Vec<bool>,
    /// (score, local index) of the kept predictions, in visiting order once sorted.
    order: Vec<(f64, usize)>,
}

/// Highest-score-first, then the order the model emitted them (SPEC §4.2).
#[inline]
pub fn visit_order(a: &(f64, usize), b: &(f64, usize)) -> Ordering {
    b.0.partial_cmp(&a.0)
        .unwrap_or(Ordering::Equal)
        .then(a.1.cmp(&b.1))
}

/// Matches every image and fills the confusion matrix.
pub fn evaluate(ds: &Dataset<'_>, th: &Thresholds<'_>) -> Evaluation {
    let (m, n, labels) = (ds.num_pred(), ds.num_gt(), ds.num_labels);
    let cells = (labels + 1) * (labels + 2);
    let mut out = Evaluation {
        num_labels: labels,
        matrix: Vec::new(),
        pred_gt: vec![0; m],
        pred_iou: vec![0.0; m],
        pred_kind: vec![0; m],
        gt_pred: vec![UNMATCHED; n],
    };
    let jobs = split_outputs(ds, &mut out);
    let matrix = jobs
        .into_par_iter()
        .with_min_len(32)
        .fold(
            || (Scratch::default(), vec![0_i64; cells]),
            |(mut scratch, mut matrix), job| {
                match_image(ds, th, &mut scratch, job, &mut matrix);
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
    out.matrix = matrix;
    out
}

/// Cuts the flat output buffers into one disjoint set of slices per image.
fn split_outputs<'o>(ds: &Dataset<'_>, out: &'o mut Evaluation) -> Vec<ImageOut<'o>> {
    let mut jobs = Vec::with_capacity(ds.num_images());
    let (mut pg, mut pi, mut pk) = (
        &mut out.pred_gt[..],
        &mut out.pred_iou[..],
        &mut out.pred_kind[..],
    );
    let mut gp = &mut out.gt_pred[..];
    for img in 0..ds.num_images() {
        let (np, ng) = (ds.pred_range(img).len(), ds.gt_range(img).len());
        let (a, rest) = std::mem::take(&mut pg).split_at_mut(np);
        pg = rest;
        let (b, rest) = std::mem::take(&mut pi).split_at_mut(np);
        pi = rest;
        let (c, rest) = std::mem::take(&mut pk).split_at_mut(np);
        pk = rest;
        let (d, rest) = std::mem::take(&mut gp).split_at_mut(ng);
        gp = rest;
        jobs.push(ImageOut {
            img,
            pred_gt: a,
            pred_iou: b,
            pred_kind: c,
            gt_pred: d,
        });
    }
    jobs
}

/// SPEC §4.1–4.4 for one image.
fn match_image(
    ds: &Dataset<'_>,
    th: &Thresholds<'_>,
    s: &mut Scratch,
    out: ImageOut<'_>,
    matrix: &mut [i64],
) {
    let (preds, gts) = (ds.pred_range(out.img), ds.gt_range(out.img));
    let (cols, bg, loc_col) = (ds.num_labels + 2, ds.num_labels, ds.num_labels + 1);
    s.gt_boxes.clear();
    s.gt_areas.clear();
    s.gt_labels.clear();
    for g in gts.clone() {
        let b = ds.gt.boxes.get(g);
        s.gt_boxes.push(b);
        s.gt_areas.push(area(&b));
        s.gt_labels.push(ds.gt_label(g));
    }
    s.taken.clear();
    s.taken.resize(gts.len(), false);
    s.order.clear();
    for (local, p) in preds.clone().enumerate() {
        let score = ds.pred.scores.get(p);
        if score >= th.labels[ds.pred_label(p)] {
            s.order.push((score, local));
        } else {
            out.pred_gt[local] = DROPPED_INDEX;
            out.pred_kind[local] = DROPPED;
        }
    }
    s.order.sort_unstable_by(visit_order);
    for &(_, local) in &s.order {
        let p = preds.start + local;
        let label = ds.pred_label(p);
        let found = best_annotation(s, &ds.pred.boxes.get(p), label, th);
        let (gt, kind, value, col) = match found.choice {
            Some((j, value)) => {
                s.taken[j] = true;
                out.gt_pred[j] = p as i64;
                let actual = s.gt_labels[j];
                if value < th.low {
                    (gts.start + j, LOC, value, loc_col)
                } else if actual == label {
                    (gts.start + j, TRUE_POSITIVE, value, actual)
                } else {
                    (gts.start + j, CONFUSION, value, actual)
                }
            }
            None => {
                out.pred_gt[local] = UNMATCHED;
                out.pred_kind[local] = if found.overlaps {
                    DUPLICATE
                } else {
                    BACKGROUND
                };
                matrix[label * cols + bg] += 1;
                continue;
            }
        };
        out.pred_gt[local] = gt as i64;
        out.pred_iou[local] = value;
        out.pred_kind[local] = kind;
        matrix[label * cols + col] += 1;
    }
    for (j, &taken) in s.taken.iter().enumerate() {
        if !taken {
            matrix[ds.num_labels * cols + s.gt_labels[j]] += 1;
        }
    }
}

/// The annotation a prediction takes, and whether it overlaps any annotation with IoU >= τ.
struct Found {
    choice: Option<(usize, f64)>,
    overlaps: bool,
}

/// SPEC §4.3: among untaken annotations with IoU >= τ prefer same label and IoU >= λ, then any
/// label and IoU >= λ, then any; the highest IoU within a tier, ties to the first listed.
fn best_annotation(s: &Scratch, b: &[f64; 4], label: usize, th: &Thresholds<'_>) -> Found {
    let a = area(b);
    let mut tiers: [Option<(usize, f64)>; 3] = [None; 3];
    let mut overlaps = false;
    for (j, g) in s.gt_boxes.iter().enumerate() {
        let value = iou(b, a, g, s.gt_areas[j]);
        if value < th.iou {
            continue;
        }
        overlaps = true;
        if s.taken[j] {
            continue;
        }
        let tier = if value < th.low {
            2
        } else if s.gt_labels[j] == label {
            0
        } else {
            1
        };
        consider(&mut tiers[tier], j, value);
        if tier == 0 {
            consider(&mut tiers[1], j, value);
        }
        if tier <= 1 {
            consider(&mut tiers[2], j, value);
        }
    }
    Found {
        choice: tiers.into_iter().flatten().next(),
        overlaps,
    }
}

#[inline]
fn consider(best: &mut Option<(usize, f64)>, j: usize, value: f64) {
    if best.is_none_or(|(_, v)| value > v) {
        *best = Some((j, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::tests::Owned;

    const A: [f64; 4] = [0.0, 0.0, 10.0, 10.0];

    fn run(owned: &Owned, labels: &[f64], iou: f64, low: f64) -> Evaluation {
        let ds = owned.dataset(labels.len() as i64).unwrap();
        evaluate(&ds, &Thresholds { labels, iou, low })
    }

    fn cell(ev: &Evaluation, row: usize, col: usize) -> i64 {
        ev.matrix[row * ev.cols() + col]
    }

    #[test]
    fn exact_match_is_true_positive() {
        let owned = Owned::new(&[(vec![(A, 0)], vec![(A, 0, 0.9)])]);
        let ev = run(&owned, &[0.5, 0.5], 0.5, 0.5);
        assert_eq!(ev.pred_kind, vec![TRUE_POSITIVE]);
        assert_eq!(ev.pred_gt, vec![0]);
        assert_eq!(ev.pred_iou, vec![1.0]);
        assert_eq!(ev.gt_pred, vec![0]);
        assert_eq!(cell(&ev, 0, 0), 1);
        assert_eq!(ev.tp(), vec![1, 0]);
        assert_eq!(ev.pred_count(), vec![1, 0]);
    }

    #[test]
    fn below_confidence_is_dropped_and_annotation_missed() {
        let owned = Owned::new(&[(vec![(A, 1)], vec![(A, 1, 0.3)])]);
        let ev = run(&owned, &[0.1, 0.4], 0.5, 0.5);
        assert_eq!(ev.pred_kind, vec![DROPPED]);
        assert_eq!(ev.pred_gt, vec![DROPPED_INDEX]);
        assert_eq!(ev.gt_pred, vec![UNMATCHED]);
        assert_eq!(cell(&ev, 2, 1), 1);
        assert_eq!(ev.matrix.iter().sum::<i64>(), 1);
    }

    #[test]
    fn same_label_beats_higher_iou_of_another_label() {
        let near = [0.0, 0.0, 10.0, 9.0]; // IoU 0.9 with A
        let owned = Owned::new(&[(vec![(A, 1), (near, 0)], vec![(A, 0, 0.9)])]);
        let ev = run(&owned, &[0.0, 0.0], 0.5, 0.5);
        assert_eq!(ev.pred_gt, vec![1]);
        assert_eq!(ev.pred_kind, vec![TRUE_POSITIVE]);
        assert_eq!(cell(&ev, 2, 1), 1, "the other annotation is missed");
    }

    #[test]
    fn confusion_and_loc() {
        let half = [0.0, 0.0, 10.0, 6.0]; // IoU 0.6 with A
        let owned = Owned::new(&[(vec![(A, 1), (A, 0)], vec![(A, 0, 0.9), (half, 0, 0.8)])]);
        let ev = run(&owned, &[0.0, 0.0], 0.5, 0.7);
        // first prediction takes the same-label annotation; second has only the label-1 one at 0.6
        assert_eq!(ev.pred_gt, vec![1, 0]);
        assert_eq!(ev.pred_kind, vec![TRUE_POSITIVE, LOC]);
        assert_eq!(cell(&ev, 0, 3), 1);
        assert_eq!(ev.gt_pred, vec![1, 0]);
        let owned = Owned::new(&[(vec![(A, 1)], vec![(A, 0, 0.9)])]);
        let ev = run(&owned, &[0.0, 0.0], 0.5, 0.7);
        assert_eq!(ev.pred_kind, vec![CONFUSION]);
        assert_eq!(cell(&ev, 0, 1), 1);
    }

    #[test]
    fn duplicate_versus_background() {
        let far = [50.0, 50.0, 60.0, 60.0];
        let owned = Owned::new(&[(vec![(A, 0)], vec![(A, 0, 0.5), (A, 0, 0.9), (far, 0, 0.7)])]);
        let ev = run(&owned, &[0.0], 0.5, 0.5);
        assert_eq!(ev.pred_kind, vec![DUPLICATE, TRUE_POSITIVE, BACKGROUND]);
        assert_eq!(ev.pred_gt, vec![UNMATCHED, 0, UNMATCHED]);
        assert_eq!(ev.gt_pred, vec![1]);
        assert_eq!(cell(&ev, 0, 1), 2);
    }

    #[test]
    fn equal_scores_visit_in_emission_order_and_equal_iou_takes_first_annotation() {
        let owned = Owned::new(&[(vec![(A, 0), (A, 0)], vec![(A, 0, 0.5), (A, 0, 0.5)])]);
        let ev = run(&owned, &[0.0], 0.5, 0.5);
        assert_eq!(ev.pred_gt, vec![0, 1]);
        assert_eq!(ev.gt_pred, vec![0, 1]);
    }

    #[test]
    fn indices_are_global_across_images() {
        let owned = Owned::new(&[
            (vec![(A, 0)], vec![]),
            (vec![], vec![(A, 0, 0.9)]),
            (vec![(A, 0), (A, 0)], vec![(A, 0, 0.2), (A, 0, 0.9)]),
        ]);
        let ev = run(&owned, &[0.0], 0.5, 0.5);
        assert_eq!(ev.pred_gt, vec![UNMATCHED, 2, 1]);
        assert_eq!(ev.gt_pred, vec![UNMATCHED, 2, 1]);
        assert_eq!(ev.pred_kind, vec![BACKGROUND, TRUE_POSITIVE, TRUE_POSITIVE]);
        assert_eq!(ev.matrix, vec![2, 1, 0, 1, 0, 0]);
    }

    #[test]
    fn low_overlap_of_one_needs_identical_boxes() {
        let near = [0.0, 0.0, 10.0, 9.0];
        let owned = Owned::new(&[(vec![(A, 0)], vec![(near, 0, 0.9)])]);
        let ev = run(&owned, &[0.0], 0.5, 1.0);
        assert_eq!(ev.pred_kind, vec![LOC]);
    }

    #[test]
    fn empty_run() {
        let owned = Owned::new(&[]);
        let ev = run(&owned, &[0.5, 0.5], 0.5, 0.5);
        assert_eq!(ev.matrix, vec![0; 12]);
        assert!(ev.pred_gt.is_empty() && ev.gt_pred.is_empty());
    }
}
