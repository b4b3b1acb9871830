//! A COCO data set file and a COCO results file read (in parallel) into the flat arrays that
//! `evaluate` and `coco_ap` take, with the acceptance rules and messages of the command line.

use std::collections::HashSet;
use std::path::Path;

use crate::coco_fast::parse_results_fast;
use crate::coco_json::{parse_dataset, parse_results};
use crate::coco_records::{Annotation, Category, Detection};
use crate::input::{InputError, OwnedRun, Result, fail};

/// The run as flat arrays, images by ascending id, labels = categories by ascending id.
#[derive(Debug, Clone, PartialEq)]
pub struct CocoArrays {
    pub labels: Vec<String>,
    pub category_ids: Vec<i64>,
    pub image_ids: Vec<i64>,
    pub run: OwnedRun,
}

/// Reads both files at once; the first problem, in the order the Python converter met them.
pub fn read_coco(gt_path: &Path, pred_path: &Path) -> Result<CocoArrays> {
    // The results, the larger file, through the fast path; only a refused file is read again.
    let results = || parse_results_fast(pred_path).map_or_else(|| parse_results(pred_path), Ok);
    let (gt, pred) = rayon::join(|| parse_dataset(gt_path), results);
    for e in [gt.as_ref().err(), pred.as_ref().err()]
        .into_iter()
        .flatten()
    {
        if e.syntax {
            return fail(e.message.clone());
        }
    }
    let gt = gt.map_err(|e| InputError(e.message))?;
    let gt_name = gt_path.display().to_string();
    let pred_name = pred_path.display().to_string();
    let categories = gt.categories.unwrap_or_default();
    let (category_ids, labels) = category_labels(&categories, &gt_name)?;
    let image_ids: Vec<i64> = gt.images.unwrap_or_default().iter().map(|i| i.id).collect();
    let image_ids = unique_sorted(&image_ids, &format!("{gt_name}: images"), "id")?;
    let anns = gt.annotations.unwrap_or_default();
    let (gt_image, gt_label) = annotation_indices(&anns, &image_ids, &category_ids, &gt_name)?;
    let preds = pred.map_err(|e| InputError(e.message))?;
    let (pred_image, pred_label) =
        detection_indices(&preds, &image_ids, &category_ids, &gt_name, &pred_name)?;
    let (gt_order, gt_offsets) = group(&gt_image, image_ids.len());
    let (pred_order, pred_offsets) = group(&pred_image, image_ids.len());
    let run = OwnedRun {
        gt_boxes: gt_order.iter().flat_map(|&i| xyxy(anns[i].bbox)).collect(),
        gt_labels: gt_order.iter().map(|&i| gt_label[i] as i64).collect(),
        gt_offsets,
        pred_boxes: pred_order
            .iter()
            .flat_map(|&i| xyxy(preds[i].bbox))
            .collect(),
        pred_labels: pred_order.iter().map(|&i| pred_label[i] as i64).collect(),
        pred_scores: pred_order.iter().map(|&i| preds[i].score).collect(),
        pred_offsets,
    };
    Ok(CocoArrays {
        labels,
        category_ids,
        image_ids,
        run,
    })
}

/// Category ids ascending (each once) and their names (each a string, each once).
fn category_labels(categories: &[Category], gt_name: &str) -> Result<(Vec<i64>, Vec<String>)> {
    let ids: Vec<i64> = categories.iter().map(|c| c.id).collect();
    let sorted = unique_sorted(&ids, &format!("{gt_name}: categories"), "id")?;
    let mut order: Vec<usize> = (0..categories.len()).collect();
    order.sort_by_key(|&i| ids[i]);
    let mut seen = HashSet::new();
    let mut labels = Vec::with_capacity(order.len());
    for i in order {
        let c = &categories[i];
        let Some(name) = &c.name else {
            return fail(format!("{gt_name}: category {} has no \"name\"", c.id));
        };
        if !seen.insert(name.as_str()) {
            return fail(format!(
                "{gt_name}: the category name \"{name}\" is used twice"
            ));
        }
        labels.push(name.clone());
    }
    Ok((sorted, labels))
}

