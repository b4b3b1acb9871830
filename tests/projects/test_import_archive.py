"""Zip archives: unsafe entries are refused by name before anything is extracted."""

from __future__ import annotations

import os
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from projects.datasets import ImportReport, import_dataset
from projects.datasets.archive import extract_zip
from projects.models import Image
from tests.projects.datasets import messages_at, zip_folder

pytestmark = pytest.mark.django_db

CENTRAL = b"PK\x01\x02"
LOCAL = b"PK\x03\x04"


def dataset_zip(
    make_coco, tmp_path: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]]
) -> Path:
    """The standard COCO dataset zipped, plus extra entries."""
    archive = zip_folder(make_coco(), tmp_path / "bad.zip")
    with warnings.catch_warnings(), zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are the point
        for name, data in extra:
            zf.writestr(name, data)
    return archive


def patch_headers(
    archive: Path,
    name: bytes,
    *,
    central: dict[int, tuple[str, int]],
    local: dict[int, tuple[str, int]],
) -> None:
    """Overwrite fields (offset → (struct format, value)) in the headers of entry `name`."""
    data = bytearray(archive.read_bytes())
    # (signature, fields, offset of the name length, offset of the name)
    for signature, fields, length_at, name_at in (
        (CENTRAL, central, 28, 46),
        (LOCAL, local, 26, 30),
    ):
        start = 0
        while (start := data.find(signature, start)) != -1:
            length = struct.unpack_from("<H", data, start + length_at)[0]
            if bytes(data[start + name_at : start + name_at + length]) == name:
                for offset, (fmt, value) in fields.items():
                    struct.pack_into(fmt, data, start + offset, value)
            start += 4
    archive.write_bytes(bytes(data))


def symlink_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("../evil.txt", "path “../evil.txt” climbs out of the dataset with “..”"),
        ("a/../../evil.txt", "path “a/../../evil.txt” climbs out of the dataset with “..”"),
        ("..\\evil.txt", "path “..\\evil.txt” climbs out of the dataset with “..”"),
        ("/tmp/evil.txt", "absolute path “/tmp/evil.txt” is not allowed"),
        ("C:/evil.txt", "path “C:/evil.txt” starts with a drive letter"),
    ],
)
def test_entry_path_that_leaves_the_folder_is_refused(
    project, make_coco, tmp_path, unchanged, entry, message
):
    archive = dataset_zip(make_coco, tmp_path, [(entry, b"pwned")])

    report = import_dataset(project, archive, "coco")

    assert messages_at(report.errors, f"bad.zip: {entry}") == [message], str(report)
    assert not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/evil.txt").exists()
    unchanged()


def test_symlink_entry_is_refused(project, make_coco, tmp_path, unchanged):
    archive = dataset_zip(make_coco, tmp_path, [(symlink_entry("images/link.jpg"), b"/etc/passwd")])

    report = import_dataset(project, archive, "coco")

    assert messages_at(report.errors, "bad.zip: images/link.jpg") == [
        "symbolic links are not allowed"
    ]
    unchanged()


def test_zip_bomb_entry_is_refused(project, make_coco, tmp_path, unchanged):
    archive = dataset_zip(make_coco, tmp_path, [("images/bomb.bin", bytes(8 * 1024 * 1024))])

    report = import_dataset(project, archive, "coco")

    [message] = messages_at(report.errors, "bad.zip: images/bomb.bin")
    assert message.startswith("compression ratio ")
    assert message.endswith(":1 is more than 200:1 (zip bomb)")
    unchanged()


def test_too_many_entries_are_refused(project, make_coco, tmp_path, settings, unchanged):
    settings.IMPORT_MAX_ENTRIES = 3
    archive = zip_folder(make_coco(), tmp_path / "many.zip")

    report = import_dataset(project, archive, "coco")

    assert messages_at(report.errors, "many.zip") == [
        "the archive has 4 entries, more than the limit 3"
    ]
    unchanged()


def test_archive_unpacking_beyond_the_size_cap_is_refused(
    project, make_coco, tmp_path, settings, unchanged
):
    settings.IMPORT_MAX_ARCHIVE_BYTES = 1000
    archive = zip_folder(make_coco(), tmp_path / "big.zip")
    declared = sum(info.file_size for info in zipfile.ZipFile(archive).infolist())

    report = import_dataset(project, archive, "coco")

    assert messages_at(report.errors, "big.zip") == [
        f"the archive unpacks to {declared} bytes, more than the limit 1000"
    ]
    unchanged()


