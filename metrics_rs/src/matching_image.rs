//! SPEC §4.1–4.4 for one image: its predictions filtered, ordered and matched, the
//! instance kinds written and the cells counted, in buffers reused from image to image.

use std::ops::Range;

use super::{
    BACKGROUND, CONFUSION, DROPPED, DROPPED_INDEX, DUPLICATE, Evaluation, LOC, TRUE_POSITIVE,
    Thresholds, UNMATCHED, descending_key,
};
use crate::geometry::BoxSet;
use crate::input::Dataset;
use crate::line::{Decision, ImageLine, LineCounts};

/// One image: its global index ranges and its share of the per-prediction and
/// per-annotation outputs.
pub(super) struct ImageOut<'o> {
    img: usize,
    preds: Range<usize>,
    gts: Range<usize>,
    pred_gt: &'o mut [i64],
    pred_iou: &'o mut [f64],
    pred_kind: &'o mut [i8],
    gt_pred: &'o mut [i64],
    outcome: &'o mut i8,
    by_chance: &'o mut bool,
}

/// A task's confusion matrix (rows the labels then `{}`, columns the labels then BG, LOC)
/// and line-decision counts.
pub(super) struct Cells<'m> {
    pub(super) counts: &'m mut [i64],
    pub(super) labels: usize,
    pub(super) lines: &'m mut LineCounts,
    pub(super) decision: &'m Decision<'m>,
}

impl Cells<'_> {
    #[inline]
    fn add(&mut self, row: usize, col: usize, n: i64) {
        self.counts[row * (self.labels + 2) + col] += n;
    }
}

/// Per-thread buffers reused from image to image.
#[derive(Default)]
pub(super) struct Scratch {
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
pub(super) const MATRIX_LIMIT: usize = 1 << 20;

/// How one image's IoUs are at hand when its predictions are matched.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// All in `ious`, and the pairs reaching τ as bit masks (at most 64 annotations).
    Masks,
    /// All in `ious`.
    Dense,
    /// One visited prediction's at a time, against `gt_set`.
    RowByRow,
}

/// Cuts the flat output buffers into one disjoint set of slices per image.
pub(super) fn split_outputs<'o>(ds: &Dataset<'_>, out: &'o mut Evaluation) -> Vec<ImageOut<'o>> {
    let mut jobs = Vec::with_capacity(ds.num_images());
    let (mut pg, mut pi, mut pk) = (
        &mut out.pred_gt[..],
        &mut out.pred_iou[..],
        &mut out.pred_kind[..],
    );
    let mut gp = &mut out.gt_pred[..];
    let lines = out.image_outcome.iter_mut().zip(&mut out.image_by_chance);
    for (img, (outcome, by_chance)) in lines.enumerate() {
        let (preds, gts) = (ds.pred_range(img), ds.gt_range(img));
        let (np, ng) = (preds.len(), gts.len());
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
            preds,
            gts,
            pred_gt: a,
            pred_iou: b,
            pred_kind: c,
            gt_pred: d,
            outcome,
            by_chance,
        });
    }
    jobs
}

/// SPEC §4.1–4.4 for one image; its kept predictions and missed annotations are counted in
/// `cells`.
pub(super) fn match_image(
    ds: &Dataset<'_>,
    th: &Thresholds<'_>,
    s: &mut Scratch,
    cells: &mut Cells<'_>,
    mut out: ImageOut<'_>,
) {
    s.load_annotations(ds, out.gts.clone());
    // 1. Filter; 2. order.
    s.keep_and_order(ds, th, &mut out);
    let layout = s.compute_ious(th.iou);
    // 3. Match, in visiting order; 4. the instance kinds and their cells.
    for r in 0..s.kept_label.len() {
        let found = s.choose(r, layout, th);
        s.record(r, found, th, &mut out, cells);
    }
    // Annotations left untaken are missed: row `{}`.
    for (&taken, &label) in s.taken.iter().zip(&s.gt_labels) {
        cells.add(cells.labels, label, i64::from(!taken));
    }
    // SPEC §9: the image's OK / NG decision, from what the matching left in `s`.
    let ImageLine { outcome, by_chance } = (cells.lines).image(
        cells.decision,
        out.img,
        &s.gt_labels,
        &s.taken,
        &s.kept_label,
    );
    (*out.outcome, *out.by_chance) = (outcome, by_chance);
}

/// A visited prediction's choice: the annotation (local index) and IoU it takes, if any,
/// and whether any annotation, taken or not, reaches τ with it.
type Found = (Option<(usize, f64)>, bool);

impl Scratch {
    /// The image's annotations, none taken yet.
    #[inline]
    fn load_annotations(&mut self, ds: &Dataset<'_>, gts: Range<usize>) {
        self.gt_boxes.clear();
        ds.gt.boxes.extend_into(gts.clone(), &mut self.gt_boxes);
        self.gt_labels.clear();
        ds.gt
            .labels
            .extend_indices(gts.clone(), &mut self.gt_labels);
        self.taken.clear();
        self.taken.resize(gts.len(), false);
    }

