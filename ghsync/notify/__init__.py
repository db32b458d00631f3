"""Email notifications when a sync run ends: settings, the message (pure), and SMTP delivery.

Import from the module that owns a name (settings, message, smtp): a command that only checks an
address loads neither the SMTP client nor the email templates.
"""
