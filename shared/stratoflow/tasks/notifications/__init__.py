"""Notification task types: chat incoming webhooks (Slack, Microsoft Teams, Discord), the Slack
execution summary, and email through SMTP or Amazon SES. Registered on import."""

from stratoflow.tasks.notifications import execution, mail, webhooks

__all__ = ["execution", "mail", "webhooks"]
