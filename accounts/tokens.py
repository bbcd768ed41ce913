"""Random secrets: activation tokens (URL/deep-link safe) and numeric reset codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from .limits import RESET_CODE_DIGITS

__all__ = ["new_activation_token", "hash_token", "new_reset_code", "hash_reset_code", "TOKEN_BYTES"]

TOKEN_BYTES = 32  # 256 bits -> 43 characters of A-Za-z0-9_- (Telegram /start payloads allow up to 64)


def new_activation_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_reset_code() -> str:
    return f"{secrets.randbelow(10 ** RESET_CODE_DIGITS):0{RESET_CODE_DIGITS}d}"


def hash_reset_code(code: str, *, key: str, salt: str) -> str:
    """Keyed hash of a reset code: a plain sha256 of a short number is reversible by enumeration."""
    message = f"{salt}:{code.strip()}".encode("utf-8")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()
