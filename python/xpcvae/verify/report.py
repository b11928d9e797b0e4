"""The outcome of ``xpcvae verify``: named checks with their figure, as text, Markdown and JSON."""

from __future__ import annotations

import datetime
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xpcvae import __version__
from xpcvae.atomic import atomic_path

PASS, FAIL, NOT_RUN = "pass", "fail", "not run"


@dataclass(frozen=True)
class Check:
    """One check: its ``name``, ``status`` (:data:`PASS`, :data:`FAIL` or :data:`NOT_RUN`) and ``figure``
    (what was measured, or why it failed or did not run); ``value`` and ``limit``: the figure as numbers
    where it is one."""

    name: str
    status: str
    figure: str
    value: float | None = None
    limit: float | None = None

    @classmethod
    def of(cls, name: str, ok: bool, figure: str, value=None, limit=None) -> "Check":
        return cls(name, PASS if ok else FAIL, figure, None if value is None else float(value),
                   None if limit is None else float(limit))


@dataclass
class Report:
    """The checks of one bundle, in the order they ran."""

    bundle: str
    checks: list[Check] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc)
                         .isoformat(timespec="seconds"))

    @property
    def passed(self) -> bool:
        """No check failed (checks not run do not fail the bundle)."""
        return all(c.status != FAIL for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    def verdict(self) -> str:
        n = len(self.checks)
        not_run = sum(c.status == NOT_RUN for c in self.checks)
        if self.passed:
            return f"PASSED: {n - not_run} checks passed" + (f", {not_run} not run" if not_run else "")
        return (f"FAILED: {len(self.failed)} of {n} checks failed ("
                + ", ".join(c.name for c in self.failed) + ")")

    def text(self) -> str:
        width = max((len(c.name) for c in self.checks), default=10)
        lines = [f"{c.status.upper():<8} {c.name:<{width}}  {c.figure}" for c in self.checks]
        return "\n".join(lines + [f"bundle {self.bundle}: {self.verdict()}"])

    def markdown(self) -> str:
        rows = [f"| `{c.name}` | {'**FAIL**' if c.status == FAIL else c.status} | {c.figure.replace('|', '/')} |"
                for c in self.checks]
        return "\n".join([f"# xpcvae verify: `{self.bundle}`", "",
                          f"**{self.verdict()}** (xpcvae {__version__}, {self.created})", "",
                          "| check | result | figure |", "|---|---|---|", *rows, ""])

    def to_dict(self) -> dict:
        return {"bundle": self.bundle, "passed": self.passed, "xpcvae_version": __version__,
                "created": self.created, "checks": [asdict(c) for c in self.checks]}

    def write(self, path) -> tuple[Path, Path]:
        """``path`` with .md and with .json (any .md or .json suffix of ``path`` replaced); both paths."""
        path = Path(path)
        stem = path.with_suffix("") if path.suffix.lower() in (".md", ".json") else path
        md, js = Path(f"{stem}.md"), Path(f"{stem}.json")
        with atomic_path(md, suffix=".md") as tmp:
            tmp.write_text(self.markdown())
        with atomic_path(js, suffix=".json") as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return md, js


def guarded(name: str, fn, *args, **kwargs) -> list[Check]:
    """``fn(*args, **kwargs)`` (a check returning one or more :class:`Check`), or a failed check naming the
    error it raised: a damaged bundle must give a failure line, never stop the other checks."""
    try:
        out = fn(*args, **kwargs)
    except Exception as exc:  # any error of a damaged bundle or of a library is this check's failure
        text = str(exc).strip()
        kind = type(exc).__name__
        return [Check(name, FAIL, text if text.split(":")[0].endswith(kind) else f"{kind}: {text}")]
    return list(out) if isinstance(out, (list, tuple)) else [out]
