"""The IAM policy grammar and evaluation (core.iam): what the front door decides for every AWS call of a role or user.

Each case is a policy and requests it must allow or refuse; the end-to-end behaviour through boto3 is in
tests/services/sts/test_iam_enforcement.py.
"""

from __future__ import annotations

import pytest

from mockcloud.core.iam.access import Principal, decide
from mockcloud.core.iam.policy import MalformedPolicy, Request, evaluate, parse, substitute

ARN = "arn:aws:license-manager::123456789012:license:l-1"


def allows(document, action="license-manager:GetLicense", resource=ARN, **context) -> bool:
    verdict = evaluate([parse(document)], Request(action, resource, {k.lower(): v for k, v in context.items()}))
    return verdict.allowed and not verdict.denied


def statement(**fields):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **fields}]}


def test_actions_and_resources_with_wildcards():
    policy = statement(Action="license-manager:Get*", Resource="arn:aws:license-manager::123456789012:license:*")
    assert allows(policy)
    assert allows(policy, action="LICENSE-MANAGER:getlicense")  # actions are case-insensitive
    assert not allows(policy, action="license-manager:CheckoutLicense")
    assert not allows(policy, resource="arn:aws:license-manager::210987654321:license:l-1")
    assert allows(statement(Action="*", Resource="*"), action="sts:AssumeRole", resource="*")
    assert allows(statement(Action="license-manager:?etLicense", Resource="*"))
    # NotAction and NotResource invert their element
    assert allows(statement(NotAction="sts:*", Resource="*"))
    assert not allows(statement(NotAction="license-manager:*", Resource="*"))
    assert not allows(statement(Action="*", NotResource=ARN))


def test_explicit_deny_wins_over_any_allow():
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "license-manager:GetLicense", "Resource": "*"},
        ],
    }
    verdict = evaluate([parse(policy)], Request("license-manager:GetLicense", ARN, {}))
    assert verdict.denied and not verdict.allowed
    assert evaluate([parse(policy)], Request("license-manager:ListLicenses", ARN, {})).allowed


@pytest.mark.parametrize(
    ("operator", "wanted", "given", "holds"),
    [
        ("StringEquals", "gold", ["gold"], True),
        ("StringEquals", "gold", ["Gold"], False),
        ("StringEqualsIgnoreCase", "gold", ["GOLD"], True),
        ("StringNotEquals", "gold", ["silver"], True),
        ("StringLike", "team-*", ["team-a"], True),
        ("StringNotLike", "team-*", ["team-a"], False),
        ("NumericLessThan", "10", ["9"], True),
        ("NumericGreaterThanEquals", "10", ["10"], True),
        ("NumericEquals", "10", ["10.0"], True),
        ("DateLessThan", "2030-01-01T00:00:00Z", ["2026-01-01T00:00:00Z"], True),
        ("DateGreaterThan", "2030-01-01", ["1700000000"], False),
        ("Bool", "true", ["true"], True),
        ("Bool", "true", ["false"], False),
        ("BinaryEquals", "QmluYXJ5", ["QmluYXJ5"], True),
        ("IpAddress", "10.0.0.0/8", ["10.1.2.3"], True),
        ("NotIpAddress", "10.0.0.0/8", ["192.168.1.1"], True),
        ("ArnLike", "arn:aws:iam::*:role/app-*", ["arn:aws:iam::123456789012:role/app-1"], True),
        ("ArnEquals", "arn:aws:iam::123456789012:role/app", ["arn:aws:iam::123456789012:role/other"], False),
        ("ArnNotLike", "arn:aws:iam::*:role/app-*", ["arn:aws:iam::123456789012:role/db"], True),
    ],
)
def test_condition_operators(operator, wanted, given, holds):
    policy = statement(Action="*", Resource="*", Condition={operator: {"k:key": wanted}})
    assert allows(policy, **{"k:key": given}) is holds


def test_missing_keys_if_exists_null_and_set_qualifiers():
    assert not allows(statement(Action="*", Resource="*", Condition={"StringEquals": {"k:tier": "gold"}}))
    assert allows(statement(Action="*", Resource="*", Condition={"StringEqualsIfExists": {"k:tier": "gold"}}))
    assert allows(statement(Action="*", Resource="*", Condition={"StringNotEquals": {"k:tier": "gold"}}))
    assert allows(statement(Action="*", Resource="*", Condition={"Null": {"k:tier": "true"}}))
    assert not allows(statement(Action="*", Resource="*", Condition={"Null": {"k:tier": "true"}}), **{"k:tier": ["x"]})
    any_value = statement(Action="*", Resource="*", Condition={"ForAnyValue:StringEquals": {"k:tags": ["a", "b"]}})
    all_values = statement(Action="*", Resource="*", Condition={"ForAllValues:StringEquals": {"k:tags": ["a", "b"]}})
    assert allows(any_value, **{"k:tags": ["a", "z"]}) and not allows(all_values, **{"k:tags": ["a", "z"]})
    assert allows(all_values, **{"k:tags": ["a"]}) and allows(all_values)  # ForAllValues of nothing holds
    assert not allows(any_value)


