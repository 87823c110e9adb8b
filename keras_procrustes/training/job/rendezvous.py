"""The processes of a job meet before `jax.distributed` starts: each id once, all within a bound.

`jax.distributed.initialize` waits for a missing process for its whole
`initialization_timeout` and then aborts with a C++ stack trace; two
processes with one id, or a coordinator port held by another program, abort
or hang likewise. So before it starts, process 0 listens on the
coordinator's port and every other process says hello (its id and the job's
size). Process 0 answers all of them with one verdict: a refusal reaches
every process, and every process ends within `timeout` seconds (a few more
for one that waits for the verdict) with one line naming what is wrong: the
missing process, the duplicate id, the busy port, or the silent coordinator.
Then process 0 closes the port, and `jax.distributed` starts on it.
"""

import json
import socket
import time

from keras_procrustes.training.errors import OptionError

INIT_TIMEOUT = 120
"""Seconds each process of a job waits for the others by default (`--init-timeout`)."""

MAGIC = "keras_procrustes-job/1"
# A process that has said hello waits this much longer than `timeout` for
# process 0's verdict, so that process 0, which started later, can answer.
VERDICT_MARGIN_S = 3.0
_POLL_S = 0.2


def meet(coordinator, num_processes, process_id, timeout):
    """Waits until every process of the job is there, or refuses on all of them.

    Args:
        coordinator: `"HOST:PORT"` of process 0.
        num_processes: processes in the job.
        process_id: this process's id, 0 to `num_processes - 1`.
        timeout: seconds to wait for the others.

    Raises:
        OptionError: naming `coordinator` (a busy port, a silent process 0),
            `process_id` (an id started twice) or `num_processes` (missing
            processes, or another job size on process 0).
    """
    host, _, port = coordinator.rpartition(":")
    if num_processes == 1:
        return
    if process_id == 0:
        _gather(host.strip("[]"), int(port), coordinator, num_processes, timeout)
    else:
        _join(host.strip("[]"), int(port), coordinator, num_processes, process_id, timeout)


def _gather(host, port, coordinator, num_processes, timeout):
    """Process 0: listens, collects every hello, answers every one."""
    server = _listen(port, coordinator)
    deadline = time.monotonic() + timeout
    joined, error = {}, None
    try:
        while error is None and len(joined) < num_processes - 1:
            left = deadline - time.monotonic()
            if left <= 0:
                missing = sorted(set(range(1, num_processes)) - set(joined))
                error = OptionError("num_processes", num_processes, (
                    f"process{'es' if len(missing) > 1 else ''} "
                    f"{', '.join(map(str, missing))} did not join within {timeout:g} s "
                    f"(--init-timeout); start every process 0 to {num_processes - 1} with "
                    f"--coordinator {coordinator}"))
                break
            server.settimeout(min(left, _POLL_S * 5))
            try:
                connection, _ = server.accept()
            except socket.timeout:
                continue
            error = _admit(connection, joined, num_processes, deadline)
        verdict = {"magic": MAGIC, "error": None if error is None else
                   [error.option, error.value, error.requirement]}
        for connection in joined.values():
            _send(connection, verdict)
        for connection in joined.values():
            _await_close(connection)
    finally:
        for connection in joined.values():
            connection.close()
        server.close()
    if error is not None:
        raise error


def _listen(port, coordinator):
    """A listening socket on every address of the coordinator's port."""
    for family, address in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        try:
            server = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue
        try:
            if family == socket.AF_INET6:
                server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((address, port))
            server.listen(64)
            return server
        except OSError as error:
            server.close()
            if error.errno in (98, 48, 10048):  # EADDRINUSE: Linux, macOS, Windows
                raise OptionError("coordinator", coordinator, (
                    f"port {port} is in use on this host (another program, another job, or "
                    "a second process started with --process-id 0); pick a free port "
                    "for every process of the job")) from None
    raise OptionError("coordinator", coordinator, f"process 0 can't listen on port {port}")


def _admit(connection, joined, num_processes, deadline):
    """Reads one hello into `joined`; returns the job's refusal, or `None`."""
    hello = _receive(connection, min(deadline, time.monotonic() + 5))
    if hello is None:  # not one of ours (a port probe): ignore it
        connection.close()
        return None
    process_id, size = hello.get("process_id"), hello.get("num_processes")
    if process_id in joined:
        joined[f"duplicate-{len(joined)}"] = connection
        return OptionError("process_id", process_id, (
            f"two processes of the job were started with --process-id {process_id}; give "
            f"each its own id, 0 to {num_processes - 1}"))
    joined[process_id] = connection
    if size != num_processes:
        return OptionError("num_processes", size, (
            f"process 0 started a job of {num_processes} processes; pass the same "
            "--num-processes to every process"))
    return None


def _join(host, port, coordinator, num_processes, process_id, timeout):
    """Any other process: says hello to process 0 and waits for its verdict."""
    deadline = time.monotonic() + timeout
    connection = None
    while connection is None:
        try:
            connection = socket.create_connection((host, port), timeout=_POLL_S * 5)
        except OSError:
            if time.monotonic() > deadline:
                raise _silent(coordinator, timeout) from None
            time.sleep(_POLL_S)
    with connection:
        _send(connection, {"magic": MAGIC, "process_id": process_id,
                           "num_processes": num_processes})
        verdict = _receive(connection, deadline + VERDICT_MARGIN_S)
    if verdict is None:
        raise _silent(coordinator, timeout)
    if verdict["error"] is not None:
        raise OptionError(*verdict["error"])


def _silent(coordinator, timeout):
    return OptionError("coordinator", coordinator, (
        f"process 0 (the coordinator) did not answer within {timeout:g} s (--init-timeout): "
        "start it with --process-id 0, or check the address (is the port held by another "
        "program?)"))


def _send(connection, message):
    try:
        connection.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        pass  # the other side ended; it reports for itself


def _await_close(connection):
    """Waits (briefly) for the other side to close first, so the port is free again."""
    try:
        connection.settimeout(1)
        connection.recv(1)
    except OSError:
        pass


def _receive(connection, deadline):
    """One JSON line of this protocol, or `None` (nothing, garbage or too late)."""
    data = b""
    while not data.endswith(b"\n") and len(data) < 4096:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        connection.settimeout(left)
        try:
            chunk = connection.recv(4096)
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    try:
        message = json.loads(data)
    except ValueError:
        return None
    return message if isinstance(message, dict) and message.get("magic") == MAGIC else None
