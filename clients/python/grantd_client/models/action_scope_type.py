from enum import StrEnum


class ActionScopeType(StrEnum):
    ANY = "any"
    EQ = "eq"
    IN = "in"

    def __str__(self) -> str:
        return str(self.value)
