"""Text from outside (provider metadata, container logs, bid fields) is untrusted data (security.md rule 2).

These helpers make it safe to show in the chat and to hand to a model: no control characters, bounded
length, and for short labels no markup-ish characters that could forge table cells or links.
"""

from __future__ import annotations


def clean_text(value: object, limit: int) -> str:
    """Printable characters and tabs only, at most ``limit`` characters (for log lines and messages)."""
    if value is None:
        return ""
    return "".join(ch for ch in str(value) if ch == "\t" or ch.isprintable())[:limit]


def display_text(value: object, limit: int) -> str:
    """A short label (a provider's name): whitespace collapsed, markup characters removed, length capped."""
    if value is None:
        return ""
    text = "".join(" " if ch.isspace() else ch for ch in str(value) if ch.isprintable() or ch.isspace())
    text = "".join(ch for ch in text if ch not in "<>[]{}|`*_#\\")
    return " ".join(text.split())[:limit]
