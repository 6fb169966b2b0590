"""Strategy templates as data (``config/templates/*.json``) and cloning (issue 20; seed 001
"Strategy Templates and Cloning": GET /options/templates, GET /options/templates/{id},
POST /options/templates/{id}/create, POST /options/strategies/{id}/clone).

A template file holds ``template_id``, ``name``, ``description``, ``category``, ``risk_level``,
``as_of`` and ``sources`` (where its market facts come from), ``strategy`` (a
``StrategySpec`` body) and ``legs`` (``LegCreate`` bodies with their strike selection rules).
Every file is validated with the same models the API uses when loaded; a bad file raises at
load, naming the file (tests load them all). A strategy created from a template, or cloned, is
PAUSED: it runs once the trader allocates it to an account and activates it (activation checks
executability, as for any strategy).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field

from shared_utils.errors import InvalidRequest
from shared_utils.models.common import DomainModel, RequestModel
from shared_utils.models.leg import LegsCreate
from shared_utils.models.common import HHMM, WeekdayList
from shared_utils.models.strategy import StrategySpec
from shared_utils.persistence.repositories import NotFound

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "config" / "templates"


class Template(DomainModel):
    template_id: str
    name: str
    description: str
    category: str
    risk_level: str
    as_of: str
    sources: list[str]
    strategy: dict[str, Any]
    legs: list[dict[str, Any]]


class TemplateSummary(DomainModel):
    template_id: str
    name: str
    description: str
    category: str
    risk_level: str
    underlying: str
    product: str
    legs: int


class TemplateList(DomainModel):
    items: list[TemplateSummary]


class TemplateCreate(RequestModel):
    """POST /options/templates/{id}/create: where and how to instantiate the template. ``lots``
    multiplies every leg's lots; the other fields replace the template's."""

    basket_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    strategy_name: str | None = Field(default=None, min_length=1, max_length=100)
    underlying: str | None = Field(default=None, min_length=1, max_length=30, pattern=r"^[A-Z0-9&_-]+$")
    lots: int = Field(default=1, ge=1, le=100)
    entry_time: HHMM | None = None
    exit_time: HHMM | None = None
    entry_days: WeekdayList | None = None
    exit_days: WeekdayList | None = None


class CloneRequest(RequestModel):
    """POST /options/strategies/{id}/clone: the copy's basket (yours) and name."""

    basket_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    strategy_name: str | None = Field(default=None, min_length=1, max_length=100)


@lru_cache(maxsize=1)
def load_templates(directory: str | None = None) -> dict[str, Template]:
    """Every template of ``config/templates`` by id, validated (see module doc).

    Raises:
        ValueError: a file that is not a valid template (named).
    """
    out: dict[str, Template] = {}
    for path in sorted(Path(directory or TEMPLATES_DIR).glob("*.json")):
        try:
            template = Template.model_validate(json.loads(path.read_text()))
            StrategySpec.model_validate(template.strategy)
            LegsCreate.model_validate({"legs": template.legs})
        except Exception as exc:  # noqa: BLE001 - re-raised with the file's name
            raise ValueError(f"{path.name}: not a valid strategy template: {exc}") from exc
        if template.template_id != path.stem:
            raise ValueError(f"{path.name}: template_id {template.template_id!r} differs from the file name")
        out[template.template_id] = template
    return out


def summary(template: Template) -> TemplateSummary:
    return TemplateSummary(template_id=template.template_id, name=template.name, description=template.description,
                           category=template.category, risk_level=template.risk_level,
                           underlying=template.strategy["underlying"], product=template.strategy["product"],
                           legs=len(template.legs))


def get_template(template_id: str) -> Template:
    template = load_templates().get(template_id)
    if template is None:
        raise NotFound(f"template {template_id} not found (known: {', '.join(sorted(load_templates()))})")
    return template


def _instantiate(options: Any, user_id: str, basket_id: str | None, spec: dict[str, Any],
                 legs: list[dict[str, Any]]):
    """Create the strategy (PAUSED) and its legs through the options service (every API check
    applies); a leg refused removes the half-made strategy. Returns (strategy, legs)."""
    from pydantic import ValidationError

    try:
        body = StrategySpec.model_validate({**spec, "status": "PAUSED"})
        legs_body = LegsCreate.model_validate({"legs": legs})
    except ValidationError as exc:
        raise InvalidRequest([(("body",) + tuple(e["loc"]), e["msg"]) for e in exc.errors()]) from exc
    strategy = options.create_strategy(user_id, basket_id, body)
    try:
        created = options.add_legs(user_id, strategy.strategy_id, legs_body)
    except Exception:
        options.delete_strategy(user_id, strategy.strategy_id)
        raise
    return strategy, created


def create_from_template(options: Any, user_id: str, template_id: str, body: TemplateCreate):
    template = get_template(template_id)
    spec = dict(template.strategy)
    for name in ("strategy_name", "underlying", "entry_time", "exit_time", "entry_days", "exit_days"):
        value = getattr(body, name)
        if value is not None:
            spec[name] = [getattr(d, "value", d) for d in value] if isinstance(value, list) else value
    legs = []
    for leg in template.legs:
        leg = dict(leg, lots=int(leg["lots"]) * body.lots)
        if body.underlying:
            leg["underlying"] = body.underlying
        legs.append(leg)
    return _instantiate(options, user_id, body.basket_id, spec, legs)


def clone_strategy(options: Any, marketplace: Any, user_id: str, strategy_id: str, body: CloneRequest):
    """Copy a strategy's definition (never its allocations) into the caller's basket: one of the
    caller's own strategies, or one of a marketplace basket whose definition the caller may see
    (PUBLIC, or one they subscribe to). Anything else is 404."""
    repos = options.repos
    try:
        source = repos.strategies.get(user_id, strategy_id)
        legs = repos.legs.list(user_id, strategy_id)
    except NotFound:
        source, legs = _visible_marketplace_strategy(marketplace, user_id, strategy_id)
    spec = {k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in source.spec().items()}
    spec["strategy_name"] = body.strategy_name or f"{source.strategy_name} (copy)"[:100]
    leg_bodies = [{k: (v.model_dump(exclude_none=True) if hasattr(v, "model_dump") else v)
                   for k, v in {**leg.fields(), "leg_no": leg.leg_no}.items() if v is not None} for leg in legs]
    return _instantiate(options, user_id, body.basket_id, spec, leg_bodies)


def _visible_marketplace_strategy(marketplace: Any, user_id: str, strategy_id: str):
    from shared_utils.marketplace.definitions import link_of
    from shared_utils.marketplace.models import Visibility

    repos = marketplace.repos
    link = link_of(repos, user_id, strategy_id)
    if link is not None:
        return repos.strategies.get(link.owner_user_id, strategy_id), repos.legs.list(link.owner_user_id, strategy_id)
    for listing in marketplace.listings():
        if listing.visibility is not Visibility.PUBLIC:
            continue
        try:
            strategy = repos.strategies.get(listing.owner_user_id, strategy_id)
        except NotFound:
            continue
        if strategy.basket_id == listing.basket_id:
            return strategy, repos.legs.list(listing.owner_user_id, strategy_id)
    raise NotFound(f"strategy {strategy_id} not found")
