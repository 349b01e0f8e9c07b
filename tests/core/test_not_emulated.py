"""Every operation a service's model declares and mockcloud does not emulate answers 501 ``NotImplemented``.

The operations come from each service's shipped ``operations.json`` less its
``@operation`` declarations, read at collection time: when a service learns an
operation, it leaves this list by itself. Each is called with its real client
(boto3 for AWS, the tea SDK for WUYING), in-process and against the live server,
and the answer is checked in the protocol's own error format. An operation no
model declares keeps the service's own "unknown operation" answer.
"""

from __future__ import annotations

import json
import re
from types import MappingProxyType

import pytest
import requests
from alibabacloud_ecd20201002 import models as ecd_models
from alibabacloud_ecd20201002.client import Client as EcdClient
from alibabacloud_tea_openapi import utils_models
from botocore.exceptions import ClientError

from mockcloud import NotEmulatedError, mock_cloud
from mockcloud.core.coverage import COVERAGE_PAGE, ModelOperations
from mockcloud.core.protocols.aws_rest_json import AwsRestJsonProtocol, RestJsonExchange
from mockcloud.core.router import Claims
from mockcloud.core.service import operation as declare
from mockcloud.mock import MockCloud
from mockcloud.services import SERVICE_PACKAGES
from tests.helpers import aws_client, aws_signed_headers

BOTOCORE_NAMES = {"licensemanager": "license-manager", "sts": "sts", "amplifyuibuilder": "amplifyuibuilder"}
ECD_REGION = "cn-hangzhou"


def not_emulated() -> tuple[list[tuple[str, str]], dict[str, str], dict[str, type]]:
    """(service, operation) for every declared operation no ``@operation`` carries out, from every model shipped;
    each service's name in its model (the action prefix the message uses); each service's protocol class."""
    cloud = MockCloud(intercept=False, fake_credentials=False)
    found, prefixes, classes = [], {}, {}
    for name in cloud.service_names:
        protocol = type(cloud.protocol(name))
        model = protocol.model_operations()
        if model is not None:
            prefixes[name], classes[name] = model.service, protocol
        found.extend((name, operation) for operation in protocol.not_emulated_operations())
    return found, prefixes, classes


NOT_EMULATED, PREFIXES, PROTOCOLS = not_emulated()
# An emulated operation of each model, hidden for a test where the model has none left to answer 501: every
# family's 501 stays tested when a service emulates its whole model (Amplify UI Builder does already).
HIDDEN = {
    "licensemanager": "ListLicenses",
    "sts": "GetCallerIdentity",
    "amplifyuibuilder": "GetMetadata",
    "wuying": "RefreshLoginToken",
}
CASES = [(service, operation, False) for service, operation in NOT_EMULATED] + [
    (service, HIDDEN[service], True) for service in PROTOCOLS if not any(s == service for s, _ in NOT_EMULATED)
]


def hide(monkeypatch, service: str, operation: str) -> None:
    """Make ``operation`` one the service does not emulate, for this test (the session's server runs in this
    process: its protocol class is this one)."""
    protocol = PROTOCOLS[service]
    kept = {name: op for name, op in protocol.operations.items() if name != operation}
    monkeypatch.setattr(protocol, "operations", MappingProxyType(kept))


def one_per_service(monkeypatch, services=None) -> dict[str, str]:
    """A not-emulated operation of each service with a model (hidden where it has none)."""
    chosen = {}
    for service, operation, hidden in CASES:
        if (services is None or service in services) and service not in chosen:
            if hidden:
                hide(monkeypatch, service, operation)
            chosen[service] = operation
    return chosen


class Clients:
    """Real clients of every service, in-process or against the server (made once per service)."""

    def __init__(self, cloud, server_url: str | None = None) -> None:
        self.cloud, self.server_url = cloud, server_url
        self._made: dict[str, object] = {}

    def aws(self, service: str):
        if service not in self._made:
            self._made[service] = aws_client(BOTOCORE_NAMES[service], self.server_url, validate=False)
        return self._made[service]

    def ecd(self) -> EcdClient:
        if "wuying" not in self._made:
            config = {"endpoint": self.server_url.split("//", 1)[1], "protocol": "http"} if self.server_url else {}
            self._made["wuying"] = EcdClient(utils_models.Config(region_id=ECD_REGION, **config))
        return self._made["wuying"]  # type: ignore[return-value]


@pytest.fixture
def make_backend():
    return Clients


