"""An in-memory DynamoDB low-level client for the chaos harness: the same request and answer
shapes as ``boto3.client("dynamodb")`` (wire-format attribute values), for the operations the
platform's ``DynamoTable`` and repositories use, ~100x cheaper per call than moto (moto 5.2
costs ~7 ms a call; a chaos day makes ~800 calls).

Covered: create/delete/list/describe table; put/get/delete/update item with
ConditionExpression (comparisons, AND/OR/NOT, parentheses, BETWEEN, IN, attribute_exists,
attribute_not_exists, begins_with, contains, size) and UpdateExpression (SET with ``+``/``-``,
if_not_exists, list_append; REMOVE; ADD; DELETE); query on the table or a GSI (key condition,
FilterExpression, Limit, ExclusiveStartKey, ScanIndexForward, INCLUDE / KEYS_ONLY projections);
scan; batch_get/batch_write; transact_write/transact_get. Errors are botocore ``ClientError``s
with DynamoDB's codes (ConditionalCheckFailedException, TransactionCanceledException with
CancellationReasons, ResourceNotFoundException, ValidationException).

Its fidelity is checked against moto: ``python -m tests.chaos.run --store moto`` replays the
same seeds through moto, and ``tests/chaos/test_memory_dynamo.py`` runs the same operations on
both and compares the answers.
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError


def _error(code: str, message: str, operation: str, **extra: Any) -> ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    response.update(extra)
    cls = getattr(Exceptions, code, ClientError)
    return cls(response, operation)


class Exceptions:
    """``client.exceptions``: ClientError subclasses named like botocore's."""

    class ConditionalCheckFailedException(ClientError):
        pass

    class TransactionCanceledException(ClientError):
        pass

    class ResourceNotFoundException(ClientError):
        pass

    class ResourceInUseException(ClientError):
        pass

    class ValidationException(ClientError):
        pass

    ClientError = ClientError


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _plain(wire: dict[str, Any]) -> Any:
    """Wire value -> comparable Python value (N -> Decimal)."""
    (kind, value), = wire.items()
    if kind == "N":
        return Decimal(value)
    if kind in ("S", "B", "BOOL"):
        return value
    if kind == "NULL":
        return None
    if kind == "NS":
        return frozenset(Decimal(v) for v in value)
    if kind in ("SS", "BS"):
        return frozenset(value)
    if kind == "L":
        return tuple(_plain(v) for v in value)
    if kind == "M":
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    raise ValueError(kind)


# ============================================================================ expressions

