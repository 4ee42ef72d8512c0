"""A fleet of agents against one Libredesk server that restarts, in virtual time.

``python -m benchmarks.fleet [--agents 1000] [--plot docs/fleet.png]``

What is real and what is simulated:

* **Real, unchanged:** every agent runs a real
  :class:`presence_agent.reporter.ReporterMachine` and a real
  :class:`presence_agent.keepalive.KeepaliveMachine`, with the
  :class:`~presence_agent.backoff.Backoff` parameters those machines choose
  themselves (only its random source is seeded, for a reproducible run). HTTP
  requests are performed by the real reporter driver's ``perform`` through the
  real :class:`~presence_agent.client.LibredeskClient` (so errors are sorted
  by the real code); its httpx transport is a ``MockTransport``.
* **Swapped:** the I/O and time. The HTTP transport and the ``/ws`` socket talk
  to :class:`SimServer`, in process, and answer at once. The machines are sans-IO,
  so no thread is needed: one scheduler (:class:`VirtualTime`) wakes each machine
  exactly when it asked to be woken, or when news for it arrives. The engine is
  replaced by a few lines doing what the engine does with the machines' events
  (:class:`SimAgent`): report ``available`` when first connected, open the
  keepalive, re-read on ``Resync``, and pass on idle transitions.

Every run with the same seed is the same run, and an hour of a thousand agents
takes seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import heapq
import itertools
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from presence_agent.backoff import Backoff
from presence_agent.client import LibredeskClient
from presence_agent.events import (
    CloseSocket,
    Connected,
    Desired,
    EngineInput,
    Halt,
    Intent,
    KeepaliveInput,
    OpenFailed,
    OpenSocket,
    PushLive,
    Received,
    Refresh,
    ReporterInput,
    Resync,
    SendPing,
    SocketClosed,
    SocketOpened,
    Submit,
    Wait,
)
from presence_agent.keepalive import KeepaliveMachine
from presence_agent.reporter import Reporter, ReporterMachine
from presence_agent.vocab import Source, Status

REPO = Path(__file__).resolve().parent.parent

# -- virtual time ------------------------------------------------------------------------


class VirtualTime:
    """A virtual clock and the callbacks due at each instant, run in time order."""

    def __init__(self) -> None:
        self.now = 0.0
        self.steps = 0
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    def at(self, when: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (max(when, self.now), next(self._seq), fn))

    def run(self, until: float) -> None:
        while self._heap and self._heap[0][0] <= until:
            when, _, fn = heapq.heappop(self._heap)
            self.now = when
            self.steps += 1
            fn()
        self.now = max(self.now, until)


# -- the server --------------------------------------------------------------------------


#: What the server counts: an HTTP request answered or refused, a ``/ws`` upgrade accepted
#: or refused, a ping on an open socket.
Kind = Literal["http", "http_refused", "ws", "ws_refused", "ping"]
#: Everything but pings: what an agent that (re)connects or retries sends.
ATTEMPTS: frozenset[str] = frozenset({"http", "http_refused", "ws", "ws_refused"})


@dataclass(frozen=True)
class Hit:
    at: float
    agent: int
    kind: Kind


class Tally:
    """What the server saw, in arrival order."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []

    def add(self, at: float, agent: int, kind: Kind) -> None:
        self.hits.append(Hit(at, agent, kind))

    def times(self, *kinds: str) -> list[float]:
        return [h.at for h in self.hits if h.kind in kinds]


class SimServer:
    """One Libredesk (real dialect) that can be down."""

    def __init__(self, vt: VirtualTime) -> None:
        self.vt = vt
        self.up = True
        self.tally = Tally()
        self.status: dict[int, str] = {}
        self.sockets: dict[int, SimAgent] = {}
        self.downtime: list[tuple[float, float]] = []

    # HTTP, through httpx.MockTransport and the real LibredeskClient.
    def transport_for(self, agent_id: int) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            if not self.up:
                self.tally.add(self.vt.now, agent_id, "http_refused")
                raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
            self.tally.add(self.vt.now, agent_id, "http")
            path = request.url.path
            if path.endswith("/ws"):
                return httpx.Response(400, text="not a websocket handshake")
            if request.method == "PUT":
                self.status[agent_id] = json.loads(request.content)["status"]
            word = self.status.setdefault(agent_id, "offline")
            agent = {"id": agent_id, "availability_status": word, "first_name": f"A{agent_id}"}
            return httpx.Response(200, json={"status": "success", "data": agent})

        return httpx.MockTransport(handle)

    # /ws: the keepalive machine's requests, performed here.
    def connect(self, agent: SimAgent) -> bool:
        if not self.up:
            self.tally.add(self.vt.now, agent.id, "ws_refused")
            return False
        self.tally.add(self.vt.now, agent.id, "ws")
        self.sockets[agent.id] = agent
        return True

    def ping(self, agent: SimAgent, socket: int) -> None:
        self.tally.add(self.vt.now, agent.id, "ping")
        agent.keepalive_news(Received(socket, "pong"))

    def go_down(self, up_after: float) -> None:
        """Restart: every socket drops now, connections are refused for ``up_after`` s."""
        self.up = False
        self.downtime.append((self.vt.now, self.vt.now + up_after))
        for agent in list(self.sockets.values()):
            agent.keepalive_news(SocketClosed(agent.keepalive.socket, 1006, "server restart"))
        self.sockets.clear()
        self.vt.at(self.vt.now + up_after, self.come_up)

    def come_up(self) -> None:
        self.up = True


