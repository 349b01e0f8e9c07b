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
        AssumeRoleWithWebIdentity GetCallerIdentity
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from botocore.loaders import Loader


def convert(shapes: dict, name: str, stack: tuple = ()) -> dict:
    shape = shapes[name]
    kind = shape["type"]
    if name in stack:  # recursive shapes: stop at the second visit
        return {}
    stack = (*stack, name)
    if kind == "structure":
        out = {"type": "object", "properties": {}}
        for member, ref in shape.get("members", {}).items():
            out["properties"][member] = convert(shapes, ref["shape"], stack)
        if shape.get("required"):
            out["required"] = list(shape["required"])
        return out
    if kind == "list":
        out = {"type": "array", "items": convert(shapes, shape["member"]["shape"], stack)}
        if "min" in shape:
            out["minItems"] = shape["min"]
        if "max" in shape:
            out["maxItems"] = shape["max"]
        return out
    if kind == "map":
        out = {"type": "object", "additionalProperties": convert(shapes, shape["value"]["shape"], stack)}
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
            out["pattern"] = f"^(?:{shape['pattern']})\\Z"
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


def main(argv: list[str]) -> None:
    service, target, *operations = argv
    model = Loader().load_service_model(service, "service-2")
    out_dir = Path(target)
    out_dir.mkdir(parents=True, exist_ok=True)
    for operation in operations:
        op = model["operations"][operation]
        schema = convert(model["shapes"], op["input"]["shape"]) if "input" in op else {"type": "object"}
        schema = {"$schema": "http://json-schema.org/draft-07/schema#", "title": f"{operation} input", **schema}
        (out_dir / f"{operation}.json").write_text(json.dumps(schema, indent=2) + "\n")
        print("wrote", out_dir / f"{operation}.json")


if __name__ == "__main__":
    main(sys.argv[1:])
