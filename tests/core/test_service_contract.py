"""The one service contract: operations declared with @operation and checked when the class is defined,
one exchange per request, error tables that settings rename, and WUYING's keyword model."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from mockcloud import MockCloudError, mock_cloud
from mockcloud.core.errors import ErrorTable, ServiceError
from mockcloud.core.protocols.alibaba_rpc import AlibabaRpcProtocol
from mockcloud.core.protocols.aws_json import AwsJsonProtocol
from mockcloud.core.protocols.aws_query import AwsQueryProtocol
from mockcloud.core.protocols.aws_rest_json import AwsRestJsonProtocol
from mockcloud.core.service import Exchange, ServiceProtocol, camel_case, operation
from mockcloud.core.validation import SchemaSet
from mockcloud.services import SERVICE_PACKAGES

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "mockcloud" / "services"


# ---- declaring operations ----------------------------------------------------------------
def test_an_operation_is_named_after_its_method_unless_it_names_itself():
    class Thing(AwsJsonProtocol):
        @operation
        def do_thing(self, x):
            return {}

        @operation("Other.Name", unsigned=True)
        def other(self, x):
            return {}

    assert {name: op.attribute for name, op in Thing.operations.items()} == {
        "DoThing": "do_thing",
        "Other.Name": "other",
    }
    assert Thing.unsigned_operations == frozenset({"Other.Name"})
    assert camel_case("check_in_license") == "CheckInLicense"


def test_an_operation_without_a_schema_fails_the_class(tmp_path):
    (tmp_path / "DoThing.json").write_text('{"type": "object"}')
    directory = SchemaSet(tmp_path)
    with pytest.raises(TypeError, match=r"operation MissingThing has no schema MissingThing\.json"):

        class Thing(AwsJsonProtocol):
            schemas = directory

            @operation
            def do_thing(self, x):
                return {}

            @operation
            def missing_thing(self, x):
                return {}


def test_two_methods_for_one_operation_fail_the_class():
    with pytest.raises(TypeError, match="both declare operation DoThing"):

        class Thing(AlibabaRpcProtocol):
            @operation
            def do_thing(self, x):
                return {}

            @operation("DoThing")
            def again(self, x):
                return {}


def test_an_option_the_family_does_not_take_fails_the_class():
    with pytest.raises(TypeError, match=r"option\(s\) \['anonymous'\] are not Thing's"):

        class Thing(AwsQueryProtocol):
            @operation(anonymous=True)
            def do_thing(self, x):
                return []


def test_rest_json_routes_are_declared_with_the_operation_and_may_not_collide():
    class Thing(AwsRestJsonProtocol):
        @operation(method="POST", path="/things/{id}", status=201, payload="body")
        def create_thing(self, x):
            return {}

    assert Thing.payloads == {"CreateThing": "body"}
    assert [route.status for routes in Thing._route_table.values() for route in routes] == [201]
    with pytest.raises(TypeError, match="needs method= and path="):

        class Unrouted(AwsRestJsonProtocol):
            @operation
            def create_thing(self, x):
                return {}

    with pytest.raises(TypeError, match=r"share the route POST /things/\{other\}"):

        class Colliding(AwsRestJsonProtocol):
            @operation(method="POST", path="/things/{id}")
            def create_thing(self, x):
                return {}

            @operation(method="POST", path="/things/{other}")
            def update_thing(self, x):
                return {}


def test_a_subclass_inherits_operations_and_may_replace_one():
    class Base(AlibabaRpcProtocol):
        @operation
        def do_thing(self, x):
            return {"from": "base"}

    class Derived(Base):
        @operation(anonymous=True)
        def do_thing(self, x):
            return {"from": "derived"}

    assert Base.anonymous_operations == frozenset()
    assert Derived.anonymous_operations == frozenset({"DoThing"})
    assert Derived.operations["DoThing"].function(None, None) == {"from": "derived"}


@pytest.mark.parametrize("name", sorted(SERVICE_PACKAGES))
def test_every_service_with_schemas_has_one_per_operation(name):
    module = importlib.import_module(f"{SERVICE_PACKAGES[name]}.protocol")
    (protocol,) = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ServiceProtocol) and value.__module__ == module.__name__
    ]
    directory = SERVICES / name / "schemas"
    if protocol.schemas is not None:
        assert protocol.schemas.directory == directory
        files = {path.stem for path in directory.glob("*.json")}
        assert files <= set(protocol.operations), "a schema of no operation"
    assert protocol.operations


# ---- the exchange -----------------------------------------------------------------------
def test_the_exchange_is_slotted():
    from mockcloud.core.protocols.aws_query import QueryExchange
    from mockcloud.core.protocols.soap import SoapExchange

    for kind in (Exchange, QueryExchange, SoapExchange):
        assert not hasattr(kind(None, "x", True), "__dict__")  # type: ignore[arg-type]


# ---- error tables ------------------------------------------------------------------------
def test_an_error_table_words_each_case_and_settings_rename_codes():
    table = ErrorTable({"locked": ("UserLocked", 400, "Try again in {minutes} minute(s).")})
    error = table.error("locked", fields={"Locked": "true"}, minutes=3)
    assert (error.code, error.status, error.message, error.fields) == (
        "UserLocked",
        400,
        "Try again in 3 minute(s).",
        {"Locked": "true"},
    )
    assert table.error("locked", "As {given}.").message == "As {given}."  # a message of its own is not a template
    renamed = table.renamed({"locked": "Locked.User"})
    assert renamed.error("locked", minutes=1).code == "Locked.User" and table["locked"].code == "UserLocked"
    with pytest.raises(MockCloudError, match="no error case"):
        table.renamed({"lockd": "X"})
    with pytest.raises(KeyError):
        table.error("lockd")
    combined = ErrorTable.of_codes({"A": (400, "a"), "B": (403, "b")}) | ErrorTable.of_codes({"B": (401, "b2")})
    assert [(case.code, case.status) for case in combined.values()] == [("A", 400), ("B", 401)]
    assert isinstance(combined.error("A"), ServiceError)


def test_wuying_error_cases_are_those_its_settings_may_rename():
    from mockcloud.services.wuying.errors import ERRORS

    schema = json.loads((ROOT / "fixtures" / "wuying.schema.json").read_text())
    names = schema["properties"]["settings"]["properties"]["error_codes"]["propertyNames"]["enum"]
    assert set(names) == set(ERRORS)


def test_wuying_error_codes_setting_renames_through_the_table():
    settings = {"wuying": {"error_codes": {"wrong_password": "Auth.Failed"}}}
    with mock_cloud(services=["wuying"], settings=settings) as cloud, pytest.raises(ServiceError) as caught:
        cloud.wuying.logon.get_login_token(
            region_id="cn-hangzhou", client_id="c", end_user_id="alice", password="wrong"
        )
    assert caught.value.code == "Auth.Failed"


# ---- WUYING's model takes keywords -------------------------------------------------------
def test_wuying_logon_takes_keywords_and_stages_are_the_wire_names():
    from mockcloud.services.wuying.errors import MissingInput
    from mockcloud.services.wuying.logon import Stage

    schema = json.loads((SERVICES / "wuying" / "schemas" / "GetLoginToken.json").read_text())
    assert [stage.value for stage in Stage] == schema["properties"]["CurrentStage"]["enum"]
    with mock_cloud(services=["wuying"]) as cloud:
        logon = cloud.wuying.logon
        done = logon.get_login_token(
            region_id="cn-hangzhou", client_id="c", end_user_id="alice", password="Alice-Passw0rd"
        )
        assert done["LoginToken"].startswith("v1") and cloud.wuying.login_token(done["LoginToken"]) is not None
        with pytest.raises(MissingInput) as missed:
            logon.get_login_token(region_id="cn-hangzhou", client_id="c", current_stage=Stage.MFA_VERIFY)
        assert missed.value.name == "session_id"
