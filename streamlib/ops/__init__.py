"""What an operator does to a stream, as functions returning dataclasses (no printing).

One module per family; ``streamctl`` (``streamlib.cli``) is their command line:

=============== =====================================================================
``scope``       which partitions an operation covers, and which of them exist
``info``        the health view: lengths, ids, memory, groups, dead letters
``pending``     a group's pending entries, summed up or one by one
``consumers``   a group's consumers, and pruning the idle ones
``reclaim``     an XAUTOCLAIM sweep by hand
``deadletters`` list, find, replay and purge dead letters
``trim``        safe retention: XTRIM MINID at what every group still needs
``tail``        the newest entries, and following new ones (never joins a group)
``groups``      create, destroy, move a consumer group
=============== =====================================================================

Every function takes a client and the stream's ``StreamSettings`` and works on
each of its ``P`` partitions (``partition=N``: on that one only); ``P = 1`` is
the plain stream and its ``:dead`` stream. Each row a function returns names
its partition.
"""
