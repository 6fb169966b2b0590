"""Egress per trader (issue 16): every broker call of a trader leaves from the static IP of the
trader's egress GROUP, the IP registered with the broker for that API key.

Rules (SEBI/HO/MIRSD/MIRSD-PoD/P/CIR/2025/0000013 of 4 Feb 2025, NSE/INVG/67858; in force for all
brokers from 1 Apr 2026): a broker accepts API orders only from the static IP registered for the
API key; an IP may be shared only within a family (spouse, dependent children, dependent
parents); the IP may change at most once a week. So each trader, or each family an ADMIN
declares, is one GROUP with one Elastic IP; two unrelated traders never share one.

Design (cost in bench/cost.py ``egress_cost``): ONE small forward-proxy instance (Squid) in a
public subnet holds one secondary private IP per group, each associated with the group's
Elastic IP; Squid listens on one port per group and sends that port's traffic out of the
group's address (``http_port 3128+i name=g<i>`` / ``acl g<i> myportname g<i>`` /
``tcp_outgoing_address <private ip i> g<i>``). A broker-calling Lambda (in the VPC) picks the
group of the account's trader and sends the call through ``HTTPS_PROXY=http://<proxy>:<port>``
(HTTPS stays end-to-end: the proxy only sees CONNECT host:443). Alternatives: one NAT gateway
per group (~$45/month each, and per-group copies of every broker function) or a proxy per
group (one instance each): both cost 5-15x more per trader.

Configuration (``QL_EGRESS_GROUPS``, JSON, set by the CDK on every broker-calling function;
locally by the platform)::

    {"<group>": {"users": ["<cognito sub>", ...], "ip": "<public IP the broker sees>",
                 "ip_since": "YYYY-MM-DD", "proxy": "http://10.0.0.5:3128" | null,
                 "source_address": "127.0.0.2" | null}}

``source_address`` (local only) binds the client's socket to a loopback address, so each
group's traffic really leaves from its own address and the broker fakes can check it.

When ``QL_EGRESS_GROUPS`` is unset the deployment has no per-trader egress (dev): calls are not
routed. When it is set, a call for a trader in no group is REFUSED (:class:`NoEgressGroup`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

ENV_VAR = "QL_EGRESS_GROUPS"
REQUIRED_VAR = "QL_EGRESS_REQUIRED"
#: SEBI: the registered IP may change at most once a week.
MIN_DAYS_BETWEEN_IP_CHANGES = 7
#: the key under which the Angel SDK proxy (``_smartapi_loader``) finds a source address
SOURCE_ADDRESS_KEY = "x-ql-source-address"


class NoEgressGroup(LookupError):
    """The trader has no egress group: a broker call would leave from an unregistered IP."""


@dataclass(frozen=True)
class EgressGroup:
    """One trader or family: its static IP and how calls reach it."""

    name: str
    users: tuple[str, ...] = ()
    ip: str | None = None
    ip_since: date | None = None
    proxy: str | None = None
    source_address: str | None = None

    @property
    def next_change(self) -> date | None:
        """The first date the IP may change again (``ip_since`` + 7 days)."""
        return self.ip_since + timedelta(days=MIN_DAYS_BETWEEN_IP_CHANGES) if self.ip_since else None

    def view(self) -> dict[str, Any]:
        """What the account view shows the trader (to register the IP with the broker)."""
        return {"group": self.name, "ip": self.ip, "ip_since": self.ip_since.isoformat() if self.ip_since else None,
                "next_change": self.next_change.isoformat() if self.next_change else None}


@dataclass
class EgressConfig:
    groups: dict[str, EgressGroup] = field(default_factory=dict)
    enforced: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], enforced: bool = True) -> "EgressConfig":
        groups: dict[str, EgressGroup] = {}
        seen: dict[str, str] = {}
        for name, spec in data.items():
            users = tuple(spec.get("users") or ())
            for user in users:
                if user in seen:
                    raise ValueError(f"user {user} is in two egress groups ({seen[user]}, {name})")
                seen[user] = name
            since = spec.get("ip_since")
            groups[name] = EgressGroup(name=name, users=users, ip=spec.get("ip"),
                                       ip_since=date.fromisoformat(since) if since else None,
                                       proxy=spec.get("proxy") or None, source_address=spec.get("source_address") or None)
        return cls(groups=groups, enforced=enforced)

    @classmethod
    def from_env(cls) -> "EgressConfig":
        """``$QL_EGRESS_GROUPS``; unset -> not enforced, unless ``$QL_EGRESS_REQUIRED`` (set by
        the CDK on every broker-calling function of a static-egress deployment): then no group
        exists and every broker call is refused with the reason."""
        raw = os.environ.get(ENV_VAR)
        if not raw:
            return cls(enforced=os.environ.get(REQUIRED_VAR) == "1")
        return cls.from_mapping(json.loads(raw))

    def group_of(self, user_id: str) -> EgressGroup | None:
        for group in self.groups.values():
            if user_id in group.users:
                return group
        return None

    def route_for(self, user_id: str, client_id: str = "") -> EgressGroup | None:
        """The group whose IP ``user_id``'s broker calls must use; None when not enforced.

        Raises:
            NoEgressGroup: enforced, and the trader is in no group (the reason says what to do).
        """
        if not self.enforced:
            return None
        group = self.group_of(user_id)
        if group is None:
            raise NoEgressGroup(
                f"broker call for account {client_id or '?'} refused: its trader has no egress group, so the call "
                "would not leave from an IP registered with the broker (SEBI static-IP rule); an ADMIN must add "
                "the trader to a group (config/egress.json) and the trader register that group's IP")
        return group


def _source_adapter(source_address: str) -> Any:
    import requests.adapters

    class SourceAddressAdapter(requests.adapters.HTTPAdapter):
        """Binds every connection's local end to ``source_address`` (port chosen by the OS)."""

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["source_address"] = (source_address, 0)
            super().init_poolmanager(*args, **kwargs)

        def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["source_address"] = (source_address, 0)
            return super().proxy_manager_for(*args, **kwargs)

    return SourceAddressAdapter()


