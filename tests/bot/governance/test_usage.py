"""Prices turn usage into an estimated cost; without prices there is none."""

from __future__ import annotations

import pytest

from bot.governance.usage import Prices
from storage.records import UsageTotals

USED = UsageTotals(turns=3, input_tokens=12_000, output_tokens=3_000, sandbox_sessions=2, duration_ms=9_000)


def test_no_prices_means_no_cost() -> None:
    assert not Prices().known
    assert Prices().cost(USED) is None


def test_cost_adds_sessions_and_tokens_per_thousand() -> None:
    prices = Prices(per_session=0.03, per_1k_input=0.5, per_1k_output=2.0)
    assert prices.cost(USED) == pytest.approx(2 * 0.03 + 12 * 0.5 + 3 * 2.0)


def test_a_single_price_is_enough() -> None:
    assert Prices(per_session=0.1).cost(USED) == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("prices", "amount", "shown"),
    [
        (Prices(), 12.345, "$12.35"),
        (Prices(), 0.01234, "$0.0123"),
        (Prices(), 0, "$0.00"),
        (Prices(currency="EUR"), 1234.5, "1,234.50 EUR"),
        (Prices(currency="€"), 3, "€3.00"),
    ],
)
def test_amounts_are_shown_with_the_currency(prices: Prices, amount: float, shown: str) -> None:
    assert prices.format(amount) == shown
