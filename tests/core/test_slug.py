import itertools
import uuid

from waiaas_core.slug import to_slug, unique_slugs


def test_slug_is_lowercase_ascii_with_single_dashes():
    assert to_slug("  My Trading  Wallet!! ") == "my-trading-wallet"
    assert to_slug("Café Übersee") == "cafe-ubersee"
    assert to_slug("***") == "wallet"


def test_colliding_names_get_distinct_slugs():
    wallets = [(str(uuid.uuid4()), name) for name in ("My Wallet", "my-wallet", "MY_WALLET")]
    slugs = unique_slugs(wallets)
    assert len(set(slugs.values())) == 3
    assert all(s.startswith("my-wallet-") for s in slugs.values())


def test_slugs_do_not_depend_on_order():
    wallets = [(str(uuid.uuid4()), name) for name in ("a", "A", "b", "a!")]
    results = {tuple(sorted(unique_slugs(p).items())) for p in itertools.permutations(wallets)}
    assert len(results) == 1


def test_unique_name_keeps_plain_slug():
    wid = str(uuid.uuid4())
    assert unique_slugs([(wid, "Trading")]) == {wid: "trading"}


def test_ids_with_common_prefix_still_get_distinct_slugs():
    a = "12345678-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
    b = "12345678-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
    slugs = unique_slugs([(a, "x"), (b, "x")])
    assert slugs[a] != slugs[b]


def test_suffixed_slug_cannot_take_another_wallets_plain_slug():
    a = "1234abcd-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
    b = "99999999-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
    c = "55555555-cccc-4ccc-8ccc-cccccccccccc"
    slugs = unique_slugs([(a, "w"), (b, "w"), (c, "w-1234abcd")])
    assert len(set(slugs.values())) == 3