def minimal(shape, depth: int = 0):
    """A value of a botocore shape with its required members only: enough to build the request."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 4:
            return {}
        return {name: minimal(shape.members[name], depth + 1) for name in shape.required_members}
    if kind == "list":
        return []
    if kind == "map":
        return {}
    if kind in ("integer", "long"):
        return 1
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return 1_800_000_000
    if kind == "blob":
        return b"x"
    return "x" if not shape.enum else shape.enum[0]


def call_aws(client, operation: str) -> ClientError:
    model = client.meta.service_model.operation_model(operation)
    params = minimal(model.input_shape) if model.input_shape is not None else {}
    name = {v: k for k, v in client.meta.method_to_api_mapping.items()}[operation]
    with pytest.raises(ClientError) as excinfo:
        getattr(client, name)(**params)
    return excinfo.value


def call_ecd(client: EcdClient, operation: str):
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
    request = getattr(ecd_models, f"{operation}Request")()
    with pytest.raises(Exception) as excinfo:  # the tea SDK's TeaException, or its Unretryable wrapper
        getattr(client, snake)(request)
    return excinfo.value


def expected_message(prefix: str, operation: str) -> str:
    return f"mockcloud does not emulate {prefix}:{operation}; see {COVERAGE_PAGE}#{prefix}"


@pytest.mark.parametrize(
    ("service", "operation", "hidden"), CASES, ids=[f"{s}:{o}{' (hidden)' if h else ''}" for s, o, h in CASES]
)
def test_a_declared_operation_not_emulated_answers_501_in_the_protocols_format(
    backend, monkeypatch, service, operation, hidden
):
    if hidden:
        hide(monkeypatch, service, operation)
    prefix = PREFIXES[service]
    message = expected_message(prefix, operation)
    if service == "wuying":
        error = call_ecd(backend.ecd(), operation)
        assert getattr(error, "code", None) == "NotImplemented", repr(error)
        assert error.statusCode == 501
        assert error.data["Message"] == message
        assert error.data["Recommend"] == f"{COVERAGE_PAGE}#{prefix}"
        assert error.data["RequestId"]
    else:
        error = call_aws(backend.aws(service), operation)
        response = error.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
        assert response["Error"]["Code"] == "NotImplemented"
        assert response["Error"]["Message"] == message
        # boto3 prints it in full (the one-attempt clients here add "(reached max retries: 0)")
        assert str(error).startswith(f"An error occurred (NotImplemented) when calling the {operation} operation")
        assert str(error).endswith(f": {message}")
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["date"].endswith(" GMT")
        if service == "sts":  # AWS Query: <ErrorResponse><Error><Type>Receiver</Type><Code>…
            assert response["Error"]["Type"] == "Receiver"
        else:  # AWS JSON 1.1 and REST-JSON: the code in x-amzn-ErrorType
            assert headers["x-amzn-errortype"].startswith("NotImplemented")
    record = backend.cloud.requests.filter(service=service)[-1]
    assert (record.operation, record.status, record.error_code) == (operation, 501, "NotImplemented")


def test_the_raw_answers_of_each_family(backend, monkeypatch):
    """The bytes each family sends, for one operation of each model that is not emulated."""
    by_service = one_per_service(monkeypatch)
    assert set(by_service) == set(PROTOCOLS)
    base = backend.server_url
    for service, operation in by_service.items():
        prefix = PREFIXES[service]
        if service == "wuying":
            url = (base or f"https://ecd.{ECD_REGION}.aliyuncs.com") + f"/?Action={operation}&Version=2020-10-02"
            reply = requests.post(url, timeout=10)
            assert reply.status_code == 501
            body = reply.json()
            assert body["Code"] == "NotImplemented" and body["Message"] == expected_message(prefix, operation)
            assert reply.headers["Date"].endswith(" GMT")
            continue
        if service == "licensemanager":
            url = base or "https://license-manager.us-east-1.amazonaws.com"
            reply = requests.post(
                url + "/",
                data=b"{}",
                headers={
                    "X-Amz-Target": f"AWSLicenseManager.{operation}",
                    "Content-Type": "application/x-amz-json-1.1",
                    "Host": "license-manager.us-east-1.amazonaws.com",
                },
                timeout=10,
            )
            assert reply.status_code == 501
            body = reply.json()
            assert body["__type"].endswith("NotImplemented") and body["message"] == expected_message(prefix, operation)
            assert reply.headers["x-amzn-ErrorType"].startswith("NotImplemented:")
        elif service == "sts":
            url = base or "https://sts.amazonaws.com"
            reply = requests.post(
                url + "/",
                data=f"Action={operation}&Version=2011-06-15",
                headers={"Content-Type": "application/x-www-form-urlencoded", "Host": "sts.amazonaws.com"},
                timeout=10,
            )
            assert reply.status_code == 501
            assert "<Type>Receiver</Type><Code>NotImplemented</Code>" in reply.text
            assert f"<Message>{expected_message(prefix, operation)}</Message>" in reply.text
        elif service == "amplifyuibuilder":
            real = "https://amplifyuibuilder.us-east-1.amazonaws.com/app/d1/environment/dev/metadata"
            url = base + "/app/d1/environment/dev/metadata" if base else real
            reply = requests.get(url, headers=aws_signed_headers("GET", url, b"", "amplifyuibuilder"), timeout=10)
            assert operation == "GetMetadata" and reply.status_code == 501
            assert reply.headers["x-amzn-ErrorType"] == "NotImplemented"
            assert reply.json() == {"message": expected_message(prefix, operation)}


def signed_post(backend, real_url: str, body: bytes, service: str, headers: dict) -> requests.Response:
    url = backend.server_url + "/" if backend.server_url else real_url
    return requests.post(url, data=body, headers=aws_signed_headers("POST", url, body, service, headers), timeout=10)


def test_an_operation_no_model_declares_keeps_the_services_unknown_operation_answer(backend):
    reply = signed_post(
        backend,
        "https://license-manager.us-east-1.amazonaws.com/",
        b"{}",
        "license-manager",
        {"X-Amz-Target": "AWSLicenseManager.NoSuchOperation", "Content-Type": "application/x-amz-json-1.1"},
    )
    assert reply.status_code == 400
    assert reply.json()["__type"].endswith("UnknownOperationException")
    reply = signed_post(
        backend,
        "https://sts.amazonaws.com/",
        b"Action=NoSuchAction&Version=2011-06-15",
        "sts",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code == 400 and "<Code>InvalidAction</Code>" in reply.text
    url = (backend.server_url or f"https://ecd.{ECD_REGION}.aliyuncs.com") + "/?Action=NoSuchAction&Version=2020-10-02"
    reply = requests.post(url, timeout=10)
    assert reply.status_code == 404 and reply.json()["Code"] == "InvalidAction.NotFound"


def test_clients_do_not_retry_the_501(monkeypatch):
    """A 501 is no transient error: boto3's retry modes give it to the caller at once."""
    service, operation = next(iter(one_per_service(monkeypatch, ["sts"]).items()))
    for mode in ("standard", "legacy", "adaptive"):
        with mock_cloud(services=[service]) as cloud:
            client = aws_client(BOTOCORE_NAMES[service], attempts=5, validate=False)
            client.meta.config.retries["mode"] = mode
            error = call_aws(client, operation)
            assert error.response["ResponseMetadata"]["RetryAttempts"] == 0, mode
            assert str(error).endswith(f"operation: {expected_message(PREFIXES[service], operation)}")
            assert len(cloud.requests) == 1


