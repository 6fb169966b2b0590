"""Measure 5: cold start of the Lambda handlers and the size of what ships.

- Import time (ms) of every handler module that exists under ``lambda_functions/*/`` (``common``
  and ``openapi`` helpers excluded), each in a FRESH interpreter (``python -X importtime -c
  "import <module>"``), median of ``runs``. The figure is the sum of the cumulative times of the
  top-level import entries that the statement caused (the handler's package chain and the
  module; the interpreter's own start-up imports are excluded). The Lambda environment is
  imitated with the same variables the CDK construct sets (QL_ENV, POWERTOOLS_*).
- What dominates: the heaviest direct imports of the PlaceOrders handler (or, while it does not
  exist, of the execution package it will import), by cumulative time.
- Sizes (bytes): the code asset as the CDK construct stages it (``lambda_functions``,
  ``shared_utils`` and ``config`` without tests/caches: the construct's exclude globs), and the
  dependency layer estimated as the installed size in this virtualenv of every distribution in
  requirements.txt plus its requirement closure (files listed in each distribution's RECORD).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import ROOT, median

PLACE_ORDERS = "lambda_functions.execution_engine.place_orders"
FALLBACK = "shared_utils.execution.steps"
SKIP = {"__init__", "common", "openapi"}


def handler_modules() -> list[str]:
    """Every handler module that exists now (the engine's may appear later)."""
    found = []
    for package in sorted((ROOT / "lambda_functions").iterdir()):
        if package.is_dir() and (package / "__init__.py").exists():
            for module in sorted(package.glob("*.py")):
                if module.stem not in SKIP:
                    found.append(f"lambda_functions.{package.name}.{module.stem}")
    return found


def _lambda_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(ROOT), "QL_ENV": "production", "POWERTOOLS_SERVICE_NAME": "bench",
                "POWERTOOLS_METRICS_NAMESPACE": "QlAlgoTrading", "LOG_LEVEL": "INFO",
                "AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "ap-south-1",
                "QL_CONFIG_FILE": str(ROOT / "config" / "environments.json")})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def import_profile(module: str) -> tuple[float, list[tuple[str, float]]]:
    """(import ms, [(direct child, cumulative ms)]) of ``module`` in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True,
                            text=True, cwd=ROOT, env=_lambda_env(), timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"import {module} failed: {result.stderr[-800:]}")
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match.group(2)), len(match.group(3)), match.group(4)))
    # the interpreter's start-up imports come before the first entry of the statement's chain
    top = module.split(".")[0]
    start = next((i for i, (_, depth, name) in enumerate(rows) if depth == 1 and name in (top,) or
                  (depth > 1 and name == top)), 0)
    # find the first row of our chain: importtime prints children before parents, so take every
    # top-level (depth 1) row after the start-up block; start-up rows end at 'site'
    site = max((i for i, (_, depth, name) in enumerate(rows) if depth == 1 and name == "site"), default=-1)
    total_us = sum(cum for cum, depth, _ in rows[site + 1:] if depth == 1)
    children = []
    # children of the module itself: depth-2 rows right before the module's own depth-1 row
    module_row = max((i for i, (_, depth, name) in enumerate(rows) if name == module), default=None)
    if module_row is not None:
        i = module_row - 1
        while i > site and rows[i][1] > 1:
            if rows[i][1] == 3:  # importtime indents 2 spaces per level: " name", "   child"
                children.append((rows[i][2], rows[i][0] / 1000))
            i -= 1
    del start
    # plus the heaviest third-party packages wherever they were first imported
    for cum, _depth, name in rows[site + 1:]:
        if "." not in name and name not in (top, "shared_utils") and cum > 20000:
            children.append((f"(pkg) {name}", cum / 1000))
    return total_us / 1000, sorted(children, key=lambda c: -c[1])


def code_asset_bytes() -> int:
    """Bytes of the staged code asset (the construct's include/exclude rules)."""
    total = 0
    for directory in ("lambda_functions", "shared_utils", "config"):
        for path in (ROOT / directory).rglob("*"):
            parts = set(path.relative_to(ROOT).parts)
            if (path.is_file() and not parts & {"tests", "__pycache__", ".pytest_cache", "local", "bench"}
                    and not path.name.startswith("test_") and path.suffix != ".pyc"):
                total += path.stat().st_size
    return total


def _requirements(path: Path, depth: int = 0) -> list[Any]:
    """Requirement lines of ``path``, following ``-r`` includes (at most 5 deep)."""
    from packaging.requirements import Requirement

    found = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r") and depth < 5:
            found += _requirements(path.parent / line[2:].strip(), depth + 1)
        elif line and not line.startswith("-"):
            found.append(Requirement(line))
    return found


def layer_bytes(path: Path | None = None) -> tuple[int, list[tuple[str, int]]]:
    """Installed bytes of a requirements file (default requirements.txt) and its requirement
    closure in this virtualenv."""
    from importlib import metadata

    from packaging.requirements import Requirement

    wanted = _requirements(path or ROOT / "requirements.txt")
    seen: dict[str, int] = {}
    stack = list(wanted)
    while stack:
        req = stack.pop()
        name = req.name.lower().replace("_", "-")
        if name in seen:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            seen[name] = 0
            continue
        size = 0
        for file in dist.files or []:
            try:
                size += (file.size or 0) if file.size else Path(dist.locate_file(file)).stat().st_size
            except OSError:
                pass
        seen[name] = size
        for text in dist.requires or []:
            child = Requirement(text)
            extras = req.extras or set()
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in extras | {""}):
                stack.append(child)
    biggest = sorted(seen.items(), key=lambda kv: -kv[1])[:8]
    return sum(seen.values()), biggest


def run(runs: int = 3, modules: list[str] | None = None) -> dict[str, Any]:
    """Figures: ``import_<stack>_<module>_ms`` (median of ``runs``), ``place_orders_import_ms``,
    ``code_asset_mib``, ``layer_installed_mib``; "_notes" carries what dominates."""
    modules = modules if modules is not None else handler_modules()
    out: dict[str, Any] = {}
    notes: dict[str, Any] = {"modules": modules}
    for module in modules:
        times = [import_profile(module)[0] for _ in range(runs)]
        out["import_" + module.removeprefix("lambda_functions.").replace(".", "_") + "_ms"] = median(times)
    target = PLACE_ORDERS if PLACE_ORDERS in modules else FALLBACK
    times, children = [], []
    for _ in range(runs):
        ms, kids = import_profile(target)
        times.append(ms)
        children = kids
    out["place_orders_import_ms"] = median(times)
    notes["place_orders_module_measured"] = target
    notes["place_orders_heaviest_imports_ms"] = [(name, round(ms, 1)) for name, ms in children[:12]]
    out["code_asset_mib"] = code_asset_bytes() / 2**20
    layer, biggest = layer_bytes()
    out["layer_installed_mib"] = layer / 2**20
    for part in sorted((ROOT / "requirements").glob("layer-*.txt")) if (ROOT / "requirements").is_dir() else []:
        out[f"layer_{part.stem.removeprefix('layer-').replace('-', '_')}_installed_mib"] = layer_bytes(part)[0] / 2**20
    notes["layer_biggest_mib"] = [(name, round(size / 2**20, 1)) for name, size in biggest]
    out["_notes"] = notes
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=1, default=str))
