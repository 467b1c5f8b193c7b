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
    """One sentence per finding, e.g. "Autonomous actions fail 12.0% of the time (95% interval
    9.1% to 14.9%), within the 30.0% allowed." """
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
    fails = f"Autonomous actions fail {_interval(e)} of the time"
    escalated = f"Escalated actions succeed {_interval(e)} of the time"
    if e.finding is f.ERROR_RATE_ABOVE_TARGET:
        return f"{fails}, more than the {allowed} allowed."
    if e.finding is f.ERROR_RATE_WITHIN_TARGET:
        return f"{fails}, within the {allowed} allowed."
    if e.finding is f.ERROR_RATE_UNCERTAIN:
        return f"{fails}; not shown to be within the {allowed} allowed."
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
