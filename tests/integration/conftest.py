"""A local stack for HTTP tests: moto server + tables + user pool + the API server, all on
127.0.0.1, created once per test module."""

import json
import os
import urllib.request

import pytest


@pytest.fixture(scope="module")
def local_stack():
    from lambda_functions.auth_broker import common as auth_common
    from lambda_functions.options_platform import common
    from local.api_server import ApiServer
    from local.aws import LocalAws
    from shared_utils.config import load_environment

    saved = dict(os.environ)
    aws = LocalAws()
    aws.configure_environment()
    env = load_environment("local")
    aws.create_tables(env)
    identity = aws.create_identity(env)
    common.repositories.cache_clear()
    # the auth-broker handlers cache their secret store (and its KMS client) per process: an
    # earlier module's store points at that module's stopped moto server
    auth_common.reset_caches()
    server = ApiServer(identity).start()
    from local.notifications import LocalNotifications  # issue 18: Telegram and email stay on this machine

    notifications = LocalNotifications(aws, env).start(poll=False)

    class Stack:
        pass

    stack = Stack()
    stack.aws, stack.env, stack.identity, stack.server = aws, env, identity, server
    stack.url = server.url
    stack.notifications = notifications

    def http(method, path, body=None, token=None, query=""):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(server.url + path + (f"?{query}" if query else ""), data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as exc:
            text = exc.read().decode()
            return exc.code, (json.loads(text) if text else None)

    stack.http = http
    stack.token = lambda email: aws.id_token(identity, email)
    stack.sub = lambda email: aws.ensure_user(identity, email)
    yield stack
    notifications.stop()
    server.stop()
    aws.stop()
    common.repositories.cache_clear()
    auth_common.reset_caches()
    os.environ.clear()
    os.environ.update(saved)
