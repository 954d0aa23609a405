"""How many servers for a given traffic: a capacity plan per transport, from measured costs.

Plain functions over dataclasses, like the scoring engine: no ORM, no
request, no settings. The per-unit costs (CPU per connection and per
delivery, memory per connection, bytes on the wire) are data measured by
our benchmarks on a reference machine, kept with the date, the versions and
the machine in ``costs/reference.json`` (``reference_costs()`` reads it once);
tests pass their own fixed costs.

The model, per transport: every connected client costs memory and a little
CPU even when idle (heartbeats, the server's housekeeping); every event
delivered to a client costs CPU and bytes on the wire; every message a
client sends up costs CPU (a WebSocket frame, or a whole HTTP request beside
an SSE stream). One server process runs one event loop, so it uses one core:
a machine runs one process per core. A process holds as many clients as the
first of these limits allows (``first_limit``): its core at the target
utilisation, its share of the machine's memory or network card, its file
descriptors, or the ports a proxy has towards it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from functools import cache
from pathlib import Path

TRANSPORTS = ("websocket", "sse")
LIMITS = ("cpu", "memory", "file_descriptors", "bandwidth", "proxy")
FANOUTS = ("broadcast", "per_user", "groups")
FORMATS = ("text", "binary")
COSTS_FILE = Path(__file__).resolve().parent / "costs" / "reference.json"
# The connected-client counts the plan's chart is drawn at (cost against clients).
CURVE_CLIENTS = (
    1_000,
    3_000,
    10_000,
    30_000,
    100_000,
    300_000,
    1_000_000,
    3_000_000,
    10_000_000,
)

# The bounds of the product's inputs (the form and the API refuse others).
MAX_PEAK_CLIENTS = 1_000_000_000
MAX_EVENTS_PER_SECOND = 10_000
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
MAX_MESSAGES_UP = 1_000
MAX_GROUP_SIZE = 1_000_000_000


@dataclass(frozen=True)
class Costs:
    """What one unit of work costs on the reference machine (``costs/reference.json``)."""

    measured: str
    machine: str
    versions: Mapping[str, str]
    # CPU-seconds per second that one connected, idle client costs.
    connection_cpu: float
    # CPU-seconds per event delivered, per transport.
    delivery_cpu: Mapping[str, float]
    # CPU-seconds per message a client sends up, per transport.
    up_cpu: Mapping[str, float]
    process_bytes: int
    connection_bytes: Mapping[str, int]
    # Our demo's own delivery cost (a broadcast encoded once, written straight
    # to each socket): what bench_capacity checks the model against; plans
    # use ``delivery_cpu``, the plain path an application has.
    demo_delivery_cpu: Mapping[str, float] | None = None
    # CPU per Redis pub/sub message a process receives; None: not measured.
    redis_message_cpu: float | None = None
    sse_event_overhead_bytes: int = 43
    tls_record_overhead_bytes: int = 22
    tls_record_bytes: int = 16_384
    tcp_ip_header_bytes: int = 52
    segment_bytes: int = 1_448
    benchmark: str = ""


def parse_costs(data: Mapping) -> Costs:
    cpu, memory, wire = data["cpu"], data["memory"], data.get("wire", {})
    return Costs(
        measured=data["measured"],
        machine=data["machine"],
        versions=dict(data.get("versions", {})),
        connection_cpu=float(cpu["connection_seconds"]),
        delivery_cpu={t: float(cpu["delivery"][t]) for t in TRANSPORTS},
        up_cpu={t: float(cpu["up_message"][t]) for t in TRANSPORTS},
        process_bytes=int(memory["process_bytes"]),
        connection_bytes={t: int(memory["connection_bytes"][t]) for t in TRANSPORTS},
        demo_delivery_cpu=(
            {t: float(cpu["demo_delivery"][t]) for t in TRANSPORTS}
            if "demo_delivery" in cpu
            else None
        ),
        redis_message_cpu=(
            float(cpu["redis_message"]) if cpu.get("redis_message") is not None else None
        ),
        benchmark=data.get("benchmark", ""),
        **{key: int(value) for key, value in wire.items()},
    )


@cache
def reference_costs() -> Costs:
    """The costs our benchmarks measured, read once per process."""
    return parse_costs(json.loads(COSTS_FILE.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Traffic:
    """The application's traffic at its peak."""

    peak_clients: int
    # Events each client receives per second.
    events_per_second: float = 0.0
    payload_bytes: int = 0
    messages_per_second_up: float = 0.0
    payload_format: str = "text"
    # broadcast: every client gets the same events; per_user: each its own;
    # groups: clients in groups of group_size share their group's events.
    fanout: str = "broadcast"
    group_size: int = 100


