"""Lambda packaging without Docker, shared by the three stacks.

* :class:`LambdaPackage` (one per stack) holds the code asset and the dependency layers:

  - code: the repository root filtered down to ``lambda_functions/``, ``shared_utils/`` and
    ``config/`` (tests, caches, ``.venv``, ``node_modules``, ``cdk.out``, ``local/`` and
    ``bench/`` never ship). CDK stages the filtered copy into the cloud assembly and hashes it,
    so an unchanged tree is not re-uploaded. Handlers are ``lambda_functions/<stack>/<module>.handler``
    and import ``shared_utils`` and read ``config/environments.json`` exactly as in the repo.
    When ``deploy.sh`` has staged ``build/code`` from the current sources (the same files plus
    their Python 3.12 bytecode, see :func:`cdk_stacks.constructs.layers.stage_code`), that
    directory is the asset instead: a cold start then loads pycs rather than compiling.
  - layers: one per purpose (``core``, ``science``, ``archive``; see
    :mod:`cdk_stacks.constructs.layers` for their contents and the function -> layers mapping),
    from ``build/layers/<name>/`` when ``deploy.sh`` has built them (``pip install --platform
    manylinux2014_x86_64 --python-version 3.12 --only-binary=:all: -t
    build/layers/<name>/python -r requirements/layer-<name>.txt``), otherwise the near-empty
    ``layer_placeholder/`` directory next to this module so ``cdk synth`` and the
    infrastructure tests work with no Docker, no network and no pip run. A stack creates only
    the layers its functions use. Deploy only through ``deploy.sh`` (a placeholder layer
    cannot import pydantic or the broker SDKs).

* :class:`PythonFunction` is every Lambda of the platform: Python 3.12 on x86_64 (the layer is
  built for ``manylinux2014_x86_64``; binary wheels for numpy/scipy/pyarrow must match the
  architecture), its own log group with retention by environment, X-Ray tracing active,
  Powertools environment (``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``,
  ``LOG_LEVEL``), ``QL_ENV``, and a dedicated role that starts with nothing but writing its own
  logs (no AWS managed policies): every other permission is granted by the stack, resource by
  resource.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, IgnoreMode, RemovalPolicy, TimeZone
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_stacks.constructs.layers import layer_dir, layers_for, staged_code_dir
from cdk_stacks.nag import acknowledge
from shared_utils.config import EnvironmentConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER_LAYER_DIR = Path(__file__).resolve().parent / "layer_placeholder"

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64

#: Only these top-level directories ship in the function code.
CODE_DIRECTORIES = ("lambda_functions", "shared_utils", "config")

#: Glob patterns (CDK ``IgnoreMode.GLOB``) applied to the repository root: exclude everything,
#: re-include the three code directories, then drop tests and caches inside them.
CODE_EXCLUDES = (
    ["*", ".*"]
    + [p for d in CODE_DIRECTORIES for p in (f"!{d}", f"!{d}/**")]
    + [
        "**/tests",
        "**/tests/**",
        "**/test_*.py",
        "**/__pycache__",
        "**/__pycache__/**",
        "**/*.pyc",
        "**/.pytest_cache",
        "**/.hypothesis",
        "**/.venv",
        "**/node_modules",
        "**/cdk.out",
        "**/local",
        "**/bench",
    ]
)

POWERTOOLS_NAMESPACE = "QlAlgoTrading"


def layer_source_dir(name: str) -> Path:
    """``build/layers/<name>`` when ``deploy.sh`` has built it, else the synth-only placeholder."""
    built = layer_dir(name)
    return built if (built / "python").is_dir() else PLACEHOLDER_LAYER_DIR


class LambdaPackage(Construct):
    """The code asset and the dependency layers shared by the functions of one stack."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        staged = staged_code_dir()
        #: True when the code asset is ``build/code`` (sources + Python 3.12 bytecode)
        self.code_has_bytecode = staged is not None
        if staged is not None:
            # build/code holds only the shipped files and their __pycache__ (deploy.sh stages it)
            self.code = lambda_.Code.from_asset(str(staged), exclude=[".sources.json"], ignore_mode=IgnoreMode.GLOB)
        else:
            self.code = lambda_.Code.from_asset(
                str(REPO_ROOT), exclude=CODE_EXCLUDES, ignore_mode=IgnoreMode.GLOB
            )
        self._layers: dict[str, lambda_.LayerVersion] = {}
        self.placeholder_layers: set[str] = set()

    def layer(self, name: str) -> lambda_.LayerVersion:
        """The stack's ``name`` layer (created on first use)."""
        if name not in self._layers:
            source = layer_source_dir(name)
            placeholder = source == PLACEHOLDER_LAYER_DIR
            if placeholder:
                self.placeholder_layers.add(name)
            self._layers[name] = lambda_.LayerVersion(
                self,
                f"Layer{name.capitalize()}",
                code=lambda_.Code.from_asset(str(source)),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
                description=(
                    f"{name}: requirements/layer-{name}.txt for Python 3.12 x86_64"
                    + (" (PLACEHOLDER: build/layers missing, run deploy.sh)" if placeholder else "")
                ),
                removal_policy=RemovalPolicy.RETAIN if self.config.retain else RemovalPolicy.DESTROY,
            )
        return self._layers[name]

    def layers_for(self, function_name: str) -> list[lambda_.ILayerVersion]:
        """The layers of a function (short name), per :data:`cdk_stacks.constructs.layers.FUNCTION_LAYERS`."""
        return [self.layer(n) for n in layers_for(function_name)]


