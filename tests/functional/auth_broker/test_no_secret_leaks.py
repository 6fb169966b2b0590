"""Credentials and session tokens never appear in any answer or any log line: every route and
both login flows run with the stdlib root logger at DEBUG (caplog), the Powertools logger at
DEBUG with its JSON formatter captured, and stdout/stderr captured at the fd level (capfd)."""

from __future__ import annotations

import io
import json
import logging
from urllib.parse import parse_qs, urlsplit

import re

from tests.functional.auth_broker.conftest import ANGEL, KITE, NOREN, angel_body, noren_body, noren_oauth_login, zerodha_body


def test_no_secret_in_any_answer_or_log(api, kite, angel, noren, sm, caplog, capfd):
    from lambda_functions.options_platform.common import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    pt_logger = logging.getLogger(logger.name)
    pt_logger.addHandler(handler)
    old_level = logger.log_level
    logger.setLevel("DEBUG")
    caplog.set_level(logging.DEBUG)
    answers = []
    try:
        answers.append(api("POST", "/broker-accounts", zerodha_body()))
        answers.append(api("POST", "/broker-accounts", angel_body()))
        answers.append(api("POST", "/broker-accounts", noren_body()))
        answers.append(api("POST", "/broker-accounts", zerodha_body("BAD", credentials={"api_key": "k"})))  # 422
        answers.append(api("GET", "/broker-accounts"))
        for cid in ("ZX1234", "A123", "FA1234"):
            answers.append(api("GET", f"/broker-accounts/{cid}"))
        answers.append(api("POST", "/broker-accounts/A123/login"))
        answers.append(noren_oauth_login(api))
        status, login = api("POST", "/broker-accounts/ZX1234/login")
        answers.append((status, login))
        state = parse_qs(parse_qs(urlsplit(login["login_url"]).query)["redirect_params"][0])["state"][0]
        answers.append(api("GET", "/broker-sessions/zerodha/callback", user=None,
                           query={"request_token": "forged", "state": state}))
        answers.append(api("GET", "/broker-sessions/zerodha/callback", user=None,
                           query={"request_token": KITE["request_token"], "state": state}))
        answers.append(api("PUT", "/broker-accounts/A123", {"credentials": {"password": "rotatedMPIN55"}}))
        answers.append(api("PUT", "/broker-accounts/A123", {"trading_mode": "LIVE"}))  # 409 after rotation
        answers.append(api("DELETE", "/broker-accounts/FA1234"))
    finally:
        pt_logger.removeHandler(handler)
        logger.setLevel(old_level)
    out, err = capfd.readouterr()

    assert all(status < 500 for status, _ in answers), answers
    assert "broker account added" in stream.getvalue() and "zerodha login completed" in stream.getvalue()
    assert caplog.records, "the root logger captured nothing: the proof would be vacuous"

    secrets = {
        KITE["api_secret"], KITE["request_token"], kite.access_token,
        ANGEL["api_key"], ANGEL["totp_secret"], angel.jwt, angel.refresh_token,
        NOREN["api_secret"], noren.access_token, noren.refresh_token,
        "rotatedMPIN55",
    }
    answers_text = json.dumps([body for _, body in answers])
    logs = "\n".join([stream.getvalue(), caplog.text, out, err])
    for value in secrets:
        assert value not in answers_text, f"a secret reached an answer: {value[:3]}..."
        assert value not in logs, f"a secret reached a log: {value[:3]}..."
    # the 4-digit MPIN: matched as a whole number (not inside a port or an epoch)
    mpin = re.compile(rf"(?<![0-9]){ANGEL['password']}(?![0-9])")
    assert not mpin.search(answers_text) and not mpin.search(logs), "the MPIN reached an answer or a log"
    # the api_key is not a secret in Kite's login URL (it is public there), but never in logs
    assert KITE["api_key"] not in logs
