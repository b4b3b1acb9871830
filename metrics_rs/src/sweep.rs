//! Precision, recall and F1 per label as functions of one confidence applied to every label.
//!
//! Exact and fast: predictions are visited highest score first, so the predictions kept at
//! confidence `t` are a prefix of the visiting order, and the matching of a prefix is the
//! prefix of the matching of everything. One matching of all predictions therefore gives
//! every prediction's outcome at every confidence; the counts at `t` are counts of the
//! predictions scoring `>= t`, read from per-label cumulative sums by binary search.

use std::cmp::Ordering;

use rayon::prelude::*;

use crate::input::Dataset;
use crate::matching::{TRUE_POSITIVE, Thresholds, evaluate};
use crate::metrics::{Ratios, f1, ratio};

/// One label's predictions, highest score first, with cumulative true positives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelCurve {
    /// Scores, descending.
    pub scores: Vec<f64>,
    /// `cum_tp[n]` = true positives among the first `n` predictions (`len + 1` values).
    pub cum_tp: Vec<i64>,
}

impl LabelCurve {
    /// Predictions kept and true positives among them at confidence `t`.
    pub fn counts_at(&self, t: f64) -> (i64, i64) {
        let n = self.scores.partition_point(|&s| s >= t);
        (n as i64, self.cum_tp[n])
    }

    /// Each distinct score `s` with the counts kept at `s`, highest first.
    fn steps(&self) -> impl Iterator<Item = (f64, i64, i64)> + '_ {
        let len = self.scores.len();
        (0..len)
            .filter(move |&i| i + 1 == len || self.scores[i + 1] != self.scores[i])
            .map(move |i| (self.scores[i], (i + 1) as i64, self.cum_tp[i + 1]))
    }
}

/// Per-label curves of a run at fixed IoU thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    pub curves: Vec<LabelCurve>,
    pub gt_count: Vec<i64>,
}

impl Sweep {
    /// Matches every prediction once (no confidence filter) and builds the curves.
    pub fn new(ds: &Dataset<'_>, iou: f64, low: f64) -> Self {
        let keep_all = vec![f64::NEG_INFINITY; ds.num_labels];
        let th = Thresholds {
            labels: &keep_all,
            iou,
            low,
        };
        let ev = evaluate(ds, &th);
        let mut by_label: Vec<Vec<(f64, bool)>> = vec![Vec::new(); ds.num_labels];
        for (p, &kind) in ev.pred_kind.iter().enumerate() {
            by_label[ds.pred_label(p)].push((ds.pred.scores.get(p), kind == TRUE_POSITIVE));
        }
        let curves = by_label
            .into_par_iter()
            .map(|mut preds| {
                preds.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal));
                let mut cum_tp = Vec::with_capacity(preds.len() + 1);
                cum_tp.push(0);
                let mut tp = 0;
                for &(_, is_tp) in &preds {
                    tp += i64::from(is_tp);
                    cum_tp.push(tp);
                }
                LabelCurve {
                    scores: preds.into_iter().map(|(s, _)| s).collect(),
                    cum_tp,
                }
            })
            .collect();
        Sweep {
            curves,
            gt_count: ds.gt_count(),
        }
    }

    /// Kept predictions and true positives, row-major `num_labels x thresholds.len()`.
    pub fn counts(&self, thresholds: &[f64]) -> (Vec<i64>, Vec<i64>) {
        let (mut kept, mut tp) = (Vec::new(), Vec::new());
        for curve in &self.curves {
            for &t in thresholds {
                let (n, k) = curve.counts_at(t);
                kept.push(n);
                tp.push(k);
            }
        }
        (kept, tp)
    }

    /// Per label: the confidence (a score of that label) with the highest F1, and that F1.
    /// Ties go to the higher confidence. A label without predictions has no confidence (NaN)
    /// and the F1 of keeping nothing: 0 with annotations, NaN without.
    pub fn best_f1(&self) -> (Vec<f64>, Vec<f64>) {
        let mut best_t = vec![f64::NAN; self.curves.len()];
        let mut best_f: Vec<f64> = self.gt_count.iter().map(|&g| f1(0, 0, g)).collect();
        for (k, curve) in self.curves.iter().enumerate() {
            for (score, kept, tp) in curve.steps() {
                let value = f1(tp, kept, self.gt_count[k]);
                if best_t[k].is_nan() || value > best_f[k] {
                    best_t[k] = score;
                    best_f[k] = value;
                }
            }
        }
        (best_t, best_f)
    }

    /// Per label: the lowest confidence (a score of that label) whose precision reaches
    /// `min_precision`, NaN where none does.
    pub fn threshold_for_precision(&self, min_precision: f64) -> Vec<f64> {
        self.curves
            .iter()
            .map(|curve| {
                curve
                    .steps()
                    .filter(|&(_, kept, tp)| ratio(tp, kept) >= min_precision)
                    .last()
                    .map_or(f64::NAN, |(score, _, _)| score)
            })
            .collect()
    }
}

