"""Who may talk to /wechat: signatures, timestamps and the AES envelope.

wechatpy computes the signatures and does the AES work, but its own checks
compare with ``!=`` and parse XML with xmltodict; here every comparison is
constant-time and every XML body goes through `api.wechat.xmlsafe` first.
"""

from __future__ import annotations

import hmac
import logging
import time

from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.utils import WeChatSigner

logger = logging.getLogger(__name__)

# The platform's clock is right; a request signed longer ago than this is a
# replay (or a badly wrong clock on our side, which the log then shows).
MAX_CLOCK_SKEW = 300.0


class Refused(Exception):
    """The request is not from the platform (403)."""


class Malformed(Exception):
    """The request is from nobody we understand (400)."""


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 over the sorted, concatenated parts."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def check_signature(token: str, signature: str | None, timestamp: str | None, nonce: str | None,
                    *extra: str) -> None:
    if not signature or not timestamp or not nonce:
        raise Refused("missing signature, timestamp or nonce")
    expected = sign(token, timestamp, nonce, *extra)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise Refused("bad signature")


def check_timestamp(timestamp: str, now: float | None = None, max_skew: float = MAX_CLOCK_SKEW) -> None:
    try:
        sent = int(timestamp)
    except ValueError as exc:
        raise Refused("timestamp is not a number") from exc
    skew = abs((time.time() if now is None else now) - sent)
    if skew > max_skew:
        raise Refused(f"timestamp off by {skew:.0f} s")


class Envelope:
    """AES safe mode: open the platform's `Encrypt` and seal our replies."""

    def __init__(self, token: str, aes_key: str, appid: str) -> None:
        self.token = token
        self.appid = appid
        self._crypto = WeChatCrypto(token, aes_key, appid)

    def open(self, encrypted: str, msg_signature: str | None, timestamp: str, nonce: str) -> str:
        check_signature(self.token, msg_signature, timestamp, nonce, encrypted)
        try:
            plaintext = PrpCrypto(self._crypto.key).decrypt(encrypted, self.appid)
        except InvalidAppIdException as exc:
            raise Refused("message sealed for another AppID") from exc
        except Exception as exc:  # noqa: BLE001 - bad base64, padding or length: a forged body
            raise Malformed(f"cannot decrypt: {type(exc).__name__}") from exc
        return str(plaintext)

    def seal(self, reply_xml: str, nonce: str, timestamp: str | None = None) -> str:
        return str(self._crypto.encrypt_message(reply_xml, nonce, timestamp))
