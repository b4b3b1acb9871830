//! SPEC §9: the line decision, OK / NG per image, counted in the matching's own pass.
//!
//! An image is actually NG iff it has an annotation with a reject label, and called NG iff a
//! kept prediction has a reject label. Per label `c` the same four outcomes with "has an
//! annotation `c`" and "has a kept prediction `c`", the reject set ignored.

use crate::input::{Dataset, Ints, Result, fail};
use crate::metrics::ratio;

/// `image_outcome` codes.
pub const CAUGHT: i8 = 0;
pub const ESCAPE: i8 = 1;
pub const OVERKILL: i8 = 2;
pub const PASS: i8 = 3;
/// An image left out of the line decision (unreadable): in no count.
pub const SKIPPED: i8 = -1;

/// Which labels make a part NG, and which images are left out.
#[derive(Clone, Copy, Debug)]
pub struct Decision<'a> {
    /// Per label: a reject label.
    pub reject: &'a [bool],
    /// Per image: left out; empty when none is.
    pub skip: &'a [bool],
    /// `reject` as bits, where there are at most 128 labels.
    reject_bits: u128,
}

impl<'a> Decision<'a> {
    pub fn new(reject: &'a [bool], skip: &'a [bool]) -> Self {
        let reject_bits = (reject.iter().take(128).enumerate())
            .fold(0, |bits, (c, &r)| bits | u128::from(r) << c);
        Decision {
            reject,
            skip,
            reject_bits,
        }
    }

    #[inline]
    fn skipped(&self, img: usize) -> bool {
        self.skip.get(img).copied().unwrap_or(false)
    }
}

/// A method counting one image's per-label outcomes with the labels as bit sets of `$bits`
/// (no memory touched per box); it returns actually NG, called NG and whether a reject-label
/// annotation was taken.
macro_rules! flags_as_bits {
    ($(#[$doc:meta])* $name:ident, $bits:ty) => {
        $(#[$doc])*
        #[inline]
        fn $name(
            &mut self,
            reject: $bits,
            gt_labels: &[usize],
            taken: &[bool],
            kept_labels: &[usize],
        ) -> (bool, bool, bool) {
            let (mut gt, mut kept, mut hit): ($bits, $bits, $bits) = (0, 0, 0);
            for (&c, &t) in gt_labels.iter().zip(taken) {
                gt |= 1 << c;
                hit |= <$bits>::from(t) << c;
            }
            for &c in kept_labels {
                kept |= 1 << c;
            }
            let mut labels = gt | kept;
            while labels != 0 {
                let c = labels.trailing_zeros() as usize;
                labels &= labels - 1;
                let code = outcome(gt >> c & 1 == 1, kept >> c & 1 == 1);
                self.per_label[c][code as usize] += 1;
            }
            let mut chance = gt & kept & !hit;
            while chance != 0 {
                self.per_label[chance.trailing_zeros() as usize][3] += 1;
                chance &= chance - 1;
            }
            (gt & reject != 0, kept & reject != 0, hit & reject != 0)
        }
    };
}

/// What one image was: its outcome code and whether it was caught by chance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageLine {
    pub outcome: i8,
    pub by_chance: bool,
}

/// The line decision's counts over some images: a task's share, then the run's (summed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineCounts {
    /// Images counted (skipped ones aside).
    pub total: i64,
    /// Images per outcome code: caught, escape, overkill, pass.
    pub outcomes: [i64; 4],
    pub caught_by_chance: i64,
    /// Per label: images caught, escaped, overkilled (pass is the rest of `total`), and
    /// caught with none of the label's annotations taken (by chance).
    pub per_label: Vec<[i64; 4]>,
    /// Per label, for the image at hand: bit 0 an annotation, bit 1 a kept prediction, bit 2
    /// an annotation taken.
    seen: Vec<u8>,
    /// The labels flagged in `seen`, each once.
    touched: Vec<usize>,
}

impl LineCounts {
    pub fn new(num_labels: usize) -> Self {
        LineCounts {
            per_label: vec![[0; 4]; num_labels],
            seen: vec![0; num_labels],
            ..LineCounts::default()
        }
    }

    /// Adds another task's counts to these.
    pub fn merge(mut self, other: &LineCounts) -> Self {
        self.total += other.total;
        self.caught_by_chance += other.caught_by_chance;
        for (a, b) in self.outcomes.iter_mut().zip(&other.outcomes) {
            *a += b;
        }
        for (a, b) in self.per_label.iter_mut().zip(&other.per_label) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        self
    }

    /// Counts image `img`: its annotations' labels and which of them were taken by a kept
    /// prediction (IoU >= τ, any label), and its kept predictions' labels. Never inlined:
    /// inlined into `match_image` it made the compiler leave the matching's hot loop slower.
    #[inline(never)]
    pub fn image(
        &mut self,
        decision: &Decision<'_>,
        img: usize,
        gt_labels: &[usize],
        taken: &[bool],
        kept_labels: &[usize],
    ) -> ImageLine {
        if decision.skipped(img) {
            return ImageLine {
                outcome: SKIPPED,
                by_chance: false,
            };
        }
        let labels = self.per_label.len();
        let (actual, called, seen_defect) = if labels <= 64 {
            // The low word of the mask: a variable shift of a u128 costs several
            // instructions per box, of a u64 one.
            let reject = decision.reject_bits as u64;
            self.flags_as_u64(reject, gt_labels, taken, kept_labels)
        } else if labels <= 128 {
            self.flags_as_u128(decision.reject_bits, gt_labels, taken, kept_labels)
        } else {
            self.flags_as_bytes(decision, gt_labels, taken, kept_labels)
        };
        let code = outcome(actual, called);
        let by_chance = code == CAUGHT && !seen_defect;
        self.total += 1;
        self.outcomes[code as usize] += 1;
        self.caught_by_chance += i64::from(by_chance);
        ImageLine {
            outcome: code,
            by_chance,
        }
    }

