"""Ingest files and folders: one transaction per file, so a run can stop
anywhere and simply be started again (unchanged files are skipped).

A folder may hold a ``manifest.json``: a list of ``{"file", "status",
"drafting_department", "effective_date", "expiry_date", "url", "interprets",
"supersedes"}``
objects giving what the files themselves do not say.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest import IngestError
from ingest.readers import SUPPORTED
from knowledge.errors import Invalid, PolicybotError
from knowledge.records import Department
from knowledge.service import IngestOutcome, KnowledgeService
from knowledge.writer import DocumentMeta

logger = logging.getLogger(__name__)

META_FIELDS = ("title", "doc_number", "issuer", "drafting_department", "publish_date", "effective_date",
               "expiry_date", "status", "url")


@dataclass
class FileFailure:
    path: Path
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"file": str(self.path), "action": "failed", "error": self.reason}


def iter_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUPPORTED and not child.name.startswith("."):
                    yield child
        else:
            yield path


def skipped_files(paths: list[Path]) -> list[Path]:
    """Files inside the given folders that are not ingested: of a type no reader takes.

    (A file named on the command line is always tried, and fails with its reason.)
    """
    return [
        child for path in paths if path.is_dir() for child in sorted(path.rglob("*"))
        if child.is_file() and child.suffix.lower() not in SUPPORTED and not child.name.startswith(".")
        and child.name != "manifest.json"
    ]


def load_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / "manifest.json"
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Invalid(f"{path} 不是有效的 JSON：{exc}；请修正或删除该文件。") from exc
    return {e["file"]: e for e in entries if isinstance(e, dict) and "file" in e}


def ingest_paths(
    service: KnowledgeService,
    paths: list[Path],
    actor: Department | None = None,
    drafting_department: str | None = None,
    on_result: Callable[[IngestOutcome | FileFailure], None] | None = None,
) -> tuple[list[IngestOutcome], list[FileFailure]]:
    """Ingest every readable file; failures are reported, not raised.

    Interpretations whose policy comes later in the run are retried at the end.
    """
    outcomes: list[IngestOutcome] = []
    failures: list[FileFailure] = []
    manifests: dict[Path, dict[str, dict[str, Any]]] = {}
    deferred: list[tuple[Path, DocumentMeta, dict[str, Any]]] = []

    def report(item: IngestOutcome | FileFailure) -> None:
        (outcomes if isinstance(item, IngestOutcome) else failures).append(item)  # type: ignore[arg-type]
        if on_result:
            on_result(item)

    def attempt(path: Path, meta: DocumentMeta, entry: dict[str, Any], final: bool) -> None:
        interprets = None
        if entry.get("interprets"):
            interprets = _policy_id_for(service, path.parent / entry["interprets"])
            if interprets is None and not final:
                deferred.append((path, meta, entry))  # its policy comes later in this run
                return
        try:
            report(service.ingest_file(path, actor, meta, interprets, fallback=final))
        except Invalid as exc:
            if not final and "不在知识库中" in exc.message:
                deferred.append((path, meta, entry))
            else:
                report(FileFailure(path, exc.message))
        except (IngestError, PolicybotError, OSError) as exc:
            report(FileFailure(path, str(exc)))

    for path in iter_files(paths):
        if path.parent not in manifests:
            try:
                manifests[path.parent] = load_manifest(path.parent)
            except Invalid as exc:  # the files still go in, without the manifest's metadata
                manifests[path.parent] = {}
                report(FileFailure(path.parent / "manifest.json", exc.message))
        entry = manifests[path.parent].get(path.name, {})
        if not isinstance(entry.get("interprets", ""), str):
            report(FileFailure(path, "manifest.json 中 interprets 应为政策文件名（字符串）"))
            continue
        fields = {name: entry[name] for name in META_FIELDS if entry.get(name)}
        if drafting_department:
            fields["drafting_department"] = drafting_department
        try:
            meta = DocumentMeta(**fields)
        except ValueError as exc:
            report(FileFailure(path, f"manifest.json 中的元数据有误：{exc}"))
            continue
        attempt(path, meta, entry, final=False)
    for path, meta, entry in deferred:
        attempt(path, meta, entry, final=True)
    _link_successors(service, manifests, actor, report)
    return outcomes, failures


def _link_successors(service: KnowledgeService, manifests: dict[Path, dict[str, dict[str, Any]]],
                     actor: Department | None, report: Callable[[IngestOutcome | FileFailure], None]) -> None:
    """A manifest's ``supersedes`` (the file of the policy a newer one replaces) becomes a link."""
    for folder, entries in manifests.items():
        for name, entry in entries.items():
            old_name = entry.get("supersedes")
            if not old_name:
                continue
            new_id = _policy_id_for(service, folder / name)
            old_id = _policy_id_for(service, folder / str(old_name))
            if new_id is None or old_id is None:
                report(FileFailure(folder / name, f"manifest.json 中 supersedes 指向的文件 {old_name} 未入库，无法关联"))
                continue
            try:
                if service.require(new_id).supersedes != old_id:
                    service.update_document(new_id, {"supersedes": old_id}, actor)
            except PolicybotError as exc:
                report(FileFailure(folder / name, exc.message))


def _policy_id_for(service: KnowledgeService, policy_file: Path) -> str | None:
    """The stored document a manifest's ``interprets`` names, once it is ingested."""
    rows = service.store.read(
        "SELECT id FROM documents WHERE parent_id IS NULL AND source_name = ? ORDER BY created_at DESC LIMIT 1",
        (policy_file.name,),
    )
    return rows[0]["id"] if rows else None
