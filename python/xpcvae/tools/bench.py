"""Benchmarks of the posterior samplers: ``make bench`` writes docs/performance.md and the raw figures beside it.

    python -m xpcvae.tools.bench --out docs/performance.md [--bundle export/default] [--quick]

Java, Python ONNX Runtime and PyTorch eager are measured in one run on the same machine, bundle
and spectra, with a classical (emcee) baseline, grid and training rates and the distance to the
machine's MatMul peak; the report (:mod:`xpcvae.tools.bench_report`) says what each figure means.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from xpcvae.data.spectra_csv import write_spectra_csv
from xpcvae.infer.sampler import PosteriorSampler, percentiles
from xpcvae.tools.bench_e2e import bench_end_to_end
from xpcvae.tools.bench_emcee import bench_emcee
from xpcvae.tools.bench_report import write_report
from xpcvae.tools.harness import (HARNESS_SRC, ROOT, busy_processes, java_classpath, java_executable, repo_relative,
                                  resolve_bundle, synthetic_spectra)
from xpcvae.tools.machine import cpu_model

NS = (100, 1000, 10000)


# -- helpers -----------------------------------------------------------------------------------

def _timed_calls(fn, warmup_s: float, measure_s: float, min_calls: int = 30, max_calls: int = 20000):
    """Warm up, then call ``fn(i)`` repeatedly; per-call milliseconds."""
    t_end = time.perf_counter() + warmup_s
    i = 0
    while time.perf_counter() < t_end or i < 5:
        fn(i)
        i += 1
    times = []
    t_end = time.perf_counter() + measure_s
    while (time.perf_counter() < t_end or len(times) < min_calls) and len(times) < max_calls:
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1e3)
        i += 1
    t = np.sort(np.array(times))
    return {"timed_calls": len(t), "p50_ms": float(np.percentile(t, 50)), "p95_ms": float(np.percentile(t, 95)),
            "mean_ms": float(t.mean()), "min_ms": float(t[0])}


def _throughput(work, threads: int, batch: int, warmup_s: float, measure_s: float) -> dict:
    """``work(first_index)`` handles ``batch`` sources; T threads for a fixed time."""
    lock = threading.Lock()
    state = {"next": 0, "counted": 0}
    t0 = time.perf_counter()
    warm_end, end = t0 + warmup_s, t0 + warmup_s + measure_s

    def worker():
        while True:
            now = time.perf_counter()
            if now >= end:
                return
            with lock:
                first = state["next"]
                state["next"] += batch
            work(first)
            done = time.perf_counter()
            if now >= warm_end and done <= end:
                with lock:
                    state["counted"] += batch

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(worker) for _ in range(threads)]:
            f.result()
    return {"threads": threads, "batch": batch, "seconds": measure_s, "sources": state["counted"],
            "sources_per_s": state["counted"] / measure_s}


# -- Java ----------------------------------------------------------------------------------------

def run_java_bench(classpath: str, bundle: Path, spectra_csv: Path, args, extra=()) -> dict:
    cmd = [java_executable(), "-Xmx1g", "-cp", classpath, "org.xpcvae.Bench",
           "--bundle", str(bundle), "--input", str(spectra_csv),
           "--samples", ",".join(str(n) for n in args.samples), "--threads", "1,2", "--batch", "64",
           "--warmup-s", str(args.warmup_s), "--latency-s", str(args.latency_s),
           "--throughput-s", str(args.throughput_s), *extra]
    print("$", " ".join(cmd), file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"Java bench failed ({proc.returncode}): {proc.stderr[-2000:]}")
    res = json.loads(proc.stdout)
    res["command"] = repo_relative(" ".join(cmd))
    return res


def build_baseline(rev: str, tmp: Path) -> str | None:
    """Compile the Java sources of git revision ``rev`` plus the current Bench harness; a classpath.

    Bench opens its decoder through ``OrtSessions``: a revision older than that class gets the current one."""
    src_root = "java/src/main/java/org/xpcvae"
    try:
        names = subprocess.run(["git", "ls-tree", "--name-only", f"{rev}:{src_root}"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"baseline: cannot read {rev}: {exc}", file=sys.stderr)
        return None
    src = tmp / "baseline-src" / "org" / "xpcvae"
    src.mkdir(parents=True)
    for name in names:
        if name.endswith(".java"):
            text = subprocess.run(["git", "show", f"{rev}:{src_root}/{name}"], cwd=ROOT, capture_output=True,
                                  text=True, check=True).stdout
            (src / name).write_text(text)
    shutil.copy(ROOT / HARNESS_SRC / "Bench.java", src / "Bench.java")
    if "OrtSessions.java" not in names:
        shutil.copy(ROOT / src_root / "OrtSessions.java", src / "OrtSessions.java")
    libs = java_classpath(project=False)
    classes = tmp / "baseline-classes"
    classes.mkdir()
    proc = subprocess.run(["javac", "--release", "11", "-nowarn", "-d", str(classes), "-cp", libs,
                           *[str(p) for p in src.glob("*.java")]], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"baseline: javac failed: {proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return os.pathsep.join([str(classes), libs])


def baseline_bundle(bundle: Path, tmp: Path) -> Path:
    """A copy of ``bundle`` whose manifest asks for the random numbers of the baseline revision.

    The sources first committed draw with ``splitmix64-counter-v1`` (Box-Muller, two uniforms per
    normal, ``draws_per_sample = 1 + 2L + 2P``) and refuse a v2 manifest; the networks are the same,
    so the copy times the same work with the old sampler (docs/sampling.md).
    """
    out = tmp / "baseline-bundle"
    shutil.copytree(bundle, out)
    manifest = json.loads((out / "manifest.json").read_text())
    if manifest.get("rng") != "splitmix64-counter-v1":
        manifest["format_version"] = 1  # what the baseline reads (it knows no manifest checksum either)
        manifest["rng"] = "splitmix64-counter-v1"
        manifest["draws_per_sample"] = 1 + 2 * manifest["latent_size"] + 2 * len(manifest["parameters"])
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


# -- Python ONNX Runtime and PyTorch -------------------------------------------------------------

def bench_python_ort(bundle: Path, flux, sigma, args) -> dict:
    """Latency and throughput of :class:`xpcvae.infer.sampler.PosteriorSampler` (ONNX Runtime)."""
    t0 = time.perf_counter()
    sampler = PosteriorSampler(bundle)
    out = {"load_s": time.perf_counter() - t0, "latency": []}
    b = len(flux)
    for n in args.samples:
        def call(i, n=n):
            k = i % b
            percentiles(sampler.sample(flux[k : k + 1], sigma[k : k + 1], n, seed=42, source_ids=[f"bench-{i}"]))
        out["latency"].append({"n_samples": n, **_timed_calls(call, args.warmup_s, args.latency_s)})
    out["throughput"] = []
    for threads in (1, 2):
        def work(first):
            idx = np.arange(first, first + 64)
            k = idx % b
            percentiles(sampler.sample(flux[k], sigma[k], 1000, seed=42, source_ids=[f"bench-{i}" for i in idx]))
        out["throughput"].append({**_throughput(work, threads, 64, args.warmup_s, args.throughput_s),
                                  "n_samples": 1000})
    return out


def python_sampler_rss(bundle: Path) -> dict:
    """Peak RSS of a fresh Python process that loads the ORT sampler and samples a few sources."""
    code = (
        "import numpy as np, sys\n"
        "from xpcvae.tools.machine import peak_rss_mb\n"
        "a = peak_rss_mb()\n"
        "from xpcvae.infer.sampler import PosteriorSampler, percentiles\n"
        f"s = PosteriorSampler({str(bundle)!r})\n"
        "b = peak_rss_mb()\n"
        "f = np.ones((64, 343), np.float32) + np.arange(343) * 1e-3; e = np.full((64, 343), 0.03, np.float32)\n"
        "percentiles(s.sample(f, e, 1000, seed=1, source_ids=[str(i) for i in range(64)]))\n"
        "print(a, b, peak_rss_mb())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    try:
        a, b, c = (float(x) for x in proc.stdout.split())
        return {"after_imports_mb": a, "after_load_mb": b, "after_64_sources_mb": c}
    except ValueError:
        return {"error": proc.stderr[-500:]}


def eager_model(bundle: Path, run_dir: Path):
    """The trained PyTorch model of ``run_dir`` (best.pt, else last.pt), else a random one of the
    bundle's architecture; (model, description)."""
    import torch  # lazy: torch (and the torch-based training modules) only in the torch benchmark

    from xpcvae.train.model import CVAE, CVAEConfig
    from xpcvae.train.run import load_run_model

    for ckpt in ("best.pt", "last.pt"):
        if (run_dir / ckpt).exists() and (run_dir / "config.json").exists():
            try:
                model, cfg = load_run_model(run_dir, ckpt)
                return model, f"trained run {run_dir.relative_to(ROOT) if run_dir.is_relative_to(ROOT) else run_dir} ({ckpt})"
            except Exception as exc:  # a checkpoint being written by a running training
                print(f"eager: cannot load {run_dir / ckpt}: {exc}", file=sys.stderr)
    arch = json.loads((bundle / "manifest.json").read_text()).get("architecture")
    if not arch:
        return None, "not measured: no trained run and the bundle records no architecture"
    torch.manual_seed(0)
    return CVAE(CVAEConfig.from_dict(arch)).eval(), "random weights, the bundle's architecture (no trained run found)"


