"""``scim2-client`` over ``httpx``: the package's network engine is written for ``httpx2``,
whose mere presence makes Starlette's ``TestClient`` use it, which the suite's tests that hand
its transport to ``httpx``-based clients (authlib) cannot take. This engine is the package's
``httpx2`` one (Apache-2.0, ``scim2_client/engines/httpx2.py``) on ``httpx``, whose API it
shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import httpx
from scim2_client import BaseSyncSCIMClient, RequestNetworkException


@contextmanager
def _network_errors() -> Iterator[None]:
    try:
        yield
    except httpx.RequestError as exc:
        error = RequestNetworkException()
        error.add_note(str(exc))
        raise error from exc


class HttpxSCIMClient(BaseSyncSCIMClient):
    """SCIM requests sent with an ``httpx.Client`` whose ``base_url`` is the SCIM endpoint."""

    def __init__(self, client: httpx.Client, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        # As the httpx2 engine: the URL as it will be sent keeps the base URL's origin and path.
        base = self.client.base_url
        if not base.is_absolute_url:
            return False
        try:
            url = self.client.build_request("GET", endpoint).url
        except httpx.InvalidURL:
            return False
        return (
            url.scheme == base.scheme
            and url.netloc == base.netloc
            and (url.raw_path.startswith(base.raw_path))
        )

    def _parse_json(self, response: Any) -> Any:
        return cast(httpx.Response, response).json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        with _network_errors():
            return self.client.request(method, url, **kwargs)