/// `ids` sorted; a repeated id is reported at its second element (the smallest such id).
fn unique_sorted(ids: &[i64], place: &str, what: &str) -> Result<Vec<i64>> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| ids[i]);
    if let Some(w) = order.windows(2).find(|w| ids[w[0]] == ids[w[1]]) {
        return fail(format!(
            "{place}[{}]: {what} {} appears twice",
            w[1], ids[w[1]]
        ));
    }
    Ok(order.iter().map(|&i| ids[i]).collect())
}

/// The position of each id in `sorted`; the first unknown id is reported.
fn index_of(ids: &[i64], sorted: &[i64], place: &str, what: &str, of: &str) -> Result<Vec<usize>> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            sorted
                .binary_search(id)
                .map_err(|_| InputError(format!("{place}[{i}]: {what} {id} is not {of}")))
        })
        .collect()
}

fn check_boxes<'a>(boxes: impl Iterator<Item = &'a [f64; 4]>, place: &str) -> Result<()> {
    for (i, b) in boxes.enumerate() {
        if b[2] < 0.0 || b[3] < 0.0 {
            return fail(format!(
                "{place}[{i}]: \"bbox\" has a negative width or height"
            ));
        }
    }
    Ok(())
}

type Indices = (Vec<usize>, Vec<usize>);

fn annotation_indices(
    anns: &[Annotation],
    image_ids: &[i64],
    category_ids: &[i64],
    gt_name: &str,
) -> Result<Indices> {
    let place = format!("{gt_name}: annotations");
    check_boxes(anns.iter().map(|a| &a.bbox), &place)?;
    let ids: Vec<i64> = anns.iter().map(|a| a.image_id).collect();
    let image = index_of(
        &ids,
        image_ids,
        &place,
        "image_id",
        "an image of the data set",
    )?;
    let ids: Vec<i64> = anns.iter().map(|a| a.category_id).collect();
    let label = index_of(&ids, category_ids, &place, "category_id", "a category")?;
    Ok((image, label))
}

fn detection_indices(
    preds: &[Detection],
    image_ids: &[i64],
    category_ids: &[i64],
    gt_name: &str,
    pred_name: &str,
) -> Result<Indices> {
    check_boxes(preds.iter().map(|p| &p.bbox), pred_name)?;
    let ids: Vec<i64> = preds.iter().map(|p| p.image_id).collect();
    let of = format!("an image in {gt_name}");
    let image = index_of(&ids, image_ids, pred_name, "image_id", &of)?;
    let ids: Vec<i64> = preds.iter().map(|p| p.category_id).collect();
    let of = format!("a category in {gt_name}");
    let label = index_of(&ids, category_ids, pred_name, "category_id", &of)?;
    Ok((image, label))
}

/// A stable order by image (counting sort) and the per-image offsets.
fn group(image: &[usize], num_images: usize) -> (Vec<usize>, Vec<i64>) {
    let mut offsets = vec![0i64; num_images + 1];
    for &i in image {
        offsets[i + 1] += 1;
    }
    for k in 0..num_images {
        offsets[k + 1] += offsets[k];
    }
    let mut next: Vec<usize> = offsets[..num_images].iter().map(|&o| o as usize).collect();
    let mut order = vec![0; image.len()];
    for (j, &i) in image.iter().enumerate() {
        order[next[i]] = j;
        next[i] += 1;
    }
    (order, offsets)
}

fn xyxy(b: [f64; 4]) -> [f64; 4] {
    [b[0], b[1], b[0] + b[2], b[1] + b[3]]
}

#[cfg(test)]
#[path = "coco_files_tests.rs"]
mod tests;
