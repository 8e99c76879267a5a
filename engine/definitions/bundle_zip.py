"""Reading and writing a process bundle as a zip, refusing what could exhaust the server.

Sizes are checked against what is really decompressed, not what the archive declares, so a zip
bomb stops at the limit; names that climb out of the bundle, and files that are not UTF-8, are
refused naming the file. Loose files are placed where a bundle keeps them: ``*.bpmn``, ``*.dmn``
and decision tests under ``workflows/``, other ``*.json`` under ``forms/``.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Mapping

from engine.definitions.catalog import DECISION_TESTS_SUFFIX, FORM_PREFIX, WORKFLOW_PREFIX
from engine.errors import InvalidInput

MAX_FILE_BYTES = 1024 * 1024
MAX_BUNDLE_BYTES = 10 * 1024 * 1024
MAX_FILES = 200
FIELD = "bundle"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")  # stored, hashed, sent as a download's name


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, {FIELD: message})


def bundle_path(name: str) -> str:
    """Where a file of an uploaded bundle belongs (``workflows/x.bpmn``, ``forms/x.schema.json``);
    InvalidInput for a name that is not a definition file or climbs out of the bundle."""
    clean = posixpath.normpath(name.replace("\\", "/"))
    if clean.startswith(("/", "../")) or clean == ".." or "\0" in clean:
        raise _refuse(f"{name}: a file name must stay inside the bundle")
    base = posixpath.basename(clean)
    if not SAFE_NAME.fullmatch(base):
        raise _refuse(f"{name}: a file name may hold only letters, digits, '.', '_' and '-'")
    if base.endswith((".bpmn", ".dmn", DECISION_TESTS_SUFFIX)):
        return WORKFLOW_PREFIX + base
    if base.endswith(".json"):
        return FORM_PREFIX + base
    raise _refuse(f"{name}: not a BPMN, DMN, decision tests or form file")


def check_file(path: str, content: str) -> None:
    """A single file's limit, for uploads and for the editor's saves alike."""
    if len(content.encode("utf-8")) > MAX_FILE_BYTES:
        raise _refuse(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB")


def read_zip(data: bytes) -> dict[str, str]:
    """The bundle's files (path -> text) from zip bytes."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise _refuse(f"the bundle is larger than {MAX_BUNDLE_BYTES // 1024 // 1024} MiB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [e for e in archive.infolist() if not e.is_dir() and not _ignored(e.filename)]
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _refuse(f"not a zip archive: {exc}") from exc
    if len(entries) > MAX_FILES:
        raise _refuse(f"the bundle has {len(entries)} files; at most {MAX_FILES} are accepted")
    files: dict[str, str] = {}
    total = 0
    for entry in entries:
        path = bundle_path(entry.filename)
        raw = _read_bounded(archive, entry)
        total += len(raw)
        if total > MAX_BUNDLE_BYTES:
            raise _refuse(f"the bundle unpacks to more than {MAX_BUNDLE_BYTES // 1024 // 1024} MiB")
        if path in files:
            raise _refuse(f"{entry.filename}: the bundle has two files named {posixpath.basename(path)}")
        try:
            files[path] = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _refuse(f"{entry.filename}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    if not any(p.endswith(".bpmn") for p in files):
        raise _refuse("the bundle has no BPMN file")
    return files


def _ignored(name: str) -> bool:
    """Folders' metadata that archivers add (macOS resource forks, Finder files)."""
    base = posixpath.basename(name)
    return name.startswith("__MACOSX/") or base.startswith(".")


def _read_bounded(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes of an entry, however large it claims (or pretends) to be."""
    try:
        with archive.open(entry) as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
        raise _refuse(f"{entry.filename}: cannot be unpacked: {exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise _refuse(f"{entry.filename}: larger than {MAX_FILE_BYTES // 1024} KiB")
    return raw


def write_zip(files: Mapping[str, str]) -> bytes:
    """A bundle as zip bytes, its files at their bundle paths, so that it imports again as is."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[path].encode("utf-8"))
    return buffer.getvalue()
