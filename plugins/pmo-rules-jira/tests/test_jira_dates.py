"""Jira date and date-time cells -> datetime.date."""

from __future__ import annotations

import datetime as dt

import pytest
from pmo_rules_jira.dates import parse_jira_date

D = dt.date


@pytest.mark.parametrize(("text", "expected"), [
    ("22/Sep/25 9:26 AM", D(2025, 9, 22)),          # Jira's default dd/MMM/yy h:mm a
    ("18/Sep/25 12:00 AM", D(2025, 9, 18)),         # midnight: still that day
    ("3/Sep/25 11:59 PM", D(2025, 9, 3)),           # d/MMM/yy
    ("03/sep/25 9:08 am", D(2025, 9, 3)),           # any case
    ("22/Sep/2025 9:26 AM", D(2025, 9, 22)),        # four-digit year
    ("22/Sep/25 09:26", D(2025, 9, 22)),            # 24-hour clock
    ("22/Sep/25 9:26:59 PM", D(2025, 9, 22)),       # seconds
    ("22/Sep/25", D(2025, 9, 22)),                  # a date field (Due date) without time
    ("22-Sept-2025", D(2025, 9, 22)),
    ("22 September 2025 14:05", D(2025, 9, 22)),
    ("Sep 22, 2025 9:26 AM", D(2025, 9, 22)),       # MMM d, yyyy h:mm a
    ("2025-09-22 09:26", D(2025, 9, 22)),           # yyyy-MM-dd HH:mm
    ("2025-09-22", D(2025, 9, 22)),
    ("2025/9/2", D(2025, 9, 2)),
    ("2025-09-22T09:26:00.000+0000", D(2025, 9, 22)),  # ISO with zone: the written date
    ("2025-09-22T23:30:00Z", D(2025, 9, 22)),
    ("  22/Sep/25 9:26 AM  ", D(2025, 9, 22)),
    ("01/Jan/69 1:00 AM", D(2069, 1, 1)),           # two-digit years: fixed pivot at 70
    ("01/Jan/70 1:00 AM", D(1970, 1, 1)),
    ("29/Feb/24 1:00 PM", D(2024, 2, 29)),
])
def test_reads_jira_formats(text, expected):
    assert parse_jira_date(text) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "soon", "22/Foo/25 9:26 AM", "31/Feb/25 9:26 AM", "29/Feb/25", "22/Sep/25 13:26 PM",
    "22/Sep/25 9:61 AM", "22/Sep/25 0:10 AM", "09/10/25", "2025-13-01", "2025-09-22 25:00", "22/Sep/25 9:26 AM x",
])
def test_refuses_what_is_not_a_date(text):
    assert parse_jira_date(text) is None
