"""Scrubbing secrets out of every reason and log line the judge produces.

An endpoint or a proxy may echo the request's ``Authorization`` header in an error body (a 401 page
that prints the headers it got), and the error text becomes a verdict's ``reason``, then
``Score.reason``, the sample logs and the warning log. :func:`scrub` replaces

* every API key value a judge of this process was built with (:func:`register_secret`);
* the value of ``Authorization: [Bearer|Basic|Token] ...``, ``api_key=...``, ``"x-api-key": "..."``,
  ``access_token: ...`` (any case, quoted or not);
* ``Bearer <token>`` anywhere (any case, tokens of 8 characters or more);
* OpenAI-shaped keys ``sk-...`` (also ``sk-proj-...``);

with ``***``. The logger ``medzero_rewards.judge`` scrubs its records with :class:`ScrubFilter`
(tracebacks included).

>>> scrub('HTTP 401: {"error": "bad header Authorization: Bearer sk-abc123def456ghi"}')
'HTTP 401: {"error": "bad header Authorization: Bearer ***"}'
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
_MIN_SECRET_LEN = 8  # shorter "keys" ("EMPTY", "test") are not secrets worth masking everywhere

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"""((?:api[-_ ]?key|x-api-key|authorization|access[-_ ]?token)["']?[ \t]*[:=][ \t]*["']?"""
            r"""(?:(?:bearer|basic|token)[ \t]+)?)(?!\*\*\*|(?:bearer|basic|token)\b)[^\s"',;}&]{4,}""",
            re.IGNORECASE,
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"\b(bearer)([ \t]+)[A-Za-z0-9._~+/=\-]{8,}", re.IGNORECASE), r"\1\2" + MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{4,}"), "sk-" + MASK),
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every later :func:`scrub` of this process (no-op for short or empty values)."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _secrets_lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    """``text`` with registered secrets and token-shaped credentials replaced by ``***``.

    >>> register_secret("my-private-key-123")
    >>> scrub("echo: my-private-key-123 / api_key=abcdef123456")
    'echo: *** / api_key=***'
    """
    if not text:
        return text
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs the formatted message and any traceback of each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: keep the raw template
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True
