from __future__ import annotations

from decimal import Decimal

import pytest

from tastydesk.engine.domain.enums import OrderPurpose
from tastydesk.engine.execution_pricing.fill_quality import (
    EMPTY,
    FillSample,
    by_strategy,
    by_symbol,
    percentile,
    spread_share_conceded,
    summarise,
)

D = Decimal


def test_share_of_the_spread_conceded() -> None:
    # credit: mid 2.44, natural 2.20
    assert spread_share_conceded(D("2.44"), D("2.44"), D("2.20")) == 0.0
    assert spread_share_conceded(D("2.20"), D("2.44"), D("2.20")) == 1.0
    assert spread_share_conceded(D("2.32"), D("2.44"), D("2.20")) == pytest.approx(0.5)
    assert spread_share_conceded(D("2.50"), D("2.44"), D("2.20")) == pytest.approx(-0.25)
    # debit: mid -1.50, natural -1.80
    assert spread_share_conceded(D("-1.60"), D("-1.50"), D("-1.80")) == pytest.approx(1 / 3)
    assert spread_share_conceded(D("1.00"), D("1.00"), D("1.00")) is None


def sample(symbol: str, strategy: str, units: int, fill: str, mid: str, natural: str,
           purpose: OrderPurpose = OrderPurpose.OPEN) -> FillSample:
    return FillSample(symbol, strategy, units, D(fill), D(mid), D(natural), purpose)


FILLS = [
    sample("SPY", "Condor", 2, "2.32", "2.44", "2.20"),  # half the spread, -0.12 x 2 units
    sample("SPY", "Put spread", 1, "0.58", "0.58", "0.54"),  # at mid
    sample("QQQ", "Condor", 1, "-1.80", "-1.50", "-1.80", OrderPurpose.CLOSE),  # at natural
    sample("QQQ", "Put spread", 1, "0.70", "0.70", "0.70"),  # no spread to concede
]


def test_summary_weights_by_units() -> None:
    total = summarise(FILLS)
    assert total.fills == 4 and total.units == 5
    assert total.total_vs_mid == D("-54.00")  # -0.12 x 2 units x 100, then -0.30 x 100
    assert total.avg_vs_mid == D("-10.80")
    # conceded 0.24 + 0 + 0.30 of spreads 0.48 + 0.04 + 0.30
    assert total.spread_share_conceded == pytest.approx(0.54 / 0.82)
    assert summarise([]) == EMPTY


def test_groups() -> None:
    symbols = by_symbol(FILLS)
    assert list(symbols) == ["SPY", "QQQ"]
    assert symbols["SPY"].avg_vs_mid == D("-8.00")  # -24 over 3 units
    assert symbols["QQQ"].spread_share_conceded == pytest.approx(1.0)
    strategies = by_strategy(FILLS)
    assert strategies["Put spread"].spread_share_conceded == pytest.approx(0.0)
    assert strategies["Put spread"].avg_vs_mid == D("0.00")
    assert strategies["Condor"].units == 3


def test_percentile_and_bad_input() -> None:
    assert percentile([1, 2, 3, 3, 4, 9, 2, 3, 3, 1], 90) == 4
    assert percentile([], 90) is None
    with pytest.raises(ValueError, match="q"):
        percentile([1.0], 101)
    with pytest.raises(ValueError, match="units"):
        sample("SPY", "x", 0, "1", "1", "1")
