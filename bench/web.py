"""``python -m bench.web``: the web app's initial JavaScript, gzipped (``web_initial_js_kb``).

"Initial" is what the browser must download before the sign-in page renders: the entry script
of web/dist/index.html plus every chunk index.html preloads (``<link rel="modulepreload">``, Vite's
static imports of the entry). Lazy pages and the charts library are excluded (they load on
navigation). Each file is gzipped at level 9 (what a CDN's compression gives, within a few %).
Target: < 350 KB (issue 19). Also reported: the CSS, all JS, and the largest lazy chunk (KB = 1024 B).

Builds web/dist first (web/build.sh) when it is missing or stale.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "web" / "dist"
TARGET_KB = 350.0


def _gz_kb(path: Path) -> float:
    return len(gzip.compress(path.read_bytes(), compresslevel=9)) / 1024


def initial_assets(dist: Path = DIST) -> list[Path]:
    """The entry script and the modulepreloaded chunks named by dist/index.html."""
    html = (dist / "index.html").read_text()
    refs = re.findall(r'<script[^>]+type="module"[^>]+src="([^"]+)"', html)
    refs += re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"', html)
    return [dist / ref.split("/assets/", 1)[1].join(["assets/", ""]) if "/assets/" in ref else dist / ref.lstrip("/")
            for ref in dict.fromkeys(refs)]


def measure(dist: Path = DIST) -> dict[str, float]:
    initial = initial_assets(dist)
    if not initial:
        raise RuntimeError(f"no entry script found in {dist / 'index.html'}")
    all_js = sorted((dist / "assets").glob("*.js"))
    lazy = [p for p in all_js if p not in initial]
    css = sorted((dist / "assets").glob("*.css"))
    return {
        "web_initial_js_kb": round(sum(_gz_kb(p) for p in initial), 1),
        "web_initial_css_kb": round(sum(_gz_kb(p) for p in css), 1),
        "web_all_js_kb": round(sum(_gz_kb(p) for p in all_js), 1),
        "web_largest_lazy_chunk_kb": round(max((_gz_kb(p) for p in lazy), default=0.0), 1),
        "web_initial_files": len(initial),
    }


def main() -> int:
    build = subprocess.run(["bash", str(ROOT / "web" / "build.sh")])
    if build.returncode != 0:
        return build.returncode
    result = measure()
    print(json.dumps(result, indent=2))
    verdict = "under" if result["web_initial_js_kb"] < TARGET_KB else "OVER"
    print(f"web_initial_js_kb = {result['web_initial_js_kb']} KB gzipped ({verdict} the {TARGET_KB:.0f} KB target)")
    return 0 if verdict == "under" else 1


if __name__ == "__main__":
    sys.exit(main())
