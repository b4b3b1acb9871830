//! Tests of `line`: SPEC §9's four outcomes, caught by chance, per label, skipped images.

use super::*;
use crate::input::tests::Owned;
use crate::matching::{Evaluation, Thresholds, evaluate, evaluate_lines};

const A: [f64; 4] = [0.0, 0.0, 10.0, 10.0];
const FAR: [f64; 4] = [50.0, 50.0, 60.0, 60.0];

/// Images: caught (0), escape (1), overkill (2), pass with nothing at all (3), caught by
/// chance (4: the label-0 defect missed, a far label-1 box rejects it), pass with a
/// prediction below its confidence (5).
fn owned() -> Owned {
    Owned::new(&[
        (vec![(A, 0)], vec![(A, 0, 0.9)]),
        (vec![(A, 1)], vec![]),
        (vec![], vec![(A, 1, 0.8)]),
        (vec![], vec![]),
        (vec![(A, 0)], vec![(FAR, 1, 0.7)]),
        (vec![], vec![(A, 0, 0.1)]),
    ])
}

fn run(owned: &Owned, reject: &[bool], skip: &[bool]) -> Evaluation {
    let ds = owned.dataset(2).unwrap();
    let th = Thresholds {
        labels: &[0.5, 0.5],
        iou: 0.5,
        low: 0.5,
    };
    evaluate_lines(&ds, &th, &Decision::new(reject, skip))
}

#[test]
fn every_image_gets_one_of_the_four_outcomes() {
    let ev = run(&owned(), &[true, true], &[]);
    let (c, e, o, p) = (CAUGHT, ESCAPE, OVERKILL, PASS);
    assert_eq!(ev.image_outcome, vec![c, e, o, p, c, p]);
    assert_eq!(
        ev.image_by_chance,
        vec![false, false, false, false, true, false]
    );
    let t = ev.lines.totals();
    assert_eq!((t.total, t.actual_ng, t.actual_ok), (6, 3, 3));
    assert_eq!((t.caught, t.escapes, t.overkills, t.passes), (2, 1, 1, 2));
    assert_eq!(t.caught_by_chance, 1);
    assert_eq!((t.escape_rate, t.overkill_rate), (1.0 / 3.0, 1.0 / 3.0));
}

#[test]
fn per_label_outcomes_ignore_the_reject_set() {
    let ev = run(&owned(), &[false, true], &[]);
    // label 0: caught image 0, escaped image 4, the rest pass (image 5's is dropped);
    // label 1: escaped image 1, overkilled images 2 and 4.
    assert_eq!(ev.lines.label_outcomes(), vec![1, 1, 0, 4, 0, 1, 2, 3]);
    // Only label 1 rejects: images 0 and 5 are not NG; image 4 is called NG, not actually NG.
    let (e, o, p) = (ESCAPE, OVERKILL, PASS);
    assert_eq!(ev.image_outcome, vec![p, e, o, p, o, p]);
    assert_eq!(ev.lines.caught_by_chance, 0);
}

#[test]
fn no_reject_label_passes_everything_and_the_escape_rate_is_undefined() {
    let ev = run(&owned(), &[false, false], &[]);
    let t = ev.lines.totals();
    assert_eq!((t.total, t.passes, t.actual_ng), (6, 6, 0));
    assert!(t.escape_rate.is_nan());
    assert_eq!(t.overkill_rate, 0.0);
}

#[test]
fn a_defect_taken_by_a_prediction_of_another_label_is_not_by_chance() {
    // The label-0 defect is taken (confusion) by a label-1 prediction, which also rejects.
    let owned = Owned::new(&[(vec![(A, 0)], vec![(A, 1, 0.9)])]);
    let ev = run(&owned, &[true, true], &[]);
    assert_eq!(
        (ev.image_outcome[0], ev.image_by_chance[0]),
        (CAUGHT, false)
    );
    // Only label 0 rejects: the label-1 box does not call it NG, so it escapes.
    let ev = run(&owned, &[true, false], &[]);
    assert_eq!(ev.image_outcome[0], ESCAPE);
}

#[test]
fn skipped_images_count_nowhere() {
    let skip = [false, true, false, true, false, false];
    let ev = run(&owned(), &[true, true], &skip);
    assert_eq!(ev.image_outcome[1], SKIPPED);
    let t = ev.lines.totals();
    assert_eq!((t.total, t.escapes, t.passes), (4, 0, 1));
    assert_eq!(t.escape_rate, 0.0);
    assert_eq!(ev.lines.label_outcomes()[4..], [0, 0, 2, 2]);
}

#[test]
fn an_empty_run_has_undefined_rates() {
    let ev = evaluate(&Owned::new(&[]).dataset(1).unwrap(), &th1());
    let t = ev.lines.totals();
    assert_eq!(t.total, 0);
    assert!(t.escape_rate.is_nan() && t.overkill_rate.is_nan());
    assert!(ev.image_outcome.is_empty());
}

fn th1() -> Thresholds<'static> {
    Thresholds {
        labels: &[0.5],
        iou: 0.5,
        low: 0.5,
    }
}

#[test]
fn many_images_across_tasks_sum_alike() {
    let images: Vec<_> = (0..500)
        .map(|i| match i % 3 {
            0 => (vec![(A, 0)], vec![(A, 0, 0.9)]),
            1 => (vec![(A, 0)], vec![]),
            _ => (vec![], vec![]),
        })
        .collect();
    let ev = evaluate(&Owned::new(&images).dataset(1).unwrap(), &th1());
    let t = ev.lines.totals();
    assert_eq!(
        (t.total, t.caught, t.escapes, t.passes),
        (500, 167, 167, 166)
    );
    assert_eq!(ev.lines.label_outcomes(), vec![167, 167, 0, 166]);
}

