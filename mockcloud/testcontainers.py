"""``MockCloudContainer``: the mockcloud image as a testcontainers module (``pip install 'mockcloud[testcontainers]'``).

As ``testcontainers.localstack`` is for LocalStack::

    with MockCloudContainer("mockcloud:latest", seed=7) as container:
        lm = boto3.client("license-manager", endpoint_url=container.get_url(), ...)
        container.cloud.clock.advance(hours=2)  # mockcloud.connect(url): clock, faults, helpers

``get_url()`` is the base URL every client is given; ``cloud`` is :func:`mockcloud.connect` on it, so a
test drives the container's clock, faults and helpers as it drives an in-process mock. ``seed``,
``fixtures`` (a file on this machine) and ``state`` (a folder on this machine, or a volume name, that
keeps the state across containers) are passed through to ``mockcloud server``.
"""

from __future__ import annotations

import http.client
import os
import secrets
import time
from typing import TYPE_CHECKING, Any

from testcontainers.core.container import DockerContainer

from .core.errors import MockCloudError

if TYPE_CHECKING:
    from .remote import RemoteCloud

PORT = 4566
STATE_FILE = "state.db"


class MockCloudContainer(DockerContainer):
    """A ``mockcloud server`` container, started by ``start()`` or ``with``, ready when its health check answers.

    ``network_mode="host"`` runs it on the host's network (bound to 127.0.0.1 on ``port``), where no
    port is published; otherwise ``port`` is published on a free port of the Docker host. The admin API
    needs ``admin_token`` (one is made when none is given; ``cloud`` sends it). ``namespace_ports``
    (a range) publishes the ports of namespaces one to one, so that :meth:`RemoteCloud.new_namespace
    <mockcloud.remote.RemoteCloud.new_namespace>` works through the published ports too.
    """

    def __init__(
        self,
        image: str = "mockcloud:latest",
        port: int = PORT,
        *,
        seed: int | None = None,
        fixtures: str | os.PathLike[str] | None = None,
        state: str | os.PathLike[str] | None = None,
        admin_token: str | None = None,
        network_mode: str | None = None,
        namespace_ports: range | None = None,
        startup_timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(image, **kwargs)
        self.port = port
        self.host_network = network_mode == "host"
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.startup_timeout = startup_timeout
        self._cloud: RemoteCloud | None = None
        self.with_env("MOCKCLOUD_ADMIN_TOKEN", self.admin_token)
        self.with_env("MOCKCLOUD_PORT", str(port))
        # a published port differs from the bound one: the names a client on the Docker host uses
        self.with_env("MOCKCLOUD_ALLOW_HOST", "localhost,127.0.0.1")
        if self.host_network:
            self.with_kwargs(network_mode="host")
            self.with_env("MOCKCLOUD_HOST", "127.0.0.1")
        else:
            self.with_exposed_ports(port)
        if namespace_ports is not None:
            self.with_env("MOCKCLOUD_NAMESPACE_PORTS", f"{namespace_ports.start}-{namespace_ports.stop - 1}")
            if not self.host_network:
                for number in namespace_ports:
                    self.with_bind_ports(number, number)
        if seed is not None:
            self.with_env("MOCKCLOUD_SEED", str(seed))
        if fixtures is not None:
            self.with_volume_mapping(os.path.abspath(fixtures), "/etc/mockcloud/fixtures.json", "ro")
            self.with_env("MOCKCLOUD_FIXTURES", "/etc/mockcloud/fixtures.json")
        if state is not None:
            source = os.fspath(state)
            # a path is a folder of this machine; anything else names a Docker volume
            self.with_volume_mapping(os.path.abspath(source) if os.sep in source else source, "/data", "rw")
            self.with_env("MOCKCLOUD_STATE", f"/data/{STATE_FILE}")

    def start(self) -> MockCloudContainer:
        super().start()
        self._wait_until_healthy()
        return self

    def get_url(self) -> str:
        """The base URL of the emulator: ``endpoint_url`` for boto3, the endpoint for the Alibaba SDKs, ..."""
        if self.host_network:
            return f"http://127.0.0.1:{self.port}"
        return f"http://{self.get_container_host_ip()}:{self.get_exposed_port(self.port)}"

    @property
    def cloud(self) -> RemoteCloud:
        """``mockcloud.connect(get_url())`` with the admin token: the container's clock, faults and helpers."""
        if self._cloud is None:
            from .remote import connect

            self._cloud = connect(self.get_url(), admin_token=self.admin_token)
        return self._cloud

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        problem = "no answer yet"
        while time.monotonic() < deadline:
            container = self.get_wrapped_container()
            container.reload()
            if container.status == "exited":
                logs = container.logs(tail=20).decode("utf-8", "replace")
                raise MockCloudError(f"the mockcloud container exited at start:\n{logs}")
            try:
                url = self.get_url().split("//", 1)[1]
                host, _, port = url.rpartition(":")
                connection = http.client.HTTPConnection(host, int(port), timeout=2)
                try:
                    connection.request("GET", "/_mockcloud/health")
                    if connection.getresponse().status == 200:
                        return
                finally:
                    connection.close()
            except (OSError, http.client.HTTPException, ValueError) as exc:  # not listening yet
                problem = str(exc)
            time.sleep(0.05)
        raise MockCloudError(f"the mockcloud container did not answer within {self.startup_timeout:g} s ({problem})")
