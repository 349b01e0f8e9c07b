"""What a service answers to: routes as data, compiled by :mod:`.router`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claims:
    """What a service answers to. Every field is optional."""

    hosts: tuple[str, ...] = ()  # exact host names, e.g. "ls.amazonaws.com"
    host_labels: tuple[tuple[str, str], ...] = ()  # (first label, domain), e.g. ("license-manager", "amazonaws.com")
    subdomains_of: tuple[str, ...] = ()  # any one label under these domains, e.g. "tokens.sts.global.api.aws"
    signing_names: tuple[str, ...] = ()  # SigV4 credential-scope service names
    target_prefixes: tuple[str, ...] = ()  # X-Amz-Target prefix before the dot
    api_versions: tuple[str, ...] = ()  # Version values of Action+Version protocols
    path_prefixes: tuple[str, ...] = ()
    # path prefixes matched only on requests that reached the standalone server (any host), never
    # in-process: a service mounted at a base URL answers there under the server's own host
    server_path_prefixes: tuple[str, ...] = ()
