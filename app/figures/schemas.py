from __future__ import annotations

from pydantic import Field

from app.core.schemas import Output


class Overview(Output):
    problems_by_status: dict[str, int] = Field(
        description="Problems counted by status.", examples=[{"new": 3, "open": 12, "closed": 40}]
    )
    problems_by_category: dict[str, int] = Field(
        description="Problems counted by category code.", examples=[{"hall_occupation": 7}]
    )
    problems_by_commune: dict[str, int] = Field(
        description="Problems counted by commune, keyed by INSEE code.",
        examples=[{"57463": 30, "57751": 9}],
    )
    overdue_actions_by_organisation: dict[str, int] = Field(
        description="Overdue actions counted per organisation, keyed by its id.",
        examples=[{"9e1c3a5b-7d9f-4b2d-8f4a-6c8e0a2b4d6f": 2}],
    )
    median_days_to_close: float | None = Field(
        description="Median days from creation to closing of the closed problems.",
        examples=[41.5],
    )
    closed_with_evidence_ratio: float | None = Field(
        description="Share of closed problems (outcomes other than duplicate and not_in_scope) "
        "with an indicator that has a baseline and a later measurement; null if none closed.",
        examples=[0.62],
    )


class EvaluationRow(Output):
    key: str = Field(examples=["57463"])
    label: str = Field(examples=["Metz"])
    problems_raised: int = Field(description="Created during the year.")
    problems_closed: int = Field(description="Closed during the year.")
    outcomes: dict[str, int] = Field(
        description="Outcome → problems closed during the year.",
        examples=[{"reduced": 3, "eliminated": 1}],
    )
    median_days_to_close: float | None
    closed_with_improved_indicator: int = Field(
        description="Closed during the year with an indicator better than its baseline."
    )


class OrganisationRow(Output):
    key: str = Field(description="Organisation id.")
    label: str = Field(examples=["Police municipale de Metz"])
    actions_assigned: int = Field(description="Actions created during the year for it.")
    actions_done: int
    actions_overdue: int = Field(description="Of those, still open and past due today.")
    actions_cancelled: int


class Totals(EvaluationRow):
    actions_assigned: int
    actions_done: int
    actions_overdue: int
    actions_cancelled: int


class AnnualEvaluation(Output):
    year: int = Field(examples=[2026])
    totals: Totals = Field(description="The whole contract's figures for the year.")
    by_gpo: list[EvaluationRow] = Field(description="A row per GPO, keyed by its id.")
    by_commune: list[EvaluationRow] = Field(description="A row per commune (INSEE code).")
    by_category: list[EvaluationRow] = Field(description="A row per category code.")
    by_organisation: list[OrganisationRow] = Field(
        description="A row per organisation assigned actions."
    )
