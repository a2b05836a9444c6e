"""The quotes consumer service: validates quote and author records from the
stream and stores each batch in a sink (SQLite, PostgreSQL or JSON lines).

Run one replica with ``quotes-consumer`` or ``python -m consumer``; run as
many as you like, they share the work through the consumer group.
"""
