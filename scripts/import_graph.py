"""Import graph of python/xpcvae (run: python3 scripts/import_graph.py .): modules, levels (longest import chain),
cycles, largest modules, function-level imports, upward imports across layers."""
import ast, sys
from pathlib import Path

root = Path(sys.argv[1]) / "python" / "xpcvae"
mods = {}
for p in root.rglob("*.py"):
    rel = p.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    mods[".".join(parts)] = p

def resolve(node, cur, is_pkg):
    if node.level == 0:
        return node.module
    base = cur.split(".")
    if not is_pkg:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))

edges = {m: set() for m in mods}
inner = 0
for m, p in mods.items():
    tree = ast.parse(p.read_text())
    is_pkg = p.name == "__init__.py"
    skip = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.If) and getattr(n.test, "id", None) == "TYPE_CHECKING":
            skip.update(id(x) for x in ast.walk(n))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets = []
        if isinstance(node, ast.ImportFrom):
            base = resolve(node, m, is_pkg)
            if not base or not base.startswith("xpcvae"):
                continue
            for a in node.names:
                cand = f"{base}.{a.name}"
                targets.append(cand if cand in mods else base)
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.startswith("xpcvae")]
        else:
            continue
        for t in targets:
            while t not in mods and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in mods and t != m:
                edges[m].add(t)
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for n in ast.walk(fn):
                if isinstance(n, (ast.Import, ast.ImportFrom)):
                    inner += 1
# parent packages: importing a.b.c imports a.b (ignore for cycles as Python does)
# cycles via Tarjan
index, low, stack, on, sccs, i = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            sc(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
for v in edges:
    if v not in index: sc(v)
# levels (longest path in condensation, ignoring cycles)
memo = {}
def level(v, seen=()):
    if v in memo: return memo[v]
    if v in seen: return 0
    l = 1 + max((level(w, seen + (v,)) for w in edges[v]), default=0)
    memo[v] = l
    return l
lv = {m: level(m) for m in mods}
sizes = sorted(((sum(1 for _ in p.open()), m) for m, p in mods.items()), reverse=True)
print(f"modules: {len(mods)}; import levels: {max(lv.values())}; cycles: {sccs or 'none'}")
print(f"imports inside functions: {inner}")
print("largest modules:", ", ".join(f"{m} {n}" for n, m in sizes[:6]))
LAYERS = ["params", "rng", "atomic", "provenance", "forward", "data", "simulate", "calibrate", "train", "bundle",
          "export", "infer", "validation", "commands", "cli", "tools"]
def layer(m):
    parts = m.split(".")
    return parts[1] if len(parts) > 1 else None
order = {"params": 0, "rng": 0, "atomic": 0, "provenance": 0, "forward": 1, "data": 2, "simulate": 3, "calibrate": 4,
         "train": 5, "bundle": 6, "export": 7, "infer": 7, "validation": 8, "commands": 9, "cli": 10, "tools": 11}
up = []
for m, ts in edges.items():
    for t in ts:
        a, b = layer(m), layer(t)
        if a in order and b in order and order[b] > order[a]:
            up.append(f"{m} -> {t}")
        if a in ("export",) and b == "infer" or a == "infer" and b == "export":
            up.append(f"{m} -> {t} (sibling)")
print("upward imports:", up or "none")