# -- one agent ---------------------------------------------------------------------------


class SimAgent:
    """A real reporter machine (with its real HTTP driver) and a real keepalive machine,
    wired the way the engine wires them."""

    def __init__(
        self,
        agent_id: int,
        server: SimServer,
        rng: random.Random,
        keepalive_base: float | None = None,
    ) -> None:
        self.id = agent_id
        self._server = server
        self._vt = server.vt
        reporter = ReporterMachine()
        reporter.backoff = _seeded(reporter.backoff, rng)
        self.reporter = reporter
        self._http = Reporter(self._client, self._engine)
        keepalive = KeepaliveMachine()
        base = keepalive_base or keepalive.backoff.base
        keepalive.backoff = Backoff(base, keepalive.backoff.cap, random.Random(rng.random()))
        self.keepalive = keepalive
        self.connected = False
        self.live = False
        self.status = Status.AVAILABLE
        #: Bumped whenever a machine is stepped, so a wake-up set before is stale.
        self._reporter_wake = 0
        self._keepalive_wake = 0

    def start(self) -> None:
        self._step_reporter()

    # The engine's part.
    def _engine(self, event: EngineInput) -> None:
        if isinstance(event, Connected) and not self.connected:
            self.connected = True
            self.reporter_news(Submit(Desired(Status.AVAILABLE, Source.USER)))
            self.keepalive_news(Intent(open=True, agent_id=self.id, may_ping=True))
        elif isinstance(event, Resync) and self.connected:
            self.reporter_news(Refresh())
        elif isinstance(event, PushLive):
            self.live = event.live

    def idle_change(self) -> None:
        """The person went away or came back (the engine asks; the reporter sends)."""
        if not self.connected:
            return
        self.status = Status.AWAY if self.status is Status.AVAILABLE else Status.AVAILABLE
        self.reporter_news(Submit(Desired(self.status, Source.IDLE), look_first=not self.live))

    # The machines, stepped until they wait.
    def reporter_news(self, event: ReporterInput) -> None:
        for out in self.reporter.handle(self._vt.now, event):
            self._engine(out)
        self._vt.at(self._vt.now, self._step_reporter)

    def keepalive_news(self, event: KeepaliveInput) -> None:
        for out in self.keepalive.handle(self._vt.now, event):
            self._engine(out)
        self._vt.at(self._vt.now, self._step_keepalive)

    def _step_reporter(self) -> None:
        self._reporter_wake += 1
        while True:
            action = self.reporter.poll(self._vt.now)
            if isinstance(action, (Wait, Halt)):
                break
            result = self._http.perform(action)
            if result is not None:
                for out in self.reporter.handle(self._vt.now, result):
                    self._engine(out)
        if isinstance(action, Wait) and action.until is not None:
            token = self._reporter_wake
            self._vt.at(action.until, lambda: self._wake_reporter(token))

    def _wake_reporter(self, token: int) -> None:
        if token == self._reporter_wake:
            self._step_reporter()

    def _step_keepalive(self) -> None:
        self._keepalive_wake += 1
        while True:
            action = self.keepalive.poll(self._vt.now)
            if isinstance(action, (Wait, Halt)):
                break
            result = self._ws(action)
            if result is not None:
                for out in self.keepalive.handle(self._vt.now, result):
                    self._engine(out)
        if isinstance(action, Wait) and action.until is not None:
            token = self._keepalive_wake
            self._vt.at(action.until, lambda: self._wake_keepalive(token))

    def _wake_keepalive(self, token: int) -> None:
        if token == self._keepalive_wake:
            self._step_keepalive()

    # The I/O.
    def _client(self) -> tuple[LibredeskClient, str]:
        client = LibredeskClient(
            "https://desk.example.com",
            f"key{self.id}",
            "secret",
            transport=self._server.transport_for(self.id),
            verify=False,
        )
        return client, f"key{self.id}"

    def _ws(self, action: object) -> KeepaliveInput | None:
        match action:
            case OpenSocket(socket=socket):
                if self._server.connect(self):
                    return SocketOpened(socket)
                return OpenFailed(socket, "ConnectionRefusedError: [Errno 111] Connection refused")
            case SendPing(socket=socket):
                self._server.ping(self, socket)
                return None
            case CloseSocket(socket=socket):
                self._server.sockets.pop(self.id, None)
                return SocketClosed(socket, None, "closed by the agent")
        raise AssertionError(action)


