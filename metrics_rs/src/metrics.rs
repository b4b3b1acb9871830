//! Ratios of SPEC §4.5: precision, recall and F1, NaN where undefined.

/// `num / den`, NaN for 0/0 (SPEC: undefined).
#[inline]
pub fn ratio(num: i64, den: i64) -> f64 {
    if den == 0 {
        f64::NAN
    } else {
        num as f64 / den as f64
    }
}

/// F1 from precision and recall: NaN when either is, 0 when both are 0.
#[inline]
pub fn f1(precision: f64, recall: f64) -> f64 {
    if precision.is_nan() || recall.is_nan() {
        f64::NAN
    } else if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

/// Precision, recall and F1 per label, and micro-averaged over all labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub f1: Vec<f64>,
    pub micro_precision: f64,
    pub micro_recall: f64,
    pub micro_f1: f64,
}

impl Scores {
    /// From true positives, kept predictions and annotations per label.
    pub fn new(tp: &[i64], pred_count: &[i64], gt_count: &[i64]) -> Self {
        let precision: Vec<f64> = tp
            .iter()
            .zip(pred_count)
            .map(|(&t, &p)| ratio(t, p))
            .collect();
        let recall: Vec<f64> = tp
            .iter()
            .zip(gt_count)
            .map(|(&t, &g)| ratio(t, g))
            .collect();
        let f1s = precision
            .iter()
            .zip(&recall)
            .map(|(&p, &r)| f1(p, r))
            .collect();
        let (tps, preds, gts): (i64, i64, i64) = (
            tp.iter().sum(),
            pred_count.iter().sum(),
            gt_count.iter().sum(),
        );
        let (micro_precision, micro_recall) = (ratio(tps, preds), ratio(tps, gts));
        Scores {
            precision,
            recall,
            f1: f1s,
            micro_precision,
            micro_recall,
            micro_f1: f1(micro_precision, micro_recall),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_over_zero_is_undefined() {
        assert!(ratio(0, 0).is_nan());
        assert_eq!(ratio(0, 3), 0.0);
        assert_eq!(ratio(3, 4), 0.75);
    }

    #[test]
    fn f1_rules() {
        assert!(f1(f64::NAN, 0.5).is_nan());
        assert!(f1(0.5, f64::NAN).is_nan());
        assert_eq!(f1(0.0, 0.0), 0.0);
        assert_eq!(f1(0.5, 0.5), 0.5);
        assert!((f1(1.0, 0.5) - 2.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn micro_sums_before_dividing() {
        let s = Scores::new(&[1, 0, 3], &[2, 0, 3], &[4, 0, 4]);
        assert_eq!(s.precision[0], 0.5);
        assert!(s.precision[1].is_nan() && s.recall[1].is_nan() && s.f1[1].is_nan());
        assert_eq!(s.micro_precision, 4.0 / 5.0);
        assert_eq!(s.micro_recall, 4.0 / 8.0);
    }
}
