"""Paying for HTTP resources with x402: fetch, decide as a send, record, sign, pay, settle.

A payment is a send to the requirements' ``payTo`` of their asset: the same
``policy.decide`` under the wallet's lock (session constraints, allow lists,
rate, tiers, daily and monthly totals), the same records, audit entries and
notifications, plus the owner's x402 rules (allowed hosts, a ceiling per
request, networks) checked before anything is signed. The record (PAYMENT,
PENDING, with the caller's idempotency key) exists before the payment is
signed, so a retry or a crash never pays twice (docs/notes/x402.md).
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import anyio
import httpx

from waiaas_core.errors import WaiaasError
from waiaas_core.networks import family_of
from waiaas_daemon.chain import spl
from waiaas_daemon.chain import x402 as exact
from waiaas_daemon.chain.local import LocalChain
from waiaas_daemon.chain.rpc import RpcChain
from waiaas_daemon.domain import policy, tokens, transactions, usd, wallets, x402
from waiaas_daemon.domain.sessions import Authenticated
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.schemas.payments import Payment, PayRequest, PayResult, Resource
from waiaas_daemon.schemas.policy import Policy
from waiaas_daemon.schemas.tokens import TokenRefField
from waiaas_daemon.storage import DuplicateKey, Event, TransactionRow, WalletRow

log = logging.getLogger("waiaas_daemon.domain.payments")

MAX_RESOURCE_BYTES = 256 * 1024
MAX_REDIRECTS = 3
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
USER_AGENT = "waiaas-daemon (x402)"
APPROVED = "APPROVED"


@dataclass(frozen=True)
class Target:
    url: str
    origin: str  # scheme://host[:port], lowercase
    host: str  # host[:port] as compared with the allowed hosts


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    content_type: str | None


def resource_client(state: DaemonState, rules: Policy) -> httpx.AsyncClient:
    """A client for one call: it connects only where ``outbound``'s guard lets it, the
    owner's exact ``host:port`` entries exempt; its connections serve this call only, so a
    connection one wallet's rules allowed never carries another's request."""
    from waiaas_daemon.domain import outbound  # httpcore: on the first paid request

    if state.resource_tls is None:
        state.resource_tls = outbound.tls_context()
    x = rules.x402
    exempt = [
        entry
        for entry in ((x.allowed_hosts if x else None) or ())
        if ":" in entry and not entry.startswith("*.")
    ]
    return outbound.client(state.resolve or outbound.system_resolve, exempt, state.resource_tls)


def target_of(url: str) -> Target:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise WaiaasError("INVALID_REQUEST", "url: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WaiaasError("INVALID_REQUEST", "url: must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise WaiaasError("INVALID_REQUEST", "url: must not carry a user name or password")
    try:
        port = parts.port
    except ValueError:
        raise WaiaasError("INVALID_REQUEST", "url: the port is not valid") from None
    host = parts.hostname.lower()
    shown = f"[{host}]" if ":" in host else host
    hostport = shown if port is None else f"{shown}:{port}"
    return Target(url, f"{parts.scheme}://{hostport}", hostport)


def host_allowed(rules: Policy, target: Target) -> bool:
    x = rules.x402
    if x is None:
        return False
    if x.allow_any_host:
        return True
    bare = target.host.rsplit(":", 1)[0] if not target.host.endswith("]") else target.host
    for entry in x.allowed_hosts or ():
        entry = entry.lower()
        has_port = ":" in entry
        candidate = target.host if has_port else bare
        if entry.startswith("*."):
            if candidate.endswith(entry[1:]) and candidate != entry[2:]:
                return True
        elif candidate == entry:
            return True
    return False


def payable_networks(rules: Policy, wallet: WalletRow) -> list[str]:
    """The waiaas networks this wallet may pay on: those of its family the policy's
    ``allowedNetworks`` lists (as for a send), else its own."""
    allowed = rules.allowed_networks
    if allowed is None:
        return [wallet.network]
    return [n for n in allowed if family_of(n) == wallet.chain]


def accepted_networks(rules: Policy, wallet: WalletRow) -> list[str]:
    """The x402 network ids this wallet pays on, narrowed by the owner's ``x402.networks``."""
    own = [i for n in payable_networks(rules, wallet) for i in x402.NETWORK_IDS.get(n, ())]
    wanted = (rules.x402.networks if rules.x402 else None) or own
    return [n for n in wanted if n in own]


def network_of(wallet: WalletRow, req: x402.Requirement) -> str:
    """The waiaas network a chosen requirement pays on."""
    return x402.network_of(req.network) or wallet.network


# -- the HTTP side ----------------------------------------------------------------


