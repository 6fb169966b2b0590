"""Runs the execution-engine state machine AS SYNTHESIZED, in this process.

The definition is the one CloudFormation deploys (``cdk_stacks/execution_state_machine.asl.json``,
checked against ``cdk synth`` by the infrastructure tests) and the interpreter is moto's port of
the Step Functions ASL evaluator (``moto.stepfunctions.parser``): Pass/Choice/Wait/Map, paths,
``Parameters``/``ResultPath``/``OutputPath``, intrinsic functions, ``Retry``/``Catch`` and the
256 KiB result quota behave as the service's. Used by the local platform (``./deploy.sh -e
local``), the tests and the benchmarks through :func:`run_state_machine`.

What differs from the service, and how:

- **Lambda tasks** call the real handlers (``lambda_functions.execution_engine.<module>.handler``)
  in-process instead of ``lambda:Invoke``, marshalled as the Lambda runtime does: the payload is
  ``json.loads``-ed from the bytes the interpreter sends, the return value ``json.dumps``-ed; a
  value JSON cannot carry (a ``Decimal``, a ``datetime``, a set) fails the invoke as
  ``Runtime.MarshalError`` (the Python runtime would turn a Decimal into a float: a silent
  rounding of money, refused here). An exception fails it as the runtime reports it
  (``errorType`` = the exception's class name), which ``Retry``/``Catch`` match as on AWS. The
  handler gets the caller's :class:`~shared_utils.execution.context.EngineContext` through
  :mod:`lambda_functions.execution_engine.invocation`.
- **Faults** are injected (``inject(module, payload) -> error name | None``): the handler does not
  run and the invoke fails with that error: ``Lambda.TooManyRequestsException`` as a throttled
  invoke fails (Retry/Catch see that name), anything else (``Sandbox.Timedout``, ...) as the
  runtime reports a function error.
- **Time**: ``Wait`` states and ``Retry`` intervals run on the platform clock (``ctx.clock``),
  so a test's fixed clock jumps and the local platform's offset clock sleeps in real time.
  (moto's own Wait compares a UTC timestamp with the naive local time.)
- **Sizes**: every state's input and output, every Lambda payload and result are measured
  (UTF-8 bytes of the JSON, as the service counts); a value of 256 KiB or more fails the run with
  ``States.DataLimitExceeded`` as the service would (checked when the run ends; the service
  stops at the state).
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Callable

from cdk_stacks.state_machine_asl import ACCOUNT, load_definition, module_of

#: the service's limit on a state's input/output and a task's result (bytes of UTF-8 JSON)
MAX_PAYLOAD_BYTES = 262144
#: the budget the platform keeps (half the limit, issue 14)
PAYLOAD_BUDGET_BYTES = MAX_PAYLOAD_BYTES // 2
THROTTLE_ERROR = "Lambda.TooManyRequestsException"
HANDLER_PACKAGE = "lambda_functions.execution_engine"
REGION = "ap-south-1"


class StateMachineFailed(RuntimeError):
    """The run ended FAILED (an uncaught error, or a state over the payload limit)."""

    def __init__(self, error: str | None, cause: str | None, run: "AslRun") -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause, self.run = error, cause, run


@dataclass
class Invocation:
    """One Lambda invoke the interpreter made (in order of start)."""

    module: str
    payload_bytes: int
    result_bytes: int | None = None
    error: str | None = None
    #: the payload's ``client_id`` (a PlaceOrders work item), else None
    client_id: str | None = None


@dataclass
class AslRun:
    """The outcome of one run: ``status`` SUCCEEDED or FAILED, the output (or error and cause),
    every Lambda invoke, and the byte size of every state's input/output (``sizes``:
    ``(state name, "input"|"output", bytes)``, Map iterations included)."""

    execution_id: str
    status: str = "RUNNING"
    output: Any = None
    error: str | None = None
    cause: str | None = None
    invocations: list[Invocation] = field(default_factory=list)
    sizes: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def max_state_payload_bytes(self) -> int:
        """The largest state input/output, Lambda payload or Lambda result of the run."""
        values = [size for _, _, size in self.sizes]
        values += [i.payload_bytes for i in self.invocations]
        values += [i.result_bytes for i in self.invocations if i.result_bytes is not None]
        return max(values, default=0)

    def largest(self, n: int = 5) -> list[tuple[str, str, int]]:
        """The ``n`` largest state inputs/outputs."""
        return sorted(self.sizes, key=lambda s: -s[2])[:n]


class _Runtime:
    """What the patched interpreter needs for one run: the context, the clock, the run record."""

    def __init__(self, ctx: Any, run: AslRun, inject: Callable[[str, dict], str | None] | None,
                 steps: dict[str, Callable[[dict, Any], Any]] | None = None) -> None:
        self.ctx = ctx
        self.clock = ctx.clock
        self.run = run
        self.inject = inject
        self.steps = steps or {}
        self.lock = threading.Lock()


_RUNTIMES: dict[str, _Runtime] = {}
_PATCH_LOCK = threading.Lock()
_patched = False


def _runtime_of(env) -> _Runtime | None:
    try:
        name = env.states.context_object.context_object_data["Execution"]["Name"]
    except (AttributeError, KeyError, TypeError):
        return None
    return _RUNTIMES.get(name)


def _json_bytes(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode("utf-8"))


class _LambdaContext:
    """The attributes of the Lambda runtime's context object the handlers (Powertools) read."""

    memory_limit_in_mb = 1024

    def __init__(self, module: str, deadline: _dt.datetime | None = None) -> None:
        self.function_name = module
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{module}"
        self.aws_request_id = uuid.uuid4().hex
        self.log_group_name = f"/aws/lambda/{module}"
        self.log_stream_name = "in-process"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _strict_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def invoke_handler(module: str, payload: bytes | str, ctx: Any,
                   step: Callable[[dict, Any], Any] | None = None) -> tuple[str | None, str]:
    """Run ``lambda_functions.execution_engine.<module>.handler`` as the Lambda runtime would
    (or, for a test that replaced a step, ``step(event, ctx)`` in the handler's place).

    Returns ``(function_error, payload_json)``: ``(None, result)`` on success, ``("Unhandled",
    {"errorType", "errorMessage", "stackTrace"})`` when the handler raised or returned something
    JSON cannot carry (``Runtime.MarshalError``).
    """
    from lambda_functions.execution_engine.invocation import use_context

    event = json.loads(payload)
    handler = import_module(f"{HANDLER_PACKAGE}.{module}").handler
    try:
        with use_context(ctx):
            result = step(event, ctx) if step is not None else handler(event, _LambdaContext(module))
    except Exception as exc:  # noqa: BLE001 - reported as the runtime reports it
        return "Unhandled", json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                                        "stackTrace": traceback.format_tb(exc.__traceback__)[-5:]})
    try:
        return None, json.dumps(result, default=_strict_default, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return "Unhandled", json.dumps({"errorType": "Runtime.MarshalError",
                                        "errorMessage": f"Unable to marshal response: {exc}", "stackTrace": []})


def _install_patches() -> None:
    """Point moto's interpreter at our invoker and clock, for runs registered in ``_RUNTIMES``
    only (anything else keeps moto's behaviour)."""
    global _patched
    with _PATCH_LOCK:
        if _patched:
            return
        from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
        from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
            FailureEvent,
            FailureEventException,
        )
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import MaxAttemptsOutcome
        from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import RetrierOutcome
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp, wait_function
        from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

        original_invoke = lambda_eval_utils.execute_lambda_function_integration

        def execute_lambda_function_integration(env, parameters, region, state_credentials):
            runtime = _runtime_of(env)
            if runtime is None:
                return original_invoke(env=env, parameters=parameters, region=region,
                                       state_credentials=state_credentials)
            module = module_of(parameters["FunctionName"])
            payload = parameters["Payload"]
            event = json.loads(payload)
            record = Invocation(module=module, payload_bytes=len(payload),
                                client_id=event.get("client_id") if isinstance(event, dict) else None)
            with runtime.lock:
                runtime.run.invocations.append(record)
            fault = runtime.inject(module, event) if runtime.inject is not None else None
            if fault is not None and fault != THROTTLE_ERROR:
                record.error = fault
                raise lambda_eval_utils.LambdaFunctionErrorException("Unhandled", json.dumps(
                    {"errorType": fault, "errorMessage": "injected fault: the handler did not run", "stackTrace": []}))
            if fault == THROTTLE_ERROR:
                record.error = THROTTLE_ERROR
                raise FailureEventException(FailureEvent(
                    env=env, error_name=CustomErrorName(THROTTLE_ERROR),
                    event_type=HistoryEventType.LambdaFunctionFailed,
                    event_details=EventDetails(lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(
                        error=THROTTLE_ERROR, cause="Rate Exceeded. (injected throttle: the handler did not run)")),
                ))
            function_error, body = invoke_handler(module, payload, runtime.ctx, runtime.steps.get(module))
            record.result_bytes = len(body.encode("utf-8"))
            if function_error:
                record.error = json.loads(body)["errorType"]
                raise lambda_eval_utils.LambdaFunctionErrorException(function_error, body)
            env.stack.append({"StatusCode": 200, "Payload": json.loads(body)})

        lambda_eval_utils.execute_lambda_function_integration = execute_lambda_function_integration
        # moto logs every state error (caught ones too) with the whole parsed state at ERROR; the
        # run's error and cause are in AslRun, and a caught branch error is normal operation
        import logging

        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)

        original_timestamp_body = timestamp.Timestamp._eval_body

        def timestamp_eval_body(self, env):
            runtime = _runtime_of(env)
            if runtime is None:
                return original_timestamp_body(self, env)
            self.string.eval(env=env)
            text = env.stack.pop()
            instant = self._from_timestamp_string(timestamp=text)  # truncated to the second, as the service
            if instant is None:
                raise FailureEventException(self._create_failure_event(env, text))
            runtime.clock.sleep_until(instant.replace(tzinfo=_dt.UTC))

        timestamp.Timestamp._eval_body = timestamp_eval_body

        original_wait_interval = wait_function.WaitFunction._wait_interval

        def wait_interval(self, env, wait_seconds):
            runtime = _runtime_of(env)
            if runtime is None:
                return original_wait_interval(self, env, wait_seconds)
            runtime.clock.sleep_until(runtime.clock.now() + _dt.timedelta(seconds=wait_seconds))

        wait_function.WaitFunction._wait_interval = wait_interval

        original_retrier_body = retrier_decl.RetrierDecl._eval_body

        def retrier_eval_body(self, env):
            runtime = _runtime_of(env)
            if runtime is None:
                return original_retrier_body(self, env)
            # moto's RetrierDecl._eval_body, with the interval slept on the platform clock
            self.error_equals.eval(env)
            if not env.stack.pop():
                env.stack.append(RetrierOutcome.Skipped)
                return
            self.max_attempts.eval(env=env)
            if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
                env.stack.append(RetrierOutcome.Failed)
                return
            self.interval_seconds.eval(env=env)
            self.backoff_rate.eval(env=env)
            self.max_delay_seconds.eval(env=env)
            self.jitter_strategy.eval(env=env)
            interval_seconds = env.stack.pop()
            runtime.clock.sleep_until(runtime.clock.now() + _dt.timedelta(seconds=float(interval_seconds)))
            env.stack.append(RetrierOutcome.Executed)

        retrier_decl.RetrierDecl._eval_body = retrier_eval_body
        _patched = True