def _seeded(backoff: Backoff, rng: random.Random) -> Backoff:
    """The machine's own Backoff parameters, with a seeded random source."""
    return Backoff(backoff.base, backoff.cap, random.Random(rng.random()))


# -- the run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    agents: int = 1000
    seed: int = 7
    #: Agents start at random moments over this many seconds (a morning, compressed).
    start_spread: float = 120.0
    #: (down at, down for) in seconds: a long outage, then a quick restart (a deploy).
    restarts: tuple[tuple[float, float], ...] = ((300.0, 240.0), (900.0, 2.0))
    duration: float = 1500.0
    #: Each agent goes away or comes back on average this often (idle transitions).
    mean_idle_change: float = 600.0
    #: None: the Keepalive's own reconnect backoff. A number replaces its base; only
    #: to draw what the fleet did before, never in the test.
    keepalive_base: float | None = None


@dataclass
class FleetResult:
    scenario: Scenario
    tally: Tally
    downtime: list[tuple[float, float]]
    steps: int
    wall_seconds: float

    def per_minute(self, times: list[float]) -> list[int]:
        counts = [0] * (int(self.scenario.duration) // 60 + 1)
        for t in times:
            counts[min(int(t // 60), len(counts) - 1)] += 1
        return counts

    def since_first_restart(self) -> float:
        """The fleet's own start is left out of the peaks: first connects are no reconnects."""
        return min(at for at, _ in self.scenario.restarts)

    def agents_per_second(self, kinds: frozenset[str]) -> list[int]:
        """How many different agents sent one of ``kinds`` in each second (after the start)."""
        seen: list[set[int]] = [set() for _ in range(int(self.scenario.duration) + 1)]
        since = self.since_first_restart()
        for hit in self.tally.hits:
            if hit.kind in kinds and hit.at >= since:
                seen[min(int(hit.at), len(seen) - 1)].add(hit.agent)
        return [len(s) for s in seen]

    def peak_reconnect_share(self) -> float:
        """The largest share of the fleet that opened a ``/ws`` in any one second."""
        return max(self.agents_per_second(frozenset({"ws"}))) / self.scenario.agents

    def peak_attempt_share(self) -> float:
        """The largest share of the fleet that sent anything in one second: a request, a
        retry, a ``/ws`` upgrade, refused or not (pings on open sockets aside)."""
        return max(self.agents_per_second(ATTEMPTS)) / self.scenario.agents

    def requests_per_minute_down(self) -> list[tuple[float, int]]:
        """Every request (HTTP, ``/ws`` upgrades) in each whole minute the server was down."""
        times = self.tally.times(*ATTEMPTS)
        out = []
        for start, end in self.downtime:
            minute = start
            while minute + 60 <= end:
                out.append((minute, sum(1 for t in times if minute <= t < minute + 60)))
                minute += 60
        return out

    def summary(self) -> dict[str, Any]:
        n = self.scenario.agents
        per_minute = self.requests_per_minute_down()
        return {
            "agents": n,
            "virtual_seconds": self.scenario.duration,
            "wall_seconds": round(self.wall_seconds, 1),
            "steps": self.steps,
            "restarts": [list(r) for r in self.scenario.restarts],
            "peak_agents_reconnecting_in_a_second": round(self.peak_reconnect_share() * n),
            "peak_reconnect_share": round(self.peak_reconnect_share(), 4),
            "peak_agents_sending_in_a_second": round(self.peak_attempt_share() * n),
            "peak_sending_share": round(self.peak_attempt_share(), 4),
            "requests_per_minute_while_down": [c for _, c in per_minute],
            "requests_per_agent_minute_while_down": round(
                max((c for _, c in per_minute), default=0) / n, 2
            ),
            "pings": len(self.tally.times("ping")),
        }


def run_fleet(scenario: Scenario | None = None) -> FleetResult:
    """Run the scenario; returns what the server saw. Deterministic for a seed."""
    scenario = scenario or Scenario()
    began = time.monotonic()
    rng = random.Random(scenario.seed)
    vt = VirtualTime()
    server = SimServer(vt)
    agents = [SimAgent(i + 1, server, rng, scenario.keepalive_base) for i in range(scenario.agents)]
    for agent in agents:
        vt.at(rng.uniform(0, scenario.start_spread), agent.start)
        t = rng.expovariate(1 / scenario.mean_idle_change)
        while t < scenario.duration:
            vt.at(scenario.start_spread + t, agent.idle_change)
            t += rng.expovariate(1 / scenario.mean_idle_change)
    for at, down_for in scenario.restarts:
        vt.at(at, functools.partial(server.go_down, down_for))
    vt.run(scenario.duration)
    return FleetResult(scenario, server.tally, server.downtime, vt.steps, time.monotonic() - began)


# -- the plot ----------------------------------------------------------------------------


def plot(result: FleetResult, path: Path, before: FleetResult | None = None) -> None:
    """The figure for the README: share of the fleet per second, requests per minute."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = result.scenario.agents
    seconds = range(int(result.scenario.duration) + 1)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    if before is not None:
        for kinds, style, what in (
            (ATTEMPTS, ":", "sending anything"),
            (frozenset({"ws"}), "-", "reconnecting /ws"),
        ):
            shares = [100 * c / n for c in before.agents_per_second(kinds)]
            top.plot(
                seconds,
                shares,
                color="#d62728",
                ls=style,
                lw=0.8,
                alpha=0.7,
                label=f"{what}, before (first retry within 1 s): peak {max(shares):.0f} %",
            )
    top.plot(
        seconds,
        [100 * c / n for c in result.agents_per_second(ATTEMPTS)],
        color="#2ca02c",
        lw=0.7,
        label="sending anything: requests, retries, /ws upgrades (now)",
    )
    top.plot(
        seconds,
        [100 * c / n for c in result.agents_per_second(frozenset({"ws"}))],
        color="#1f77b4",
        lw=0.9,
        label="reconnecting /ws (now)",
    )
    top.axhline(10, color="black", ls="--", lw=0.8, label="10 % of the fleet")
    top.set_ylabel("% of the fleet, per second")
    top.set_ylim(0, 50 if before is not None else 15)
    top.legend(loc="upper right", fontsize=8)
    downs = ", ".join(f"{d:g} s at t={a:g} s" for a, d in result.scenario.restarts)
    top.set_title(
        f"{n} agents: real reporter and keepalive machines, in virtual time. The server is down"
        f" {downs} (shaded).\nThe fleet starts over the first"
        f" {result.scenario.start_spread:g} s; that is not counted.",
        fontsize=9,
    )
    whole = int(result.scenario.duration) // 60  # whole minutes only
    minutes = [60 * m + 30 for m in range(whole)]
    if before is not None:
        bottom.step(
            minutes,
            before.per_minute(before.tally.times(*ATTEMPTS))[:whole],
            where="mid",
            color="#d62728",
            alpha=0.6,
            label="requests per minute, before",
        )
    bottom.step(
        minutes,
        result.per_minute(result.tally.times(*ATTEMPTS))[:whole],
        where="mid",
        color="#9467bd",
        label="requests per minute: HTTP and /ws upgrades, refused or not (now)",
    )
    bottom.step(
        minutes,
        result.per_minute(result.tally.times("ping"))[:whole],
        where="mid",
        color="#7f7f7f",
        ls=":",
        label="pings per minute on open sockets",
    )
    bottom.set_ylabel("per minute")
    bottom.set_xlabel("virtual time (s)")
    bottom.legend(loc="upper right", fontsize=8)
    for ax in (top, bottom):
        for start, end in result.downtime:
            ax.axvspan(start, max(end, start + 4), color="#ff7f0e", alpha=0.18, lw=0)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fleet", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "fleet.png")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "fleet.json")
    args = parser.parse_args(argv)
    scenario = Scenario(agents=args.agents, seed=args.seed)
    result = run_fleet(scenario)
    # The same fleet with the keepalive's old 1 s reconnect window, for comparison only.
    before = run_fleet(dataclasses.replace(scenario, keepalive_base=1.0))
    summary = {**result.summary(), "before_1s_keepalive_window": before.summary()}
    print(json.dumps(summary, indent=2))
    plot(result, args.plot, before)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {args.plot} and {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