#[test]
fn label_and_image_sets_are_masks_or_indices() {
    use crate::columns::Column;
    let ds_owned = owned();
    let ds = ds_owned.dataset(2).unwrap();
    let (idx, bad) = ([1_i64, 1], [2_i64]);
    let (reject, skip) =
        decision_masks(&ds, Some(Items::Indices(Column::Wide(&idx))), None).unwrap();
    assert_eq!((reject, skip), (vec![false, true], vec![]));
    let err = decision_masks(&ds, Some(Items::Indices(Column::Wide(&bad))), None).unwrap_err();
    assert_eq!(
        err.0,
        "reject_labels[0]: 2 is out of range (expected 0 <= index < 2)"
    );
    let err = decision_masks(&ds, None, Some(Items::Mask(&[true]))).unwrap_err();
    assert_eq!(
        err.0,
        "skip_images: expected 6 booleans (or indices), got 1"
    );
    let (reject, skip) =
        decision_masks(&ds, None, Some(Items::Indices(Column::Wide(&[])))).unwrap();
    assert_eq!((reject, skip), (vec![true, true], vec![false; 6]));
}

#[test]
fn more_than_128_labels_count_alike() {
    // Labels 0 and 129 (the byte flags): caught by label 129 only, label 0 escapes.
    let owned = Owned::new(&[
        (vec![(A, 0), (FAR, 129)], vec![(FAR, 129, 0.9), (A, 5, 0.1)]),
        (vec![], vec![]),
    ]);
    let ds = owned.dataset(130).unwrap();
    let labels = vec![0.5; 130];
    let th = Thresholds {
        labels: &labels,
        iou: 0.5,
        low: 0.5,
    };
    let mut reject = vec![false; 130];
    reject[0] = true;
    let ev = evaluate_lines(&ds, &th, &Decision::new(&reject, &[]));
    assert_eq!(
        (ev.image_outcome[0], ev.image_by_chance[0]),
        (ESCAPE, false)
    );
    reject[129] = true;
    let ev = evaluate_lines(&ds, &th, &Decision::new(&reject, &[]));
    assert_eq!(
        (ev.image_outcome[0], ev.image_by_chance[0]),
        (CAUGHT, false)
    );
    let per = ev.lines.label_outcomes();
    assert_eq!(per[..4], [0, 1, 0, 1]);
    assert_eq!(per[129 * 4..], [1, 0, 0, 1]);
    assert_eq!(per[5 * 4..6 * 4], [0, 0, 0, 2]);
    reject[129] = false;
    reject[5] = true;
    let ev = evaluate_lines(&ds, &th, &Decision::new(&reject, &[]));
    assert_eq!(ev.image_outcome, vec![ESCAPE, PASS]);
}

#[test]
fn between_64_and_128_labels_count_alike() {
    // Labels 0 and 99 (the two-word bit sets): caught by label 99 only, label 0 escapes.
    let owned = Owned::new(&[
        (vec![(A, 0), (FAR, 99)], vec![(FAR, 99, 0.9), (A, 5, 0.1)]),
        (vec![], vec![]),
    ]);
    let ds = owned.dataset(100).unwrap();
    let labels = vec![0.5; 100];
    let th = Thresholds {
        labels: &labels,
        iou: 0.5,
        low: 0.5,
    };
    let mut reject = vec![false; 100];
    reject[0] = true;
    let ev = evaluate_lines(&ds, &th, &Decision::new(&reject, &[]));
    assert_eq!(ev.image_outcome, vec![ESCAPE, PASS]);
    reject[99] = true;
    let ev = evaluate_lines(&ds, &th, &Decision::new(&reject, &[]));
    assert_eq!(ev.image_outcome, vec![CAUGHT, PASS]);
    let per = ev.lines.label_outcomes();
    assert_eq!(per[..4], [0, 1, 0, 1]);
    assert_eq!(per[99 * 4..], [1, 0, 0, 1]);
}

#[test]
fn per_label_caught_by_chance_counts_alike_in_the_three_widths() {
    // Image 0: label `c` annotated at A, predicted far from it (caught by chance); image 1:
    // predicted on it (caught, taken); image 2: label `c` annotated at A and FAR, the far one
    // taken (caught, not by chance).
    for labels in [2_i64, 100, 130] {
        let (c, n) = (labels - 1, labels as usize);
        let owned = Owned::new(&[
            (vec![(A, c)], vec![(FAR, c, 0.9)]),
            (vec![(A, c)], vec![(A, c, 0.9)]),
            (vec![(A, c), (FAR, c)], vec![(FAR, c, 0.9)]),
        ]);
        let ds = owned.dataset(labels).unwrap();
        let thresholds = vec![0.5; n];
        let th = Thresholds {
            labels: &thresholds,
            iou: 0.5,
            low: 0.5,
        };
        let reject = vec![true; n];
        let ev = evaluate_lines(&ds, &th, &Decision::new(&reject, &[]));
        let (chance, c) = (ev.lines.label_by_chance(), n - 1);
        assert_eq!(
            (chance[c], chance[..c].iter().sum::<i64>()),
            (1, 0),
            "{labels}"
        );
        assert_eq!(ev.lines.label_outcomes()[c * 4..], [3, 0, 0, 0], "{labels}");
        assert_eq!(ev.lines.caught_by_chance, 1, "{labels}");
    }
}