def definition(max_concurrency: int | None = None) -> dict[str, Any]:
    """The deployed definition; ``max_concurrency`` replaces the Map's ``MaxConcurrency``."""
    asl = load_definition()
    if max_concurrency is not None:
        asl["States"]["PlacePerAccount"]["MaxConcurrency"] = max_concurrency
    return asl


def execute(asl: dict[str, Any], input_: Any, ctx: Any, *, execution_id: str | None = None,
            inject: Callable[[str, dict], str | None] | None = None,
            steps: dict[str, Callable[[dict, Any], Any]] | None = None) -> AslRun:
    """Run ``asl`` on ``input_`` to the end (an Express workflow: synchronous) and return the
    :class:`AslRun`. ``execution_id`` is ``$$.Execution.Id`` (default: an ARN-shaped id);
    ``inject`` injects invoke faults, ``steps`` (module -> ``fn(event, ctx)``) replaces a
    handler's step for a test (marshalled the same way)."""
    from moto.stepfunctions.parser.api import StateMachineType
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.evaluation_details import AWSExecutionDetails
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramError, ProgramStopped, ProgramTimedOut
    from moto.stepfunctions.parser.asl.eval.states import ContextObjectData, ExecutionData, StateMachineData
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    _install_patches()
    name = uuid.uuid4().hex
    machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:execution"
    execution_id = execution_id or f"arn:aws:states:{REGION}:{ACCOUNT}:express:execution:{name}"
    run = AslRun(execution_id=execution_id)
    program = AmazonStateLanguageParser.parse(json.dumps(asl))[0]
    started = ctx.clock.now().astimezone(_dt.UTC).isoformat().replace("+00:00", "Z")
    env = Environment(
        aws_execution_details=AWSExecutionDetails(account=ACCOUNT, region=REGION,
                                                  role_arn=f"arn:aws:iam::{ACCOUNT}:role/execution"),
        execution_type=StateMachineType.EXPRESS,
        context=ContextObjectData(
            Execution=ExecutionData(Id=execution_id, Input=input_, Name=name, RoleArn="", StartTime=started),
            StateMachine=StateMachineData(Id=machine_arn, Name="execution"),
        ),
        event_history_context=EventHistoryContext.of_program_start(),
        cloud_watch_logging_session=None,
        activity_store={},
    )
    _RUNTIMES[name] = _Runtime(ctx, run, inject, steps)
    try:
        program.eval(env)
    finally:
        _RUNTIMES.pop(name, None)
    run.sizes = _state_sizes(env)
    state = env.program_state()
    if isinstance(state, ProgramEnded):
        run.status, run.output = "SUCCEEDED", env.states.get_input()
    else:
        run.status = "FAILED"
        if isinstance(state, ProgramError) and state.error:
            run.error, run.cause = state.error.get("error"), state.error.get("cause")
        elif isinstance(state, ProgramTimedOut):
            run.error, run.cause = "States.Timeout", "the execution timed out"
        elif isinstance(state, ProgramStopped):
            run.error, run.cause = state.error, state.cause
    if run.status == "SUCCEEDED" and run.max_state_payload_bytes >= MAX_PAYLOAD_BYTES:
        name_, kind, size = run.largest(1)[0] if run.sizes else ("?", "?", run.max_state_payload_bytes)
        run.status, run.error = "FAILED", "States.DataLimitExceeded"
        run.cause = f"the {kind} of state {name_} is {size} bytes (limit {MAX_PAYLOAD_BYTES})"
    return run


