"""The capacity model, with fixed costs (never live benchmarks)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from questionnaire.capacity import (
    CURVE_CLIENTS,
    Costs,
    Machine,
    Traffic,
    plain_number,
    plan,
    plan_document,
    read_traffic,
    read_traffic_form,
    reference_costs,
    traffic_form_values,
    traffic_of,
    wire_bytes,
)

# Round figures, so that each expected value can be worked out by hand.
COSTS = Costs(
    measured="2026-01-01",
    machine="test machine",
    versions={"daphne": "0"},
    connection_cpu=10e-6,
    delivery_cpu={"websocket": 10e-6, "sse": 10e-6},
    up_cpu={"websocket": 10e-6, "sse": 1e-3},
    process_bytes=100 * 1024**2,
    connection_bytes={"websocket": 40 * 1024, "sse": 20 * 1024},
)
# Two cores, full use allowed: a process's CPU limit is 1 / (CPU per client).
MACHINE = Machine(
    cores=2,
    memory_bytes=4 * 1024**3,
    network_bits_per_second=1e9,
    cpu_utilisation=1.0,
    memory_utilisation=1.0,
    network_utilisation=1.0,
    file_descriptors=1_000_000,
    reserved_file_descriptors=0,
    proxy_ports=1_000_000,
    load_balancer_connections=100_000,
)


def websocket(traffic: Traffic, machine: Machine = MACHINE):
    return plan(traffic, COSTS, machine).transports["websocket"]


def sse(traffic: Traffic, machine: Machine = MACHINE):
    return plan(traffic, COSTS, machine).transports["sse"]


def test_cpu_limit_sets_clients_per_process():
    # 10 µs idle + 4 events x 10 µs = 50 µs a client: 20,000 a core.
    result = websocket(Traffic(peak_clients=100_000, events_per_second=4))
    assert result.first_limit == "cpu"
    assert result.clients_per_process == 20_000
    assert result.processes == 5
    assert result.machines == 3


def test_target_utilisation_lowers_cpu_capacity():
    half = replace(MACHINE, cpu_utilisation=0.5)
    assert websocket(Traffic(100_000, 4), half).clients_per_process == 10_000


def test_memory_limit_when_connections_are_idle():
    # Idle: the CPU limit is 100,000 a core; memory (4 GiB - 2 x 100 MiB) / 2 / 40 KiB is less.
    result = websocket(Traffic(peak_clients=1_000_000))
    assert result.first_limit == "memory"
    assert result.clients_per_process == math.floor((4 * 1024**3 - 200 * 1024**2) / 2 / 40960)


def test_file_descriptor_limit():
    machine = replace(MACHINE, file_descriptors=5_000)
    result = sse(Traffic(peak_clients=12_000), machine)
    assert result.first_limit == "file_descriptors"
    assert result.processes == 3


def test_bandwidth_limit_for_large_payloads():
    # 64 KiB at 10 events/s is over 5 Mbit/s a client: a 1 Gbit/s card is full first.
    result = websocket(Traffic(peak_clients=10_000, events_per_second=10, payload_bytes=65_536))
    assert result.first_limit == "bandwidth"
    per_client = 10 * wire_bytes(COSTS, "websocket", 65_536, "text") * 8
    assert result.clients_per_process == math.floor(1e9 / 2 / per_client)


def test_proxy_port_limit():
    machine = replace(MACHINE, proxy_ports=28_232)
    result = sse(Traffic(peak_clients=100_000), machine)
    assert result.first_limit == "proxy"
    assert result.processes == 4


def test_upstream_messages_cost_more_beside_sse():
    # Each SSE up-message is an HTTP request (1 ms here), a WebSocket one a frame.
    traffic = Traffic(peak_clients=10_000, messages_per_second_up=1)
    assert sse(traffic).processes == 11
    assert websocket(traffic).processes == 1


def test_binary_payload_costs_four_thirds_over_sse():
    extra = wire_bytes(COSTS, "sse", 3_000, "binary") - wire_bytes(COSTS, "sse", 3_000, "text")
    assert extra > 990
    assert wire_bytes(COSTS, "websocket", 3_000, "binary") == wire_bytes(
        COSTS, "websocket", 3_000, "text"
    )


def test_websocket_frame_header_grows_with_payload():
    small = wire_bytes(COSTS, "websocket", 125, "text")
    assert wire_bytes(COSTS, "websocket", 126, "text") == small + 3


def test_egress_and_memory_totals():
    result = websocket(Traffic(peak_clients=1_000, events_per_second=2, payload_bytes=100))
    per_event = wire_bytes(COSTS, "websocket", 100, "text")
    assert result.egress_bits_per_second == 1_000 * 2 * per_event * 8
    assert result.memory_bytes == 100 * 1024**2 + 1_000 * 40 * 1024


def test_zero_clients_need_nothing():
    result = websocket(Traffic(peak_clients=0, events_per_second=1))
    assert (result.processes, result.machines, result.first_limit) == (0, 0, None)


def test_no_events_means_no_egress_and_no_bandwidth_limit():
    result = sse(Traffic(peak_clients=10))
    assert result.egress_bits_per_second == 0
    assert result.first_limit != "bandwidth"


def test_one_process_needs_no_redis():
    result = websocket(Traffic(peak_clients=10, events_per_second=5))
    assert result.redis_messages_per_second == 0


def test_redis_broadcast_sends_each_event_to_every_process():
    result = websocket(Traffic(peak_clients=100_000, events_per_second=4))
    assert result.redis_publishes_per_second == 4
    assert result.redis_messages_per_second == 4 * 5


def test_redis_per_user_publishes_every_event():
    result = websocket(Traffic(peak_clients=100_000, events_per_second=4, fanout="per_user"))
    assert result.redis_messages_per_second == 400_000


def test_redis_groups_reach_at_most_their_size_in_processes():
    traffic = Traffic(peak_clients=100_000, events_per_second=4, fanout="groups", group_size=2)
    result = websocket(traffic)
    assert result.redis_publishes_per_second == 50_000 * 4
    assert result.redis_messages_per_second == 50_000 * 4 * 2


def test_load_balancers_share_the_connections():
    result = sse(Traffic(peak_clients=250_000))
    assert result.load_balancers == 3
    assert result.connections_per_load_balancer == 83_334


def test_a_client_needing_more_than_a_process_gets_more_than_one():
    # 1,500 SSE posts a second at 1 ms: 1.5 cores a client, 1,500 cores in all.
    result = sse(Traffic(peak_clients=1_000, messages_per_second_up=1_500))
    assert result.processes == 1_501
    assert result.first_limit == "cpu"
    assert result.clients_per_process == 0


def test_sse_posts_spread_over_processes_so_the_plan_stays_feasible():
    document = plan_document(Traffic(peak_clients=1_000, messages_per_second_up=1_500), COSTS)
    assert document["sse"]["feasible"] is True
    assert document["sse"]["problems"] == []


@pytest.mark.parametrize(
    "traffic",
    [
        Traffic(peak_clients=1_000, messages_per_second_up=200),
        Traffic(peak_clients=1_000, events_per_second=100, payload_bytes=2 * 1024**2),
        Traffic(peak_clients=50_000, events_per_second=3, payload_bytes=5_000),
        Traffic(peak_clients=7, events_per_second=10_000, payload_bytes=100),
    ],
)
def test_processes_cover_the_total_cpu_and_egress(traffic):
    machine = Machine()
    for result in plan(traffic, reference_costs(), machine).transports.values():
        assert result.processes * machine.cpu_utilisation >= result.cpu_cores
        card = machine.network_bits_per_second * machine.network_utilisation
        assert result.machines * card >= result.egress_bits_per_second


def test_a_websocket_client_needing_more_than_a_core_is_infeasible():
    costs = replace(COSTS, up_cpu={"websocket": 2e-3, "sse": 1e-3})
    result = plan(Traffic(peak_clients=10, messages_per_second_up=1_000), costs, MACHINE)
    # 10 µs idle + 2 cores of frames: 20.0001 cores, 21 processes.
    assert result.transports["websocket"].processes == 21
    assert "more than the one core" in result.transports["websocket"].problems[0]


def test_a_client_bigger_than_a_machine_card_is_infeasible():
    traffic = Traffic(peak_clients=3, events_per_second=10_000, payload_bytes=2**24)
    document = plan_document(traffic, COSTS, MACHINE)
    assert document["websocket"]["first_limit"] == "bandwidth"
    assert document["websocket"]["feasible"] is False
    assert "more than a machine's network card" in document["websocket"]["problems"][0]
    per_client = 10_000 * wire_bytes(COSTS, "websocket", 2**24, "text") * 8
    assert document["websocket"]["processes"] == math.ceil(3 * per_client / (1e9 / 2))


def test_each_load_balancer_brings_its_own_proxy_ports():
    # 10 load balancers of 100,000: 28,232 ports from each towards every process.
    machine = replace(MACHINE, proxy_ports=28_232)
    result = sse(Traffic(peak_clients=1_000_000), machine)
    assert result.load_balancers == 10
    assert result.first_limit != "proxy"
    assert sse(Traffic(peak_clients=100_000), machine).first_limit == "proxy"


def test_document_has_both_transports_assumptions_and_curve():
    document = plan_document(Traffic(peak_clients=5_000, events_per_second=1), COSTS, MACHINE)
    assert set(document["websocket"]) >= {
        "processes",
        "machines",
        "memory_bytes",
        "egress_bits_per_second",
        "first_limit",
    }
    assert document["assumptions"]["costs"]["measured"] == "2026-01-01"
    assert document["assumptions"]["machine"]["cores"] == 2
    assert [point["clients"] for point in document["curve"]] == list(CURVE_CLIENTS)
    assert CURVE_CLIENTS[-1] == 10_000_000


def test_curve_never_falls_as_clients_grow():
    document = plan_document(Traffic(peak_clients=1, events_per_second=10), COSTS, MACHINE)
    machines = [point["sse"] for point in document["curve"]]
    assert machines == sorted(machines)


def test_reference_costs_name_their_origin():
    costs = reference_costs()
    assert costs.measured and costs.machine and costs.versions["daphne"]
    assert costs.benchmark.startswith("docs/benchmarks.md#")


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"peak_clients": -1}, "traffic.peak_clients", "must be from 1 to 1,000,000,000"),
        ({"peak_clients": 10**10}, "traffic.peak_clients", "must be from 1 to 1,000,000,000"),
        ({"peak_clients": "many"}, "traffic.peak_clients", "must be a number"),
        ({"peak_clients": True}, "traffic.peak_clients", "must be a number"),
        ({"peak_clients": 1.5}, "traffic.peak_clients", "must be a whole number"),
        ({"peak_clients": 1, "events_per_second": -0.5}, "traffic.events_per_second", "must be"),
        ({"peak_clients": 1, "payload_bytes": None}, "traffic.payload_bytes", "must be a number"),
        ({"peak_clients": 1, "fanout": "all"}, "traffic.fanout", "must be one of"),
        ({"peak_clients": 1, "colour": 1}, "traffic.colour", "unknown field"),
        ({"events_per_second": 1}, "traffic.peak_clients", "required"),
    ],
)
def test_read_traffic_names_each_bad_field(given, field, message):
    traffic, errors = read_traffic(given)
    assert traffic is None
    assert message in errors[field]


def test_read_traffic_takes_numbers_and_normalises():
    traffic, errors = read_traffic({"peak_clients": 1e5, "events_per_second": 10})
    assert errors == {}
    assert traffic == {"peak_clients": 100_000, "events_per_second": 10.0}
    assert traffic_of(traffic).peak_clients == 100_000


def test_read_traffic_none_is_no_traffic():
    assert read_traffic(None) == (None, {})
    assert "traffic" in read_traffic([1, 2])[1]


@pytest.mark.parametrize("rate", [1e-05, 0.333333333, 10.0, 1_234.5, 1e-09, 0.1 + 0.2, 9_999.999])
def test_form_prefill_reads_back_exactly(rate):
    stored = {"peak_clients": 10, "events_per_second": rate}
    shown = traffic_form_values(stored)
    assert "e" not in shown["events_per_second"]
    assert read_traffic_form(shown) == read_traffic(stored)


def test_plain_number_trims_trailing_zeros():
    assert (plain_number(10.0), plain_number(0.5), plain_number(1e-05)) == ("10", "0.5", "0.00001")


def test_read_traffic_keeps_rates_to_nine_decimals():
    traffic, _ = read_traffic({"peak_clients": 1, "events_per_second": 1e-320})
    assert traffic["events_per_second"] == 0
