"""Which dependency layers each platform Lambda gets, and the 250 MB budget check.

Plain Python (no CDK import), so ``deploy.sh`` can run the budget check quickly:
``python -m cdk_stacks.constructs.layers --check`` prints each function's code + layers size
(unzipped) from ``build/layers/`` and exits 1 when one exceeds Lambda's limit.

Layers (``requirements/layer-<name>.txt``, built by ``deploy.sh`` into
``build/layers/<name>/python``):

* ``core``: Powertools, pydantic, requests, pyotp, PyJWT[crypto], kiteconnect (its ticker's
  twisted/autobahn come along: ``kiteconnect/__init__`` imports them), smartapi-python with the
  logzero and websocket-client it imports undeclared. Every function.
* ``science``: numpy, scipy. The functions that build the engine context
  (``shared_utils.execution.wiring.engine_context`` constructs the market simulator, which
  prices with SciPy) or import the planner/strike chooser at load (prepare, resolve, finalize).
  PlaceOrders uses the light ``placement_context`` (no SciPy) and does not get it.
* ``archive``: pyarrow. The archiver, and the executions API whose history route reads the
  Parquet archive beyond the hot window (``shared_utils.archive.reader`` imports pyarrow
  lazily, only for such a request). No other function imports pyarrow.

boto3/botocore are in no layer: the Lambda runtime provides them.

Bytecode ships (issue 14): ``deploy.sh`` compiles every layer with Python 3.12 (``compileall
--invalidation-mode unchecked-hash``: the asset zip resets mtimes, which would invalidate
timestamp pycs, and /opt is read-only, so without shipped pycs every cold start compiles), and
:func:`stage_code` copies the function code into ``build/code`` with its pycs. The code asset
uses ``build/code`` only while its manifest (a hash of the sources) matches the repository, so
a synth after an edit never ships stale code (:func:`staged_code_dir`).

The mapping is keyed by the function's short name (``PythonFunction(name=...)``, the part after
``ql-algo-trading-{env}-``). A function missing from it fails the synth: whoever adds a function
decides its layers here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYERS_DIR = REPO_ROOT / "build" / "layers"
CODE_DIR = REPO_ROOT / "build" / "code"
CODE_MANIFEST = ".sources.json"
LAYER_NAMES = ("core", "science", "archive")

#: Lambda's limit on a function's unzipped deployment package plus all its layers.
LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000  # 250 MiB

_ENGINE_CONTEXT = ("core", "science")

#: function short name -> layers, in attachment order.
FUNCTION_LAYERS: dict[str, tuple[str, ...]] = {
    # auth-broker
    "broker-accounts": ("core",),
    "broker-sessions": ("core",),
    "session-refresh": ("core",),
    "session-daily": ("core",),
    "health-check": ("core",),
    "profile": ("core",),
    # options-platform
    "api-baskets": ("core",),
    "api-strategies": ("core",),
    "api-allocations": ("core",),
    "api-executions": ("core", "archive"),
    "api-analytics": ("core", "archive"),
    "api-postbacks": ("core",),
    "api-marketplace": ("core",),  # issue 20: the same imports as api-strategies (options service, templates)
    "api-market": _ENGINE_CONTEXT,  # prices with SciPy (IV, greeks) and builds the engine context
    "api-actions": _ENGINE_CONTEXT,  # cancel/modify/close through the engine context (issue 18)
    # live updates (issue 19; cdk_stacks/constructs/websocket.py)
    "live-authorizer": ("core",),  # PyJWT[crypto]
    "live-connections": ("core",),
    "live-stream": ("core",),
    # execution-engine
    "emitter": _ENGINE_CONTEXT,
    "prepare": _ENGINE_CONTEXT,
    "pre-cancel": _ENGINE_CONTEXT,
    "resolve": _ENGINE_CONTEXT,
    "place-orders": ("core",),
    "finalize": _ENGINE_CONTEXT,
    "stop-loss-checker": _ENGINE_CONTEXT,
    "duplicate-checker": _ENGINE_CONTEXT,
    "market-data-refresher": _ENGINE_CONTEXT,
    "order-poller": _ENGINE_CONTEXT,
    "archiver": ("core", "archive"),
    # trader notifications (issue 18): pydantic, requests (Telegram), cryptography (the sealed token)
    "api-notifications": ("core",),
    "notifier": ("core",),
}

#: The directories that ship as function code (see python_function.CODE_DIRECTORIES).
CODE_DIRECTORIES = ("lambda_functions", "shared_utils", "config")
_SKIPPED_PARTS = {"tests", "__pycache__", ".pytest_cache", ".hypothesis"}


def layers_for(function_name: str) -> tuple[str, ...]:
    """The layers of ``function_name`` (short name).

    Raises:
        KeyError: the function is not in :data:`FUNCTION_LAYERS`.
    """
    try:
        return FUNCTION_LAYERS[function_name]
    except KeyError:
        raise KeyError(
            f"function {function_name!r} has no entry in cdk_stacks/constructs/layers.py FUNCTION_LAYERS: "
            f"decide which of {LAYER_NAMES} it needs"
        ) from None


def layer_dir(name: str) -> Path:
    """``build/layers/<name>`` (the layer asset root, holding ``python/``)."""
    return LAYERS_DIR / name


def layers_built() -> bool:
    """True when ``deploy.sh`` has built every layer."""
    return all((layer_dir(n) / "python").is_dir() for n in LAYER_NAMES)


def tree_bytes(root: Path, *, skip_code_noise: bool = False) -> int:
    """Sum of file sizes under ``root`` (what Lambda counts as unzipped size)."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if skip_code_noise:
            dirnames[:] = [d for d in dirnames if d not in _SKIPPED_PARTS]
        for f in filenames:
            if skip_code_noise and (f.endswith(".pyc") or f.startswith("test_")):
                continue
            total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def code_files(root: Path = REPO_ROOT) -> list[Path]:
    """The source files that ship as function code under ``root`` (the three code directories,
    no tests, caches, ``local``/``bench``), sorted, relative to ``root``."""
    found = []
    for directory in CODE_DIRECTORIES:
        for dirpath, dirnames, filenames in os.walk(root / directory):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_PARTS | {"local", "bench"})
            for f in filenames:
                if f.endswith(".pyc") or f.startswith("test_"):
                    continue
                found.append((Path(dirpath) / f).relative_to(root))
    return sorted(found)


