"""The modeler's department choice lists the seeded departments in the reader's language."""

from __future__ import annotations

from engine.services.departments import list_departments


def test_departments_are_listed_by_id_with_the_readers_language(ctx) -> None:  # type: ignore[no-untyped-def]
    english = list_departments(ctx, "en")
    chinese = list_departments(ctx, "zh")
    ids = [d.id for d in english]
    assert ids == sorted(ids)
    assert {"sales", "qc", "tech", "management"} <= set(ids)
    assert [d.id for d in chinese] == ids
    names = {d.id: d.name for d in english}
    names_zh = {d.id: d.name for d in chinese}
    assert names["sales"] != names_zh["sales"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in names_zh["sales"])
