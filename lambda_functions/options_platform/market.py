"""Market data, calculators and the strategy preview (issue 17; seed 001 "Market Data and
Calculation APIs"). Cognito-authorized like every options route.

Market: GET /options/market/status, GET /options/market/holidays (?exchange=, ?year=),
GET /options/expiry-calendar/{symbol}, GET /options/market-data/{symbol},
GET /options/option-chain/{symbol}/{expiry} (?width=), GET /options/strikes/{symbol}
(?type=CE|PE, ?range=ITM|ATM|OTM, ?expiry=), GET /options/volatility/{symbol}.
Calculators: POST /options/calculator/premium|greeks|payoff|breakeven.
Preview: GET /options/strategies/{strategy_id}/preview (?date=YYYY-MM-DD, ?time=HH:MM IST).

Prices come from the engine's market data of this environment with the source and the quote's
age in every answer (shared_utils.services.market_status); bad input answers 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import Router

from aws_lambda_powertools.event_handler import Response, content_types

from lambda_functions.options_platform.common import OK_RESPONSES, build_app, logger, repositories, user_id_of
from shared_utils.clock import to_ist
from shared_utils.market.errors import MarketError
from shared_utils.models.api import ErrorBody
from shared_utils.services import calculators, market_status
from shared_utils.services.calculators import CalculatorRequest

router = Router()
#: 503: the environment's market data failed (no broker session, quote API down); the message says why
RESPONSES = {**OK_RESPONSES, 503: {"description": "Market data unavailable (the reason is in message)",
                                   "content": {"application/json": {"model": ErrorBody}}}}


def _ctx() -> Any:
    return market_status.api_context()


def _now(ctx: Any):
    return ctx.clock.now()


@router.get("/options/market/status", responses=RESPONSES,
            summary="Open, pre-open, closed or holiday (name and circular) per exchange, with session times")
def status() -> dict:
    user_id_of(router)
    ctx = _ctx()
    return market_status.market_status(ctx, _now(ctx))


@router.get("/options/market/holidays", responses=RESPONSES, summary="Trading holidays of a year with their circulars")
def holidays(exchange: Annotated[Literal["NSE", "BSE", "nse", "bse"] | None, Query()] = None,
             year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> dict:
    user_id_of(router)
    ctx = _ctx()
    return market_status.holidays(ctx, exchange, year or to_ist(_now(ctx)).year)


@router.get("/options/expiry-calendar/<symbol>", responses=RESPONSES,
            summary="Listed weekly and monthly expiries from today's master, with days to expiry")
def expiry_calendar(symbol: str) -> dict:
    user_id_of(router)
    ctx = _ctx()
    return market_status.expiry_calendar(ctx, symbol, to_ist(_now(ctx)).date())


@router.get("/options/market-data/<symbol>", responses=RESPONSES,
            summary="Spot and futures LTP with their time and source (stale marked)")
def market_data(symbol: str) -> dict:
    user_id_of(router)
    ctx = _ctx()
    return market_status.market_data(ctx, symbol, _now(ctx))


@router.get("/options/option-chain/<symbol>/<expiry>", responses=RESPONSES,
            summary="CE/PE LTP, bid/ask, OI where the source has them; IV and delta (ours); ATM marked")
def option_chain(symbol: str, expiry: str, width: Annotated[int | None, Query(ge=1, le=200)] = None) -> dict:
    user_id_of(router)
    ctx = _ctx()
    return market_status.option_chain(ctx, symbol, expiry, _now(ctx), width)


@router.get("/options/strikes/<symbol>", responses=RESPONSES,
            summary="Listed strikes of an expiry (default the nearest), each ITM/ATM/OTM")
def strikes(symbol: str, type: Annotated[Literal["CE", "PE", "ce", "pe"], Query()] = "CE",
            range: Annotated[Literal["ITM", "ATM", "OTM", "itm", "atm", "otm"] | None, Query()] = None,
            expiry: Annotated[str | None, Query(max_length=10)] = None) -> dict:
    user_id_of(router)
    ctx = _ctx()
    return market_status.strikes_view(ctx, symbol, expiry, type.upper(), range, _now(ctx))


@router.get("/options/volatility/<symbol>", responses=RESPONSES,
            summary="ATM implied volatility (ours) and its term structure across listed expiries")
def volatility(symbol: str) -> dict:
    user_id_of(router)
    ctx = _ctx()
    return market_status.volatility(ctx, symbol, _now(ctx))


def _calculate(body: CalculatorRequest, what: frozenset[str]) -> dict:
    user_id_of(router)
    ctx = _ctx()
    now = _now(ctx)
    reader = market_status.MarketReader(ctx, now)
    priced = calculators.price_legs(reader, body.legs, now)
    answer = calculators.analyse(priced, now, float(body.range_pct), body.points, what)
    answer["as_of"] = now.isoformat()
    answer["quote"] = reader.stamp()
    return answer


@router.post("/options/calculator/premium", responses=RESPONSES,
             summary="Net premium in rupees of a set of legs (credit positive)")
def calculator_premium(body: CalculatorRequest) -> dict:
    return _calculate(body, frozenset({"premium"}))


@router.post("/options/calculator/greeks", responses=RESPONSES,
             summary="Per-leg and position greeks (delta, gamma, theta per day, vega per vol point)")
def calculator_greeks(body: CalculatorRequest) -> dict:
    return _calculate(body, frozenset({"premium", "greeks"}))


@router.post("/options/calculator/payoff", responses=RESPONSES,
             summary="Payoff at expiry and today's theoretical P&L over a range, breakevens, max profit/loss")
def calculator_payoff(body: CalculatorRequest) -> dict:
    return _calculate(body, frozenset({"premium", "payoff", "breakeven"}))


@router.post("/options/calculator/breakeven", responses=RESPONSES,
             summary="Breakevens, max profit and max loss (or unlimited)")
def calculator_breakeven(body: CalculatorRequest) -> dict:
    return _calculate(body, frozenset({"premium", "breakeven"}))


@router.get("/options/strategies/<strategy_id>/preview", responses=RESPONSES,
            summary="The entry as the engine would resolve it at a moment: contracts, quantities, slices, risk, margin")
def strategy_preview(strategy_id: str, date: Annotated[str | None, Query(max_length=10)] = None,
                     time: Annotated[str | None, Query(max_length=5)] = None) -> dict:
    from shared_utils.services.preview import preview

    return preview(_ctx(), repositories(), user_id_of(router), strategy_id, date, time)


app = build_app(router)


@app.exception_handler(MarketError)
def _market_unavailable(exc: MarketError) -> Response:
    return Response(status_code=503, content_type=content_types.APPLICATION_JSON,
                    body={"statusCode": 503, "message": f"market data unavailable: {exc}"})


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
