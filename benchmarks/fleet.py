"""A fleet of agents against one Libredesk server that restarts, in virtual time.

``python -m benchmarks.fleet [--agents 1000] [--plot docs/fleet.png]``

What is real and what is simulated:

* **Real, unchanged:** every agent is a real :class:`presence_agent.reporter.Reporter`
  and a real :class:`presence_agent.keepalive.Keepalive`, each on its own thread,
  running its own retry, reconnect and :class:`~presence_agent.backoff.Backoff`
  code, with the Backoff parameters those classes choose themselves (only its
  random source is seeded, for a reproducible run). HTTP goes through the real
  :class:`~presence_agent.client.LibredeskClient` (so errors are classified by
  the real code); its httpx transport is a ``MockTransport``.
* **Swapped:** the I/O and time. The HTTP transport, the ``/ws`` connector and
  its socket talk to :class:`SimServer`, in process. Both classes' clocks read
  :class:`VirtualTime`, and their ``threading.Condition`` (the only thing they
  block on) is replaced by :class:`SimCondition`, which blocks in virtual time.
  The engine is replaced by a few lines doing what the engine does with the
  reporter's and keepalive's events (:class:`SimAgent`): report ``available``
  when first connected, start the keepalive, re-read on ``Resync``, and pass
  on idle transitions.

Virtual time: exactly one simulated thread runs at a time; the others wait
inside a SimCondition (or a simulated socket's ``recv``) until their virtual
deadline or a notification. The scheduler hands the turn to the earliest
one, so an hour of a thousand agents takes seconds and every run with the
same seed is the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import heapq
import itertools
import json
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from presence_agent.backoff import Backoff
from presence_agent.client import LibredeskClient
from presence_agent.engine import Resync, Snapshot
from presence_agent.keepalive import Keepalive, WsParams
from presence_agent.policy import Desired
from presence_agent.reporter import Connected, Reporter, ReporterEvent
from presence_agent.vocab import Dialect, Source, Status

REPO = Path(__file__).resolve().parent.parent

# -- virtual time ------------------------------------------------------------------------


class _SimThread:
    __slots__ = ("ident", "thread", "turn")

    def __init__(self) -> None:
        self.ident = threading.get_ident()
        self.thread = threading.current_thread()
        self.turn = threading.Semaphore(0)


class _Waiter:
    """One wait of one simulated thread; fires once (notified or timed out)."""

    __slots__ = ("fired", "notified", "owner")

    def __init__(self, owner: _SimThread) -> None:
        self.owner = owner
        self.fired = False
        self.notified = False


class VirtualTime:
    """A virtual clock and a scheduler that runs simulated threads one at a time.

    Thread use: :meth:`run` on the scheduling thread (the one that made this
    object), which also runs the callbacks given to :meth:`at`. Simulated
    threads only call :meth:`clock` and, through :class:`SimCondition`,
    :meth:`ensure_turn` and :meth:`block`.
    """

    #: How long a just-started thread may take to reach its first wait.
    START_TIMEOUT = 10.0

    def __init__(self) -> None:
        self.now = 0.0
        self.closing = False
        self.handoffs = 0
        self._heap: list[tuple[float, int, Any]] = []
        self._seq = itertools.count()
        self._mutex = threading.Lock()  # the heap and the registry (new threads touch them)
        self._back = threading.Semaphore(0)
        self._main = threading.get_ident()
        self._current = self._main
        self._threads: dict[int, _SimThread] = {}
        # Threads alive now that are not ours (pytest's, other tests' leftovers).
        self._baseline = threading.active_count()

    def clock(self) -> float:
        return self.now

    def at(self, when: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the scheduling thread at virtual time ``when``."""
        with self._mutex:
            heapq.heappush(self._heap, (when, next(self._seq), fn))

    def wake_at(self, when: float, waiter: _Waiter) -> None:
        with self._mutex:
            heapq.heappush(self._heap, (when, next(self._seq), waiter))

    def ensure_turn(self) -> None:
        """Called at every SimCondition entry: a thread new to us waits for its first turn."""
        ident = threading.get_ident()
        if self.closing or ident == self._current:
            return
        if ident in self._threads:
            raise RuntimeError(
                "a simulated thread ran out of turn (it blocked outside SimCondition)"
            )
        me = _SimThread()
        with self._mutex:
            self._threads[ident] = me
            heapq.heappush(self._heap, (self.now, next(self._seq), _first_turn(me)))
        me.turn.acquire()

    def block(self, waiter: _Waiter) -> None:
        """Give the turn back and sleep until ``waiter`` fires."""
        if self.closing:
            return
        me = self._threads.get(threading.get_ident())
        if me is None:
            raise RuntimeError("only a simulated thread can wait in virtual time")
        self._back.release()
        me.turn.acquire()

    def run(self, until: float) -> None:
        """Run everything due up to ``until``, in time order; then the clock reads ``until``."""
        while True:
            self._settle_new_threads()
            with self._mutex:
                if not self._heap or self._heap[0][0] > until:
                    break
                when, _, item = heapq.heappop(self._heap)
            self.now = max(self.now, when)
            if isinstance(item, _Waiter):
                if item.fired:
                    continue  # notified before its timeout
                item.fired = True
                self._resume(item.owner)
            else:
                item()
        self.now = max(self.now, until)

    def _resume(self, sim: _SimThread) -> None:
        self.handoffs += 1
        self._current = sim.ident
        sim.turn.release()
        # Until it waits again (or ends: then a crash, which pytest reports).
        stuck = time.monotonic() + self.START_TIMEOUT
        while not self._back.acquire(timeout=0.5):
            if not sim.thread.is_alive():
                break
            if time.monotonic() > stuck:
                raise RuntimeError(f"{sim.thread.name} blocked outside virtual time")
        self._current = self._main

    def _settle_new_threads(self) -> None:
        """A thread started by the last step must register before time moves on."""
        deadline = time.monotonic() + self.START_TIMEOUT
        while threading.active_count() > self._baseline + len(self._threads):
            if time.monotonic() > deadline:
                raise RuntimeError("a thread started during the simulation never waited")
            time.sleep(0.0002)

    def close(self) -> list[threading.Thread]:
        """Let every simulated thread run free (they must have been told to stop)."""
        self.closing = True
        threads = list(self._threads.values())
        for sim in threads:
            sim.turn.release()
        return [sim.thread for sim in threads]