@dataclass(frozen=True)
class Machine:
    """The machines the plan is for, and how full they may run (stated defaults)."""

    cores: int = 8
    memory_bytes: int = 32 * 1024**3
    network_bits_per_second: float = 10e9
    cpu_utilisation: float = 0.7
    memory_utilisation: float = 0.8
    network_utilisation: float = 0.7
    # Per process (ulimit -n), less a margin for files, the database, Redis.
    file_descriptors: int = 1_048_576
    reserved_file_descriptors: int = 1_024
    # A proxy opens one connection to a process per client, each from one
    # of its ephemeral ports (Linux's default range 32768-60999) per address.
    proxy_ports: int = 28_232
    proxy_addresses: int = 1
    # Client connections one load-balancer instance is planned to hold.
    load_balancer_connections: int = 500_000


@dataclass(frozen=True)
class TransportPlan:
    transport: str
    processes: int
    machines: int
    memory_bytes: int
    egress_bits_per_second: float
    cpu_cores: float
    clients_per_process: int
    first_limit: str | None
    # How many clients one process could hold under each limit.
    limits: Mapping[str, float]
    redis_publishes_per_second: float
    redis_messages_per_second: float
    load_balancers: int
    connections_per_load_balancer: int
    wire_bytes_per_event: int
    # Why one client is too big for any machine of the plan (empty: none).
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    traffic: Traffic
    machine: Machine
    costs: Costs
    transports: Mapping[str, TransportPlan] = field(default_factory=dict)


def wire_bytes(costs: Costs, transport: str, payload_bytes: int, payload_format: str) -> int:
    """Bytes on the wire for one event sent on its own: payload, framing, TLS, TCP/IP."""
    body = payload_bytes
    if transport == "sse":
        if payload_format == "binary":
            # SSE carries UTF-8 text: binary goes base64, 4 bytes for every 3.
            body = 4 * math.ceil(payload_bytes / 3)
        framed = body + costs.sse_event_overhead_bytes
    else:
        framed = body + (2 if body <= 125 else 4 if body <= 0xFFFF else 10)
    records = max(1, math.ceil(framed / costs.tls_record_bytes))
    encrypted = framed + records * costs.tls_record_overhead_bytes
    segments = max(1, math.ceil(encrypted / costs.segment_bytes))
    return encrypted + segments * costs.tcp_ip_header_bytes


def plan(traffic: Traffic, costs: Costs, machine: Machine | None = None) -> Plan:
    machine = machine or Machine()
    return Plan(
        traffic=traffic,
        machine=machine,
        costs=costs,
        transports={t: _transport_plan(t, traffic, costs, machine) for t in TRANSPORTS},
    )


