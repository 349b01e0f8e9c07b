"""Amplify Studio's side of Amplify UI Builder, driven by boto3: what Studio does after its Figma token exchange.

Components, themes and forms (Create, Get, List, Update, Delete, Export, with paging and
``clientToken`` idempotency), codegen jobs whose status moves on the mock clock,
GetMetadata and PutMetadataFlag, and tags. Every test runs in-process and against the
live server; the server's state is shared by the session, so each test works in an
app of its own.
"""

from __future__ import annotations

import itertools
import uuid

import pytest
from botocore.exceptions import ClientError

from mockcloud import mock_cloud
from tests.helpers import aws_client, error_of
from tests.services.amplifyuibuilder.support import REGION, ui_client

ACCOUNT = "123456789012"
_apps = itertools.count()


@pytest.fixture
def env(backend):
    """An app environment of this test's own: ``appId`` matches the model's pattern (``d[a-z0-9]+``)."""
    return {"appId": f"d{uuid.uuid4().hex[:12]}{next(_apps)}"[:20], "environmentName": "staging"}


def component(name: str = "ProductCard", **extra) -> dict:
    return {
        "name": name,
        "componentType": "Flex",
        "properties": {"padding": {"value": "8px"}, "title": {"bindingProperties": {"property": "product"}}},
        "variants": [{"variantValues": {"size": "small"}, "overrides": {"Heading": {"fontSize": "12px"}}}],
        "overrides": {},
        "bindingProperties": {"product": {"type": "Data", "bindingProperties": {"model": "Product"}}},
        "children": [{"componentType": "Heading", "name": "Heading", "properties": {"level": {"value": "3"}}}],
        "schemaVersion": "1.0",
        **extra,
    }


def theme(name: str = "dark", **extra) -> dict:
    return {"name": name, "values": [{"key": "tokens", "value": {"children": [{"key": "colors"}]}}], **extra}


def form(name: str = "ProductCreateForm", **extra) -> dict:
    return {
        "name": name,
        "dataType": {"dataSourceType": "DataStore", "dataTypeName": "Product"},
        "formActionType": "create",
        "fields": {"title": {"label": "Title", "inputType": {"type": "TextField", "required": True}}},
        "style": {"horizontalGap": {"tokenReference": "space.small"}},
        "sectionalElements": {"Heading": {"type": "Heading", "text": "New product", "level": 2}},
        "schemaVersion": "1.0",
        "cta": {"position": "bottom", "submit": {"children": "Save"}},
        **extra,
    }


def assert_error(excinfo, code: str, status: int, fragment: str = "") -> str:
    got_code, got_status, message = error_of(excinfo)
    assert (got_code, got_status) == (code, status), (got_code, got_status, message)
    assert fragment in message, message
    headers = excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == code and headers["date"].endswith(" GMT")
    return message


