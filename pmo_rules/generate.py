"""A seeded synthetic portfolio: projects, people and programs shaped as SPEC section 3.

`pmo-rules generate` and the bundled sample portfolio both come from here. The portfolio is
realistic on the whole (most projects active and healthy, budgets log-normal between 50k
and 20M, earned value consistent with the dates) and carries deliberate violations and edge
cases at modest rates, so that every rule of the policy library has something to find:
missing sponsors and managers, stale status reports, poor CPI/SPI, earned value without
actuals, zero budgets, overdue milestones, unowned or unassessed risks, over-allocated
people, programs over their cap, unapproved gates, non-ASCII and very long names, and
dependencies on projects that do not exist.

Determinism: everything comes from `random.Random` instances seeded from `seed` (never the
global state) and every date is relative to `as_of` (never the wall clock), so the same
`(projects, seed, as_of)` gives byte-identical files. Numbers are built from integers
(money in whole units or cents, fractions as `k / 100`), so no float artefact such as
`0.30000000000000004` can reach the files.

Public entry points: `generate_portfolio` returns the three collections (lists, or lazy
iterables with `lazy=True` for very large portfolios) and `write_portfolio` writes them as
JSON Lines.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import math
import pathlib
import random
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["DEFAULT_AS_OF", "generate_portfolio", "write_portfolio"]

DEFAULT_AS_OF = dt.date(2026, 11, 26)

# ---------------------------------------------------------------- vocabularies --

PORTFOLIOS = ("Digital", "Infrastructure", "Customer", "Finance & Risk", "Operations", "Research")
PROJECT_TYPES = (
    "IT", "Infrastructure", "Product", "Regulatory", "Process improvement", "Research",
    "Construction",
)
METHODOLOGIES = ("waterfall", "agile", "hybrid", "PRINCE2")
METHODOLOGY_WEIGHTS = (30, 30, 25, 15)
CURRENCIES = ("EUR", "USD", "GBP")
CURRENCY_WEIGHTS = (60, 30, 10)
REGIONS = ("EMEA", "AMER", "APAC")

NAME_PREFIXES = (
    "Atlas", "Beacon", "Cobalt", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Ion",
    "Juniper", "Keystone", "Ledger", "Meridian", "Nimbus", "Orion", "Pioneer", "Quartz",
    "Relay", "Summit", "Tundra", "Unity", "Vertex", "Willow", "Zenith",
)
NAME_SUBJECTS = (
    "CRM", "ERP", "Data Platform", "Payments", "Warehouse", "Network", "Data Centre",
    "Customer Portal", "Mobile App", "HR System", "Billing", "Analytics", "Identity",
    "Supply Chain", "Call Centre", "Office", "Reporting", "Claims", "Pricing Engine",
)
NAME_ACTIONS = (
    "Migration", "Modernisation", "Rollout", "Upgrade", "Consolidation", "Replacement",
    "Pilot", "Expansion", "Decommissioning", "Redesign", "Integration", "Compliance",
)
# Non-ASCII and emoji names: data sources must carry them intact.
EXOTIC_NAMES = (
    "Überseehafen Łódź 東京",
    "Café Münster Rollout",
    "Projet Élan Numérique",
    "数据平台 Upgrade",
    "Ørestad Smørrebrød Kiosk",
    "🚀 Launchpad",
    "São Paulo Logística",
    "Привет Mир Portal",
    "Déjà Vu Dashboard ✨",
    "İstanbul Şube Açılışı",
)

FIRST_NAMES = (
    "Ana", "Ben", "Chloé", "Dmitri", "Elif", "Femi", "Greta", "Hiro", "Ingrid", "José",
    "Kaito", "Lena", "Mateo", "Ngozi", "Olga", "Priya", "Quentin", "Rosa", "Søren", "Tariq",
    "Uma", "Viktor", "Wei", "Ximena", "Yusuf", "Zoë", "Łukasz", "Anaïs", "Björn", "Siobhán",
)
LAST_NAMES = (
    "Adeyemi", "Bauer", "Chen", "Dvořák", "Eriksen", "Fischer", "García", "Hansen", "Ivanova",
    "Jensen", "Kowalski", "López", "Müller", "Nguyễn", "O'Brien", "Patel", "Quinn", "Rossi",
    "Schmidt", "Tanaka", "Underwood", "Virtanen", "Weiß", "Yılmaz", "Zhang", "Kumar",
)
PERSON_ROLES = (
    "Project manager", "Architect", "Developer", "Analyst", "Engineer", "Tester",
    "Designer", "Finance partner", "Change manager",
)
TEAM_ROLES = ("Architect", "Developer", "Analyst", "Engineer", "Tester", "Designer",
              "Finance partner", "Change manager")

PROGRAM_NAMES = (
    "Phoenix", "Horizon", "Northstar", "Catalyst", "Evergreen", "Momentum", "Compass",
    "Lighthouse", "Keystone", "Pathfinder", "Trailblazer", "Aurora",
)

RISK_TITLES = (
    "Key supplier may miss delivery dates",
    "Scope creep from business stakeholders",
    "Data migration quality lower than expected",
    "Integration with legacy system harder than planned",
    "Loss of key technical staff",
    "Regulatory requirements may change",
    "Security review may delay go-live",
    "Currency movements raise vendor costs",
    "Test environments not available in time",
    "User adoption below target",
)
MITIGATIONS = (
    "Weekly supplier checkpoint and penalty clause",
    "Change control board reviews every new request",
    "Trial migration with reconciliation reports",
    "Early integration spike and vendor support contract",
    "Knowledge transfer plan and backup staff",
    "Monthly regulatory watch with legal",
    "Book security review slot at planning",
    "Hedge the main vendor contracts",
    "Reserve environments through the platform team",
    "Change champions in every department",
)
ISSUE_TITLES = (
    "Vendor invoice disputed", "Test environment down", "Requirements conflict between teams",
    "Budget transfer not yet approved", "Key resource on sick leave", "Defect backlog growing",
    "Licence count exceeded", "Data centre access delayed",
)
MILESTONE_NAMES = (
    "Requirements signed off", "Design approved", "Build complete", "System test complete",
    "UAT complete", "Go-live", "Hypercare complete", "Handover to operations",
)
GATES = (
    # (name, phase from which it must have been passed)
    ("G1 Business case", "planning"),
    ("G2 Plan approval", "execution"),
    ("G3 Go-live readiness", "closing"),
    ("G4 Closure", "completed"),
)
GATE_APPROVERS = ("Portfolio Board", "Steering Committee", "Investment Committee", "CFO",
                  "Sponsor")
BOARD_APPROVERS = ("Portfolio Board", "Investment Committee")
CASE_APPROVERS = ("Portfolio Board", "Investment Committee", "CFO", "Steering Committee",
                  "COO")
BENEFIT_NAMES = (
    ("Reduced processing time", "Average minutes per case", "-20%"),
    ("Lower run cost", "Annual run cost (EUR)", "-250000"),
    ("Higher customer satisfaction", "NPS", "+8 points"),
    ("Regulatory compliance", "Open audit findings", "0"),
    ("Faster time to market", "Release lead time (days)", "14"),
    ("Fewer incidents", "P1 incidents per quarter", "<= 2"),
)
LESSON_TITLES = (
    "Engage the vendor earlier in design", "Reserve test environments at planning",
    "Keep the sponsor in the weekly loop", "Budget for data cleansing",
    "Automate regression tests from sprint one",
)
TAGS = ("regulatory", "customer-facing", "cloud", "cost-saving", "strategic", "ESG", "AI",
        "security", "merger")

STATUS_CHOICES = ("proposed", "active", "on_hold", "completed", "cancelled")
STATUS_WEIGHTS = (10, 55, 6, 22, 7)
PHASE_ORDER = {"initiation": 0, "planning": 1, "execution": 2, "closing": 3, "completed": 4}


# --------------------------------------------------------------------- helpers --

class _Rng(random.Random):
    """`random.Random` with cheaper `randint` and `choice` (one `random()` call each).

    The stdlib versions go through `_randbelow` and cost about three times as much; the
    generator makes millions of these calls. Both are deterministic for a seed.
    """

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq: Any) -> Any:
        return seq[int(self.random() * len(seq))]


class _Dates:
    """Ordinal day numbers to ISO strings, cached (the generator formats millions)."""

    def __init__(self, as_of: dt.date):
        self.today = as_of.toordinal()
        self._cache: dict[int, str] = {}

    def iso(self, ordinal: int) -> str:
        text = self._cache.get(ordinal)
        if text is None:
            text = dt.date.fromordinal(ordinal).isoformat()
            self._cache[ordinal] = text
        return text


def _money(rng: random.Random, amount: int, cents_rate: float = 0.0) -> int | float:
    """Whole units, or (rarely) a value with cents built from an integer number of cents."""
    if cents_rate and amount > 0 and rng.random() < cents_rate:
        cents = amount * 100 + rng.randrange(1, 100)
        return cents / 100  # shortest repr of a correctly rounded k/100 is the 2-decimal text
    return amount


def _fraction(hundredths: int) -> float | int:
    """`k / 100` as JSON text with at most two decimals (1.0 stays 1.0)."""
    return hundredths / 100


def _weighted(rng: random.Random, choices: tuple, weights: tuple) -> Any:
    return rng.choices(choices, weights)[0]


# ----------------------------------------------------------------------- people --

def _make_people(count: int, seed: int) -> list[dict[str, Any]]:
    rng = _Rng(f"pmo-rules:people:{seed}")
    people: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        if n % 20 == 1:
            role = "Executive"  # about 5% executives: the sponsor pool
        elif n % 10 in (2, 5, 8):
            role = "Project manager"  # about 30% project managers
        else:
            role = rng.choice(TEAM_ROLES)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        roll = rng.random()
        capacity: float = 1.0 if roll < 0.8 else (0.8 if roll < 0.9 else 0.5)
        active = rng.random() >= 0.03  # a few leavers still referenced by projects
        if not active:
            capacity = 0.0
        cost_rate: int | None = rng.randrange(40, 160) * 10 if role != "Executive" else \
            rng.randrange(150, 250) * 10
        if rng.random() < 0.01:
            cost_rate = None  # no rate on file
        people.append({
            "id": f"PER-{n:05d}",
            "name": name,
            "role": role,
            "capacity": capacity,
            "cost_rate": cost_rate,
            "active": active,
        })
    return people


# --------------------------------------------------------------------- projects --

class _ProjectFactory:
    """Builds projects one by one, tracking person load and program budgets."""

    def __init__(self, count: int, seed: int, as_of: dt.date, people: list[dict[str, Any]],
                 program_ids: list[str]):
        self.count = count
        self.rng = _Rng(f"pmo-rules:projects:{seed}")
        self.dates = _Dates(as_of)
        self.people = people
        self.person_ids = [p["id"] for p in people]
        self.executives = [p["id"] for p in people if p["role"] == "Executive"] or self.person_ids
        self.managers = [p["id"] for p in people if p["role"] == "Project manager"] \
            or self.person_ids
        # capacity and load in hundredths of a full-time person (integers: no float drift)
        self.capacity = [round(p["capacity"] * 100) for p in people]
        self.load = [0] * len(people)
        self.index_of = {pid: i for i, pid in enumerate(self.person_ids)}
        self.program_ids = program_ids
        self.program_totals: dict[str, int] = {pid: 0 for pid in program_ids}
        self.names_seen: list[str] = []
        self.finish = [0] * (count + 1)  # forecast (else planned) finish, by project number

    # -- people ----------------------------------------------------------------
    def _book(self, pool: list[str], hundredths: int, counts: bool,
              taken: set[str]) -> str | None:
        """Pick someone not yet on the project, with room for the allocation if it counts.

        A few tries in `pool`, then in everyone; a small share of bookings ignore capacity
        (deliberate over-allocation). None when nobody free was found.
        """
        rng = self.rng
        forced = not counts or rng.random() < 0.01
        for attempt in range(10):
            pick = rng.choice(pool if attempt < 5 else self.person_ids)
            if pick in taken:
                continue
            i = self.index_of[pick]
            if forced or self.load[i] + hundredths <= self.capacity[i]:
                break
        else:
            if not counts or pick in taken:
                return None
            # everyone tried is full: book the last one anyway (over-allocation)
        if counts:
            self.load[self.index_of[pick]] += hundredths
        taken.add(pick)
        return pick

    # -- names -----------------------------------------------------------------
    def _name(self, n: int) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.02:
            name = rng.choice(EXOTIC_NAMES)
        elif roll < 0.03:
            name = ("Enterprise-wide Harmonisation of " + rng.choice(NAME_SUBJECTS) + " "
                    + " and ".join(rng.sample(NAME_ACTIONS, 6)) + " Across All Regions, "
                    "Business Units and Legal Entities Including Subsidiaries Acquired "
                    "During the Current Strategy Period (Phase " + str(n % 7 + 1) + ")")
        elif roll < 0.05 and self.names_seen:
            # duplicate-looking: same name again, or a case/space variant of it
            base = rng.choice(self.names_seen)
            name = rng.choice((base, base.lower(), base.replace(" ", "  ", 1), base + " "))
        else:
            name = f"{rng.choice(NAME_PREFIXES)} {rng.choice(NAME_SUBJECTS)} " \
                   f"{rng.choice(NAME_ACTIONS)}"
        if len(self.names_seen) < 200:
            self.names_seen.append(name)
        return name

    # -- one project -----------------------------------------------------------
    def make(self, n: int) -> dict[str, Any]:  # noqa: C901 - one linear recipe
        rng = self.rng
        iso = self.dates.iso
        today = self.dates.today

        status = _weighted(rng, STATUS_CHOICES, STATUS_WEIGHTS)
        live = status == "active"

        # ---- dates (ordinals) and the phase they imply ----
        if status == "proposed":
            phase = "initiation" if rng.random() < 0.8 else "planning"
            start = today + rng.randint(15, 180)
            duration = rng.randint(90, 900)
            planned_end = start + duration
            forecast_end = planned_end
            last_update = today - rng.randint(0, 40)
        elif status == "completed":
            phase = "closing"
            actual_end = today - rng.randint(1, 700)
            duration = rng.randint(90, 900)
            slip = 0 if rng.random() < 0.55 else rng.randint(1, 120)
            planned_end = actual_end - slip
            start = planned_end - duration
            forecast_end = actual_end
            last_update = min(actual_end + rng.randint(0, 20), today)
        else:
            elapsed = rng.randint(10, 1000)
            start = today - elapsed
            pct = rng.randint(5, 110)  # planned % of the duration elapsed
            duration = min(1500, max(60, elapsed * 100 // pct))
            pct = elapsed * 100 // duration
            planned_end = start + duration
            roll = rng.random()
            slip = 0 if roll < 0.7 else rng.randint(1, 30) if roll < 0.9 else \
                rng.randint(31, 90) if roll < 0.98 else rng.randint(91, 365)
            forecast_end = planned_end + slip
            if forecast_end <= today and status != "cancelled":
                forecast_end = today + rng.randint(7, 90)
            # the phase follows the plan, with a little noise
            pct += rng.randint(-10, 10)
            phase = "initiation" if pct < 10 else "planning" if pct < 25 else \
                "execution" if pct < 92 else "closing"
            if status == "on_hold" and phase in ("initiation", "closing"):
                phase = "planning" if phase == "initiation" else "execution"
            elif status == "cancelled" and phase == "closing":
                phase = "execution"
            if live:
                age = rng.randint(0, 10) if rng.random() >= 0.08 else rng.randint(15, 120)
            elif status == "on_hold":
                age = rng.randint(10, 90)
            else:
                age = rng.randint(0, 60)
            last_update = today - age

        # ---- budget ----
        raw = rng.lognormvariate(math.log(600_000), 1.1)
        approved = int(min(20_000_000, max(50_000, raw)) // 1000) * 1000
        if rng.random() < 0.005 and status in ("active", "proposed"):
            approved = 0
        span = max(1, planned_end - start)
        if status == "proposed":
            planned_frac = 0
            progress = 0
        elif status == "completed":
            planned_frac = 1000
            progress = 1000
        else:
            planned_frac = min(1000, max(0, (today - start) * 1000 // span))
            spi_k = max(500, min(1300, round(rng.gauss(990, 50))))
            if live and rng.random() < 0.07:
                spi_k = rng.randint(600, 890)  # schedule trouble
            progress = min(1000, planned_frac * spi_k // 1000)
            if status == "cancelled":
                progress = progress * rng.randint(30, 90) // 100
        planned_value = approved * planned_frac // 1000
        earned_value = approved * progress // 1000
        cpi_k = max(550, min(1350, round(rng.gauss(1010, 35))))
        if live and rng.random() < 0.08:
            cpi_k = rng.randint(700, 890)  # cost trouble
        actual_cost = earned_value * 1000 // cpi_k if earned_value else 0
        if status == "proposed" and rng.random() < 0.05:
            actual_cost = rng.randint(5, 60) * 1000  # spend before approval
        if live and earned_value > 0 and rng.random() < 0.01:
            actual_cost = 0  # actuals not posted yet
        budget = {
            "approved": approved,
            "actual_cost": _money(rng, actual_cost, 0.1),
            "planned_value": planned_value,
            "earned_value": earned_value,
            "currency": _weighted(rng, CURRENCIES, CURRENCY_WEIGHTS),
        }

        # ---- people ----
        counts = live  # only active projects count towards load
        sponsor = rng.choice(self.executives) if rng.random() >= 0.03 else None
        manager = None
        assignments: list[dict[str, Any]] = []
        taken: set[str] = set()
        released = status in ("completed", "cancelled") and rng.random() < 0.85
        if not released and (rng.random() >= 0.03 or status != "active"):
            alloc = rng.choice((5, 10, 10, 20))
            booked = not (phase == "execution" and rng.random() < 0.03)
            manager = self._book(self.managers, alloc, counts and booked, taken)
            if manager is not None and booked:
                assignments.append({"person": manager, "role": "Project manager",
                                    "allocation": _fraction(alloc)})
        if not released:
            team = rng.randint(0, 2) if status != "proposed" else rng.randint(0, 1)
            for _ in range(team):
                alloc = rng.choice((5, 10, 10, 20, 25))
                if rng.random() < 0.01:
                    who: str | None = "TBD"  # a role placeholder, not a person
                else:
                    who = self._book(self.person_ids, alloc, counts, taken)
                if who is not None:
                    assignments.append({"person": who, "role": rng.choice(TEAM_ROLES),
                                        "allocation": _fraction(alloc)})

        # ---- risks ----
        if status == "proposed":
            n_risks = rng.randint(0, 2)
        elif live:
            n_risks = 0 if rng.random() < 0.05 else rng.randint(1, 7)
        else:
            n_risks = rng.randint(0, 4)
        risks = []
        for k in range(1, n_risks + 1):
            p_k = rng.choice((5, 10, 20, 30, 40, 50, 60, 70, 80, 90))
            impact: int | None = max(1000, approved * rng.randint(5, 150) // 1000 // 1000 * 1000)
            probability: float | None = _fraction(p_k)
            if rng.random() < 0.03:
                probability = None
            if rng.random() < 0.02:
                impact = None
            if status in ("completed", "cancelled"):
                r_status = "closed" if rng.random() < 0.97 else "open"
            else:
                r_status = "open" if rng.random() < 0.7 else "closed"
            t = rng.randrange(len(RISK_TITLES))
            risks.append({
                "id": f"R-{k}",
                "title": RISK_TITLES[t],
                "probability": probability,
                "impact": impact,
                "status": r_status,
                "owner": rng.choice(self.person_ids) if rng.random() >= 0.06 else None,
                "mitigation": MITIGATIONS[t] if rng.random() >= 0.06 else None,
            })

        # ---- milestones ----
        if status == "proposed":
            n_ms = rng.randint(0, 3)
        elif live:
            n_ms = 0 if rng.random() < 0.03 else rng.randint(2, 6)
        else:
            n_ms = rng.randint(0, 5)
        milestones = []
        ms_slip_rate = 0.02 if forecast_end <= planned_end else 0.2
        names = [MILESTONE_NAMES[i] for i in sorted(rng.sample(range(len(MILESTONE_NAMES)),
                                                                 n_ms))]
        for k, ms_name in enumerate(names, start=1):
            baseline = start + span * k // (n_ms + 1)
            # milestones slip mostly on projects that slip as a whole
            ms_slip = rng.randint(1, 45) if rng.random() < ms_slip_rate else 0
            due = baseline + ms_slip
            completed: int | None = None
            if status == "completed":
                completed = min(due + rng.randint(-5, 10), today - 1) \
                    if rng.random() >= 0.02 else None
            elif due <= today:
                if rng.random() < 0.96:
                    completed = min(due + rng.randint(-5, 6), today)
            milestones.append({
                "name": ms_name,
                "baseline": iso(baseline) if rng.random() >= 0.02 else None,
                "due": iso(due),
                "completed": iso(completed) if completed is not None else None,
            })

        # ---- gates ----
        gates = []
        reached_level = 4 if status == "completed" else PHASE_ORDER[phase]
        for g, (g_name, from_phase) in enumerate(GATES):
            if status == "proposed" and g > 1:
                break
            required = rng.random() < (0.97 if g < 2 else 0.8 if g == 2 else 0.7)
            reached = reached_level >= PHASE_ORDER[from_phase]
            approved_ok = reached and rng.random() >= (0.01 if status == "completed" else 0.025)
            on = start + (span * g // 4) - rng.randint(0, 10)
            gates.append({
                "name": g_name,
                "required": required,
                "approved_by": rng.choice(GATE_APPROVERS) if approved_ok else None,
                "approved_on": iso(min(on, today)) if approved_ok else None,
            })

        # ---- the project record, required parts ----
        roll = rng.random()
        program = rng.choice(self.program_ids) if roll < 0.7 else None
        if roll > 0.995:
            program = f"PGM-{len(self.program_ids) + rng.randint(1, 99):03d}"  # unknown
        if program in self.program_totals and status != "cancelled":
            self.program_totals[program] += approved
        tags = rng.sample(TAGS, rng.randint(0, 3))
        custom: dict[str, Any] = {}
        if rng.random() >= 0.05:
            custom = {"cost-center": f"CC-{rng.randint(100, 160)}", "region": rng.choice(REGIONS)}
            if rng.random() < 0.1:
                custom["vendor"] = rng.choice(("Acme GmbH", "Globex", "Initech", "Umbrella SA"))
        health = self._health(rng, cpi_k, progress, planned_frac, forecast_end - planned_end)
        project: dict[str, Any] = {
            "id": f"PRJ-{n:06d}",
            "name": self._name(n),
            "portfolio": rng.choice(PORTFOLIOS),
            "program": program,
            "type": rng.choice(PROJECT_TYPES),
            "status": status,
            "phase": phase,
            "health": health,
            "priority": rng.randint(1, 5),
            "methodology": _weighted(rng, METHODOLOGIES, METHODOLOGY_WEIGHTS),
            "sponsor": sponsor,
            "manager": manager,
            "start_date": iso(start),
            "planned_end": iso(planned_end),
            "forecast_end": iso(forecast_end) if status != "cancelled" or
            rng.random() < 0.5 else None,
            "last_status_update": iso(last_update),
            "budget": budget,
            "risks": risks,
            "milestones": milestones,
            "gates": gates,
            "assignments": assignments,
            "tags": tags,
            "custom": custom,
        }

        self.finish[n] = forecast_end if project["forecast_end"] is not None else planned_end

        # ---- optional parts: absent, empty or filled ----
        self._business_case(project, rng, status, start, approved)
        if rng.random() < 0.92 and status != "proposed":
            project["tolerances"] = {
                "time_days": rng.choice((10, 15, 20, 30, 45, 60)) if rng.random() >= 0.03
                else None,
                "cost_pct": _fraction(rng.choice((5, 10, 10, 15, 20))),
            }
        elif rng.random() < 0.1:
            project["tolerances"] = None
        if status in ("active", "on_hold") and rng.random() < 0.7:
            project["issues"] = self._issues(rng, start)
        if status != "proposed" and rng.random() < 0.4:
            project["change_requests"] = self._change_requests(rng, start, approved,
                                                               status == "completed")
        if "business_case" in project and project["business_case"] is not None \
                and rng.random() < 0.96:
            project["benefits"] = self._benefits(rng)
        if status != "proposed" and rng.random() < 0.15:
            project["dependencies"] = self._dependencies(rng, n)
        if status == "completed" and rng.random() < 0.9:
            project["lessons"] = [
                {"title": t, "recorded_on": iso(min(forecast_end + rng.randint(0, 20), today))}
                for t in rng.sample(LESSON_TITLES, rng.randint(1, 3))]
        elif status == "completed" or (live and rng.random() < 0.2):
            project["lessons"] = []
        if live or status == "proposed":
            roll = rng.random()
            if roll < 0.9:
                project["objectives"] = [f"OBJ-{k}" for k in
                                         sorted(rng.sample(range(1, 13), rng.randint(1, 2)))]
            elif roll < 0.95:
                project["objectives"] = []
        return project

    @staticmethod
    def _health(rng: random.Random, cpi_k: int, progress: int, planned: int,
                slip: int) -> str:
        """Reported RAG: mostly derived from the numbers, sometimes optimistic."""
        spi_k = progress * 1000 // planned if planned else 1000
        worst = min(cpi_k, spi_k)
        if worst < 850 or slip > 90:
            health = "red"
        elif worst < 950 or slip > 30:
            health = "amber"
        else:
            health = "green"
        if health != "green" and rng.random() < 0.12:
            health = "green"  # the watermelon: green outside, red inside
        return health

    def _business_case(self, project: dict[str, Any], rng: random.Random, status: str,
                       start: int, approved: int) -> None:
        iso = self.dates.iso
        roll = rng.random()
        if roll < 0.025:
            return  # absent
        if roll < 0.035:
            project["business_case"] = None
            return
        if status == "proposed":
            case_status = rng.choice(("draft", "submitted", "submitted", "approved"))
        elif status == "cancelled":
            case_status = _weighted(rng, ("approved", "rejected", "submitted"), (80, 10, 10))
        else:
            case_status = "approved" if rng.random() >= 0.04 else \
                rng.choice(("draft", "submitted"))
        approved_by = approved_on = None
        if case_status in ("approved", "rejected"):
            if approved > 5_000_000 and rng.random() < 0.85:
                approved_by = rng.choice(BOARD_APPROVERS)
            else:
                approved_by = rng.choice(CASE_APPROVERS)
            offset = rng.randint(5, 60) if rng.random() >= 0.03 else -rng.randint(10, 90)
            approved_on = iso(min(start - offset, self.dates.today))
        project["business_case"] = {"status": case_status, "approved_by": approved_by,
                                    "approved_on": approved_on}

    def _issues(self, rng: random.Random, start: int) -> list[dict[str, Any]]:
        iso = self.dates.iso
        today = self.dates.today
        issues = []
        for k in range(1, rng.randint(0, 4) + 1):
            priority = _weighted(rng, ("low", "medium", "high", "critical"), (35, 40, 18, 7))
            i_status = "open" if rng.random() < 0.5 else "closed"
            if i_status == "open":  # recent, and mostly due in the future
                opened = max(start, today - rng.randint(0, 90))
                due: int | None = today + rng.randint(1, 90)
                if rng.random() < 0.08:
                    due = today - rng.randint(1, 60)  # overdue
            else:
                opened = rng.randint(min(start, today - 1), today)
                due = opened + rng.randint(7, 60)
            if rng.random() < 0.08:
                due = None
            escalated = None
            if priority in ("high", "critical") and rng.random() < 0.85:
                escalated = iso(min(opened + rng.randint(1, 10), today))
            issues.append({
                "id": f"I-{k}",
                "title": rng.choice(ISSUE_TITLES),
                "priority": priority,
                "status": i_status,
                "owner": rng.choice(self.person_ids) if rng.random() >= 0.05 else None,
                "opened": iso(opened),
                "due": iso(due) if due is not None else None,
                "escalated_on": escalated,
            })
        return issues

    def _change_requests(self, rng: random.Random, start: int, approved: int,
                         closed: bool) -> list[dict[str, Any]]:
        iso = self.dates.iso
        today = self.dates.today
        crs = []
        for k in range(1, rng.randint(0, 3) + 1):
            cost: int | None = approved * rng.randint(0, 120) // 1000 // 100 * 100
            if rng.random() < 0.05:
                cost = None
            cr_status = _weighted(rng, ("submitted", "approved", "rejected", "implemented"),
                                  (1, 1, 20, 78) if closed else (20, 25, 15, 40))
            submitted = rng.randint(min(start, today - 1), today)
            approved_by = approved_on = implemented_on = None
            if cr_status in ("approved", "rejected", "implemented"):
                approved_by = rng.choice(("Change Control Board", "Sponsor",
                                          "Steering Committee"))
                approved_on = min(submitted + rng.randint(1, 20), today)
            if cr_status == "implemented":
                implemented_on = min(approved_on + rng.randint(1, 30), today)  # type: ignore[operator]
                roll = rng.random()
                if roll < 0.03:
                    approved_by = approved_on = None  # implemented without approval
                elif roll < 0.06:
                    approved_on = implemented_on + rng.randint(1, 15)  # approved afterwards
                    approved_on = min(approved_on, today)
                    if approved_on == implemented_on:
                        implemented_on -= 1
            crs.append({
                "id": f"CR-{k}",
                "cost_impact": cost,
                "status": cr_status,
                "approved_by": approved_by,
                "approved_on": iso(approved_on) if approved_on is not None else None,
                "implemented_on": iso(implemented_on) if implemented_on is not None else None,
            })
        return crs

    def _benefits(self, rng: random.Random) -> list[dict[str, Any]]:
        benefits = []
        for b_name, measure, target in rng.sample(BENEFIT_NAMES, rng.randint(1, 3)):
            benefits.append({
                "name": b_name,
                "owner": rng.choice(self.executives) if rng.random() >= 0.01 else None,
                "measure": measure if rng.random() >= 0.01 else None,
                "target": target if rng.random() >= 0.01 else None,
            })
        return benefits

    def _dependencies(self, rng: random.Random, n: int) -> list[dict[str, Any]]:
        """Dependencies on earlier projects (whose finish is known), mostly with slack."""
        deps = []
        for _ in range(rng.randint(1, 2)):
            if rng.random() < 0.05 or n < 2:
                other = self.count + rng.randint(1000, 9000)  # a project that does not exist
                needed_by = self.dates.today + rng.randint(30, 400)
            else:
                other = rng.randint(max(1, n - 500), n - 1)
                if rng.random() < 0.12:
                    needed_by = self.finish[other] - rng.randint(1, 60)  # it will be late
                else:
                    needed_by = self.finish[other] + rng.randint(0, 120)
            deps.append({"project": f"PRJ-{other:06d}", "needed_by": self.dates.iso(needed_by)})
        return deps


# --------------------------------------------------------------------- programs --

def _make_programs(count: int, seed: int) -> list[dict[str, Any]]:
    rng = _Rng(f"pmo-rules:programs:{seed}")
    programs = []
    for n in range(1, count + 1):
        base = PROGRAM_NAMES[(n - 1) % len(PROGRAM_NAMES)]
        suffix = "" if n <= len(PROGRAM_NAMES) else f" {(n - 1) // len(PROGRAM_NAMES) + 1}"
        programs.append({"id": f"PGM-{n:03d}", "name": f"Programme {base}{suffix}",
                         "budget_cap": None, "_headroom": rng.randint(0, 99)})
    return programs


def _finish_programs(programs: list[dict[str, Any]], totals: dict[str, int],
                     seed: int) -> Iterator[dict[str, Any]]:
    """Set each cap from its projects' total: most have headroom, about 15% are over."""
    rng = _Rng(f"pmo-rules:caps:{seed}")
    for program in programs:
        total = totals.get(program["id"], 0)
        if program["_headroom"] < 15 and total > 0:
            factor = rng.randint(80, 98)   # committed beyond the cap
        else:
            factor = rng.randint(105, 140)
        cap = max(100_000, total * factor // 100 // 10_000 * 10_000)
        yield {"id": program["id"], "name": program["name"], "budget_cap": cap}


# ---------------------------------------------------------------------- the API --

class _LazyPrograms:
    """Programs whose caps are known once every project has been generated."""

    def __init__(self, factory: _ProjectFactory, programs: list[dict[str, Any]], seed: int,
                 projects: _LazyProjects):
        self._factory = factory
        self._programs = programs
        self._seed = seed
        self._projects = projects

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if not self._projects.done:
            for _ in self._projects:  # finish generating so that the totals are final
                pass
        return _finish_programs(self._programs, self._factory.program_totals, self._seed)


class _LazyProjects:
    """Projects generated on demand, once (iterate it a single time)."""

    def __init__(self, factory: _ProjectFactory):
        self._factory = factory
        self._next = 1
        self.done = factory.count == 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        factory = self._factory
        while self._next <= factory.count:
            n = self._next
            self._next += 1
            if self._next > factory.count:
                self.done = True
            yield factory.make(n)
        self.done = True


def generate_portfolio(projects: int, seed: int = 0, *, as_of: dt.date = DEFAULT_AS_OF,
                       lazy: bool = False) -> dict[str, Any]:
    """Generate a synthetic portfolio of `projects` projects.

    :param projects: number of projects (people are about a fifth of that, programs about
        a twentieth, at least one of each).
    :param seed: the seed; the same arguments always give the same portfolio.
    :param as_of: the date every generated date is relative to.
    :param lazy: return iterables instead of lists, to stream very large portfolios into
        `write_portfolio` without holding them in memory. Iterate `projects` before
        `programs` (their caps depend on the projects) and only once.
    :return: `{"projects": [...], "people": [...], "programs": [...]}`.
    """
    if projects < 0:
        raise ValueError("projects must be zero or more")
    people = _make_people(max(1, projects // 5), seed)
    programs = _make_programs(max(1, projects // 20), seed)
    factory = _ProjectFactory(projects, seed, as_of, people, [p["id"] for p in programs])
    lazy_projects = _LazyProjects(factory)
    lazy_programs = _LazyPrograms(factory, programs, seed, lazy_projects)
    if lazy:
        return {"projects": lazy_projects, "people": people, "programs": lazy_programs}
    # The records hold no reference cycles; pausing the cyclic GC while a hundred thousand
    # of them pile up avoids repeated full-heap scans (it roughly halves the time).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        project_list = list(lazy_projects)
    finally:
        if was_enabled:
            gc.enable()
    return {"projects": project_list, "people": people, "programs": list(lazy_programs)}


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": "))


def write_portfolio(portfolio: dict[str, Iterable[dict[str, Any]]],
                    out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Write `projects.jsonl`, `people.jsonl` and `programs.jsonl` into `out_dir`.

    One JSON object per line, UTF-8, keys in generation order. Collections are written in
    that order (projects first), so a lazy portfolio streams straight to disk.

    :return: the paths written.
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("projects", "people", "programs"):
        path = out_dir / f"{name}.jsonl"
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            batch: list[str] = []
            for record in portfolio.get(name, ()):
                batch.append(_dump(record))
                if len(batch) >= 2000:
                    fh.write("\n".join(batch) + "\n")
                    batch.clear()
            if batch:
                fh.write("\n".join(batch) + "\n")
        written.append(path)
    return written