def _state_sizes(env) -> list[tuple[str, str, int]]:
    sizes = []
    history = env.event_manager.get_event_history()
    for event in history["events"] if isinstance(history, dict) else history:
        entered = event.get("stateEnteredEventDetails")
        if entered is not None:
            sizes.append((entered["name"], "input", _json_bytes(entered.get("input", ""))))
        exited = event.get("stateExitedEventDetails")
        if exited is not None:
            sizes.append((exited["name"], "output", _json_bytes(exited.get("output", ""))))
    return sizes


def run_events(detail: dict[str, Any], ctx: Any, run_id: str | None = None, max_concurrency: int | None = None,
               inject: Callable[[str, dict], str | None] | None = None,
               steps: dict[str, Callable[[dict, Any], Any]] | None = None,
               timeout_seconds: int | None = None) -> AslRun:
    """One "Strategy Execution Due" event (``detail``, the rule's ``InputPath $.detail``) through
    the deployed definition, ``MaxConcurrency`` from ``max_concurrency`` or the environment.

    ``timeout_seconds`` replaces the definition's ``TimeoutSeconds`` (seconds of WALL time in the
    interpreter). Only for a run whose in-process AWS stand-in is far slower than AWS: moto answers
    a DynamoDB call in milliseconds where DynamoDB takes single-digit ms, so hundreds of orders in
    one process on two cores can outlast the deployed limit that AWS itself would never reach."""
    asl = definition(max_concurrency or ctx.env.settings.execution_engine.map_max_concurrency)
    if timeout_seconds is not None:
        asl["TimeoutSeconds"] = timeout_seconds
    return execute(asl, detail, ctx, execution_id=run_id, inject=inject, steps=steps)


def run_state_machine(detail: dict[str, Any], ctx: Any, run_id: str | None = None,
                      max_concurrency: int | None = None,
                      steps: dict[str, Callable[[dict, Any], Any]] | None = None) -> dict[str, Any]:
    """One "Strategy Execution Due" event, start to finish, through the synthesized ASL.

    Returns Finalize's output, or Prepare's (with ``results: []``) when nothing was claimed.
    Raises :class:`StateMachineFailed` when the run fails (error and cause of the service).
    """
    run = run_events(detail, ctx, run_id=run_id, max_concurrency=max_concurrency, steps=steps)
    if run.status != "SUCCEEDED":
        raise StateMachineFailed(run.error, run.cause, run)
    output = run.output
    if isinstance(output, dict) and "results" not in output:
        output = {**output, "results": []}
    return output