def bench_torch(bundle: Path, run_dir: Path, flux, sigma, args) -> dict:
    """Latency and 1-thread throughput of the PyTorch model's own sampler (``CVAE.sample``, eager mode)."""
    import torch  # lazy: torch only in the torch benchmark

    model, what = eager_model(bundle, run_dir)
    if model is None:
        return {"model": what}
    torch.set_num_threads(1)
    f = torch.as_tensor(flux, dtype=torch.float32)
    e = torch.as_tensor(sigma, dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    out = {"model": what, "torch_version": torch.__version__, "threads": torch.get_num_threads(), "latency": []}
    b = len(flux)
    with torch.inference_mode():
        for n in args.samples:
            def call(i, n=n):
                k = i % b
                percentiles(model.sample(f[k : k + 1], e[k : k + 1], n, generator=gen).numpy())
            out["latency"].append({"n_samples": n, **_timed_calls(call, args.warmup_s, args.latency_s)})

        def work(first):
            k = np.arange(first, first + 64) % b
            percentiles(model.sample(f[k], e[k], 1000, generator=gen).numpy())
        out["throughput"] = [{**_throughput(work, 1, 64, args.warmup_s, args.throughput_s), "n_samples": 1000}]
    return out


# -- the limit -------------------------------------------------------------------------------------

def graph_macs(path: Path) -> dict:
    """Multiply-adds per row (one posterior draw, or one spectrum) of the Gemm/MatMul nodes whose
    weight is an initializer, plus the element-wise work per row."""
    m = onnx.load(str(path))
    init = {i.name: list(i.dims) for i in m.graph.initializer}
    macs, layers = 0, []
    for node in m.graph.node:
        if node.op_type in ("Gemm", "MatMul"):
            if node.input[0] in init:  # weights as the left operand (xpcvae.export.graph_form): W [n, k]
                n, k = init[node.input[0]]
            elif node.input[1] in init:
                w = init[node.input[1]]
                trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute)
                k, n = (w[1], w[0]) if trans_b else (w[0], w[1])
            else:
                continue
            macs += k * n
            layers.append(f"{node.op_type} {k}x{n}")
    ops = {}
    for node in m.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return {"macs_per_row": macs, "layers": layers, "ops": ops}


