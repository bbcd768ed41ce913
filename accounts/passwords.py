"""argon2id password hashing (argon2-cffi). Real parameters by default; tests may `configure()` cheap ones."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["hash_password", "verify_password", "needs_rehash", "configure", "reset_defaults"]

_hasher = PasswordHasher(type=Type.ID)


def configure(time_cost: int = 1, memory_cost: int = 8, parallelism: int = 1) -> None:
    """Use other argon2id parameters for new hashes (tests: cheap ones). memory_cost is in KiB."""
    global _hasher
    _hasher = PasswordHasher(
        time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID
    )


def reset_defaults() -> None:
    global _hasher
    _hasher = PasswordHasher(type=Type.ID)


def hash_password(pw: str, *, hasher: PasswordHasher | None = None) -> str:
    return (hasher or _hasher).hash(pw)


def verify_password(hash: str, pw: str) -> bool:  # noqa: A002 - name fixed by the API
    """True when `pw` matches `hash`; False on mismatch or a malformed hash. Never raises for bad input."""
    if not hash or pw is None:
        return False
    try:
        return _hasher.verify(hash, pw)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(hash: str) -> bool:  # noqa: A002
    try:
        return _hasher.check_needs_rehash(hash)
    except InvalidHashError:
        return True
