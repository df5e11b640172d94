from enum import StrEnum


class OnChange(StrEnum):
    CLAMP = "clamp"
    FLAG = "flag"
    NONE = "none"
    REVOKE = "revoke"

    def __str__(self) -> str:
        return str(self.value)
