"""Pydantic v2 models of a portfolio snapshot (SPEC section 3).

Strict where people type (enumerations, dates, numbers), permissive where organisations
extend (`extra="allow"`: unknown keys are kept and readable). Numbers are `Decimal`, so a
budget of 0.1 is exactly 0.1. Optional parts default to null or an empty list, which is
how the language reads absent data.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Money = Annotated[Decimal, Field(allow_inf_nan=False)]
Number = Annotated[Decimal, Field(allow_inf_nan=False)]
Date = dt.date


class Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=False,
                              ser_json_inf_nan="strings")


class Budget(Record):
    approved: Money | None = None
    actual_cost: Money | None = None
    planned_value: Money | None = None
    earned_value: Money | None = None
    currency: str | None = None


class Risk(Record):
    id: str | None = None
    title: str | None = None
    probability: Number | None = Field(None, description="likelihood, 0 to 1")
    impact: Money | None = Field(None, description="cost if it happens")
    status: str | None = Field(None, description="open or closed")
    owner: str | None = None
    mitigation: str | None = None


class Milestone(Record):
    name: str | None = None
    baseline: Date | None = Field(None, description="the originally committed date")
    due: Date | None = Field(None, description="the current forecast date")
    completed: Date | None = Field(None, description="the actual date, null until done")


class Gate(Record):
    name: str | None = None
    required: bool | None = None
    approved_by: str | None = None
    approved_on: Date | None = None


class Assignment(Record):
    person: str | None = None
    role: str | None = None
    allocation: Number | None = Field(None, description="fraction of a full-time person")


class BusinessCase(Record):
    status: str | None = None
    approved_by: str | None = None
    approved_on: Date | None = None


class Tolerances(Record):
    time_days: Number | None = None
    cost_pct: Number | None = Field(None, description="fraction: 0.1 is 10%")


class Issue(Record):
    id: str | None = None
    title: str | None = None
    priority: str | None = None
    status: str | None = None
    owner: str | None = None
    opened: Date | None = None
    due: Date | None = None
    escalated_on: Date | None = None


class ChangeRequest(Record):
    id: str | None = None
    cost_impact: Money | None = None
    status: str | None = None
    approved_by: str | None = None
    approved_on: Date | None = None
    implemented_on: Date | None = None


class Benefit(Record):
    name: str | None = None
    owner: str | None = None
    measure: str | None = None
    target: Any = None


class Dependency(Record):
    project: str | None = Field(None, description="id of the project depended on")
    needed_by: Date | None = None


class Lesson(Record):
    title: str | None = None
    recorded_on: Date | None = None


class Project(Record):
    id: str
    name: str | None = None
    portfolio: str | None = None
    program: str | None = None
    type: str | None = None
    status: Literal["proposed", "active", "on_hold", "completed", "cancelled"] | None = None
    phase: Literal["initiation", "planning", "execution", "closing"] | None = None
    health: Literal["green", "amber", "red"] | None = None
    priority: Annotated[int, Field(ge=1, le=5)] | None = None
    methodology: str | None = None
    sponsor: str | None = None
    manager: str | None = None
    start_date: Date | None = None
    planned_end: Date | None = None
    forecast_end: Date | None = None
    last_status_update: Date | None = None
    budget: Budget | None = None
    risks: list[Risk] = Field(default_factory=list)
    milestones: list[Milestone] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)
    assignments: list[Assignment] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    custom: dict[str, Any] = Field(default_factory=dict)
    business_case: BusinessCase | None = None
    tolerances: Tolerances | None = None
    issues: list[Issue] = Field(default_factory=list)
    change_requests: list[ChangeRequest] = Field(default_factory=list)
    benefits: list[Benefit] = Field(default_factory=list)
    dependencies: list[Dependency] = Field(default_factory=list)
    lessons: list[Lesson] = Field(default_factory=list)
    objectives: list[str] = Field(default_factory=list)


class Person(Record):
    id: str
    name: str | None = None
    capacity: Number = Decimal("1.0")
    cost_rate: Money | None = None


class Program(Record):
    id: str
    name: str | None = None
    budget_cap: Money | None = None


class Snapshot(BaseModel):
    """The whole portfolio as one document (the JSON Schema `pmo-rules schema` prints)."""

    model_config = ConfigDict(extra="forbid")
    projects: list[Project] = Field(default_factory=list)
    people: list[Person] = Field(default_factory=list)
    programs: list[Program] = Field(default_factory=list)


COLLECTION_MODELS: dict[str, type[Record]] = {"projects": Project, "people": Person, "programs": Program}

# Flattened views: collection name -> the project field whose items it lists.
VIEWS: dict[str, str] = {
    "risks": "risks",
    "issues": "issues",
    "milestones": "milestones",
    "gates": "gates",
    "assignments": "assignments",
    "change_requests": "change_requests",
}

# Every name a rule can iterate: the three collections, then the views.
ALL_COLLECTIONS: frozenset[str] = frozenset((*COLLECTION_MODELS, *VIEWS))