_TOKEN = re.compile(r"\s*(<>|<=|>=|[=<>(),.+\-\[\]]|:[A-Za-z0-9_]+|#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|\d+)")
_KEYWORDS = {"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"}


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"cannot parse expression at {text[pos:]!r}")
        out.append(match.group(1))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, names: dict[str, str] | None, values: dict[str, Any] | None) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.names = names or {}
        self.values = values or {}

    def peek(self, k: int = 0) -> str | None:
        return self.toks[self.i + k] if self.i + k < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok.upper() != expected):
            raise ValueError(f"expected {expected}, found {tok}")
        self.i += 1
        return tok

    # paths: name(.name | [n])*
    def path(self) -> tuple:
        parts: list[Any] = [self._name(self.take())]
        while self.peek() in (".", "["):
            if self.take() == ".":
                parts.append(self._name(self.take()))
            else:
                parts.append(int(self.take()))
                self.take("]")
        return ("path", tuple(parts))

    def _name(self, tok: str) -> str:
        return self.names[tok] if tok.startswith("#") else tok

    def operand(self) -> tuple:
        tok = self.peek()
        if tok.startswith(":"):
            self.i += 1
            return ("value", self.values[tok])
        if self.peek(1) == "(" and tok.lower() in ("size", "if_not_exists", "list_append"):
            name = self.take().lower()
            self.take("(")
            args = [self.operand()]
            while self.peek() == ",":
                self.take(",")
                args.append(self.operand())
            self.take(")")
            return ("fn", name, args)
        return self.path()

    # conditions
    def condition(self) -> tuple:
        left = self.conj()
        while self.peek() and self.peek().upper() == "OR":
            self.take()
            left = ("or", left, self.conj())
        return left

    def conj(self) -> tuple:
        left = self.neg()
        while self.peek() and self.peek().upper() == "AND":
            self.take()
            left = ("and", left, self.neg())
        return left

    def neg(self) -> tuple:
        if self.peek() and self.peek().upper() == "NOT":
            self.take()
            return ("not", self.neg())
        return self.primary()

    def primary(self) -> tuple:
        if self.peek() == "(":
            self.take("(")
            inner = self.condition()
            self.take(")")
            return inner
        tok = self.peek()
        if self.peek(1) == "(" and tok.lower() in ("attribute_exists", "attribute_not_exists", "begins_with",
                                                    "contains", "attribute_type"):
            name = self.take().lower()
            self.take("(")
            args = [self.operand()]
            while self.peek() == ",":
                self.take(",")
                args.append(self.operand())
            self.take(")")
            return ("cond_fn", name, args)
        left = self.operand()
        op = self.take()
        if op.upper() == "BETWEEN":
            low = self.operand()
            self.take("AND")
            return ("between", left, low, self.operand())
        if op.upper() == "IN":
            self.take("(")
            options = [self.operand()]
            while self.peek() == ",":
                self.take(",")
                options.append(self.operand())
            self.take(")")
            return ("in", left, options)
        return ("cmp", op, left, self.operand())


def _resolve(item: dict[str, Any], path: tuple) -> Any | None:
    current: Any = {"M": item}
    for part in path:
        if isinstance(part, int):
            if "L" not in current or part >= len(current["L"]):
                return None
            current = current["L"][part]
        else:
            if "M" not in current or part not in current["M"]:
                return None
            current = current["M"][part]
    return current


def _value(item: dict[str, Any], node: tuple) -> Any | None:
    """An operand's wire value (None when the path is absent)."""
    if node[0] == "value":
        return node[1]
    if node[0] == "path":
        return _resolve(item, node[1])
    name, args = node[1], node[2]
    if name == "size":
        wire = _value(item, args[0])
        if wire is None:
            return None
        (kind, v), = wire.items()
        return {"N": str(len(v.encode() if kind == "S" else v))}
    if name == "if_not_exists":
        found = _value(item, args[0])
        return found if found is not None else _value(item, args[1])
    if name == "list_append":
        a, b = _value(item, args[0]), _value(item, args[1])
        return {"L": (a or {"L": []})["L"] + (b or {"L": []})["L"]}
    raise ValueError(name)


