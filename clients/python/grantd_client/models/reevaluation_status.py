from enum import StrEnum


class ReevaluationStatus(StrEnum):
    DONE = "done"
    PENDING = "pending"
    RUNNING = "running"
    SUPERSEDED = "superseded"

    def __str__(self) -> str:
        return str(self.value)
