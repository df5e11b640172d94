from enum import StrEnum


class ScopeType(StrEnum):
    ANY = "any"
    EQ = "eq"
    IN = "in"
    IS = "is"
    IS_IN = "is_in"

    def __str__(self) -> str:
        return str(self.value)
