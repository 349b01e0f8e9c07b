"""Write each service's ``operations.json``: every operation its external model declares.

The emulator reads these files at run time (``mockcloud.core.coverage``) to tell an
operation the real service has but mockcloud does not emulate (a 501 that names it)
from one that does not exist at all (the service's own "unknown operation"), and
``tools/coverage_page.py`` builds ``docs/coverage.md`` from them. They are generated
here so the emulator needs neither botocore nor the Alibaba SDK at run time.

    python tools/model_operations.py

Sources: botocore's ``service-2.json`` for AWS (with each operation's HTTP route for
REST protocols, whose requests are told apart by method and path), and the
``alibabacloud_ecd20201002`` SDK's client methods for WUYING (each ``*_with_options``
method's ``action``). DevPay and the User API have no external model.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ROOT / "mockcloud" / "services"

# our package -> (kind, the model's name): botocore service names, or an Alibaba SDK module
MODELS = {
    "licensemanager": ("botocore", "license-manager"),
    "sts": ("botocore", "sts"),
    "amplifyuibuilder": ("botocore", "amplifyuibuilder"),
    "wuying": ("alibaba", "alibabacloud_ecd20201002"),
}
REST_PROTOCOLS = ("rest-json", "rest-xml")


def botocore_model(service: str) -> dict[str, Any]:
    import botocore
    from botocore.loaders import Loader

    model = Loader().load_service_model(service, "service-2")
    meta = model["metadata"]
    rest = meta["protocol"] in REST_PROTOCOLS
    operations: dict[str, dict[str, str]] = {}
    for name, op in sorted(model["operations"].items()):
        route = {"method": op["http"]["method"], "path": op["http"]["requestUri"].split("?", 1)[0]} if rest else {}
        operations[name] = route
    return {
        "service": meta.get("signingName") or meta["endpointPrefix"],  # the IAM action prefix
        "title": meta["serviceFullName"],
        "protocol": meta["protocol"],
        "api_version": meta["apiVersion"],
        "source": f"botocore {botocore.__version__} data/{service}/{meta['apiVersion']}/service-2.json",
        "operations": operations,
    }


def alibaba_model(module: str) -> dict[str, Any]:
    """The RPC actions of an Alibaba tea SDK client: the ``action=`` of each ``*_with_options`` method's Params."""
    spec = importlib.util.find_spec(f"{module}.client")
    if spec is None or spec.origin is None:
        raise SystemExit(f"{module} is not installed: pip install -e '.[test]'")
    tree = ast.parse(Path(spec.origin).read_text())
    actions: set[str] = set()
    version = product = ""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.endswith("_with_options"):
            for call in ast.walk(node):
                if not isinstance(call, ast.Call):
                    continue
                for keyword in call.keywords:
                    if isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
                        if keyword.arg == "action":
                            actions.add(keyword.value.value)
                        elif keyword.arg == "version":
                            version = keyword.value.value
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "get_endpoint":
            product = next((a.value for a in node.args if isinstance(a, ast.Constant)), product)
    distribution = module.replace("_", "-")
    return {
        "service": product or "ecd",  # the RAM action prefix
        "title": "Alibaba Cloud Elastic Desktop Service (WUYING Workspace) client API",
        "protocol": "alibaba-rpc",
        "api_version": version,
        "source": f"{distribution} {importlib.metadata.version(distribution)} client.py",
        "operations": {name: {} for name in sorted(actions)},
    }


def main(argv: list[str]) -> None:
    chosen = argv or list(MODELS)
    for package in chosen:
        kind, name = MODELS[package]
        document = botocore_model(name) if kind == "botocore" else alibaba_model(name)
        path = SERVICES / package / "operations.json"
        path.write_text(json.dumps(document, indent=1) + "\n")
        print(f"wrote {path.relative_to(ROOT)}: {len(document['operations'])} operations")


if __name__ == "__main__":
    main(sys.argv[1:])
