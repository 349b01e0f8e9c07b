"""Write JSON Schemas for AWS operations' inputs from botocore's service model.

Run it when botocore's model changes; its output is committed next to the
service (``mockcloud/services/<name>/schemas``) so the emulator needs no
botocore at run time.

    python tools/aws_shapes_to_jsonschema.py license-manager mockcloud/services/licensemanager/schemas \
        CreateLicense CreateLicenseVersion GetLicense ListLicenses ListLicenseVersions DeleteLicense \
        CreateGrant CreateGrantVersion GetGrant DeleteGrant AcceptGrant RejectGrant ListDistributedGrants \
        ListReceivedGrants ListReceivedLicenses ListReceivedGrantsForOrganization \
        ListReceivedLicensesForOrganization CheckoutLicense CheckoutBorrowLicense ExtendLicenseConsumption \
        CheckInLicense GetLicenseUsage CreateToken GetAccessToken ListTokens DeleteToken \
        TagResource UntagResource ListTagsForResource GetServiceSettings UpdateServiceSettings
    python tools/aws_shapes_to_jsonschema.py sts mockcloud/services/sts/schemas \
        AssumeRole AssumeRoleWithSAML AssumeRoleWithWebIdentity AssumeRoot DecodeAuthorizationMessage \
        GetAccessKeyInfo GetCallerIdentity GetDelegatedAccessToken GetFederationToken GetSessionToken \
        GetWebIdentityToken
    python tools/aws_shapes_to_jsonschema.py amplifyuibuilder mockcloud/services/amplifyuibuilder/schemas

Without operation names it writes one for every operation of the model.

A shape the model marks ``sensitive`` (a token, a secret), and everything
inside it, carries ``"x-aws-sensitive": true``: validation then never quotes
its value, as AWS leaves such values out of its messages.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from botocore.loaders import Loader


def convert(shapes: dict, name: str, stack: tuple = (), sensitive: bool = False) -> dict:
    out = _convert(shapes, name, stack, sensitive or bool(shapes[name].get("sensitive")))
    if sensitive or shapes[name].get("sensitive"):
        out["x-aws-sensitive"] = True
    return out


def _convert(shapes: dict, name: str, stack: tuple, sensitive: bool) -> dict:
    shape = shapes[name]
    kind = shape["type"]
    if name in stack:  # recursive shapes: stop at the second visit
        return {}
    stack = (*stack, name)
    if kind == "structure":
        out = {"type": "object", "properties": {}}
        for member, ref in shape.get("members", {}).items():
            out["properties"][member] = convert(shapes, ref["shape"], stack, sensitive)
        if shape.get("required"):
            out["required"] = list(shape["required"])
        return out
    if kind == "list":
        out = {"type": "array", "items": convert(shapes, shape["member"]["shape"], stack, sensitive)}
        if "min" in shape:
            out["minItems"] = shape["min"]
        if "max" in shape:
            out["maxItems"] = shape["max"]
        return out
    if kind == "map":
        out = {"type": "object", "additionalProperties": convert(shapes, shape["value"]["shape"], stack, sensitive)}
        keys = convert(shapes, shape["key"]["shape"], stack, sensitive)
        if set(keys) - {"type", "x-aws-sensitive"}:  # a key with constraints (a TagKey's length and pattern)
            out["propertyNames"] = keys
        if "min" in shape:
            out["minProperties"] = shape["min"]
        if "max" in shape:
            out["maxProperties"] = shape["max"]
        return out
    if kind == "string":
        out = {"type": "string"}
        if "min" in shape:
            out["minLength"] = shape["min"]
        if "max" in shape:
            out["maxLength"] = shape["max"]
        if "pattern" in shape:
            # AWS matches the whole value (Java matches()); jsonschema searches.
            out["pattern"] = f"^(?:{python_pattern(shape['pattern'])})\\Z"
            out["x-aws-pattern"] = shape["pattern"]
        if "enum" in shape:
            out["enum"] = list(shape["enum"])
        return out
    if kind in ("integer", "long"):
        # A member is a Java int or long behind the front door; unmodelled bounds are that type's range.
        # ``x-aws-java`` lets validation tell a value that cannot deserialize (SerializationException)
        # from one that breaks a modelled bound (ValidationException).
        bits = 32 if kind == "integer" else 64
        return {
            "type": "integer",
            "minimum": shape.get("min", -(2 ** (bits - 1))),
            "maximum": shape.get("max", 2 ** (bits - 1) - 1),
            "x-aws-java": kind,
        }
    elif kind in ("float", "double"):
        out = {"type": "number"}
    elif kind == "boolean":
        return {"type": "boolean"}
    elif kind == "timestamp":
        return {"type": ["number", "string"]}
    elif kind == "blob":
        return {"type": "string"}
    else:
        return {}
    if "min" in shape:
        out["minimum"] = shape["min"]
    if "max" in shape:
        out["maximum"] = shape["max"]
    return out


# What Java's regular expressions mean by these classes, for Python's re: Java's \\w and \\d are ASCII (Python's
# are Unicode); Python has no \\p{...}, so letters and numbers become word characters, separators white space.
_JAVA_CLASSES = {"\\w": "a-zA-Z0-9_", "\\d": "0-9", "\\p{L}": "\\w", "\\p{N}": "\\w", "\\p{Z}": "\\s"}


def python_pattern(java: str) -> str:
    """A model's (Java) pattern as Python's re reads it; ``x-aws-pattern`` keeps the original for messages."""
    out, i, in_class = [], 0, False
    while i < len(java):
        c = java[i]
        if c == "\\":
            for name, equivalent in _JAVA_CLASSES.items():
                if java.startswith(name, i):
                    ascii_range = not equivalent.startswith("\\")
                    out.append(equivalent if in_class or not ascii_range else f"[{equivalent}]")
                    i += len(name)
                    break
            else:
                out.append(java[i : i + 2])
                i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def main(argv: list[str]) -> None:
    service, target, *operations = argv
    model = Loader().load_service_model(service, "service-2")
    out_dir = Path(target)
    out_dir.mkdir(parents=True, exist_ok=True)
    for operation in operations or list(model["operations"]):
        op = model["operations"][operation]
        schema = convert(model["shapes"], op["input"]["shape"]) if "input" in op else {"type": "object"}
        schema = {"$schema": "http://json-schema.org/draft-07/schema#", "title": f"{operation} input", **schema}
        (out_dir / f"{operation}.json").write_text(json.dumps(schema, indent=2) + "\n")
        print("wrote", out_dir / f"{operation}.json")


if __name__ == "__main__":
    main(sys.argv[1:])
