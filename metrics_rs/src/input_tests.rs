//! Tests of `input`: the validation of a run's arrays and its messages.

use super::*;

/// The run arrays of a test, built by hand.
pub type Owned = OwnedRun;

impl OwnedRun {
    /// Images given as (annotations [(box, label)], predictions [(box, label, score)]).
    #[allow(clippy::type_complexity)]
    pub fn new(images: &[(Vec<([f64; 4], i64)>, Vec<([f64; 4], i64, f64)>)]) -> Self {
        let mut run = OwnedRun {
            gt_offsets: vec![0],
            pred_offsets: vec![0],
            ..OwnedRun::default()
        };
        for (gts, preds) in images {
            for (b, l) in gts {
                run.gt_boxes.extend_from_slice(b);
                run.gt_labels.push(*l);
            }
            run.gt_offsets.push(run.gt_labels.len() as i64);
            for (b, l, s) in preds {
                run.pred_boxes.extend_from_slice(b);
                run.pred_labels.push(*l);
                run.pred_scores.push(*s);
            }
            run.pred_offsets.push(run.pred_labels.len() as i64);
        }
        run
    }
}

fn one_image() -> Owned {
    Owned::new(&[(
        vec![([0.0, 0.0, 10.0, 10.0], 0), ([5.0, 5.0, 9.0, 9.0], 1)],
        vec![([0.0, 0.0, 10.0, 10.0], 1, 0.9)],
    )])
}

fn message(result: Result<Dataset<'_>>) -> String {
    result.expect_err("expected an error").0
}

#[test]
fn valid_input_is_accepted() {
    let owned = one_image();
    let ds = owned.dataset(2).unwrap();
    assert_eq!(ds.num_images(), 1);
    assert_eq!(ds.gt_range(0), 0..2);
    assert_eq!(ds.pred_range(0), 0..1);
    assert_eq!(ds.gt_count(), vec![1, 1]);
}

#[test]
fn label_out_of_range_names_argument_and_index() {
    let owned = one_image();
    let msg = message(owned.dataset(1));
    assert!(msg.starts_with("gt_labels[1]: 1 is out of range"), "{msg}");
}

#[test]
fn negative_num_labels_is_rejected() {
    let owned = one_image();
    assert!(message(owned.dataset(-1)).starts_with("num_labels"));
}

#[test]
fn decreasing_offsets_are_rejected() {
    let mut owned = one_image();
    owned.gt_offsets = vec![0, 2, 1, 2];
    owned.pred_offsets = vec![0, 1, 1, 1];
    let msg = message(owned.dataset(2));
    assert!(
        msg.starts_with("gt_offsets[2]: 1 is less than gt_offsets[1] = 2"),
        "{msg}"
    );
}

#[test]
fn offsets_must_end_at_the_row_count() {
    let mut owned = one_image();
    owned.pred_offsets = vec![0, 0];
    let msg = message(owned.dataset(2));
    assert!(msg.starts_with("pred_offsets[1]: expected 1"), "{msg}");
}

#[test]
fn offsets_of_different_lengths_are_rejected() {
    let mut owned = one_image();
    owned.pred_offsets = vec![0, 1, 1];
    owned.gt_offsets = vec![0, 2];
    assert!(message(owned.dataset(2)).starts_with("pred_offsets: expected 2 values"));
}

#[test]
fn non_finite_values_are_rejected() {
    let mut owned = one_image();
    owned.pred_scores[0] = f64::NAN;
    assert!(message(owned.dataset(2)).starts_with("pred_scores[0]: NaN is not finite"));
    let mut owned = one_image();
    owned.gt_boxes[4 + 2] = f64::INFINITY;
    let msg = message(owned.dataset(2));
    assert!(
        msg.starts_with("gt_boxes[1]:") && msg.ends_with("not finite"),
        "{msg}"
    );
}

#[test]
fn inverted_boxes_are_rejected() {
    let mut owned = one_image();
    owned.pred_boxes[2] = -1.0;
    let msg = message(owned.dataset(2));
    assert!(msg.ends_with("x2 < x1 or y2 < y1"), "{msg}");
}

#[test]
fn threshold_checks() {
    assert!(check_overlaps(0.5, 0.5).is_ok());
    assert!(check_overlaps(0.5, 1.0).is_ok());
    assert!(check_overlaps(0.0, 0.5).is_err());
    assert!(check_overlaps(0.6, 0.5).is_err());
    assert!(check_overlaps(0.5, 1.5).is_err());
    assert!(check_overlaps(f64::NAN, 0.5).is_err());
    let values = vec![0.2, 1.5];
    let err = check_label_thresholds(Floats::Wide(&values), 2).unwrap_err();
    assert_eq!(err.0, "label_thresholds[1]: 1.5 is outside [0, 1]");
    let err = check_label_thresholds(Floats::Wide(&values), 3).unwrap_err();
    assert!(err.0.starts_with("label_thresholds: expected 3 values"));
}
