//! SPEC §4.1–4.4: filter, order, match and the confusion matrix, over all images in parallel.

use rayon::prelude::*;

use crate::geometry::BoxSet;
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
    gt_labels: Vec<usize>,
    taken: Vec<bool>,
    /// Kept predictions as `descending score key << 64 | local index`: sorted, the visiting
    /// order (SPEC §4.2).
    order: Vec<u128>,
    /// The kept predictions in visiting order: boxes, local indices, labels.
    kept: BoxSet,
    kept_local: Vec<usize>,
    kept_label: Vec<usize>,
    /// IoU of annotation `j` with the `r`-th visited prediction at `j * kept + r`.
    ious: Vec<f64>,
    /// Per visited prediction, bit `j` set iff IoU with annotation `j` is >= τ (up to 64).
    overlapping: Vec<u64>,
    pred_labels: Vec<usize>,
    pred_scores: Vec<f64>,
    /// For images too large for `ious`: the annotations, and one prediction's IoUs.
    gt_set: BoxSet,
    row: Vec<f64>,
}

/// IoU values of one image computed and kept at once (8 MiB); larger images go row by row.
const MATRIX_LIMIT: usize = 1 << 20;

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
                match_image(ds, th, &mut scratch, &mut matrix, job);
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

/// SPEC §4.1–4.4 for one image; its kept predictions and missed annotations are counted in
/// `matrix` (row-major, `num_labels + 2` columns).
fn match_image(
    ds: &Dataset<'_>,
    th: &Thresholds<'_>,
    s: &mut Scratch,
    matrix: &mut [i64],
    out: ImageOut<'_>,
) {
    let (preds, gts) = (ds.pred_range(out.img), ds.gt_range(out.img));
    s.gt_boxes.clear();
    ds.gt.boxes.extend_into(gts.clone(), &mut s.gt_boxes);
    s.gt_labels.clear();
    ds.gt.labels.extend_into(gts.clone(), &mut s.gt_labels);
    s.taken.clear();
    s.taken.resize(gts.len(), false);

    // 1. Filter; 2. order.
    s.pred_labels.clear();
    ds.pred
        .labels
        .extend_into(preds.clone(), &mut s.pred_labels);
    s.pred_scores.clear();
    ds.pred
        .scores
        .extend_into(preds.clone(), &mut s.pred_scores);
    s.order.clear();
    for (local, (&score, &label)) in s.pred_scores.iter().zip(&s.pred_labels).enumerate() {
        if score >= th.labels[label] {
            s.order
                .push(u128::from(descending_key(score)) << 64 | local as u128);
        } else {
            out.pred_gt[local] = DROPPED_INDEX;
            out.pred_kind[local] = DROPPED;
        }
    }
    // Models usually emit their boxes best first: then there is nothing to sort.
    if !s.order.is_sorted() {
        s.order.sort_unstable();
    }
    let k = s.order.len();
    s.kept.reset(k);
    s.kept_local.resize(k, 0);
    s.kept_label.resize(k, 0);
    for (r, &key) in s.order.iter().enumerate() {
        let local = (key as u64) as usize;
        s.kept.set(r, ds.pred.boxes.get(preds.start + local));
        s.kept_local[r] = local;
        s.kept_label[r] = s.pred_labels[local];
    }

    // Every IoU at once, one annotation against all kept predictions at a time; an image
    // too large for that gets one prediction's IoUs at a time instead.
    let g = s.gt_boxes.len();
    let dense = k * g <= MATRIX_LIMIT;
    if dense {
        if s.ious.len() < k * g {
            s.ious.resize(k * g, 0.0); // grows only: every value used is written below
        }
        for (row, b) in s.ious[..k * g].chunks_exact_mut(k.max(1)).zip(&s.gt_boxes) {
            s.kept.ious_into_slice(b, row);
        }
    } else {
        s.gt_set.clear();
        s.gt_set.extend(&s.gt_boxes);
    }

    // Which pairs reach τ, as bit masks: most pairs do not, and the matching loop below then
    // looks at the few that do.
    let use_masks = dense && g <= 64;
    if use_masks {
        s.overlapping.clear();
        s.overlapping.resize(k, 0);
        for (j, row) in s.ious[..k * g].chunks_exact(k.max(1)).enumerate() {
            for (mask, &value) in s.overlapping.iter_mut().zip(row) {
                *mask |= u64::from(value >= th.iou) << j;
            }
        }
    }

    // 3. Match, in visiting order; 4. the instance kinds and their cells.
    let (labels, cols) = (ds.num_labels, ds.num_labels + 2);
    for r in 0..k {
        let label = s.kept_label[r];
        let (ious, taken, gt_labels) = (&s.ious, &s.taken, &s.gt_labels);
        let found = if use_masks {
            let candidates = SetBits(s.overlapping[r]).map(|j| (j, ious[j * k + r]));
            best_annotation(candidates, taken, gt_labels, label, th)
        } else if dense {
            let all = (0..g).map(|j| (j, ious[j * k + r]));
            let candidates = all.filter(|&(_, value)| value >= th.iou);
            best_annotation(candidates, taken, gt_labels, label, th)
        } else {
            s.gt_set.ious_into(&s.kept.get(r), &mut s.row);
            let row = &s.row;
            let candidates = (0..g).map(|j| (j, row[j])).filter(|&(_, v)| v >= th.iou);
            best_annotation(candidates, &s.taken, &s.gt_labels, label, th)
        };
        let local = s.kept_local[r];
        let Some((j, value)) = found.0 else {
            out.pred_gt[local] = UNMATCHED;
            out.pred_kind[local] = if found.1 { DUPLICATE } else { BACKGROUND };
            matrix[label * cols + labels] += 1;
            continue;
        };
        s.taken[j] = true;
        out.gt_pred[j] = (preds.start + local) as i64;
        out.pred_gt[local] = (gts.start + j) as i64;
        out.pred_iou[local] = value;
        let (kind, col) = if value < th.low {
            (LOC, labels + 1)
        } else if s.gt_labels[j] == label {
            (TRUE_POSITIVE, label)
        } else {
            (CONFUSION, s.gt_labels[j])
        };
        out.pred_kind[local] = kind;
        matrix[label * cols + col] += 1;
    }
    // Annotations left untaken are missed: row `{}`.
    for (&taken, &label) in s.taken.iter().zip(&s.gt_labels) {
        matrix[labels * cols + label] += i64::from(!taken);
    }
}

