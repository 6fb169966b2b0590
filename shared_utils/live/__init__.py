"""Live updates (issue 19): the trader's WebSocket feed of orders, executions and positions.

- :mod:`.messages`: a table write (a DynamoDB stream record) -> ``(user_id, {"type", "data"})``;
- :mod:`.connections`: the open connections of each user, items in the trading table;
- :mod:`.publisher`: sends a user's messages to that user's connections only (API Gateway's
  Management API in AWS, the local WebSocket server locally); a gone connection is forgotten;
- :mod:`.auth`: the Cognito ID-token check of a connection (the ``$connect`` authorizer in AWS,
  the local server's handshake locally).

Why a stream consumer and not a publish call in the engine: the stream sees every write of an
order, execution or position whatever code path made it, and keeps the engine's critical path
(the sends at the target second) free of any network call to API Gateway.
"""
