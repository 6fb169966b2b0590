#!/usr/bin/env python3
"""CDK entry point: ``npx cdk synth -c env=dev|staging|production``.

Builds ``ql-algo-trading-{env}-auth-broker-stack``, ``-options-platform-stack`` and
``-execution-engine-stack`` in ap-south-1 (see ``cdk_stacks/app_builder.py``), with the cdk-nag
AwsSolutions checks on every synth. ``-c env=local`` is refused: the local platform runs with
``./deploy.sh -e local``. Needs no Docker and no AWS credentials.
"""

import os
import sys

from aws_cdk import App

from cdk_stacks.app_builder import NotADeployTarget, build_app
from shared_utils.config import ConfigError


def main() -> None:
    """Synthesize the app for the context's ``env``."""
    app = App()
    try:
        build_app(app=app, account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
    except (NotADeployTarget, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    app.synth()


if __name__ == "__main__":
    main()
