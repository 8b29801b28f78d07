"""classify_line and encode_message (waiaas_mcp/_stdio.py): what each stdin line gets."""

from __future__ import annotations

import json

import mcp_types as types
from mcp.shared.message import SessionMessage

from waiaas_mcp._stdio import classify_line, encode_message


def test_a_valid_request_is_served():
    item = classify_line('{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
    assert isinstance(item, SessionMessage)


def test_blank_lines_and_bad_notifications_are_ignored():
    assert classify_line("\n") is None
    assert classify_line('{"jsonrpc":"2.0","method":"x","params":{"a":"\\udc00"}}') is None


def test_a_surrogate_in_a_request_is_invalid_params_for_its_id():
    line = '{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"x":"\\ud800"}}'
    item = classify_line(line)
    assert isinstance(item, types.JSONRPCError)
    assert (item.id, item.error.code) == ("a", types.INVALID_PARAMS)


def test_an_answer_holding_a_surrogate_becomes_an_internal_error_for_its_id():
    message = types.JSONRPCResponse(jsonrpc="2.0", id=3, result={"text": "\ud800"})
    line = json.loads(encode_message(message))
    assert line["id"] == 3
    assert line["error"]["code"] == types.INTERNAL_ERROR
