"""License Manager's state by entity: what expires is dropped on the mock clock in every store, and two servers on
one store check out different licenses side by side while the last seat of one has exactly one taker."""

from __future__ import annotations

import threading
import uuid

import pytest
from botocore.exceptions import ClientError

from mockcloud import MockCloud
from mockcloud.core.entities import KEPT_SECONDS
from mockcloud.core.errors import ServiceError
from mockcloud.state.store import MemoryStore
from tests.helpers import lm_client
from tests.redis_support import RedisServer, ServerProcess
from tests.services.licensemanager.support import BUYER, FINGERPRINT, SELLER, new_license

DAY = 86400


def checkout(lm, sku: str = "WIDGET-PRO", checkout_type: str = "PROVISIONAL") -> dict:
    return lm.checkout_license(
        ProductSKU=sku,
        CheckoutType=checkout_type,
        KeyFingerprint=FINGERPRINT,
        Beneficiary=f"arn:aws:iam::{BUYER}:root",
        Entitlements=[{"Name": "Seats", "Unit": "Count", "Value": "1"}],
        ClientToken=uuid.uuid4().hex,
    )


@pytest.fixture(params=["memory", "shared-memory", "sqlite"])
def cloud(request, tmp_path):
    store = None
    if request.param == "shared-memory":
        store = MemoryStore()
    elif request.param == "sqlite":
        from mockcloud.state.sqlite_store import SqliteStore

        store = SqliteStore(tmp_path / "state.db")
    cloud = MockCloud(services=["licensemanager"], store=store, patch_time=False, intercept=False)
    cloud.start()
    yield cloud, store
    cloud.stop()
    if store is not None:
        cloud.state.close()


def test_expired_tokens_checkouts_and_client_tokens_are_dropped_in_every_store(cloud):
    cloud, store = cloud
    model = cloud.licensemanager
    arn = new_license(_Helpers(model), seats=100)
    where = {"account_id": SELLER, "region": "us-east-1"}
    tokens = [model.create_token(**where, license_arn=arn, client_token=uuid.uuid4().hex) for _ in range(3)]
    taken = [model_checkout(model)["LicenseConsumptionToken"] for _ in range(5)]
    perpetual = model_checkout(model, "PERPETUAL")["LicenseConsumptionToken"]
    before = cloud.snapshot()["licensemanager"]
    assert len(before["tokens"]) == 3 and len(before["consumptions"]) == 6 and len(before["client_tokens"]) == 10

    cloud.clock.advance(days=400)  # past the refresh tokens' year, the checkouts' hour and a ClientToken's minutes
    assert cloud.clock.time() > before["tokens"][0]["expires"] + KEPT_SECONDS
    for _ in range(40):  # writes drop the old a few at a time
        model.create_token(**where, license_arn=arn, client_token=uuid.uuid4().hex, expiration_in_days=1)
    if store is not None:
        dumped = store.dump()
        assert dumped is not None
        held = [entity for entity, _ in dumped[1] if entity.startswith("licensemanager/checkout/")]
        assert held == [f"licensemanager/checkout/{perpetual}"]
    after = cloud.snapshot()["licensemanager"]
    assert {t["token_id"] for t in after["tokens"]}.isdisjoint(t.token_id for t in tokens)
    assert [c["token"] for c in after["consumptions"]] == [perpetual]  # a PERPETUAL checkout answers for ever
    assert len(after["client_tokens"]) == 40  # the new ones only
    with pytest.raises(ServiceError) as excinfo:
        model.extend_license_consumption(account_id=SELLER, token=taken[0])
    assert excinfo.value.code == "ResourceNotFoundException"
    usage = model.get_license_usage(account_id=SELLER, license_arn=arn)["EntitlementUsages"]
    assert usage[0]["ConsumedValue"] == "1"  # the PERPETUAL seat; the expired ones hold nothing


class _Helpers:
    """The model's CreateLicense as ``new_license`` calls a client's (the default account's)."""

    def __init__(self, model) -> None:
        self.model = model

    def create_license(self, **params) -> dict:
        lic = self.model.create_license(
            license_name=params["LicenseName"],
            product_name=params["ProductName"],
            product_sku=params["ProductSKU"],
            issuer=params["Issuer"],
            validity=params["Validity"],
            entitlements=params["Entitlements"],
            beneficiary=params["Beneficiary"],
            consumption_configuration=params["ConsumptionConfiguration"],
            client_token=params["ClientToken"],
        )
        return {"LicenseArn": lic.arn}


def model_checkout(model, checkout_type: str = "PROVISIONAL") -> dict:
    return model.checkout_license(
        account_id=SELLER,
        product_sku="WIDGET-PRO",
        checkout_type=checkout_type,
        key_fingerprint=FINGERPRINT,
        beneficiary=f"arn:aws:iam::{BUYER}:root",
        entitlements=[{"Name": "Seats", "Unit": "Count", "Value": "1"}],
        client_token=uuid.uuid4().hex,
    )


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory):
    """Two ``mockcloud server`` processes on one Redis store, each transaction checked for unsaved changes."""
    redis = RedisServer(tmp_path_factory.mktemp("redis"))
    store = redis.url(prefix=f"lm-{uuid.uuid4().hex[:8]}")
    servers: list[ServerProcess] = []
    try:
        for _ in range(2):
            servers.append(ServerProcess(store, 2, env={"MOCKCLOUD_SHARED_VERIFY": "1"}))
        yield [lm_client(server.url) for server in servers]
    finally:
        for server in servers:
            stderr = server.stop()
            assert "changed without being written back" not in stderr
        redis.stop()


def race(calls) -> list[object]:
    """Each call at once, in its own thread; what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[i] = calls[i]()
        except ClientError as error:
            results[i] = error.response["Error"]["Code"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_two_servers_check_out_different_licenses_at_once_and_the_last_seat_once(two_servers):
    first, second = two_servers
    for round_ in range(3):
        skus = [f"SIDE-{round_}-A", f"SIDE-{round_}-B"]
        for sku in skus:
            new_license(first, sku=sku, seats=1)
        both = race([lambda sku=skus[0]: checkout(first, sku), lambda sku=skus[1]: checkout(second, sku)])
        assert all(isinstance(result, dict) for result in both), both  # different licenses: no conflict

        last = f"LAST-{round_}"
        arn = new_license(second, sku=last, seats=1)
        results = race([lambda sku=last: checkout(first, sku), lambda sku=last: checkout(second, sku)])
        winners = [r for r in results if isinstance(r, dict)]
        assert len(winners) == 1 and results.count("NoEntitlementsAllowedException") == 1, results
        for lm in (first, second):  # both servers count the one seat taken
            usage = lm.get_license_usage(LicenseArn=arn)["LicenseUsage"]["EntitlementUsages"]
            assert usage[0]["ConsumedValue"] == "1"
        first.check_in_license(LicenseConsumptionToken=winners[0]["LicenseConsumptionToken"])
        assert checkout(second, last)["EntitlementsAllowed"][0]["Value"] == "1"  # given back, taken again