def _transport_plan(
    transport: str, traffic: Traffic, costs: Costs, machine: Machine
) -> TransportPlan:
    clients = traffic.peak_clients
    per_event = wire_bytes(costs, transport, traffic.payload_bytes, traffic.payload_format)
    # What one connection costs its own process: an SSE client's messages up are
    # separate HTTP requests, which any process may serve; a WebSocket's frames
    # arrive on the connection.
    stream_cpu = costs.connection_cpu + traffic.events_per_second * costs.delivery_cpu[transport]
    up_cpu = traffic.messages_per_second_up * costs.up_cpu[transport]
    client_cpu = stream_cpu + up_cpu
    client_bits = traffic.events_per_second * per_event * 8
    cores = machine.cores
    balancers = math.ceil(clients / machine.load_balancer_connections) if clients else 0
    # Each limit: what the whole traffic needs, and what one process has of it. A
    # machine's memory and network card are shared by its processes, one per core;
    # every load balancer reaches a process from its own addresses.
    memory_left = machine.memory_bytes * machine.memory_utilisation - cores * costs.process_bytes
    resources = {
        "cpu": (clients * client_cpu, machine.cpu_utilisation),
        "memory": (clients * costs.connection_bytes[transport], max(memory_left, 1) / cores),
        "file_descriptors": (
            clients,
            float(machine.file_descriptors - machine.reserved_file_descriptors),
        ),
        "bandwidth": (
            clients * client_bits,
            machine.network_bits_per_second * machine.network_utilisation / cores,
        ),
        "proxy": (
            clients,
            float(machine.proxy_ports * machine.proxy_addresses * max(balancers, 1)),
        ),
    }
    # How many clients one process could hold under each limit (below 1 when
    # one client needs more than a process has).
    limits = {
        name: capacity * clients / need if need else math.inf
        for name, (need, capacity) in resources.items()
    }
    # Ties go to the first in LIMITS' order: CPU is the one a reader can act on.
    first = min(LIMITS, key=lambda name: limits[name])
    # Rounded to 9 digits first, so that 5.000000000001 processes stay 5.
    processes = max(
        (math.ceil(round(need / capacity, 9)) for need, capacity in resources.values() if need),
        default=0,
    )
    processes = max(processes, 1) if clients else 0
    deliveries = clients * traffic.events_per_second
    publishes, messages = redis_load(traffic, processes)
    return TransportPlan(
        transport=transport,
        processes=processes,
        machines=math.ceil(processes / cores),
        memory_bytes=processes * costs.process_bytes + clients * costs.connection_bytes[transport],
        egress_bits_per_second=deliveries * per_event * 8,
        cpu_cores=clients * client_cpu,
        clients_per_process=min(math.floor(round(limits[first], 6)), clients) if clients else 0,
        first_limit=first if clients else None,
        limits=limits,
        redis_publishes_per_second=publishes,
        redis_messages_per_second=messages,
        load_balancers=balancers,
        connections_per_load_balancer=math.ceil(clients / balancers) if balancers else 0,
        wire_bytes_per_event=per_event,
        problems=_problems(transport, stream_cpu, up_cpu, client_bits, machine) if clients else (),
    )


def _problems(
    transport: str, stream_cpu: float, up_cpu: float, client_bits: float, machine: Machine
) -> tuple[str, ...]:
    """What makes one client too big for the plan's machines, said plainly (empty when none).

    The totals still count such a client; the plan then cannot be built as
    sized, whatever the number of machines.
    """
    problems = []
    # One connection lives on one process, which runs on one core.
    pinned = stream_cpu + (up_cpu if transport == "websocket" else 0.0)
    if pinned > 1:
        problems.append(
            f"One client needs {pinned:,.2f} cores of CPU for its connection, more than the "
            "one core of the single process that holds it: no number of machines serves it."
        )
    if client_bits > machine.network_bits_per_second:
        problems.append(
            f"One client's egress ({client_bits / 1e9:,.2f} Gbit/s) is more than a machine's "
            f"network card ({machine.network_bits_per_second / 1e9:,.0f} Gbit/s): no machine "
            "can serve it."
        )
    return tuple(problems)


def redis_load(traffic: Traffic, processes: int) -> tuple[float, float]:
    """Events published to Redis per second, and messages Redis sends on to processes.

    One process needs no broker. Across processes each distinct event is
    published once and Redis sends it to every process holding one of its
    clients: all of them for a broadcast, one for a user's own event.
    """
    if processes <= 1:
        return 0.0, 0.0
    rate = traffic.events_per_second
    if traffic.fanout == "per_user":
        publishes = traffic.peak_clients * rate
        return publishes, publishes
    if traffic.fanout == "groups":
        size = max(1, min(traffic.group_size, traffic.peak_clients))
        publishes = math.ceil(traffic.peak_clients / size) * rate
        return publishes, publishes * min(processes, size)
    return rate, rate * processes


def curve(traffic: Traffic, costs: Costs, machine: Machine | None = None) -> list[dict[str, int]]:
    """Machines per transport at each of CURVE_CLIENTS, for the same traffic per client."""
    points = []
    for clients in CURVE_CLIENTS:
        scaled = plan(replace(traffic, peak_clients=clients), costs, machine)
        points.append(
            {"clients": clients, **{t: scaled.transports[t].machines for t in TRANSPORTS}}
        )
    return points


