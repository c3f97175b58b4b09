"""Every setting policybot reads, from the environment or a `.env` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICYBOT_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./var")
    embedder: str = "e5-small-bundled"
    # "tower": questions embedded by the distilled 4-layer encoder (knowledge/query_tower.py), about
    # 3x cheaper than the engine; passages and the index stay the engine's. "engine": the engine for both.
    query_encoder: str = "engine"
    hotline: str = "12345"
    rate_limit: int = Field(default=60, ge=0, description="requests per minute per client; 0 turns it off")
    max_upload_bytes: int = 20 * 1024 * 1024
    # postgresql://user:password@host:5432/policybot: the knowledge and every shared row there,
    # not in SQLite in data_dir (which still holds each worker's derived indexes)
    database_url: str | None = None
    redis_url: str | None = None  # e.g. redis://localhost:6379/0: what every worker must share (see README)
    redis_prefix: str = "policybot:"  # WeChat and session keys, so deployments can share one Redis

    wechat_token: str | None = None
    wechat_appid: str | None = None
    wechat_aes_key: str | None = None
    wechat_secret: str | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"  # a proxy or a test server in front of WeChat's API
    wechat_reply_deadline: float = Field(default=4.5, gt=0, description="seconds the callback waits for an answer")
    wechat_menu_file: Path | None = None  # JSON: menu CLICK keys -> canned answers or "hot"
    public_base_url: str | None = None  # e.g. https://zwgk.example.gov.cn, for "full answer" links

    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = Field(default=3.0, gt=0)
    session_ttl: int = Field(default=1800, ge=0, description="seconds a dialogue keeps its context")

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("POLICYBOT_DATABASE_URL must be a postgresql:// URL; "
                             "leave it unset for SQLite in POLICYBOT_DATA_DIR")
        return value or None

    @field_validator("query_encoder")
    @classmethod
    def _query_encoder(cls, value: str) -> str:
        if value not in {"engine", "tower"}:
            raise ValueError('POLICYBOT_QUERY_ENCODER must be "engine" (the bundled e5) '
                             'or "tower" (its distilled 4-layer query encoder)')
        return value

    @field_validator("wechat_aes_key")
    @classmethod
    def _aes_key_length(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 43:
            raise ValueError("POLICYBOT_WECHAT_AES_KEY must be the 43-character EncodingAESKey")
        return value

    @field_validator("wechat_token", "wechat_secret", "llm_api_key")
    @classmethod
    def _no_placeholders(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() in {"changeme", "change-me", "xxx", "your-token", ""}:
            raise ValueError("replace the placeholder secret with the real value, or leave it unset")
        return value
