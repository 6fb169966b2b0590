"""Pydantic v2 domain models: requests (``*Create``/``*Update``/``*Spec``, unknown fields are
errors) and stored entities (``Basket``, ``Strategy``, ``Leg``, ``Allocation``,
``ScheduleEntry``, ``Execution``, ``OrderRecord``, ``Position``, ``BrokerAccount``)."""
