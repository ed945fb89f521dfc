"""What a control is and what it is judged from: ``Facts`` (the figures of one period, gathered
once), ``Control`` (a framework reference, what it asks, the rule, its checks, figures and links)
and the helpers the control tables share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from governance.gaps import GapKind

MET, ATTENTION, UNTESTED = "met", "attention", "untested"

Link = dict[str, str]
Figure = dict[str, Any]
Check = tuple[bool, str]


@dataclass(frozen=True)
class Links:
    """The pages and exports a control links to (None: not available in this deployment)."""

    dashboard: Link | None
    reports: Link | None
    audit_log: Link | None
    decisions_admin: Link | None
    admin: Callable[[str, str], Link | None]
    export: Callable[..., Link | None]


@dataclass(frozen=True)
class Facts:
    """Everything the controls judge, for one period."""

    decisions: dict[str, int]
    signoffs: dict[str, int]
    reviews: dict[str, Any]
    configuration: dict[str, int]
    audit: dict[str, Any]
    gaps: dict[str, Any]
    verification: dict[str, Any]
    operation: dict[str, Any]
    retention: dict[str, Any]
    links: Links

    @property
    def pushed_back(self) -> int:
        return self.signoffs["overrides"] + self.signoffs["rejections"]

    @property
    def human_signoffs(self) -> int:
        return self.pushed_back + self.signoffs["approvals"]

    @property
    def chain_gaps(self) -> int:
        return self.gaps["by_kind"][GapKind.CHAIN_WITHOUT_HUMAN]

    def gaps_of(self, kind: str) -> int:
        return int(self.gaps["by_kind"][kind])


@dataclass(frozen=True)
class Control:
    """One control. ``tested``: how many things of the period the checks looked at, and what
    it means when there were none (``no ...``)."""

    key: str
    framework: str
    reference: str
    title: str
    summary: str
    rule: str
    checks: Callable[[Facts], list[Check]]
    tested: Callable[[Facts], tuple[int, str]]
    figures: Callable[[Facts], list[Figure]]
    links: Callable[[Facts], list[Link | None]]

    def judge(self, facts: Facts) -> dict[str, Any]:
        findings = [message for ok, message in self.checks(facts) if not ok]
        count, nothing = self.tested(facts)
        untested = not findings and count == 0
        return {
            "id": self.key,
            "framework": self.framework,
            "reference": self.reference,
            "title": self.title,
            "summary": self.summary,
            "rule": self.rule,
            "status": ATTENTION if findings else UNTESTED if untested else MET,
            "note": (
                f"Nothing to test in this period: {nothing}. No check failed because none had anything to check."
                if untested
                else ""
            ),
            "findings": findings,
            "figures": self.figures(facts),
            "links": [link for link in self.links(facts) if link is not None],
        }


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _display(value: Any, *, is_share: bool) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if is_share:
        return f"{value * 100:.1f} %"
    return str(value)


def figure(key: str, label: str, value: Any, *, is_share: bool = False) -> Figure:
    """One figure; ``display`` is how the page shows it (a share as a percentage)."""
    return {"key": key, "label": label, "value": value, "display": _display(value, is_share=is_share)}


def independence_checks(f: Facts) -> list[Check]:
    """Segregation of duties and training at signing: the checks two controls share."""
    s = f.signoffs
    return [
        (s["by_submitter"] == 0, f"{s['by_submitter']} sign-off(s) by the submitter."),
        (s["by_integration_account"] == 0, f"{s['by_integration_account']} sign-off(s) by an integration account."),
        (
            s["certification_not_valid"] == 0,
            f"{s['certification_not_valid']} sign-off(s) without a valid certification.",
        ),
    ]


def independence_figures(f: Facts) -> list[Figure]:
    s = f.signoffs
    return [
        figure("signoffs_by_submitter", "Sign-offs by the submitter (must be 0)", s["by_submitter"]),
        figure("signoffs_by_integration", "Sign-offs by integration accounts (must be 0)", s["by_integration_account"]),
        figure(
            "signoffs_certification_not_valid",
            "Sign-offs whose certification was not valid at signing (must be 0)",
            s["certification_not_valid"],
        ),
    ]


def false_positive_rate(f: Facts) -> Figure:
    """The period's false-positive rate, of the outcomes reported (a figure several controls show)."""
    return figure(
        "false_positive_rate",
        "False-positive rate (of outcomes)",
        share(f.decisions["false_positives"], f.decisions["outcomes"]),
        is_share=True,
    )


def auto_approval_checks(f: Facts) -> list[Check]:
    """No auto-approval outside what is allowed, no production change approved without a human."""
    return [
        (f.decisions["auto_violations"] == 0, f"{f.decisions['auto_violations']} auto-approval(s) not allowed."),
        (
            f.decisions["production_auto_approved"] == 0,
            f"{f.decisions['production_auto_approved']} production change(s) approved without a human.",
        ),
    ]


def decisions_tested(f: Facts) -> tuple[int, str]:
    return f.decisions["decisions"], "no decisions were submitted"