def plan_document(traffic: Traffic, costs: Costs, machine: Machine | None = None) -> dict:
    """The plan as the API and the stored result give it (``capacity``)."""
    machine = machine or Machine()
    result = plan(traffic, costs, machine)
    document: dict = {
        t: {
            "processes": p.processes,
            "machines": p.machines,
            "memory_bytes": p.memory_bytes,
            "egress_bits_per_second": round(p.egress_bits_per_second),
            "first_limit": p.first_limit,
            "cpu_cores": round(p.cpu_cores, 3),
            "clients_per_process": p.clients_per_process,
            "wire_bytes_per_event": p.wire_bytes_per_event,
            "redis": {
                "publishes_per_second": round(p.redis_publishes_per_second, 3),
                "messages_per_second": round(p.redis_messages_per_second, 3),
            },
            "load_balancers": p.load_balancers,
            "connections_per_load_balancer": p.connections_per_load_balancer,
            # False when one client alone is too big for a process or a machine.
            "feasible": not p.problems,
            "problems": list(p.problems),
        }
        for t, p in result.transports.items()
    }
    document["assumptions"] = {
        "traffic": asdict(traffic),
        "machine": asdict(machine),
        "processes_per_machine": machine.cores,
        "costs": {
            "measured": costs.measured,
            "machine": costs.machine,
            "versions": dict(costs.versions),
            "benchmark": costs.benchmark,
            "connection_cpu_seconds": costs.connection_cpu,
            "delivery_cpu_seconds": dict(costs.delivery_cpu),
            "up_message_cpu_seconds": dict(costs.up_cpu),
            # Shown beside the plain path's figure the plan uses; null when not given.
            "demo_delivery_cpu_seconds": (
                sum(costs.demo_delivery_cpu.values()) / len(costs.demo_delivery_cpu)
                if costs.demo_delivery_cpu
                else None
            ),
            # Null: not measured, and not counted in cpu_cores.
            "redis_message_cpu_seconds": costs.redis_message_cpu,
            "process_bytes": costs.process_bytes,
            "connection_bytes": dict(costs.connection_bytes),
        },
    }
    document["curve"] = curve(traffic, costs, machine)
    return document


# --- The traffic a form or the API gives ----------------------------------------

# Each field: whether it must be a whole number, its bounds, and its default.
TRAFFIC_FIELDS: dict[str, tuple[bool, float, float]] = {
    "peak_clients": (True, 1, MAX_PEAK_CLIENTS),
    "events_per_second": (False, 0, MAX_EVENTS_PER_SECOND),
    "payload_bytes": (True, 0, MAX_PAYLOAD_BYTES),
    "messages_per_second_up": (False, 0, MAX_MESSAGES_UP),
    "group_size": (True, 1, MAX_GROUP_SIZE),
}
TRAFFIC_CHOICES = {"payload_format": FORMATS, "fanout": FANOUTS}
REQUIRED_TRAFFIC = ("peak_clients",)


def number_problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be the traffic field ``name``, or None."""
    whole, low, high = TRAFFIC_FIELDS[name]
    # bool is an int to Python: true must not pass for 1 client.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    # Only a float can be infinite or NaN; isfinite() of a 400-digit JSON integer
    # raises OverflowError, so integers go straight to the bounds.
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if not low <= value <= high:
        return f"must be from {low:,.0f} to {high:,.0f}"
    if whole and value != int(value):
        return "must be a whole number"
    return None


def read_traffic(value: object) -> tuple[dict | None, dict[str, str]]:
    """A ``traffic`` object checked: the normalised fields, or each problem by field.

    None (or absent) is no traffic, which is fine: the plan is optional.
    Errors are keyed ``traffic.<field>`` (``traffic`` for the object itself).
    """
    if value is None:
        return None, {}
    if not isinstance(value, dict):
        return None, {"traffic": 'must be an object such as {"peak_clients": 100000}, or null'}
    errors: dict[str, str] = {}
    known = [*TRAFFIC_FIELDS, *TRAFFIC_CHOICES]
    for key in value.keys() - set(known):
        errors[f"traffic.{key}"] = "unknown field; expected " + ", ".join(known)
    for name in REQUIRED_TRAFFIC:
        if name not in value:
            errors[f"traffic.{name}"] = "required with traffic"
    for name in TRAFFIC_FIELDS.keys() & value.keys():
        if problem := number_problem(name, value[name]):
            errors[f"traffic.{name}"] = problem
    for name, choices in TRAFFIC_CHOICES.items():
        if name in value and value[name] not in choices:
            errors[f"traffic.{name}"] = "must be one of " + ", ".join(choices)
    if errors:
        return None, errors
    normalised = {}
    for name in known:
        if name not in value:
            continue
        given = value[name]
        if name in TRAFFIC_FIELDS:
            given = int(given) if TRAFFIC_FIELDS[name][0] else round(float(given), RATE_DECIMALS)
        normalised[name] = given
    return normalised, {}


def traffic_of(fields: Mapping) -> Traffic:
    """The model's input from a stored, validated ``traffic``."""
    return Traffic(**{key: value for key, value in fields.items() if key in TRAFFIC_KEYS})


