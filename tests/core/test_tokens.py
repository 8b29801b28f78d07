import base64
import json
import time
import uuid

import jwt
import pytest

from waiaas_core.errors import WaiaasError
from waiaas_core.tokens import (
    TOKEN_PREFIX,
    decode_unverified,
    sign_session_token,
    verify_session_token,
)

SECRET = b"s" * 32
SID = str(uuid.uuid4())
WID = str(uuid.uuid4())


def _token(**overrides):
    now = int(time.time())
    return sign_session_token(SECRET, SID, WID, now, now + 3600, **overrides)


def _code(token, secret=SECRET, now=None):
    with pytest.raises(WaiaasError) as info:
        verify_session_token(token, secret, now=now)
    return info.value.code


def _b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_valid_token_round_trips_its_claims():
    claims = verify_session_token(_token(), SECRET)
    assert (claims.session_id, claims.wallet_id) == (SID, WID)
    assert claims.expires_at - claims.issued_at == 3600


def test_alg_none_is_rejected():
    unsigned = (
        _b64({"alg": "none", "typ": "JWT"})
        + "."
        + _b64({"sub": SID, "wlt": WID, "iat": 1, "exp": int(time.time()) + 60})
        + "."
    )
    assert _code(TOKEN_PREFIX + unsigned) == "INVALID_TOKEN"


def test_another_algorithm_is_rejected():
    payload = {"sub": SID, "wlt": WID, "iat": 1, "exp": int(time.time()) + 60}
    hs512 = jwt.encode(payload, SECRET * 2, algorithm="HS512")
    assert _code(TOKEN_PREFIX + hs512) == "INVALID_TOKEN"


def test_wrong_secret_is_rejected():
    assert _code(_token(), secret=b"x" * 32) == "INVALID_TOKEN"


def test_tampered_payload_is_rejected():
    header, payload, signature = _token()[len(TOKEN_PREFIX) :].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["wlt"] = str(uuid.uuid4())
    tampered = ".".join([header, _b64(claims), signature])
    assert _code(TOKEN_PREFIX + tampered) == "INVALID_TOKEN"


def test_missing_prefix_is_rejected():
    assert _code(_token()[len(TOKEN_PREFIX) :]) == "INVALID_TOKEN"


@pytest.mark.parametrize("claim", ["sub", "wlt", "iat", "exp"])
def test_missing_claim_is_rejected(claim):
    payload = {"sub": SID, "wlt": WID, "iat": 1, "exp": int(time.time()) + 60}
    del payload[claim]
    token = TOKEN_PREFIX + jwt.encode(payload, SECRET, algorithm="HS256")
    assert _code(token) == "INVALID_TOKEN"


def test_non_uuid_subject_is_rejected():
    payload = {"sub": "../x", "wlt": WID, "iat": 1, "exp": int(time.time()) + 60}
    token = TOKEN_PREFIX + jwt.encode(payload, SECRET, algorithm="HS256")
    assert _code(token) == "INVALID_TOKEN"


def test_expired_token_is_session_expired():
    token = sign_session_token(SECRET, SID, WID, 1000, 2000)
    assert _code(token, now=2000) == "SESSION_EXPIRED"
    assert verify_session_token(token, SECRET, now=1999).expires_at == 2000


def test_decode_unverified_reads_payload_without_secret():
    payload = decode_unverified(_token())
    assert payload["sub"] == SID and payload["wlt"] == WID


@pytest.mark.parametrize("garbage", ["", "wai_sess_", "wai_sess_abc.def", "not a token"])
def test_decode_unverified_refuses_garbage(garbage):
    with pytest.raises(ValueError):
        decode_unverified(garbage)
