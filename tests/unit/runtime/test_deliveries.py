"""What admission reads of a delivery when the delivery is not shaped as expected."""

from __future__ import annotations

from stratoflow.execution.deliveries import delivered_trigger, s3_object
from stratoflow.flow import load_flow

FLOW = """
id: ingest
namespace: tests.deliveries
triggers:
  - {id: hook, type: Webhook, key: some-long-key-0123}
tasks:
  - {id: hello, type: Log, message: hi}
"""


def test_a_delivery_whose_trigger_id_is_not_a_string_names_no_trigger() -> None:
    # Given a flow with a webhook, and deliveries naming it wrongly
    flow = load_flow(FLOW)

    # Then only a string id of the right type names it
    assert delivered_trigger(flow, {"id": "hook", "type": "Webhook"}) is not None
    assert delivered_trigger(flow, {"id": ["hook"], "type": "Webhook"}) is None
    assert delivered_trigger(flow, {"id": "hook", "type": "Schedule"}) is None
    assert delivered_trigger(flow, None) is None


def test_an_s3_event_without_an_object_detail_gives_an_empty_object() -> None:
    # Given an event whose detail is not an object
    found = s3_object({"detail": "not an object"})

    # Then the object is empty rather than an error
    assert found == {"bucket": "", "key": "", "uri": "s3:///"}


def test_an_s3_event_gives_its_bucket_key_and_uri() -> None:
    event = {"detail": {"bucket": {"name": "b"}, "object": {"key": "in/a.csv", "size": 3}}}

    assert s3_object(event) == {"key": "in/a.csv", "size": 3, "bucket": "b", "uri": "s3://b/in/a.csv"}
