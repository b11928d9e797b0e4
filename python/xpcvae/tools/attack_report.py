"""The figures of an attack-catalogue run (:mod:`xpcvae.tools.attack_catalogue`) and their Markdown
section of docs/reliability.md."""

from __future__ import annotations

from xpcvae.tools.attack_cases import ENGINES, GROUPS, SUBSET, Case, Expect


def summary(cases: list[Case], outcomes: list) -> dict:
    """The figures of a run (``outcomes``: attack_catalogue.Outcome): counts per group and engine, every outcome."""
    by = {}
    for o in outcomes:
        group = next(c.group for c in cases if c.name == o.case)
        g = by.setdefault(group, {e: {"cases": 0, "passed": 0} for e in ENGINES})
        g[o.engine]["cases"] += 1
        g[o.engine]["passed"] += o.passed
    return {
        "cases": len(cases),
        "runs": len(outcomes),
        "passed": sum(o.passed for o in outcomes),
        "by_group": by,
        "catalogue": [{"name": c.name, "group": c.group, "what": c.what, "note": c.note, "runner": c.runner,
                       "expect": {e: _describe(c.expected(e)) for e in ENGINES}} for c in cases],
        "outcomes": [o.__dict__ for o in outcomes],
    }


def _describe(e: Expect) -> str:
    parts = [f"exit {' or '.join(map(str, e.rc))}"]
    if e.says:
        parts.append("says " + " / ".join(repr(s) for s in e.says))
    if e.row:
        parts.append(f"error row {e.row!r}")
    parts.append("outputs written" if e.outputs else "no output")
    return ", ".join(parts)


def _cell(o: dict) -> str:
    mark = "✓" if o["passed"] else "✗"
    msg = o["message"] if len(o["message"]) <= 140 else o["message"][:140] + "…"
    msg = msg.replace("|", "\\|").replace("`", "'")
    msg = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in msg)  # no control byte in the report
    left = "nothing left" if not o["left"] else "left " + ", ".join(f"`{f}`" for f in o["left"][:3]) \
        + (" …" if len(o["left"]) > 3 else "")
    why = f" — **{o['why']}**" if o["why"] else ""
    status = "traceback" if o["rc"] is None else f"exit {o['rc']}"
    return f"{mark} {status}: `{msg}`; {left}{why}" if msg else f"{mark} {status}; {left}{why}"


def report_lines(res: dict) -> list[str]:
    """The Markdown section of docs/reliability.md for the figures ``res`` of :func:`summary`."""
    by_case: dict = {}
    for o in res["outcomes"]:
        by_case.setdefault(o["case"], {})[o["engine"]] = o
    lines = [
        f"## Attack catalogue: {res['cases']} cases × {len(ENGINES)} engines",
        "",
        "Each case is run against the command line of both engines (`xpcvae.tools.attack_catalogue`): the Python "
        "engine through `xpcvae.cli.main`, the Java engine through `org.xpcvae.Main.run` (the launcher's entry "
        "point) in one JVM, both in-process; signals, file-size limits and relative paths through "
        "`xpcvae infer --engine python|java` as a process of its own (the Java engine then through the wrapper that "
        "starts the Java launcher). A run passes when the exit status and the message are the expected ones, the "
        "input, the bundle and every file that was there before are untouched, outputs exist only when the run "
        "succeeded, no temporary file is left and, after a signal, no JVM is still running. "
        f"{len(SUBSET)} of the cases run in `make test` (`tests/test_attack_catalogue.py`).",
        "",
        *([f"This section: `{res['run']['command']}` on {res['run']['date']}, a run of its own.", ""]
          if "run" in res else []),
        f"**{res['passed']} of {res['runs']} runs as expected.**",
        "",
        "| group | cases | Python passed | Java passed |",
        "|---|---|---|---|",
    ]
    for group, what in GROUPS.items():
        g = res["by_group"].get(group)
        if g:
            lines.append(f"| {group}: {what} | {g['python']['cases']} | {g['python']['passed']} | "
                         f"{g['java']['passed']} |")
    failed = [o for o in res["outcomes"] if not o["passed"]]
    if failed:
        lines += ["", "Runs not as expected (open defects, each in the row of its case below):", ""]
        lines += [f"- `{o['case']}` [{o['engine']}]: {o['why']} — `{o['message'][:160].replace('`', chr(39))}`"
                  for o in failed]
    differences = [c for c in res["catalogue"] if c["expect"]["python"] != c["expect"]["java"]]
    if differences:
        lines += ["", "Where the engines are expected to differ:", ""]
        lines += [f"- `{c['name']}`: {c['note']}" for c in differences]
    lines += ["", "| case | what | expected | Python | Java |", "|---|---|---|---|---|"]
    for c in res["catalogue"]:
        runs = by_case.get(c["name"], {})
        expect = c["expect"]["python"] if c["expect"]["python"] == c["expect"]["java"] else \
            f"Python: {c['expect']['python']}; Java: {c['expect']['java']}"
        what = c["what"].replace("|", "\\|") + (f" ({c['note']})" if c["note"] and c["expect"]["python"] ==
                                                  c["expect"]["java"] else "")
        lines.append(f"| `{c['name']}` | {what} | {expect} | "
                     + " | ".join(_cell(runs[e]) if e in runs else "not run" for e in ENGINES) + " |")
    return lines
