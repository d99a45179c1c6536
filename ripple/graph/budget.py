"""A query's time budget: how long one lineage question may run before it answers what it has.

A budget starts when the question is asked and covers every walk and read that answers it, so a
question made of several walks (Marquez's lineage is two, column lineage one per column) shares
one allowance. Walks check it every so many nodes; what they found by then is the answer, flagged
partial with the budget's `reason`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Budget:
    seconds: float  # the allowance, as configured (for the reason)
    deadline: float  # on `clock`
    clock: Clock = time.monotonic

    @classmethod
    def start(cls, seconds: float, clock: Clock = time.monotonic) -> Budget:
        """A budget of `seconds` from now."""
        return cls(seconds, clock() + seconds, clock)

    def remaining(self) -> float:
        """Seconds left (0 once exhausted)."""
        return max(0.0, self.deadline - self.clock())

    def is_exhausted(self) -> bool:
        return self.clock() >= self.deadline

    @property
    def reason(self) -> str:
        """Why an answer cut by this budget is partial (`partialReason` in answers)."""
        return f"time budget of {self.seconds:g} s exhausted"
