"""Time source for the domain. Tests use `ManualClock` to move time instead of sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "ManualClock", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return utc_now()


def _aware_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return dt.astimezone(timezone.utc)


class ManualClock:
    """A clock that only moves when told to. Default start: the current time, whole seconds."""

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = utc_now().replace(microsecond=0)
        self._now = _aware_utc(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("a ManualClock does not go backwards; use set()")
        self._now = self._now + delta
        return self._now

    def set(self, dt: datetime) -> datetime:
        self._now = _aware_utc(dt)
        return self._now
