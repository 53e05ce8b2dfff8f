"""Real servers for tests, started on loopback by the tests themselves and stopped at the end.

- ``postgres_server`` (session): a PostgreSQL cluster from Debian's ``postgresql`` package. ``initdb`` refuses to
  run as root, so as root ``initdb`` and ``pg_ctl`` run as the ``postgres`` user (created when missing) in a
  folder that user owns; a free loopback port, password authentication, no fsync. ``postgres_url`` (per test)
  is a fresh database on it: ``postgresql://kit:PASSWORD@127.0.0.1:PORT/<db>``.
- ``dask_cluster`` (per test): ``dask scheduler`` and one ``dask worker --nthreads 1`` on loopback, as separate
  processes; yields the scheduler address ``tcp://127.0.0.1:PORT``. The worker's environment carries
  ``KIT_TEST_WORKER=kit-test-worker``, so a test can tell that a run ran there.

Outside CI a server that cannot start skips its tests with the reason; with ``CI=true`` they fail instead.
A test module uses the fixtures by importing them: ``from servers import postgres_url``.
"""
from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest


def unavailable(reason: str, what: str = "server test"):
    """Skip with ``reason`` on a developer's machine; in CI (``CI=true``) the server tests (and the browser
    test, ``what``) must run, so fail."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} cannot run in CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``cmd`` as the ``postgres`` user when we are root (``initdb`` refuses root), else as ourselves."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _postgres_user() -> None:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"],
                              capture_output=True, text=True)
        if made.returncode:
            unavailable(f"no postgres user and useradd failed: {made.stderr.strip()}")


@pytest.fixture(scope="session")
def postgres_server():
    """A running PostgreSQL cluster on loopback: yields ``(host, port, user, password)``; stopped at the end."""
    bindir = _pg_bindir()
    if bindir is None:
        unavailable("PostgreSQL server binaries not found (apt-get install postgresql)")
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            unavailable("running as root without runuser: cannot start initdb as the postgres user")
        _postgres_user()
    folder = Path(tempfile.mkdtemp(prefix="kit-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    password = secrets.token_hex(8)
    (folder / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder / "pwfile", "postgres")
    data, port = folder / "data", free_port()
    init = _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "kit", "--pwfile", str(folder / "pwfile"),
                         "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"], folder)
    if init.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        unavailable(f"initdb failed: {(init.stderr or init.stdout).strip()[-400:]}")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=60"
    start = _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
                          "-t", "60", "-o", options, "start"], folder)
    if start.returncode:
        log = (folder / "server.log").read_text(errors="replace")[-400:] if (folder / "server.log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        unavailable(f"pg_ctl start failed: {(start.stderr or start.stdout).strip()[-300:]} {log}")
    try:
        yield "127.0.0.1", port, "kit", password
    finally:
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the test cluster: a plain ``postgresql://kit:PASSWORD@127.0.0.1:PORT/DB`` URL."""
    import psycopg

    host, port, user, password = postgres_server
    name = f"t_{secrets.token_hex(4)}"
    with psycopg.connect(host=host, port=port, user=user, password=password, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://{user}:{password}@{host}:{port}/{name}"
    with psycopg.connect(host=host, port=port, user=user, password=password, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _dask(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "dask", *args]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def dask_cluster(tmp_path):
    """``dask scheduler`` and one ``dask worker --nthreads 1`` on loopback (separate processes, working in their own
    folder); yields the scheduler's address. Both are stopped at the end."""
    pytest.importorskip("distributed")
    folder = tmp_path / "dask"
    folder.mkdir()
    info = folder / "scheduler.json"
    # the logs stay open while the processes run, closed once both are stopped
    with open(folder / "scheduler.log", "w") as scheduler_log, open(folder / "worker.log", "w") as worker_log:
        scheduler = subprocess.Popen(_dask("scheduler", "--host", "127.0.0.1", "--port", str(free_port()),
                                           "--no-dashboard", "--scheduler-file", str(info)),
                                     cwd=folder, stdout=scheduler_log, stderr=subprocess.STDOUT)
        worker = None
        try:
            for _ in range(600):
                if info.is_file() and info.stat().st_size:
                    break
                if scheduler.poll() is not None:
                    unavailable(f"dask scheduler exited: {(folder / 'scheduler.log').read_text()[-400:]}")
                time.sleep(0.1)
            else:
                unavailable("dask scheduler wrote no scheduler file within 60 s")
            address = json.loads(info.read_text())["address"]
            worker = subprocess.Popen(_dask("worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                                            "--host", "127.0.0.1", "--name", "kit-test-worker",
                                            "--local-directory", str(folder / "worker")),
                                      cwd=folder, env={**os.environ, "KIT_TEST_WORKER": "kit-test-worker"},
                                      stdout=worker_log, stderr=subprocess.STDOUT)
            from distributed import Client

            with Client(address, timeout="30s") as client:
                try:
                    client.wait_for_workers(1, timeout=90)
                except TimeoutError:
                    unavailable(f"dask worker did not join: {(folder / 'worker.log').read_text()[-400:]}")
            yield address
        finally:
            if worker is not None:
                _stop(worker)
            _stop(scheduler)
