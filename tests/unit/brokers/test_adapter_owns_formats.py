"""Each adapter owns its broker's formats (issue 15): Angel's symbol builder and scrip-master
parser and Noren's symbol builder live in their adapters' folders; ``market.instruments`` keeps
thin re-exports (the same objects) and does not load a broker package until asked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_builders_live_in_the_adapter_folders():
    from shared_utils.brokers.angel import symbols as angel_symbols
    from shared_utils.brokers.noren import symbols as noren_symbols
    from shared_utils.market import instruments

    assert angel_symbols.angel_option_symbol.__module__ == "shared_utils.brokers.angel.symbols"
    assert angel_symbols.load_angel_scrip_master.__module__ == "shared_utils.brokers.angel.symbols"
    assert noren_symbols.noren_symbol.__module__ == "shared_utils.brokers.noren.symbols"
    assert instruments.angel_option_symbol is angel_symbols.angel_option_symbol
    assert instruments.load_angel_scrip_master is angel_symbols.load_angel_scrip_master
    assert instruments.noren_symbol is noren_symbols.noren_symbol
    source = (REPO / "shared_utils" / "market" / "instruments.py").read_text()
    assert "def angel_option_symbol" not in source and "def noren_symbol" not in source
    assert "def load_angel_scrip_master" not in source


def test_market_layer_does_not_load_broker_clients():
    code = ("import sys, shared_utils.market.instruments as i; i.noren_symbol; i.angel_option_symbol; "
            "print(any(m.endswith(('.angel.client', '.noren.client')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert out.stdout.strip() == "False"