/// The positions of the set bits, lowest first.
struct SetBits(u64);

impl Iterator for SetBits {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let j = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(j)
    }
}

/// SPEC §4.3: among untaken annotations with IoU >= τ prefer same label and IoU >= λ, then any
/// label and IoU >= λ, then any; the highest IoU within a tier, ties to the first listed.
/// `candidates` are the (annotation, IoU) pairs with IoU >= τ, in annotation order. Also says
/// whether there was any (taken or not): an unmatched prediction is then a duplicate.
#[inline]
fn best_annotation(
    candidates: impl Iterator<Item = (usize, f64)>,
    taken: &[bool],
    gt_labels: &[usize],
    label: usize,
    th: &Thresholds<'_>,
) -> (Option<(usize, f64)>, bool) {
    const NONE: (usize, f64) = (usize::MAX, -1.0);
    let (mut same, mut high, mut any) = (NONE, NONE, NONE);
    let mut overlaps = false;
    for (j, value) in candidates {
        overlaps = true;
        if taken[j] {
            continue;
        }
        // Strictly greater: among equal IoUs the first listed stays.
        if value > any.1 {
            any = (j, value);
        }
        if value >= th.low {
            if value > high.1 {
                high = (j, value);
            }
            if gt_labels[j] == label && value > same.1 {
                same = (j, value);
            }
        }
    }
    let choice = [same, high, any].into_iter().find(|t| t.0 != usize::MAX);
    (choice, overlaps)
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
    fn descending_key_orders_scores_high_to_low() {
        let scores = [1.0, 0.5, 0.25, 1e-300, 0.0, -0.0, -1e-300, -0.5, -3.0];
        for w in scores.windows(2) {
            assert!(descending_key(w[0]) <= descending_key(w[1]), "{w:?}");
        }
        assert_eq!(descending_key(0.0), descending_key(-0.0));
        assert!(descending_key(0.5) < descending_key(0.25));
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
    fn images_with_more_than_64_annotations_match_the_same_way() {
        // The 70th annotation is the only same-label one; the others are exact but label 1.
        let mut gts: Vec<([f64; 4], i64)> = (0..69).map(|_| (A, 1)).collect();
        gts.push((A, 0));
        let owned = Owned::new(&[(gts, vec![(A, 0, 0.9), (A, 0, 0.8), (A, 1, 0.7)])]);
        let ev = run(&owned, &[0.0, 0.0], 0.5, 0.5);
        assert_eq!(ev.pred_gt, vec![69, 0, 1]);
        assert_eq!(ev.pred_kind, vec![TRUE_POSITIVE, CONFUSION, TRUE_POSITIVE]);
        assert_eq!(cell(&ev, 2, 1), 67);
    }

    /// SPEC §4.1–4.4 read literally, one image, for comparison.
    fn naive(owned: &Owned, labels: &[f64], iou: f64, low: f64) -> (Vec<i64>, Vec<i8>) {
        let n = owned.gt_labels.len();
        let gt = |j: usize| -> [f64; 4] { owned.gt_boxes[4 * j..4 * j + 4].try_into().unwrap() };
        let m = owned.pred_labels.len();
        let mut kept: Vec<usize> = (0..m)
            .filter(|&i| owned.pred_scores[i] >= labels[owned.pred_labels[i] as usize])
            .collect();
        kept.sort_by(|&a, &b| owned.pred_scores[b].total_cmp(&owned.pred_scores[a]));
        let (mut pred_gt, mut kind) = (vec![DROPPED_INDEX; m], vec![DROPPED; m]);
        let mut taken = vec![false; n];
        for i in kept {
            let b: [f64; 4] = owned.pred_boxes[4 * i..4 * i + 4].try_into().unwrap();
            let v: Vec<f64> = (0..n)
                .map(|j| {
                    crate::geometry::iou(
                        &b,
                        crate::geometry::area(&b),
                        &gt(j),
                        crate::geometry::area(&gt(j)),
                    )
                })
                .collect();
            let label = owned.pred_labels[i];
            let pick = |ok: &dyn Fn(usize) -> bool| {
                (0..n).filter(|&j| !taken[j] && v[j] >= iou && ok(j)).fold(
                    None,
                    |best: Option<usize>, j| match best {
                        Some(k) if v[k] >= v[j] => Some(k),
                        _ => Some(j),
                    },
                )
            };
            let choice = pick(&|j| v[j] >= low && owned.gt_labels[j] == label)
                .or_else(|| pick(&|j| v[j] >= low))
                .or_else(|| pick(&|_| true));
            match choice {
                Some(j) => {
                    taken[j] = true;
                    pred_gt[i] = j as i64;
                    kind[i] = if v[j] < low {
                        LOC
                    } else if owned.gt_labels[j] == label {
                        TRUE_POSITIVE
                    } else {
                        CONFUSION
                    };
                }
                None => {
                    pred_gt[i] = UNMATCHED;
                    kind[i] = if (0..n).any(|j| v[j] >= iou) {
                        DUPLICATE
                    } else {
                        BACKGROUND
                    };
                }
            }
        }
        (pred_gt, kind)
    }

    fn random_image(gts: usize, preds: usize, seed: u64) -> Owned {
        let mut state = seed;
        let mut next = move |k: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % k) as f64
        };
        let mut boxes = |count: usize, labelled: &mut dyn FnMut() -> i64| {
            (0..count)
                .map(|_| {
                    let (x, y, w, h) = (next(40), next(40), next(8), next(8));
                    ([x, y, x + w, y + h], labelled())
                })
                .collect::<Vec<_>>()
        };
        let mut label_rng = 0_i64;
        let annotations = boxes(gts, &mut || {
            label_rng = (label_rng * 7 + 3) % 3;
            label_rng
        });
        let predictions = boxes(preds, &mut || {
            label_rng = (label_rng * 5 + 1) % 3;
            label_rng
        })
        .into_iter()
        .enumerate()
        .map(|(i, (b, l))| (b, l, ((i * 37) % 11) as f64 / 10.0))
        .collect();
        Owned::new(&[(annotations, predictions)])
    }

    #[test]
    fn every_path_equals_the_literal_reading() {
        // g <= 64 (bit masks), g > 64 (scan), and k * g > MATRIX_LIMIT (row by row).
        for (gts, preds, seed) in [(12, 30, 1), (90, 120, 2), (1030, 1040, 3)] {
            let owned = random_image(gts, preds, seed);
            let (labels, iou, low) = ([0.0, 0.3, 0.5], 0.3, 0.6);
            let ev = run(&owned, &labels, iou, low);
            let (pred_gt, kind) = naive(&owned, &labels, iou, low);
            assert_eq!(ev.pred_gt, pred_gt, "{gts} annotations");
            assert_eq!(ev.pred_kind, kind, "{gts} annotations");
        }
        const { assert!(1030 * 1040 > MATRIX_LIMIT) };
    }

    #[test]
    fn empty_run() {
        let owned = Owned::new(&[]);
        let ev = run(&owned, &[0.5, 0.5], 0.5, 0.5);
        assert_eq!(ev.matrix, vec![0; 12]);
        assert!(ev.pred_gt.is_empty() && ev.gt_pred.is_empty());
    }
}
