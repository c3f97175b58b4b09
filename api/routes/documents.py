"""Documents and their interpretations: thin routes over KnowledgeService."""

from __future__ import annotations

from datetime import date
from pathlib import PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Header, Request, Response, UploadFile
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from api.deps import DepartmentDep, IndexerDep, ServiceDep, SettingsDep, get_department
from ingest import parse_interpretation, read_bytes
from ingest.readers import SUPPORTED, size_limit
from knowledge.errors import Invalid, TooLarge, Unsupported
from knowledge.writer import DocumentMeta

router = APIRouter(tags=["documents"])

# YYYY-MM-DD that is a real date (2024-13-99 is refused, not stored).
IsoDate = Annotated[str, AfterValidator(lambda v: date.fromisoformat(v).isoformat())]


def read_upload(file: StarletteUpload, limit: int) -> tuple[bytes, str]:
    name = PurePath(file.filename or "upload.txt").name
    if PurePath(name).suffix.lower() not in SUPPORTED:
        raise Unsupported(f"不支持的文件类型 {name}：请上传 .txt、.docx、.pdf 或 .html 文件。")
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"文件 {name} 超过 {size_limit(limit)} 上限：请拆分后再上传。")
    return data, name


@router.post("/documents", status_code=201)
def upload_document(
    settings: SettingsDep, service: ServiceDep, indexer: IndexerDep, department: DepartmentDep,
    file: Annotated[UploadFile, File()],
    title: Annotated[str | None, Form()] = None,
    doc_number: Annotated[str | None, Form()] = None,
    issuer: Annotated[str | None, Form()] = None,
    drafting_department: Annotated[str | None, Form()] = None,
    publish_date: Annotated[IsoDate | None, Form()] = None,
    status: Annotated[str | None, Form(pattern="^(current|amended|repealed|expired)$")] = None,
    url: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    data, name = read_upload(file, settings.max_upload_bytes)
    meta = DocumentMeta(title=title, doc_number=doc_number, issuer=issuer,
                        drafting_department=drafting_department, publish_date=publish_date,
                        status=status, url=url)
    outcome = service.ingest_bytes(data, name, department, meta, kind="policy",
                                   max_bytes=settings.max_upload_bytes)
    indexer.notify()
    top = outcome.documents[0]
    return {**top.to_json(), "articles": outcome.articles, "action": outcome.action,
            "documents": [d.to_json() for d in outcome.documents]}


@router.get("/documents")
def list_documents(
    service: ServiceDep, status: Literal["current", "amended", "repealed", "expired", "all"] | None = None,
    q: str | None = None, mine: bool = False, authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    documents = service.store.list_documents(status=status, title_like=q)
    if mine:  # the console's list: what the caller's department may change
        department = get_department(service, authorization)
        if not department.is_admin:
            documents = [d for d in documents if d.owner_department_id == department.id
                         or d.drafting_department == department.name]
    return {"documents": [d.to_json() for d in documents]}


@router.get("/documents/{doc_id}")
def get_document(service: ServiceDep, doc_id: str) -> dict[str, Any]:
    return service.document_detail(doc_id)


class DocumentPatch(BaseModel):
    """Fields left out stay as they are; null clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", min_length=1)
    doc_number: str | None = None
    issuer: str | None = None
    drafting_department: str | None = None
    publish_date: IsoDate | None = None
    effective_date: IsoDate | None = None
    expiry_date: IsoDate | None = None
    status: Literal["current", "amended", "repealed", "expired"] = "current"
    url: str | None = None
    supersedes: str | None = None  # id of the document this one replaces (that one becomes repealed)


@router.patch("/documents/{doc_id}")
def patch_document(service: ServiceDep, department: DepartmentDep, doc_id: str,
                   patch: DocumentPatch) -> dict[str, Any]:
    changes = patch.model_dump(exclude_unset=True)
    return service.update_document(doc_id, changes, department).to_json()


@router.delete("/documents/{doc_id}", status_code=204)
def delete_document(service: ServiceDep, department: DepartmentDep, doc_id: str) -> Response:
    service.delete_document(doc_id, department)
    return Response(status_code=204)


class InterpretationIn(BaseModel):
    title: str = Field(min_length=1)
    text: str = Field(min_length=1)
    publish_date: IsoDate | None = None
    department: str | None = None


@router.post("/documents/{doc_id}/interpretations", status_code=201)
async def add_interpretation(
    request: Request, settings: SettingsDep, service: ServiceDep, indexer: IndexerDep,
    department: DepartmentDep, doc_id: str,
) -> dict[str, Any]:
    """Multipart `file`, or JSON `{"title", "text", "publish_date"?}`."""
    if request.headers.get("content-type", "").startswith("multipart/"):
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, StarletteUpload):
                raise Invalid("请以 file 字段上传解读文件，或以 JSON 提交 {title, text}。")
            data, name = read_upload(upload, settings.max_upload_bytes)
        text = await run_in_threadpool(read_bytes, data, name, settings.max_upload_bytes)
        parsed = parse_interpretation(text, name)
    else:
        raw = bytearray()
        async for piece in request.stream():  # stop reading at the limit, not after the whole body
            raw.extend(piece)
            if len(raw) > settings.max_upload_bytes:
                break
        if len(raw) > settings.max_upload_bytes:
            raise TooLarge(f"解读内容超过 {size_limit(settings.max_upload_bytes)} 上限：请拆分后分次提交，"
                           f"或以文件上传。")
        try:
            body = InterpretationIn.model_validate_json(bytes(raw))
        except ValueError as exc:
            raise Invalid('解读内容格式有误：请提交 JSON {"title": ..., "text": ...}。') from exc
        text = body.text
        parsed = parse_interpretation(f"{body.title}\n{body.text}", None)
        parsed.title = body.title
        parsed.publish_date = body.publish_date or parsed.publish_date
        parsed.department = body.department or parsed.department
    outcome = await run_in_threadpool(
        service.add_interpretation, parsed, department, doc_id, text
    )
    indexer.notify()
    interp = service.store.get_interpretation(outcome.interpretation_id or "")
    return {"id": outcome.interpretation_id, "title": interp.title if interp else parsed.title,
            "department": interp.department if interp else parsed.department,
            "document_id": doc_id, "sections": len(parsed.sections), "action": outcome.action}
