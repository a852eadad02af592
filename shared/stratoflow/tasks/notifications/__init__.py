"""Notification task types: chat incoming webhooks (Slack, Microsoft Teams, Discord), their
execution summaries, and email through SMTP or Amazon SES. Registered on import."""

from stratoflow.tasks.notifications import chat_summaries, execution, mail, mail_summary, webhooks

__all__ = ["chat_summaries", "execution", "mail", "mail_summary", "webhooks"]
