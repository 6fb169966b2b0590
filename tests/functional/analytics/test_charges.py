"""Charges against Kite's virtual contract note sample (to the paisa, and exactly), and the
dated rates of Oct 2024 onward."""

import json
from datetime import date
from decimal import Decimal

import pytest

from shared_utils.analytics.charges import ChargesError, default_calculator, round_half_up
from tests.conftest import SHARED

SAMPLE = SHARED / "reference" / "broker-samples" / "kite" / "virtual_contract_note.json"


def _nfo_row():
    rows = json.loads(SAMPLE.read_text(), parse_float=Decimal)["data"]
    (row,) = [r for r in rows if r["exchange"] == "NFO"]
    return row


def test_kite_virtual_contract_note_nfo_option_buy_exact_and_to_the_paisa():
    """NIFTY2371317900PE (expiry 13 Jul 2023), BUY 100 @ 1.5 on NFO, Zerodha: our rates of that
    date reproduce every component Kite reports."""
    row = _nfo_row()
    turnover = Decimal(row["quantity"]) * row["price"]
    got = default_calculator().order_charges(broker="zerodha", exchange=row["exchange"], side=row["transaction_type"],
                                             turnover=turnover, trade_date=date(2023, 7, 13),
                                             tradingsymbol=row["tradingsymbol"])
    kite = row["charges"]
    assert got.brokerage == kite["brokerage"]
    assert got.stt == kite["transaction_tax"] == 0
    # Kite's exchange_turnover_charge includes NSE's IPFT (0.05% + 0.0005% of premium)
    assert got.exchange_txn + got.ipft == kite["exchange_turnover_charge"]
    assert got.sebi == kite["sebi_turnover_charge"]
    assert got.gst == kite["gst"]["total"]  # 18% of brokerage + exchange (no IPFT) + SEBI
    # stamp duty: 0.003% of 150 = 0.0045, which Kite reports as 0 (below a paisa)
    assert round_half_up(got.stamp_duty) == kite["stamp_duty"] == 0
    # Kite's total is a float sum (23.689427000000002): equal to its 6 significant decimals
    nano = Decimal("1e-9")
    assert (got.total - got.stamp_duty).quantize(nano) == kite["total"].quantize(nano) == Decimal("23.689427000")
    assert round_half_up(got.total) == round_half_up(kite["total"]) == Decimal("23.69")


def test_rates_from_october_2024_sell_and_buy_hand_computed():
    calc = default_calculator()
    # SELL 65 NIFTY @ 120.35 on 17 Aug 2026: T = 7822.75
    sell = calc.order_charges(broker="zerodha", exchange="NFO", side="SELL", turnover=Decimal("7822.75"),
                              trade_date=date(2026, 8, 17), tradingsymbol="NIFTY2681824850CE")
    assert sell.stt == Decimal("7.82275")  # 0.1%
    assert sell.exchange_txn == Decimal("7822.75") * Decimal("0.0003503")  # Rs 35.03 per lakh
    assert sell.ipft == Decimal("0.03911375")
    assert sell.sebi == Decimal("0.00782275")
    assert sell.stamp_duty == 0
    assert sell.gst == (Decimal(20) + sell.exchange_txn + sell.sebi) * Decimal("0.18")
    assert sell.as_dict(rounded=True)["total"] == str(round_half_up(sell.total))
    # BUY on BSE: SENSEX options Rs 3,250 per crore; SENSEX50 Rs 500 per crore; no IPFT on BSE
    buy = calc.order_charges(broker="angel", exchange="BFO", side="BUY", turnover=Decimal("4000"),
                             trade_date=date(2026, 8, 20), tradingsymbol="SENSEX2682081200CE")
    assert buy.exchange_txn == Decimal("1.3") and buy.ipft == 0
    assert buy.brokerage == Decimal("10.0000")  # Angel: min(20, 0.25% of 4000)
    assert buy.stamp_duty == Decimal("0.12000") and buy.stt == 0
    s50 = calc.order_charges(broker="zerodha", exchange="BFO", side="BUY", turnover=Decimal("4000"),
                             trade_date=date(2026, 8, 20), tradingsymbol="SENSEX5026AUG25000CE")
    assert s50.exchange_txn == Decimal("0.2")


def test_rate_changes_are_dated():
    calc = default_calculator()
    args = dict(broker="zerodha", exchange="NFO", side="SELL", turnover=Decimal("10000"))
    before = calc.order_charges(trade_date=date(2024, 9, 30), **args)
    after = calc.order_charges(trade_date=date(2024, 10, 1), **args)
    assert before.stt == Decimal("6.25") and after.stt == Decimal("10")
    assert before.exchange_txn == Decimal("5") and after.exchange_txn == Decimal("3.503")
    assert calc.exercise_stt(Decimal("5000"), date(2026, 8, 18)) == Decimal("6.25")


def test_unsourced_and_unknown_are_refused_or_flagged():
    calc = default_calculator()
    with pytest.raises(ChargesError):
        calc.order_charges(broker="zerodha", exchange="BFO", side="BUY", turnover=Decimal(1), trade_date=date(2024, 9, 1))
    with pytest.raises(ChargesError):
        calc.order_charges(broker="zerodha", exchange="MCX", side="BUY", turnover=Decimal(1), trade_date=date(2026, 1, 1))
    with pytest.raises(ChargesError):
        calc.order_charges(broker="nobroker", exchange="NFO", side="BUY", turnover=Decimal(1), trade_date=date(2026, 1, 1))
    shoonya = calc.order_charges(broker="finvasia", exchange="NFO", side="BUY", turnover=Decimal(100),
                                 trade_date=date(2026, 1, 1))
    assert shoonya.brokerage == 0 and "not sourced" in shoonya.warnings[0]
    paper = calc.order_charges(broker="paper", exchange="NFO", side="BUY", turnover=Decimal(100), trade_date=date(2026, 1, 1))
    assert paper.brokerage == 20


def test_contract_note_rounds_once_stt_to_the_rupee():
    calc = default_calculator()
    orders = [calc.order_charges(broker="zerodha", exchange="NFO", side="SELL", turnover=Decimal("1234.5"),
                                 trade_date=date(2026, 8, 17)) for _ in range(3)]
    note = calc.contract_note(orders)
    assert note.exact["stt"] == Decimal("3.7035")
    assert note.rounded["stt"] == Decimal("4")
    assert note.rounded["exchange_txn"] == round_half_up(Decimal("1234.5") * 3 * Decimal("0.0003503"))
    assert note.rounded["brokerage"] == Decimal("60.00")


def test_every_rate_is_dated_and_sourced():
    """The config's promise: each row has an ISO 'from' date, a rate (or an explicit null for an
    unsourced brokerage plan, with a note saying so) and a source; rows are in date order."""
    from datetime import date as date_

    from shared_utils.analytics.charges import CHARGES_FILE

    doc = json.loads(CHARGES_FILE.read_text())
    tables = []
    for name, block in doc["statutory"].items():
        for key, rows in block.items():
            if isinstance(rows, list):
                tables.append((f"{name}.{key}", rows))
    tables += [(f"brokerage.{plan}", rows) for plan, rows in doc["brokerage"]["plans"].items()]
    assert len(tables) >= 10
    for name, rows in tables:
        froms = [date_.fromisoformat(r["from"]) for r in rows]
        assert froms == sorted(froms), name
        for r in rows:
            assert r["source"].strip(), name
            if name.startswith("brokerage."):
                assert r["options"] is not None or "not" in r["note"], name
            else:
                assert Decimal(r["rate"]) >= 0, name
