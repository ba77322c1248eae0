"""The demo's child processes: a port found free but taken before the child binds it is
given up for another, with a real `keepernet localnet`."""

from __future__ import annotations

import socket
from pathlib import Path

from demo import processes
from demo.servers import free_port_pair


async def test_a_port_taken_before_the_child_binds_it_is_given_up_for_another(
        tmp_path: Path) -> None:
    keys = tmp_path / "keys"  # the localnet writes its keys there
    taken, free = free_port_pair(), free_port_pair()
    picks = iter([taken, free])
    with socket.socket() as squatter:  # another process's connection got there first
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        child, port = await processes.start_on_free_port(
            "localnet", lambda p: (["localnet", "--port", str(p), "--keys", str(keys)], None),
            tmp_path, pick=lambda: next(picks), ready="localnet ready",
            taken="address already in use", ready_s=processes.LOCALNET_READY_S)
    try:
        assert port == free
        child.check_running()
    finally:
        await child.stop()
