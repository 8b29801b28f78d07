"""A send's dollar value for the owner's USD rules, and what its record keeps of it.

Under the wallet's lock a send asks ``at_hand`` once it has read its policy: no
dollar rule, nothing (the price module is never imported); a fresh cached price,
the value at once; else ``NeedsPrice``, and the send fetches it with ``appraise``
outside the lock and decides again, so a slow price source never holds the
wallet's other sends. A failure to price is not an error: the value is None with
the reason, and ``policy.decide`` holds the send for the owner (``no price``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from waiaas_daemon.domain import policy

if TYPE_CHECKING:
    from waiaas_daemon.domain.prices import Valuation
    from waiaas_daemon.domain.state import DaemonState
    from waiaas_daemon.storage import SendInputs, WalletRow

# Base units of one native coin, per chain family.
NATIVE_DECIMALS = {"solana": 9, "evm": 18}


class NeedsPrice(Exception):
    """No fresh price at hand: fetch it (``appraise``) outside the wallet's lock, then retry."""


@dataclass(frozen=True)
class Appraisal:
    """A valuation, or why there is none."""

    valuation: Valuation | None
    why: str | None = None

    @property
    def micros(self) -> int | None:
        return None if self.valuation is None else self.valuation.micros

    def details(self) -> dict[str, Any]:
        """The audit entry's ``usd``: value, price, source and time; or the error."""
        if self.valuation is None:
            return {"error": f"{policy.NO_PRICE}: {self.why}"}
        return self.valuation.details()

    def columns(self) -> dict[str, Any]:
        """The record's dollar columns."""
        v = self.valuation
        if v is None:
            return {"usd_error": f"{policy.NO_PRICE}: {self.why}"}
        from waiaas_daemon.domain.prices.service import price_text

        return {
            "usd_micros": v.micros,
            "usd_price": price_text(v.price),
            "usd_source": v.source,
            "usd_priced_at": v.at,
        }


async def appraise(
    state: DaemonState,
    wallet: WalletRow,
    amount: int,
    *,
    mint: str | None = None,
    symbol: str | None = None,
    decimals: int | None = None,
    network: str | None = None,
) -> Appraisal:
    """``amount`` base units of the native coin (``mint`` None) or of a token on ``network``
    (default: the wallet's), fetching the price when it is not cached."""
    from waiaas_daemon.domain.prices import Asset, NoPrice

    asset = Asset(wallet.chain, network or wallet.network, mint, symbol)
    places = decimals if mint is not None else NATIVE_DECIMALS.get(wallet.chain)
    if places is None:
        return Appraisal(None, f"no decimals known for {wallet.chain}")
    try:
        return Appraisal(await state.price_service().value(asset, amount, places))
    except NoPrice as exc:
        return Appraisal(None, str(exc))


def at_hand(
    state: DaemonState,
    wallet: WalletRow,
    appraisal: Appraisal | None,
    rules: policy.Policy,
    constraints: dict[str, Any] | None,
    amount: int,
    *,
    mint: str | None = None,
    symbol: str | None = None,
    decimals: int | None = None,
    network: str | None = None,
) -> Appraisal | None:
    """Under the lock: None without a dollar rule; the value from a fresh cached price or
    the one fetched before (``appraisal``); else NeedsPrice. Never any I/O."""
    if not policy.needs_usd(rules, constraints):
        return None
    if appraisal is not None:
        return appraisal
    from waiaas_daemon.domain.prices import Asset, NoPrice

    asset = Asset(wallet.chain, network or wallet.network, mint, symbol)
    places = decimals if mint is not None else NATIVE_DECIMALS.get(wallet.chain)
    if places is None:
        return Appraisal(None, f"no decimals known for {wallet.chain}")
    try:
        valuation = state.price_service().cached_value(asset, amount, places)
    except NoPrice as exc:
        return Appraisal(None, str(exc))
    if valuation is None:
        raise NeedsPrice
    return Appraisal(valuation)


def inputs_of(appraisal: Appraisal | None, inputs: SendInputs) -> policy.Usd | None:
    """The dollar side of ``decide``'s inputs: the value and the totals read under the lock."""
    if appraisal is None:
        return None
    return policy.Usd(
        value=appraisal.micros,
        why=appraisal.why,
        daily=inputs.usd_daily,
        monthly=inputs.usd_monthly,
        session_daily=inputs.session_usd_daily,
        session_total=inputs.session_usd_total,
    )


def record(appraisal: Appraisal | None, decision: policy.Decision) -> tuple[dict, dict]:
    """(record columns, audit details) for a decided send: its value and the tier's reason."""
    columns: dict[str, Any] = {}
    details: dict[str, Any] = {}
    if appraisal is not None:
        columns.update(appraisal.columns())
        details["usd"] = appraisal.details()
    if decision.reason is not None:
        columns["tier_reason"] = decision.reason
        details["tierReason"] = decision.reason
    return columns, details
