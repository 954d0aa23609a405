"""The note beside a capacity plan that costs more for the recommended transport
(questionnaire/capacity_display.py), with fixed costs."""

from __future__ import annotations

from dataclasses import replace

from questionnaire.capacity import Costs, Traffic, plan_document
from questionnaire.capacity_display import capacity_note, capacity_view

from .test_capacity import COSTS, MACHINE

# test_capacity.py's round figures: a WebSocket frame up costs 10 µs, an HTTP
# request beside an SSE stream 1 ms.
CHATTY = Traffic(peak_clients=100_000, messages_per_second_up=1)


def document(traffic: Traffic, costs: Costs = COSTS) -> dict:
    return plan_document(traffic, costs, MACHINE)


def machines(plan: dict) -> tuple[int, int]:
    return plan["websocket"]["machines"], plan["sse"]["machines"]


def test_note_when_sse_is_recommended_but_its_posts_cost_more_machines():
    plan = document(CHATTY)
    assert machines(plan) == (2, 51)
    note = capacity_note(plan, "sse")
    assert note.startswith(
        "At this traffic the recommended transport, SSE, needs 51 machines against "
        "WebSocket's 2, mostly for the messages sent up: over SSE each is an HTTP request "
        "beside the stream (1 ms of CPU), over WebSocket a frame on the connection already "
        "open (10 µs)."
    )
    assert note.endswith(
        "The verdict weighs how the application behaves, not what it costs to run: if cost "
        "at this scale decides, weigh this plan beside it."
    )


def test_note_when_websocket_is_recommended_but_its_memory_costs_more_machines():
    # A million idle clients: each WebSocket holds twice an SSE stream's memory.
    plan = document(Traffic(peak_clients=1_000_000))
    assert machines(plan) == (11, 6)
    assert plan["websocket"]["first_limit"] == "memory"
    assert capacity_note(plan, "websocket").startswith(
        "At this traffic the recommended transport, WebSocket, needs 11 machines against "
        "SSE's 6, mostly for memory: each connection holds 40.0 KiB of its process's memory "
        "against 20.0 KiB."
    )


def test_no_note_when_the_recommended_transport_is_the_cheaper():
    assert capacity_note(document(CHATTY), "websocket") is None


def test_no_note_when_the_plans_are_close():
    plan = document(Traffic(peak_clients=1_000_000, events_per_second=1, payload_bytes=100))
    assert machines(plan) == (11, 10)
    assert capacity_note(plan, "sse") is None
    assert capacity_note(plan, "websocket") is None


def test_no_note_for_a_single_machine_more():
    # Twice as many, but one machine is not worth a paragraph.
    plan = document(replace(CHATTY, peak_clients=3_000))
    assert machines(plan) == (1, 2)
    assert capacity_note(plan, "sse") is None


def test_no_note_for_a_fifth_more():
    # Many machines more, but in proportion the plans are close.
    plan = document(
        Traffic(peak_clients=10_000_000, events_per_second=1, messages_per_second_up=0.004)
    )
    websocket, sse = machines(plan)
    assert sse - websocket >= 2 and sse < 1.25 * websocket
    assert capacity_note(plan, "sse") is None


def test_note_names_base64_when_binary_payloads_fill_the_network():
    plan = document(
        Traffic(
            peak_clients=10_000,
            events_per_second=10,
            payload_bytes=30_000,
            payload_format="binary",
        )
    )
    assert plan["sse"]["first_limit"] == "bandwidth"
    note = capacity_note(plan, "sse")
    assert "mostly for bandwidth: SSE sends binary payloads in base64, 4 bytes for every 3" in note
    wire = plan["sse"]["wire_bytes_per_event"], plan["websocket"]["wire_bytes_per_event"]
    assert f"each event takes {wire[0]:,} bytes on the wire against {wire[1]:,}." in note


def test_note_names_the_event_framing_when_small_text_events_fill_the_network():
    cheap_cpu = replace(COSTS, delivery_cpu={"websocket": 1e-8, "sse": 1e-8})
    plan = document(
        Traffic(peak_clients=100_000, events_per_second=100, payload_bytes=10), cheap_cpu
    )
    assert machines(plan) == (7, 11)
    note = capacity_note(plan, "sse")
    assert "mostly for bandwidth: each event takes 127 bytes on the wire against 86." in note
    assert "base64" not in note


def test_note_names_the_delivery_cost_when_events_cost_more_cpu():
    dearer_sse = replace(COSTS, delivery_cpu={"websocket": 10e-6, "sse": 30e-6})
    plan = document(Traffic(peak_clients=100_000, events_per_second=10), dearer_sse)
    assert machines(plan) == (6, 16)
    assert "mostly for the CPU each event costs to deliver (30 µs against 10 µs)." in (
        capacity_note(plan, "sse")
    )


def test_no_note_when_a_plan_cannot_be_built():
    # Each client needs more egress than a machine's card: the plan's problems say so.
    plan = document(
        Traffic(
            peak_clients=1_000,
            events_per_second=100,
            payload_bytes=16 * 1024**2,
            payload_format="binary",
        )
    )
    assert (
        plan["sse"]["problems"] and plan["sse"]["machines"] >= 1.25 * plan["websocket"]["machines"]
    )
    assert capacity_note(plan, "sse") is None


def test_no_note_without_a_plan_or_a_verdict():
    assert capacity_note(None, "sse") is None
    assert capacity_note(document(CHATTY), None) is None


def test_view_carries_the_note_for_the_verdict_it_is_given():
    plan = document(CHATTY)
    assert capacity_view(plan, "sse").note == capacity_note(plan, "sse")
    assert capacity_view(plan, "websocket").note is None
    assert capacity_view(plan).note is None
