"""The decision lifecycle: intake, sign-off, cancel, payload correction, outcome; routing; the
decision log; eligibility and the row locks below them all.

Services (``intake``, ``signing``, ``changes``) each run in one transaction and call down to
``routing`` (who may sign, frozen in the snapshot), ``eligibility`` (may this person sign now,
is the quorum met), ``eventlog`` (the hash-chained log) and ``locks``.
"""
