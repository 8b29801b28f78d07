"""The overview and the wallet page say why a wallet is suspended and since when (issue #21)."""

import pytest

from tests.console.conftest import MASTER
from tests.daemon.policy_support import SOL, address, funded, recipient, send, set_policy

pytestmark = pytest.mark.anyio

SINCE = "2027-01-15 08:00:30 UTC"  # START + 30 s


async def test_the_pages_show_an_automatic_suspension_with_its_reason_and_time(harness, owner):
    wallet, headers, _ = await funded(harness)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], allowedRecipients=[bob], autoSuspendAfterDenials=2)
    harness.clock.advance(30)
    for _ in range(2):
        await send(harness, headers, address(), SOL)
    for path in ("/console/", f"/console/wallets/{wallet['id']}"):
        text = (await owner.http.get(path)).text
        assert "SUSPENDED" in text
        assert "auto: 2 denials within an hour" in text, path
        assert SINCE in text, path


async def test_the_pages_show_the_owners_reason_and_none_once_resumed(harness, owner):
    wallet = await harness.wallet("treasury")
    await harness.http.post(
        f"/v1/wallets/{wallet['id']}/suspend", json={"reason": "<b>odd</b> sends"}, headers=MASTER
    )
    for path in ("/console/", f"/console/wallets/{wallet['id']}"):
        text = (await owner.http.get(path)).text
        assert "&lt;b&gt;odd&lt;/b&gt; sends" in text, path  # escaped, as every owner text
    await harness.http.post(f"/v1/wallets/{wallet['id']}/resume", headers=MASTER)
    for path in ("/console/", f"/console/wallets/{wallet['id']}"):
        assert "odd" not in (await owner.http.get(path)).text, path
