#!/usr/bin/env python3
"""CDK entry point: ``npx cdk synth -c env=dev|staging|production``.

Builds ``ql-algo-trading-{env}-auth-broker-stack``, ``-options-platform-stack`` and
``-execution-engine-stack`` in ap-south-1 (see ``cdk_stacks/app_builder.py``), with the cdk-nag
AwsSolutions checks on every synth. ``-c env=local`` is refused: the local platform runs with
``./deploy.sh -e local``. Needs no Docker and no AWS credentials.
"""

import sys

from aws_cdk import App

from cdk_stacks.app_builder import NotADeployTarget, build_app
from shared_utils.config import ConfigError


def main() -> None:
    """Synthesize the app for the context's ``env``."""
    app = App()
    try:
        # Account-agnostic stacks (region pinned): no context lookups, no credentials needed.
        build_app(app=app)
    except (NotADeployTarget, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    app.synth()


if __name__ == "__main__":
    main()