@pytest.mark.parametrize("service", sorted(BOTOCORE_NAMES))
def test_strict_raises_at_the_call_and_the_message_names_the_operation(monkeypatch, service):
    operation = one_per_service(monkeypatch, [service])[service]
    with mock_cloud(services=[service], strict=True) as cloud:
        client = aws_client(BOTOCORE_NAMES[service], validate=False)
        prefix = PREFIXES[service]
        with pytest.raises(NotEmulatedError) as excinfo:
            call_strict(client, operation)
        assert (excinfo.value.service, excinfo.value.operation) == (prefix, operation)
        assert str(excinfo.value) == expected_message(prefix, operation)
        assert cloud.requests[-1].status == 501  # logged as any other answer
    with mock_cloud(services=[service]) as cloud, pytest.raises(ClientError):  # not strict: the 501 itself
        call_strict(aws_client(BOTOCORE_NAMES[service], validate=False), operation)


def call_strict(client, operation: str) -> None:
    model = client.meta.service_model.operation_model(operation)
    params = minimal(model.input_shape) if model.input_shape is not None else {}
    name = {v: k for k, v in client.meta.method_to_api_mapping.items()}[operation]
    getattr(client, name)(**params)


def test_strict_raises_through_the_tea_sdk_too(monkeypatch):
    operation = one_per_service(monkeypatch, ["wuying"])["wuying"]
    with mock_cloud(services=["wuying"], strict=True):
        client = EcdClient(utils_models.Config(region_id=ECD_REGION))
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
        with pytest.raises(Exception, match=f"mockcloud does not emulate ecd:{operation}") as excinfo:
            getattr(client, snake)(getattr(ecd_models, f"{operation}Request")())
        # the tea SDK wraps what its transport raised in its own UnretryableException; ours is inside
        inner = getattr(excinfo.value, "inner_exception", excinfo.value)
        assert isinstance(inner, NotEmulatedError)