class PythonFunction(Construct):
    """One platform Lambda (see the module docstring for what every function gets).

    Args:
        name: kebab-case short name; the function is ``ql-algo-trading-{env}-{name}``.
        handler: ``lambda_functions/<stack>/<module>.handler`` style path (slashes or dots).
        service: Powertools service name (``POWERTOOLS_SERVICE_NAME``).
        environment: extra environment variables (table/bus/topic names...).
        broker: the function calls broker APIs: ``SMARTAPI_LOG_DIR=/tmp`` (the only writable
            directory in Lambda, read by ``shared_utils.brokers._smartapi_loader``).
        vpc: when given, the function runs in the VPC's private subnets (static egress IP).
        reserved_concurrency: cap for functions that must never run wide (schedulers).

    Provisioned concurrency (``config provisioned_concurrency``, issue 14): when the environment
    enables it for ``name``, the function gets a ``live`` alias (``self.alias``) provisioned
    during market hours by scheduled Application Auto Scaling actions; callers that need warm
    containers invoke ``self.invoke_target`` (the alias then, else the function): provisioned
    instances serve only invocations of the alias.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        package: LambdaPackage,
        name: str,
        handler: str,
        service: str,
        description: str,
        environment: dict[str, str] | None = None,
        timeout: Duration | None = None,
        memory_size: int = 512,
        reserved_concurrency: int | None = None,
        vpc: ec2.IVpc | None = None,
        security_groups: list[ec2.ISecurityGroup] | None = None,
        broker: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        config = package.config
        self.function_name = config.resource_name(name)
        handler_path = handler.replace("/", ".")
        if handler_path.endswith(".py.handler"):
            handler_path = handler_path.replace(".py.handler", ".handler")

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.THREE_MONTHS if config.retain else logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{self.function_name}: own logs only; the stack grants the rest",
        )
        self.log_group.grant_write(self.role)

        env = {
            "QL_ENV": config.name,
            "POWERTOOLS_SERVICE_NAME": service,
            "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_NAMESPACE,
            "LOG_LEVEL": "DEBUG" if config.name == "dev" else "INFO",
        }
        if broker:
            env["SMARTAPI_LOG_DIR"] = "/tmp"
        env.update(environment or {})

        vpc_props: dict = {}
        if vpc is not None:
            vpc_props = {
                "vpc": vpc,
                "vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                "security_groups": security_groups,
            }
            # What AWSLambdaVPCAccessExecutionRole grants, inline (no managed policy).
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=["*"],
                )
            )

        self.function = lambda_.Function(
            self,
            "Function",
            function_name=self.function_name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler_path,
            code=package.code,
            layers=package.layers_for(name),
            role=self.role,
            environment=env,
            timeout=timeout or Duration.seconds(30),
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            reserved_concurrent_executions=reserved_concurrency,
            **vpc_props,
        )

        #: what callers that must hit warm containers invoke: the ``live`` alias when the
        #: environment provisions this function in market hours, else the function itself
        self.alias: lambda_.Alias | None = None
        self.invoke_target: lambda_.IFunction = self.function
        provisioned = config.settings.provisioned_concurrency
        if provisioned.enabled and name in provisioned.functions:
            self.alias, self.scaling = self._market_hours_provisioning(provisioned, provisioned.functions[name])
            self.invoke_target = self.alias

        acknowledge(
            self,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray (xray:PutTraceSegments, xray:PutTelemetryRecords) and, for VPC functions, the "
            "ENI actions Lambda needs to attach to private subnets support no resource-level "
            "permissions; nothing else in this role is granted on '*'.",
        )
        acknowledge(
            self,
            "AwsSolutions-L1",
            "Runtime pinned to Python 3.12: the dependency layers are built by deploy.sh with "
            "pip --python-version 3.12 and the Lambda runtime of this platform is 3.12; moving "
            "runtimes is a deliberate change of layer, runtime and tests together.",
        )

    def _market_hours_provisioning(self, provisioned, instances: int) -> tuple[lambda_.Alias, object]:
        """A ``live`` alias on the current version with Application Auto Scaling scheduled
        actions (Asia/Kolkata): ``instances`` provisioned from ``from_ist`` to ``to_ist`` on
        ``days``, 0 outside (no provisioned charge overnight or at weekends)."""
        alias = lambda_.Alias(self, "LiveAlias", alias_name="live", version=self.function.current_version,
                              description="market-hours provisioned concurrency (config provisioned_concurrency)")
        scaling = alias.add_auto_scaling(min_capacity=0, max_capacity=instances)
        for action, hhmm, capacity in (("MarketOpen", provisioned.from_ist, instances),
                                       ("MarketClose", provisioned.to_ist, 0)):
            hour, minute = hhmm.split(":")
            scaling.scale_on_schedule(
                action,
                schedule=appscaling.Schedule.cron(minute=str(int(minute)), hour=str(int(hour)), week_day=provisioned.days),
                time_zone=TimeZone.ASIA_KOLKATA,
                min_capacity=capacity,
                max_capacity=capacity,
            )
        return alias, scaling

    @property
    def function_arn(self) -> str:
        """The function's ARN."""
        return self.function.function_arn