TRAFFIC_KEYS = frozenset(Traffic.__dataclass_fields__)


# The numbers the questionnaire's form asks for: every traffic field the API takes.
FORM_FIELDS = {
    "peak_clients": "Peak connected clients",
    "events_per_second": "Events per second to each client",
    "payload_bytes": "Payload size in bytes",
    "messages_per_second_up": "Messages per second each client sends up",
    "group_size": "Clients per group (with fan-out in groups)",
}
# And its choices, each with its options' labels; empty is "not given" (the default).
FORM_CHOICES = {
    "payload_format": (
        "Payload format",
        {"text": "text", "binary": "binary (base64 over SSE)"},
    ),
    "fanout": (
        "Fan-out",
        {
            "broadcast": "broadcast: every client gets the same events",
            "per_user": "per user: each client its own events",
            "groups": "groups: clients in groups share their group's events",
        },
    ),
}
FORM_KEYS = (*FORM_FIELDS, *FORM_CHOICES)
# Fractional rates are kept to 9 decimals: finer is noise, and it keeps what the
# form shows short and exact (a rate of 1e-320 would otherwise print as such).
RATE_DECIMALS = 9
PLAIN_NUMBER = re.compile(r"\d+(\.\d+)?")
THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")


def _form_number(text: str) -> tuple[float | int | None, str]:
    """A typed number, or why it is not one (an empty reason when it is)."""
    sign = -1 if text.startswith("-") else 1
    digits = text.removeprefix("-")
    if "," in digits:
        # A comma only as a thousands separator: "0,5" and "1,5" are decimals
        # written the European way, and taking them for 5 and 15 would be wrong.
        if not THOUSANDS.fullmatch(digits):
            return None, "use a point for decimals (0.5), and commas only between thousands"
        digits = digits.replace(",", "")
    # Checked before float(): it would take "nan", "1e999" and other scripts' digits.
    if not (digits.isascii() and PLAIN_NUMBER.fullmatch(digits)):
        return None, "enter a number, such as 1000"
    whole, _, fraction = digits.partition(".")
    if len(whole) > 12:
        return None, "is far too large"
    return sign * (float(digits) if fraction else int(whole)), ""


def read_traffic_form(raw: Mapping[str, str]) -> tuple[dict | None, dict[str, str]]:
    """The form's traffic fields (text, all optional) checked as the API checks them.

    All empty is no traffic. Thousands separators (``100,000``, ``100 000``,
    ``100_000``) are taken, a decimal comma is refused; errors are keyed
    ``traffic.<field>`` and say which field and what it must be.
    """
    given: dict[str, object] = {}
    errors: dict[str, str] = {}
    labels = {**FORM_FIELDS, **{name: label for name, (label, _) in FORM_CHOICES.items()}}
    for name, label in FORM_FIELDS.items():
        text = "".join((raw.get(name) or "").split()).replace("_", "")
        if not text:
            continue
        number, problem = _form_number(text)
        if problem:
            joiner = " " if problem.startswith("is ") else ": "
            errors[f"traffic.{name}"] = f"{label}{joiner}{problem}."
        else:
            given[name] = number
    for name in FORM_CHOICES:
        if value := (raw.get(name) or "").strip():
            given[name] = value
    if not given and not errors:
        return None, {}
    traffic, problems = read_traffic(given)
    for key, problem in problems.items():
        label = labels[key.removeprefix("traffic.")]
        if problem.startswith("required"):
            problem = "is needed for a capacity plan (or leave all the traffic fields empty)"
        errors.setdefault(key, f"{label} {problem}.")
    return (None, errors) if errors else (traffic, {})


def plain_number(value: float) -> str:
    """A number in plain decimals, without an exponent or trailing zeros: 0.00001, 10."""
    text = format(Decimal(repr(float(value))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def traffic_form_values(traffic: Mapping | None) -> dict[str, str]:
    """A stored ``traffic`` as the form shows it, to edit: read back, it is the same."""
    shown = {}
    for name in FORM_KEYS:
        if traffic and name in traffic:
            value = traffic[name]
            shown[name] = plain_number(value) if isinstance(value, float) else str(value)
    return shown
