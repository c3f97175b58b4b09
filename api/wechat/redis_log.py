"""The channel's shared state in Redis (``POLICYBOT_REDIS_URL``): dedup log and kv.

``RedisMessageLog`` is a ``MessageLog`` (api/wechat/dedup.py, same states,
same answers) whose entries are Redis hashes: every transition is one Lua
script, so two workers claiming one MsgId at once get exactly one first try.
Each entry expires with a Redis TTL at the end of the retention instead of
being purged by a scan. A citizen's deferred and owed answers are indexed in
a sorted set by arrival, for `outstanding` ("1" and the next question).

``RedisChannelDB`` is a ``ChannelDB`` whose kv (the access token, the "详情"
text) lives in Redis; its SQL tables stay in the store.

When Redis cannot be reached, both log a warning and use the store as they
would without Redis (``SharedRedis``): a message is then deduplicated among
the workers sharing that store and is answered, never dropped, because a
citizen's question matters more than answering it exactly once. A message
caught mid-way by the outage may be computed twice or wait for its next try.

The scripts build key names from the prefix, so this is for a single Redis
server (or Sentinel), not Redis Cluster.
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path
from typing import Any

from api.config import Settings
from api.wechat.db import ChannelDB
from api.wechat.dedup import RETENTION, Entry, MessageLog
from api.wechat.replies import Reply
from knowledge.shared_redis import DEFAULT_PREFIX, SharedRedis
from knowledge.store import Store

# ARGV[1] the prefix, ARGV[2] the retention in seconds, then each script's own.
_COMMON = """
local prefix = ARGV[1]
local function entry_key(key) return prefix .. 'wechat:msg:' .. key end
local function fields(key) return redis.call('HMGET', entry_key(key), 'openid', 'received_at', 'status', 'reply') end
local function set_status(key, status)
  local k = entry_key(key)
  redis.call('HSET', k, 'status', status)
  local waiting = prefix .. 'wechat:outstanding:' .. redis.call('HGET', k, 'openid')
  if status == 'deferred' or status == 'owed' then
    redis.call('ZADD', waiting, redis.call('HGET', k, 'received_at'), key)
    redis.call('EXPIRE', waiting, ARGV[2])
  else
    redis.call('ZREM', waiting, key)
  end
end
"""

_CLAIM = _COMMON + """
local key, k = ARGV[3], entry_key(ARGV[3])
local status = redis.call('HGET', k, 'status')
local first = 0
if not status then
  redis.call('HSET', k, 'openid', ARGV[4], 'received_at', ARGV[5], 'status', 'pending:1')
  redis.call('EXPIRE', k, ARGV[6])
  first = 1
elseif string.sub(status, 1, 8) == 'pending:' then
  redis.call('HSET', k, 'status', 'pending:' .. (tonumber(string.sub(status, 9)) + 1))
end
return {first, fields(key)}
"""

_SETTLE = _COMMON + """
local key, k = ARGV[3], entry_key(ARGV[3])
local status = redis.call('HGET', k, 'status')
if not status then return 'sent' end
local state = string.match(status, '^[^:]*')
redis.call('HSET', k, 'reply', ARGV[4])
if state == 'deferred' then set_status(key, 'owed') elseif state == 'pending' then set_status(key, 'ready') end
return state
"""

_TAKE = _COMMON + """
local key = ARGV[3]
local f = fields(key)
local state, reply = f[3], f[4]
if not reply or not (state == 'ready' or state == 'owed' or state == 'sent') then return false end
if state ~= 'sent' then set_status(key, 'sent') end
return reply
"""

_DEFER = _COMMON + """
local status = redis.call('HGET', entry_key(ARGV[3]), 'status')
if status and string.sub(status, 1, 8) == 'pending:' then
  set_status(ARGV[3], 'deferred')
  return 1
end
return 0
"""

_MARK_SENT = _COMMON + """
if redis.call('EXISTS', entry_key(ARGV[3])) == 1 then set_status(ARGV[3], 'sent') end
return 0
"""

# Newest first; members whose entry expired or moved on are dropped on the way.
_OUTSTANDING = _COMMON + """
local waiting = prefix .. 'wechat:outstanding:' .. ARGV[3]
for _, key in ipairs(redis.call('ZREVRANGE', waiting, 0, -1)) do
  local status = redis.call('HGET', entry_key(key), 'status')
  if status == 'owed' or status == 'deferred' then return {key, fields(key)} end
  redis.call('ZREM', waiting, key)
