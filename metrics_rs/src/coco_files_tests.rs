//! Tests of `coco_files`: the arrays read from COCO files, and the messages for bad files.

use super::*;
use std::io::Write;

struct Files {
    dir: std::path::PathBuf,
}

impl Files {
    fn new(name: &str) -> Files {
        let dir = std::env::temp_dir().join(format!("coco_files_{name}_{}", std::process::id()));
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
    let coco = files.read(GT, PRED).unwrap();
    assert_eq!(coco.labels, ["a", "b"]);
    assert_eq!(coco.category_ids, [3, 9]);
    assert_eq!(coco.image_ids, [1, 2]);
    let run = &coco.run;
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

/// COCO rules broken: (the file changed, a text in it, its replacement, how the message
/// ends, `{gt}` standing for the data set's path).
const BROKEN_RULES: [(&str, &str, &str, &str); 7] = [
    (
        "gt",
        r#"{"id": 1, "file_name""#,
        r#"{"id": 2, "file_name""#,
        "gt.json: images[1]: id 2 appears twice",
    ),
    (
        "gt",
        r#""id": 3, "name": "a""#,
        r#""id": 3, "name": "b""#,
        "the category name \"b\" is used twice",
    ),
    (
        "gt",
        r#""id": 3, "name": "a""#,
        r#""id": 3, "name": 5"#,
        "gt.json: category 3 has no \"name\"",
    ),
    (
        "pred",
        r#""image_id": 1,"#,
        r#""image_id": 42,"#,
        "pred.json[1]: image_id 42 is not an image in {gt}",
    ),
    (
        "pred",
        r#""category_id": 3,"#,
        r#""category_id": 5,"#,
        "pred.json[0]: category_id 5 is not a category in {gt}",
    ),
    (
        "pred",
        "[2, 2, 2, 2]",
        "[2, 2, -2, 2]",
        "pred.json[2]: \"bbox\" has a negative width or height",
    ),
    (
        "gt",
        r#""image_id": 1,"#,
        r#""image_id": 7,"#,
        "gt.json: annotations[1]: image_id 7 is not an image of the data set",
    ),
];

#[test]
fn coco_rules_name_the_element() {
    let files = Files::new("rules");
    let gt_path = files.dir.join("gt.json").display().to_string();
    for (file, text, replacement, end) in BROKEN_RULES {
        let (gt, pred) = match file {
            "gt" => (GT.replace(text, replacement), PRED.to_owned()),
            _ => (GT.to_owned(), PRED.replace(text, replacement)),
        };
        assert_ne!((&*gt, &*pred), (GT, PRED), "{text} is not in {file}");
        let (e, end) = (files.error(&gt, &pred), end.replace("{gt}", &gt_path));
        assert!(e.ends_with(&end), "{e} does not end with {end}");
    }
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
