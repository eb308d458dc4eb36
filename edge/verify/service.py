"""Verification service held by the node (placeholder until the verification pipeline lands)."""


class VerificationService:
    def __init__(self, node) -> None:
        self.node = node

    def close(self) -> None:
        pass