def test_policy_variables_in_resources_and_conditions():
    policy = statement(
        Action="*",
        Resource="arn:aws:license-manager::123456789012:license:${aws:username}",
        Condition={"StringEquals": {"k:owner": "${aws:username}"}},
    )
    assert allows(
        policy,
        resource="arn:aws:license-manager::123456789012:license:alice",
        **{
            "aws:username": ["alice"],
            "k:owner": ["alice"],
        },
    )
    assert not allows(
        policy,
        resource="arn:aws:license-manager::123456789012:license:bob",
        **{
            "aws:username": ["alice"],
            "k:owner": ["alice"],
        },
    )
    assert not allows(policy, resource="arn:aws:license-manager::123456789012:license:alice")  # no value: no match
    assert substitute("a${*}b${?}${$}", {}) == "a*b?$"
    assert substitute("${aws:PrincipalTag/team, 'none'}", {}) == "none"
    # 2008-10-17 documents take ${...} literally
    old = {"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "x/${aws:username}"}]}
    assert allows(old, resource="x/${aws:username}", **{"aws:username": ["alice"]})


@pytest.mark.parametrize(
    "document",
    [
        "{not json",
        {"Statement": []},
        {"Version": "2012-10-18", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}},
        {"Statement": {"Effect": "Maybe", "Action": "*", "Resource": "*"}},
        {"Statement": {"Effect": "Allow", "Resource": "*"}},
        {"Statement": {"Effect": "Allow", "Action": "*"}},
        {"Statement": {"Effect": "Allow", "Action": "GetLicense", "Resource": "*"}},
        {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}},
        {"Statement": {"Effect": "Allow", "Action": "*", "NotAction": "*", "Resource": "*"}},
        {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringWhatever": {"a": "b"}}}},
        {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericEquals": {"a": "x"}}}},
        {
            "Statement": {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"NullIfExists": {"a": "true"}},
            }
        },
        {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Extra": 1}},
    ],
)
def test_documents_outside_the_grammar_are_malformed(document):
    with pytest.raises(MalformedPolicy):
        parse(document)


def test_trust_policies_name_principals_by_account_and_by_arn():
    trust = parse(
        {
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "210987654321"}, "Action": "sts:AssumeRole"},
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:user/alice"},
                    "Action": "sts:AssumeRole",
                },
            ]
        },
        "trust",
    )
    role = "arn:aws:iam::123456789012:role/R"
    other = Request("sts:AssumeRole", role, {}, principal=("arn:aws:iam::210987654321:root",))
    alice = Request(
        "sts:AssumeRole", role, {}, principal=("arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:user/alice")
    )
    bob = Request(
        "sts:AssumeRole", role, {}, principal=("arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:user/bob")
    )
    assert evaluate([trust], other).allowed and not evaluate([trust], other).direct  # by account: policies decide
    assert evaluate([trust], alice).allowed and evaluate([trust], alice).direct
    assert not evaluate([trust], bob).allowed
    with pytest.raises(MalformedPolicy):
        parse({"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole"}}, "trust")  # no Principal


def test_decisions_and_their_aws_wording():
    identity = parse(statement(Action="license-manager:*", Resource="*"))
    session = parse(statement(Action="license-manager:GetLicense", Resource="*"))
    deny = parse({"Statement": [{"Effect": "Deny", "Action": "license-manager:GetLicense", "Resource": "*"}]})
    arn = "arn:aws:sts::123456789012:assumed-role/R/s"
    narrowed = Principal(arn, "123456789012", (identity,), (session,))
    assert decide(narrowed, "license-manager:GetLicense", ARN, {}) is None
    denial = decide(narrowed, "license-manager:CheckoutLicense", "*", {})
    assert denial.message() == (
        f"User: {arn} is not authorized to perform: license-manager:CheckoutLicense on resource: * "
        "because no session policy allows the license-manager:CheckoutLicense action"
    )
    nothing = decide(Principal(arn, "123456789012", ()), "license-manager:GetLicense", ARN, {})
    assert (
        nothing.message().endswith("because no identity-based policy allows the license-manager:GetLicense action")
        and not nothing.explicit
    )
    denied = decide(Principal(arn, "123456789012", (identity,), (deny,)), "license-manager:GetLicense", ARN, {})
    assert denied.explicit and denied.message().endswith("with an explicit deny in a session policy")
    denied = decide(Principal(arn, "123456789012", (identity, deny)), "license-manager:GetLicense", ARN, {})
    assert denied.message().endswith("with an explicit deny in an identity-based policy")
    assert decide(Principal("arn:aws:iam::123456789012:root", "123456789012", None), "x:Y", "*", {}) is None
