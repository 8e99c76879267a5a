"""Which case data are OCEL objects, by the mapping in workflows/ocel_objects.json (no database):
returned lots only when goods came back, one sample per case whether requested or made, CAPA
actions by list position, a Liaison Form from the form that writes it."""

from __future__ import annotations

from engine.audit.ocel import find_objects, load_mapping
from engine.config import project_root

MAPPING = load_mapping(project_root() / "workflows")


def _found(data: dict, form: str | None = None) -> dict[str, tuple[str, dict]]:
    return {o.id: (o.type, o.attributes) for o in find_objects(MAPPING, 7, data, form)}


def test_a_returned_lot_is_an_object_only_when_goods_came_back():
    complaint = {"customer": "C002", "summary": "Leaks", "batch_lot": "L-2611", "quantity": 40}
    assert _found({"complaint": {**complaint, "returned_goods": True}}) == {
        "customer:C002": ("Customer", {}), "lot:L-2611": ("Returned lot", {})}
    assert _found({"complaint": {**complaint, "returned_goods": False}}) == {"customer:C002": ("Customer", {})}


def test_a_sample_is_one_object_per_case_from_its_request_and_its_making():
    requested = {"sample_request": {"product_model": "SV-200", "quantity": 5, "needed_by": "2026-12-20"}}
    made = {**requested, "sample": {"product_model": "SV-200", "quantity_made": 5, "inspection_result": "pass"}}
    assert _found(requested) == {"sample:7": ("Sample", {"product_model": "SV-200", "quantity": 5,
                                                         "needed_by": "2026-12-20"})}
    assert _found(made)["sample:7"][1]["inspection_result"] == "pass"
    assert list(_found(made)) == ["sample:7"]


def test_capa_actions_are_objects_by_position_and_a_liaison_form_by_its_form():
    actions = {"capa": {"corrective_actions": [{"action": "A", "owner_department": "qc", "due_date": "2026-12-01"},
                                               {"action": "B", "owner_department": "qc", "due_date": "2026-12-02"}],
                        "preventive_actions": []}}
    assert sorted(_found(actions)) == ["capa-action:7:corrective:1", "capa-action:7:corrective:2"]
    written = {"kind": "visit", "subject": "Visit", "customer": "C001", "planned_date": "2026-12-03"}
    assert _found(written, "liaison-form.schema.json")["liaison-form:7"] == (
        "Liaison Form", {"kind": "visit", "subject": "Visit", "planned_date": "2026-12-03"})
    assert "liaison-form:7" not in _found(written, "customer-visit-record.schema.json")