def _compare(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return op == "<>" and (a is None) != (b is None)
    ka, kb = next(iter(a)), next(iter(b))
    if op in ("=", "<>"):
        equal = ka == kb and _plain(a) == _plain(b)
        return equal if op == "=" else not equal
    if ka != kb or ka not in ("N", "S", "B"):
        return False
    x, y = _plain(a), _plain(b)
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _holds(item: dict[str, Any], node: tuple) -> bool:
    kind = node[0]
    if kind == "or":
        return _holds(item, node[1]) or _holds(item, node[2])
    if kind == "and":
        return _holds(item, node[1]) and _holds(item, node[2])
    if kind == "not":
        return not _holds(item, node[1])
    if kind == "cmp":
        return _compare(node[1], _value(item, node[2]), _value(item, node[3]))
    if kind == "between":
        v = _value(item, node[1])
        return _compare(">=", v, _value(item, node[2])) and _compare("<=", v, _value(item, node[3]))
    if kind == "in":
        v = _value(item, node[1])
        return any(_compare("=", v, _value(item, o)) for o in node[2])
    name, args = node[1], node[2]
    if name == "attribute_exists":
        return _value(item, args[0]) is not None
    if name == "attribute_not_exists":
        return _value(item, args[0]) is None
    if name == "begins_with":
        v, prefix = _value(item, args[0]), _value(item, args[1])
        return v is not None and "S" in v and v["S"].startswith(prefix["S"])
    if name == "contains":
        v, needle = _value(item, args[0]), _value(item, args[1])
        if v is None:
            return False
        (k, raw), = v.items()
        if k == "S":
            return needle.get("S", "\0") in raw
        if k in ("SS", "NS", "BS"):
            return next(iter(needle.values())) in raw
        if k == "L":
            return any(_compare("=", e, needle) for e in raw)
        return False
    if name == "attribute_type":
        v = _value(item, args[0])
        return v is not None and next(iter(v)) == _value(item, args[1])["S"]
    raise ValueError(name)


def condition_holds(item: dict[str, Any] | None, expression: str | None, names: dict | None, values: dict | None) -> bool:
    """Raises ValueError for an expression that does not parse to its end (DynamoDB answers
    ValidationException "Invalid ConditionExpression: Syntax error"), never a silent False."""
    if not expression:
        return True
    parser = _Parser(expression, names, values)
    tree = parser.condition()
    if parser.peek() is not None:
        raise ValueError(f"syntax error at token {parser.peek()!r} in {expression!r}")
    return _holds(item or {}, tree)


def _set_path(item: dict[str, Any], path: tuple, value: Any) -> None:
    target = item
    for part in path[:-1]:
        node = target[part] if isinstance(target, list) else target.get(part)
        if node is None:
            raise ValueError(f"document path {path} does not exist")
        target = node["L"] if "L" in node else node["M"]
    last = path[-1]
    if isinstance(target, list):
        if last < len(target):
            target[last] = value
        else:
            target.append(value)
    else:
        target[last] = value


def _remove_path(item: dict[str, Any], path: tuple) -> None:
    target: Any = item
    for part in path[:-1]:
        node = target[part] if isinstance(target, list) else target.get(part)
        if node is None:
            return
        target = node["L"] if "L" in node else node["M"]
    last = path[-1]
    if isinstance(target, list):
        if last < len(target):
            del target[last]
    else:
        target.pop(last, None)


def apply_update(item: dict[str, Any], expression: str, names: dict | None, values: dict | None) -> None:
    """Apply an UpdateExpression to ``item`` (wire format, in place)."""
    parser = _Parser(expression, names, values)
    clause = None
    while parser.peek() is not None:
        tok = parser.peek()
        if tok.upper() in ("SET", "REMOVE", "ADD", "DELETE") and (clause is None or parser.toks[parser.i - 1] != ","):
            clause = parser.take().upper()
            continue
        if tok == ",":
            parser.take()
            continue
        path = parser.path()[1]
        if clause == "SET":
            parser.take("=")
            left = parser.operand()
            wire = _value(item, left)
            if parser.peek() in ("+", "-"):
                op = parser.take()
                right = _value(item, parser.operand())
                a, b = Decimal(wire["N"]), Decimal(right["N"])
                wire = {"N": str(a + b if op == "+" else a - b)}
            _set_path(item, path, _copy(wire))
        elif clause == "REMOVE":
            _remove_path(item, path)
        elif clause == "ADD":
            add = _value(item, parser.operand())
            current = _resolve(item, path)
            if "N" in add:
                total = Decimal(current["N"]) if current else Decimal(0)
                _set_path(item, path, {"N": str(total + Decimal(add["N"]))})
            else:
                kind = next(iter(add))
                merged = list(dict.fromkeys((current or {kind: []})[kind] + add[kind]))
                _set_path(item, path, {kind: merged})
        elif clause == "DELETE":
            remove = _value(item, parser.operand())
            current = _resolve(item, path)
            if current:
                kind = next(iter(remove))
                left = [v for v in current[kind] if v not in remove[kind]]
                if left:
                    _set_path(item, path, {kind: left})
                else:
                    _remove_path(item, path)
        else:
            raise ValueError(f"update expression without a clause: {expression}")


# ============================================================================ tables

class _Table:
    def __init__(self, request: dict[str, Any]) -> None:
        self.name = request["TableName"]
        schema = {k["KeyType"]: k["AttributeName"] for k in request["KeySchema"]}
        self.pk, self.sk = schema["HASH"], schema.get("RANGE")
        self.indexes: dict[str, dict[str, Any]] = {}
        for gsi in request.get("GlobalSecondaryIndexes", []) + request.get("LocalSecondaryIndexes", []):
            keys = {k["KeyType"]: k["AttributeName"] for k in gsi["KeySchema"]}
            self.indexes[gsi["IndexName"]] = {"pk": keys["HASH"], "sk": keys.get("RANGE"),
                                              "projection": gsi.get("Projection", {"ProjectionType": "ALL"})}
        self.items: dict[tuple, dict[str, Any]] = {}
        self.request = request

    def key_of(self, item_or_key: dict[str, Any]) -> tuple:
        try:
            pk = _plain(item_or_key[self.pk])
            sk = _plain(item_or_key[self.sk]) if self.sk else None
        except KeyError as exc:
            raise _error("ValidationException", f"missing key attribute {exc}", "Key") from None
        return (pk, sk)

    def key_attrs(self, item: dict[str, Any], index: str | None = None) -> dict[str, Any]:
        names = [self.pk] + ([self.sk] if self.sk else [])
        if index:
            spec = self.indexes[index]
            names += [spec["pk"]] + ([spec["sk"]] if spec["sk"] else [])
        return {n: _copy(item[n]) for n in dict.fromkeys(names) if n in item}

    def project(self, item: dict[str, Any], index: str | None) -> dict[str, Any]:
        if index is None:
            return _copy(item)
        projection = self.indexes[index]["projection"]
        kind = projection.get("ProjectionType", "ALL")
        if kind == "ALL":
            return _copy(item)
        keep = self.key_attrs(item, index)
        if kind == "INCLUDE":
            for name in projection.get("NonKeyAttributes", []):
                if name in item:
                    keep[name] = _copy(item[name])
        return keep


class MemoryDynamoDB:
    """The low-level client. Thread-safe (one lock): the runner's Map runs PlaceOrders in
    threads."""

    exceptions = Exceptions

    def __init__(self) -> None:
        self.tables: dict[str, _Table] = {}
        self._lock = threading.RLock()
        self.calls = 0
        self.meta = type("Meta", (), {"region_name": "ap-south-1"})()

    # -- tables -------------------------------------------------------------------------------
    def create_table(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            if request["TableName"] in self.tables:
                raise _error("ResourceInUseException", f"Table already exists: {request['TableName']}", "CreateTable")
            self.tables[request["TableName"]] = _Table(request)
            return {"TableDescription": {"TableName": request["TableName"], "TableStatus": "ACTIVE"}}

    def delete_table(self, TableName: str) -> dict[str, Any]:
        with self._lock:
            self._table(TableName, "DeleteTable")
            del self.tables[TableName]
            return {"TableDescription": {"TableName": TableName, "TableStatus": "DELETING"}}

    def list_tables(self, **_: Any) -> dict[str, Any]:
        return {"TableNames": sorted(self.tables)}

    def describe_table(self, TableName: str) -> dict[str, Any]:
        table = self._table(TableName, "DescribeTable")
        return {"Table": {"TableName": TableName, "TableStatus": "ACTIVE", "ItemCount": len(table.items),
                          "KeySchema": table.request["KeySchema"]}}

    def get_waiter(self, name: str) -> Any:
        return type("Waiter", (), {"wait": lambda self, **k: None})()

    def _table(self, name: str, operation: str) -> _Table:
        table = self.tables.get(name)
        if table is None:
            raise _error("ResourceNotFoundException", f"Requested resource not found: Table: {name} not found", operation)
        return table

    # -- items --------------------------------------------------------------------------------
    def _check(self, current: dict | None, request: dict[str, Any], operation: str) -> None:
        try:
            holds = condition_holds(current, request.get("ConditionExpression"), request.get("ExpressionAttributeNames"),
                                    request.get("ExpressionAttributeValues"))
        except ValueError as exc:
            raise _error("ValidationException", f"Invalid ConditionExpression: Syntax error; {exc}", operation) from exc
        if not holds:
            extra = {}
            if request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                extra["Item"] = _copy(current)
            raise _error("ConditionalCheckFailedException", "The conditional request failed", operation, **extra)

    def put_item(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            table = self._table(request["TableName"], "PutItem")
            key = table.key_of(request["Item"])
            current = table.items.get(key)
            self._check(current, request, "PutItem")
            table.items[key] = _copy(request["Item"])
            out: dict[str, Any] = {}
            if request.get("ReturnValues") == "ALL_OLD" and current:
                out["Attributes"] = current
            return out

    def get_item(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            table = self._table(request["TableName"], "GetItem")
            item = table.items.get(table.key_of(request["Key"]))
            return {"Item": _copy(item)} if item is not None else {}

    def delete_item(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            table = self._table(request["TableName"], "DeleteItem")
            key = table.key_of(request["Key"])
            current = table.items.get(key)
            self._check(current, request, "DeleteItem")
            table.items.pop(key, None)
            out: dict[str, Any] = {}
            if request.get("ReturnValues") == "ALL_OLD" and current:
                out["Attributes"] = current
            return out

    def update_item(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            table = self._table(request["TableName"], "UpdateItem")
            key = table.key_of(request["Key"])
            current = table.items.get(key)
            self._check(current, request, "UpdateItem")
            new = _copy(current) if current is not None else _copy(request["Key"])
            if request.get("UpdateExpression"):
                apply_update(new, request["UpdateExpression"], request.get("ExpressionAttributeNames"),
                             request.get("ExpressionAttributeValues"))
            table.items[key] = new
            mode = request.get("ReturnValues", "NONE")
            if mode in ("ALL_NEW", "UPDATED_NEW"):
                return {"Attributes": _copy(new)}
            if mode in ("ALL_OLD", "UPDATED_OLD") and current:
                return {"Attributes": _copy(current)}
            return {}

    # -- reads --------------------------------------------------------------------------------
    def query(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            table = self._table(request["TableName"], "Query")
            index = request.get("IndexName")
            names, values = request.get("ExpressionAttributeNames"), request.get("ExpressionAttributeValues")
            key_condition = _Parser(request["KeyConditionExpression"], names, values).condition()
            pk_name = table.indexes[index]["pk"] if index else table.pk
            sk_name = table.indexes[index]["sk"] if index else table.sk
            pk_value = _pk_value(key_condition, pk_name)
            matches = [item for item in table.items.values()
                       if pk_name in item and _compare("=", item[pk_name], pk_value) and _holds(item, key_condition)
                       and (sk_name is None or sk_name in item)]
            if sk_name:
                matches.sort(key=lambda i: (_plain(i[sk_name]), table.key_of(i)))
            if request.get("ScanIndexForward") is False:
                matches.reverse()
            return self._page(table, matches, request, index)

    def scan(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            table = self._table(request["TableName"], "Scan")
            index = request.get("IndexName")
            matches = list(table.items.values())
            if index:
                matches = [i for i in matches if table.indexes[index]["pk"] in i]
            return self._page(table, matches, request, index)

    def _page(self, table: _Table, matches: list[dict[str, Any]], request: dict[str, Any],
              index: str | None) -> dict[str, Any]:
        start = request.get("ExclusiveStartKey")
        if start:
            wanted = table.key_of(start)
            for position, item in enumerate(matches):
                if table.key_of(item) == wanted:
                    matches = matches[position + 1:]
                    break
        limit = request.get("Limit")
        last = None
        if limit and len(matches) > limit:
            matches = matches[:limit]
            last = table.key_attrs(matches[-1], index)
        scanned = len(matches)
        if request.get("FilterExpression"):
            matches = [i for i in matches if condition_holds(i, request["FilterExpression"],
                                                             request.get("ExpressionAttributeNames"),
                                                             request.get("ExpressionAttributeValues"))]
        out: dict[str, Any] = {"Count": len(matches), "ScannedCount": scanned}
        if request.get("Select") != "COUNT":
            out["Items"] = [table.project(i, index) for i in matches]
        if last is not None:
            out["LastEvaluatedKey"] = last
        return out

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            responses: dict[str, list[Any]] = {}
            for name, spec in RequestItems.items():
                table = self._table(name, "BatchGetItem")
                found = responses.setdefault(name, [])
                for key in spec["Keys"]:
                    item = table.items.get(table.key_of(key))
                    if item is not None:
                        found.append(_copy(item))
            return {"Responses": responses, "UnprocessedKeys": {}}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            for name, requests in RequestItems.items():
                table = self._table(name, "BatchWriteItem")
                for req in requests:
                    if "PutRequest" in req:
                        item = req["PutRequest"]["Item"]
                        table.items[table.key_of(item)] = _copy(item)
                    else:
                        table.items.pop(table.key_of(req["DeleteRequest"]["Key"]), None)
            return {"UnprocessedItems": {}}

    def transact_get_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            out = []
            for op in TransactItems:
                get = op["Get"]
                table = self._table(get["TableName"], "TransactGetItems")
                item = table.items.get(table.key_of(get["Key"]))
                out.append({"Item": _copy(item)} if item is not None else {})
            return {"Responses": out}

    def transact_write_items(self, TransactItems: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            reasons, plans = [], []
            seen = set()
            for op in TransactItems:
                (kind, spec), = op.items()
                table = self._table(spec["TableName"], "TransactWriteItems")
                key = table.key_of(spec["Item"] if kind == "Put" else spec["Key"])
                if (table.name, key) in seen:
                    raise _error("ValidationException", "Transaction request cannot include multiple operations "
                                 "on one item", "TransactWriteItems")
                seen.add((table.name, key))
                current = table.items.get(key)
                ok = condition_holds(current, spec.get("ConditionExpression"), spec.get("ExpressionAttributeNames"),
                                     spec.get("ExpressionAttributeValues"))
                reasons.append({"Code": "None"} if ok else {"Code": "ConditionalCheckFailed",
                                                             "Message": "The conditional request failed"})
                plans.append((kind, spec, table, key, current))
            if any(r["Code"] != "None" for r in reasons):
                raise _error("TransactionCanceledException",
                             "Transaction cancelled, please refer cancellation reasons for specific reasons "
                             f"[{', '.join(r['Code'] for r in reasons)}]", "TransactWriteItems",
                             CancellationReasons=reasons)
            for kind, spec, table, key, current in plans:
                if kind == "Put":
                    table.items[key] = _copy(spec["Item"])
                elif kind == "Delete":
                    table.items.pop(key, None)
                elif kind == "Update":
                    new = _copy(current) if current is not None else _copy(spec["Key"])
                    apply_update(new, spec["UpdateExpression"], spec.get("ExpressionAttributeNames"),
                                 spec.get("ExpressionAttributeValues"))
                    table.items[key] = new
            return {}


def _pk_value(node: tuple, pk_name: str) -> Any:
    """The value the key condition compares the partition key to."""
    if node[0] == "and":
        found = _pk_value(node[1], pk_name)
        return found if found is not None else _pk_value(node[2], pk_name)
    if node[0] == "cmp" and node[1] == "=" and node[2][0] == "path" and node[2][1] == (pk_name,):
        return node[3][1]
    return None