    /// SPEC §4.1–4.2: drops the predictions below their label's confidence and lays out the
    /// kept ones in visiting order.
    #[inline]
    fn keep_and_order(&mut self, ds: &Dataset<'_>, th: &Thresholds<'_>, out: &mut ImageOut<'_>) {
        let preds = out.preds.clone();
        self.pred_labels.clear();
        ds.pred
            .labels
            .extend_indices(preds.clone(), &mut self.pred_labels);
        self.pred_scores.clear();
        ds.pred
            .scores
            .extend_into(preds.clone(), &mut self.pred_scores);
        self.order.clear();
        for (local, (&score, &label)) in self.pred_scores.iter().zip(&self.pred_labels).enumerate()
        {
            if score >= th.labels[label] {
                self.order
                    .push(u128::from(descending_key(score)) << 64 | local as u128);
            } else {
                out.pred_gt[local] = DROPPED_INDEX;
                out.pred_kind[local] = DROPPED;
            }
        }
        // Models usually emit their boxes best first: then there is nothing to sort.
        if !self.order.is_sorted() {
            self.order.sort_unstable();
        }
        let k = self.order.len();
        self.kept.reset(k);
        self.kept_local.resize(k, 0);
        self.kept_label.resize(k, 0);
        for (r, &key) in self.order.iter().enumerate() {
            let local = (key as u64) as usize;
            self.kept.set(r, ds.pred.boxes.get(preds.start + local));
            self.kept_local[r] = local;
            self.kept_label[r] = self.pred_labels[local];
        }
    }

    /// Every IoU at once, one annotation against all kept predictions at a time, and which
    /// pairs reach τ as bit masks (most pairs do not: the matching then looks at the few that
    /// do); an image too large for that gets one prediction's IoUs at a time instead.
    #[inline]
    fn compute_ious(&mut self, tau: f64) -> Layout {
        let (k, g) = (self.kept_label.len(), self.gt_boxes.len());
        if k * g > MATRIX_LIMIT {
            self.gt_set.clear();
            self.gt_set.extend(&self.gt_boxes);
            return Layout::RowByRow;
        }
        if self.ious.len() < k * g {
            self.ious.resize(k * g, 0.0); // grows only: every value used is written below
        }
        let rows = self.ious[..k * g].chunks_exact_mut(k.max(1));
        for (row, b) in rows.zip(&self.gt_boxes) {
            self.kept.ious_into_slice(b, row);
        }
        if g > 64 {
            return Layout::Dense;
        }
        self.overlapping.clear();
        self.overlapping.resize(k, 0);
        for (j, row) in self.ious[..k * g].chunks_exact(k.max(1)).enumerate() {
            for (mask, &value) in self.overlapping.iter_mut().zip(row) {
                *mask |= u64::from(value >= tau) << j;
            }
        }
        Layout::Masks
    }

    /// SPEC §4.3 for the `r`-th visited prediction.
    #[inline]
    fn choose(&mut self, r: usize, layout: Layout, th: &Thresholds<'_>) -> Found {
        let (k, g) = (self.kept_label.len(), self.gt_boxes.len());
        let label = self.kept_label[r];
        let (ious, taken, gt_labels) = (&self.ious, &self.taken, &self.gt_labels);
        match layout {
            Layout::Masks => {
                let candidates = SetBits(self.overlapping[r]).map(|j| (j, ious[j * k + r]));
                best_annotation(candidates, taken, gt_labels, label, th)
            }
            Layout::Dense => {
                let all = (0..g).map(|j| (j, ious[j * k + r]));
                let candidates = all.filter(|&(_, value)| value >= th.iou);
                best_annotation(candidates, taken, gt_labels, label, th)
            }
            Layout::RowByRow => {
                self.gt_set.ious_into(&self.kept.get(r), &mut self.row);
                let row = &self.row;
                let candidates = (0..g).map(|j| (j, row[j])).filter(|&(_, v)| v >= th.iou);
                best_annotation(candidates, taken, gt_labels, label, th)
            }
        }
    }

    /// SPEC §4.4 for the `r`-th visited prediction: its match, its kind and its cell.
    #[inline]
    fn record(
        &mut self,
        r: usize,
        found: Found,
        th: &Thresholds<'_>,
        out: &mut ImageOut<'_>,
        cells: &mut Cells<'_>,
    ) {
        let (local, label, labels) = (self.kept_local[r], self.kept_label[r], cells.labels);
        let Some((j, value)) = found.0 else {
            out.pred_gt[local] = UNMATCHED;
            out.pred_kind[local] = if found.1 { DUPLICATE } else { BACKGROUND };
            cells.add(label, labels, 1);
            return;
        };
        self.taken[j] = true;
        out.gt_pred[j] = (out.preds.start + local) as i64;
        out.pred_gt[local] = (out.gts.start + j) as i64;
        out.pred_iou[local] = value;
        let (kind, col) = if value < th.low {
            (LOC, labels + 1)
        } else if self.gt_labels[j] == label {
            (TRUE_POSITIVE, label)
        } else {
            (CONFUSION, self.gt_labels[j])
        };
        out.pred_kind[local] = kind;
        cells.add(label, col, 1);
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
