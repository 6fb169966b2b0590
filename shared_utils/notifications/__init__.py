"""Trader notifications (issue 18): what the engine already says, delivered to the trader.

Flow::

    engine alerts ('Order Alert' on the EventBridge bus) --rule--+
    kill switch PUT, pre-open session check --publish.notify()----+--> SQS queue --> notifier Lambda
                                                                          (retries, DLQ)   |
                                                   preferences + sealed Telegram token <---+
                                                   email: SNS topic, one email subscription per
                                                   trader filtered on the message attribute user_id
                                                   Telegram: Bot API sendMessage with the trader's bot

Modules: :mod:`.models` (events, channels, preferences, the queued message), :mod:`.messages`
(an engine alert -> the notifications a trader reads), :mod:`.publish` (enqueue, never raises),
:mod:`.store` (preferences, the KMS-sealed bot token, delivery marks), :mod:`.channels` (SNS email,
Telegram), :mod:`.service` (the routes' and the notifier's logic).

A delivery failure never reaches trading: producers only enqueue (bounded timeouts, every error
swallowed and logged), and the notifier runs on its own queue.
"""