def sources_digest(root: Path = REPO_ROOT) -> str:
    """sha256 over the shipped source files' paths and contents (the staged code's manifest)."""
    digest = hashlib.sha256()
    for rel in code_files(root):
        digest.update(str(rel).encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    return digest.hexdigest()


def stage_code(python: str, target: Path | None = None, root: Path = REPO_ROOT) -> int:
    """Copy the function code into ``target`` and compile it with ``python`` (must be the
    runtime's 3.12) to unchecked-hash pycs; write the manifest. Returns the staged bytes.

    Raises:
        subprocess.CalledProcessError: a shipped module does not compile (a syntax error).
    """
    target = target or CODE_DIR
    if target.exists():
        shutil.rmtree(target)
    for rel in code_files(root):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target / rel)
    subprocess.run([python, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash",
                    *[str(target / d) for d in CODE_DIRECTORIES if (target / d).exists()]], check=True)
    version = subprocess.run([python, "-c", "import sys; print(sys.implementation.cache_tag)"], check=True,
                             capture_output=True, text=True).stdout.strip()
    (target / CODE_MANIFEST).write_text(json.dumps({"sources_sha256": sources_digest(root), "cache_tag": version}))
    return tree_bytes(target)


def staged_code_dir(root: Path = REPO_ROOT, target: Path | None = None) -> Path | None:
    """``build/code`` when it was staged from exactly the current sources (with Python 3.12
    bytecode), else None (the asset then ships the sources from the repository root)."""
    target = target or CODE_DIR
    manifest = target / CODE_MANIFEST
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text())
    except ValueError:
        return None
    if data.get("cache_tag") != "cpython-312" or data.get("sources_sha256") != sources_digest(root):
        return None
    return target


def code_bytes() -> int:
    """Unzipped size of the function code asset: the staged ``build/code`` (sources + pycs)
    when current, else the three code directories without tests/caches."""
    staged = staged_code_dir()
    if staged is not None:
        return tree_bytes(staged) - (staged / CODE_MANIFEST).stat().st_size
    return sum(tree_bytes(REPO_ROOT / d, skip_code_noise=True) for d in CODE_DIRECTORIES)


def budget() -> list[tuple[str, tuple[str, ...], int]]:
    """``(function, layers, total bytes)`` for every function, from the built layers."""
    sizes = {n: tree_bytes(layer_dir(n)) for n in LAYER_NAMES}
    code = code_bytes()
    return [(fn, layers, code + sum(sizes[n] for n in layers)) for fn, layers in FUNCTION_LAYERS.items()]


def _mb(n: int) -> str:
    return f"{n / 1_048_576:7.1f} MB"


def main(argv: list[str] | None = None) -> int:
    """Print layer and per-function sizes; with ``--check`` exit 1 over the limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a function exceeds 250 MB unzipped")
    parser.add_argument("--stage-code", action="store_true", help="stage build/code with Python 3.12 bytecode")
    parser.add_argument("--python", default="python3.12", help="the Python 3.12 that compiles (with --stage-code)")
    args = parser.parse_args(argv)
    if args.stage_code:
        size = stage_code(args.python)
        print(f">>   code (staged, with bytecode) {_mb(size)}")
        return 0
    if not layers_built():
        print(f"build/layers is incomplete (need {', '.join(LAYER_NAMES)}): run ./deploy.sh -e dev --synth-only", file=sys.stderr)
        return 2
    for n in LAYER_NAMES:
        print(f">>   layer {n:<8} {_mb(tree_bytes(layer_dir(n)))}")
    print(f">>   code           {_mb(code_bytes())}")
    over = []
    for fn, layers, total in budget():
        flag = "OVER" if total > LAMBDA_UNZIPPED_LIMIT_BYTES else "ok"
        print(f">>   {fn:<22} {_mb(total)}  {'+'.join(layers):<14} {flag}")
        if total > LAMBDA_UNZIPPED_LIMIT_BYTES:
            over.append(fn)
    if over and args.check:
        print(f"over Lambda's 250 MB unzipped limit: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