def arn(env: dict, plural: str, identifier: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return (
        f"arn:aws:amplifyuibuilder:{region}:{account}:app/{env['appId']}/environment/"
        f"{env['environmentName']}/{plural}/{identifier}"
    )


# ---- components ---------------------------------------------------------------------------------


def test_component_lifecycle_create_get_list_update_export_delete(backend, ui, env):
    created = ui.create_component(**env, componentToCreate=component(tags={"team": "web"}))["entity"]
    assert created["name"] == "ProductCard" and created["componentType"] == "Flex"
    assert created["appId"] == env["appId"] and created["environmentName"] == "staging"
    assert str(uuid.UUID(created["id"])) == created["id"]
    assert created["children"][0]["name"] == "Heading" and created["tags"] == {"team": "web"}
    assert "modifiedAt" not in created

    got = ui.get_component(**env, id=created["id"])["component"]
    assert got == created
    summaries = ui.list_components(**env)["entities"]
    assert summaries == [
        {
            "appId": env["appId"],
            "environmentName": "staging",
            "id": created["id"],
            "name": "ProductCard",
            "componentType": "Flex",
        }
    ]

    backend.advance(60)
    with backend.signing_time():
        updated = ui.update_component(
            **env, id=created["id"], updatedComponent={"name": "ProductTile", "properties": {"gap": {"value": "4"}}}
        )["entity"]
        assert updated["name"] == "ProductTile" and updated["properties"] == {"gap": {"value": "4"}}
        assert updated["variants"] == created["variants"]  # what the update did not send stays
        assert updated["createdAt"] == created["createdAt"]
        assert (updated["modifiedAt"] - created["createdAt"]).total_seconds() == pytest.approx(60, abs=1)
        exported = ui.export_components(**env)["entities"]
        assert exported == [updated]

        ui.delete_component(**env, id=created["id"])
        with pytest.raises(ClientError) as excinfo:
            ui.get_component(**env, id=created["id"])
        assert_error(excinfo, "ResourceNotFoundException", 404, created["id"])
        with pytest.raises(ClientError) as excinfo:
            ui.delete_component(**env, id=created["id"])
        assert_error(excinfo, "ResourceNotFoundException", 404)
        assert ui.list_components(**env)["entities"] == []


def test_component_names_are_unique_per_app_environment(ui, env):
    first = ui.create_component(**env, componentToCreate=component("Hero"))["entity"]
    with pytest.raises(ClientError) as excinfo:
        ui.create_component(**env, componentToCreate=component("Hero"))
    assert_error(excinfo, "ResourceConflictException", 409, "Hero")
    other = ui.create_component(**env, componentToCreate=component("Footer"))["entity"]
    with pytest.raises(ClientError) as excinfo:
        ui.update_component(**env, id=other["id"], updatedComponent={"name": "Hero"})
    assert_error(excinfo, "ResourceConflictException", 409)
    # another environment of the same app has names of its own
    assert ui.create_component(**{**env, "environmentName": "prod"}, componentToCreate=component("Hero"))["entity"]
    # renaming to its own name is no conflict
    assert ui.update_component(**env, id=first["id"], updatedComponent={"name": "Hero"})["entity"]["name"] == "Hero"


def test_client_token_makes_create_and_update_idempotent(ui, env):
    first = ui.create_component(**env, componentToCreate=component(), clientToken="create-once")["entity"]
    again = ui.create_component(**env, componentToCreate=component(), clientToken="create-once")["entity"]
    assert again == first
    assert len(ui.list_components(**env)["entities"]) == 1
    with pytest.raises(ClientError) as excinfo:
        ui.create_component(**env, componentToCreate=component("Other"), clientToken="create-once")
    assert_error(excinfo, "ResourceConflictException", 409, "create-once")

    change = {"properties": {"gap": {"value": "2"}}}
    updated = ui.update_component(**env, id=first["id"], updatedComponent=change, clientToken="u-1")["entity"]
    ui.update_component(**env, id=first["id"], updatedComponent={"name": "Renamed"})
    replay = ui.update_component(**env, id=first["id"], updatedComponent=change, clientToken="u-1")["entity"]
    assert replay == updated  # the first answer, and the later rename is not undone
    assert ui.get_component(**env, id=first["id"])["component"]["name"] == "Renamed"
    # without a token, botocore makes one per call (idempotencyToken): two calls, two components
    ui.create_component(**env, componentToCreate=component("A"))
    ui.create_component(**env, componentToCreate=component("B"))
    assert len(ui.list_components(**env)["entities"]) == 3


def test_list_pages_with_max_results_and_next_token(ui, env):
    names = [f"C{i:02d}" for i in range(7)]
    for name in names:
        ui.create_component(**env, componentToCreate=component(name))
    seen, token, pages = [], None, 0
    while True:
        page = ui.list_components(**env, maxResults=3, **({"nextToken": token} if token else {}))
        seen += [e["name"] for e in page["entities"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert (seen, pages) == (names, 3)
    paginated = ui.get_paginator("list_components").paginate(**env, PaginationConfig={"PageSize": 2})
    assert [e["name"] for page in paginated for e in page["entities"]] == names
    exported = ui.get_paginator("export_components").paginate(**env)
    assert [e["name"] for page in exported for e in page["entities"]] == names
    # a token is bound to its query
    token = ui.list_components(**env, maxResults=3)["nextToken"]
    with pytest.raises(ClientError) as excinfo:
        ui.list_themes(**env, nextToken=token)
    assert_error(excinfo, "InvalidParameterException", 400, "nextToken")


def test_export_pages_hold_fifty_entities(ui, env):
    for i in range(51):
        ui.create_theme(**env, themeToCreate=theme(f"t{i}"))
    first = ui.export_themes(**env)
    assert len(first["entities"]) == 50 and first["nextToken"]
    second = ui.export_themes(**env, nextToken=first["nextToken"])
    assert [t["name"] for t in second["entities"]] == ["t50"] and "nextToken" not in second


# ---- themes and forms ---------------------------------------------------------------------------


def test_theme_lifecycle(ui, env):
    created = ui.create_theme(**env, themeToCreate=theme(overrides=[{"key": "mode", "value": {"value": "dark"}}]))
    entity = created["entity"]
    assert entity["values"][0]["key"] == "tokens" and entity["overrides"][0]["value"] == {"value": "dark"}
    assert ui.get_theme(**env, id=entity["id"])["theme"] == entity
    assert ui.list_themes(**env)["entities"] == [
        {"appId": env["appId"], "environmentName": "staging", "id": entity["id"], "name": "dark"}
    ]
    updated = ui.update_theme(**env, id=entity["id"], updatedTheme={"values": [{"key": "font"}], "name": "light"})
    assert updated["entity"]["name"] == "light" and updated["entity"]["values"] == [{"key": "font"}]
    assert ui.export_themes(**env)["entities"] == [updated["entity"]]
    ui.delete_theme(**env, id=entity["id"])
    with pytest.raises(ClientError) as excinfo:
        ui.get_theme(**env, id=entity["id"])
    assert_error(excinfo, "ResourceNotFoundException", 404)


def test_update_theme_needs_values_and_a_matching_id(backend, ui, env):
    entity = ui.create_theme(**env, themeToCreate=theme())["entity"]
    raw = backend.client(validate=False)
    with pytest.raises(ClientError) as excinfo:
        raw.update_theme(**env, id=entity["id"], updatedTheme={"name": "x"})
    assert error_of(excinfo)[2] == (
        "1 validation error detected: Value null at 'updatedTheme.values' failed to satisfy constraint: "
        "Member must not be null"
    )
    with pytest.raises(ClientError) as excinfo:
        ui.update_theme(**env, id=entity["id"], updatedTheme={"id": str(uuid.uuid4()), "values": []})
    assert_error(excinfo, "InvalidParameterException", 400, "does not match")
    with pytest.raises(ClientError) as excinfo:
        ui.update_theme(**env, id=str(uuid.uuid4()), updatedTheme={"values": []})
    assert_error(excinfo, "ResourceNotFoundException", 404)


def test_form_lifecycle(ui, env):
    entity = ui.create_form(**env, formToCreate=form(labelDecorator="required"))["entity"]
    assert entity["formActionType"] == "create" and entity["cta"]["submit"] == {"children": "Save"}
    assert entity["labelDecorator"] == "required" and "createdAt" not in entity  # a Form has no timestamps
    assert ui.get_form(**env, id=entity["id"])["form"] == entity
    assert ui.list_forms(**env)["entities"] == [
        {
            "appId": env["appId"],
            "dataType": {"dataSourceType": "DataStore", "dataTypeName": "Product"},
            "environmentName": "staging",
            "formActionType": "create",
            "id": entity["id"],
            "name": "ProductCreateForm",
        }
    ]
    updated = ui.update_form(**env, id=entity["id"], updatedForm={"formActionType": "update"})["entity"]
    assert updated["formActionType"] == "update" and updated["fields"] == entity["fields"]
    assert ui.export_forms(**env)["entities"] == [updated]
    ui.delete_form(**env, id=entity["id"])
    assert ui.list_forms(**env)["entities"] == []


def test_validation_comes_from_the_model_with_aws_messages(backend, env):
    raw = backend.client(validate=False)
    bad = component()
    del bad["componentType"]
    with pytest.raises(ClientError) as excinfo:
        raw.create_component(**env, componentToCreate=bad)
    assert error_of(excinfo)[2] == (
        "1 validation error detected: Value null at 'componentToCreate.componentType' failed to satisfy "
        "constraint: Member must not be null"
    )
    with pytest.raises(ClientError) as excinfo:
        raw.create_component(**env, componentToCreate=component(name=""))
    assert "Member must have length greater than or equal to 1" in error_of(excinfo)[2]
    with pytest.raises(ClientError) as excinfo:
        raw.list_components(**env, maxResults=0)
    assert error_of(excinfo)[:3] == (
        "InvalidParameterException",
        400,
        "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    )
    with pytest.raises(ClientError) as excinfo:
        raw.create_form(**env, formToCreate=form(formActionType="delete"))
    assert "Member must satisfy enum value set: [create, update]" in error_of(excinfo)[2]
    with pytest.raises(ClientError) as excinfo:
        raw.list_codegen_jobs(appId="Not-An-App", environmentName="staging")
    assert "Member must satisfy regular expression pattern: d[a-z0-9]+" in error_of(excinfo)[2]
    assert raw.list_components(**env)["entities"] == []  # nothing was created


def test_records_belong_to_the_callers_region(backend, ui, env):
    entity = ui.create_component(**env, componentToCreate=component())["entity"]
    other = aws_client("amplifyuibuilder", backend.server_url, region="eu-west-1")
    assert other.list_components(**env)["entities"] == []
    with pytest.raises(ClientError) as excinfo:
        other.get_component(**env, id=entity["id"])
    assert_error(excinfo, "ResourceNotFoundException", 404)


def test_records_belong_to_the_callers_account():
    with mock_cloud(services=["amplifyuibuilder"]) as cloud:
        cloud.credentials.add_aws("AKIDOTHERACCOUNT", "other-secret", account_id="210987654321")
        mine, theirs = ui_client(), ui_client(key="AKIDOTHERACCOUNT", secret="other-secret")
        env = {"appId": "d1", "environmentName": "dev"}
        entity = mine.create_component(**env, componentToCreate=component())["entity"]
        assert theirs.list_components(**env)["entities"] == []
        assert theirs.create_component(**env, componentToCreate=component())["entity"]["id"] != entity["id"]
        with pytest.raises(ClientError) as excinfo:
            theirs.tag_resource(resourceArn=arn(env, "components", entity["id"]), tags={"a": "b"})
        assert_error(excinfo, "ResourceNotFoundException", 404)


def test_quotas_per_app_environment():
    settings = {"amplifyuibuilder": {"max_components": 2, "max_themes": 1, "max_forms": 0}}
    with mock_cloud(services=["amplifyuibuilder"], settings=settings):
        ui, env = ui_client(), {"appId": "d1", "environmentName": "dev"}
        ui.create_component(**env, componentToCreate=component("A"))
        ui.create_component(**env, componentToCreate=component("B"))
        with pytest.raises(ClientError) as excinfo:
            ui.create_component(**env, componentToCreate=component("C"))
        assert_error(excinfo, "ServiceQuotaExceededException", 402, "(2)")
        ui.create_theme(**env, themeToCreate=theme())
        with pytest.raises(ClientError) as excinfo:
            ui.create_theme(**env, themeToCreate=theme("light"))
        assert_error(excinfo, "ServiceQuotaExceededException", 402)
        with pytest.raises(ClientError) as excinfo:
            ui.create_form(**env, formToCreate=form())
        assert_error(excinfo, "ServiceQuotaExceededException", 402)
        # another environment has a quota of its own
        assert ui.create_component(appId="d1", environmentName="prod", componentToCreate=component("C"))


# ---- codegen jobs -------------------------------------------------------------------------------

REACT = {"react": {"module": "es2020", "target": "es2015", "script": "tsx", "renderTypeDeclarations": True}}


def test_codegen_job_moves_from_in_progress_to_succeeded_on_the_mock_clock(backend, ui, env):
    job = ui.start_codegen_job(
        **env, codegenJobToCreate={"renderConfig": REACT, "autoGenerateForms": True, "tags": {"ci": "1"}}
    )["entity"]
    assert job["status"] == "in_progress" and "asset" not in job
    assert job["renderConfig"] == REACT and job["autoGenerateForms"] is True and job["tags"] == {"ci": "1"}
    assert ui.get_codegen_job(**env, id=job["id"])["job"]["status"] == "in_progress"
    backend.advance(4)
    with backend.signing_time():
        assert ui.get_codegen_job(**env, id=job["id"])["job"]["status"] == "in_progress"
    backend.advance(1)
    with backend.signing_time():
        done = ui.get_codegen_job(**env, id=job["id"])["job"]
        assert done["status"] == "succeeded"
        assert done["asset"]["downloadUrl"].startswith("https://") and job["id"] in done["asset"]["downloadUrl"]
        assert {d["name"] for d in done["dependencies"]} == {"@aws-amplify/ui-react", "aws-amplify"}
        assert (done["modifiedAt"] - done["createdAt"]).total_seconds() == 5
        listed = ui.list_codegen_jobs(**env)["entities"]
        assert [(j["id"], j["modifiedAt"]) for j in listed] == [(job["id"], done["modifiedAt"])]


def test_codegen_job_failure_paging_and_client_token(backend, ui, env):
    first = ui.start_codegen_job(**env, codegenJobToCreate={"renderConfig": REACT}, clientToken="job-1")["entity"]
    again = ui.start_codegen_job(**env, codegenJobToCreate={"renderConfig": REACT}, clientToken="job-1")["entity"]
    assert again == first
    second = ui.start_codegen_job(**env, codegenJobToCreate={"renderConfig": REACT})["entity"]
    backend.model.fail_codegen_job(second["id"], "Unsupported component: Fancy")
    failed = ui.get_codegen_job(**env, id=second["id"])["job"]
    assert (failed["status"], failed["statusMessage"]) == ("failed", "Unsupported component: Fancy")
    page = ui.list_codegen_jobs(**env, maxResults=1)
    assert [j["id"] for j in page["entities"]] == [first["id"]]
    rest = ui.list_codegen_jobs(**env, maxResults=1, nextToken=page["nextToken"])
    assert [j["id"] for j in rest["entities"]] == [second["id"]] and "nextToken" not in rest
    with pytest.raises(ClientError) as excinfo:
        ui.get_codegen_job(**env, id=str(uuid.uuid4()))
    assert_error(excinfo, "ResourceNotFoundException", 404)


def test_codegen_render_config_is_a_union(backend, env):
    raw = backend.client(validate=False)
    with pytest.raises(ClientError) as excinfo:
        raw.start_codegen_job(**env, codegenJobToCreate={"renderConfig": {}})
    assert_error(excinfo, "InvalidParameterException", 400, "exactly one of: react")
    api = {"dataStoreConfig": {}, "noApiConfig": {}}
    with pytest.raises(ClientError) as excinfo:
        raw.start_codegen_job(**env, codegenJobToCreate={"renderConfig": {"react": {"apiConfiguration": api}}})
    assert_error(excinfo, "InvalidParameterException", 400, "apiConfiguration")
    assert raw.list_codegen_jobs(**env)["entities"] == []


# ---- metadata and tags ----------------------------------------------------------------------------


def test_metadata_flags_per_app_environment(ui, env):
    assert ui.get_metadata(**env)["features"] == {}
    ui.put_metadata_flag(**env, featureName="autoGenerateForms", body={"newValue": "true"})
    ui.put_metadata_flag(**env, featureName="autoGenerateViews", body={"newValue": "false"})
    ui.put_metadata_flag(**env, featureName="autoGenerateForms", body={"newValue": "false"})
    assert ui.get_metadata(**env)["features"] == {"autoGenerateForms": "false", "autoGenerateViews": "false"}
    assert ui.get_metadata(**{**env, "environmentName": "prod"})["features"] == {}


def test_tags_on_every_kind(ui, env):
    made = {
        "components": ui.create_component(**env, componentToCreate=component(tags={"k": "v"}))["entity"]["id"],
        "themes": ui.create_theme(**env, themeToCreate=theme())["entity"]["id"],
        "forms": ui.create_form(**env, formToCreate=form(tags={"k": "v"}))["entity"]["id"],
        "codegen-jobs": ui.start_codegen_job(**env, codegenJobToCreate={"renderConfig": REACT})["entity"]["id"],
    }
    for plural, identifier in made.items():
        resource = arn(env, plural, identifier)
        ui.tag_resource(resourceArn=resource, tags={"owner": "studio", "stage": "beta"})
        tags = ui.list_tags_for_resource(resourceArn=resource)["tags"]
        assert tags["owner"] == "studio" and tags["stage"] == "beta", plural
        ui.untag_resource(resourceArn=resource, tagKeys=["stage", "k", "never-set"])
        assert ui.list_tags_for_resource(resourceArn=resource)["tags"] == {"owner": "studio"}, plural
    assert ui.get_component(**env, id=made["components"])["component"]["tags"] == {"owner": "studio"}


def test_tag_refusals(backend, ui, env):
    entity = ui.create_component(**env, componentToCreate=component())["entity"]
    with pytest.raises(ClientError) as excinfo:
        ui.list_tags_for_resource(resourceArn="arn:aws:s3:::bucket")
    assert_error(excinfo, "InvalidParameterException", 400, "not valid")
    with pytest.raises(ClientError) as excinfo:
        ui.tag_resource(resourceArn=arn(env, "components", str(uuid.uuid4())), tags={"a": "b"})
    assert_error(excinfo, "ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        ui.list_tags_for_resource(resourceArn=arn(env, "themes", entity["id"]))  # a component is no theme
    assert_error(excinfo, "ResourceNotFoundException", 404)
    raw = backend.client(validate=False)
    with pytest.raises(ClientError) as excinfo:
        raw.tag_resource(resourceArn=arn(env, "components", entity["id"]), tags={"aws:reserved": "x"})
    assert "failed to satisfy constraint" in error_of(excinfo)[2]
    with pytest.raises(ClientError) as excinfo:
        raw.untag_resource(resourceArn=arn(env, "components", entity["id"]), tagKeys=["aws:x"])
    assert "Member must satisfy regular expression pattern" in error_of(excinfo)[2]


def test_what_studio_does_after_the_figma_token_exchange(backend, ui, env):
    """The path the issue names: exchange Figma's code, sync components and a theme, generate code."""
    tokens = ui.exchange_code_for_token(
        provider="figma",
        request={"code": backend.model.create_authorization_code(), "redirectUri": backend_redirect()},
    )
    assert backend.figma(token=tokens["accessToken"]).status_code == 200
    ui.put_metadata_flag(**env, featureName="autoGenerateForms", body={"newValue": "true"})
    card = ui.create_component(**env, componentToCreate=component(sourceId="1:23"), clientToken="figma-sync-1")
    ui.create_theme(**env, themeToCreate=theme("studio-theme"), clientToken="figma-sync-2")
    job = ui.start_codegen_job(**env, codegenJobToCreate={"renderConfig": REACT, "autoGenerateForms": True})
    backend.advance(5)
    with backend.signing_time():
        assert ui.get_codegen_job(**env, id=job["entity"]["id"])["job"]["status"] == "succeeded"
        exported = ui.export_components(**env)["entities"]
        assert [c["sourceId"] for c in exported] == ["1:23"] and exported[0]["id"] == card["entity"]["id"]


def backend_redirect() -> str:
    return "https://mockcloud.example/figma/callback"


def test_a_client_token_is_kept_for_a_day_then_acts_anew():
    with mock_cloud(services=["amplifyuibuilder"]) as cloud:
        ui, env = ui_client(), {"appId": "d1", "environmentName": "dev"}
        first = ui.create_theme(**env, themeToCreate=theme(), clientToken="t")["entity"]
        cloud.clock.advance(86399)
        assert ui.create_theme(**env, themeToCreate=theme(), clientToken="t")["entity"] == first
        cloud.clock.advance(1)
        with pytest.raises(ClientError) as excinfo:  # acts anew: the name is taken now
            ui.create_theme(**env, themeToCreate=theme(), clientToken="t")
        assert_error(excinfo, "ResourceConflictException", 409, "dark")
        assert [u.token for u in cloud.amplifyuibuilder.studio.client_tokens.values()] == ["t"]
