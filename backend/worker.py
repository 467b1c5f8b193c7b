"""The worker: runs the periodic jobs (closing expired outcome windows; expiring, reminding and
suggesting feedback prompts; forgetting sign-in links and sessions that ended long ago; mining
each team's coaching insights weekly; evaluating alert rules and reminding people of the
critical alerts nobody acknowledged; delivering the outbox's e-mails, alerts shown in Slack and
partner webhooks; running the periodic reports that are due and delivering them by e-mail and
Slack). `python -m backend worker` loops; `--once` runs each job once. Jobs marked
``background`` run beside the others (a slow SMTP or Slack server, or a report being drawn,
does not hold up the rest of the loop)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from backend.learning import close_expired_windows, expire_prompts, remind_prompts, suggest_reviews
from backend.observability.jobs import job_run
from backend.observability.metrics import start_metrics_server
from backend.observability.tracing import trace_engine
from backend.state import AppState
from backend.unit_of_work import transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[AppState, dt.datetime], Awaitable[int]]
    every: dt.timedelta
    background: bool = False  # run as its own task; its next run waits until it is done


async def _close_windows(state: AppState, now: dt.datetime) -> int:
    return await close_expired_windows(state, now=now)


async def _prune_slack_receipts(state: AppState, now: dt.datetime) -> int:
    """Slack retries a delivery for about an hour; receipts older than a day are not needed."""
    from backend.slack.service import prune_event_receipts

    async with transaction(state.sessions) as session:
        return await prune_event_receipts(session, older_than=now - dt.timedelta(days=1))


async def _purge_sign_ins(state: AppState, now: dt.datetime) -> int:
    """Sign-in links and sessions that ended more than SIGN_IN_RETENTION_DAYS ago: deleted."""
    from backend.auth.retention import purge_ended_sign_ins

    retention = dt.timedelta(days=state.settings.sign_in_retention_days)
    return await purge_ended_sign_ins(state.sessions, now=now, retention=retention)


async def _expire_prompts(state: AppState, now: dt.datetime) -> int:
    return await expire_prompts(state, now=now)


async def _remind_prompts(state: AppState, now: dt.datetime) -> int:
    return await remind_prompts(state, now=now)


async def _suggest_reviews(state: AppState, now: dt.datetime) -> int:
    return await suggest_reviews(state, now=now)


async def _mine_coaching(state: AppState, now: dt.datetime) -> int:
    """Each team's coaching insights, each team in its own unit of work (weekly)."""
    from backend.coaching.mining import refresh_team_insights, teams_to_mine

    async with state.sessions() as session:
        teams = await teams_to_mine(session)
    raised = 0
    for organization_id, team_id in teams:
        try:
            async with transaction(state.sessions) as session:
                raised += await refresh_team_insights(
                    session, organization_id=organization_id, team_id=team_id, now=now
                )
        except Exception:  # one team's failure leaves the others' runs standing
            log.exception("coaching: mining team %d failed", team_id)
    return raised


async def _evaluate_alerts(state: AppState, now: dt.datetime) -> int:
    """Threshold, anomaly and drift rules on the rollups, each rule in its own unit of work;
    then the calibration and policy alerts whose hold period has passed are resolved."""
    from backend.alerts.evaluation import (
        evaluate_rule,
        resolve_cleared_event_alerts,
        rules_to_evaluate,
    )

    async with state.sessions() as session:
        rule_ids = await rules_to_evaluate(session)
    changed = 0
    for rule_id in rule_ids:
        try:
            async with transaction(state.sessions) as session:
                changed += await evaluate_rule(session, rule_id, now=now) is not None
        except Exception:  # one rule's failure leaves the others' evaluations standing
            log.exception("alerts: evaluating rule %d failed", rule_id)
    async with transaction(state.sessions) as session:
        changed += await resolve_cleared_event_alerts(session, now=now)
    return changed


async def _remind_alerts(state: AppState, now: dt.datetime) -> int:
    """Firing alerts nobody acknowledged within their rule's reminder period: reminded."""
    from backend.alerts.reminders import remind_unacknowledged

    async with transaction(state.sessions) as session:
        return await remind_unacknowledged(session, now=now)


async def _deliver_notifications(state: AppState, now: dt.datetime) -> int:
    """The outbox's due e-mails over SMTP (off without SMTP_HOST: they wait)."""
    from backend.notifications.delivery import deliver_notifications

    return await deliver_notifications(state, now=now)


async def _deliver_slack_alerts(state: AppState, now: dt.datetime) -> int:
    """The due changes of alerts shown in Slack (posted, updated, reminded in the thread)."""
    from backend.slack.alert_delivery import deliver_slack_alerts

    return await deliver_slack_alerts(state, now=now)


async def _deliver_webhooks(state: AppState, now: dt.datetime) -> int:
    """The due partner webhooks, signed, each with a timeout."""
    from backend.partner_webhooks.delivery import deliver_webhooks

    return await deliver_webhooks(state, now=now)


