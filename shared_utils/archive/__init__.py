"""The day's executions, orders (with fills) and positions as Parquet in S3 (issue 8 item 7).

Layout (hive style, one object per entity and trade date, in ``ARCHIVE_BUCKET_NAME``)::

    archive/entity=executions/trade_date=2026-08-17/part-0.parquet
    archive/entity=orders/trade_date=2026-08-17/part-0.parquet
    archive/entity=positions/trade_date=2026-08-17/part-0.parquet

``trade_date`` (the IST trading date) lives in the path only, as hive partitioning expects
(Athena/Glue ``trade_date date`` partition, ``pyarrow.dataset(..., partitioning="hive")``); the
reader puts it back on each record. A day is always written whole (an empty day writes files
with zero rows), so a re-run replaces the day and the object's presence says "archived".

Format decisions (see :mod:`shared_utils.archive.schemas` for the explicit schemas):

* Money and prices are **strings** holding the exact ``Decimal`` in plain notation ("101.05"),
  not decimal128: the platform's Decimals have no fixed scale (an average price is a division,
  up to 28 significant digits) and DynamoDB keeps up to 38; any fixed ``decimal128(p, s)``
  would round them, and the archive must read back exactly what the table held. Analytics cast
  them (``CAST(price AS DECIMAL(18, 4))``). Columns carry field metadata
  ``ql.kind = decimal-string``.
* Instants are ``timestamp[ms, tz=UTC]``: the table's microseconds are **truncated** to
  milliseconds (the engine's timing is measured in ms; nothing finer is meaningful).
* Open-shaped maps (a leg's ``selection``, an order's ``status_history``) are strings of
  DynamoDB JSON (the format of DynamoDB's own S3 export, ``ql.kind = dynamodb-json``): exact for
  numbers and types, unlike plain JSON.
* ``expires_at`` (the hot table's TTL) and the constant ``entity_type`` are not archived.
* zstd compression, dictionary encoding, statistics on.

Finding the day's items: a **Scan** with a filter (see :mod:`shared_utils.archive.daily`), not
a new GSI. Cost: a Scan is billed on the bytes read, filter or not: 0.5 read request unit per
4 KB. A 100 MB table is ~12,800 RRU, about USD 0.004 per day on demand (ap-south-1); a 10 GB
table ~USD 0.40. A date-keyed GSI would instead add a write to every execution and order write
forever (more than the Scan at this scale) and the index storage; revisit beyond ~10 GB.

Hot items then expire: the archiver sets ``expires_at`` (epoch seconds) = IST midnight at the
start of ``trade_date + execution_engine.hot_item_ttl_days`` on every archived execution and
order, and on CLOSED positions (an OPEN position is live state: it is archived as that day's
snapshot but never expires). The history route reads the table for the last
``hot_item_ttl_days`` days and the archive before that (:mod:`shared_utils.archive.history`).

pyarrow is imported only by :mod:`~shared_utils.archive.schemas`,
:mod:`~shared_utils.archive.writer` and :mod:`~shared_utils.archive.reader`; this package's
``__init__``, :mod:`~shared_utils.archive.layout`, :mod:`~shared_utils.archive.daily` and
:mod:`~shared_utils.archive.history` do not, so importing them costs no pyarrow (only the
archiver and the executions API carry the ``archive`` layer).
"""