end
return false
"""


def _entry(key: str, fields: list[Any]) -> Entry | None:
    openid, received_at, status, reply = fields
    if status is None:
        return None
    state, _, tries = str(status).partition(":")
    return Entry(key, str(openid), float(received_at), state, int(tries or 0),
                 Reply.from_json(reply) if reply else None)


class RedisMessageLog(MessageLog):
    def __init__(self, db: ChannelDB, url: str, *, prefix: str = DEFAULT_PREFIX,
                 retention: float = RETENTION) -> None:
        super().__init__(db, retention)  # the store is the fallback while Redis is down
        self.redis = SharedRedis(url, prefix, "WeChat message dedup")
        register = self.redis.client.register_script
        self._claim, self._settle, self._take = register(_CLAIM), register(_SETTLE), register(_TAKE)
        self._defer, self._mark_sent = register(_DEFER), register(_MARK_SENT)
        self._outstanding = register(_OUTSTANDING)

    def _run(self, script: Any, *args: Any) -> Any:
        return script(args=[self.redis.prefix, math.ceil(self.retention), *args])

    def claim(self, key: str, openid: str, now: float | None = None) -> tuple[bool, Entry]:
        now = time.time() if now is None else now

        def claim() -> tuple[bool, Entry]:
            ttl = max(1, math.ceil(now + self.retention - time.time()))
            first, fields = self._run(self._claim, key, openid, repr(now), ttl)
            entry = _entry(key, fields)
            assert entry is not None
            return bool(first), entry

        return self.redis.call(claim, partial(super().claim, key, openid, now))

    def get(self, key: str) -> Entry | None:
        def get() -> Entry | None:
            fields = self.redis.client.hmget(f"{self.redis.prefix}wechat:msg:{key}",
                                             ["openid", "received_at", "status", "reply"])
            return _entry(key, fields)

        return self.redis.call(get, partial(super().get, key))

    def settle(self, key: str, reply: Reply) -> str:
        return str(self.redis.call(lambda: self._run(self._settle, key, reply.to_json()),
                                   partial(super().settle, key, reply)))

    def take(self, key: str) -> Reply | None:
        def take() -> Reply | None:
            raw = self._run(self._take, key)
            return Reply.from_json(raw) if raw else None

        return self.redis.call(take, partial(super().take, key))

    def defer(self, key: str) -> bool:
        return bool(self.redis.call(lambda: self._run(self._defer, key), partial(super().defer, key)))

    def mark_sent(self, key: str) -> None:
        self.redis.call(lambda: self._run(self._mark_sent, key), partial(super().mark_sent, key))

    def outstanding(self, openid: str) -> Entry | None:
        def outstanding() -> Entry | None:
            found = self._run(self._outstanding, openid)
            return _entry(found[0], found[1]) if found else None

        return self.redis.call(outstanding, partial(super().outstanding, openid))

    # purge() is MessageLog's: it clears the rows written to the store during
    # an outage; Redis expires its own entries.


class RedisChannelDB(ChannelDB):
    """The kv in Redis: one hash per key (value, expires_at), expired by Redis as well."""

    def __init__(self, store: Store | Path, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        super().__init__(store)
        self.redis = SharedRedis(url, prefix, "WeChat channel values")

    def _key(self, key: str) -> str:
        return f"{self.redis.prefix}kv:{key}"

    def get(self, key: str, now: float | None = None) -> str | None:
        def get() -> str | None:
            value, expires = self.redis.client.hmget(self._key(key), ["value", "expires_at"])
            # `now` may be ahead of the clock: the token is wanted valid a while longer.
            if value is None or expires and float(expires) <= (time.time() if now is None else now):
                return None
            return str(value)

        return self.redis.call(get, partial(super().get, key, now))

    def put(self, key: str, value: str, ttl: float | None, now: float | None = None) -> None:
        def put() -> None:
            expires = None if ttl is None else (time.time() if now is None else now) + ttl
            with self.redis.client.pipeline(transaction=True) as pipe:
                pipe.delete(self._key(key))
                pipe.hset(self._key(key), mapping={"value": value,
                                                   "expires_at": "" if expires is None else repr(expires)})
                if expires is not None:
                    pipe.expire(self._key(key), max(1, math.ceil(expires - time.time())))
                pipe.execute()

        self.redis.call(put, partial(super().put, key, value, ttl, now))

    def delete(self, key: str) -> None:
        self.redis.call(lambda: self.redis.client.delete(self._key(key)), partial(super().delete, key))


def channel_db(settings: Settings, store: Store | Path) -> ChannelDB:
    """The channel's kv in Redis when ``redis_url`` is set, else in the store (the embedded default)."""
    if settings.redis_url:
        return RedisChannelDB(store, settings.redis_url, settings.redis_prefix)
    return ChannelDB(store)


def message_log(settings: Settings, db: ChannelDB) -> MessageLog:
    """The dedup log in Redis when ``redis_url`` is set, else in the store (the embedded default)."""
    if settings.redis_url:
        return RedisMessageLog(db, settings.redis_url, prefix=settings.redis_prefix)
    return MessageLog(db)
