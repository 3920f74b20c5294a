"""One line of `lrcourse doctor`: a check's name, and what is wrong and how to fix it (`ok`, `warn` or `FAIL`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Check:
    name: str
    problem: str = ""  # "" when all is well
    fix: str = ""
    warning: bool = False  # grading works, with less than it should have
    stops: str = "grading"  # what a failure stops: "grading", "collect" or "release" (the exchange's checks)

    @property
    def failed(self) -> bool:
        return bool(self.problem) and not self.warning

    def line(self) -> str:
        if not self.problem:
            return f"ok    {self.name}"
        label = "warn" if self.warning else "FAIL"
        return f"{label}  {self.name}: {self.problem}" + (f" -- fix: {self.fix}" if self.fix else "")


def one_line(text: str, width: int = 600) -> str:
    """`text` (an error's, often many lines) as one line of at most `width` characters."""
    text = " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())
    return text if len(text) <= width else text[: width - 1] + "…"
