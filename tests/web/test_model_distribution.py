"""A version's distribution list: by default the departments of its lanes (drafts, and versions
``serviceflow setup`` imports), chosen by the process owner on a draft's page or through the API
from the department list, following lanes added or removed later, and mailed on publishing."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import select

from engine.context import EngineContext
from engine.definitions.distribution import follow_lanes, lane_departments
from engine.persistence.models import OutboxMessage
from engine.services import models
from engine.services.users import find_actor
from tests.model_bundles import bpmn, files, zipped

BPMN_PATH = "workflows/model_demo.bpmn"


def login(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": "demo"}).status_code == 302
    return client


def draft(ctx: EngineContext, lane: str = "qc") -> models.ModelView:
    bundle = zipped(files({BPMN_PATH: bpmn(lane=lane)}))
    return models.import_bundle(ctx, find_actor(ctx, "owner1"), bundle, "Distribution")


def stored(ctx: EngineContext, model_id: int) -> list[str]:
    return models.get_model(ctx, find_actor(ctx, "owner1"), model_id).distribution


def test_versions_imported_by_setup_are_distributed_to_their_lanes_departments(ctx: EngineContext) -> None:
    owner = find_actor(ctx, "owner1")
    in_force = {v.process_id: v for v in (models.get_model(ctx, owner, p.versions[-1].id)
                                          for p in models.list_models(ctx, owner))}
    assert in_force["liaison_approval"].source == "imported"
    assert in_force["liaison_approval"].distribution == ["management", "sales"]
    assert {"sales", "tech"} <= set(in_force["capa"].distribution)
    for version in in_force.values():
        assert version.distribution and version.distribution == lane_departments(version.files, ctx.department_ids())


def test_the_owner_chooses_the_list_on_the_drafts_page(app: Flask, ctx: EngineContext) -> None:
    model = draft(ctx)
    assert model.distribution == ["qc"]
    client = login(app, "owner1")
    page = html.fromstring(client.get(f"/models/{model.id}").data)
    assert page.xpath("//input[@name='department' and @value='qc']/@checked")
    assert not page.xpath("//input[@name='department' and @value='qa']/@checked")
    response = client.post(f"/models/{model.id}/distribution", data={"department": ["qa", "sales"]})
    assert response.status_code == 302
    assert stored(ctx, model.id) == ["qa", "sales"]
    page = html.fromstring(client.get(f"/models/{model.id}").data)
    assert sorted(page.xpath("//input[@name='department' and @checked]/@value")) == ["qa", "sales"]


@pytest.mark.parametrize("username", ["sales1", "reviewer1", "gm1"])
def test_only_a_process_owner_changes_the_list(app: Flask, ctx: EngineContext, username: str) -> None:
    model = draft(ctx)
    response = login(app, username).post(f"/models/{model.id}/distribution", data={"department": ["qa"]})
    assert response.status_code == 403
    assert stored(ctx, model.id) == ["qc"]


def test_an_unknown_department_or_a_submitted_version_changes_nothing(api, ctx: EngineContext) -> None:  # type: ignore[no-untyped-def]
    model = draft(ctx)
    path = f"/api/v1/models/{model.id}/distribution"
    headers = api._headers("owner1")
    unknown = api.client.put(path, json={"distribution": ["qa", "no_such_department"]}, headers=headers)
    assert unknown.status_code == 422 and "no_such_department" in unknown.json["error"]
    for body in ({}, {"distribution": "qa"}, {"distribution": [1]}):
        response = api.client.put(path, json=body, headers=headers)
        assert response.status_code == 422 and "distribution" in response.json["error"]
    assert stored(ctx, model.id) == ["qc"]
    assert api.post(f"/models/{model.id}/submit", {}, as_="owner1").status_code == 200
    assert api.client.put(path, json={"distribution": ["qa"]}, headers=headers).status_code == 409
    assert api.client.put(path, json={"distribution": ["qa"]}, headers=api._headers("gm1")).status_code == 403
    assert api.client.put("/api/v1/models/999999/distribution", json={"distribution": []},
                          headers=headers).status_code == 404
    assert stored(ctx, model.id) == ["qc"]


def test_the_api_sets_the_list_and_publishing_mails_it(api, ctx: EngineContext) -> None:  # type: ignore[no-untyped-def]
    model = draft(ctx)
    response = api.client.put(f"/api/v1/models/{model.id}/distribution", json={"distribution": ["qa", "qa", "qc"]},
                              headers=api._headers("owner1"))
    assert response.status_code == 200 and response.json["distribution"] == ["qa", "qc"]
    assert api.get(f"/models/{model.id}", as_="reviewer1").json["distribution"] == ["qa", "qc"]
    for step, user in [("submit", "owner1"), ("review", "reviewer1"), ("approve", "gm1"), ("publish", "gm1")]:
        assert api.post(f"/models/{model.id}/{step}", {}, as_=user).status_code == 200
    with ctx.unit_of_work(readonly=True) as uow:
        told = set(uow.session.scalars(select(OutboxMessage.to_address).where(
            OutboxMessage.kind == "version_published")))
    assert {"reviewer1@example.com", "qc1@example.com"} <= told
    assert "sales1@example.com" not in told


def test_the_list_follows_lanes_added_or_removed_and_keeps_the_owners_choices(ctx: EngineContext) -> None:
    owner = find_actor(ctx, "owner1")
    model = draft(ctx)
    models.set_distribution(ctx, owner, model.id, ["qc", "qa"])
    assert models.save_file(ctx, owner, model.id, BPMN_PATH, bpmn(lane="tech")).distribution == ["qa", "tech"]
    models.set_distribution(ctx, owner, model.id, ["qa"])
    assert models.save_file(ctx, owner, model.id, BPMN_PATH, bpmn(lane="tech", name="Renamed")).distribution == ["qa"]
    assert follow_lanes(["qa", "sales"], ["sales"], ["sales", "qc"]) == ["qa", "qc", "sales"]
