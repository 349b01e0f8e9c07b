"""Amplify UI Builder in a snapshot: Figma apps, users, single-use codes and tokens.

Driven with boto3 and Figma's /v1/me.

Every test runs in-process and against the live server. The state holds a
code used, one expired and one not yet exchanged; a refresh token live and one
revoked (with its access token); an access token revoked on its own.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from mockcloud import mock_cloud
from tests.services.amplifyuibuilder.support import Backend
from tests.snapshot_helpers import FrozenTime, assert_refused, check_document, restored, started_from, take

SERVICES = ["amplifyuibuilder"]
CLIENT_ID = "snap-client"
REDIRECT_URI = "https://snap.example/figma/callback"
DEFAULT_PROFILE_ID = "1234567890123456789"  # the embedded default user
NINETY_DAYS = 90 * 86400


def exchange(ui, code: str, *, own_app: bool = False) -> dict:
    request = (
        {"code": code, "redirectUri": REDIRECT_URI, "clientId": CLIENT_ID}
        if own_app
        else {"code": code, "redirectUri": "https://mockcloud.example/figma/callback"}
    )
    return ui.exchange_code_for_token(provider="figma", request=request)


def refresh(ui, token: str, *, own_app: bool = False) -> dict:
    return ui.refresh_token(
        provider="figma", refreshTokenBody={"token": token, **({"clientId": CLIENT_ID} if own_app else {})}
    )


def refused(call, fragment: str) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    error = exc.value.response["Error"]
    assert error["Code"] == "InvalidParameterException" and fragment in error["Message"], error


def build(backend: Backend, time: FrozenTime) -> dict:
    figma, ui = backend.cloud.amplifyuibuilder, backend.client()
    figma.register_app(CLIENT_ID, [REDIRECT_URI], name="Snap")
    figma.add_user("42", "Snap User", "snap@example.com", "https://s3-alpha.figma.com/profile/snap")
    state = {"stale": figma.create_authorization_code()}
    time.advance(601)  # codes live 600 seconds
    state["used"] = figma.create_authorization_code()
    first = exchange(ui, state["used"])
    state["refresh"], state["access"] = first["refreshToken"], first["accessToken"]
    state["revoked_access"] = refresh(ui, state["refresh"])["accessToken"]
    figma.revoke_access_token(state["revoked_access"])
    second = exchange(ui, figma.create_authorization_code(CLIENT_ID, user_id="42"), own_app=True)
    state["revoked_refresh"], state["access_of_revoked"] = second["refreshToken"], second["accessToken"]
    figma.revoke_refresh_token(state["revoked_refresh"])
    state["unused"] = figma.create_authorization_code(CLIENT_ID, user_id="42")
    return state


def me(backend: Backend, token: str) -> tuple[int, str | None]:
    reply = backend.figma(token=token)
    return reply.status_code, reply.json().get("id")


def test_restore_is_exact_codes_are_single_use_and_tokens_keep_their_rules(backend):
    cloud, ui = backend.cloud, backend.client()
    with FrozenTime(cloud, backend.server_url) as time:
        state = build(backend, time)
        document = take(cloud)
        check_document(document, SERVICES)
        section = document["amplifyuibuilder"]
        assert sorted(c["used"] for c in section["authorization_codes"]) == [False, False, True, True]
        assert sorted(t["revoked"] for t in section["access_tokens"]) == [False, True, True]

        with restored(cloud, backend.server_url, document, SERVICES) as fresh:
            assert take(fresh) == document
            # codes: the used one stays used, the expired one expired; the unused one is exchanged once
            refused(lambda: exchange(ui, state["used"]), "already been used")
            refused(lambda: exchange(ui, state["stale"]), "expired")
            granted = exchange(ui, state["unused"], own_app=True)
            assert me(backend, granted["accessToken"]) == (200, "42")
            refused(lambda: exchange(ui, state["unused"], own_app=True), "already been used")
            # tokens: the live refresh token redeems (again and again: Figma's do not rotate), the revoked one does not
            assert me(backend, refresh(ui, state["refresh"])["accessToken"]) == (200, DEFAULT_PROFILE_ID)
            refused(lambda: refresh(ui, state["revoked_refresh"], own_app=True), "revoked")
            assert me(backend, state["access"]) == (200, DEFAULT_PROFILE_ID)
            assert me(backend, state["revoked_access"])[0] == 403
            assert me(backend, state["access_of_revoked"])[0] == 403
            time.advance(NINETY_DAYS)  # the first access token ends at its time after the restore too
            assert me(backend, state["access"])[0] == 403


def test_a_saved_snapshot_is_a_fixtures_file(backend, tmp_path):
    cloud = backend.cloud
    with FrozenTime(cloud, backend.server_url) as time:
        state = build(backend, time)
        document = take(cloud)
    with started_from(document, tmp_path, SERVICES) as saved:
        assert saved.snapshot()["amplifyuibuilder"] == document["amplifyuibuilder"]
        local, ui = Backend(saved), Backend(saved).client()
        assert me(local, state["access"]) == (200, DEFAULT_PROFILE_ID)
        assert me(local, state["revoked_access"])[0] == 403
        refused(lambda: exchange(ui, state["used"]), "already been used")
        assert me(local, exchange(ui, state["unused"], own_app=True)["accessToken"]) == (200, "42")
        assert me(local, refresh(ui, state["refresh"])["accessToken"]) == (200, DEFAULT_PROFILE_ID)


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda s: s.update(authorization_codes="not a list"), id="wrong-type"),
        pytest.param(lambda s: s["refresh_tokens"][0].update(expires="later"), id="wrong-expiry-type"),
        pytest.param(lambda s: s["authorization_codes"][0].update(user_id="nobody"), id="code-of-an-unknown-user"),
        pytest.param(
            lambda s: s["access_tokens"][0].update(refresh_token="figur_unknown"),
            id="access-of-an-unknown-refresh-token",
        ),
        pytest.param(lambda s: s["access_tokens"][0].update(scope="files:read"), id="unknown-property"),
        pytest.param(lambda s: s["refresh_tokens"].append(s["refresh_tokens"][0]), id="two-refresh-tokens-in-one"),
        pytest.param(lambda s: s["authorization_codes"].append(s["authorization_codes"][0]), id="two-codes-in-one"),
        pytest.param(lambda s: s["users"].append(s["users"][0]), id="two-users-of-one-id"),
        pytest.param(lambda s: s["apps"].append(s["apps"][0]), id="two-apps-of-one-client-id"),
    ],
)
def test_a_corrupted_section_is_refused_and_the_mock_kept(backend, corrupt):
    cloud = backend.cloud
    with FrozenTime(cloud, backend.server_url) as time:
        state = build(backend, time)
        document = take(cloud)
        assert_refused(cloud, document, "amplifyuibuilder", corrupt)
        assert me(backend, state["access"]) == (200, DEFAULT_PROFILE_ID)


def test_a_seeded_mock_goes_on_with_the_same_sequence_after_a_restore():
    with mock_cloud(services=SERVICES, seed=5) as original:
        original.clock.freeze(1_800_000_000)
        original.amplifyuibuilder.create_authorization_code()
        document = original.snapshot()
        with mock_cloud(services=SERVICES) as fresh:
            fresh.restore(document)
            assert (
                fresh.amplifyuibuilder.create_authorization_code()
                == original.amplifyuibuilder.create_authorization_code()
            )


# ---- Amplify Studio's records ----------------------------------------------------------------------------

STUDIO_ENV = {"appId": "dsnapshot1", "environmentName": "main"}
REACT = {"react": {"module": "es2020", "target": "es2015", "script": "jsx"}}


def card(name: str) -> dict:
    return {
        "name": name,
        "componentType": "Flex",
        "properties": {},
        "variants": [],
        "overrides": {},
        "bindingProperties": {},
        "tags": {"kind": "card"},
    }


def build_studio(backend: Backend, time: FrozenTime) -> dict:
    ui = backend.client()
    made = {"card": ui.create_component(**STUDIO_ENV, componentToCreate=card("Card"), clientToken="c-1")["entity"]}
    time.advance(10)
    made["updated"] = ui.update_component(**STUDIO_ENV, id=made["card"]["id"], updatedComponent={"name": "Tile"})
    made["theme"] = ui.create_theme(**STUDIO_ENV, themeToCreate={"name": "dark", "values": []})["entity"]
    form = {
        "name": "F",
        "dataType": {"dataSourceType": "Custom", "dataTypeName": "Thing"},
        "formActionType": "create",
        "fields": {},
        "style": {},
        "sectionalElements": {},
        "schemaVersion": "1.0",
    }
    made["form"] = ui.create_form(**STUDIO_ENV, formToCreate=form)["entity"]
    made["done"] = ui.start_codegen_job(**STUDIO_ENV, codegenJobToCreate={"renderConfig": REACT})["entity"]
    made["failed"] = ui.start_codegen_job(**STUDIO_ENV, codegenJobToCreate={"renderConfig": REACT})["entity"]
    backend.cloud.amplifyuibuilder.fail_codegen_job(made["failed"]["id"], "broken")
    time.advance(5)
    made["running"] = ui.start_codegen_job(**STUDIO_ENV, codegenJobToCreate={"renderConfig": REACT})["entity"]
    ui.put_metadata_flag(**STUDIO_ENV, featureName="autoGenerateForms", body={"newValue": "true"})
    made["theme_arn"] = backend.cloud.amplifyuibuilder.resource_arn("theme", made["theme"]["id"])
    ui.tag_resource(resourceArn=made["theme_arn"], tags={"owner": "snap"})
    return made


def test_studio_records_restore_exactly_and_go_on(backend):
    cloud, ui = backend.cloud, backend.client()
    with FrozenTime(cloud, backend.server_url) as time:
        made = build_studio(backend, time)
        document = take(cloud)
        check_document(document, SERVICES)
        section = document["amplifyuibuilder"]
        assert [len(section[k]) for k in ("components", "themes", "forms", "codegen_jobs")] == [1, 1, 1, 3]
        # boto3 sends a fresh clientToken with every create, update and start: each is kept for retries
        assert {u["token"] for u in section["client_tokens"]} >= {"c-1"} and len(section["feature_flags"]) == 1

        with restored(cloud, backend.server_url, document, SERVICES) as fresh:
            assert take(fresh) == document
            env = STUDIO_ENV
            got = ui.get_component(**env, id=made["card"]["id"])["component"]
            assert got["name"] == "Tile" and got["modifiedAt"] and got["tags"] == {"kind": "card"}
            # the clientToken's first answer survives: a retry gets it, and creates nothing
            replay = ui.create_component(**env, componentToCreate=card("Card"), clientToken="c-1")["entity"]
            assert replay == made["card"] and len(ui.list_components(**env)["entities"]) == 1
            jobs = {j["id"]: j for j in ui.list_codegen_jobs(**env)["entities"]}
            assert list(jobs) == [made["done"]["id"], made["failed"]["id"], made["running"]["id"]]
            status = {k: ui.get_codegen_job(**env, id=made[k]["id"])["job"]["status"] for k in ("done", "failed")}
            assert status == {"done": "succeeded", "failed": "failed"}
            assert ui.get_codegen_job(**env, id=made["running"]["id"])["job"]["status"] == "in_progress"
            time.advance(5)  # the job still running when the snapshot was taken finishes on time after it
            assert ui.get_codegen_job(**env, id=made["running"]["id"])["job"]["status"] == "succeeded"
            assert ui.get_metadata(**env)["features"] == {"autoGenerateForms": "true"}
            assert ui.list_tags_for_resource(resourceArn=made["theme_arn"])["tags"] == {"owner": "snap"}
            assert ui.get_form(**env, id=made["form"]["id"])["form"] == made["form"]


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda s: s["components"][0].update(members="not an object"), id="component-members"),
        pytest.param(lambda s: s["codegen_jobs"][0].update(outcome="maybe"), id="job-outcome"),
        pytest.param(lambda s: s["client_tokens"][0].update(fingerprint="short"), id="token-fingerprint"),
        pytest.param(lambda s: s["themes"][0].update(account_id="not-an-account"), id="theme-account"),
        pytest.param(lambda s: s["feature_flags"][0].update(features={"f": 1}), id="flag-value"),
        pytest.param(lambda s: s["components"].append(s["components"][0]), id="two-components-of-one-id"),
        pytest.param(
            lambda s: s["themes"].append({**s["themes"][0], "id": "00000000-0000-4000-8000-000000000000"}),
            id="two-themes-of-one-name-in-one-environment",
        ),
        pytest.param(lambda s: s["codegen_jobs"].append(s["codegen_jobs"][0]), id="two-jobs-of-one-id"),
    ],
)
def test_a_corrupted_studio_section_is_refused_and_the_mock_kept(backend, corrupt):
    cloud = backend.cloud
    with FrozenTime(cloud, backend.server_url) as time:
        build_studio(backend, time)
        document = take(cloud)
        assert_refused(cloud, document, "amplifyuibuilder", corrupt)
