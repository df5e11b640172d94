from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    AUDITOR = "auditor"
    AUTHOR = "author"
    REQUESTER = "requester"

    def __str__(self) -> str:
        return str(self.value)
