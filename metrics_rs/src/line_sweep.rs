//! SPEC §9's sweep: escape and overkill rates as functions of one confidence for every label.
//!
//! No matching is needed: an image is called NG at confidence `t` iff its highest-scoring
//! reject-label prediction scores `>= t`. So each image is reduced to that score (−∞ without
//! one), split by its truth and sorted; the counts at `t` are read by binary search.

use rayon::prelude::*;

use crate::input::Dataset;
use crate::line::Decision;
use crate::metrics::ratio;

/// Per counted image, the highest score of its reject-label predictions, by truth, ascending.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineCurve {
    ng: Vec<f64>,
    ok: Vec<f64>,
}

impl LineCurve {
    pub fn new(ds: &Dataset<'_>, decision: &Decision<'_>) -> Self {
        let reject = decision.reject;
        let images: Vec<(bool, f64)> = (0..ds.num_images())
            .into_par_iter()
            .filter(|&img| !decision.skip.get(img).copied().unwrap_or(false))
            .map(|img| {
                let actual = ds.gt_range(img).any(|j| reject[ds.gt_label(j)]);
                let top = (ds.pred_range(img).filter(|&i| reject[ds.pred_label(i)]))
                    .map(|i| ds.pred.scores.get(i))
                    .fold(f64::NEG_INFINITY, f64::max);
                (actual, top)
            })
            .collect();
        let (mut ng, mut ok): (Vec<_>, Vec<_>) = images.into_iter().partition(|im| im.0);
        let scores = |v: &mut Vec<(bool, f64)>| {
            let mut s: Vec<f64> = v.drain(..).map(|im| im.1).collect();
            s.sort_unstable_by(f64::total_cmp);
            s
        };
        LineCurve {
            ng: scores(&mut ng),
            ok: scores(&mut ok),
        }
    }

    pub fn actual_ng(&self) -> i64 {
        self.ng.len() as i64
    }

    pub fn actual_ok(&self) -> i64 {
        self.ok.len() as i64
    }

    /// Escapes (NG images called OK) and overkills (OK images called NG) at confidence `t`.
    pub fn counts_at(&self, t: f64) -> (i64, i64) {
        let escapes = self.ng.partition_point(|&m| m < t);
        let passes = self.ok.partition_point(|&m| m < t);
        (escapes as i64, (self.ok.len() - passes) as i64)
    }

    /// Escapes, overkills, escape and overkill rates at each of `thresholds`.
    pub fn curves(&self, thresholds: &[f64]) -> LineCurves {
        let mut out = LineCurves::default();
        for &t in thresholds {
            let (escapes, overkills) = self.counts_at(t);
            out.escapes.push(escapes);
            out.overkills.push(overkills);
            out.escape_rate.push(ratio(escapes, self.actual_ng()));
            out.overkill_rate.push(ratio(overkills, self.actual_ok()));
        }
        out
    }

    /// The highest confidence `t` in [0, 1] whose escape rate is `<= max_escape_rate`: 1, or
    /// the top reject-label score of an NG image; NaN when none is (or no image is NG).
    pub fn confidence_for_escape_rate(&self, max_escape_rate: f64) -> f64 {
        let reaches = |t: f64| ratio(self.counts_at(t).0, self.actual_ng()) <= max_escape_rate;
        if reaches(1.0) {
            return 1.0;
        }
        // Escapes are constant on (ng[k-1], ng[k]]: the highest t of each step is a score.
        let candidates = self.ng.iter().rev().filter(|&&m| (0.0..1.0).contains(&m));
        candidates
            .copied()
            .find(|&m| reaches(m))
            .unwrap_or(f64::NAN)
    }
}

/// The line decision along a sweep's thresholds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineCurves {
    pub escapes: Vec<i64>,
    pub overkills: Vec<i64>,
    pub escape_rate: Vec<f64>,
    pub overkill_rate: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::tests::Owned;

    const A: [f64; 4] = [0.0, 0.0, 10.0, 10.0];

    /// NG images with top reject scores 0.9, 0.6, none (label 1 only); OK images with 0.7
    /// and none.
    fn curve(reject: &[bool]) -> LineCurve {
        let owned = Owned::new(&[
            (vec![(A, 0)], vec![(A, 0, 0.9), (A, 0, 0.2)]),
            (vec![(A, 0)], vec![(A, 0, 0.6)]),
            (vec![(A, 0)], vec![(A, 1, 0.95)]),
            (vec![], vec![(A, 0, 0.7)]),
            (vec![], vec![]),
        ]);
        let decision = Decision::new(reject, &[]);
        LineCurve::new(&owned.dataset(2).unwrap(), &decision)
    }

    #[test]
    fn rates_at_each_threshold() {
        let c = curve(&[true, false]);
        assert_eq!((c.actual_ng(), c.actual_ok()), (3, 2));
        let got = c.curves(&[0.0, 0.6, 0.65, 0.7, 0.9, 1.0]);
        assert_eq!(got.escapes, vec![1, 1, 2, 2, 2, 3]);
        assert_eq!(got.overkills, vec![1, 1, 1, 1, 0, 0]);
        assert_eq!(got.escape_rate[0], 1.0 / 3.0);
        assert_eq!(got.overkill_rate[4], 0.0);
    }

    #[test]
    fn recommended_confidence_is_the_highest_reaching_the_target() {
        let c = curve(&[true, false]);
        // The third NG image escapes at every confidence: a zero escape rate is out of reach.
        assert!(c.confidence_for_escape_rate(0.0).is_nan());
        assert_eq!(c.confidence_for_escape_rate(0.34), 0.6);
        assert_eq!(c.confidence_for_escape_rate(0.7), 0.9);
        assert_eq!(c.confidence_for_escape_rate(1.0), 1.0);
        let every = curve(&[true, true]);
        assert_eq!(every.confidence_for_escape_rate(0.0), 0.6);
    }

    #[test]
    fn no_ng_image_has_undefined_escape_rates_and_no_recommendation() {
        let c = curve(&[false, false]);
        let got = c.curves(&[0.5]);
        assert!(got.escape_rate[0].is_nan());
        assert_eq!((got.overkills[0], got.overkill_rate[0]), (0, 0.0));
        assert!(c.confidence_for_escape_rate(1.0).is_nan());
    }
}
