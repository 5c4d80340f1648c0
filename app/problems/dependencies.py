"""A problem named in a path, as the routes of problems, actions and indicators read it:
404 for one the caller may not see, then 403, then If-Match (judged once the request is
parsed)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from app import access
from app.core.concurrency import IfMatch, precondition_if_match
from app.core.db import DbSession
from app.identity.dependencies import CurrentUser
from app.problems import service
from app.problems.models import Problem


async def visible_problem(
    problem_id: uuid.UUID, session: DbSession, principal: CurrentUser
) -> Problem:
    """The problem, or 404 for one the caller may not see (existence is not revealed)."""
    return await service.get_problem(session, principal, problem_id)


async def problem_to_extend(
    problem_id: uuid.UUID, session: DbSession, principal: CurrentUser
) -> Problem:
    """The problem, locked (nothing is added while it closes): 404 unless the caller sees
    it, 403 unless it runs the problem's GPO."""
    problem = await service.get_problem(session, principal, problem_id, for_update=True)
    await access.require_runner(session, principal, problem.gpo_id)
    return problem


async def problem_to_run(
    problem: Annotated[Problem, Depends(problem_to_extend)], if_match: IfMatch = None
) -> Problem:
    """The problem to change: as `problem_to_extend`, and 412 on a stale If-Match."""
    precondition_if_match(if_match, problem.version)
    return problem


VisibleProblem = Annotated[Problem, Depends(visible_problem)]
# Adding actions or indicators to it.
ProblemToExtend = Annotated[Problem, Depends(problem_to_extend)]
# Editing or moving it.
ProblemToRun = Annotated[Problem, Depends(problem_to_run)]
