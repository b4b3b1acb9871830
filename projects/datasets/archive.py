"""Safe extraction of an uploaded zip archive into a fresh folder."""

from __future__ import annotations

import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from projects.datasets.paths import inside, normalise
from projects.datasets.report import ImportReport

CHUNK = 1024 * 1024
# An entry that inflates more than this many times, once larger than BOMB_MIN_BYTES, is a bomb:
# real images barely compress, and annotation text stays well under 50:1.
BOMB_RATIO = 200
BOMB_MIN_BYTES = 1024 * 1024
_JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1


@dataclass(frozen=True)
class _Entry:
    info: zipfile.ZipInfo
    name: str  # normalised, safe, relative


def extract_zip(archive: Path, dest: Path, report: ImportReport) -> bool:
    """Extract archive into the empty folder dest, or record every reason why not."""
    where = archive.name
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        report.error(where, _("not a readable zip archive (%(reason)s)") % {"reason": exc})
        return False
    with zf:
        infos = zf.infolist()
        max_entries = settings.IMPORT_MAX_ENTRIES
        if len(infos) > max_entries:
            report.error(
                where,
                _("the archive has %(count)d entries, more than the limit %(limit)d")
                % {"count": len(infos), "limit": max_entries},
            )
            return False
        entries = _plan(infos, report, where)
        if not report.ok:
            return False
        return _extract(zf, entries, dest, report, where)


def entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name, decoded as UTF-8 or GB18030 when the archive did not say UTF-8."""
    name = info.filename
    if info.flag_bits & _UTF8_FLAG or name.isascii():
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    # Windows in a Chinese locale writes GBK names without the UTF-8 flag; macOS writes UTF-8.
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return name


def _is_junk(name: str) -> bool:
    parts = name.split("/")
    return parts[0] == "__MACOSX" or parts[-1] in _JUNK_NAMES or parts[-1].startswith("._")


def _plan(infos: list[zipfile.ZipInfo], report: ImportReport, where: str) -> list[_Entry]:
    """Check every entry before anything is extracted; return the files to extract."""
    entries: list[_Entry] = []
    seen: set[str] = set()
    folders: set[str] = set()
    declared_total = 0
    for info in infos:
        raw = entry_name(info)
        name, reason = normalise(raw)
        if reason:
            report.error(where, reason, field=raw)
            continue
        problem = _entry_problem(info)
        if problem:
            report.error(where, problem, field=raw)
            continue
        if info.is_dir() or _is_junk(name):
            continue
        if name in seen:
            report.error(where, _("duplicate entry name"), field=raw)
            continue
        seen.add(name)
        parts = name.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        declared_total += info.file_size
        entries.append(_Entry(info, name))
    for name in sorted(seen & folders):
        report.error(where, _("entry is both a file and a folder"), field=name)
    limit = settings.IMPORT_MAX_ARCHIVE_BYTES
    if declared_total > limit:
        report.error(
            where,
            _("the archive unpacks to %(size)d bytes, more than the limit %(limit)d")
            % {"size": declared_total, "limit": limit},
        )
    return entries


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    """Why this entry may not be extracted, if it may not."""
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return _("symbolic links are not allowed")
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        return _("special files are not allowed")
    if info.flag_bits & _ENCRYPTED_FLAG:
        return _("encrypted entries are not supported")
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > BOMB_MIN_BYTES and ratio > BOMB_RATIO:
        return _("compression ratio %(ratio)d:1 is more than %(limit)d:1 (zip bomb)") % {
            "ratio": ratio,
            "limit": BOMB_RATIO,
        }
    return None


def _extract(
    zf: zipfile.ZipFile, entries: list[_Entry], dest: Path, report: ImportReport, where: str
) -> bool:
    """Stream each entry into dest, capping bytes whatever the headers say."""
    budget = settings.IMPORT_MAX_ARCHIVE_BYTES
    for entry in entries:
        target = dest.joinpath(*entry.name.split("/"))
        if not inside(dest, target):
            report.error(where, _("entry would be written outside the folder"), field=entry.name)
            return False
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            written = _copy_capped(zf, entry.info, target, budget)
        except _TooLarge as exc:
            report.error(where, str(exc), field=entry.name)
            return False
        except (
            zipfile.BadZipFile,
            NotImplementedError,
            RuntimeError,
            ValueError,
            EOFError,
            OSError,
            zlib.error,
        ) as exc:
            report.error(
                where, _("cannot extract (%(reason)s)") % {"reason": exc}, field=entry.name
            )
            return False
        budget -= written
    return True


class _TooLarge(Exception):
    pass


def _copy_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Copy one entry to target (a new file), never more than declared nor than budget."""
    written = 0
    with zf.open(info) as source, open(target, "xb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > info.file_size:
                raise _TooLarge(_("entry holds more data than its header declares"))
            if written > budget:
                raise _TooLarge(
                    _("the archive unpacks to more than the limit %(limit)d bytes")
                    % {"limit": settings.IMPORT_MAX_ARCHIVE_BYTES}
                )
            out.write(chunk)
    return written
