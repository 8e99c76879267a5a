"""The API against its own OpenAPI document, by schemathesis (property-based, through WSGI): for
valid and invalid requests alike, no server error, and every answer is one the document lists,
with the content type and the body schema it declares; invalid parameters and bodies are
refused, valid ones are not refused as invalid, and a method the document does not list is a
405 that names the allowed ones. Bounded examples keep the run short on both backends."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from engine.services.users import create_api_token
from web.api.openapi import openapi_document

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection, positive_data_acceptance, unsupported_method]
EXAMPLES = 15
USER = "admin1"  # an administrator reaches every operation, including the unmatched messages


@pytest.fixture
def bearer(ctx) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {create_api_token(ctx, USER, label='schemathesis')}"}


# The document is built from constants, so it is read once, here, rather than from each app.
schema = schemathesis.openapi.from_dict(
    openapi_document(),
    # the bearer token is a real one, sent with every request; generated ones would only be refused
    config=schemathesis.Config.from_dict({"generation": {"mode": "all", "max-examples": EXAMPLES,
                                                         "with-security-parameters": False}}),
)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_the_openapi_document(case, app, bearer):  # type: ignore[no-untyped-def]
    case.call_and_validate(app=app, headers=bearer, checks=CHECKS)