def test_the_operations_files_are_what_the_models_declare():
    """The shipped lists match the installed models (regenerate: python tools/model_operations.py)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "model_operations", Path(__file__).resolve().parents[2] / "tools" / "model_operations.py"
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cloud = MockCloud(intercept=False, fake_credentials=False)
    for package, (kind, name) in tool.MODELS.items():
        shipped = type(cloud.protocol(package)).model_operations()
        fresh = tool.botocore_model(name) if kind == "botocore" else tool.alibaba_model(name)
        assert sorted(shipped.operations) == sorted(fresh["operations"]), (
            f"{package}/operations.json is out of date: run python tools/model_operations.py"
        )
        assert json.loads(json.dumps({k: dict(v) for k, v in shipped.operations.items()})) == fresh["operations"]


# ---- REST-JSON, on a service of this module's own (Amplify UI Builder emulates every operation its model has) ----
THINGS_HOST = "things.us-east-1.amazonaws.com"
CLAIMS = Claims(hosts=(THINGS_HOST,))


class ThingsProtocol(AwsRestJsonProtocol[RestJsonExchange]):
    signing_name = "things"

    @declare(method="GET", path="/things/{id}")
    def get_thing(self, x: RestJsonExchange) -> dict:
        return {"id": x.params["id"]}

    @classmethod
    def model_operations(cls) -> ModelOperations:
        routes = {"GetThing": ("GET", "/things/{id}"), "DeleteThing": ("DELETE", "/things/{id}")}
        operations = {name: {"method": method, "path": path} for name, (method, path) in routes.items()}
        return ModelOperations("things", "Things", "rest-json", "2024-01-01", "a test", operations)


def build(context):
    return ThingsProtocol(context, None)


def test_rest_json_names_a_not_emulated_operation_by_its_route(monkeypatch):
    monkeypatch.setitem(SERVICE_PACKAGES, "things", __name__)
    with mock_cloud(services=["things"]) as cloud:
        url = f"https://{THINGS_HOST}/things/t-1"
        assert requests.get(url, headers=aws_signed_headers("GET", url, b"", "things"), timeout=10).json() == {
            "id": "t-1"
        }
        reply = requests.delete(url, headers=aws_signed_headers("DELETE", url, b"", "things"), timeout=10)
        assert reply.status_code == 501
        assert reply.headers["x-amzn-ErrorType"] == "NotImplemented"
        assert reply.json() == {"message": expected_message("things", "DeleteThing")}
        assert reply.headers["Date"].endswith(" GMT")
        # a route the model lacks stays the service's unknown operation
        reply = requests.post(url, headers=aws_signed_headers("POST", url, b"", "things"), timeout=10)
        assert reply.status_code == 404 and reply.headers["x-amzn-ErrorType"] == "UnknownOperationException"
        logged = [(r.operation, r.status) for r in cloud.requests]
        assert logged == [("GetThing", 200), ("DeleteThing", 501), (None, 404)]
        assert ThingsProtocol.not_emulated_operations() == ["DeleteThing"]


def test_strict_raises_through_aiobotocore_httpx_and_requests_too(monkeypatch):
    """The interceptor raises it, so every client family hands it to its caller (the async ones too)."""
    import asyncio

    import httpx
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    operation = one_per_service(monkeypatch, ["sts"])["sts"]
    body = f"Action={operation}&Version=2011-06-15"
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    async def aio() -> None:
        async with get_session().create_client(
            "sts",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=AioConfig(parameter_validation=False),
        ) as sts:
            await call_async(sts, operation)

    with mock_cloud(services=["sts"], strict=True) as cloud:
        with pytest.raises(NotEmulatedError, match=f"sts:{operation}"):
            asyncio.run(aio())
        url = "https://sts.amazonaws.com/"
        with pytest.raises(NotEmulatedError):
            requests.post(url, data=body, headers=aws_signed_headers("POST", url, body.encode(), "sts", form))
        with pytest.raises(NotEmulatedError):
            httpx.post(url, content=body, headers=aws_signed_headers("POST", url, body.encode(), "sts", form))
        assert [(r.operation, r.status) for r in cloud.requests] == [(operation, 501)] * 3


async def call_async(client, operation: str) -> None:
    model = client.meta.service_model.operation_model(operation)
    params = minimal(model.input_shape) if model.input_shape is not None else {}
    name = {v: k for k, v in client.meta.method_to_api_mapping.items()}[operation]
    await getattr(client, name)(**params)
