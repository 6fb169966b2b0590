"""Marketplace use cases: publish an ADMIN basket, browse, detail, subscribe, pause / resume /
cancel, and tell subscribers about the admin's edits.

Items (keys in ``shared_utils.persistence.keys``):

- ``MARKETPLACE`` / ``LISTING#{basket_id}``: the listing (browse = ONE Query of this partition);
  its ``subscriber_count`` is the capacity counter, changed only with the listing's version.
- subscriber / ``SUBSCRIPTION#{id}``, ``SUBSCRIBED#{strategy_id}`` (per strategy; the link the
  engine follows, shared_utils.marketplace.definitions) and ``SCHEDULE#{strategy_id}#ENTRY|EXIT``
  (``user_id`` = the subscriber, GSI2 slot keys while ACTIVE): the emitter's slot Query finds a
  subscriber's execution like any strategy's.
- admin / ``SUBSCRIBER#{basket_id}#{subscriber}``: who to re-schedule when the admin moves a
  strategy's time or days.
- ``MARKETPLACE`` / ``CHANGE#{basket_id}#{at}``: each admin edit once; every subscriber reads
  them as notices (one Query per basket, not one write per subscriber).

A subscription is written in ONE transaction with the listing's version check (capacity) and
its items; a concurrent subscriber makes it retry, never overshoot ``max_subscribers``.

Errors: ``Forbidden`` (403, not ADMIN), ``NotFound`` (404: unknown, PRIVATE, or not yours),
``Conflict`` (409 with the reason: capacity, minimum capital, already subscribed, private,
own basket), ``InvalidRequest`` (422: an account that is not yours or not active, a strategy or
leg the basket does not have, a size over the platform limits).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

from shared_utils.clock import IST, UTC, Clock, SystemClock
from shared_utils.config import EnvironmentConfig
from shared_utils.errors import Conflict, Forbidden, InvalidRequest
from shared_utils.marketplace.models import (
    BasketPerformance,
    CategoryCount,
    Listing,
    ListingCreate,
    ListingUpdate,
    MarketplaceCard,
    MarketplaceDetail,
    Notice,
    PublicLeg,
    PublicStrategy,
    SubscribeRequest,
    Subscription,
    SubscriptionDetail,
    SubscriptionLink,
    SubscriptionStatus,
    SubscriptionUpdate,
    SubscriptionView,
    Visibility,
)
from shared_utils.models.enums import EntityStatus, ExecutionType, TradingMode
from shared_utils.models.leg import Leg
from shared_utils.models.strategy import Strategy
from shared_utils.persistence import keys
from shared_utils.persistence.repositories import NotFound, Repositories, VersionConflict, schedule_entries
from shared_utils.persistence.table import ConditionFailed, TransactionCancelled, to_item

ADMIN_GROUP = "ADMIN"
#: schedule fields whose change moves a subscriber's SCHEDULE items (the rest is read at run time)
SCHEDULE_FIELDS = ("entry_time", "exit_time", "entry_days", "exit_days", "entry_dte", "underlying", "product",
                   "status", "basket_id")
#: one DynamoDB transaction holds at most 100 items
MAX_TRANSACT = 100


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


class MarketplaceService:
    def __init__(self, repos: Repositories, env: EnvironmentConfig, clock: Clock | None = None) -> None:
        self.repos = getattr(repos, "_inner", repos)
        self.table = self.repos.table
        self.env = env
        self.clock = clock or SystemClock()

    def now(self) -> datetime:
        return self.clock.now().astimezone(UTC)

    # ---- listings ------------------------------------------------------------------------------
    def _listing_item(self, listing: Listing) -> dict[str, Any]:
        return to_item(listing, user_id=keys.MARKETPLACE_PARTITION, sort_key=keys.listing_sk(listing.basket_id))

    def listing(self, basket_id: str) -> Listing:
        item = self.table.get(keys.MARKETPLACE_PARTITION, keys.listing_sk(basket_id))
        if item is None:
            raise NotFound(f"basket {basket_id} is not in the marketplace")
        return Listing.model_validate(item)

    def listings(self) -> list[Listing]:
        return [Listing.model_validate(i) for i in self.table.query_all(keys.MARKETPLACE_PARTITION, keys.listings_prefix())]

    def publish(self, admin_id: str, groups: Iterable[str], body: ListingCreate, creator_name: str = "") -> Listing:
        """Publish one of the admin's baskets. 403 unless ADMIN; 404 for a basket not theirs; 409
        when already published."""
        if ADMIN_GROUP not in set(groups):
            raise Forbidden("only users of the ADMIN group publish baskets to the marketplace")
        basket = self.repos.baskets.get(admin_id, body.basket_id)
        listing = Listing(basket_id=basket.basket_id, owner_user_id=admin_id, basket_name=basket.basket_name,
                          creator_name=creator_name or basket.creator_name, **body.model_dump(exclude={"basket_id"}))
        if not listing.description:
            listing.description = basket.description
        try:
            self.table.put(self._listing_item(listing), condition="attribute_not_exists(sort_key)")
        except ConditionFailed as exc:
            raise Conflict(f"basket {body.basket_id} is already in the marketplace; PUT to change it",
                           ["already published"]) from exc
        return listing

    def _own_listing(self, admin_id: str, groups: Iterable[str], basket_id: str) -> Listing:
        if ADMIN_GROUP not in set(groups):
            raise Forbidden("only users of the ADMIN group manage marketplace baskets")
        listing = self.listing(basket_id)
        if listing.owner_user_id != admin_id:
            raise NotFound(f"basket {basket_id} is not in the marketplace")
        return listing

    def update_listing(self, admin_id: str, groups: Iterable[str], basket_id: str, body: ListingUpdate) -> Listing:
        listing = self._own_listing(admin_id, groups, basket_id)
        changes = body.model_dump(exclude_unset=True)
        updated = Listing.model_validate({**listing.model_dump(), **changes,
                                          "version": listing.version + 1, "updated_at": self.now()})
        try:
            self.table.put(self._listing_item(updated), condition="version = :expected",
                           values={":expected": listing.version})
        except ConditionFailed as exc:
            raise VersionConflict(f"basket {basket_id}'s listing changed meanwhile; retry") from exc
        self.record_change(basket_id, "listing changed: " + ", ".join(sorted(changes)))
        return updated

    def admin_listings(self, admin_id: str, groups: Iterable[str]) -> list[Listing]:
        if ADMIN_GROUP not in set(groups):
            raise Forbidden("only users of the ADMIN group manage marketplace baskets")
        return [l for l in self.listings() if l.owner_user_id == admin_id]

    # ---- browse --------------------------------------------------------------------------------
    def _subscribed_baskets(self, user_id: str) -> dict[str, Subscription]:
        subs = [Subscription.model_validate(i) for i in self.table.query_all(user_id, keys.subscriptions_prefix())]
        return {s.basket_id: s for s in subs if s.status is not SubscriptionStatus.CANCELLED}

    def _card(self, listing: Listing, subscribed: bool) -> MarketplaceCard:
        config = listing.subscription_config
        seats = None if config.max_subscribers is None else max(0, config.max_subscribers - listing.subscriber_count)
        count = len(self.repos.strategies.list_all(listing.owner_user_id, listing.basket_id))
        return MarketplaceCard(**listing.model_dump(include=set(MarketplaceCard.model_fields) - {"seats_left", "strategy_count", "subscribed"}),
                               seats_left=seats, strategy_count=count, subscribed=subscribed)

    def browse(self, user_id: str, category: str | None = None, risk_level: str | None = None,
               featured: bool | None = None, search: str | None = None) -> list[MarketplaceCard]:
        """PUBLIC and SUBSCRIBERS_ONLY listings (PRIVATE ones only to the admin and their
        subscribers), newest first, filtered."""
        mine = self._subscribed_baskets(user_id)
        cards = []
        for listing in sorted(self.listings(), key=lambda l: l.created_at, reverse=True):
            if listing.visibility is Visibility.PRIVATE and listing.basket_id not in mine and listing.owner_user_id != user_id:
                continue
            if category and listing.category.value != category.upper():
                continue
            if risk_level and listing.risk_level.value != risk_level.upper():
                continue
            if featured is not None and listing.featured is not featured:
                continue
            if search and search.lower() not in f"{listing.basket_name} {listing.description} {' '.join(listing.tags)}".lower():
                continue
            cards.append(self._card(listing, listing.basket_id in mine))
        return cards

    def categories(self, user_id: str) -> list[CategoryCount]:
        counts: dict[str, int] = defaultdict(int)
        for card in self.browse(user_id):
            counts[card.category.value] += 1
        from shared_utils.marketplace.models import Category

        return [CategoryCount(category=c, baskets=counts.get(c.value, 0)) for c in Category]

    def _visible_listing(self, user_id: str, basket_id: str) -> tuple[Listing, Subscription | None]:
        listing = self.listing(basket_id)
        subscription = self._subscribed_baskets(user_id).get(basket_id)
        if (listing.visibility is Visibility.PRIVATE and subscription is None and listing.owner_user_id != user_id):
            raise NotFound(f"basket {basket_id} is not in the marketplace")
        return listing, subscription

    def public_strategies(self, listing: Listing) -> list[PublicStrategy]:
        out = []
        for strategy in self.repos.strategies.list_all(listing.owner_user_id, listing.basket_id):
            legs = self.repos.legs.list(listing.owner_user_id, strategy.strategy_id)
            out.append(public_strategy(strategy, legs))
        return out

    def basket_detail(self, user_id: str, basket_id: str) -> MarketplaceDetail:
        listing, subscription = self._visible_listing(user_id, basket_id)
        visible = (listing.visibility is Visibility.PUBLIC or subscription is not None
                   or listing.owner_user_id == user_id)
        return MarketplaceDetail(
            basket=self._card(listing, subscription is not None), definition_visible=visible,
            note=None if visible else "SUBSCRIBERS_ONLY: the strategies and legs are shown once you subscribe",
            strategies=self.public_strategies(listing) if visible else [],
            performance=self.performance(listing))

    def performance(self, listing: Listing) -> BasketPerformance:
        """The basket's own paper track: executions and positions of its strategies in the admin's
        PAPER accounts (a LIVE account of the admin never contributes, and no account is named)."""
        owner = listing.owner_user_id
        paper = {a.client_id for a in self.repos.accounts.list(owner) if a.trading_mode is TradingMode.PAPER}
        executions = completed = 0
        daily: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"realised": Decimal(0), "unrealised": Decimal(0)})
        for strategy in self.repos.strategies.list_all(owner, listing.basket_id):
            page = self.repos.executions.list_for_user(owner, ExecutionType.ENTRY, strategy.strategy_id, limit=100)
            for execution in page.items:
                if set(execution.brokers_involved or []) and not set(execution.brokers_involved) & paper:
                    continue
                executions += 1
                completed += execution.status.value in ("COMPLETED", "PARTIAL")
            for position in self.repos.positions.list(owner, strategy.strategy_id):
                if position.client_id not in paper:
                    continue
                day = position.created_at.astimezone(IST).date().isoformat()
                daily[day]["realised"] += position.realised_pnl
                daily[day]["unrealised"] += position.unrealised_pnl
        days = [{"date": d, "realised_pnl": str(v["realised"]), "unrealised_pnl": str(v["unrealised"]),
                 "pnl": str(v["realised"] + v["unrealised"])} for d, v in sorted(daily.items())]
        wins = sum(1 for d in daily.values() if d["realised"] + d["unrealised"] > 0)
        return BasketPerformance(
            executions=executions, completed=completed, trade_days=len(daily),
            realised_pnl=sum((v["realised"] for v in daily.values()), Decimal(0)),
            unrealised_pnl=sum((v["unrealised"] for v in daily.values()), Decimal(0)),
            win_rate=(Decimal(wins * 100) / len(daily)).quantize(Decimal("0.01")) if daily else None, daily=days)

    # ---- subscriptions -------------------------------------------------------------------------
    def _check_accounts(self, user_id: str, body: SubscribeRequest | SubscriptionUpdate,
                        strategies: list[Strategy], legs: dict[str, list[Leg]]) -> None:
        problems: list[tuple[tuple, str]] = []
        for index, account in enumerate(body.allocations or []):
            found = self.repos.accounts.find(user_id, account.client_id)
            if found is None:
                problems.append((("body", "allocations", index, "client_id"),
                                 f"{account.client_id} is not one of your linked broker accounts"))
            elif found.status is not EntityStatus.ACTIVE:
                problems.append((("body", "allocations", index, "client_id"),
                                 f"{account.client_id} is {found.status.value}, not ACTIVE"))
            elif self._shared_client_id(user_id, account.client_id):
                # a subscriber's orders carry the admin's strategy id: the same client id under two
                # users would give two orders the same key and broker tag (keys.order_tag)
                problems.append((("body", "allocations", index, "client_id"),
                                 f"{account.client_id} is also registered by another user of the platform; "
                                 "a marketplace subscription needs an account registered once"))
        known = {s.strategy_id for s in strategies}
        for strategy_id, override in (body.strategy_overrides or {}).items():
            if strategy_id not in known:
                problems.append((("body", "strategy_overrides", strategy_id),
                                 f"strategy {strategy_id} is not in this basket (its strategies: {', '.join(sorted(known))})"))
                continue
            leg_nos = {str(l.leg_no) for l in legs[strategy_id]}
            for leg_no in sorted(set(override.leg_overrides or {}) - leg_nos, key=int):
                problems.append((("body", "strategy_overrides", strategy_id, "leg_overrides", leg_no),
                                 f"leg {leg_no} does not exist in strategy {strategy_id}"))
        if problems:
            raise InvalidRequest(problems)
        # the platform's size limits on what each account would trade (shared_utils.services.limits)
        from shared_utils.marketplace.definitions import subscriber_allocations
        from shared_utils.services.limits import allocation_problems

        from shared_utils.services.options import OptionsService

        limits = self.env.settings.execution_engine.limits
        lot_size = OptionsService(self.repos, self.env, self.clock)._lot_size_or_none
        for strategy in strategies:
            link = self._link(user_id, strategy, "x", "check", SubscriptionStatus.ACTIVE, body.allocations or [],
                              (body.strategy_overrides or {}).get(strategy.strategy_id))
            for allocation in subscriber_allocations(link, legs[strategy.strategy_id]):
                found = allocation_problems(limits, legs[strategy.strategy_id], allocation,
                                            ("body", "strategy_overrides", strategy.strategy_id), lot_size)
                problems += [(loc, f"{allocation.client_id}: {msg}") for loc, msg in found if "max_margin" not in msg]
        if problems:
            raise InvalidRequest(problems)

    def _shared_client_id(self, user_id: str, client_id: str) -> bool:
        """True when another user registered ``client_id`` too (broker accounts' AccountsByClientId)."""
        from shared_utils.persistence.table_schema import BROKER_ACCOUNTS_BY_CLIENT

        table = self.repos.accounts.table
        return any(i.get("user_id") != user_id for i in table.query_all(
            client_id, index=BROKER_ACCOUNTS_BY_CLIENT.name, pk_name=BROKER_ACCOUNTS_BY_CLIENT.partition_key))

    @staticmethod
    def _link(user_id: str, strategy: Strategy, owner: str, subscription_id: str, status: SubscriptionStatus,
              allocations: list, override: Any, basket_id: str = "") -> SubscriptionLink:
        from shared_utils.marketplace.models import StrategyOverride

        return SubscriptionLink(user_id=user_id, strategy_id=strategy.strategy_id, owner_user_id=owner,
                                basket_id=basket_id or strategy.basket_id or "", subscription_id=subscription_id,
                                status=status, allocations=allocations, override=override or StrategyOverride())

    def _schedule_items(self, subscriber: str, strategy: Strategy, entry_active: bool, exit_active: bool) -> list[dict[str, Any]]:
        """The subscriber's SCHEDULE items of an admin strategy: the admin's entry/exit times
        and days, ``user_id`` = the subscriber; GSI2 keys while active (entry: the subscription is
        ACTIVE and enabled for it; exit: until cancelled with nothing held)."""
        out = []
        for entry in schedule_entries(strategy, True):
            active = (entry_active and entry.active) if entry.execution_type is ExecutionType.ENTRY else (exit_active and entry.active)
            mine = entry.model_copy(update={"user_id": subscriber, "active": active})
            out.append(self.repos.schedules.item(mine))
        return out

    def _definition(self, listing: Listing) -> tuple[list[Strategy], dict[str, list[Leg]]]:
        strategies = self.repos.strategies.list_all(listing.owner_user_id, listing.basket_id)
        return strategies, {s.strategy_id: self.repos.legs.list(listing.owner_user_id, s.strategy_id) for s in strategies}

    def subscribe(self, user_id: str, basket_id: str, body: SubscribeRequest) -> Subscription:
        """Subscribe ``user_id`` to a listed basket with their own accounts (see module doc)."""
        listing = self.listing(basket_id)
        if listing.visibility is Visibility.PRIVATE and listing.owner_user_id != user_id:
            if basket_id not in self._subscribed_baskets(user_id):
                raise NotFound(f"basket {basket_id} is not in the marketplace")
        if listing.owner_user_id == user_id:
            raise Conflict(f"basket {basket_id} is your own: allocate its strategies to your accounts instead",
                           ["own basket"])
        if listing.visibility is Visibility.PRIVATE:
            raise Conflict(f"basket {basket_id} is PRIVATE: it takes no new subscriptions", ["visibility PRIVATE"])
        existing = self._subscribed_baskets(user_id).get(basket_id)
        if existing is not None:
            raise Conflict(f"you already subscribe to basket {basket_id} ({existing.subscription_id}, "
                           f"{existing.status.value}); change or resume that subscription",
                           [f"subscription {existing.subscription_id} is {existing.status.value}"])
        config = listing.subscription_config
        if config.min_capital is not None and (body.capital is None or body.capital < config.min_capital):
            declared = "none declared" if body.capital is None else f"Rs {body.capital:,.2f} declared"
            raise Conflict(f"basket {basket_id} needs a minimum capital of Rs {config.min_capital:,.2f} ({declared})",
                           [f"minimum capital Rs {config.min_capital:,.2f}"])
        strategies, legs = self._definition(listing)
        if not strategies:
            raise Conflict(f"basket {basket_id} holds no strategy yet", ["no strategies"])
        self._check_accounts(user_id, body, strategies, legs)
        subscription = Subscription(
            subscription_id=_new_id("sub"), user_id=user_id, basket_id=basket_id, owner_user_id=listing.owner_user_id,
            basket_name=listing.basket_name, subscription_date=self.now(), allocations=body.allocations,
            strategy_overrides=body.strategy_overrides, strategy_ids=[s.strategy_id for s in strategies],
            capital=body.capital)
        for _attempt in range(5):
            if config.max_subscribers is not None and listing.subscriber_count >= config.max_subscribers:
                raise Conflict(f"basket {basket_id} is full: {listing.subscriber_count} of {config.max_subscribers} "
                               "subscribers", [f"max_subscribers {config.max_subscribers} reached"])
            ops = self._subscription_ops(subscription, strategies, listing)
            if len(ops) > MAX_TRANSACT:
                raise InvalidRequest.field(("path", "basket_id"), f"basket {basket_id} has too many strategies to "
                                           f"subscribe to in one step ({len(ops)} items > {MAX_TRANSACT})")
            try:
                self.table.transact(ops)
                return subscription
            except TransactionCancelled as exc:
                reasons = list(exc.reasons or [])
                if reasons and reasons[0] == "ConditionalCheckFailed":  # the listing moved: re-read, re-check
                    listing = self.listing(basket_id)
                    continue
                raise Conflict("you already subscribe to this basket's strategies", reasons) from exc
        raise VersionConflict(f"basket {basket_id} is busy; retry the subscription")

    def _subscription_ops(self, subscription: Subscription, strategies: list[Strategy], listing: Listing) -> list[dict]:
        counted = listing.model_copy(update={"subscriber_count": listing.subscriber_count + 1,
                                             "version": listing.version + 1, "updated_at": self.now()})
        ops = [self.table.put_op(self._listing_item(counted), condition="version = :expected",
                                 values={":expected": listing.version}),
               self.table.put_op(to_item(subscription, user_id=subscription.user_id,
                                         sort_key=keys.subscription_sk(subscription.subscription_id)),
                                 condition="attribute_not_exists(sort_key)"),
               self.table.put_op({"user_id": listing.owner_user_id,
                                  "sort_key": keys.subscriber_sk(listing.basket_id, subscription.user_id),
                                  "subscription_id": subscription.subscription_id, "entity_type": "SUBSCRIBER",
                                  "subscriber_user_id": subscription.user_id,
                                  "created_at": subscription.created_at.isoformat()})]
        for strategy in strategies:
            ops += self._strategy_ops(subscription, strategy, listing.basket_id, create=True)
        return ops

    def _strategy_items(self, subscription: Subscription, strategy: Strategy, basket_id: str,
                        holds: bool = False) -> list[dict[str, Any]]:
        """The subscriber's link and SCHEDULE items of one strategy of the basket."""
        override = subscription.strategy_overrides.get(strategy.strategy_id)
        link = self._link(subscription.user_id, strategy, subscription.owner_user_id, subscription.subscription_id,
                          subscription.status, subscription.allocations, override, basket_id)
        entry_active = subscription.status is SubscriptionStatus.ACTIVE and link.override.enabled
        exit_active = subscription.status is not SubscriptionStatus.CANCELLED or holds
        return ([to_item(link, user_id=subscription.user_id, sort_key=keys.subscribed_sk(strategy.strategy_id))]
                + self._schedule_items(subscription.user_id, strategy, entry_active, exit_active))

    def _strategy_ops(self, subscription: Subscription, strategy: Strategy, basket_id: str, create: bool = False,
                      holds: bool = False) -> list[dict]:
        """Put operations of ``_strategy_items``. ``create``: the link must be new or left by a
        CANCELLED subscription (a subscriber who cancelled may subscribe again; the old link stayed
        for the exits of what was held)."""
        link, *schedule = self._strategy_items(subscription, strategy, basket_id, holds)
        if create:
            ops = [self.table.put_op(link, condition="attribute_not_exists(sort_key) OR #status = :cancelled",
                                     values={":cancelled": SubscriptionStatus.CANCELLED.value},
                                     names={"#status": "status"})]
        else:
            ops = [self.table.put_op(link)]
        return ops + [self.table.put_op(i) for i in schedule]

    def _own(self, user_id: str, subscription_id: str) -> Subscription:
        item = self.table.get(user_id, keys.subscription_sk(subscription_id))
        if item is None:
            raise NotFound(f"subscription {subscription_id} not found")
        return Subscription.model_validate(item)

    def _rewrite(self, subscription: Subscription, expected_version: int,
                 previous: SubscriptionStatus | None = None) -> Subscription:
        """Write the subscription (version-checked) with its links and schedule items."""
        listing = self.listing(subscription.basket_id)
        strategies = self.repos.strategies.list_all(listing.owner_user_id, listing.basket_id)
        new = subscription.model_copy(update={"version": expected_version + 1, "updated_at": self.now(),
                                              "strategy_ids": [s.strategy_id for s in strategies]})
        ops = [self.table.put_op(to_item(new, user_id=new.user_id, sort_key=keys.subscription_sk(new.subscription_id)),
                                 condition="version = :expected", values={":expected": expected_version})]
        for strategy in strategies:
            holds = any(p.quantity for p in self.repos.positions.list(new.user_id, strategy.strategy_id))
            ops += self._strategy_ops(new, strategy, listing.basket_id, holds=holds)
        if new.status is SubscriptionStatus.CANCELLED and previous is not SubscriptionStatus.CANCELLED:
            for _ in range(5):
                fresh = self.listing(listing.basket_id)
                counted = fresh.model_copy(update={"subscriber_count": max(0, fresh.subscriber_count - 1),
                                                   "version": fresh.version + 1, "updated_at": self.now()})
                try:
                    self.table.transact(ops + [
                        self.table.put_op(self._listing_item(counted), condition="version = :expected",
                                          values={":expected": fresh.version}),
                        self.table.delete_op(listing.owner_user_id, keys.subscriber_sk(listing.basket_id, new.user_id))])
                    return new
                except TransactionCancelled as exc:
                    if (exc.reasons or [""])[0] == "ConditionalCheckFailed":
                        raise VersionConflict(f"subscription {new.subscription_id} changed meanwhile; retry") from exc
                    continue
            raise VersionConflict("the basket is busy; retry")
        for start in range(0, len(ops), MAX_TRANSACT):
            try:
                self.table.transact(ops[start:start + MAX_TRANSACT])
            except TransactionCancelled as exc:
                raise VersionConflict(f"subscription {new.subscription_id} changed meanwhile; retry") from exc
        return new

    def set_status(self, user_id: str, subscription_id: str, status: SubscriptionStatus) -> Subscription:
        """Pause (no new entries; open positions still exit on time), resume (allowed to an
        existing subscriber whatever the listing's visibility now), cancel
        (frees a seat; exits of what is held still run). A CANCELLED subscription stays cancelled
        (409): subscribe again."""
        subscription = self._own(user_id, subscription_id)
        if subscription.status is SubscriptionStatus.CANCELLED:
            raise Conflict(f"subscription {subscription_id} is CANCELLED; subscribe again", ["cancelled"])
        if subscription.status is status:
            return subscription
        update: dict[str, Any] = {"status": status}
        if status is SubscriptionStatus.CANCELLED:
            update["cancelled_at"] = self.now()
        return self._rewrite(subscription.model_copy(update=update), subscription.version, subscription.status)

    def update(self, user_id: str, subscription_id: str, body: SubscriptionUpdate) -> Subscription:
        subscription = self._own(user_id, subscription_id)
        if subscription.status is SubscriptionStatus.CANCELLED:
            raise Conflict(f"subscription {subscription_id} is CANCELLED", ["cancelled"])
        listing = self.listing(subscription.basket_id)
        strategies, legs = self._definition(listing)
        merged = SubscribeRequest(allocations=body.allocations or subscription.allocations,
                                  strategy_overrides=subscription.strategy_overrides if body.strategy_overrides is None
                                  else body.strategy_overrides, capital=subscription.capital)
        self._check_accounts(user_id, merged, strategies, legs)
        return self._rewrite(subscription.model_copy(update={"allocations": merged.allocations,
                                                             "strategy_overrides": merged.strategy_overrides}),
                             subscription.version, subscription.status)

    def list(self, user_id: str) -> list[SubscriptionView]:
        subs = [Subscription.model_validate(i) for i in self.table.query_all(user_id, keys.subscriptions_prefix())]
        return [view(s) for s in sorted(subs, key=lambda s: s.subscription_date, reverse=True)]

    def detail(self, user_id: str, subscription_id: str) -> SubscriptionDetail:
        from shared_utils.marketplace.definitions import subscriber_allocations

        subscription = self._own(user_id, subscription_id)
        listing = self.listing(subscription.basket_id)
        strategies, legs = self._definition(listing)
        lots: dict[str, dict[str, int]] = {}
        for strategy in strategies:
            link = self._link(user_id, strategy, listing.owner_user_id, subscription.subscription_id,
                              subscription.status, subscription.allocations,
                              subscription.strategy_overrides.get(strategy.strategy_id))
            lots[strategy.strategy_id] = {a.client_id: a.calculated_totals.total_lots_per_execution
                                          for a in subscriber_allocations(link, legs[strategy.strategy_id])}
        return SubscriptionDetail(subscription=view(subscription),
                                  strategies=[public_strategy(s, legs[s.strategy_id]) for s in strategies],
                                  notices=self.notices(subscription.basket_id, subscription.subscription_date),
                                  lots_per_execution=lots)

    # ---- the admin's edits -----------------------------------------------------------------------
    def record_change(self, basket_id: str, what: str) -> None:
        at = self.now()
        self.table.put({"user_id": keys.MARKETPLACE_PARTITION, "sort_key": keys.change_sk(basket_id, at.isoformat()),
                        "basket_id": basket_id, "what": what, "at": at.isoformat(), "entity_type": "CHANGE"})

    def notices(self, basket_id: str, since: datetime | None = None) -> list[Notice]:
        items = self.table.query_all(keys.MARKETPLACE_PARTITION, keys.changes_prefix(basket_id))
        out = [Notice(at=datetime.fromisoformat(i["at"]), basket_id=basket_id, what=i["what"]) for i in items]
        return [n for n in out if since is None or n.at >= since]

    def on_definition_changed(self, strategy: Strategy, what: str, schedule_changed: bool) -> int:
        """Called after the owner changed ``strategy`` (or its legs, or added it to the basket). A
        no-op (one GetItem) unless its basket is listed; then the change is recorded for the
        subscribers' notices, the subscribers' links are read in batches (BatchGetItem, 100 per
        request), a subscriber without a link to it (a strategy added to the basket) gets its link
        and SCHEDULE items, and when the schedule moved every subscriber's SCHEDULE items are
        rewritten (BatchWriteItem, 25 per request). Returns the number of subscribers written."""
        if not strategy.basket_id:
            return 0
        item = self.table.get(keys.MARKETPLACE_PARTITION, keys.listing_sk(strategy.basket_id))
        if item is None:
            return 0
        listing = Listing.model_validate(item)
        if listing.owner_user_id != strategy.user_id:
            return 0
        self.record_change(strategy.basket_id, f"{strategy.strategy_name}: {what}")
        rows = list(self.table.query_all(listing.owner_user_id, keys.subscribers_prefix(listing.basket_id)))
        subscribers = [r["subscriber_user_id"] for r in rows]
        links = {i["user_id"]: SubscriptionLink.model_validate(i) for i in self.table.batch_get(
            [(u, keys.subscribed_sk(strategy.strategy_id)) for u in subscribers])}
        items: list[dict[str, Any]] = []
        missing = [r for r in rows if r["subscriber_user_id"] not in links]
        if missing:  # a strategy the admin added to the basket: every live subscription runs it too
            found = self.table.batch_get([(r["subscriber_user_id"], keys.subscription_sk(r["subscription_id"]))
                                          for r in missing])
            for subscription in (Subscription.model_validate(i) for i in found):
                if subscription.status is not SubscriptionStatus.CANCELLED:
                    items += self._strategy_items(subscription, strategy, listing.basket_id)
        if schedule_changed:
            for subscriber, link in links.items():
                holds = link.status is SubscriptionStatus.CANCELLED and any(
                    p.quantity for p in self.repos.positions.list(subscriber, strategy.strategy_id))
                items += self._schedule_items(subscriber, strategy,
                                              link.status is SubscriptionStatus.ACTIVE and link.override.enabled,
                                              link.status is not SubscriptionStatus.CANCELLED or holds)
        self.table.batch_put(items)
        return len(missing) + (len(links) if schedule_changed else 0)


def subscribers_holding(repos: Repositories, owner_user_id: str, basket_id: str | None) -> list[str]:
    """Why an owner may not delete a strategy (or basket) of ``basket_id``: it has subscribers
    (one Query of the owner's ``SUBSCRIBER#{basket_id}#`` items), whose executions read its
    definition, exits included (deleting it would leave their positions with nothing to exit
    them, I5). Empty when it has none."""
    if not basket_id:
        return []
    rows = list(getattr(repos, "_inner", repos).table.query_all(owner_user_id, keys.subscribers_prefix(basket_id)))
    if not rows:
        return []
    return [f"basket {basket_id} has {len(rows)} marketplace subscriber{'s' if len(rows) > 1 else ''}: their "
            "executions (and exits) read this definition; make the listing PRIVATE and wait for them to cancel"]


def view(subscription: Subscription) -> SubscriptionView:
    return SubscriptionView(**subscription.model_dump(include=set(SubscriptionView.model_fields)))


def public_strategy(strategy: Strategy, legs: list[Leg]) -> PublicStrategy:
    return PublicStrategy(
        strategy_id=strategy.strategy_id, strategy_name=strategy.strategy_name, description=strategy.description,
        underlying=strategy.underlying, product=strategy.product.value, entry_time=strategy.entry_time,
        exit_time=strategy.exit_time, entry_days=[d.value for d in strategy.entry_days],
        exit_days=[d.value for d in strategy.exit_days], status=strategy.status.value,
        legs=[PublicLeg(leg_no=l.leg_no, lots=l.lots, transaction_type=l.transaction_type.value,
                        leg_type=l.leg_type.value, underlying=l.underlying, entry_by=l.entry_by.value,
                        strike_selection_config=l.strike_selection_config.model_dump(mode="json", exclude_none=True)
                        if l.strike_selection_config else None,
                        expiry_type=l.expiry_type.value, expiry_offset=l.expiry_offset, stop_loss=l.stop_loss,
                        stop_loss_type=l.stop_loss_type.value if l.stop_loss_type else None, target=l.target,
                        order_type=l.order_type.value, enabled=l.enabled)
              for l in sorted(legs, key=lambda l: l.leg_no)])


def definition_changed(repos: Repositories, env: EnvironmentConfig, clock: Clock | None, strategy: Strategy,
                       what: str, before: Strategy | None = None) -> None:
    """The hook the options service calls after an owner's edit (never raises into the edit: a
    failed notice is logged, the edit stands; the engine reads the definition at run time)."""
    try:
        moved = before is not None and any(getattr(before, f) != getattr(strategy, f) for f in SCHEDULE_FIELDS)
        MarketplaceService(repos, env, clock).on_definition_changed(strategy, what, moved)
    except Exception:  # noqa: BLE001 - the edit is stored; the notice is best effort, said in the log
        import logging

        logging.getLogger(__name__).exception("marketplace: could not record the change of %s", strategy.strategy_id)
