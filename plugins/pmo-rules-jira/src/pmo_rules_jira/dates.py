"""Jira's date and date-time cells, read into `datetime.date` (the date part as written).

Jira formats dates with the site's Java patterns; the exports seen in practice use:

- `dd/MMM/yy h:mm a` (the Jira default): `22/Sep/25 9:26 AM`, `1/Sep/25 12:00 AM`, and
  the same with a four-digit year, seconds, a 24-hour clock, or no time (`22/Sep/25`);
  `-` or a space may stand for `/` (`22-Sep-2025`, `22 Sep 2025 14:05`);
- `MMM d, yyyy [h:mm a]`: `Sep 22, 2025 9:26 AM`;
- ISO-like `yyyy-MM-dd HH:mm`, `yyyy-MM-dd`, `yyyy/MM/dd`, `yyyy-MM-ddTHH:mm:ss.SSS+0000`.

Month names are English, any case, abbreviated or full (`Sept` too). A two-digit year
is 20yy below 70 and 19yy from 70 (a fixed pivot, never the wall clock). The time of day
and any time zone are checked for form and then dropped: the date is the one the
exporting user saw. Numeric day/month orders (`09/10/25`) are ambiguous and not read.
"""

from __future__ import annotations

import datetime as dt
import re

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
    "january": 1, "february": 2, "march": 3, "april": 4, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
}

_TIME = r"(?:[ T](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,]\d{1,9})?)?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?" \
        r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2}|UTC|GMT)?)?"

_DAY_MONTH_YEAR = re.compile(r"(?P<d>\d{1,2})[/ -](?P<mon>[A-Za-z]{3,9})\.?[/ -](?P<y>\d{4}|\d{2})" + _TIME)
_MONTH_DAY_YEAR = re.compile(r"(?P<mon>[A-Za-z]{3,9})\.? (?P<d>\d{1,2}), (?P<y>\d{4})" + _TIME)
_ISO = re.compile(r"(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})" + _TIME)


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:
        y += 2000 if y < 70 else 1900
    return y


def _time_ok(m: re.Match) -> bool:
    if m.group("h") is None:
        return True
    h, mi = int(m.group("h")), int(m.group("mi"))
    s = int(m.group("s")) if m.group("s") else 0
    if mi > 59 or s > 59:
        return False
    if m.group("ampm"):
        return 1 <= h <= 12
    return h <= 23


def parse_jira_date(text: str) -> dt.date | None:
    """The date of a Jira date or date-time cell, or None when it is not one."""
    t = text.strip()
    if not t:
        return None
    for pattern in (_DAY_MONTH_YEAR, _MONTH_DAY_YEAR, _ISO):
        m = pattern.fullmatch(t)
        if m is None or not _time_ok(m):
            continue
        if "mon" in pattern.groupindex:
            month = _MONTHS.get(m.group("mon").lower())
            if month is None:
                return None
        else:
            month = int(m.group("m"))
        try:
            return dt.date(_year(m.group("y")), month, int(m.group("d")))
        except ValueError:
            return None
    return None
