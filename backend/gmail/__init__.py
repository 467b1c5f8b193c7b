"""The Gmail add-on (Google Workspace add-on, HTTP runtime): people rate the agent's e-mails
from the Gmail side panel. See docs/gmail-addon.md."""
