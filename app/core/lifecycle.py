"""The one shape of every state machine (problems, actions, meetings, reports).

A lifecycle is a table of moves; each move names its guards, the checks that must pass
before that move is made (a closing move's evidence rule, a reopening's note), so that a
rule lives next to the moves it guards and nowhere else. `check` finds the move or refuses
it (409, naming the moves allowed), then runs the move's guards in order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from app.core.errors import Conflict

StateT = TypeVar("StateT", bound=StrEnum)
ContextT = TypeVar("ContextT")

# A guard reads the move's context (the record, the request) and raises an ApiError.
Guard = Callable[[ContextT], Awaitable[None]]


@dataclass(frozen=True)
class Move(Generic[StateT, ContextT]):
    source: StateT
    target: StateT
    guards: tuple[Guard[ContextT], ...] = ()


# How a refused move is told to a person: (noun, source, target, allowed) → French.
Refusal = Callable[[str, Any, Any, list[Any]], str]


class Lifecycle(Generic[StateT, ContextT]):
    def __init__(
        self,
        noun: str,
        moves: Iterable[Move[StateT, ContextT]],
        *,
        refusal_fr: Refusal | None = None,
    ) -> None:
        self.noun = noun
        self.moves = {(move.source, move.target): move for move in moves}
        self.refusal_fr = refusal_fr

    def targets(self, source: StateT) -> list[StateT]:
        """Where a record in `source` may go, in the order the table lists them."""
        return [target for (frm, target) in self.moves if frm == source]

    def find(self, source: StateT, target: StateT) -> Move[StateT, ContextT]:
        move = self.moves.get((source, target))
        if move is None:
            targets = self.targets(source)
            allowed = ", ".join(sorted(t.value for t in targets))
            raise Conflict(
                f"This {self.noun} is {source.value}: it cannot move to {target.value} "
                f"({f'allowed: {allowed}' if allowed else 'it is final'}).",
                fr=self.refusal_fr(self.noun, source, target, targets) if self.refusal_fr else None,
            )
        return move

    async def check(
        self, source: StateT, target: StateT, context: ContextT
    ) -> Move[StateT, ContextT]:
        """The move from `source` to `target`, once every guard of it has passed."""
        move = self.find(source, target)
        for guard in move.guards:
            await guard(context)
        return move
