"""The domain of the options execution platform.

Nothing in this package imports a Lambda handler, the CDK, or ``local/``. Handlers import the
domain; the domain is plain Python (plus pydantic, boto3 and the brokers' SDKs where an adapter
needs them).
"""
