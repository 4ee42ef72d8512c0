"""The real agent, Xvfb input from xdotool and a server that behaves like a real Libredesk
(tests/libredesk_server.py): idleness in steps, the return, ownership, recovery from a sweep
during a /ws outage, kicked sockets and a restart in the middle of an escalation
(docs/libredesk.md says why each matters)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.agent_process import KEY, SECRET, AgentProcess, run_cli, signed_in
from tests.desktop import Input
from tests.libredesk_server import LibredeskServer
from tests.notification_daemon import Dunst, notification_daemon

__all__ = ["notification_daemon"]

pytestmark = pytest.mark.desktop

#: Short steps: away after 2 s, no new conversations after 4 s, reassign after 6 s.
STEPS = ("--away-after", "2", "--stop-assignments-after", "4", "--reassign-after", "6")


@pytest.fixture
def server() -> Iterator[LibredeskServer]:
    # Sweeps every second anyone silent for 3 s, so a /ws outage costs an offline fast.
    with LibredeskServer(
        dialect="libredesk",
        api_key=KEY,
        api_secret=SECRET,
        sweep_period=1.0,
        sweep_threshold=3.0,
    ) as srv:
        yield srv


def start(env: dict[str, str], *args: str) -> AgentProcess:
    return AgentProcess(["run", "--no-tray", "--keepalive-interval", "1", *args], env)


def puts_after(server: LibredeskServer, count: int) -> list[tuple[str, str]]:
    return server.puts()[count:]


def test_the_escalation_in_order_on_time_then_the_return_in_one_put(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    with start(env, *STEPS) as agent:
        assert server.wait_for_put("online", "user", timeout=10), agent.output()
        count = len(server.puts())
        # The input happened between these two instants (xdotool may be slow on a busy host).
        last = user_input.touch()
        moved = time.monotonic()
        steps = [
            server.wait_for_put("away", "idle", timeout=8, after=count),
            server.wait_for_put("away_manual", "idle", timeout=8, after=count),
            server.wait_for_put("away_and_reassigning", "user", timeout=8, after=count),
        ]
        assert all(steps), agent.output()
        # Each due within a second of its time, counted from the last input.
        for request, due in zip(steps, (2.0, 4.0, 6.0), strict=True):
            assert request is not None
            # (50 ms: the X server's idle counter and our clock disagree by a few ms; one run
            # saw a step 7 ms "early" against the instant before the xdotool move)
            assert due - 0.05 <= request.mono - last, (due, request.mono - last)
            assert request.mono - moved < due + 1.0, (due, request.mono - moved)
        assert puts_after(server, count) == [
            ("away", "idle"),
            ("away_manual", "idle"),
            ("away_and_reassigning", "user"),
        ]
        assert agent.wait_output(
            lambda line: "Away (idle) · your conversations are being reassigned" in line, 10
        ), agent.output()
        status = run_cli(["status"], env)
        assert "shows Away (idle) · your conversations are being reassigned" in status.stdout
        assert agent.wait_output(
            lambda line: "You're away: your conversations are being reassigned" in line, 10
        )
        time.sleep(1.5)
        assert len(server.puts()) == count + 3  # one PUT per step, and nothing more

        # The first input: online in one PUT, source user (the idle guard), at once.
        count = len(server.puts())
        user_input.touch()
        back_moved = time.monotonic()
        back = server.wait_for_put("online", "user", timeout=5, after=count)
        assert back is not None, agent.output()
        assert back.mono - back_moved < 0.5  # the target (100 ms p95) is benchmarks/' to measure
        time.sleep(1)
        assert puts_after(server, count) == [("online", "user")]
        assert server.status == "online"
        assert agent.wait_output(lambda line: "You're online again; away" in line, 10)
        assert agent.terminate() == 0


def test_ownership_ends_with_a_web_app_change_and_a_manual_away_is_never_escalated(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    with start(env, *STEPS) as agent:
        assert server.wait_for_put("online", "user", timeout=10), agent.output()
        count = len(server.puts())
        user_input.touch()
        assert server.wait_for_put("away_manual", "idle", timeout=8, after=count), agent.output()
        # In the web app the person turns on reassign: theirs now.
        server.set_status("away_and_reassigning")
        count = len(server.puts())
        time.sleep(4)
        user_input.touch()
        time.sleep(1)
        assert puts_after(server, count) == []
        assert server.status == "away_and_reassigning"
        # Back in the web app; then a manual away from the CLI: untouched by everything.
        server.set_status("online")
        assert agent.wait_output(lambda line: line.endswith("Available (set elsewhere)"), 10)
        user_input.touch()
        assert run_cli(["set", "away"], env).returncode == 0
        assert server.puts()[-1] == ("away_manual", "user")
        count = len(server.puts())
        time.sleep(8)  # past every step
        user_input.touch()
        time.sleep(1)
        assert puts_after(server, count) == []
        assert server.status == "away_manual"
        assert agent.terminate() == 0


def test_a_restart_in_the_middle_of_an_escalation_puts_it_back_and_input_returns(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    with start(env, *STEPS) as agent:
        assert server.wait_for_put("online", "user", timeout=10), agent.output()
        count = len(server.puts())
        user_input.touch()
        assert server.wait_for_put("away_manual", "idle", timeout=8, after=count), agent.output()
        assert agent.terminate() == 0  # the offline on quit, which stops no routing
    assert server.status == "offline"
    count = len(server.puts())
    with start(env, *STEPS) as agent:
        # Still gone: the step is put back, owned, and the escalation goes on.
        assert server.wait_for_put("away_manual", "idle", timeout=10, after=count), agent.output()
        assert server.wait_for_put("away_and_reassigning", "user", timeout=8, after=count), (
            agent.output()
        )
        count = len(server.puts())
        user_input.touch()
        assert server.wait_for_put("online", "user", timeout=5, after=count), agent.output()
        assert agent.terminate() == 0


def test_a_crash_in_the_middle_of_an_escalation_still_brings_the_person_back(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    with start(env, *STEPS) as agent:
        assert server.wait_for_put("online", "user", timeout=10), agent.output()
        count = len(server.puts())
        user_input.touch()
        assert server.wait_for_put("away_manual", "idle", timeout=8, after=count), agent.output()
        # Once the agent has taken the answer in (its line printed, owned.json written first)...
        assert agent.wait_output(lambda line: "· no new conversations" in line, 10)
        agent.kill()  # ...SIGKILL: no offline on the way out, the server keeps away_manual
    assert server.status == "away_manual"
    count = len(server.puts())
    with start(env, *STEPS) as agent:
        # owned.json says the agent set it: the escalation goes on, and input brings it back.
        assert server.wait_for_put("away_and_reassigning", "user", timeout=10, after=count), (
            agent.output()
        )
        count = len(server.puts())
        user_input.touch()
        assert server.wait_for_put("online", "user", timeout=5, after=count), agent.output()
        assert agent.terminate() == 0


def test_swept_during_a_ws_outage_while_working_then_back_online_with_a_put_and_a_push(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    with start(env, "--away-after", "30") as agent:
        assert server.wait_for_put("online", "user", timeout=10), agent.output()
        assert server.wait_for(lambda: server.ws_connected() == 1, 5)
        server.ws_refuse(503)
        server.ws_drop_all()
        # The person keeps working; without pings the sweep takes them offline.
        deadline = time.monotonic() + 15
        while server.status != "offline" and time.monotonic() < deadline:
            user_input.touch()
            time.sleep(0.3)
        assert server.status == "offline", server.history
        swept = len(server.history)
        count = len(server.puts())
        server.ws_refuse(None)
        for _ in range(40):
            user_input.touch()
            if server.wait_for(lambda: server.status == "online", 0.5):
                break
        assert server.status == "online", agent.output()
        # PUT online first (everyone told: a push), never the ping's silent flip.
        assert puts_after(server, count)[:1] == [("online", "idle")]
        assert [source for _, _, source in server.history[swept:]] == ["idle"]
        assert server.broadcasts()[-2:] == ["offline", "online"]
        # ...and then the pings that keep it so.
        pings = server.ws_pings
        assert server.wait_for(lambda: server.ws_pings > pings, 5)
        assert agent.terminate() == 0


def test_kicked_by_an_admin_edit_reconnects_and_undoes_the_offline(
    env: dict[str, str], server: LibredeskServer, user_input: Input
) -> None:
    signed_in(env, server)
    with start(env, "--away-after", "30") as agent:
        assert server.wait_for_put("online", "user", timeout=10), agent.output()
        assert server.wait_for(lambda: server.ws_connected() == 1, 5)
        connections = server.ws_connections
        user_input.touch()
        server.admin_edit(status="offline")  # no push; the sockets are kicked
        assert server.ws_kicks == 1
        assert server.wait_for(lambda: server.ws_connections > connections, 10), agent.output()
        # The reconnect re-reads: an offline the person did not choose, while they work.
        assert server.wait_for(lambda: server.status == "online", 10), agent.output()
        assert server.puts()[-1] == ("online", "idle")
        assert server.broadcasts()[-1] == "online"
        assert agent.terminate() == 0


def test_a_refused_origin_is_shown_and_not_retried_in_a_loop(
    env: dict[str, str], server: LibredeskServer
) -> None:
    server.rewrite_host("desk.example.com")  # a reverse proxy that rewrites Host
    signed_in(env, server)
    with start(env) as agent:
        assert server.wait_for_put("online", "user", timeout=10), agent.output()
        text = (
            "the server refused the WebSocket origin; a reverse proxy that rewrites Host breaks it"
        )
        assert agent.wait_output(lambda line: text in line, 10), agent.output()
        status = run_cli(["status"], env)
        assert text in status.stdout, status.stdout
        time.sleep(3)
        assert server.ws_refused_origins == 1
        assert agent.terminate() == 0


def test_desktop_notifications_at_each_step_and_on_the_return(
    env: dict[str, str], server: LibredeskServer, user_input: Input, notification_daemon: Dunst
) -> None:
    def shows(text: str) -> bool:
        # Each replaces the one before (one notification says where the person stands).
        return server.wait_for(
            lambda: text in [n["summary"] for n in notification_daemon.received()], 10
        )

    signed_in(env, server)
    with start(env, *STEPS) as agent:
        assert server.wait_for_put("online", "user", timeout=10), agent.output()
        count = len(server.puts())
        user_input.touch()
        assert server.wait_for_put("away_manual", "idle", timeout=10, after=count)
        assert shows("You're away: no new conversations"), notification_daemon.received()
        assert server.wait_for_put("away_and_reassigning", "user", timeout=10, after=count)
        assert shows("You're away: your conversations are being reassigned")
        count = len(server.puts())
        user_input.touch()
        assert server.wait_for_put("online", "user", timeout=5, after=count), agent.output()
        # Away since the first step (2 s after the last input), back after the third (6 s).
        back = re.compile(r"You're online again; away [3-9] s")
        assert server.wait_for(
            lambda: any(back.fullmatch(n["summary"]) for n in notification_daemon.received()), 5
        ), notification_daemon.received()
        assert agent.terminate() == 0
