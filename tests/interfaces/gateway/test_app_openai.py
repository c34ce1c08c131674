"""An unchanged official OpenAI client works against the gateway (base_url pointed at it), stream and not."""

from __future__ import annotations

from typing import Any

import pytest
from gateway_helpers import gateway_config, need_module

from tokenomy.interfaces.gateway.app import Gateway


def test_the_official_openai_client_works_unchanged(live_gateway: Any) -> None:
    openai = need_module("openai", "a dev dependency of the 'gateway' extra")
    base = live_gateway(lambda urls: Gateway(gateway_config(urls)))
    client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
    models = [m.id for m in client.models.list()]
    assert models == ["tokenomy-auto", "cheap", "strong"]
    raw = client.chat.completions.with_raw_response.create(
        model="tokenomy-auto",
        messages=[{"role": "user", "content": "2+2?"}],
        extra_headers={"X-Tokenomy-V": "100"},
    )
    done = raw.parse()
    assert done.choices[0].message.content == "fake answer"
    assert raw.headers["x-tokenomy-model"] == "strong" and done.model_extra["tokenomy"]["model"] == "strong"
    stream = client.chat.completions.create(
        model="cheap", messages=[{"role": "user", "content": "2+2?"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "fake streamed answer"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="cheap", messages=[{"role": "user", "content": "x"}], extra_headers={"X-Tokenomy-V": "-1"}
        )
