"""The local serving of the web app (local/web.py): what the browser gets under /app/, without a
browser: the runtime config, the SPA fallback, assets, no file outside web/dist, the headers."""

from __future__ import annotations

import json

import pytest

from local.web import is_web_path, web_response

IDP = "http://127.0.0.1:5000"


@pytest.fixture()
def dist(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("not for the browser")
    return tmp_path


def test_only_root_and_app_paths_are_the_web_app():
    assert is_web_path("/") and is_web_path("/app") and is_web_path("/app/strategies/new")
    assert not is_web_path("/options/strategies") and not is_web_path("/application") and not is_web_path("/profile")


def test_config_json_carries_the_pool_endpoint_client_and_demo_user(dist):
    status, body, headers = web_response("/app/config.json", IDP, "client-1", {"username": "d@x", "password": "p"}, dist)
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert json.loads(body) == {"apiUrl": "", "environment": "local",
                                "cognito": {"endpoint": IDP, "clientId": "client-1", "region": "ap-south-1"},
                                "demoUser": {"username": "d@x", "password": "p"}}


def test_client_routes_get_index_html_and_assets_are_immutable(dist):
    status, body, headers = web_response("/app/strategies/new", IDP, "c", None, dist)
    assert status == 200 and b"id=root" in body and headers["Cache-Control"] == "no-cache"
    status, body, headers = web_response("/app/assets/index-abc.js", IDP, "c", None, dist)
    assert status == 200 and body == b"console.log(1)"
    assert headers["Content-Type"].startswith("text/javascript") or headers["Content-Type"].startswith("application/javascript")
    assert "immutable" in headers["Cache-Control"]
    assert web_response("/app/assets/missing.js", IDP, "c", None, dist)[0] == 404


def test_no_file_outside_dist(dist):
    status, body, _ = web_response("/app/../secret.txt", IDP, "c", None, dist)
    assert status == 404 and b"not for the browser" not in body
    status, body, _ = web_response("/app/assets/../../secret.txt", IDP, "c", None, dist)
    assert status == 404 and b"not for the browser" not in body


def test_security_headers_and_redirect(dist):
    status, _, headers = web_response("/", IDP, "c", None, dist)
    assert status == 302 and headers["Location"] == "/app/"
    _, _, headers = web_response("/app/", IDP, "c", None, dist)
    assert f"connect-src 'self' {IDP}" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"


def test_an_unbuilt_app_says_how_to_build_it(tmp_path):
    status, body, _ = web_response("/app/", IDP, "c", None, tmp_path)
    assert status == 404 and b"npm --prefix web run build" in body
