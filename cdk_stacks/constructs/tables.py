"""DynamoDB tables built from the boto3 ``create_table`` requests in
``shared_utils/persistence/table_schema.py``: the key schema and indexes are defined there ONCE
and translated here, so the CDK stacks, the local platform and the tests cannot disagree.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}
_STREAM_VIEWS = {
    "NEW_AND_OLD_IMAGES": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    "NEW_IMAGE": dynamodb.StreamViewType.NEW_IMAGE,
    "OLD_IMAGE": dynamodb.StreamViewType.OLD_IMAGE,
    "KEYS_ONLY": dynamodb.StreamViewType.KEYS_ONLY,
}


def _key(request: dict, key_schema: list[dict], key_type: str) -> dynamodb.Attribute | None:
    types = {a["AttributeName"]: a["AttributeType"] for a in request["AttributeDefinitions"]}
    for element in key_schema:
        if element["KeyType"] == key_type:
            name = element["AttributeName"]
            return dynamodb.Attribute(name=name, type=_ATTRIBUTE_TYPES[types[name]])
    return None


def table_from_request(
    scope: Construct,
    construct_id: str,
    request: dict,
    *,
    retain: bool,
    time_to_live_attribute: str | None = None,
) -> dynamodb.Table:
    """A ``dynamodb.Table`` equal to the boto3 ``create_table`` ``request``.

    Always on-demand (the request's billing mode must say so), point-in-time recovery on,
    AWS-managed encryption, deletion protection and ``RemovalPolicy.RETAIN`` when ``retain``
    (staging, production) else ``DESTROY``. The stream comes from the request's
    ``StreamSpecification``.
    """
    if request.get("BillingMode") != "PAY_PER_REQUEST":
        raise ValueError(f"{request['TableName']}: only on-demand tables are supported")
    stream = request.get("StreamSpecification") or {}
    table = dynamodb.Table(
        scope,
        construct_id,
        table_name=request["TableName"],
        partition_key=_key(request, request["KeySchema"], "HASH"),
        sort_key=_key(request, request["KeySchema"], "RANGE"),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        stream=_STREAM_VIEWS[stream["StreamViewType"]] if stream.get("StreamEnabled") else None,
        time_to_live_attribute=time_to_live_attribute,
        deletion_protection=retain,
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
    )
    for index in request.get("GlobalSecondaryIndexes", []):
        projection = index["Projection"]
        table.add_global_secondary_index(
            index_name=index["IndexName"],
            partition_key=_key(request, index["KeySchema"], "HASH"),
            sort_key=_key(request, index["KeySchema"], "RANGE"),
            projection_type=_PROJECTIONS[projection["ProjectionType"]],
            non_key_attributes=projection.get("NonKeyAttributes"),
        )
    return table
