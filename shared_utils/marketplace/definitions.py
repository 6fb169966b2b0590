"""The definition-owner lookup (issue 20): a subscriber's execution runs in the SUBSCRIBER's
partition (executions, orders, positions, kill switch, limits, accounts, egress are all the
subscriber's) while the strategy's DEFINITION (strategy, legs, schedule) is read from the admin
who owns it, at execution time, so an admin's edit applies from the next execution.

Access pattern: a subscription writes, in the subscriber's partition, one
``SUBSCRIBED#{strategy_id}`` link per strategy of the basket and the strategy's two SCHEDULE
items (``user_id`` = the subscriber, GSI2 slot keys like any strategy). The emitter's ONE slot
Query per shard therefore finds every subscriber's execution with everyone else's (no query per
subscriber, no query per basket), and Prepare/Resolve call :func:`load` for each
``{user_id, strategy_id}`` reference:

1. the subscriber's own ``STRATEGY#{strategy_id}`` (GetItem): found -> an ordinary strategy,
   nothing else is read (0 extra requests for non-subscribers);
2. else the ``SUBSCRIBED#{strategy_id}`` link (GetItem), then the owner's strategy (GetItem),
   basket (GetItem) and legs (Query): 5 requests where an own strategy takes 3 (strategy, legs,
   allocations; a subscriber's allocations are computed from the link), i.e. 2 more
   (``bench.discovery.subscribers``: ``discovery_subscribers_prepare_extra_requests``).

The definition returned carries the SUBSCRIBER's ``user_id`` (so every guard reads the
subscriber's kill switch, positions and accounts), ``basket_id`` None (the basket lives in the
owner's partition; its status is folded into ``status``), and ``status`` ACTIVE only while the
owner's strategy and basket are ACTIVE, the subscription is ACTIVE and the strategy is enabled
in it. Allocations are the subscriber's accounts with lots computed against the CURRENT legs
(``leg_overrides`` lots, else base lots x multiplier), so a leg the admin adds is traded at
base x multiplier from the next execution.

:class:`DefinitionAwareRepositories` wraps a ``Repositories`` so the engine's other readers of a
strategy's definition (stops, exits, fill policy, risk monitor, settlement) see the same
definition; ``EngineContext`` installs it.
"""

from __future__ import annotations

from typing import Any

from shared_utils.models.allocation import Allocation, AllocationConfig, LegOverride
from shared_utils.models.enums import AllocationType, EntityStatus
from shared_utils.models.leg import Leg
from shared_utils.models.strategy import Strategy
from shared_utils.persistence import keys
from shared_utils.persistence.repositories import NotFound


def link_of(repos: Any, user_id: str, strategy_id: str):
    """The subscriber's ``SUBSCRIBED#{strategy_id}`` link, or None (one GetItem)."""
    from shared_utils.marketplace.models import SubscriptionLink

    item = repos.table.get(user_id, keys.subscribed_sk(strategy_id))
    return SubscriptionLink.model_validate(item) if item else None


def subscriber_allocations(link: Any, legs: list[Leg]) -> list[Allocation]:
    """The subscriber's allocations of ``link.strategy_id`` against the current ``legs``."""
    from shared_utils.marketplace.models import SubscriptionStatus

    override = link.override
    out = []
    for account in link.allocations:
        multiplier = override.lot_multiplier or account.lot_multiplier
        named = override.leg_overrides or {}
        if named:
            config = AllocationConfig(type=AllocationType.LEG_LEVEL, leg_overrides={
                str(leg.leg_no): LegOverride(lots=named[str(leg.leg_no)].lots if str(leg.leg_no) in named
                                             else leg.lots * multiplier)
                for leg in legs if leg.enabled} or {"1": LegOverride(lots=1, enabled=False)})
        else:
            config = AllocationConfig(type=AllocationType.STRATEGY_LEVEL, strategy_lots_multiplier=multiplier)
        allocation = Allocation(
            user_id=link.user_id, strategy_id=link.strategy_id, client_id=account.client_id, priority=account.priority,
            allocation_config=config, risk_limits=account.risk_limits,
            status=EntityStatus.ACTIVE if link.status is SubscriptionStatus.ACTIVE and override.enabled
            else EntityStatus.PAUSED)
        allocation.calculated_totals = allocation.totals([(leg.leg_no, leg.lots, leg.enabled) for leg in legs])
        out.append(allocation)
    return sorted(out, key=lambda a: (a.priority, a.client_id))


def subscribed_definition(repos: Any, link: Any) -> tuple[Strategy, list[Leg], list[Allocation]]:
    """The owner's definition seen from the subscriber (see the module doc).

    Raises:
        NotFound: the owner deleted the strategy.
    """
    from shared_utils.marketplace.models import SubscriptionStatus

    owner_strategy = repos.strategies.get(link.owner_user_id, link.strategy_id)
    owner_legs = repos.legs.list(link.owner_user_id, link.strategy_id)
    basket_active = True
    if owner_strategy.basket_id:
        try:
            basket_active = repos.baskets.get(link.owner_user_id, owner_strategy.basket_id).status is EntityStatus.ACTIVE
        except NotFound:
            basket_active = False
    active = (owner_strategy.status is EntityStatus.ACTIVE and basket_active
              and link.status is SubscriptionStatus.ACTIVE and link.override.enabled)
    strategy = owner_strategy.model_copy(update={
        "user_id": link.user_id, "basket_id": None,
        "status": EntityStatus.ACTIVE if active else EntityStatus.PAUSED})
    legs = [leg.model_copy(update={"user_id": link.user_id}) for leg in owner_legs]
    return strategy, legs, subscriber_allocations(link, legs)


