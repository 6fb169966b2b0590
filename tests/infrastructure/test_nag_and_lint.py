"""cdk-nag (AwsSolutions) finds nothing unacknowledged, every acknowledgement has a reason, and
cfn-lint passes on the three synthesized templates."""

from __future__ import annotations

import json

from aws_cdk.assertions import Annotations, Match
from cfnlint.api import ManualArgs, lint_file

from cdk_stacks.nag import MIN_REASON_LENGTH


def _acknowledgements(synth) -> dict[str, dict[str, str]]:
    """construct path -> {rule id: reason} of the cdk-nag acknowledgements in the cloud
    assembly's metadata (CDK's own ``CloudFormation-Validate::`` acknowledgements excluded)."""
    found: dict[str, dict[str, str]] = {}
    for meta in synth.outdir.glob("*.metadata.json"):
        for path, entries in json.loads(meta.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    ours = {k: v for k, v in entry["data"].items() if "AwsSolutions-" in k}
                    if ours:
                        found.setdefault(path, {}).update(ours)
    return found


def test_no_unacknowledged_aws_solutions_findings(any_env):
    report = json.loads((any_env.outdir / "validation-report.json").read_text())
    violations = [v for r in report["pluginReports"] for v in r.get("violations", [])]
    assert violations == []
    assert all(r.get("conclusion", "success") == "success" for r in report["pluginReports"])
    for stack in any_env.stacks.values():
        annotations = Annotations.from_stack(stack)
        assert annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")) == []
        assert annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*")) == []
        assert annotations.find_error("*", Match.any_value()) == []


def test_every_acknowledgement_has_a_specific_reason(any_env):
    acks = _acknowledgements(any_env)
    assert acks
    for path, rules in acks.items():
        assert path.count("/") >= 2, f"acknowledge on a resource, not a whole stack: {path}"
        for rule, reason in rules.items():
            assert rule.removeprefix("Annotation::").startswith("AwsSolutions-"), rule
            assert len(reason) >= MIN_REASON_LENGTH, (path, rule, reason)


def test_acknowledged_rules_are_the_expected_few(any_env):
    rules = {r.removeprefix("Annotation::").split("[")[0] for rules in _acknowledgements(any_env).values() for r in rules}
    assert rules <= {
        "AwsSolutions-IAM5", "AwsSolutions-IAM4", "AwsSolutions-L1", "AwsSolutions-COG2", "AwsSolutions-COG8",
        "AwsSolutions-SQS3", "AwsSolutions-S1", "AwsSolutions-APIG2", "AwsSolutions-APIG3",
        "AwsSolutions-APIG4", "AwsSolutions-COG4",
        # the web app's CloudFront distribution (cdk_stacks/constructs/web_hosting.py: the reasons there)
        "AwsSolutions-CFR1", "AwsSolutions-CFR2", "AwsSolutions-CFR4",
    }
    if any_env.config.retain:
        assert "AwsSolutions-COG8" not in rules  # PLUS tier in staging and production


def test_cfn_lint_passes(any_env):
    manifest = any_env.manifest()
    templates = [any_env.outdir / a["properties"]["templateFile"] for a in manifest["artifacts"].values()
                 if a["type"] == "aws:cloudformation:stack"]
    assert len(templates) == 3
    for template in templates:
        matches = lint_file(template, config=ManualArgs(regions=["ap-south-1"]))
        # W3005 (DependsOn on a resource already referenced) is how CDK orders every Lambda
        # after its role's policy; harmless and not ours to change.
        problems = [str(m) for m in matches if m.rule.id[0] in "EW" and m.rule.id != "W3005"]
        assert problems == [], template.name