    flags_as_bits!(
        /// Up to 64 labels (the usual case): the image's labels as one-word bit sets.
        flags_as_u64,
        u64
    );
    flags_as_bits!(
        /// Up to 128 labels: the image's labels as two-word bit sets.
        flags_as_u128,
        u128
    );

    /// More labels: the same with a flag byte per label, cleared after the image.
    fn flags_as_bytes(
        &mut self,
        decision: &Decision<'_>,
        gt_labels: &[usize],
        taken: &[bool],
        kept_labels: &[usize],
    ) -> (bool, bool, bool) {
        let reject = decision.reject;
        let (mut actual, mut seen_defect) = (false, false);
        for (&c, &t) in gt_labels.iter().zip(taken) {
            self.flag(c, 1 | u8::from(t) << 2);
            actual |= reject[c];
            seen_defect |= t & reject[c];
        }
        let mut called = false;
        for &c in kept_labels {
            self.flag(c, 2);
            called |= reject[c];
        }
        for &c in &self.touched {
            let flags = std::mem::take(&mut self.seen[c]);
            let row = &mut self.per_label[c];
            row[outcome(flags & 1 != 0, flags & 2 != 0) as usize] += 1;
            row[3] += i64::from(flags == 3);
        }
        self.touched.clear();
        (actual, called, seen_defect)
    }

    #[inline(always)]
    fn flag(&mut self, label: usize, bit: u8) {
        let flags = &mut self.seen[label];
        if *flags == 0 {
            self.touched.push(label);
        }
        *flags |= bit;
    }

    /// Per label: caught, escape, overkill and pass, row-major `num_labels x 4`.
    pub fn label_outcomes(&self) -> Vec<i64> {
        let rows = self.per_label.iter();
        rows.flat_map(|&[c, e, o, _]| [c, e, o, self.total - c - e - o])
            .collect()
    }

    /// Per label: images caught by that label (annotated and predicted) none of whose
    /// annotations of the label was taken by a kept prediction.
    pub fn label_by_chance(&self) -> Vec<i64> {
        self.per_label.iter().map(|row| row[3]).collect()
    }

    /// The run's totals (SPEC §9), rates NaN for 0/0.
    pub fn totals(&self) -> LineTotals {
        let [caught, escapes, overkills, passes] = self.outcomes;
        LineTotals {
            total: self.total,
            actual_ng: caught + escapes,
            actual_ok: overkills + passes,
            caught,
            escapes,
            overkills,
            passes,
            caught_by_chance: self.caught_by_chance,
            escape_rate: ratio(escapes, caught + escapes),
            overkill_rate: ratio(overkills, overkills + passes),
        }
    }
}

/// The outcome of truth `actual` (NG) and decision `called` (NG), without a branch:
/// CAUGHT 0, ESCAPE 1, OVERKILL 2, PASS 3.
#[inline(always)]
fn outcome(actual: bool, called: bool) -> i8 {
    2 * i8::from(!actual) + i8::from(!called)
}

/// The ten totals of the line decision, under the names the portal stores them by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineTotals {
    pub total: i64,
    pub actual_ng: i64,
    pub actual_ok: i64,
    pub caught: i64,
    pub escapes: i64,
    pub overkills: i64,
    pub passes: i64,
    pub caught_by_chance: i64,
    pub escape_rate: f64,
    pub overkill_rate: f64,
}

/// A set of labels or images as given: a mask, or indices (duplicates allowed).
#[derive(Clone, Copy, Debug)]
pub enum Items<'a> {
    Mask(&'a [bool]),
    Indices(Ints<'a>),
}

impl Items<'_> {
    /// The set as a mask of `n` items; `name` for the messages.
    pub fn mask(&self, name: &str, n: usize) -> Result<Vec<bool>> {
        match *self {
            Items::Mask(mask) if mask.len() == n => Ok(mask.to_vec()),
            Items::Mask(mask) => fail(format!(
                "{name}: expected {n} booleans (or indices), got {}",
                mask.len()
            )),
            Items::Indices(indices) => index_set(name, indices, n),
        }
    }
}

fn index_set(name: &str, indices: Ints<'_>, n: usize) -> Result<Vec<bool>> {
    let mut mask = vec![false; n];
    for i in 0..indices.len() {
        let v = indices.get(i);
        match usize::try_from(v).ok().filter(|&j| j < n) {
            Some(j) => mask[j] = true,
            None => {
                return fail(format!(
                    "{name}[{i}]: {v} is out of range (expected 0 <= index < {n})"
                ));
            }
        }
    }
    Ok(mask)
}

/// The reject labels (default: every label) and skipped images (default: none) of a run.
pub fn decision_masks(
    ds: &Dataset<'_>,
    reject: Option<Items<'_>>,
    skip: Option<Items<'_>>,
) -> Result<(Vec<bool>, Vec<bool>)> {
    let reject = match reject {
        Some(items) => items.mask("reject_labels", ds.num_labels)?,
        None => vec![true; ds.num_labels],
    };
    let skip = match skip {
        Some(items) => items.mask("skip_images", ds.num_images())?,
        None => Vec::new(),
    };
    Ok((reject, skip))
}

#[cfg(test)]
#[path = "line_tests.rs"]
mod tests;
