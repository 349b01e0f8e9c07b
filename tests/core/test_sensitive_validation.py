"""Members botocore's models mark ``sensitive`` (tokens, secrets) are never quoted in a validation message, as AWS
leaves them out ("Value at 'webIdentityToken' failed to satisfy constraint: ..."), for every AWS service here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from botocore.loaders import Loader

import mockcloud
from mockcloud import mock_cloud
from mockcloud.core.protocols.aws_common import validation_error
from mockcloud.core.validation import SchemaSet
from tests.helpers import aws_client, error_of

SERVICES = Path(mockcloud.__file__).parent / "services"
# our service folder -> botocore's model name
AWS_MODELS = {"sts": "sts", "licensemanager": "license-manager", "amplifyuibuilder": "amplifyuibuilder"}


def sensitive_paths(shapes: dict, name: str, path: tuple = (), inside: bool = False, seen: tuple = ()) -> set:
    shape = shapes[name]
    marked = inside or bool(shape.get("sensitive"))
    found = {path} if marked and path else set()
    if name in seen:
        return found
    seen = (*seen, name)
    if shape["type"] == "structure":
        for member, ref in shape.get("members", {}).items():
            found |= sensitive_paths(shapes, ref["shape"], (*path, member), marked, seen)
    elif shape["type"] == "list":
        found |= sensitive_paths(shapes, shape["member"]["shape"], (*path, "[]"), marked, seen)
    return found


def schema_paths(schema: dict, path: tuple = ()) -> set:
    found = {path} if schema.get("x-aws-sensitive") and path else set()
    for member, sub in schema.get("properties", {}).items():
        found |= schema_paths(sub, (*path, member))
    if "items" in schema:
        found |= schema_paths(schema["items"], (*path, "[]"))
    return found


@pytest.mark.parametrize("service", sorted(AWS_MODELS))
def test_every_sensitive_member_of_the_models_is_marked_in_the_schemas(service):
    model = Loader().load_service_model(AWS_MODELS[service], "service-2")
    for path in sorted((SERVICES / service / "schemas").glob("*.json")):
        operation = model["operations"][path.stem]
        expected = sensitive_paths(model["shapes"], operation["input"]["shape"]) if "input" in operation else set()
        assert schema_paths(json.loads(path.read_text())) == expected, path.name


def test_a_sensitive_value_is_left_out_of_the_message():
    schemas = SchemaSet(SERVICES / "sts" / "schemas")
    violations = schemas.violations(
        "AssumeRoleWithWebIdentity",
        {"RoleArn": "arn:aws:iam::123456789012:role/R", "RoleSessionName": "s!", "WebIdentityToken": "abc"},
    )
    assert [v.sensitive for v in violations] == [False, True]
    assert all(v.value is None for v in violations if v.sensitive)
    assert validation_error(violations).message == (
        "2 validation errors detected: Value 's!' at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*; "
        "Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"
    )


def test_sts_leaves_tokens_and_assertions_out_over_the_wire():
    with mock_cloud(services=["sts"]):
        sts = aws_client("sts", validate=False)
        secret = "s3cr3t" * 4000  # 24000 characters: over WebIdentityToken's 20000
        with pytest.raises(ClientError) as exc:
            sts.assume_role_with_web_identity(
                RoleArn="arn:aws:iam::123456789012:role/R", RoleSessionName="app", WebIdentityToken=secret
            )
        code, status, message = error_of(exc)
        assert (code, status) == ("ValidationError", 400)
        assert message == (
            "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: "
            "Member must have length less than or equal to 20000"
        )
        with pytest.raises(ClientError) as exc:
            sts.assume_role_with_saml(
                RoleArn="arn:aws:iam::123456789012:role/R",
                PrincipalArn="arn:aws:iam::123456789012:saml-provider/idp",
                SAMLAssertion="abc",
            )
        assert "abc" not in error_of(exc)[2] and "Value at 'sAMLAssertion'" in error_of(exc)[2]
        # a member that is not sensitive is quoted, as AWS quotes it
        with pytest.raises(ClientError) as exc:
            sts.get_access_key_info(AccessKeyId="short")
        assert "Value 'short' at 'accessKeyId'" in error_of(exc)[2]


def test_no_secret_reaches_a_message_for_amplify_ui_builder_either():
    with mock_cloud(services=["amplifyuibuilder"]):
        client = aws_client("amplifyuibuilder", validate=False)
        with pytest.raises(ClientError) as exc:
            client.exchange_code_for_token(
                provider="figma", request={"code": 12345, "redirectUri": "https://example.com/cb"}
            )
        assert "12345" not in error_of(exc)[2]
