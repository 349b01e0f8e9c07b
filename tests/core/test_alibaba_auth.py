"""Alibaba signature schemes and TOTP: the documents' test vectors, and agreement with the SDKs' own signers."""

from __future__ import annotations

import hashlib
import random
import string
from types import SimpleNamespace

import pytest
from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from aliyunsdkcore.auth.composer import rpc_signature_composer

from mockcloud.core import otp
from mockcloud.core.auth import alibaba
from mockcloud.core.request import Request, build_environ

# Alibaba's classic DescribeRegions example (RPC signature v1 document).
V1_PARAMS = {
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "Format": "XML",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion": "1.0",
    "Timestamp": "2016-02-23T12:46:24Z",
    "Version": "2014-05-26",
}
V1_GET_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0"
    "%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
)

# The ACS3 document's RunInstances example.
V3_HEADERS = {
    "host": "ecs.cn-shanghai.aliyuncs.com",
    "x-acs-action": "RunInstances",
    "x-acs-version": "2014-05-26",
    "x-acs-date": "2023-10-26T09:01:01Z",
    "x-acs-signature-nonce": "d410180a5abf7fe235dd9b74aca91fc0",
    "x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}
V3_QUERY = [("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"), ("RegionId", "cn-shanghai")]
V3_SIGNED = sorted(V3_HEADERS)


def test_rpc_v1_document_vectors():
    assert alibaba.rpc_string_to_sign("GET", V1_PARAMS) == V1_GET_STRING_TO_SIGN
    assert alibaba.rpc_signature("testsecret", V1_GET_STRING_TO_SIGN) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert (
        alibaba.rpc_signature("testsecret", alibaba.rpc_string_to_sign("POST", V1_PARAMS))
        == "MxbnVAM4w6sft9xjVpe/GCKueuk="
    )
    older = {("TimeStamp" if k == "Timestamp" else k): v for k, v in V1_PARAMS.items()}
    assert (
        alibaba.rpc_signature("testsecret", alibaba.rpc_string_to_sign("GET", older)) == "CT9X0VtwR86fNWSnsc6v8YGOjuE="
    )


def test_rpc_v1_keeps_blank_values_and_drops_the_signature():
    """aliyunsdkcore signs ``SignatureType=`` (blank); dropping it would break every request it sends."""
    with_blank = {**V1_PARAMS, "SignatureType": "", "Signature": "ignored"}
    assert "SignatureType%3D%26" in alibaba.rpc_string_to_sign("GET", with_blank)
    assert "Signature%3Dignored" not in alibaba.rpc_string_to_sign("GET", with_blank)


def _random_value(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + " *~+/=:&%!'()@中文é-_."
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def test_rpc_v1_agrees_with_both_sdk_signers():
    rng = random.Random(5)
    for _ in range(50):
        params = {f"P{rng.randint(0, 99)}": _random_value(rng) for _ in range(rng.randint(1, 6))}
        params.update(V1_PARAMS)
        method = rng.choice(["GET", "POST"])
        ours = alibaba.rpc_signature("s3cr3t", alibaba.rpc_string_to_sign(method, params))
        assert ours == TeaUtils.get_rpcsignature(params, method, "s3cr3t")
        query, body = dict(params), {}
        _, sdk_string = rpc_signature_composer.get_signed_url(query, "testid", "s3cr3t", "XML", method, body)
        # the old SDK refreshes Timestamp/nonce and adds SignatureType=; sign what it signed
        signed = {**query}
        signed.pop("Signature", None)
        assert alibaba.rpc_string_to_sign(method, signed) == sdk_string


def test_acs3_document_vector():
    canonical = alibaba.acs3_canonical_request(
        "POST", "/", V3_QUERY, V3_HEADERS.__getitem__, V3_SIGNED, V3_HEADERS["x-acs-content-sha256"]
    )
    assert (
        canonical.splitlines()[2] == "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"
    )
    assert (
        hashlib.sha256(canonical.encode()).hexdigest()
        == "29622f5feb1e9fcaaa2e276a72889c975f7b16f00e02be1ca34965b18cd85015"
    )
    string_to_sign = alibaba.acs3_string_to_sign(canonical)
    assert alibaba.acs3_signature("YourAccessKeySecret", string_to_sign) == (
        "e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804"
    )


def test_acs3_agrees_with_the_tea_signer():
    rng = random.Random(6)
    for _ in range(30):
        query = {f"Q{i}": _random_value(rng) for i in range(rng.randint(0, 4))}
        headers = dict(V3_HEADERS, **{"x-acs-extra": _random_value(rng).strip() or "x"})
        tea_request = SimpleNamespace(pathname="/", method="POST", query=query, headers=headers)
        authorization = TeaUtils.get_authorization(
            tea_request, "ACS3-HMAC-SHA256", V3_HEADERS["x-acs-content-sha256"], "AK", "sk"
        )
        _, parts = alibaba.parse_acs3_authorization(authorization)
        signed = parts["SignedHeaders"].split(";")
        canonical = alibaba.acs3_canonical_request(
            "POST", "/", query.items(), headers.__getitem__, signed, V3_HEADERS["x-acs-content-sha256"]
        )
        assert alibaba.acs3_signature("sk", alibaba.acs3_string_to_sign(canonical)) == parts["Signature"]


def test_timestamp_parsing():
    assert alibaba.parse_timestamp("2016-02-23T12:46:24Z") == 1456231584
    assert alibaba.parse_timestamp("2016-02-23T12:46:24.250Z") == 1456231584.25
    for bad in (
        "2016-02-23 12:46:24",
        "2016-02-23T12:46:24",
        "2016-13-23T12:46:24Z",
        "yesterday",
        "",
        "2016-02-23T12:46:24.xZ",
    ):
        assert alibaba.parse_timestamp(bad) is None


def test_nonce_cache_remembers_within_the_window_only():
    nonces = alibaba.NonceCache(window=900)
    assert nonces.use("ak", "n1", signed_at=1000, now=1000)
    assert not nonces.use("ak", "n1", signed_at=1000, now=1500)
    assert nonces.use("other-key", "n1", signed_at=1000, now=1500)  # per AccessKey
    assert nonces.use("ak", "n1", signed_at=2000, now=2000)  # the first use has left the window
    for i in range(100):
        nonces.use("ak", f"x{i}", signed_at=3000, now=3000)
    nonces.use("ak", "late", signed_at=5000, now=5000)
    assert len(nonces) == 1  # expired entries are dropped


def _request(method: str, query: str, headers: dict, body: bytes = b"") -> Request:
    return Request(build_environ(method, f"http://ecd.cn-hangzhou.aliyuncs.com/?{query}", headers, body))


class _Keys:
    def alibaba(self, key_id):
        return {"testid": "testsecret"}.get(key_id)


def test_verify_rpc_v1_errors_in_the_gateway_wording():
    now = 1456231584.0
    params = {**V1_PARAMS, "Signature": "OLeaidS1JvxuMvnyHOwuJ+uX5qY="}
    request = _request("GET", "", {})
    nonces = alibaba.NonceCache()
    principal = alibaba.verify(request, params, _Keys(), now, nonces, body=b"")
    assert principal == alibaba.AlibabaPrincipal("testid", "v1")

    def refused(changes: dict, at: float = now, fresh: bool = True) -> tuple[str, int, str]:
        changed = {k: v for k, v in {**params, **changes}.items() if v is not None}
        with pytest.raises(alibaba.ServiceError) as exc:
            alibaba.verify(request, changed, _Keys(), at, alibaba.NonceCache() if fresh else nonces, body=b"")
        return exc.value.code, exc.value.status, exc.value.message

    assert refused({}, fresh=False) == ("SignatureNonceUsed", 400, "Specified signature nonce was used already.")
    assert refused({"Signature": "AAAA"})[:2] == ("SignatureDoesNotMatch", 400)
    assert refused({"Signature": "AAAA"})[2].split(":", 1)[1] == V1_GET_STRING_TO_SIGN
    assert refused({"AccessKeyId": "nobody"}) == (
        "InvalidAccessKeyId.NotFound",
        404,
        "Specified access key is not found.",
    )
    assert refused({}, at=now + 901)[:2] == ("InvalidTimeStamp.Expired", 400)
    assert refused({}, at=now - 901)[:2] == ("InvalidTimeStamp.Expired", 400)
    assert refused({"Timestamp": "2016-02-23 12:46:24"})[0] == "InvalidTimeStamp.Format"
    assert refused({"SignatureMethod": "HMAC-MD5"})[0] == "InvalidSignatureMethod"
    assert refused({"SignatureNonce": None}) == (
        "MissingSignatureNonce",
        400,
        "SignatureNonce is mandatory for this action.",
    )
    assert refused({"Signature": None})[0] == "MissingSignature"
    # within 15 minutes either way the time stamp is fine
    assert alibaba.verify(request, params, _Keys(), now + 899, alibaba.NonceCache(), body=b"")


def test_verify_acs3_errors():
    headers = dict(V3_HEADERS, host="ecd.cn-hangzhou.aliyuncs.com")
    tea_request = SimpleNamespace(pathname="/", method="POST", query=dict(V3_QUERY), headers=headers)
    authorization = TeaUtils.get_authorization(
        tea_request, "ACS3-HMAC-SHA256", V3_HEADERS["x-acs-content-sha256"], "testid", "testsecret"
    )
    query = "&".join(f"{k}={v}" for k, v in V3_QUERY)
    request = _request("POST", query, {**headers, "Authorization": authorization})
    now = alibaba.parse_timestamp(V3_HEADERS["x-acs-date"])
    nonces = alibaba.NonceCache()
    assert (
        alibaba.verify(request, dict(V3_QUERY), _Keys(), now, nonces, body=b"", query=V3_QUERY).scheme
        == "ACS3-HMAC-SHA256"
    )
    with pytest.raises(alibaba.ServiceError) as exc:
        alibaba.verify(request, dict(V3_QUERY), _Keys(), now, nonces, body=b"", query=V3_QUERY)
    assert exc.value.code == "SignatureNonceUsed"
    # a body the signature does not cover
    with pytest.raises(alibaba.ServiceError) as exc:
        alibaba.verify(request, dict(V3_QUERY), _Keys(), now, alibaba.NonceCache(), body=b"x=1", query=V3_QUERY)
    assert exc.value.code == "SignatureDoesNotMatch"
    assert exc.value.message.startswith(
        "Specified signature does not match our calculation. server StringToSign is [ACS3-HMAC-SHA256\n"
    )
    for bad, code in (
        ("ACS3-HMAC-SM3 Credential=testid,SignedHeaders=host,Signature=00", "InvalidSignatureMethod"),
        ("ACS3-HMAC-SHA256 Credential=testid", "IncompleteSignature"),
        ("Bearer abc", "IncompleteSignature"),
        (authorization.replace("Credential=testid", "Credential=nobody"), "InvalidAccessKeyId.NotFound"),
    ):
        forged = _request("POST", query, {**headers, "Authorization": bad})
        with pytest.raises(alibaba.ServiceError) as exc:
            alibaba.verify(forged, {}, _Keys(), now, alibaba.NonceCache(), body=b"", query=V3_QUERY)
        assert exc.value.code == code


# RFC 6238 Appendix B (SHA-1, 8 digits, the ASCII key "12345678901234567890").
RFC6238 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize("moment,code", RFC6238)
def test_totp_rfc6238_vectors(moment, code):
    key = b"12345678901234567890"
    assert otp.hotp(key, otp.time_step(moment), digits=8) == code
    import base64

    secret = base64.b32encode(key).decode()
    assert otp.totp(secret, moment, digits=8) == code
    assert otp.totp(secret, moment) == code[-6:]


def test_totp_window_and_secrets():
    secret = otp.random_secret()
    assert len(secret) == 32 and set(secret) <= set(string.ascii_uppercase + "234567")
    now = 1_700_000_000.0
    assert otp.matching_step(secret, otp.totp(secret, now), now) == otp.time_step(now)
    assert otp.matching_step(secret, otp.totp(secret, now - 30), now) == otp.time_step(now) - 1
    assert otp.matching_step(secret, otp.totp(secret, now - 60), now) is None
    assert otp.matching_step(secret, otp.totp(secret, now - 60), now, window=2) is not None
    assert otp.matching_step(secret, "12345", now) is None and otp.matching_step(secret, "abcdef", now) is None
    uri = otp.provisioning_uri(secret, "alice@example.com", "WUYING")
    assert uri.startswith("otpauth://totp/WUYING:alice@example.com?secret=" + secret)
