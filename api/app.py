"""The FastAPI application: heavy objects are built once, in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from api import privacy
from api.config import Settings
from api.ratelimit import RateLimiter, RedisRateLimiter
from api import wechat
from api.routes import ask, documents, health, pages, search
from api.validation import describe
from bot.llm import Rephraser
from bot.service import Bot
from ingest import IngestError
from knowledge.base import KnowledgeBase
from knowledge.embedders import make_embedder
from knowledge.errors import PolicybotError, TooManyRequests
from knowledge.indexer import BackgroundIndexer
from knowledge.leases import RedisEmbeddingLeases
from knowledge.query_vectors import RedisQueryVectors
from knowledge.retriever import Retriever
from knowledge.service import KnowledgeService
from knowledge.tokenize import warm_up
from knowledge.vector import configure_threads

logger = logging.getLogger(__name__)


class UnicodeJSONResponse(JSONResponse):
    """JSON with Chinese left unescaped, as API.md asks."""

    def render(self, content: object) -> bytes:
        import json

        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def open_knowledge_base(settings: Settings) -> KnowledgeBase:
    configure_threads()
    warm_up()
    # With Redis, the workers take turns embedding new passages instead of each embedding all,
    # and a question one of them embedded is not embedded again by the others.
    url, prefix = settings.redis_url, settings.redis_prefix
    embedder = make_embedder(settings.embedder, settings.query_encoder)
    return KnowledgeBase(settings.data_dir, embedder, settings.database_url,
                         RedisEmbeddingLeases(url, prefix) if url else None,
                         RedisQueryVectors(url, prefix) if url else None)


def create_app(settings: Settings | None = None, kb: KnowledgeBase | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Here, not at import: uvicorn has configured its handlers by now.
        privacy.install("uvicorn", "uvicorn.access", "uvicorn.error")
        base = kb or open_knowledge_base(settings)
        app.state.settings = settings
        app.state.kb = base
        app.state.service = KnowledgeService(base)
        app.state.retriever = Retriever(base)
        app.state.limiter = (RedisRateLimiter(settings.rate_limit, settings.redis_url) if settings.redis_url
                             else RateLimiter(settings.rate_limit))
        app.state.indexer = BackgroundIndexer(base)
        rephraser = Rephraser.from_settings(settings)
        app.state.bot = Bot(base, app.state.retriever, settings, rephraser=rephraser)
        app.state.bot.warm_up()
        base.on_pending = app.state.indexer.notify
        app.state.indexer.start()
        logger.info("policybot ready: %d passages, data in %s", base.passage_count, settings.data_dir)
        yield
        base.on_pending = None
        app.state.indexer.stop()
        if rephraser is not None:
            rephraser.close()

    # FastAPI's own /docs and /redoc load their scripts from a CDN, which an intranet cannot
    # reach: /docs is served from local files instead (api/routes/pages.py), and ReDoc is off.
    app = FastAPI(title="policybot", version="0.1.0", lifespan=lifespan,
                  default_response_class=UnicodeJSONResponse, docs_url=None, redoc_url=None)

    @app.exception_handler(PolicybotError)
    async def _policybot_error(request: Request, exc: PolicybotError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
        return UnicodeJSONResponse({"detail": exc.message}, status_code=exc.status, headers=headers)

    @app.exception_handler(IngestError)
    async def _ingest_error(request: Request, exc: IngestError) -> JSONResponse:
        return UnicodeJSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, problems = describe(list(exc.errors()))
        return UnicodeJSONResponse({"detail": detail, "errors": problems}, status_code=422)

    app.include_router(health.router)
    app.include_router(search.router, prefix="/api/v1")
    app.include_router(documents.router, prefix="/api/v1")
    app.include_router(ask.router, prefix="/api/v1")
    app.include_router(pages.router)
    app.mount(pages.SWAGGER_UI, StaticFiles(directory=swagger_ui_path), name="swagger-ui")
    wechat.install(app, settings)
    return app