def matmul_peak(size: int = 2048, threads=(1, 2)) -> dict:
    """This machine's float32 MatMul rate in ONNX Runtime (best of 5 runs) on 1 and 2 threads, GFLOP/s."""
    g = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "mm",
                          [helper.make_tensor_value_info("A", TensorProto.FLOAT, [size, size]),
                           helper.make_tensor_value_info("B", TensorProto.FLOAT, [size, size])],
                          [helper.make_tensor_value_info("C", TensorProto.FLOAT, [size, size])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    out = {"size": size, "onnxruntime": ort.__version__}
    for t in threads:
        so = ort.SessionOptions()
        so.intra_op_num_threads = t
        so.inter_op_num_threads = 1
        s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        s.run(None, {"A": a, "B": a})
        best = min(_once(lambda: s.run(None, {"A": a, "B": a})) for _ in range(5))
        out[f"gflops_{t}_threads"] = 2 * size**3 / best / 1e9
    return out


def _once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# -- grid and training ---------------------------------------------------------------------------------

def bench_grid(n: int, tmp: Path) -> dict:
    """Wall time of ``xpcvae grid --n n`` (a subprocess, all cores)."""
    exe = Path(sys.executable).with_name("xpcvae")
    cmd = [str(exe) if exe.exists() else "xpcvae", "grid", "--n", str(n), "--out", str(tmp / "grid.h5"),
           "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"command": " ".join(cmd[1:]), "error": proc.stderr[-500:]}
    return {"command": "xpcvae " + " ".join(cmd[1:]).replace(str(tmp), "$TMP"), "n": n, "seconds": seconds,
            "spectra_per_s": n / seconds, "workers": os.cpu_count()}


def training_epochs(run_dir: Path) -> dict:
    """Seconds per epoch from the training log of ``run_dir``."""
    log = run_dir / "log.csv"
    if not log.exists():
        return {"error": f"{log} not found"}
    with open(log, newline="") as fh:
        secs = [float(r["seconds"]) for r in csv.DictReader(fh) if r.get("seconds")]
    if not secs:
        return {"error": f"{log} has no seconds column"}
    grid = None
    cfg = run_dir / "config.json"
    if cfg.exists():
        grid = json.loads(cfg.read_text()).get("grid")
    return {"log": str(log.relative_to(ROOT) if log.is_relative_to(ROOT) else log), "epochs": len(secs),
            "median_s": float(np.median(secs)), "min_s": float(np.min(secs)), "max_s": float(np.max(secs)),
            "total_min": float(np.sum(secs) / 60), "grid": grid}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m xpcvae.tools.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="docs/performance.md")
    ap.add_argument("--bundle", default=None, help="bundle directory (default: export/default, else a random one)")
    ap.add_argument("--run", default="runs/default", help="training run for PyTorch eager and epoch times")
    ap.add_argument("--baseline-rev", default="9a0e112",
                    help="git revision of the Java 'before': by default the Java module as first committed, "
                         "before the optimisations (empty: skip)")
    ap.add_argument("--quick", action="store_true", help="short timings (a smoke test of the harness)")
    ap.add_argument("--no-emcee", action="store_true")
    ap.add_argument("--no-grid", action="store_true")
    ap.add_argument("--emcee-spectra", type=int, default=2)
    ap.add_argument("--emcee-seconds", type=float, default=300.0)
    ap.add_argument("--emcee-ess", type=int, default=1000)
    ap.add_argument("--grid-n", type=int, default=20000)
    ap.add_argument("--e2e-rows", type=int, default=None,
                    help="rows of each end-to-end input file (default 1000; 100 with --quick)")
    ap.add_argument("--e2e-repeats", type=int, default=None,
                    help="end-to-end runs of each engine per file, alternating (default 3; 1 with --quick)")
    ap.add_argument("--no-e2e", action="store_true", help="skip the end-to-end command-line runs")
    ap.add_argument("--from-json", default=None, metavar="JSON",
                    help="re-write the report from the raw figures of an earlier run (no measuring)")
    args = ap.parse_args(argv)
    if args.from_json:
        res = json.loads(Path(args.from_json).read_text())
        out = Path(args.out)
        write_report(res, out if out.is_absolute() else ROOT / out)
        print(f"wrote {args.out} from {args.from_json}", file=sys.stderr)
        return 0
    args.samples = NS
    args.warmup_s, args.latency_s, args.throughput_s = (0.5, 1.0, 2.0) if args.quick else (2.0, 5.0, 10.0)
    if args.quick:
        args.emcee_seconds, args.grid_n = min(args.emcee_seconds, 20.0), min(args.grid_n, 2000)
    if args.e2e_rows is None:
        args.e2e_rows = 100 if args.quick else 1000
    if args.e2e_repeats is None:
        args.e2e_repeats = 1 if args.quick else 3
    out = Path(args.out)
    if not out.is_absolute():
        out = ROOT / out
    busy = busy_processes()
    if busy:
        print("warning: other heavy work is running, the figures will be noisy:\n  " + "\n  ".join(busy),
              file=sys.stderr)
    import torch  # lazy: torch only for its version (and the torch benchmark)

    res = {"command": "python -m xpcvae.tools.bench " + " ".join(argv if argv is not None else sys.argv[1:]),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "samples": list(NS),
           "versions": {"python": platform.python_version(), "onnxruntime": ort.__version__,
                        "numpy": np.__version__, "torch": torch.__version__}}
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    res["machine"] = {"cpu": cpu_model(), "cores": os.cpu_count(), "memory": f"{mem_gb:.0f} GB RAM",
                      "os": platform.platform(), "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                      "busy": busy}
    seen_busy: set[str] = set(busy)
    stop = threading.Event()

    def watch():  # heavy work started during the run makes the figures noisy: record it
        while not stop.wait(5.0):
            seen_busy.update(busy_processes())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with tempfile.TemporaryDirectory(prefix="xpcvae-bench-") as tmpdir:
        tmp = Path(tmpdir)
        bundle, what = resolve_bundle(args.bundle, tmp)
        manifest = json.loads((bundle / "manifest.json").read_text())
        res["bundle"] = {"path": str(bundle.relative_to(ROOT)) if bundle.is_relative_to(ROOT) else "(temporary)",
                         "what": what, "latent": manifest["latent_size"], "components": manifest["mixture_components"],
                         "context": manifest["context_size"]}
        theta, flux, sigma = synthetic_spectra()
        res["spectra"] = {"n": len(flux), "g_mag": 15.0}
        csv_path = tmp / "spectra.csv"
        write_spectra_csv(csv_path, [f"bench{i}" for i in range(len(flux))], flux, sigma)
        res["macs"] = {role: graph_macs(bundle / manifest["files"][role]["path"])
                       for role in ("r1_encoder", "decoder_context", "decoder_sample")}

        print("Java ...", file=sys.stderr)
        res["java"] = run_java_bench(java_classpath(), bundle, csv_path, args)
        if args.baseline_rev:
            print(f"Java baseline ({args.baseline_rev}) ...", file=sys.stderr)
            bcp = build_baseline(args.baseline_rev, tmp)
            if bcp:
                res["java_baseline"] = run_java_bench(bcp, baseline_bundle(bundle, tmp), csv_path, args)
                res["baseline_rev"] = subprocess.run(["git", "rev-parse", "--short", args.baseline_rev], cwd=ROOT,
                                                     capture_output=True, text=True).stdout.strip()
        print("Python ORT ...", file=sys.stderr)
        res["python_ort"] = bench_python_ort(bundle, flux.astype(np.float32), sigma.astype(np.float32), args)
        res["python_rss"] = python_sampler_rss(bundle)
        if args.no_e2e:
            res["end_to_end"] = {"skipped": "--no-e2e"}
        else:
            print(f"end to end ({args.e2e_rows} rows, {args.e2e_repeats} runs per engine and file) ...",
                  file=sys.stderr)
            res["end_to_end"] = bench_end_to_end(bundle, flux, sigma, tmp, args.e2e_rows, args.e2e_repeats)
        print("PyTorch ...", file=sys.stderr)
        res["torch"] = bench_torch(bundle, ROOT / args.run, flux, sigma, args)
        print("peak ...", file=sys.stderr)
        res["peak"] = matmul_peak()
        if args.no_emcee:
            res["emcee"] = {"skipped": "--no-emcee"}
        else:
            print("emcee ...", file=sys.stderr)
            res["emcee"] = bench_emcee(args.emcee_spectra, args.emcee_ess, args.emcee_seconds)
        if args.no_grid:
            res["grid"] = {"skipped": "--no-grid"}
        else:
            print("grid ...", file=sys.stderr)
            res["grid"] = bench_grid(args.grid_n, tmp)
        res["training"] = training_epochs(ROOT / args.run)
    stop.set()
    res["machine"]["busy"] = sorted(seen_busy)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    write_report(res, out)
    print(f"wrote {out} and {out.with_suffix('.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
