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

/// Precision, recall and F1: one value each (`Ratios<f64>`), or one per label or threshold
/// (`Ratios<Vec<f64>>`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ratios<T> {
    pub precision: T,
    pub recall: T,
    pub f1: T,
}

impl Ratios<f64> {
    /// From true positives, kept predictions and annotations.
    #[inline]
    pub fn of(tp: i64, kept: i64, annotations: i64) -> Self {
        Ratios {
            precision: ratio(tp, kept),
            recall: ratio(tp, annotations),
            f1: f1(tp, kept, annotations),
        }
    }
}

impl FromIterator<Ratios<f64>> for Ratios<Vec<f64>> {
    fn from_iter<I: IntoIterator<Item = Ratios<f64>>>(iter: I) -> Self {
        let mut out = Ratios::<Vec<f64>>::default();
        for r in iter {
            out.precision.push(r.precision);
            out.recall.push(r.recall);
            out.f1.push(r.f1);
        }
        out
    }
}

/// Precision, recall and F1 per label, and micro-averaged over all labels (sums first).
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    pub per_label: Ratios<Vec<f64>>,
    pub micro: Ratios<f64>,
}

impl Scores {
    /// From true positives, kept predictions and annotations per label.
    pub fn new(tp: &[i64], pred_count: &[i64], gt_count: &[i64]) -> Self {
        let per_label = (tp.iter().zip(pred_count).zip(gt_count))
            .map(|((&t, &p), &g)| Ratios::of(t, p, g))
            .collect();
        let sum = |counts: &[i64]| counts.iter().sum::<i64>();
        Scores {
            per_label,
            micro: Ratios::of(sum(tp), sum(pred_count), sum(gt_count)),
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
        assert!(s.per_label.precision[1].is_nan());
        assert_eq!(s.per_label.recall[1], 0.0);
        assert_eq!(s.per_label.f1[1], 0.0);
        assert!((s.micro.f1 - 6.0 / 8.0).abs() < 1e-15);
    }

    #[test]
    fn nothing_predicted_over_annotations_is_zero_overall() {
        let s = Scores::new(&[0, 0], &[0, 0], &[4, 1]);
        assert!(s.micro.precision.is_nan());
        assert_eq!(s.micro.recall, 0.0);
        assert_eq!(s.micro.f1, 0.0);
        assert_eq!(s.per_label.f1, vec![0.0, 0.0]);
    }

    #[test]
    fn micro_sums_before_dividing() {
        let s = Scores::new(&[1, 0, 3], &[2, 0, 3], &[4, 0, 4]);
        assert_eq!(s.per_label.precision[0], 0.5);
        assert!(
            s.per_label.precision[1].is_nan()
                && s.per_label.recall[1].is_nan()
                && s.per_label.f1[1].is_nan()
        );
        assert_eq!(s.micro.precision, 4.0 / 5.0);
        assert_eq!(s.micro.recall, 4.0 / 8.0);
        assert_eq!(s.micro.f1, 8.0 / 13.0);
    }
}
