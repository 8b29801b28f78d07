"""api.operation: one declaration gives validation, the handler's types and the document."""

from __future__ import annotations

from typing import Annotated

import httpx
import msgspec
import pytest
from msgspec import Meta
from starlette.applications import Starlette
from starlette.requests import Request

from waiaas_core.config import Settings
from waiaas_core.errors import WaiaasError
from waiaas_daemon.schemas import Amount, Model, Name
from waiaas_daemon.serving.api import operation
from waiaas_daemon.serving.app import on_waiaas_error
from waiaas_daemon.serving.openapi import openapi_document

pytestmark = pytest.mark.anyio


class Thing(Model):
    name: Name


class ThingWithColour(Thing):
    # The one line a new field costs.
    colour: Annotated[str, Meta(pattern="^(red|blue)$")] | None = None


class Echo(Model):
    name: str
    colour: str | None = None


async def create_thing(request: Request, body: ThingWithColour) -> Echo:
    """Create a thing."""
    return Echo(name=body.name, colour=body.colour)


def _app() -> Starlette:
    route = operation("POST", "/things", create_thing, auth="public", tag="t", status=201)
    return Starlette(routes=[route], exception_handlers={WaiaasError: on_waiaas_error})


def test_a_new_field_appears_in_the_document():
    document = openapi_document(_app().routes, Settings())
    body = document["components"]["schemas"]["ThingWithColour"]
    assert "colour" in body["properties"]
    assert body["additionalProperties"] is False
    assert document["paths"]["/things"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/ThingWithColour"}
    assert "201" in document["paths"]["/things"]["post"]["responses"]


async def test_a_new_field_is_validated_and_reaches_the_handler():
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        ok = await http.post("/things", json={"name": "a", "colour": "red"})
        assert ok.status_code == 201
        assert ok.json() == {"name": "a", "colour": "red"}
        bad = await http.post("/things", json={"name": "a", "colour": "green"})
        assert bad.status_code == 400
        assert bad.json()["message"].startswith("colour:")
        unknown = await http.post("/things", json={"name": "a", "size": 1})
        assert unknown.json()["message"] == "size: is not a known field"


def test_amount_type_documents_its_pattern():
    schema = msgspec.json.schema(Amount)
    assert schema["type"] == "string"
    assert schema["pattern"].startswith("^[1-9]")