async def fetch(
    client: httpx.AsyncClient,
    target: Target,
    request: PayRequest,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request, following redirects on the same origin only; the body bounded.

    Every connection goes through the client's guard (``outbound``): a destination on the
    owner's machine or a private network is POLICY_DENIED, whichever hop leads there."""
    from waiaas_daemon.domain.outbound import Refused, host_port

    url = target.url
    method = request.method
    try:
        with anyio.fail_after(request.timeout_seconds):
            for _ in range(MAX_REDIRECTS + 1):
                answer = await _once(client, method, url, request, headers)
                location = answer.headers.get("location")
                if answer.status not in (301, 302, 303, 307, 308) or location is None:
                    return answer
                url = urljoin(url, location)
                if target_of_safe(url) != target.origin:
                    raise WaiaasError(
                        "PAYMENT_FAILED",
                        f"The resource redirected to another origin ({target_of_safe(url)}); "
                        "waiaas follows redirects on the same origin only.",
                    )
            raise WaiaasError("PAYMENT_FAILED", f"More than {MAX_REDIRECTS} redirects.")
    except TimeoutError:
        raise WaiaasError(
            "PAYMENT_FAILED",
            f"The resource did not answer within {request.timeout_seconds:g} s.",
        ) from None
    except Refused as refused:
        raise WaiaasError(
            "POLICY_DENIED",
            f"x402.allowedHosts: {refused.reason}; waiaas connects there for an agent only "
            f"when the owner lists that exact host:port ({host_port(refused.host, refused.port)}), "
            "and "
            "allowAnyHost never covers this machine or a private network. Nothing was sent.",
        ) from None
    except (httpx.HTTPError, httpx.InvalidURL, UnicodeError) as exc:
        raise WaiaasError(
            "PAYMENT_FAILED", f"The resource could not be reached ({type(exc).__name__})."
        ) from None


def target_of_safe(url: str) -> str:
    try:
        return target_of(url).origin
    except WaiaasError:
        return "an invalid URL"


async def _once(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    request: PayRequest,
    headers: Mapping[str, str] | None,
) -> Answer:
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    content = None
    if request.body is not None and method not in ("GET", "HEAD"):
        content = request.body.encode()
        all_headers["Content-Type"] = request.content_type or "application/json"
    async with client.stream(method, url, headers=all_headers, content=content) as response:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_RESOURCE_BYTES:
                raise WaiaasError(
                    "PAYMENT_FAILED",
                    f"The resource's answer is over {MAX_RESOURCE_BYTES} bytes; it was not read.",
                )
            chunks.append(chunk)
        return Answer(
            response.status_code,
            response.headers,
            b"".join(chunks),
            response.headers.get("content-type"),
        )


def resource_of(answer: Answer) -> Resource:
    kind = (answer.content_type or "").split(";")[0].strip().lower()
    if kind.startswith(TEXT_TYPES) or kind.endswith("+json"):
        try:
            text = answer.body.decode("utf-8")
            if "\x00" not in text:
                return Resource(
                    status=answer.status,
                    content_type=answer.content_type,
                    body=text,
                    body_encoding="utf-8",
                    size=len(answer.body),
                )
        except UnicodeDecodeError:
            pass
    return Resource(
        status=answer.status,
        content_type=answer.content_type,
        body=base64.b64encode(answer.body).decode(),
        body_encoding="base64",
        size=len(answer.body),
    )


# -- the payment ----------------------------------------------------------------


async def pay(
    state: DaemonState, auth: Authenticated, request: PayRequest
) -> tuple[PayResult, int]:
    """parse -> rules -> fetch -> (402) choose -> decide -> record -> sign -> pay -> settle.

    Returns the answer and its HTTP status (201 paid, 200 free or recorded, 202 waiting).
    """
    wallet = await wallets.get(state, auth.claims.wallet_id)
    target = target_of(request.url)
    key = request.idempotency_key
    if key is not None:
        existing = await state.db.get_payment(wallet.id, key)
        if existing is not None:
            return await _again(state, auth, wallet, existing, target, request)
    # The kill switch or a suspension stops the fetch too, not only the payment.
    await _live(state, wallet)
    rules = await _rules(state, wallet.id)
    await _check_host(state, wallet, auth, rules, target)
    held = await state.db.held_payment(wallet.id, target.url, auth.session.id)
    if held is not None:
        held = await _lapse(state, held)
    if held is not None and held.status in ("QUEUED", "PENDING_APPROVAL", APPROVED):
        # One decision per resource and session: the owner's yes pays this session's next
        # call for the URL, and a call while the owner has not decided does not ask again.
        return await _again(state, auth, wallet, held, target, request)
    async with resource_client(state, rules) as client:
        answer = await _fetch_checked(state, wallet, auth, rules, target, request, client)
        if answer.status != 402:
            return PayResult(outcome="FREE", resource=resource_of(answer), payment=None), 200
        challenge = x402.parse_challenge(answer.headers, answer.body)
        req, token = await _select(state, wallet, rules, challenge)
        if request.max_amount is not None and req.amount > int(request.max_amount):
            raise WaiaasError(
                "CONSTRAINT_VIOLATED",
                f"maxAmount: the resource asks {req.amount} base units of {token.label}, above "
                f"this request's maxAmount ({request.max_amount}). Nothing was paid.",
            )
        try:
            tx = await _decide_and_record(state, auth, wallet, target, req, token, key)
        except _Replay as replay:
            return await _again(state, auth, wallet, replay.tx, target, request)
        except usd.NeedsPrice:
            # Priced outside the wallet's lock, then decided again (transactions.send).
            appraisal = await transactions.appraise(state, wallet, req.amount, token)
            try:
                tx = await _decide_and_record(
                    state, auth, wallet, target, req, token, key, appraisal
                )
            except _Replay as replay:
                return await _again(state, auth, wallet, replay.tx, target, request)
        if tx.status in ("QUEUED", "PENDING_APPROVAL"):
            state.waiting_changed()
            return PayResult(outcome="WAITING", resource=None, payment=payment_of(tx)), 202
        return await _pay_recorded(
            state, auth, wallet, tx, target, request, challenge, req, token, client, None
        )


async def _rules(state: DaemonState, wallet_id: str) -> Policy:
    row = await state.db.get_policy(wallet_id)
    return policy.load(row.document if row else None)


async def _live(state: DaemonState, wallet: WalletRow) -> None:
    """SPEC 12 step 1 before anything leaves the daemon (the signing gate checks it again)."""
    if wallet.status == "TERMINATED":
        raise WaiaasError("WALLET_TERMINATED")
    if wallet.status == "SUSPENDED":
        raise transactions.suspended_error(wallet.status_reason)
    if (await state.db.get_kill_switch()).active:
        raise WaiaasError("KILL_SWITCH_ACTIVE", hint="The owner must turn the kill switch off.")


def _host_error(rules: Policy, target: Target) -> WaiaasError | None:
    if host_allowed(rules, target):
        return None
    return WaiaasError(
        "POLICY_DENIED",
        f"x402.allowedHosts: {target.host} is not a host the owner allows payments to "
        "(the owner adds it with: waiaas policy set WALLET --x402-allow-host HOST).",
    )


async def _check_host(
    state: DaemonState, wallet: WalletRow, auth: Authenticated, rules: Policy, target: Target
) -> None:
    """A host the owner does not allow is refused (audited) before any request to it."""
    error = _host_error(rules, target)
    if error is not None:
        await _deny(state, wallet, auth, rules, error, target, None, 0, counts=True)
        raise error


async def _fetch_checked(
    state: DaemonState,
    wallet: WalletRow,
    auth: Authenticated,
    rules: Policy,
    target: Target,
    request: PayRequest,
    client: httpx.AsyncClient,
) -> Answer:
    """The unpaid fetch; a destination the guard refused is a denial, audited as one."""
    try:
        return await fetch(client, target, request)
    except WaiaasError as exc:
        if exc.code == "POLICY_DENIED":
            # The agent named a host that leads into the owner's machine: its own doing.
            await _deny(state, wallet, auth, rules, exc, target, None, 0, counts=True)
        raise


def rules_error(
    rules: Policy, wallet: WalletRow, target: Target, req: x402.Requirement, mint: str
) -> WaiaasError | None:
    """The owner's rules checked again, under the wallet's lock, just before a decided
    payment is signed (the owner may have changed them since, e.g. while an approved
    payment waited for the agent): the x402 rules and the policy's allow lists."""
    return x402_rules_error(rules, wallet, target, req, mint) or policy.allow_list_error(
        rules, req.pay_to, mint
    )


def x402_rules_error(
    rules: Policy, wallet: WalletRow, target: Target, req: x402.Requirement, mint: str
) -> WaiaasError | None:
    """The owner's x402 rules: the host, the networks, the ceiling per request."""
    error = _host_error(rules, target)
    if error is not None:
        return error
    if req.network not in accepted_networks(rules, wallet):
        return WaiaasError(
            "POLICY_DENIED", f"x402.networks: the owner does not accept payments on {req.network}."
        )
    ceiling = ((rules.x402.max_per_request if rules.x402 else None) or {}).get(mint)
    if ceiling is not None and req.amount > int(ceiling):
        return WaiaasError(
            "POLICY_DENIED",
            f"x402.maxPerRequest: the resource asks {req.amount} base units of {mint}, above "
            f"the owner's ceiling per request ({ceiling}).",
        )
    return None


async def _select(
    state: DaemonState, wallet: WalletRow, rules: Policy, challenge: x402.Challenge
) -> tuple[x402.Requirement, tokens.Token]:
    """Exactly one of the ways the resource offers, in the documented order
    (``x402.candidates``: what this wallet pays on, the owner's preferredNetworks first,
    then the resource's order), skipping those in a token it does not pay with and those
    its balance cannot cover. None left: the best one's reason."""
    ordered = x402.candidates(
        challenge, accepted_networks(rules, wallet), preferred_networks(rules)
    )
    errors: list[WaiaasError] = []
    for req in ordered:
        try:
            token = await _token(state, wallet, req)
            await _check_token_balance(state, wallet, token, req.amount, network_of(wallet, req))
        except WaiaasError as exc:
            if exc.code not in ("PAYMENT_UNSUPPORTED", "INSUFFICIENT_BALANCE"):
                raise
            errors.append(exc)
            continue
        return req, token
    short = [e for e in errors if e.code == "INSUFFICIENT_BALANCE"]
    raise (short or errors)[0]


def preferred_networks(rules: Policy) -> list[str]:
    return list((rules.x402.preferred_networks if rules.x402 else None) or ())


async def _token(state: DaemonState, wallet: WalletRow, req: x402.Requirement) -> tokens.Token:
    network = network_of(wallet, req)
    chain = state.chain_for(network)
    try:
        return await tokens.resolve(state.db, chain, network, req.asset)
    except WaiaasError as exc:
        if exc.code in ("TOKEN_NOT_FOUND", "INVALID_ADDRESS", "UNSUPPORTED_TOKEN"):
            raise WaiaasError(
                "PAYMENT_UNSUPPORTED",
                f"The resource asks to be paid in {req.asset[:44]}, not a token this wallet "
                f"pays with on {network}: {exc.message}",
            ) from None
        raise


async def _decide_and_record(
    state: DaemonState,
    auth: Authenticated,
    wallet: WalletRow,
    target: Target,
    req: x402.Requirement,
    token: tokens.Token,
    key: str | None,
    appraisal: usd.Appraisal | None = None,
) -> TransactionRow:
    """SPEC 12 under the wallet's lock, as for a send, then the PAYMENT record.

    ``usd.NeedsPrice`` when a dollar rule needs a price not at hand: the caller fetches
    it outside the lock and calls again with it.
    """
    session = auth.session
    network = network_of(wallet, req)
    async with state.wallet_lock(wallet.id):
        now = state.now()
        inputs = await state.db.send_inputs(wallet.id, session.id, now, mint=token.mint)
        error = transactions.live_error(inputs)
        if error is not None:
            raise error
        rules = policy.load(inputs.policy)
        appraisal = transactions.at_hand(
            state, wallet, appraisal, rules, session.constraints, req.amount, token
        )
        decision = policy.Decision(None)
        error = x402_rules_error(rules, wallet, target, req, token.mint)
        if error is None:
            decision = policy.decide(
                rules,
                session.constraints,
                transactions.totals_of(inputs),
                to=req.pay_to,
                amount=req.amount,
                now=now,
                token=token.mint,
                usd=usd.inputs_of(appraisal, inputs),
                network=network,
                home_network=wallet.network,
            )
            error = decision.error
        if error is not None:
            # The price, the payee and the asset are the resource's answer, not the agent's
            # choice: only a refusal of how often the agent pays counts as its misbehaving.
            counts = error.code == "RATE_LIMITED"
            await _deny(
                state, wallet, auth, rules, error, target, req.pay_to, req.amount, counts=counts
            )
            raise error
        assert decision.tier is not None
        await _check_token_balance(state, wallet, token, req.amount, network)
        when: dict[str, Any] = {}
        status, action = "PENDING", "send_requested"
        if decision.tier == "DELAY":
            delay = rules.delay_seconds
            when = {"execute_at": now + (policy.DEFAULT_DELAY_SECONDS if delay is None else delay)}
            status, action = "QUEUED", "send_queued"
        elif decision.tier == "APPROVAL":
            timeout = rules.approval_timeout or policy.DEFAULT_APPROVAL_TIMEOUT
            when = {"approval_expires_at": now + timeout}
            status, action = "PENDING_APPROVAL", "approval_required"
        valued, noted = usd.record(appraisal, decision)
        tx_id = str(uuid.uuid4())
        event = Event(
            f"session:{session.id}",
            action,
            wallet.id,
            session.id,
            tx_id,
            {
                "kind": "payment",
                "tier": decision.tier,
                "to": req.pay_to,
                "amount": str(req.amount),
                "origin": target.origin,
                "tokenMint": token.mint,
                **when,
                **noted,
            },
        )
        record = {
            "id": tx_id,
            "wallet_id": wallet.id,
            "session_id": session.id,
            "type": "PAYMENT",
            "status": status,
            "to_address": req.pay_to,
            "amount": str(req.amount),
            "memo": None,
            "created_at": now,
            "updated_at": now,
            "tier": decision.tier,
            "idempotency_key": key,
            "payment_url": target.url,
            "payment_origin": target.origin,
            "payment_network": req.network,
            "network": network,
            **when,
            **tokens.columns(token),
            **valued,
        }
        try:
            return await state.db.insert_send(record, [event])
        except DuplicateKey:
            # The same key raced in on another request (or daemon): that one is the payment.
            assert key is not None
            existing = await state.db.get_payment(wallet.id, key)
            assert existing is not None
            raise _Replay(existing) from None


class _Replay(Exception):
    def __init__(self, tx: TransactionRow) -> None:
        self.tx = tx


async def _check_token_balance(
    state: DaemonState, wallet: WalletRow, token: tokens.Token, amount: int, network: str
) -> None:
    chain = state.chain_for(network)
    held = await chain.token_balance(wallet.address, token.mint, token.program)
    if held < amount:
        raise WaiaasError(
            "INSUFFICIENT_BALANCE",
            f"The {token.label} balance is {held} base units; the payment needs {amount}.",
        )


async def _deny(
    state: DaemonState,
    wallet: WalletRow,
    auth: Authenticated,
    rules: Policy,
    error: WaiaasError,
    target: Target,
    to: str | None,
    amount: int,
    *,
    counts: bool,
) -> None:
    """A refused payment records no transaction, only an audit entry; it counts toward
    auto-suspension when ``counts``: the agent's own doing (a host the owner did not
    allow, paying too often), not what a resource's server asked (docs/notes/x402.md)."""
    threshold = rules.auto_suspend_after_denials
    if threshold is None:
        threshold = policy.DEFAULT_AUTO_SUSPEND
    event = Event(
        f"session:{auth.session.id}",
        "send_denied",
        wallet.id,
        auth.session.id,
        None,
        {
            "kind": "payment",
            "code": error.code,
            "rule": error.message,
            "origin": target.origin,
            "to": to,
            "amount": str(amount),
            "counted": counts,
        },
    )
    if not counts:
        await state.db.emit([event])
        return
    count = await state.db.record_denial(wallet.id, state.now(), threshold, [event])
    if count is not None:
        log.warning("wallet %s suspended after %d denials within an hour", wallet.id, count)


async def _sign(
    state: DaemonState,
    wallet: WalletRow,
    tx: TransactionRow,
    req: x402.Requirement,
    back_to: str | None,
) -> TransactionRow:
    """Sign the payer's part and save it (SUBMITTED) through the gate, before it leaves."""
    if x402.is_evm(req.network):
        return await _sign_evm(state, wallet, tx, req, back_to)
    chain = state.chain_for(wallet.network)
    token = tokens.of_transaction(tx)
    assert token is not None and req.fee_payer is not None
    try:
        blockhash = await chain.fresh_blockhash()  # type: ignore[attr-defined]
        prepared = exact.build_exact_payment(
            wallets.signer(state, wallet),
            req.fee_payer,
            req.pay_to,
            token.mint,
            req.amount,
            token.decimals,
            token.program,
            blockhash,
        )
    except BaseException as exc:
        reason = exc.message if isinstance(exc, WaiaasError) else "not signed"
        with anyio.CancelScope(shield=True):
            await _update(state, tx.id, status="FAILED", error=f"not paid: {reason}")
        raise
    passed = await state.db.swap_transaction(
        tx.id,
        ("PENDING",),
        {
            "status": "SUBMITTED",
            "signature": prepared.signature,
            "raw": prepared.raw,
            "payment_blockhash": str(blockhash),
            "updated_at": state.now(),
        },
        gate=True,
    )
    if passed is None:
        inputs = await state.db.send_inputs(tx.wallet_id, tx.session_id, state.now())
        error = transactions.live_error(inputs) or WaiaasError("TRANSACTION_NOT_PENDING")
        await _unclaim(state, tx, back_to, error)
        raise error
    return passed


async def _sign_evm(
    state: DaemonState,
    wallet: WalletRow,
    tx: TransactionRow,
    req: x402.Requirement,
    back_to: str | None,
) -> TransactionRow:
    """EIP-3009 on EVM: the nonce and validBefore are recorded on the PENDING record first,
    then the authorization is signed and saved (SUBMITTED) through the gate. The payload
    (``{signature, authorization}``) is the record's ``raw``."""
    from waiaas_daemon.chain.evm import x402 as evm_exact

    chain = state.chain_for(network_of(wallet, req))
    token = tokens.of_transaction(tx)
    assert token is not None and req.token_name and req.token_version
    try:
        chain_id = await chain.chain_id()  # type: ignore[attr-defined]
        # The token compares the window with its block's timestamp: the chain's clock.
        after, before = evm_exact.window(await _chain_time(chain), req.max_timeout)
        authorization = evm_exact.Authorization(
            token=token.mint,
            chain_id=chain_id,
            name=req.token_name,
            version=req.token_version,
            sender=wallet.address,
            to=req.pay_to,
            value=req.amount,
            valid_after=after,
            valid_before=before,
            nonce=evm_exact.new_nonce(),
        )
        noted = await state.db.swap_transaction(
            tx.id,
            ("PENDING",),
            {
                "payment_nonce": authorization.nonce,
                "payment_valid_before": before,
                "updated_at": state.now(),
            },
        )
        if noted is None:
            raise WaiaasError("TRANSACTION_NOT_PENDING")
        signer = await wallets.unlock_signer(state, wallet)
        signature = evm_exact.sign(signer, authorization)
    except BaseException as exc:
        reason = exc.message if isinstance(exc, WaiaasError) else "not signed"
        with anyio.CancelScope(shield=True):
            await _update(state, tx.id, status="FAILED", error=f"not paid: {reason}")
        raise
    raw = json.dumps(evm_exact.payload(authorization, signature)).encode()
    passed = await state.db.swap_transaction(
        tx.id,
        ("PENDING",),
        {"status": "SUBMITTED", "signature": signature, "raw": raw, "updated_at": state.now()},
        gate=True,
    )
    if passed is None:
        # Never left the daemon: this signature can never be used.
        inputs = await state.db.send_inputs(tx.wallet_id, tx.session_id, state.now())
        error = transactions.live_error(inputs) or WaiaasError("TRANSACTION_NOT_PENDING")
        await _unclaim(state, tx, back_to, error)
        raise error
    return passed


def _scheme_payload(tx: TransactionRow) -> dict[str, Any]:
    """The payment header's ``payload``: EVM's ``{signature, authorization}`` as saved, or
    Solana's partially signed transaction."""
    assert tx.raw is not None
    if tx.payment_nonce is not None:
        return dict(json.loads(tx.raw))
    return {"transaction": base64.b64encode(tx.raw).decode()}


async def _evm_call(chain: Any, method: str, params: list[Any]) -> Any:
    from waiaas_daemon.chain.evm import EvmNodeUnavailable, EvmRpcError

    try:
        return await chain.node.request(method, params)
    except (EvmRpcError, EvmNodeUnavailable) as exc:
        raise WaiaasError("CHAIN_ERROR", f"{method}: {exc}") from None


async def _chain_time(chain: Any) -> int:
    block = await _evm_call(chain, "eth_getBlockByNumber", ["latest", False])
    return int(block["timestamp"], 16)


async def _unclaim(
    state: DaemonState, tx: TransactionRow, back_to: str | None, error: WaiaasError
) -> None:
    """A claimed payment that may not be signed now: an approved one goes back to waiting
    for the agent (the owner's yes stays good until it expires: the kill switch or a rule
    change refuses this attempt, it does not use the approval up); a new one is FAILED."""
    if back_to == APPROVED:
        await state.db.swap_transaction(
            tx.id, ("PENDING",), {"status": APPROVED, "updated_at": state.now()}
        )
    else:
        await _update(state, tx.id, status="FAILED", error=f"not paid: {error.message}")


async def _pay_recorded(
    state: DaemonState,
    auth: Authenticated,
    wallet: WalletRow,
    tx: TransactionRow,
    target: Target,
    request: PayRequest,
    challenge: x402.Challenge,
    req: x402.Requirement,
    token: tokens.Token,
    client: httpx.AsyncClient,
    back_to: str | None,
) -> tuple[PayResult, int]:
    """Check the owner's rules as they are now, sign, send the paid request, and settle
    the record from the chain. ``back_to``: the status a claimed record returns to when it
    may not be signed (APPROVED), or None (a new payment: FAILED)."""
    async with state.wallet_lock(wallet.id):
        rules = await _rules(state, wallet.id)
        error = rules_error(rules, wallet, target, req, token.mint)
        if error is not None:
            await _unclaim(state, tx, back_to, error)
            # The owner's rules changed since the decision: nothing the agent did.
            await _deny(
                state, wallet, auth, rules, error, target, req.pay_to, req.amount, counts=False
            )
            raise error
        signed = await _sign(state, wallet, tx, req, back_to)
    assert signed.raw is not None
    header = x402.payment_header(challenge, req, _scheme_payload(signed))
    try:
        answer = await fetch(client, target, request, {header[0]: header[1]})
    except WaiaasError as exc:
        settled = await _settle(state, wallet, signed, None)
        raise _after_payment(exc.message, settled) from None
    receipt = x402.parse_receipt(answer.headers)
    settled = await _settle(state, wallet, signed, receipt)
    if answer.status == 402:
        raise _after_payment(
            "The resource answered 402 again after the payment was sent"
            + (f" ({receipt.error})" if receipt and receipt.error else ""),
            settled,
        )
    if settled.status != "CONFIRMED":
        claim = receipt.transaction if receipt and receipt.success else None
        raise _after_payment(
            f"The resource answered {answer.status} but the chain shows no settlement of this "
            "payment" + (f" (it claimed {claim})" if claim else ""),
            settled,
        )
    if receipt is not None and receipt.amount is not None and receipt.amount != settled.amount:
        log.warning(
            "payment %s: the receipt says %s, the chain settled %s",
            settled.id,
            receipt.amount,
            settled.amount,
        )
    return PayResult(outcome="PAID", resource=resource_of(answer), payment=payment_of(settled)), 201


def _after_payment(what: str, tx: TransactionRow) -> WaiaasError:
    if tx.status == "CONFIRMED":
        state_text = (
            f"The payment settled on chain (transaction {tx.id}, settlement "
            f"{tx.payment_settlement}); it will not be paid again."
        )
    elif tx.status == "FAILED":
        state_text = f"Nothing was paid (transaction {tx.id} FAILED)."
    else:
        state_text = (
            f"The payment (transaction {tx.id}) is not settled; it can still settle until its "
            "authorization or blockhash expires. Check it with get_transaction; do not pay "
            "again meanwhile."
        )
    return WaiaasError("PAYMENT_FAILED", f"{what}. {state_text}")


async def _settle(
    state: DaemonState, wallet: WalletRow, tx: TransactionRow, receipt: x402.Receipt | None
) -> TransactionRow:
    """The record as the chain has it: the local chain confirms it the instant it lands
    (``local_rpc``); elsewhere the receipt's settlement signature is looked up."""
    fresh = await _get(state, tx.id)
    if fresh.status != "SUBMITTED":
        return fresh
    settlement = receipt.transaction if receipt and receipt.success else None
    if fresh.payment_nonce is not None:
        return await _settle_evm(state, wallet, fresh, settlement)
    chain = state.chain_for(wallet.network)
    if settlement and not isinstance(chain, LocalChain):
        try:
            outcome = await chain.status(settlement)
        except WaiaasError:
            outcome = None
        if outcome is not None and outcome.status == "CONFIRMED":
            await _update(state, tx.id, status="CONFIRMED", payment_settlement=settlement)
            return await _get(state, tx.id)
    return await refresh(state, fresh)


async def refresh(state: DaemonState, tx: TransactionRow) -> TransactionRow:
    """A SUBMITTED payment as the chain has it. On the local chain one whose blockhash
    expired can never land: FAILED. On an RPC network the payer's token account's history
    is searched for the transaction carrying the payment's signature (``_search``)."""
    if tx.status == "SUBMITTED" and tx.payment_nonce is not None:
        return await _settle_evm(state, await wallets.get(state, tx.wallet_id), tx, None)
    if tx.status != "SUBMITTED" or tx.payment_blockhash is None:
        return tx
    wallet = await wallets.get(state, tx.wallet_id)
    chain = state.chain_for(wallet.network)
    if isinstance(chain, RpcChain):
        return await _search(state, wallet, chain, tx)
    if isinstance(chain, LocalChain) and not chain.blockhash_live(tx.payment_blockhash):
        await state.db.swap_transaction(
            tx.id,
            ("SUBMITTED",),
            {
                "status": "FAILED",
                "error": "not paid: the payment did not settle before its blockhash expired",
                "updated_at": state.now(),
            },
        )
        return await _get(state, tx.id)
    return tx


async def _settle_evm(
    state: DaemonState, wallet: WalletRow, tx: TransactionRow, settlement: str | None
) -> TransactionRow:
    """An EIP-3009 payment as the token has it, asked with ``authorizationState(from,
    nonce)``: used -> CONFIRMED (its settlement: the receipt's transaction once the chain
    holds it deep enough, else the token's AuthorizationUsed log); unused after its
    ``validBefore`` -> FAILED, it can never be used; unused before -> still SUBMITTED. A
    crashed payment is resolved the same way, never paid again with a new nonce while the
    old one can still land. The node not answering changes nothing."""
    from waiaas_daemon.chain.evm import x402 as evm_exact

    assert tx.payment_nonce is not None and tx.token_mint is not None
    chain = state.chain_for(tx.network or wallet.network)
    call = evm_exact.authorization_state_call(wallet.address, tx.payment_nonce)
    try:
        answer = await _evm_call(chain, "eth_call", [{"to": tx.token_mint, "data": call}, "latest"])
        used = evm_exact.is_used(answer)
        if not used:
            expired = (await _chain_time(chain)) >= (tx.payment_valid_before or 0)
        else:
            settlement = settlement or await _used_in(chain, tx, wallet.address)
            outcome = await chain.status(settlement) if settlement else None
    except WaiaasError as exc:
        log.warning("payment %s: the chain cannot tell yet (%s)", tx.id, exc.message)
        return tx
    if used:
        if outcome is not None and outcome.status == "SUBMITTED":
            return tx  # mined, not yet as deep as the network's confirmations
        found = settlement if outcome is None or outcome.status == "CONFIRMED" else None
        await _update(state, tx.id, status="CONFIRMED", payment_settlement=found, error=None)
    elif expired:
        await _update(
            state,
            tx.id,
            status="FAILED",
            error="not paid: the authorization expired unused; it can never be paid",
        )
    else:
        return tx
    return await _get(state, tx.id)


async def _used_in(chain: Any, tx: TransactionRow, payer: str) -> str | None:
    """The transaction that used the payment's authorization: the token's AuthorizationUsed
    log (authorizer, nonce), searched over the last blocks only (a node bounds the range)."""
    from waiaas_daemon.chain.evm import x402 as evm_exact

    assert tx.payment_nonce is not None
    head = int(await _evm_call(chain, "eth_blockNumber", []), 16)
    wallet_topic = "0x" + payer.removeprefix("0x").lower().rjust(64, "0")
    try:
        logs = await _evm_call(
            chain,
            "eth_getLogs",
            [
                {
                    "address": tx.token_mint,
                    "fromBlock": hex(max(0, head - 5000)),
                    "toBlock": "latest",
                    "topics": [evm_exact.AUTHORIZATION_USED, wallet_topic, tx.payment_nonce],
                }
            ],
        )
    except WaiaasError:
        # A node without eth_getLogs (the embedded one): the receipts of the last blocks.
        return await _used_in_blocks(chain, tx.token_mint, wallet_topic, tx.payment_nonce, head)
    return str(logs[-1]["transactionHash"]) if logs else None


SCANNED_BLOCKS = 64


async def _used_in_blocks(
    chain: Any, token: str | None, wallet_topic: str, nonce: str, head: int
) -> str | None:
    from waiaas_daemon.chain.evm import x402 as evm_exact

    wanted = [evm_exact.AUTHORIZATION_USED, wallet_topic, nonce.lower()]
    for number in range(head, max(-1, head - SCANNED_BLOCKS), -1):
        block = await _evm_call(chain, "eth_getBlockByNumber", [hex(number), False])
        for tx_hash in (block or {}).get("transactions") or ():
            receipt = await _evm_call(chain, "eth_getTransactionReceipt", [tx_hash])
            for entry in (receipt or {}).get("logs") or ():
                topics = [str(t).lower() for t in entry.get("topics") or ()]
                same_token = str(entry.get("address", "")).lower() == (token or "").lower()
                if same_token and topics[:3] == wanted:
                    return str(tx_hash)
    return None


async def _search(
    state: DaemonState, wallet: WalletRow, chain: RpcChain, tx: TransactionRow
) -> TransactionRow:
    """CONFIRMED (or FAILED) as the landed transaction carrying our signature says; FAILED
    if none did and its blockhash has expired; else still SUBMITTED.

    The blockhash is asked about first: once it has expired the payment cannot land any
    more, so a search made after that answer that does not find it is final."""
    token = tokens.of_transaction(tx)
    assert tx.signature is not None and tx.payment_blockhash is not None
    if token is None:
        return tx
    source = str(spl.associated_address(wallet.address, token.mint, token.program))
    try:
        expired = not await chain.blockhash_valid(tx.payment_blockhash)
        found = await chain.find_cosigned(source, tx.signature)
    except WaiaasError as exc:
        log.warning("payment %s: the chain cannot tell yet (%s)", tx.id, exc.message)
        return tx
    if found is not None and found.status == "CONFIRMED":
        await _update(
            state, tx.id, status="CONFIRMED", payment_settlement=found.signature, error=None
        )
    elif found is not None:
        await _update(
            state,
            tx.id,
            status="FAILED",
            payment_settlement=found.signature,
            error=f"not paid: {found.error}",
        )
    elif expired:
        await _update(
            state,
            tx.id,
            status="FAILED",
            error="not paid: the payment did not settle before its blockhash expired",
        )
    else:
        return tx
    return await _get(state, tx.id)


async def reconcile_one(state: DaemonState, tx: TransactionRow) -> None:
    """At start: an unsettled payment. Unsigned: FAILED. Signed: on ``local`` the runtime's
    blockhashes are new, so it can never land (a landed one was confirmed with its
    accounts); elsewhere the chain is searched (``refresh``)."""
    if not tx.signature:
        await _update(state, tx.id, status="FAILED", error="not paid: the daemon stopped first")
        return
    await refresh(state, tx)


async def _again(
    state: DaemonState,
    auth: Authenticated,
    wallet: WalletRow,
    tx: TransactionRow,
    target: Target,
    request: PayRequest,
) -> tuple[PayResult, int]:
    """A used idempotency key or a held payment of this session: the record, or (approved
    by the owner) pay it now, within the owner's rules as they are now."""
    if tx.session_id != auth.session.id:
        # An approval and a record belong to the session that asked: another session of the
        # wallet can neither cash the one nor read the other through the key.
        raise WaiaasError(
            "IDEMPOTENCY_CONFLICT",
            "The idempotency key is used by another session of this wallet; use a new key.",
        )
    if tx.payment_url != target.url:
        raise WaiaasError(
            "IDEMPOTENCY_CONFLICT",
            f"The idempotency key belongs to transaction {tx.id}, a payment for another URL.",
        )
    tx = await _lapse(state, await refresh(state, tx))
    if tx.status != APPROVED:
        if tx.status in ("QUEUED", "PENDING_APPROVAL"):
            return PayResult(outcome="WAITING", resource=None, payment=payment_of(tx)), 202
        return PayResult(outcome="RECORDED", resource=None, payment=payment_of(tx)), 200
    # While the kill switch is on nothing is fetched and the approval waits (it is not
    # used up); a host the owner no longer allows is not even asked.
    await _live(state, wallet)
    rules = await _rules(state, wallet.id)
    await _check_host(state, wallet, auth, rules, target)
    async with resource_client(state, rules) as client:
        answer = await _fetch_checked(state, wallet, auth, rules, target, request, client)
        if answer.status != 402:
            return PayResult(
                outcome="FREE", resource=resource_of(answer), payment=payment_of(tx)
            ), 200
        challenge = x402.parse_challenge(answer.headers, answer.body)
        token = tokens.of_transaction(tx)
        assert token is not None
        req = _approved_option(challenge, wallet, rules, tx, token)
        error = rules_error(rules, wallet, target, req, token.mint)
        if error is not None:
            # The owner's rules changed since the decision: nothing the agent did.
            await _deny(
                state, wallet, auth, rules, error, target, req.pay_to, req.amount, counts=False
            )
            raise error
        tx = await _lapse(state, await _get(state, tx.id))  # the fetch took time
        claimed = await state.db.swap_transaction(
            tx.id, (APPROVED,), {"status": "PENDING", "updated_at": state.now()}
        )
        if claimed is None:
            fresh = await _get(state, tx.id)
            return PayResult(outcome="RECORDED", resource=None, payment=payment_of(fresh)), 200
        return await _pay_recorded(
            state, auth, wallet, claimed, target, request, challenge, req, token, client, APPROVED
        )


def _approved_option(
    challenge: x402.Challenge,
    wallet: WalletRow,
    rules: Policy,
    tx: TransactionRow,
    token: tokens.Token,
) -> x402.Requirement:
    """The way to pay in the resource's new 402 that is the payment the owner approved."""
    ordered = x402.candidates(
        challenge, accepted_networks(rules, wallet), preferred_networks(rules)
    )
    for req in ordered:
        if (req.pay_to, req.amount, req.asset) == (tx.to_address, int(tx.amount), token.mint):
            return req
    req = ordered[0]
    raise WaiaasError(
        "PAYMENT_FAILED",
        f"The resource now asks {req.amount} base units of {req.asset[:44]} to "
        f"{req.pay_to[:44]}, not the payment the owner approved ({tx.amount} to "
        f"{tx.to_address}). Nothing was paid.",
    )


async def approve(
    state: DaemonState, tx: TransactionRow, actor: str, action: str
) -> TransactionRow:
    """The owner's yes to a waiting payment (or its delay passed): the agent may now pay it
    with the same idempotency key; the daemon cannot fetch the resource for it."""
    now = state.now()
    # The approval lasts the policy's approvalTimeout (from this instant): an agent that
    # never comes back for the resource must not hold the money against the limits.
    row = await state.db.get_policy(tx.wallet_id)
    timeout = policy.load(row.document if row else None).approval_timeout
    expires = now + (timeout or policy.DEFAULT_APPROVAL_TIMEOUT)
    details = {"kind": "payment", "approval_expires_at": expires}
    event = Event(actor, action, tx.wallet_id, tx.session_id, tx.id, details)
    done = await state.db.swap_transaction(
        tx.id,
        (tx.status,),
        {
            "status": APPROVED,
            "decided_at": now,
            "approval_expires_at": expires,
            "updated_at": now,
        },
        gate=True,
        events=[event],
    )
    if done is None:
        fresh = await _get(state, tx.id)
        inputs = await state.db.send_inputs(tx.wallet_id, tx.session_id, now)
        raise transactions.live_error(inputs) or WaiaasError(
            "TRANSACTION_NOT_PENDING", f"The transaction is {fresh.status}."
        )
    state.waiting_changed()  # the scheduler learns the approval's deadline
    return done


def lapsed(state: DaemonState, tx: TransactionRow) -> bool:
    """An APPROVED payment the agent did not pay before its approval expired."""
    expires = tx.approval_expires_at
    return tx.status == APPROVED and expires is not None and expires <= state.now()


async def expire_approved(state: DaemonState, tx: TransactionRow) -> TransactionRow | None:
    """APPROVED -> EXPIRED (audited); None if it was paid, cancelled or expired meanwhile."""
    now = state.now()
    reason = "the agent did not pay it before the approval expired"
    event = Event(
        "daemon",
        "send_expired",
        tx.wallet_id,
        tx.session_id,
        tx.id,
        {"kind": "payment", "reason": reason},
    )
    return await state.db.swap_transaction(
        tx.id,
        (APPROVED,),
        {"status": "EXPIRED", "reason": reason, "updated_at": now},
        events=[event],
    )


async def _lapse(state: DaemonState, tx: TransactionRow) -> TransactionRow:
    """``tx`` as it is now, EXPIRED first if its approval ran out (the scheduler may lag)."""
    if lapsed(state, tx):
        await expire_approved(state, tx)
        return await _get(state, tx.id)
    return tx


def payment_of(tx: TransactionRow) -> Payment:
    token = TokenRefField.of(tx.token_mint, tx.token_symbol, tx.token_decimals)
    return Payment(
        transaction_id=tx.id,
        status=tx.status,
        tier=tx.tier,
        amount=tx.amount,
        token=token,
        pay_to=tx.to_address,
        network=tx.payment_network,
        origin=tx.payment_origin,
        settlement=tx.payment_settlement,
        error=tx.error,
        execute_at=tx.execute_at,
        approval_expires_at=tx.approval_expires_at,
    )


async def _update(state: DaemonState, tx_id: str, **changes: Any) -> None:
    await state.db.settle_transaction(tx_id, {**changes, "updated_at": state.now()})


async def _get(state: DaemonState, tx_id: str) -> TransactionRow:
    tx = await state.db.get_transaction(tx_id)
    assert tx is not None
    return tx
