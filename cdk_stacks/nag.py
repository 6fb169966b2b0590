"""cdk-nag acknowledgements with a written reason (cdk-nag 3.x, CDK ``Validations`` API).

cdk-nag 3 replaced ``NagSuppressions`` with CDK's ``Validations.of(scope).acknowledge(...)``.
Every acknowledgement made by the stacks goes through :func:`acknowledge`, which refuses an
empty or boilerplate reason, so the audit trail (construct metadata
``aws:cdk:acknowledged-rules`` in the cloud assembly) always says *why* a finding is accepted.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

MIN_REASON_LENGTH = 40


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge cdk-nag finding ``rule_id`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on
    ``scope`` and all its children, with a specific ``reason``.

    Raises:
        ValueError: the reason is shorter than :data:`MIN_REASON_LENGTH` characters.
    """
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledgement of {rule_id} needs a specific reason, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of an L2 construct's resource, as cdk-nag prints it in
    finding ids (``<LogicalId.Arn>``)."""
    from aws_cdk import CfnElement, Stack

    child = construct.node.default_child
    if not isinstance(child, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    stack = Stack.of(construct)
    return stack.resolve(stack.get_logical_id(child))


def finding_value(scope: IConstruct, value: str) -> str:
    """``value`` (an ARN that may hold tokens) as cdk-nag prints it inside a finding id, e.g.
    ``arn:<AWS::Partition>:secretsmanager:...`` or ``arn:aws:...`` depending on the
    ``enablePartitionLiterals`` feature flag, so acknowledgements match in tests and CLI alike."""
    from aws_cdk import Stack

    resolved = Stack.of(scope).resolve(value)

    def render(node) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, dict) and "Ref" in node:
            return f"<{node['Ref']}>"
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            return f"<{node['Fn::GetAtt'][0]}.{node['Fn::GetAtt'][1]}>"
        if isinstance(node, dict) and "Fn::Join" in node:
            sep, parts = node["Fn::Join"]
            return sep.join(render(p) for p in parts)
        raise TypeError(f"cannot render {node!r} for a cdk-nag finding id")

    return render(resolved)
