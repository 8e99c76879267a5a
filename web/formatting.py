"""Jinja filters for dates and statuses, so templates render values and do not compute them."""

from __future__ import annotations

from datetime import datetime

from flask import Flask


def datetime_short(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def init_app(app: Flask) -> None:
    app.add_template_filter(datetime_short, "dt")