async def _run_reports(state: AppState, now: dt.datetime) -> int:
    """The subscriptions whose period is due: each (subscription, period) claimed once, rendered
    as the recipient is now, its e-mail and Slack post queued."""
    from backend.reports.runs import run_due_reports

    return await run_due_reports(state, now=now)


async def _deliver_reports(state: AppState, now: dt.datetime) -> int:
    """The due report e-mails (SMTP) and Slack posts, with retries."""
    from backend.notifications.smtp import send_email
    from backend.reports.delivery import Senders, SlackReport, deliver_reports
    from backend.slack.report_delivery import post_report_to_slack

    async def by_email(content: bytes, sender: str, recipients: list[str]) -> None:
        await send_email(state.settings, content, sender=sender, recipients=recipients)

    async def in_slack(report: SlackReport) -> str | None:
        return await post_report_to_slack(state, report)

    senders = Senders(email=by_email if state.settings.smtp_host else None, slack=in_slack)
    return await deliver_reports(state, now=now, senders=senders)


JOBS: tuple[Job, ...] = (
    Job("close_expired_windows", _close_windows, dt.timedelta(seconds=30)),
    Job("expire_feedback_prompts", _expire_prompts, dt.timedelta(minutes=1)),
    Job("remind_feedback_prompts", _remind_prompts, dt.timedelta(minutes=5)),
    Job("suggest_reviews", _suggest_reviews, dt.timedelta(hours=1)),
    Job("prune_slack_event_receipts", _prune_slack_receipts, dt.timedelta(hours=1)),
    Job("purge_ended_sign_ins", _purge_sign_ins, dt.timedelta(hours=1)),
    Job("mine_coaching_insights", _mine_coaching, dt.timedelta(weeks=1)),
    Job("evaluate_alert_rules", _evaluate_alerts, dt.timedelta(minutes=15)),
    Job("remind_unacknowledged_alerts", _remind_alerts, dt.timedelta(minutes=1)),
    Job("deliver_notifications", _deliver_notifications, dt.timedelta(minutes=1)),
    Job("deliver_slack_alerts", _deliver_slack_alerts, dt.timedelta(seconds=15)),
    Job("deliver_partner_webhooks", _deliver_webhooks, dt.timedelta(seconds=30)),
    Job("run_due_reports", _run_reports, dt.timedelta(minutes=1), background=True),
    Job("deliver_reports", _deliver_reports, dt.timedelta(seconds=30), background=True),
)


async def run_jobs_once(state: AppState, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Run every job once at ``now`` (default: the state's clock); a failing job is logged and
    does not stop the others."""
    done: dict[str, int] = {}
    now = now or state.now()
    for job in JOBS:
        with job_run(job.name) as run:
            try:
                done[job.name] = await job.run(state, now)
                run.done(done[job.name])
            except Exception:
                run.fail()
                log.exception("job %s failed", job.name)
                done[job.name] = -1
    return done


async def run_worker(state: AppState, *, stop: asyncio.Event | None = None) -> None:
    """Run each job when it is due by the state's clock, until ``stop`` is set. A background
    job runs as its own task (at most one at a time each); the loop waits for them on stop."""
    stop = stop or asyncio.Event()
    next_run = {job.name: state.now() for job in JOBS}
    running: dict[str, asyncio.Task[None]] = {}
    metrics = await start_metrics_server(state.settings)  # when WORKER_METRICS_PORT is set
    trace_engine(state.engine, service="sales-agent-learning-worker")  # with the otel extra
    try:
        while not stop.is_set():
            now = state.now()
            beat(state.settings.worker_heartbeat_file, now)
            for job in JOBS:
                if now < next_run[job.name]:
                    continue
                if job.background:
                    task = running.get(job.name)
                    if task is not None and not task.done():
                        continue  # still at it: due again once done
                    running[job.name] = asyncio.create_task(
                        _run_logged(job, state, now), name=job.name
                    )
                else:
                    await _run_logged(job, state, now)
                next_run[job.name] = now + job.every
            wait = max(0.5, min((t - state.now()).total_seconds() for t in next_run.values()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
    finally:
        if running:
            await asyncio.gather(*running.values(), return_exceptions=True)
        if metrics is not None:
            metrics.close()
            await metrics.wait_closed()


def beat(heartbeat_file: str | None, now: dt.datetime) -> None:
    """The worker's heartbeat: ``now`` written to ``heartbeat_file`` (WORKER_HEARTBEAT_FILE),
    whose modification time the health check compares with its own clock. A loop held up by a
    job longer than the check allows stops beating, and the worker is reported unhealthy."""
    if heartbeat_file is None:
        return
    try:
        Path(heartbeat_file).write_text(now.isoformat() + "\n")
    except OSError as exc:  # a full disk must not stop the jobs; the health check will tell
        log.warning("heartbeat: cannot write %s (%s)", heartbeat_file, exc)


async def _run_logged(job: Job, state: AppState, now: dt.datetime) -> None:
    with job_run(job.name) as run:  # its log lines carry the job and a job run id
        try:
            count = await job.run(state, now)
            run.done(count)
            if count:
                log.info("%s: %d done", job.name, count)
        except Exception:
            run.fail()
            log.exception("job %s failed; retrying at its next run", job.name)
