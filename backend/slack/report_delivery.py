"""Reports in Slack, as the reports domain's delivery asks for them: the organisation's
installation and client, `post_report` (summary, then its main chart), and Slack's refusals told
apart (for good: failed at once; for now: retried, a 429 after its Retry-After)."""

from __future__ import annotations

import datetime as dt
import logging

from backend.reports.delivery import DeliveryRefused, SlackReport
from backend.slack.client import SlackApiError
from backend.slack.report_post import ChartNotShared, is_permanent, post_report
from backend.slack.service import installation_for_organization, slack_client
from backend.state import AppState

log = logging.getLogger(__name__)


async def post_report_to_slack(state: AppState, report: SlackReport) -> str | None:
    """Post ``report`` with the organisation's installation; its message's ts."""
    async with state.sessions() as session:
        installation = await installation_for_organization(session, report.organization_id)
    if installation is None:
        raise DeliveryRefused("the organisation has no Slack installation", permanent=True)
    client = slack_client(installation, state.settings.secret_key)
    try:
        answer = await post_report(
            client,
            channel=report.target,
            blocks=report.blocks,
            text=report.text,
            image_png=report.image_png,
            image_title=report.image_title,
            filename=report.filename,
            alt_text=report.alt_text,
        )
    except ChartNotShared as exc:
        # The summary is there: posting it again on a retry would show it twice.
        log.warning("report posted to %s without its chart: %s", report.target, exc)
        return exc.ts
    except SlackApiError as exc:
        wait = dt.timedelta(seconds=exc.retry_after) if exc.retry_after is not None else None
        raise DeliveryRefused(str(exc), permanent=is_permanent(exc), retry_after=wait) from None
    except ValueError as exc:  # a message Slack would refuse whatever the attempt
        raise DeliveryRefused(str(exc), permanent=True) from None
    ts = answer.get("ts")
    return ts if isinstance(ts, str) else None
