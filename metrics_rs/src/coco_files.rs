//! A COCO data set file and a COCO results file read (in parallel) into the flat arrays that
//! `evaluate` and `coco_ap` take, with the acceptance rules and messages of the command line.

use std::collections::HashSet;
use std::path::Path;

use crate::coco_fast::parse_results_fast;
use crate::coco_json::{Annotation, Category, Detection, parse_dataset, parse_results};
use crate::input::InputError;

/// The run as flat arrays, images by ascending id, labels = categories by ascending id.
#[derive(Debug, Clone, PartialEq)]
pub struct CocoArrays {
    pub labels: Vec<String>,
    pub category_ids: Vec<i64>,
    pub image_ids: Vec<i64>,
    /// `(N, 4)` row-major x1 y1 x2 y2.
    pub gt_boxes: Vec<f64>,
    pub gt_labels: Vec<i64>,
    pub gt_offsets: Vec<i64>,
    /// `(M, 4)` row-major x1 y1 x2 y2.
    pub pred_boxes: Vec<f64>,
    pub pred_labels: Vec<i64>,
    pub pred_scores: Vec<f64>,
    pub pred_offsets: Vec<i64>,
}

type Result<T> = std::result::Result<T, InputError>;

fn fail<T>(message: String) -> Result<T> {
    Err(InputError(message))
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
    Ok(CocoArrays {
        labels,
        category_ids,
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
        image_ids,
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
mod tests {
    use super::*;
    use std::io::Write;

    struct Files {
        dir: std::path::PathBuf,
    }

    impl Files {
        fn new(name: &str) -> Files {
            let dir =
                std::env::temp_dir().join(format!("coco_files_{name}_{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Files { dir }
        }
        fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
            let path = self.dir.join(name);
            std::fs::File::create(&path)
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            path
        }
        fn read(&self, gt: &str, pred: &str) -> Result<CocoArrays> {
            read_coco(&self.write("gt.json", gt), &self.write("pred.json", pred))
        }
        fn error(&self, gt: &str, pred: &str) -> String {
            self.read(gt, pred).unwrap_err().0
        }
    }

    impl Drop for Files {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    const GT: &str = r#"{"images": [{"id": 2}, {"id": 1, "file_name": "a.png"}],
        "categories": [{"id": 9, "name": "b"}, {"id": 3, "name": "a", "supercategory": "x"}],
        "annotations": [{"id": 1, "image_id": 2, "category_id": 9, "bbox": [1, 2, 3, 4],
                         "iscrowd": 1, "segmentation": [[0, 0, 1, 1]]},
                        {"image_id": 1, "category_id": 3, "bbox": [0.5, 0, 1, 1]}],
        "info": {"year": 2024}}"#;
    const PRED: &str = r#"[{"image_id": 2, "category_id": 3, "bbox": [0, 0, 1, 1], "score": 1},
        {"image_id": 1, "category_id": 9, "bbox": [1, 1, 2, 2], "score": 0.5, "extra": null},
        {"image_id": 2, "category_id": 9, "bbox": [2, 2, 2, 2], "score": 0.25}]"#;

    #[test]
    fn arrays_are_grouped_by_ascending_image_id_with_xyxy_boxes() {
        let files = Files::new("ok");
        let run = files.read(GT, PRED).unwrap();
        assert_eq!(run.labels, ["a", "b"]);
        assert_eq!(run.category_ids, [3, 9]);
        assert_eq!(run.image_ids, [1, 2]);
        assert_eq!(run.gt_boxes, [0.5, 0.0, 1.5, 1.0, 1.0, 2.0, 4.0, 6.0]);
        assert_eq!(run.gt_labels, [0, 1]);
        assert_eq!(run.gt_offsets, [0, 1, 2]);
        assert_eq!(run.pred_labels, [1, 0, 1]);
        assert_eq!(run.pred_scores, [0.5, 1.0, 0.25]);
        assert_eq!(run.pred_offsets, [0, 1, 3]);
        assert_eq!(&run.pred_boxes[..4], &[1.0, 1.0, 3.0, 3.0]);
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let files = Files::new("bom");
        assert!(files.read(&format!("\u{feff}{GT}"), PRED).is_ok());
    }

    #[test]
    fn a_truncated_file_is_invalid_json_with_its_line_and_column() {
        let files = Files::new("truncated");
        let e = files.error(GT, &PRED[..40]);
        assert!(
            e.contains("pred.json: not valid JSON (EOF while parsing"),
            "{e}"
        );
        assert!(e.contains("at line 1 column 40)"), "{e}");
    }

    #[test]
    fn nan_and_infinity_literals_are_invalid_json() {
        let files = Files::new("nan");
        for literal in ["NaN", "Infinity", "-Infinity", "1e400"] {
            let pred = format!(
                r#"[{{"image_id": 1, "category_id": 3, "bbox": [0, 0, 1, 1], "score": {literal}}}]"#
            );
            let e = files.error(GT, &pred);
            assert!(
                e.contains("pred.json: not valid JSON (") && e.contains("line 1 column"),
                "{e}"
            );
        }
    }

    #[test]
    fn wrong_types_name_the_element_and_the_field() {
        let files = Files::new("types");
        let cases = [
            (
                r#"[{"image_id": 1.5, "category_id": 3, "bbox": [0, 0, 1, 1], "score": 1}]"#,
                "pred.json[0]: \"image_id\": invalid type: floating point `1.5`, expected an integer at line 1 column 18",
            ),
            (
                r#"[{"image_id": true, "category_id": 3, "bbox": [0, 0, 1, 1], "score": 1}]"#,
                "pred.json[0]: \"image_id\": invalid type: boolean `true`, expected an integer",
            ),
            (
                r#"[{"image_id": 1, "category_id": 3, "bbox": [0, 0, 1], "score": 1}]"#,
                "pred.json[0]: \"bbox\": invalid length 3, expected 4 numbers [x, y, w, h]",
            ),
            (
                r#"[{"image_id": 1, "category_id": 3, "bbox": [0, 0, 1, "1"], "score": 1}]"#,
                "pred.json[0]: \"bbox\": invalid type: string \"1\", expected a number",
            ),
            (
                r#"[{"image_id": 1, "category_id": 3, "bbox": [0, 0, 1, 1], "score": "high"}]"#,
                "pred.json[0]: \"score\": invalid type: string \"high\", expected a number",
            ),
            (
                r#"[{"image_id": 1, "category_id": 3, "bbox": [0, 0, 1, 1]}]"#,
                "pred.json[0]: \"score\" is missing",
            ),
            (
                r#"[[1, 3, [0, 0, 1, 1], 1]]"#,
                "pred.json[0]: invalid type: sequence, expected an object",
            ),
            (
                r#"{"annotations": []}"#,
                "pred.json: invalid type: map, expected a list",
            ),
            (
                r#"[{"image_id": 99999999999999999999, "category_id": 3, "bbox": [0, 0, 1, 1], "score": 1}]"#,
                "pred.json[0]: \"image_id\": invalid type: floating point",
            ),
        ];
        for (pred, message) in cases {
            let e = files.error(GT, pred);
            assert!(e.contains(message), "{e} lacks {message}");
        }
        let e = files.error(
            r#"{"images": null, "categories": [], "annotations": []}"#,
            "[]",
        );
        assert!(
            e.contains("gt.json: images: invalid type: null, expected a list"),
            "{e}"
        );
        let e = files.error("[]", "[]");
        assert!(
            e.contains("expected a COCO data set (a JSON object)"),
            "{e}"
        );
        let e = files.error(r#"{"images": [], "categories": []}"#, "[]");
        assert!(e.contains("gt.json: \"annotations\" is missing"), "{e}");
    }

    #[test]
    fn coco_rules_name_the_element() {
        let files = Files::new("rules");
        let gt_dup = GT.replace(r#"{"id": 1, "file_name""#, r#"{"id": 2, "file_name""#);
        assert!(
            files
                .error(&gt_dup, PRED)
                .ends_with("gt.json: images[1]: id 2 appears twice")
        );
        let gt_cat = GT.replace(r#""id": 3, "name": "a""#, r#""id": 3, "name": "b""#);
        assert!(
            files
                .error(&gt_cat, PRED)
                .ends_with("the category name \"b\" is used twice")
        );
        let gt_name = GT.replace(r#""id": 3, "name": "a""#, r#""id": 3, "name": 5"#);
        assert!(
            files
                .error(&gt_name, PRED)
                .ends_with("gt.json: category 3 has no \"name\"")
        );
        let pred = PRED.replace(r#""image_id": 1,"#, r#""image_id": 42,"#);
        assert!(
            files
                .error(GT, &pred)
                .contains("pred.json[1]: image_id 42 is not an image in")
        );
        let pred = PRED.replace(r#""category_id": 3,"#, r#""category_id": 5,"#);
        assert!(
            files
                .error(GT, &pred)
                .contains("pred.json[0]: category_id 5 is not a category in")
        );
        let pred = PRED.replace("[2, 2, 2, 2]", "[2, 2, -2, 2]");
        assert!(
            files
                .error(GT, &pred)
                .ends_with("pred.json[2]: \"bbox\" has a negative width or height")
        );
        let gt = GT.replace(r#""image_id": 1,"#, r#""image_id": 7,"#);
        assert!(
            files
                .error(&gt, PRED)
                .ends_with("gt.json: annotations[1]: image_id 7 is not an image of the data set")
        );
    }

    #[test]
    fn a_million_junk_elements_are_refused_at_the_first() {
        let files = Files::new("junk");
        let junk = format!("[{}1]", "1,".repeat(1_000_000));
        let start = std::time::Instant::now();
        let e = files.error(GT, &junk);
        assert!(
            e.contains("pred.json[0]: invalid type: integer `1`, expected an object"),
            "{e}"
        );
        let gt = format!(
            r#"{{"images": [{}{{}}], "categories": [], "annotations": []}}"#,
            "{},".repeat(1_000_000)
        );
        let e = files.error(&gt, "[]");
        assert!(e.contains("gt.json: images[0]: \"id\" is missing"), "{e}");
        assert!(start.elapsed().as_secs_f64() < 5.0);
    }

    #[test]
    fn a_missing_file_is_named() {
        let files = Files::new("missing");
        let e = read_coco(&files.dir.join("none.json"), &files.write("p.json", "[]"))
            .unwrap_err()
            .0;
        assert!(
            e.contains("none.json: cannot read the file (No such file or directory)"),
            "{e}"
        );
    }

    #[test]
    fn a_syntax_error_in_results_comes_before_a_rule_of_the_data_set() {
        let files = Files::new("order");
        let gt_dup = GT.replace(r#"{"id": 1, "file_name""#, r#"{"id": 2, "file_name""#);
        assert!(
            files
                .error(&gt_dup, "[")
                .contains("pred.json: not valid JSON")
        );
    }
}