/// Ratios of a sweep at `width` thresholds: per label (row-major `num_labels x width`), and
/// micro-averaged per threshold (sums over labels first, then the ratios).
#[derive(Clone, Debug, PartialEq)]
pub struct Curves {
    pub per_label: Ratios<Vec<f64>>,
    pub micro: Ratios<Vec<f64>>,
}

impl Curves {
    /// From the counts of [`Sweep::counts`] and the annotations per label.
    pub fn new(kept: &[i64], tp: &[i64], gt_count: &[i64], width: usize) -> Self {
        let per_label = (kept.iter().zip(tp).enumerate())
            .map(|(i, (&n, &t))| Ratios::of(t, n, gt_count[i / width.max(1)]))
            .collect();
        let gts: i64 = gt_count.iter().sum();
        let column = |v: &[i64], j| (0..gt_count.len()).map(|k| v[k * width + j]).sum::<i64>();
        let micro = (0..width)
            .map(|j| Ratios::of(column(tp, j), column(kept, j), gts))
            .collect();
        Curves { per_label, micro }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::tests::Owned;

    const A: [f64; 4] = [0.0, 0.0, 10.0, 10.0];
    const B: [f64; 4] = [20.0, 0.0, 30.0, 10.0];
    const FAR: [f64; 4] = [50.0, 50.0, 60.0, 60.0];

    fn sweep() -> Sweep {
        // label 0: TP 0.9, FP 0.8, TP 0.6, FP 0.6; two annotations; label 1: nothing.
        let owned = Owned::new(&[(
            vec![(A, 0), (B, 0)],
            vec![(A, 0, 0.9), (FAR, 0, 0.8), (B, 0, 0.6), (FAR, 0, 0.6)],
        )]);
        Sweep::new(&owned.dataset(2).unwrap(), 0.5, 0.5)
    }

    #[test]
    fn counts_at_thresholds() {
        let (kept, tp) = sweep().counts(&[0.0, 0.6, 0.7, 0.85, 0.95]);
        assert_eq!(kept, vec![4, 4, 2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(tp, vec![2, 2, 1, 1, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn best_f1_and_precision_target() {
        let sw = sweep();
        let (t, f) = sw.best_f1();
        // at 0.9: P 1, R 0.5 -> 2/3; at 0.8: 0.5, 0.5 -> 0.5; at 0.6: 0.5, 1 -> 2/3 (tie: higher)
        assert_eq!(t[0], 0.9);
        assert!((f[0] - 2.0 / 3.0).abs() < 1e-15);
        assert!(t[1].is_nan() && f[1].is_nan());
        assert_eq!(sw.threshold_for_precision(0.5)[0], 0.6);
        assert_eq!(sw.threshold_for_precision(0.9)[0], 0.9);
        assert!(sw.threshold_for_precision(0.9)[1].is_nan());
    }

    #[test]
    fn best_f1_of_a_label_never_predicted_is_zero_without_a_confidence() {
        // label 1 has an annotation and no prediction; label 2 has neither.
        let owned = Owned::new(&[(vec![(A, 0), (B, 1)], vec![(A, 0, 0.9)])]);
        let (t, f) = Sweep::new(&owned.dataset(3).unwrap(), 0.5, 0.5).best_f1();
        assert_eq!((t[0], f[0]), (0.9, 1.0));
        assert!(t[1].is_nan());
        assert_eq!(f[1], 0.0);
        assert!(t[2].is_nan() && f[2].is_nan());
    }

    #[test]
    fn best_f1_without_true_positives_is_zero_at_the_highest_score() {
        let owned = Owned::new(&[(vec![(A, 0)], vec![(FAR, 0, 0.7), (FAR, 0, 0.4)])]);
        let (t, f) = Sweep::new(&owned.dataset(1).unwrap(), 0.5, 0.5).best_f1();
        assert_eq!((t[0], f[0]), (0.7, 0.0));
    }

    #[test]
    fn a_stolen_annotation_stays_stolen_at_every_threshold() {
        // The 0.9 prediction of label 1 takes the label-0 annotation (confusion), so the
        // label-0 prediction is a duplicate at every confidence where it is kept.
        let owned = Owned::new(&[(vec![(A, 0)], vec![(A, 1, 0.9), (A, 0, 0.5)])]);
        let sw = Sweep::new(&owned.dataset(2).unwrap(), 0.5, 0.5);
        let (kept, tp) = sw.counts(&[0.5]);
        assert_eq!(kept, vec![1, 1]);
        assert_eq!(tp, vec![0, 0]);
    }

    /// NaN-aware equality of two float vectors.
    fn same(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
    }

    #[test]
    fn curves_are_the_ratios_of_the_counts() {
        let sw = sweep();
        let (kept, tp) = sw.counts(&[0.0, 0.7, 0.95]);
        let c = Curves::new(&kept, &tp, &sw.gt_count, 3);
        // label 0 keeps 4, 2, 0 with 2, 1, 0 true positives of 2 annotations; label 1 nothing.
        let nan = f64::NAN;
        assert!(same(
            &c.per_label.precision,
            &[0.5, 0.5, nan, nan, nan, nan]
        ));
        assert!(same(&c.per_label.recall, &[1.0, 0.5, 0.0, nan, nan, nan]));
        assert!(same(&c.per_label.f1, &[4.0 / 6.0, 0.5, 0.0, nan, nan, nan]));
        assert!(same(&c.micro.precision, &[0.5, 0.5, nan]));
        assert!(same(&c.micro.recall, &[1.0, 0.5, 0.0]));
        assert!(same(&c.micro.f1, &[4.0 / 6.0, 0.5, 0.0]));
    }

    #[test]
    fn micro_curves_sum_the_labels_before_dividing() {
        // Two labels at two thresholds: kept [[3, 1], [1, 0]], tp [[2, 1], [1, 0]].
        let c = Curves::new(&[3, 1, 1, 0], &[2, 1, 1, 0], &[4, 1], 2);
        assert_eq!(c.micro.precision, [3.0 / 4.0, 1.0]);
        assert_eq!(c.micro.recall, [3.0 / 5.0, 1.0 / 5.0]);
        assert_eq!(c.micro.f1, [6.0 / 9.0, 2.0 / 6.0]);
        assert_eq!(c.per_label.recall, [0.5, 0.25, 1.0, 0.0]);
    }

    #[test]
    fn no_thresholds_give_empty_curves() {
        let c = Curves::new(&[], &[], &[2, 3], 0);
        assert!(c.per_label.precision.is_empty() && c.micro.f1.is_empty());
    }
}
