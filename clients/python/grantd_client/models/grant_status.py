from enum import StrEnum


class GrantStatus(StrEnum):
    APPROVAL_EXPIRED = "APPROVAL_EXPIRED"
    DENIED = "DENIED"
    EXPIRED = "EXPIRED"
    EXTENDED = "EXTENDED"
    GRANTED = "GRANTED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    REVOKED = "REVOKED"

    def __str__(self) -> str:
        return str(self.value)
