"""Field-and-type comparison of a produced JSON value against an official sample."""

from __future__ import annotations

from typing import Any


def kind(value: Any) -> str:
    """JSON kind: ``number`` for int and float alike (JSON has one number type), ``null``, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _merge_rows(rows: list[Any]) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {}
    for row in rows:
        if isinstance(row, dict):
            for key, value in row.items():
                merged.setdefault(key, []).append(value)
    return merged


def shape_problems(expected: Any, actual: Any, path: str = "$", *, required: bool = True) -> list[str]:
    """Where ``actual`` departs from the sample ``expected``: a field the sample has and
    ``actual`` lacks, or a field whose JSON kind differs (a sample ``null`` accepts any kind; a
    sample with several rows accepts any kind seen in some row, and requires only the keys every
    row has). Extra fields in ``actual`` are allowed. Each problem names the field's path."""
    problems: list[str] = []
    if expected is None:
        return problems
    if kind(actual) != kind(expected):
        return [f"{path}: is {kind(actual)}, the sample has {kind(expected)} ({expected!r:.60})"]
    if isinstance(expected, dict):
        for key, value in expected.items():
            if key not in actual:
                if required:
                    problems.append(f"{path}.{key}: missing (the sample has {kind(value)} {value!r:.40})")
                continue
            problems += shape_problems(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list) and expected and actual:
        if all(isinstance(r, dict) for r in expected):
            merged = _merge_rows(expected)
            common = set.intersection(*(set(r) for r in expected))
            for index, row in enumerate(actual):
                if not isinstance(row, dict):
                    problems.append(f"{path}[{index}]: is {kind(row)}, the sample rows are objects")
                    continue
                for key, values in merged.items():
                    if key not in row:
                        if key in common:
                            problems.append(f"{path}[{index}].{key}: missing (every sample row has it)")
                        continue
                    kinds = {kind(v) for v in values}
                    if "null" in kinds or kind(row[key]) in kinds:
                        if kind(row[key]) in ("object", "array"):
                            for v in values:
                                if kind(v) == kind(row[key]):
                                    problems += shape_problems(v, row[key], f"{path}[{index}].{key}")
                                    break
                        continue
                    problems.append(f"{path}[{index}].{key}: is {kind(row[key])}, the sample has {sorted(kinds)}")
        else:
            for index, item in enumerate(actual):
                problems += shape_problems(expected[0], item, f"{path}[{index}]")
    return problems
