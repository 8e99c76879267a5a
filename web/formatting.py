"""Jinja filters for dates and statuses, so templates render values and do not compute them."""

from __future__ import annotations

from datetime import datetime

from flask import Flask


def datetime_short(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def datetime_seconds(value: datetime | None) -> str:
    """To the second, where the time itself is the evidence (a timestamp authority's)."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def init_app(app: Flask) -> None:
    app.add_template_filter(datetime_short, "dt")
    app.add_template_filter(datetime_seconds, "dt_seconds")
