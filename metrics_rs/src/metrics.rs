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

/// F1 from counts: `2·TP / (2·TP + FP + FN)`, and `2·TP + FP + FN` is `kept + annotations`.
///
/// 0 for a label with annotations but no kept prediction, or the reverse; NaN only when the
/// label has neither (SPEC §4.5). Equal to `2·P·R / (P + R)` wherever both are defined.
#[inline]
pub fn f1(tp: i64, kept: i64, annotations: i64) -> f64 {
    ratio(2 * tp, kept + annotations)
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
        let f1s = tp
            .iter()
            .zip(pred_count.iter().zip(gt_count))
            .map(|(&t, (&p, &g))| f1(t, p, g))
            .collect();
        let (tps, preds, gts): (i64, i64, i64) = (
            tp.iter().sum(),
            pred_count.iter().sum(),
            gt_count.iter().sum(),
        );
        Scores {
            precision,
            recall,
            f1: f1s,
            micro_precision: ratio(tps, preds),
            micro_recall: ratio(tps, gts),
            micro_f1: f1(tps, preds, gts),
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
    fn f1_is_zero_when_one_side_is_empty_and_undefined_only_when_both_are() {
        assert_eq!(f1(0, 0, 3), 0.0); // annotations, no kept prediction
        assert_eq!(f1(0, 2, 0), 0.0); // predictions, no annotation
        assert!(f1(0, 0, 0).is_nan());
        assert_eq!(f1(0, 2, 2), 0.0);
        assert_eq!(f1(1, 2, 2), 0.5);
        assert!((f1(1, 1, 2) - 2.0 / 3.0).abs() < 1e-15); // P 1, R 0.5
    }

    #[test]
    fn a_label_never_predicted_counts_as_zero() {
        // label 1 has annotations and no prediction: F1 0, though precision is undefined.
        let s = Scores::new(&[3, 0], &[3, 0], &[3, 2]);
        assert!(s.precision[1].is_nan());
        assert_eq!(s.recall[1], 0.0);
        assert_eq!(s.f1[1], 0.0);
        assert!((s.micro_f1 - 6.0 / 8.0).abs() < 1e-15);
    }

    #[test]
    fn nothing_predicted_over_annotations_is_zero_overall() {
        let s = Scores::new(&[0, 0], &[0, 0], &[4, 1]);
        assert!(s.micro_precision.is_nan());
        assert_eq!(s.micro_recall, 0.0);
        assert_eq!(s.micro_f1, 0.0);
        assert_eq!(s.f1, vec![0.0, 0.0]);
    }

    #[test]
    fn micro_sums_before_dividing() {
        let s = Scores::new(&[1, 0, 3], &[2, 0, 3], &[4, 0, 4]);
        assert_eq!(s.precision[0], 0.5);
        assert!(s.precision[1].is_nan() && s.recall[1].is_nan() && s.f1[1].is_nan());
        assert_eq!(s.micro_precision, 4.0 / 5.0);
        assert_eq!(s.micro_recall, 4.0 / 8.0);
        assert_eq!(s.micro_f1, 8.0 / 13.0);
    }
}
