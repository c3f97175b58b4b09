"""Dependencies handed to routes; tests swap them with dependency_overrides."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from api.config import Settings
from knowledge.errors import Unauthorized
from knowledge.indexer import BackgroundIndexer
from knowledge.records import Department
from knowledge.retriever import Retriever
from knowledge.service import KnowledgeService


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_service(request: Request) -> KnowledgeService:
    service: KnowledgeService = request.app.state.service
    return service


def get_retriever(request: Request) -> Retriever:
    retriever: Retriever = request.app.state.retriever
    return retriever


def get_indexer(request: Request) -> BackgroundIndexer:
    indexer: BackgroundIndexer = request.app.state.indexer
    return indexer


def get_department(
    service: Annotated[KnowledgeService, Depends(get_service)],
    authorization: Annotated[str | None, Header()] = None,
) -> Department:
    """The department whose key is in `Authorization: Bearer <key>`."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("缺少部门密钥：请在请求头加入 Authorization: Bearer <密钥>（用 policybot departments add 创建）。")
    department = service.store.department_for_key(authorization[7:].strip())
    if department is None:
        raise Unauthorized("部门密钥无效或已作废：请检查密钥，或让管理员重新签发。")
    return department


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[KnowledgeService, Depends(get_service)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
IndexerDep = Annotated[BackgroundIndexer, Depends(get_indexer)]
DepartmentDep = Annotated[Department, Depends(get_department)]
