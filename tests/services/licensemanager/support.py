"""How the License Manager tests reach the service (no tests or fixtures here)."""

from __future__ import annotations

from tests.helpers import lm_client


class Backend:
    """Where the emulator runs, and how a test reaches it."""

    def __init__(self, cloud, endpoint_url=None):
        self.cloud, self.endpoint_url = cloud, endpoint_url

    def client(self, **kwargs):
        return lm_client(self.endpoint_url, **kwargs)

    @property
    def url(self) -> str:
        return (self.endpoint_url or "https://license-manager.us-east-1.amazonaws.com") + "/"
