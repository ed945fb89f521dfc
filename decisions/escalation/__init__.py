"""Escalation: moving a pending decision past a step when nobody acted in time (deadline tasks
and the sweep), when a signer escalates by hand, or when a lead reassigns it."""
