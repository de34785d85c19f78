"""A call on a connection that broke: repeated when the plugin cannot have processed it, and
reported as CallOutcomeUnknown (never repeated unless idempotent) when it may have."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from instance_rpc import CallOutcomeUnknown, PluginClient, PluginUnavailable, Spec
from tests.daemon import Daemon

from .fake_peer import Act, fake_peer


def fast_client(path: Path) -> PluginClient:
    return PluginClient(path, retry_backoff=0.01)


async def test_a_pooled_connection_the_plugin_closed_is_replaced_for_any_call(
    sock_dir: Path,
) -> None:
    with fake_peer(sock_dir / "p.sock", Act.ANSWER_THEN_CLOSE) as peer:
        async with fast_client(peer.path) as client:
            await client.handshake()  # leaves its kept-alive connection in the pool
            # The loop is busy (blocked) while the plugin closes: the client has not seen it.
            assert peer.idle_closed.wait(timeout=10)
            await client.label("inst-1", {"owner": "me"})  # the write fails: EPIPE
    assert peer.methods == ["Handshake.Hello", "Instance.Label"]


async def test_a_request_the_plugin_closed_on_unread_is_repeated_for_any_call(
    sock_dir: Path,
) -> None:
    with fake_peer(sock_dir / "p.sock", Act.ANSWER, Act.CLOSE_UNREAD) as peer:
        async with fast_client(peer.path) as client:
            await client.handshake()
            assert await client.provision(Spec()) == "inst-1"  # ECONNRESET, then a new connection
    assert peer.methods == ["Handshake.Hello", "Instance.Provision"]


@pytest.mark.parametrize("act", [Act.CLOSE_UNANSWERED, Act.CLOSE_MID_ANSWER])
async def test_a_call_the_plugin_may_have_processed_is_not_repeated(
    sock_dir: Path, act: Act
) -> None:
    with fake_peer(sock_dir / "p.sock", Act.ANSWER, act) as peer:
        async with fast_client(peer.path) as client:
            await client.handshake()
            with pytest.raises(CallOutcomeUnknown, match="may have processed") as caught:
                await client.label("inst-1", {"owner": "me"})
    assert caught.value.request_sent is True
    assert caught.value.reused_connection is True
    assert isinstance(caught.value, PluginUnavailable)
    assert peer.methods == ["Handshake.Hello", "Instance.Label"]  # sent once


@pytest.mark.parametrize("act", [Act.CLOSE_UNANSWERED, Act.CLOSE_MID_ANSWER])
async def test_an_idempotent_call_of_unknown_outcome_is_repeated(sock_dir: Path, act: Act) -> None:
    with fake_peer(sock_dir / "p.sock", Act.ANSWER, act) as peer:
        async with fast_client(peer.path) as client:
            await client.handshake()
            assert await client.describe_instances(None) == []
    assert peer.methods == ["Handshake.Hello", *["Instance.DescribeInstances"] * 2]


async def test_a_daemon_restarted_while_the_loop_was_busy(sock_dir: Path) -> None:
    socket_path = sock_dir / "file.sock"
    args = ("--plugin", "file", "--dir", str(sock_dir / "state"), "--socket", str(socket_path))
    first = Daemon(*args)
    try:
        first.wait_listening()
        async with fast_client(socket_path) as client:
            instance = await client.provision(Spec(tags={"group": "web"}))
            assert instance is not None
            # Blocking calls: the client's loop does not run while the daemon restarts.
            assert first.signal(signal.SIGTERM) == 0
            second = Daemon(*args)
            try:
                second.wait_listening()
                await client.label(instance, {"owner": "me"})
                (described,) = await client.describe_instances({"group": "web"})
            finally:
                second.close()
    finally:
        first.close()
    assert described.tags == {"group": "web", "owner": "me"}
