"""Property test: the policy against a model of the real Libredesk server.

Hypothesis draws event sequences: input, idle checks with any idle time,
manual choices, screen lock, suspend, pauses, idle inhibitors, changes made elsewhere (the web
app's manual and idle changes, the offline sweep), and the reporter taking and
delivering requests. The server model applies the real handler's rules
(docs/libredesk.md): an unchanged status is a no-op, and an ``idle`` change never
overwrites ``away_manual`` or ``away_and_reassigning``. Every change the server
makes is pushed (``/ws``) at once, the way the engine receives it.

Invariants:

1. Idle never changes a manual status: no request with source ``idle`` is
   emitted while the server holds a manual status and nothing is pending.
2. Only changes are emitted: an idle-driven request never repeats the pending
   one, nor asks for what the server already holds.
3. Once everything is delivered, the policy believes what the server holds.
4. Every away set by idleness is undone by input; a manual status is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from presence_agent.policy import Desired, Now, PresencePolicy
from presence_agent.vocab import (
    Dialect,
    Source,
    Status,
    from_wire,
    statuses_for,
    to_wire,
)

D = Dialect.LIBREDESK
#: What idle detection must leave alone: set by a person or by the sweep.
MANUAL_WORDS = frozenset({"away_manual", "away_and_reassigning", "offline"})
GUARDED_FROM_IDLE = frozenset({"away_manual", "away_and_reassigning"})
THRESHOLD = 300.0


@dataclass
class Server:
    """The real availability handler, reduced to its rules."""

    word: str

    def put(self, word: str, source: str) -> bool:
        """Apply a PUT; return whether the status changed."""
        if word == self.word:
            return False
        if source == "idle" and self.word in GUARDED_FROM_IDLE:
            return False
        self.word = word
        return True


@dataclass
class World:
    policy: PresencePolicy
    server: Server
    mono: float = 1000.0
    wall: float = 1_700_000_000.0
    #: The reporter: the newest request not yet taken, and the one on the wire.
    slot: Desired | None = None
    inflight: Desired | None = None
    last_input: float = 1000.0
    log: list[str] = field(default_factory=list)

    def now(self) -> Now:
        return Now(self.mono, self.wall)

    # -- the engine's side: every request the policy emits goes to the reporter

    def emitted(self, desired: Desired | None, pending_before: Desired | None, state) -> None:
        if desired is None:
            return
        status_before, by_idle_before = state
        self.log.append(f"-> emit {desired.status.value}/{desired.source.value}")
        if desired.source is Source.IDLE:
            # 1. Idle never changes a manual status.
            assert not (pending_before is None and self.server.word in MANUAL_WORDS), (
                f"idle request {desired} while the server holds {self.server.word!r}"
            )
            # 2. Only changes: not the pending request again, not what is held.
            assert desired != pending_before
            if pending_before is None:
                held_idle_away = status_before is Status.AWAY and by_idle_before
                asks_idle_away = desired.status is Status.AWAY
                assert not (status_before is desired.status and held_idle_away == asks_idle_away)
            # Idle only moves between available and an idle away.
            effective = pending_before.status if pending_before else status_before
            if desired.status is Status.AWAY:
                assert effective is Status.AVAILABLE
            else:
                assert desired.status is Status.AVAILABLE
                assert effective is Status.AWAY
        self.slot = desired

    def call(self, name: str, *args) -> None:
        policy = self.policy
        pending = policy.pending
        state = (policy.status, policy.view().by_idle)
        self.log.append(f"{name}{args} server={self.server.word}")
        result = getattr(policy, name)(self.now(), *args)
        if name == "manual":
            assert result == Desired(args[0], Source.USER)
        self.emitted(result, pending, state)

    def push(self) -> None:
        self.policy.server_said(self.now(), from_wire(self.server.word, D))

    # -- the reporter and the server

    def take(self) -> None:
        if self.inflight is None and self.slot is not None:
            self.inflight, self.slot = self.slot, None

    def deliver(self) -> None:
        asked = self.inflight
        if asked is None:
            return
        self.inflight = None
        changed = self.server.put(to_wire(asked.status, asked.source, D), asked.source.value)
        self.log.append(f"put {asked.status.value}/{asked.source.value} -> {self.server.word}")
        if changed:
            self.push()  # the echo of our own change may beat the answer
        self.policy.answered(self.now(), asked, from_wire(self.server.word, D))

    def drain(self) -> None:
        for _ in range(20):
            self.take()
            if self.inflight is None:
                return
            self.deliver()
        raise AssertionError("the reporter never ran dry")

    def elsewhere(self, word: str, source: str) -> None:
        if self.server.put(word, source):
            self.log.append(f"elsewhere {word}/{source}")
            self.push()

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


# -- the events ---------------------------------------------------------------------------------

idle_seconds = st.one_of(
    st.sampled_from([0.0, 1.0, 299.999, 300.0, 300.001, 3600.0]),
    st.floats(min_value=0, max_value=10_000, allow_nan=False),
)
events = st.one_of(
    st.tuples(st.just("advance"), st.floats(min_value=0, max_value=900, allow_nan=False)),
    st.tuples(st.just("suspend"), st.floats(min_value=31, max_value=86_400, allow_nan=False)),
    st.tuples(st.just("input")),
    st.tuples(st.just("idle_check"), idle_seconds),
    st.tuples(st.just("idle_check_consistent")),
    st.tuples(st.just("manual"), st.sampled_from(statuses_for(D))),
    st.tuples(st.just("lock")),
    st.tuples(st.just("unlock")),
    st.tuples(st.just("suspending")),
    st.tuples(st.just("pause"), st.one_of(st.none(), st.floats(min_value=1, max_value=3600))),
    st.tuples(st.just("resume")),
    st.tuples(st.just("inhibit"), st.booleans()),
    # The web app: a person's choices, its own idle detection, and the sweep.
    st.tuples(
        st.just("elsewhere"),
        st.sampled_from(
            [
                ("online", "user"),
                ("away_manual", "user"),
                ("away_and_reassigning", "user"),
                ("offline", "user"),
                ("away", "idle"),
                ("online", "idle"),
                ("offline", "sweep"),
            ]
        ),
    ),
    st.tuples(st.just("take")),
    st.tuples(st.just("deliver")),
    st.tuples(st.just("signed_out")),
    st.tuples(st.just("refresh")),
)
start_words = st.sampled_from(["online", "away", "away_manual", "away_and_reassigning", "offline"])


def run(world: World, event: tuple) -> None:
    kind = event[0]
    if kind == "advance":
        world.advance(event[1])
    elif kind == "suspend":
        world.wall += event[1]  # the monotonic clock stands still
    elif kind == "input":
        world.last_input = world.mono
        world.call("input_seen", 0.0)
    elif kind == "idle_check":
        world.call("idle_check", event[1])
    elif kind == "idle_check_consistent":
        world.call("idle_check", world.mono - world.last_input)
    elif kind == "manual":
        world.call("manual", event[1])
    elif kind == "lock":
        world.call("screen_locked")
    elif kind == "unlock":
        world.policy.screen_unlocked(world.now())
    elif kind == "suspending":
        world.call("suspending")
    elif kind == "pause":
        world.policy.pause(world.now(), event[1])
    elif kind == "resume":
        world.policy.resume(world.now())
    elif kind == "inhibit":
        world.policy.inhibit(world.now(), event[1])
    elif kind == "elsewhere":
        word, source = event[1]
        if source == "sweep":
            if world.server.word not in MANUAL_WORDS:
                world.elsewhere("offline", "user")
        elif source == "idle" and word == "online":
            # The web app brings back only from away or offline.
            if world.server.word in ("away", "offline"):
                world.elsewhere(word, source)
        elif source == "idle" and world.server.word != "online":
            pass  # the web app's idle away starts from online only
        else:
            world.elsewhere(word, source)
    elif kind == "take":
        world.take()
    elif kind == "deliver":
        world.deliver()
    elif kind == "signed_out":
        # 401: the reporter drops everything and tells the engine; the engine
        # re-reads the server when it connects again.
        for dropped in (world.inflight, world.slot):
            if dropped is not None:
                world.policy.failed(dropped)
        world.inflight = world.slot = None
        world.push()
    elif kind == "refresh":
        world.push()


@settings(max_examples=400, deadline=None)
@given(start=start_words, script=st.lists(events, max_size=60))
def test_policy_against_the_real_server_rules(start, script):
    server = Server(start)
    world = World(PresencePolicy(THRESHOLD), server)
    pending = world.policy.pending
    state = (world.policy.status, world.policy.view().by_idle)
    world.emitted(world.policy.start(world.now(), from_wire(start, D)), pending, state)
    for event in script:
        run(world, event)

    # Settle: everything delivered, and one plain idle check to take in any
    # suspend still unseen.
    world.drain()
    world.advance(1)
    world.call("idle_check", 0.0)
    world.drain()

    # 3. Believe the server.
    policy = world.policy
    held = from_wire(server.word, D)
    assert policy.pending is None
    assert policy.status is held.status, world.log
    assert policy.view().by_idle is bool(held.by_idle), world.log

    # 4. Input (after unlocking: typing the password is not being back) undoes an idle
    # away and nothing else.
    before = server.word
    world.policy.screen_unlocked(world.now())
    world.advance(1)
    world.last_input = world.mono
    world.call("input_seen", 0.0)
    world.drain()
    if before == "away":
        assert server.word == "online", world.log
    else:
        assert server.word == before, world.log
    assert policy.wants_first_input() is False