def _first_turn(me: _SimThread) -> _Waiter:
    return _Waiter(me)


class SimCondition:
    """A ``threading.Condition`` whose waits pass in virtual time.

    No lock is needed: only the thread holding the turn runs.
    """

    def __init__(self, vt: VirtualTime) -> None:
        self._vt = vt
        self._waiters: list[_Waiter] = []

    def __enter__(self) -> SimCondition:
        self._vt.ensure_turn()
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def wait(self, timeout: float | None = None) -> bool:
        vt = self._vt
        if vt.closing:
            return False
        me = vt._threads.get(threading.get_ident())
        if me is None:
            raise RuntimeError("only a simulated thread can wait")
        waiter = _Waiter(me)
        self._waiters.append(waiter)
        if timeout is not None:
            vt.wake_at(vt.now + max(0.0, timeout), waiter)
        vt.block(waiter)
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        return waiter.notified

    def notify_all(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.notified = True
            self._vt.wake_at(self._vt.now, waiter)

    def notify(self, n: int = 1) -> None:
        for waiter in self._waiters[:n]:
            waiter.notified = True
            self._vt.wake_at(self._vt.now, waiter)
        del self._waiters[:n]


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
    """One Libredesk (real dialect) that can be down. Calls come from the thread in turn."""

    def __init__(self, vt: VirtualTime) -> None:
        self.vt = vt
        self.up = True
        self.tally = Tally()
        self.status: dict[int, str] = {}
        self.sockets: set[SimSocket] = set()
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

    # /ws, through Keepalive's connector hook.
    def connect(self, agent_id: int) -> SimSocket:
        if not self.up:
            self.tally.add(self.vt.now, agent_id, "ws_refused")
            raise ConnectionRefusedError(111, "Connection refused")
        self.tally.add(self.vt.now, agent_id, "ws")
        sock = SimSocket(self, agent_id)
        self.sockets.add(sock)
        return sock

    def go_down(self, up_after: float) -> None:
        """Restart: every socket drops now, connections are refused for ``up_after`` s."""
        self.up = False
        self.downtime.append((self.vt.now, self.vt.now + up_after))
        for sock in list(self.sockets):
            sock.dropped()
        self.vt.at(self.vt.now + up_after, self.come_up)

    def come_up(self) -> None:
        self.up = True


class SimSocket:
    """The keepalive's side of one ``/ws``: ``send``, ``recv(timeout)``, ``close``."""

    def __init__(self, server: SimServer, agent_id: int) -> None:
        self._server = server
        self._agent = agent_id
        self._inbox: deque[str] = deque()
        self._closed = False
        self._cond = SimCondition(server.vt)

    def send(self, message: str) -> None:
        if self._closed:
            raise ConnectionResetError("the socket is closed")
        if message == "ping":
            self._server.tally.add(self._server.vt.now, self._agent, "ping")
            with self._cond:
                self._inbox.append("pong")
                self._cond.notify_all()

    def recv(self, timeout: float | None = None) -> str:
        vt = self._server.vt
        with self._cond:
            deadline = None if timeout is None else vt.now + timeout
            while not self._inbox and not self._closed and not vt.closing:
                remaining = None if deadline is None else deadline - vt.now
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                self._cond.wait(remaining)
            if self._inbox:
                return self._inbox.popleft()
            raise ConnectionResetError("the server closed the connection")

    def dropped(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.sockets.discard(self)

    def close(self) -> None:
        self._closed = True
        self._server.sockets.discard(self)


# -- one agent ---------------------------------------------------------------------------


class SimAgent:
    """A real Reporter and Keepalive, wired the way the engine wires them."""

    def __init__(
        self,
        agent_id: int,
        server: SimServer,
        rng: random.Random,
        keepalive_base: float | None = None,
    ) -> None:
        self.id = agent_id
        vt = server.vt
        self._server = server
        self.reporter = Reporter(self._client, self._on_event, clock=vt.clock)
        self.keepalive = Keepalive(
            self._ws_params, self._post, connector=self._connect, clock=vt.clock
        )
        for part in (self.reporter, self.keepalive):
            # The I/O swap: block in virtual time; same Backoff parameters, seeded.
            part._cond = SimCondition(vt)  # type: ignore[assignment]
            mine: Backoff = part._backoff
            base = keepalive_base if part is self.keepalive and keepalive_base else mine.base
            part._backoff = Backoff(base, mine.cap, random.Random(rng.random()))
        self.connected = False
        self.status = Status.AVAILABLE

    # The engine's part.
    def _on_event(self, event: ReporterEvent) -> None:
        if isinstance(event, Connected) and not self.connected:
            self.connected = True
            self.reporter.submit(Desired(Status.AVAILABLE, Source.USER))
            self.keepalive.on_snapshot(
                Snapshot(
                    status=Status.AVAILABLE,
                    connected=True,
                    dialect=Dialect.LIBREDESK,
                    agent_id=self.id,
                )
            )

    def _post(self, event: object) -> None:
        if isinstance(event, Resync) and self.connected:
            self.reporter.refresh()

    def idle_change(self) -> None:
        """The person went away or came back (the engine asks; the reporter sends)."""
        if not self.connected:
            return
        self.status = Status.AWAY if self.status is Status.AVAILABLE else Status.AVAILABLE
        self.reporter.submit(Desired(self.status, Source.IDLE))

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

    def _ws_params(self) -> WsParams:
        return WsParams(
            url="wss://desk.example.com/ws",
            origin="https://desk.example.com",
            authorization=b"token key:secret",
            ssl=None,
            user_agent="presence-agent (fleet simulation)",
        )

    def _connect(self, params: WsParams, timeout: float) -> SimSocket:
        return self._server.connect(self.id)


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
    handoffs: int
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
            "handoffs": self.handoffs,
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


@contextlib.contextmanager
def _small_stacks() -> Iterator[None]:
    """Thousands of threads: a small stack each (they only run our short loops)."""
    old = threading.stack_size()
    threading.stack_size(512 * 1024)
    try:
        yield
    finally:
        threading.stack_size(old)


def run_fleet(scenario: Scenario | None = None) -> FleetResult:
    """Run the scenario; returns what the server saw. Deterministic for a seed."""
    scenario = scenario or Scenario()
    began = time.monotonic()
    rng = random.Random(scenario.seed)
    vt = VirtualTime()
    server = SimServer(vt)
    agents = [SimAgent(i + 1, server, rng, scenario.keepalive_base) for i in range(scenario.agents)]
    threads: list[threading.Thread] = []
    try:
        with _small_stacks():
            for agent in agents:
                vt.at(rng.uniform(0, scenario.start_spread), agent.reporter.start)
                t = rng.expovariate(1 / scenario.mean_idle_change)
                while t < scenario.duration:
                    vt.at(scenario.start_spread + t, agent.idle_change)
                    t += rng.expovariate(1 / scenario.mean_idle_change)
            for at, down_for in scenario.restarts:
                vt.at(at, functools.partial(server.go_down, down_for))
            vt.run(scenario.duration)
    finally:
        for agent in agents:
            agent.reporter.stop()
            agent.keepalive.stop()
        threads = vt.close()
        for thread in threads:
            thread.join(5)
    return FleetResult(
        scenario, server.tally, server.downtime, vt.handoffs, time.monotonic() - began
    )


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
        f"{n} agents: real Reporter, Keepalive and Backoff, in virtual time. The server is down"
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
