"""The Spark benchmark's figures (:mod:`xpcvae.tools.spark_bench`) as Markdown, written into the docs.

``make bench`` runs ``python -m xpcvae.tools.spark_bench --docs`` after the sampler benchmark has
rewritten docs/performance.md: the section between the markers below is replaced (appended to
docs/performance.md when it has none) in docs/performance.md and docs/scale.md, so one run gives
both documents the same figures.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BEGIN = "<!-- spark-bench:begin (written by python -m xpcvae.tools.spark_bench --docs) -->"
END = "<!-- spark-bench:end -->"
DOCS = ("docs/performance.md", "docs/scale.md")


def _f(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}" if abs(x) < 10 ** digits else f"{x:.0f}"


def _run_name(r: dict) -> str:
    if r["engine"] == "java-cli":
        return f"Java CLI, {r['threads']} thread{'s' if r['threads'] > 1 else ''}"
    return f"Spark `{r['master']}`"


def _met(value: float, target: float) -> str:
    return "met" if value >= target else "not met"


def markdown(result: dict, json_path: str | None = None) -> str:
    """The figures of one benchmark run as a Markdown section (a level-3 heading and below)."""
    ratios, cost, size = result["ratios"], result["cpu_fixed_and_per_source"], result["bytes_per_spectrum"]
    m = result["machine"]
    lines = [
        "### Spark job against the Java CLI",
        "",
        f"Measured by `{result['command']}`" + (f" on {result['date']}" if result.get("date") else "")
        + (f" (raw figures: `{json_path}`)." if json_path else "."),
        "",
        f"- The same {result['spectra']} noisy forward-model spectra (ids 0..{result['spectra'] - 1}), "
        f"{result['samples']} draws each, batches of {result['batch']}; each run in a fresh JVM; the job's input "
        f"read as {result['runs'][2]['partitions']} partitions ({result.get('partitioning', 'repartition')}).",
        f"- Machine: {m['cpu']}, {m['cpus']} CPUs, **shared with other work**: load average "
        f"{' '.join(map(str, m['load_before']))} before the runs, {' '.join(map(str, m['load_after']))} after. "
        "\"cores obtained\" = CPU time / wall time: where it is below the threads a run asked for, the "
        "wall-clock rates measure the share the run got as much as the engine.",
    ]
    if result.get("quick"):
        lines.append("- **`--quick` run** (a smoke test of the harness): too short for its ratios to mean much.")
    lines += ["", "| run | spectra/s (run) | wall s | CPU s | cores obtained | CPU ms / spectrum | load before |",
              "|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        lines.append(f"| {_run_name(r)} | {r['rate']:.0f} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
                     f"{r['cores_used']:.2f} | {r['cpu_ms_per_source']:.2f} | {r['load_before'][0]} |")
    r2, r12 = ratios["spark_local2_over_cli_2_threads"], ratios["spark_local1_to_local2"]
    same = result["local2_output_equals_cli"]
    lines += [
        "",
        "(\"run\": the engine's own timing, bundle loading to committed output; \"wall\": process start to exit, "
        "JVM and Spark start included.)",
        "",
        f"- `local[2]` / CLI 2 threads: **{r2:.2f}** (target >= {ratios['target_spark_local2_over_cli_2_threads']}: "
        f"{_met(r2, ratios['target_spark_local2_over_cli_2_threads'])} in this run); `local[1]` -> `local[2]`: "
        f"**{r12:.2f}x** (target >= {ratios['target_spark_local1_to_local2']}x: "
        f"{_met(r12, ratios['target_spark_local1_to_local2'])} in this run); the CLI from 1 to 2 threads: "
        f"{ratios['cli_1_to_2_threads']:.2f}x.",
        "- CPU time per spectrum, `local[2]` / CLI 2 threads: "
        f"{ratios['cpu_per_source_spark_local2_over_cli_2_threads']:.2f}. "
        f"Fixed and marginal CPU cost ({cost['spark']['runs']}): job {cost['spark']['fixed_cpu_s']:.1f} CPU-s fixed "
        f"+ {cost['spark']['marginal_cpu_ms_per_source']:.2f} ms per spectrum; CLI "
        f"{cost['java-cli']['fixed_cpu_s']:.1f} CPU-s + {cost['java-cli']['marginal_cpu_ms_per_source']:.2f} ms "
        f"(job / CLI per spectrum: {cost['spark_over_cli_marginal']:.2f}).",
    ]
    marginal = result.get("marginal_rates")
    if marginal and "spark_local1_to_local2" in marginal:
        rate = marginal["rate"]
        lines.append(
            f"- Marginal (steady-state) rates, from two run lengths ({marginal['runs']}: the extra spectra over the "
            "extra run time, the fixed cost of a run cancelled; **not the targets' rates**, which are those of the "
            "runs above): " + ", ".join(f"{name} {r:.0f}/s" for name, r in rate.items())
            + f"; `local[1]` -> `local[2]` {marginal['spark_local1_to_local2']:.2f}x"
            + (f", the CLI from 1 to 2 threads {marginal['cli_1_to_2_threads']:.2f}x"
               if "cli_1_to_2_threads" in marginal else "") + ".")
    proj = result.get("projection_dedicated_cores")
    if proj:
        lines.append(
            f"- **Projection (not a measurement) for dedicated cores**, from these CPU costs ({proj['assumptions']}): "
            f"`local[2]` / CLI 2 threads {proj['spark_local2_over_cli_2_threads']:.2f} and `local[1]` -> `local[2]` "
            f"{proj['spark_local1_to_local2']:.2f}x on these {result['spectra']} spectra; "
            f"{proj['large_n_spark_local2_over_cli_2_threads']:.2f} and {proj['large_n_spark_local1_to_local2']:.2f}x "
            "once the input is large enough for the fixed cost not to count.")
    lines += [
        f"- The `local[2]` output equals the CLI's summary value for value: **{'yes' if same['identical'] else 'NO'}** "
        f"({same['rows_job']} rows against {same['rows_cli']}).",
        f"- Input bytes per spectrum: project CSV {size['input_csv']:.0f} B, Parquet of `xpcvae to-parquet` "
        f"{size['input_parquet']:.0f} B ({size['input_csv_over_parquet']:.1f}x smaller). Output per row: summary "
        f"CSV {size['output_summary_csv']:.0f} B, Parquet {size['output_parquet']:.0f} B.",
    ]
    x = result["extrapolation"]
    hours = ", ".join(f"{_hours(h)} on {n} cores" for n, h in x["hours_on_n_cores"].items())
    lines += [
        "",
        f"**Extrapolation (not a measurement) to {x['sources'] / 1e6:.0f} million spectra** (Gaia DR3's XP "
        f"spectra): {x['core_seconds_per_source'] * 1e3:.2f} ms per spectrum per core / "
        f"{x['parallel_efficiency']:.3f} parallel efficiency = **{x['core_hours_total']:.0f} core-hours**: "
        f"{hours}. Input {x['input_bytes'] / 1e9:.0f} GB of Parquet, output {x['output_bytes'] / 1e9:.0f} GB. "
        "Assumptions:",
        "",
    ]
    lines += [f"- {a}" for a in x["assumptions"]]
    return "\n".join(lines) + "\n"


def _hours(h: float) -> str:
    return f"{h:.1f} h" if h >= 1 else f"{h * 60:.0f} min"


def replace_section(text: str, section: str) -> str:
    """``text`` with the section between the markers replaced by ``section`` (appended when absent)."""
    block = f"{BEGIN}\n{section}{END}\n"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + "\n\n" + block


def write_docs(result: dict, json_path: str | None = None, root: Path = ROOT) -> list[Path]:
    """Writes the section into docs/performance.md and docs/scale.md; returns their paths."""
    rel = None
    if json_path:
        p = Path(json_path).resolve()
        rel = str(p.relative_to(root)) if p.is_relative_to(root) else str(p)
    section = markdown(result, rel)
    written = []
    for doc in DOCS:
        path = root / doc
        path.write_text(replace_section(path.read_text() if path.exists() else "", section))
        written.append(path)
    return written
