"""Runs in a FRESH Python 3.12 interpreter (``python3.12 -S bench/_coldchild.py spec.json out.json``)
with ``PYTHONPATH`` = the staged code + the built layers + boto3, as a Lambda container would:
imports the handler, invokes it once with the event of ``spec.json`` and writes what it measured
to ``out.json``. Nothing of the repository is imported before the handler except
``shared_utils.clock`` (to give the process the platform's clock: the bench replays a trading
morning at another hour).

Modes: ``invoke`` (the handler's first invocation; the first broker send is timestamped by
wrapping every loaded broker class's ``place_order`` after the import, and the clock's
``sleep_until`` is timed so the sleep to ``execute_at`` can be taken out), ``import`` (the
import alone).

Output (times in ms): ``cpu_to_first_send_ms`` (process CPU from interpreter start to the
first send, sleep excluded), ``wall_to_first_send_ms`` (from the spawn instant given by the
parent, sleep excluded), ``sleep_ms``, ``import_cpu_ms``/``import_wall_ms``, ``first_send_at``
(the platform clock's ISO instant), ``result`` (the handler's return value).
"""

import json
import sys
import time

CPU0 = time.process_time()
WALL0 = time.time()
# Lambda's sys.path has no bench/: drop this script's directory (its modules would shadow others)
if sys.path and sys.path[0] and sys.path[0].rstrip("/").endswith("bench"):
    sys.path.pop(0)


def main() -> None:
    spec = json.load(open(sys.argv[1]))
    out_path = sys.argv[2]
    from datetime import UTC, datetime, timedelta

    import shared_utils.clock as clock_module

    offset = timedelta(seconds=spec.get("offset_s", 0.0))
    sleeps = {"wall": 0.0, "cpu": 0.0, "count": 0}

    class BenchClock:
        def now(self):
            return datetime.now(UTC) + offset

        def sleep_until(self, instant):
            w, c = time.time(), time.process_time()
            clock_module._sleep_until(self, instant)
            sleeps["wall"] += time.time() - w
            sleeps["cpu"] += time.process_time() - c
            sleeps["count"] += 1

    clock = BenchClock()
    clock_module.set_default_clock(clock)
    import importlib

    c0, w0 = time.process_time(), time.time()
    module = importlib.import_module(spec["module"])
    import_cpu, import_wall = time.process_time() - c0, time.time() - w0
    out = {"import_cpu_ms": import_cpu * 1000, "import_wall_ms": import_wall * 1000,
           "startup_cpu_ms": CPU0 * 1000, "interpreter": sys.version.split()[0],
           "pycache_prefix": sys.pycache_prefix}
    if spec.get("mode") == "live":
        # what a LIVE account adds before its first send, right after the (cold) handler import:
        # the session secret (one GetItem + one KMS Decrypt of its envelope), the broker client,
        # and the first request on a new connection to the broker (a fake Kite on 127.0.0.1)
        from botocore.client import BaseClient

        original_call = BaseClient._make_api_call
        aws = {"n": 0, "wall": 0.0}

        def make_api_call(self, operation_name, api_params):
            aws["n"] += 1
            w = time.time()
            try:
                return original_call(self, operation_name, api_params)
            finally:
                aws["wall"] += time.time() - w

        BaseClient._make_api_call = make_api_call
        from shared_utils.accounts.secrets import BrokerSecretStore
        from shared_utils.brokers import create_broker_client
        from shared_utils.config import current_environment

        c0, w0 = time.process_time(), time.time()
        secret = BrokerSecretStore(current_environment()).read(spec["secret_name"])
        c1, w1 = time.process_time(), time.time()
        client = create_broker_client(secret.broker, secret.credentials, secret.session.broker_session(),
                                      root=spec["root"], account_id="bench")
        c2, w2 = time.process_time(), time.time()
        client.order_book()  # the connection's first request
        c3, w3 = time.process_time(), time.time()
        out.update(secret_cpu_ms=(c1 - c0) * 1000, secret_wall_ms=(w1 - w0) * 1000, aws_requests=aws["n"],
                   aws_wall_ms=aws["wall"] * 1000, client_cpu_ms=(c2 - c1) * 1000, client_wall_ms=(w2 - w1) * 1000,
                   connect_cpu_ms=(c3 - c2) * 1000, connect_wall_ms=(w3 - w2) * 1000)
    if spec.get("mode") == "invoke":
        first: dict = {}

        def wrap(cls):
            send = cls.__dict__["place_order"]

            def place_order(self, *args, **kwargs):
                if not first:
                    first.update(cpu=time.process_time(), wall=time.time(), at=clock.now().isoformat(), requests=calls["n"],
                                 sleep_wall=sleeps["wall"], sleep_cpu=sleeps["cpu"])
                return send(self, *args, **kwargs)

            cls.place_order = place_order

        calls = {"n": 0, "before_send": None}
        try:  # count the AWS requests up to the first send (botocore is loaded by the handler's import)
            from botocore.client import BaseClient

            original_call = BaseClient._make_api_call

            def make_api_call(self, operation_name, api_params):
                calls["n"] += 1
                return original_call(self, operation_name, api_params)

            BaseClient._make_api_call = make_api_call
        except ImportError:
            pass

        for name, loaded in list(sys.modules.items()):
            if name.startswith("shared_utils.brokers") and loaded is not None:
                for value in list(vars(loaded).values()):
                    if isinstance(value, type) and "place_order" in value.__dict__ and value.__module__ == name:
                        wrap(value)

        class Context:
            function_name = spec.get("function_name", "place-orders")
            function_version = "$LATEST"
            invoked_function_arn = f"arn:aws:lambda:ap-south-1:000000000000:function:{function_name}"
            memory_limit_in_mb = spec.get("memory_mb", 1024)
            aws_request_id = "bench-cold"
            log_group_name = "/aws/lambda/bench"
            log_stream_name = "cold"

            def get_remaining_time_in_millis(self):
                return 60_000

        if spec.get("profile"):  # where the handler's cold CPU goes (bench.coldpath --profile)
            import cProfile
            import io
            import pstats

            profiler = cProfile.Profile(time.process_time)
            result = profiler.runcall(module.handler, spec["event"], Context())
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
            out["profile"] = text.getvalue()
        else:
            result = module.handler(spec["event"], Context())
        out["result"] = result
        out["sleep_ms"] = sleeps["wall"] * 1000
        if first:
            out["cpu_to_first_send_ms"] = (first["cpu"] - first["sleep_cpu"]) * 1000
            out["wall_to_first_send_ms"] = (first["wall"] - spec["spawned_at"] - first["sleep_wall"]) * 1000
            out["first_send_at"] = first["at"]
            out["sleep_before_first_send_ms"] = first["sleep_wall"] * 1000
            out["aws_requests_before_first_send"] = first["requests"]
        out["aws_requests"] = calls["n"]
    with open(out_path, "w") as f:
        json.dump(out, f, default=str)


main()
