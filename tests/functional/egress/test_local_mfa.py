"""Issue 16, locally: ``./deploy.sh -e local --enable-mfa USER`` runs Cognito's software-token
MFA setup on the running platform's pool (a moto server, the same calls as AWS), after which
the MFA check the LIVE routes use passes for that user."""

from __future__ import annotations

import json
import os


def test_enable_mfa_on_the_running_local_pool(tmp_path, capsys):
    from local.aws import LocalAws
    from local.platform import enable_mfa, print_token
    from shared_utils.accounts.mfa import MfaChecker, MfaRequired
    from shared_utils.config import load_environment

    aws = LocalAws()
    try:
        identity = aws.create_identity(load_environment("local"))
        # a running platform's runtime.json names its (live) pid: this test process stands in
        (tmp_path / "runtime.json").write_text(json.dumps({
            "pid": os.getpid(), "moto_endpoint": aws.endpoint, "user_pool_id": identity.user_pool_id, "client_id": identity.client_id}))
        assert print_token("asha", tmp_path) == 0  # creates asha@quantleap.local
        checker = MfaChecker(identity.user_pool_id, aws.client("cognito-idp"))
        claims = {"sub": "x", "cognito:username": "asha@quantleap.local"}
        try:
            checker.check(claims, "switching to LIVE")
            raise AssertionError("MFA check passed without MFA")
        except MfaRequired as exc:
            assert exc.status_code == 403
        assert enable_mfa("asha", tmp_path) == 0
        assert "authenticator secret:" in capsys.readouterr().out
        checker.check(claims, "switching to LIVE")  # passes now
        assert enable_mfa("nobody", tmp_path) == 2
    finally:
        aws.stop()
