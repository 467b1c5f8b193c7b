"""What the demo plants for its alert rules to find: a drop of one team's e-mail replies and a
drift of one agent's e-mail confidence, both in the last weeks before ``now``.

They are there so the demo's alert history tells a true story: the rules fire because
something changed, not on the ordinary weekly noise of steady teams (see
``backend.demo.configuration``). They only rescale probabilities the simulation has drawn
already and draw nothing themselves, so the other teams' and agents' data do not move.
"""

from __future__ import annotations

from backend.demo.simulation import DAY, ConfidenceDrift, ReplyDrop

# Mid-Market's e-mails and follow-ups get 40 % fewer replies from a Monday five weeks before
# ``now`` to the end of the history: the team started writing to a purchased list of colder
# contacts. The agent's reply model scores those contacts lower, so its stated confidence
# falls with the replies (its e-mails stay calibrated, and it hands a few more of them to the
# reps) and the drop is a story for the team's reply-rate rule. Five weeks: reply outcomes
# mature after their 7-day window, so the replayed alert job judges two to three weeks of the
# drop two weeks before ``now`` and four to five at ``now``. 40 %: the rule's detector (a
# CUSUM against the team's trailing eight-week weekday baseline; the team's working days hold
# about 117 e-mails and 12 replies) finds it at the replayed moments on every day the demo was
# seeded on in trials (five days from March 2026 to June 2027).
REPLY_DROP_ORG = "demo"
REPLY_DROP_TEAM = "Mid-Market"
REPLY_DROP_WEEKS = 5
REPLY_DROP_FACTOR = 0.6

# Rep 7's agent (Mid-Market) states more confidence in its e-mails week after week from a Monday
# eight weeks before ``now`` (a prompt change made it surer of itself), up to twice what its
# replies bear out at ``now``, while the replies themselves do not change: a calibration drift
# for the calibration rule, found by the replayed re-assessments. Eight weeks and twice:
# calibration judges the trailing 90 days of matured outcomes at once, so a drift must cover
# a good part of them before the agent's ~1,500 e-mails show it.
CONFIDENCE_DRIFT_ORG = "demo"
CONFIDENCE_DRIFT_TEAM = "Mid-Market"  # where rep 7 works: its manager's rule watches it
CONFIDENCE_DRIFT_REP = 7
CONFIDENCE_DRIFT_WEEKS = 8
CONFIDENCE_DRIFT_PEAK = 2.0


def monday_before(day_s: int) -> int:
    """00:00 UTC of the Monday on or before the day of ``day_s`` (1970-01-01 was a Thursday)."""
    day = day_s // DAY
    return (day - (day + 3) % 7) * DAY


def reply_drop(org_slug: str, team_name: str, *, now_s: int) -> ReplyDrop | None:
    """The planted drop of this team's replies, if it is the planted team."""
    if (org_slug, team_name) != (REPLY_DROP_ORG, REPLY_DROP_TEAM):
        return None
    return ReplyDrop(monday_before(now_s - REPLY_DROP_WEEKS * 7 * DAY), REPLY_DROP_FACTOR)


def confidence_drift(org_slug: str, rep_number: int, *, now_s: int) -> ConfidenceDrift | None:
    """The planted drift of this rep's agent's e-mail confidence, if it is the planted agent."""
    if (org_slug, rep_number) != (CONFIDENCE_DRIFT_ORG, CONFIDENCE_DRIFT_REP):
        return None
    start_s = monday_before(now_s - CONFIDENCE_DRIFT_WEEKS * 7 * DAY)
    return ConfidenceDrift(start_s, now_s, CONFIDENCE_DRIFT_PEAK)
