"""Every table, imported in one place so metadata, migrations and tests see them all."""

from backend.actions.models import AgentAction
from backend.agents.models import Agent
from backend.alerts.models import Alert, AlertRule, AlertRuleChange
from backend.auth.models import ApiClient
from backend.baselines.models import HumanBaseline
from backend.calibration.models import CalibrationStat, CalibrationTeamStat, CalibrationVerdict
from backend.coaching.models import CoachingInsight
from backend.crm.models import Contact, Conversation, Deal, Message
from backend.database import Base
from backend.events.models import EventStream
from backend.feedback.models import Feedback
from backend.notifications.models import Notification
from backend.orgs.models import Organization, Team, TeamManager, User
from backend.outcomes.models import Outcome, OutcomeLabel
from backend.partner_webhooks.models import WebhookDelivery, WebhookEndpoint
from backend.policy.models import AgentPolicy, PolicyChange
from backend.prompts.models import FeedbackPrompt, PromptBudget
from backend.reports.models import ReportDelivery, ReportRun, ReportSubscription
from backend.reviews.models import ReviewAssignment
from backend.roi.models import RoiAssumption
from backend.signals.models import Signal
from backend.slack.models import SlackEventReceipt, SlackInstallation, SlackPost

__all__ = [
    "Agent",
    "AgentAction",
    "AgentPolicy",
    "Alert",
    "AlertRule",
    "AlertRuleChange",
    "ApiClient",
    "Base",
    "CalibrationStat",
    "CalibrationTeamStat",
    "CalibrationVerdict",
    "CoachingInsight",
    "Contact",
    "Conversation",
    "Deal",
    "EventStream",
    "Feedback",
    "FeedbackPrompt",
    "HumanBaseline",
    "Message",
    "Notification",
    "Organization",
    "Outcome",
    "OutcomeLabel",
    "PolicyChange",
    "PromptBudget",
    "ReportDelivery",
    "ReportRun",
    "ReportSubscription",
    "ReviewAssignment",
    "RoiAssumption",
    "Signal",
    "SlackEventReceipt",
    "SlackInstallation",
    "SlackPost",
    "Team",
    "TeamManager",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
