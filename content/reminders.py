"""Daily practice reminders: the record, and reading the time and time zone a user types."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

HHMM_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Reminder:
    user_id: str
    telegram_id: int
    chat_id: int
    hour: int
    minute: int
    tz: str = "UTC"  # an IANA time-zone name; the job follows its daylight-saving changes
    set_at: int = 0  # epoch ms when the user chose this time (occurrences before it were never due)
    last_sent_day: int = 0  # the local date (proleptic ordinal) of the last occurrence claimed for sending

    def latest_due(self, now: datetime) -> datetime:
        """The latest occurrence at or before `now` (aware, in the reminder's zone)."""
        local = now.astimezone(self.zone)
        due = local.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if due > local:
            due = (local - timedelta(days=1)).replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        return due

    @staticmethod
    def occurrence_key(due: datetime) -> int:
        """What marks one occurrence as sent: its local date (one reminder a day), as a day number (an ISO
        date string would be compared as a date by nx-27017's queries: `storage.mongo`)."""
        return due.date().toordinal()

    @property
    def hhmm(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(self.tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # a zone a later tzdata dropped: keep reminding
            return zoneinfo.ZoneInfo("UTC")


def parse_hhmm(text: str) -> tuple[int, int] | None:
    """'7:30' or '07:30' -> (7, 30); None if not a valid 24-hour time."""
    m = HHMM_RE.match((text or "").strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


@lru_cache(maxsize=1)
def _zones_by_key() -> dict[str, str]:
    """Lower-cased zone name -> name, plus each unambiguous last part ("berlin" -> "Europe/Berlin")."""
    names = {n for n in zoneinfo.available_timezones() if not n.startswith(("posix/", "right/"))} | {"UTC"}
    keys = {n.lower(): n for n in names}
    by_city: dict[str, set[str]] = {}
    for n in names:
        if "/" in n and n.split("/")[0] not in ("Etc", "SystemV", "US", "Canada", "Brazil", "Mexico", "Chile"):
            by_city.setdefault(n.rsplit("/", 1)[1].lower(), set()).add(n)
    for city, found in by_city.items():
        if len(found) == 1 and city not in keys:
            keys[city] = found.pop()
    return keys


def parse_timezone(text: str) -> str | None:
    """'Europe/Berlin', 'europe/berlin', 'Berlin', 'New_York' or 'new york' -> the IANA name; None if unknown."""
    key = (text or "").strip().replace(" ", "_").lower()
    return _zones_by_key().get(key) if key else None
