"""The listening socket `ripple serve` binds: accepted connections must have Nagle's algorithm
off, or every answer written in two parts (head, then body) waits 40 ms for a delayed ACK."""

from __future__ import annotations

import socket

from ripple.cli.main import _bind, _loopback


def test_the_listening_socket_says_tcp_so_asyncio_turns_nagle_off() -> None:
    sock = _bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio's _set_nodelay checks exactly this
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        sock.listen()
        client = socket.create_connection(sock.getsockname())
        accepted, _ = sock.accept()
        try:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        finally:
            accepted.close()
            client.close()
    finally:
        sock.close()


def test_only_loopback_addresses_count_as_loopback() -> None:
    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("localhost")
    assert _loopback("127.0.0.2") and _loopback("[::1]")
    assert not _loopback("0.0.0.0")
    assert not _loopback("::") and not _loopback("10.0.0.5") and not _loopback("ripple.internal")