def load(repos: Any, user_id: str, strategy_id: str) -> tuple[Strategy, list[Leg], list[Allocation]]:
    """(strategy, legs, allocations) of ``strategy_id`` as ``user_id`` runs it: the user's own
    strategy, else the definition of the strategy the user subscribed to.

    Raises:
        NotFound: neither the user's strategy nor a subscription to it exists (or the owner
            deleted it).
    """
    repos = getattr(repos, "_inner", repos)  # the plain repositories: each item read once
    try:
        strategy = repos.strategies.get(user_id, strategy_id)
    except NotFound:
        link = link_of(repos, user_id, strategy_id)
        if link is None:
            raise
        return subscribed_definition(repos, link)
    return strategy, repos.legs.list(user_id, strategy_id), repos.allocations.list(user_id, strategy_id)


def manual_strategy(repos: Any, user_id: str, strategy_id: str, execution_type: Any) -> Strategy:
    """The strategy a manual run (POST /options/executions/manual) names: the user's own, or, for
    an EXIT only, one the user subscribed to (a subscriber may close what they hold at any time;
    entries follow the basket's schedule, sized by the subscription).

    Raises:
        NotFound: neither the user's strategy nor a subscription to it.
        shared_utils.errors.Conflict: a manual ENTRY of a subscribed strategy.
    """
    from shared_utils.errors import Conflict
    from shared_utils.models.enums import ExecutionType

    repos = getattr(repos, "_inner", repos)
    try:
        return repos.strategies.get(user_id, strategy_id)
    except NotFound:
        link = link_of(repos, user_id, strategy_id)
        if link is None:
            raise
    if ExecutionType(execution_type) is ExecutionType.ENTRY:
        raise Conflict(f"strategy {strategy_id} comes from your marketplace subscription: its entries follow the "
                       "basket's schedule (a manual EXIT closes what you hold)", ["subscribed strategy"])
    return subscribed_definition(repos, link)[0]


# ---- the same lookup for the engine's other readers ------------------------------------------

class _Strategies:
    def __init__(self, repos: Any) -> None:
        self._repos = repos

    def get(self, user_id: str, strategy_id: str) -> Strategy:
        try:
            return self._repos.strategies.get(user_id, strategy_id)
        except NotFound:
            link = link_of(self._repos, user_id, strategy_id)
            if link is None:
                raise
            return subscribed_definition(self._repos, link)[0]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repos.strategies, name)


class _Legs:
    def __init__(self, repos: Any) -> None:
        self._repos = repos

    def list(self, user_id: str, strategy_id: str) -> list[Leg]:
        own = self._repos.legs.list(user_id, strategy_id)
        if own:
            return own
        link = link_of(self._repos, user_id, strategy_id)
        if link is None:
            return own
        return [leg.model_copy(update={"user_id": user_id})
                for leg in self._repos.legs.list(link.owner_user_id, strategy_id)]

    def get(self, user_id: str, strategy_id: str, leg_no: int) -> Leg:
        """One leg (the stop placed after a subscriber's fill reads its leg's stop config)."""
        try:
            return self._repos.legs.get(user_id, strategy_id, leg_no)
        except NotFound:
            link = link_of(self._repos, user_id, strategy_id)
            if link is None:
                raise
            return self._repos.legs.get(link.owner_user_id, strategy_id, leg_no).model_copy(update={"user_id": user_id})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repos.legs, name)


class _Allocations:
    def __init__(self, repos: Any) -> None:
        self._repos = repos

    def list(self, user_id: str, strategy_id: str) -> list[Allocation]:
        own = self._repos.allocations.list(user_id, strategy_id)
        if own:
            return own
        link = link_of(self._repos, user_id, strategy_id)
        if link is None:
            return own
        return subscribed_definition(self._repos, link)[2]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repos.allocations, name)


class DefinitionAwareRepositories:
    """``repos`` with ``strategies.get``, ``legs.list``, ``legs.get`` and ``allocations.list`` following the
    definition owner for a subscriber (everything else, and every write, is ``repos``' own)."""

    def __init__(self, repos: Any) -> None:
        self._inner = repos
        self.strategies = _Strategies(repos)
        self.legs = _Legs(repos)
        self.allocations = _Allocations(repos)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def definition_aware(repos: Any) -> Any:
    """Wrap ``repos`` once (idempotent; None stays None)."""
    if repos is None or isinstance(repos, DefinitionAwareRepositories):
        return repos
    return DefinitionAwareRepositories(repos)
