"""The evidence pack's controls, as data: for each framework reference, what it asks, the rule
that judges it, and which figures (``decisions.review.evidence_figures``) it checks and shows.

A control is judged from ``Facts`` (the figures of one period, gathered once): ``attention``
when a check fails; otherwise ``untested`` when the period held nothing for the control to test
(its checks pass only because they found nothing), with a note saying so; ``met`` otherwise.
To add a control, add a ``Control`` to one of the framework tables; nothing else changes.
"""

from __future__ import annotations

from decisions.review.controls.base import ATTENTION, MET, UNTESTED, Control, Facts, Link, Links
from decisions.review.controls.eu_ai_act import EU_AI_ACT
from decisions.review.controls.iso42001 import ISO_42001
from decisions.review.controls.nist_owasp import NIST_OWASP

CONTROLS: tuple[Control, ...] = (*NIST_OWASP, *EU_AI_ACT, *ISO_42001)

__all__ = ["ATTENTION", "CONTROLS", "MET", "UNTESTED", "Control", "Facts", "Link", "Links"]
