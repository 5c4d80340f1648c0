from __future__ import annotations

from pydantic import Field

from app.core.schemas import Output


class Overview(Output):
    problems_by_status: dict[str, int] = Field(examples=[{"new": 3, "open": 12, "closed": 40}])
    problems_by_category: dict[str, int] = Field(examples=[{"hall_occupation": 7}])
    problems_by_commune: dict[str, int] = Field(examples=[{"57463": 30, "57751": 9}])
    overdue_actions_by_organisation: dict[str, int] = Field(
        description="Organisation id → overdue actions."
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
    outcomes: dict[str, int] = Field(description="Outcome → problems closed during the year.")
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
    totals: Totals
    by_gpo: list[EvaluationRow]
    by_commune: list[EvaluationRow]
    by_category: list[EvaluationRow]
    by_organisation: list[OrganisationRow]