def bind_session(session: Any, group: EgressGroup) -> None:
    """Route a ``requests.Session`` through ``group`` (proxy and/or source address)."""
    if group.source_address:
        adapter = _source_adapter(group.source_address)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    if group.proxy:
        session.proxies.update({"http": group.proxy, "https": group.proxy})
        session.trust_env = False  # this route, not a process-wide HTTPS_PROXY


def apply_route(client: Any, group: EgressGroup | None) -> Any:
    """Make every HTTP call of a broker adapter leave through ``group``; returns the client.

    Knows the adapters' transports: Kite (``kite.reqsession`` + ``kite.proxies``), Angel
    (SmartConnect's per-instance ``proxies``, read by ``_smartapi_loader``'s request proxy),
    Noren (``_http`` session). The paper broker makes no HTTP call."""
    if group is None:
        return client
    proxies = {"http": group.proxy, "https": group.proxy} if group.proxy else {}
    kite = getattr(client, "kite", None)
    if kite is not None:
        bind_session(kite.reqsession, group)
        kite.proxies = {**(kite.proxies or {}), **proxies}
    api = getattr(client, "api", None)
    if api is not None and hasattr(api, "proxies"):
        routed = {**(api.proxies or {}), **proxies}
        if group.source_address:
            routed[SOURCE_ADDRESS_KEY] = group.source_address
        api.proxies = routed
    http = getattr(client, "_http", None)
    if http is not None:
        bind_session(http, group)
    client.egress_group = group.name
    return client


_SESSIONS: dict[str, Any] = {}


def session_for_source(source_address: str) -> Any:
    """A cached ``requests.Session`` bound to ``source_address`` (the Angel SDK's module-level
    ``requests.request`` goes through it)."""
    if source_address not in _SESSIONS:
        import requests

        session = requests.Session()
        session.trust_env = False
        bind_session(session, EgressGroup(name="-", source_address=source_address))
        _SESSIONS[source_address] = session
    return _SESSIONS[source_address]


def declared_groups(env_name: str, path: str | None = None) -> dict[str, dict[str, Any]]:
    """The groups an ADMIN declared for ``env_name`` in config/egress.json (or
    ``$QL_EGRESS_CONFIG``): ``{name: {"users": [...], "ip_since": "YYYY-MM-DD" | None}}``."""
    from pathlib import Path

    file = Path(path or os.environ.get("QL_EGRESS_CONFIG") or Path(__file__).resolve().parents[2] / "config" / "egress.json")
    data = json.loads(file.read_text())
    groups = (data.get(env_name) or {}).get("groups") or {}
    EgressConfig.from_mapping(groups)  # validates: a user in two groups is refused
    return groups


def local_routing(groups: Mapping[str, Mapping[str, Any]], first_host: int = 2) -> dict[str, dict[str, Any]]:
    """``QL_EGRESS_GROUPS`` for ``deploy.sh -e local``: group ``i`` (sorted by name) leaves from
    loopback ``127.0.0.{first_host + i}``, which is also the IP "the broker" (a fake) sees."""
    out = {}
    for i, name in enumerate(sorted(groups)):
        address = f"127.0.0.{first_host + i}"
        out[name] = {"users": list(groups[name].get("users") or ()), "ip": address,
                     "ip_since": groups[name].get("ip_since"), "source_address": address}
    return out
