"""Start and stop a real `ripple serve` process for tests (127.0.0.1, a free port, by PID)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RippleServer:
    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        tls_ca: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.env = env or {}
        self.args = args
        self.port = port or free_port()
        self.verify: ssl.SSLContext | bool = True
        if tls_ca is not None:
            self.verify = ssl.create_default_context(cafile=str(tls_ca))
        scheme = "https" if tls_ca is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        ripple = Path(sys.executable).parent / "ripple"
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(str(ripple), "serve", "--data-dir", str(self.data_dir)),
                    *("--port", str(self.port), *self.args),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "RIPPLE_DATA_DIR": str(self.data_dir), **self.env},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ripple serve exited: {self.log_path.read_text()}")
            try:
                health = httpx.get(f"{self.url}/api/v1/health", timeout=1, verify=self.verify)
                if health.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.process.kill()  # not ready: no server may outlive the test that started it
        self.process.wait(timeout=10)
        raise RuntimeError(f"ripple serve not ready in {timeout}s: {self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no snapshot — the crash we must survive."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
