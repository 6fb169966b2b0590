"""The type check of ``make test``: mypy with a ratchet.

``python scripts/typecheck.py`` runs mypy (``mypy.ini``) over our packages and compares its
errors with ``mypy-baseline.txt``: each error is normalised to ``path: message  [code]`` (line
numbers dropped, so unrelated edits do not churn the list) and counted. Exit 1 when an error is
new (more of a kind than listed), or when a listed one is gone (the list must shrink with the
code: ``--update`` rewrites it); exit 0 otherwise. Exit 2 when mypy itself fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "mypy-baseline.txt"
TARGETS = ["shared_utils", "lambda_functions", "local", "cdk_stacks", "bench"]
_ERROR = re.compile(r"^(?P<path>[^:]+):\d+(?::\d+)?: error: (?P<rest>.*)$")
#: a parenthesised list of quoted names, which mypy prints in set order (e.g. TypedDict keys)
_NAMES = re.compile(r'\(("[^"]+"(?:, "[^"]+")+)\)')


def _normalise(message: str) -> str:
    """The message with any set-ordered name list sorted, so a run's order does not matter."""
    return _NAMES.sub(lambda m: "(" + ", ".join(sorted(m.group(1).split(", "))) + ")", message)


def current_errors() -> Counter[str]:
    """Run mypy; ``Counter`` of normalised error lines. Raises SystemExit(2) if mypy crashed."""
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "mypy.ini"), *TARGETS],
                            capture_output=True, text=True, cwd=ROOT)
    if result.returncode not in (0, 1) or "error: " not in result.stdout and result.returncode == 1:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(2)
    errors: Counter[str] = Counter()
    for line in result.stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            errors[f"{match['path']}: {_normalise(match['rest'])}"] += 1
    return errors


def read_baseline() -> Counter[str]:
    if not BASELINE.exists():
        return Counter()
    return Counter(line for line in BASELINE.read_text().splitlines() if line and not line.startswith("#"))


def main(argv: list[str]) -> int:
    errors = current_errors()
    if "--update" in argv:
        header = "# known mypy errors (scripts/typecheck.py --update); new ones fail `make typecheck`\n"
        BASELINE.write_text(header + "".join(f"{e}\n" for e in sorted(errors.elements())))
        print(f"mypy-baseline.txt: {sum(errors.values())} known errors")
        return 0
    known = read_baseline()
    new, gone = errors - known, known - errors
    for line in sorted(new.elements()):
        print(f"NEW   {line}")
    for line in sorted(gone.elements()):
        print(f"FIXED {line}  (remove it: python scripts/typecheck.py --update)")
    print(f"mypy: {sum(errors.values())} errors, {sum(known.values())} known, {sum(new.values())} new, "
          f"{sum(gone.values())} fixed")
    return 1 if new or gone else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
