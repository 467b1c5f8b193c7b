"""The recommendation's evidence in words, with its numbers (the engine gives numbers only)."""

from __future__ import annotations

from analytics_engine.strategy import Evidence, Finding


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _points(value: float) -> str:
    return f"{100 * value:+.1f} pts"


def _interval(e: Evidence) -> str:
    show = _points if e.finding in _LIFT else _pct
    return f"{show(e.value)} (95% interval {show(e.lower)} to {show(e.upper)})"


_LIFT = {Finding.WORSE_THAN_PEOPLE, Finding.BETTER_THAN_PEOPLE, Finding.LIFT_NOT_SHOWN}


def reason(e: Evidence) -> str:
    """One sentence per finding, e.g. "Actions it takes alone succeed 88.0% of the time (95%
    interval 85.1% to 90.9%), at least the 70.0% its policy requires to act alone." """
    f = Finding
    texts = {
        f.OVERCONFIDENT: "Its confidence is overconfident on matured outcomes.",
        f.NOT_CALIBRATED: "Its calibration is not shown to be sound on matured outcomes "
        "(insufficient data, under-confident or miscalibrated).",
        f.CALIBRATED: "Its confidence is calibrated on matured outcomes.",
        f.NO_BASELINE: "No human baseline to compare with: no lift is claimed.",
        f.NO_AUTONOMOUS_ACTIONS: "No action acts alone at the current thresholds: no error "
        "rate to judge.",
    }
    if e.finding in texts:
        return texts[e.finding]
    if e.finding is f.WORSE_THAN_PEOPLE:
        return f"Success versus people: {_interval(e)}, below the human baseline."
    if e.finding is f.BETTER_THAN_PEOPLE:
        return f"Success versus people: {_interval(e)}, above the human baseline."
    if e.finding is f.LIFT_NOT_SHOWN:
        return f"Success versus people: {_interval(e)}; the interval includes no difference."
    allowed = _pct(e.target)
    # The error rate's evidence, said as what a reader checks: how often the actions the agent
    # takes alone succeed, against the least its policy asks of an action to take it alone.
    succeed = (
        f"Actions it takes alone succeed {_pct(1 - e.value)} of the time (95% interval "
        f"{_pct(1 - e.upper)} to {_pct(1 - e.lower)})"
    )
    required = f"the {_pct(1 - e.target)} its policy requires to act alone"
    escalated = f"Escalated actions succeed {_interval(e)} of the time"
    if e.finding is f.ERROR_RATE_ABOVE_TARGET:
        return f"{succeed}, below {required}."
    if e.finding is f.ERROR_RATE_WITHIN_TARGET:
        return f"{succeed}, at least {required}."
    if e.finding is f.ERROR_RATE_UNCERTAIN:
        return f"{succeed}; not shown to reach {required}."
    if e.finding is f.UNNECESSARY_ESCALATIONS:
        return (
            f"{escalated}, above the {allowed} that warrants escalating: some escalations "
            "look unnecessary."
        )
    if e.finding is f.APPROPRIATE_ESCALATIONS:
        return (
            f"{escalated}, at most the {allowed} that warrants escalating: escalations look "
            "appropriate."
        )
    if e.finding is f.ESCALATIONS_UNDETERMINED and e.value == e.value:
        return f"{escalated} against {allowed}: not yet clear whether escalations are appropriate."
    return "No matured escalated actions to judge whether escalations are appropriate."
