"""The native-messaging host: read framed requests on stdin, answer framed replies on stdout.

Only frames ever reach the real stdout: at start the host keeps a private copy of it and points file
descriptors 1 and 2 at its log file, so a stray print, a warning or a traceback lands in the log instead of
corrupting the stream the browser reads.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, BinaryIO

from artshade import paths

from .caller import Caller, identify
from .errors import Code, HostError
from .framing import EndOfStream, FrameTooLarge, encode_frame, read_frame
from .handlers import ACTIONS, check_protocol

log = logging.getLogger(__name__)

LOG_NAME = "native-host.log"
LOG_ROTATE_BYTES = 1024 * 1024
MAX_REQUEST_ID = 128


def _error(base: dict[str, Any], err: HostError) -> dict[str, Any]:
    return {**base, "ok": False, **err.extra, "error": {"code": int(err.code), "message": err.message}}


def handle(payload: bytes, caller: Caller) -> dict[str, Any]:
    """Turn one request payload into its reply (never raises)."""
    base: dict[str, Any] = {"action": None, "request_id": None}
    try:
        try:
            request = json.loads(payload.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise HostError(Code.MALFORMED, "message is not valid UTF-8") from err
        except (ValueError, RecursionError) as err:
            raise HostError(Code.MALFORMED, f"message is not valid JSON: {str(err)[:100]}") from err
        if not isinstance(request, dict):
            raise HostError(Code.MALFORMED, f"message must be a JSON object, not {type(request).__name__}")
        request_id = request.get("request_id")
        if isinstance(request_id, str) and len(request_id) <= MAX_REQUEST_ID:
            base["request_id"] = request_id
        action = request.get("action")
        if not isinstance(action, str):
            raise HostError(Code.MALFORMED, "message has no string 'action'")
        base["action"] = action[:64]
        caller.require_allowed()
        handler = ACTIONS.get(action)
        if handler is None:
            raise HostError(
                Code.UNKNOWN_ACTION, f"unknown action {action[:64]!r}; known: {', '.join(ACTIONS)}"
            )
        check_protocol(request, required=False)
        return {**base, "ok": True, **handler(request, caller)}
    except HostError as err:
        log.info("%s -> error %d: %s", base["action"], err.code, err.message)
        return _error(base, err)
    except Exception:
        log.exception("internal error handling %s", base["action"])
        return _error(
            base, HostError(Code.INTERNAL, "internal error in the artshade host (see native-host.log)")
        )


def _send(out: BinaryIO, reply: dict[str, Any]) -> None:
    try:
        frame = encode_frame(reply)
    except (ValueError, TypeError):
        log.exception("reply to %s could not be sent", reply.get("action"))
        base = {"action": reply.get("action"), "request_id": reply.get("request_id")}
        frame = encode_frame(_error(base, HostError(Code.INTERNAL, "reply too large or not serialisable")))
    out.write(frame)
    out.flush()


def serve(argv: Sequence[str], stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Answer requests until the browser closes the stream; returns the exit status."""
    caller = identify(argv)
    log.info(
        "host started for %s (%s, %s)",
        caller.description,
        caller.browser,
        "allowed" if caller.allowed else "NOT allowed",
    )
    while True:
        try:
            payload = read_frame(stdin)
        except EndOfStream:
            log.info("stream closed; exiting")
            return 0
        except FrameTooLarge as err:
            log.warning("%s; replying and exiting", err)
            _send(stdout, _error({"action": None, "request_id": None}, HostError(Code.TOO_LARGE, str(err))))
            return 0
        _send(stdout, handle(payload, caller))


def _redirect_stdio_to_log() -> BinaryIO:
    """Keep a private handle on the real stdout; point fds 1 and 2 at the host log. Returns the handle."""
    log_path = paths.ensure(paths.log_dir()) / LOG_NAME
    try:
        if log_path.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(log_path, log_path.with_name(LOG_NAME + ".1"))  # log rotation, not a write
    except OSError:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    real_stdout = os.fdopen(os.dup(1), "wb")
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    if sys.platform == "win32":  # pragma: no cover - no newline translation on Windows pipes
        import msvcrt

        msvcrt.setmode(sys.stdin.fileno(), os.O_BINARY)
        msvcrt.setmode(real_stdout.fileno(), os.O_BINARY)
    return real_stdout


def run(argv: Sequence[str]) -> int:
    """Entry point of ``artshade native-host``: wire up stdio and logging, then serve."""
    stdout = _redirect_stdio_to_log()
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(stream=sys.stderr)
    for handler in root.handlers:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s [{os.getpid()}] %(name)s %(levelname)s: %(message)s")
        )
    root.setLevel(logging.INFO)
    try:
        return serve(argv, sys.stdin.buffer, stdout)
    except BrokenPipeError:
        log.info("browser closed the pipe")
        return 0
