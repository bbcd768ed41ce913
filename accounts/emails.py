"""Email bodies (plain text + HTML). Each builder returns (subject, text, html)."""

from __future__ import annotations

from html import escape

from .limits import ACTIVATION_TTL, RESET_CODE_TTL, hours, minutes

__all__ = ["activation_email", "reset_code_email", "password_changed_email"]

_STYLE = "font-family:Arial,Helvetica,sans-serif;color:#222;line-height:1.5"


def _html(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)}</title></head>"
        f"<body style=\"{_STYLE}\"><div style=\"max-width:560px;margin:0 auto;padding:16px\">"
        f"<h2 style=\"color:#b0122b\">ECG Analyzer</h2>{body}"
        "<p style=\"color:#777;font-size:12px\">If you did not ask for this, you can ignore this email.</p>"
        "</div></body></html>"
    )


def activation_email(username: str, link: str) -> tuple[str, str, str]:
    subject = "ECG Analyzer: confirm your email"
    text = (
        f"Hello {username},\n\n"
        "Welcome to ECG Analyzer. To activate your account, open this link in Telegram:\n\n"
        f"{link}\n\n"
        f"The link is valid for {hours(ACTIVATION_TTL)} hours and can be used once. If it has expired, send "
        "/resend to the bot for a new one.\n\n"
        "If you did not register, you can ignore this email.\n"
    )
    body = (
        f"<p>Hello {escape(username)},</p>"
        "<p>Welcome to ECG Analyzer. To activate your account, open this link in Telegram:</p>"
        f"<p><a href=\"{escape(link, quote=True)}\" style=\"display:inline-block;padding:10px 16px;"
        "background:#b0122b;color:#fff;text-decoration:none;border-radius:4px\">Activate my account</a></p>"
        f"<p style=\"word-break:break-all\">{escape(link)}</p>"
        f"<p>The link is valid for {hours(ACTIVATION_TTL)} hours and can be used once. If it has expired, send "
        "/resend to the bot for a new one.</p>"
    )
    return subject, text, _html(subject, body)


def reset_code_email(username: str, code: str) -> tuple[str, str, str]:
    subject = "ECG Analyzer: your password reset code"
    text = (
        f"Hello {username},\n\n"
        f"Your password reset code is: {code}\n\n"
        f"Type it in the chat with the bot. It is valid for {minutes(RESET_CODE_TTL)} minutes and can be used "
        "once; asking for a new code makes this one invalid.\n\n"
        "If you did not ask to reset your password, ignore this email: your password stays unchanged.\n"
    )
    body = (
        f"<p>Hello {escape(username)},</p>"
        "<p>Your password reset code is:</p>"
        f"<p style=\"font-size:28px;font-weight:bold;letter-spacing:6px\">{escape(code)}</p>"
        f"<p>Type it in the chat with the bot. It is valid for {minutes(RESET_CODE_TTL)} minutes and can be "
        "used once; asking for a new code makes this one invalid.</p>"
        "<p>If you did not ask to reset your password, your password stays unchanged.</p>"
    )
    return subject, text, _html(subject, body)


def password_changed_email(username: str) -> tuple[str, str, str]:
    subject = "ECG Analyzer: your password was changed"
    text = (
        f"Hello {username},\n\n"
        "The password of your ECG Analyzer account was just changed, and your other sessions were ended.\n\n"
        "If this was you, there is nothing to do. If it was not, send /forgot to the bot at once to set a new "
        "password: that ends every session of the account.\n"
    )
    body = (
        f"<p>Hello {escape(username)},</p>"
        "<p>The password of your ECG Analyzer account was just changed, and your other sessions were ended.</p>"
        "<p>If this was you, there is nothing to do. If it was not, send <b>/forgot</b> to the bot at once to set "
        "a new password: that ends every session of the account.</p>"
    )
    return subject, text, _html(subject, body)
