"""Builds the CDK app: the three stacks of one environment, wired together, with cdk-nag.

``app.py`` calls :func:`build_app`; the infrastructure tests call it too (once per
environment per session), so what is tested is exactly what ``cdk synth`` produces.
"""

from __future__ import annotations

from aws_cdk import App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from cdk_stacks.auth_broker_stack import AuthBrokerStack
from cdk_stacks.execution_engine_stack import ExecutionEngineStack
from cdk_stacks.options_platform_stack import OptionsPlatformStack
from shared_utils.config import ConfigError, EnvironmentConfig, load_environment

DEPLOYABLE = ("dev", "staging", "production")
STACKS = ("auth-broker", "options-platform", "execution-engine")


class NotADeployTarget(ConfigError):
    """The environment exists but is not deployed with CDK (``local``)."""


def resolve_environment(name: str, config_path: str | None = None) -> EnvironmentConfig:
    """The deployable environment ``name``.

    Raises:
        NotADeployTarget: ``local`` (run ``./deploy.sh -e local`` instead).
        ConfigError: unknown environment.
    """
    if name == "local":
        raise NotADeployTarget(
            "env 'local' is not a CDK deploy target: it runs on this machine with moto and the "
            "local platform (./deploy.sh -e local). Use -c env=dev|staging|production."
        )
    config = load_environment(name, config_path)
    if name not in DEPLOYABLE:
        raise NotADeployTarget(f"env {name!r} is not deployable; use one of {DEPLOYABLE}")
    return config


def build_app(env_name: str | None = None, *, app: App | None = None, account: str | None = None,
              config_path: str | None = None) -> App:
    """An ``App`` with the auth-broker, options-platform and execution-engine stacks of
    ``env_name`` (default: context ``env``, else ``dev``) in the config's region
    (ap-south-1), and the cdk-nag AwsSolutions checks as a validation plugin (every synth).
    ``config_path`` reads another environments file (tests: an option switched on)."""
    app = app or App()
    # Feature flag (kept here so tests and `cdk synth` agree without touching cdk.json): S3
    # server access logs are delivered through a bucket policy, so the log bucket can keep
    # ACLs disabled (BucketOwnerEnforced).
    app.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
    name = env_name or app.node.try_get_context("env") or "dev"
    config = resolve_environment(name, config_path)
    env = Environment(account=account, region=config.region)

    auth = AuthBrokerStack(
        app, config.stack_name("auth-broker"), config=config, env=env, stack_name=config.stack_name("auth-broker"),
        description=f"{config.prefix}: Cognito users, broker accounts and secrets, alerts, static egress IP",
        termination_protection=config.retain,
    )
    platform = OptionsPlatformStack(
        app, config.stack_name("options-platform"), config=config, env=env, stack_name=config.stack_name("options-platform"),
        description=f"{config.prefix}: the trading table and the REST API",
        termination_protection=config.retain,
    )
    engine = ExecutionEngineStack(
        app, config.stack_name("execution-engine"), config=config, env=env, stack_name=config.stack_name("execution-engine"),
        description=f"{config.prefix}: emitter, event bus, Express state machine, order Lambdas, archive",
        termination_protection=config.retain,
    )
    # Imports are by explicit export name (cdk_stacks/exports.py): declare the deploy order.
    platform.add_stack_dependency(auth, "imports the user pool, broker functions and alerts topic")
    engine.add_stack_dependency(auth, "imports the alerts topic, broker secrets key and VPC")
    engine.add_stack_dependency(platform, "imports the trading table and its stream")

    for stack in (auth, platform, engine):
        Tags.of(stack).add("project", f"{config.company.short_name}-{config.project}")
        Tags.of(stack).add("environment", config.name)

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app
