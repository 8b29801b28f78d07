"""msgspec against pydantic v2 on our request bodies: import time and decode+validate time.

    python benchmarks/validation.py [--rounds 20000]

Prints the median of 7 repetitions for each library, per body, in microseconds.
"""

import argparse
import statistics
import subprocess
import sys
import time

SEND = (
    b'{"to": "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM", "amount": "1000000", "memo": "coffee"}'
)
SESSION = (
    b'{"walletId": "0f8fad5b-d9cb-469f-a165-70867728950e", "expiresIn": 3600, "label": "mcp",'
    b' "constraints": {"maxAmountPerTx": "1000", "maxAmountPerDay": "5000",'
    b' "allowedRecipients": ["9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"]}}'
)


def import_ms(stmt: str) -> float:
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", stmt], check=True)
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def msgspec_decoders():
    import msgspec

    class Constraints(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
        max_amount_per_tx: str | None = None
        max_amount_per_day: str | None = None
        allowed_recipients: list[str] | None = None

    class Session(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
        wallet_id: str
        expires_in: int | None = None
        label: str | None = None
        constraints: Constraints | None = None

    class Send(msgspec.Struct, forbid_unknown_fields=True):
        to: str
        amount: str
        memo: str | None = None

    send = msgspec.json.Decoder(Send)
    session = msgspec.json.Decoder(Session)
    return send.decode, session.decode


def pydantic_decoders():
    from pydantic import BaseModel, ConfigDict
    from pydantic.alias_generators import to_camel

    config = ConfigDict(extra="forbid", alias_generator=to_camel, strict=True)

    class Constraints(BaseModel):
        model_config = config
        max_amount_per_tx: str | None = None
        max_amount_per_day: str | None = None
        allowed_recipients: list[str] | None = None

    class Session(BaseModel):
        model_config = config
        wallet_id: str
        expires_in: int | None = None
        label: str | None = None
        constraints: Constraints | None = None

    class Send(BaseModel):
        model_config = config
        to: str
        amount: str
        memo: str | None = None

    return Send.model_validate_json, Session.model_validate_json


def per_call_us(fn, body: bytes, rounds: int) -> float:
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(rounds):
            fn(body)
        runs.append((time.perf_counter() - start) / rounds * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20000)
    args = parser.parse_args()
    base = import_ms("pass")
    print(f"interpreter start (baseline): {base:.1f} ms")
    print(f"import msgspec:  +{import_ms('import msgspec') - base:.1f} ms")
    print(f"import pydantic: +{import_ms('import pydantic; pydantic.BaseModel') - base:.1f} ms")
    for name, make in (("msgspec", msgspec_decoders), ("pydantic", pydantic_decoders)):
        send, session = make()
        print(
            f"{name:9} send body {per_call_us(send, SEND, args.rounds):.2f} us,"
            f" session body {per_call_us(session, SESSION, args.rounds):.2f} us"
        )


if __name__ == "__main__":
    main()