def test_entry_whose_header_understates_its_size_is_refused(
    project, make_coco, tmp_path, unchanged
):
    archive = dataset_zip(make_coco, tmp_path, [("notes.txt", os.urandom(50_000))])
    patch_headers(archive, b"notes.txt", central={24: ("<I", 10)}, local={22: ("<I", 10)})

    report = import_dataset(project, archive, "coco")

    [message] = messages_at(report.errors, "bad.zip: notes.txt")
    assert message.startswith("cannot extract (Bad CRC-32")
    unchanged()


def test_encrypted_entry_is_refused(project, make_coco, tmp_path, unchanged):
    archive = dataset_zip(make_coco, tmp_path, [("secret.txt", b"x")])
    patch_headers(archive, b"secret.txt", central={8: ("<H", 1)}, local={6: ("<H", 1)})

    report = import_dataset(project, archive, "coco")

    assert messages_at(report.errors, "bad.zip: secret.txt") == [
        "encrypted entries are not supported"
    ]
    unchanged()


def test_duplicate_entry_names_are_refused(project, make_coco, tmp_path, unchanged):
    archive = dataset_zip(make_coco, tmp_path, [("images/划痕.jpg", b"other")])

    report = import_dataset(project, archive, "coco")

    assert messages_at(report.errors, "bad.zip: images/划痕.jpg") == ["duplicate entry name"]
    unchanged()


def test_entry_that_is_both_file_and_folder_is_refused(project, make_coco, tmp_path, unchanged):
    archive = dataset_zip(make_coco, tmp_path, [("images/sub", b"file")])

    report = import_dataset(project, archive, "coco")

    assert messages_at(report.errors, "bad.zip: images/sub") == [
        "entry is both a file and a folder"
    ]
    unchanged()


def test_file_that_is_not_a_zip_is_refused(project, tmp_path, unchanged):
    archive = tmp_path / "dataset.zip"
    archive.write_bytes(b"this is not a zip archive")

    report = import_dataset(project, archive, "coco")

    assert messages_at(report.errors, "dataset.zip") == [
        "not a readable zip archive (File is not a zip file)"
    ]
    unchanged()


def test_control_characters_in_names_cannot_forge_report_lines(project, make_coco, tmp_path):
    archive = dataset_zip(make_coco, tmp_path, [("x\nimages/ok.jpg: fine/../../y", b"x")])

    report = import_dataset(project, archive, "coco")

    assert [str(problem) for problem in report.errors] == [
        "bad.zip: x\\x0aimages/ok.jpg: fine/../../y: path “x\\x0aimages/ok.jpg: fine/../../y” "
        "climbs out of the dataset with “..”"
    ]


def test_gbk_names_from_windows_and_macos_junk_are_handled(project, make_coco, tmp_path):
    root = make_coco()
    archive = tmp_path / "windows.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(root).as_posix().replace("划痕", "XXXX"))
        zf.writestr("__MACOSX/images/._XXXX.jpg", b"\x00\x05\x16\x07")
        zf.writestr(".DS_Store", b"\x00\x00\x00\x01Bud1")
    archive.write_bytes(archive.read_bytes().replace(b"XXXX", "划痕".encode("gbk")))

    report = import_dataset(project, archive, "coco")

    assert report.imported, str(report)
    assert Image.objects.filter(name="划痕.jpg").exists()


def test_nothing_is_extracted_when_one_entry_is_bad(tmp_path):
    archive = tmp_path / "mixed.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("good.txt", b"fine")
        zf.writestr("../evil.txt", b"pwned")
    target = tmp_path / "out" / "inner"
    target.mkdir(parents=True)
    report = ImportReport()

    assert not extract_zip(archive, target, report)

    assert [str(p) for p in report.errors] == [
        "mixed.zip: ../evil.txt: path “../evil.txt” climbs out of the dataset with “..”"
    ]
    assert list((tmp_path / "out").rglob("*")) == [target]


def test_safe_archive_is_extracted_with_its_folders(tmp_path):
    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a/", b"")
        zf.writestr("./a/b/c.txt", b"deep")
        zf.writestr("a//d.txt", b"double slash")
    target = tmp_path / "out"
    target.mkdir()

    assert extract_zip(archive, target, ImportReport())

    assert (target / "a" / "b" / "c.txt").read_bytes() == b"deep"
    assert (target / "a" / "d.txt").read_bytes() == b"double slash"
