"""Runs the official Soniox Python SDK, unchanged, against the soniox-emulator binary.

Only the SDK's base URL points at the emulator. Covered: upload, create with a webhook, wait,
the transcript, list with pagination, delete, and the SDK's error classes for 400/401/404/409.

Run it (the SDK version is pinned; the script exits non-zero on the first failure):

    python3 -m venv .venv && .venv/bin/pip install soniox==2.10.0
    cargo build -p soniox-emulator
    SONIOX_EMULATOR_BIN=target/debug/soniox-emulator .venv/bin/python crates/soniox-emulator/tests/compat/python_sdk.py
"""

from __future__ import annotations

import http.server
import os
import struct
import subprocess
import sys
import threading
import urllib.request

from soniox import SonioxClient
from soniox.errors import (
    SonioxAuthenticationError,
    SonioxConflictError,
    SonioxInvalidRequestError,
    SonioxNotFoundError,
)
from soniox.types import WebhookAuthConfig

API_KEY = "compat-key"
WEBHOOK_AUTH = WebhookAuthConfig(name="X-Soniox-Webhook-Secret", value="compat-secret")


def wav(milliseconds: int) -> bytes:
    rate = 16_000
    data = b"".join(struct.pack("<h", (i % 64) * 100) for i in range(rate * milliseconds // 1000))
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(data)) + data


class Receiver(http.server.BaseHTTPRequestHandler):
    """Records webhook deliveries verified by the SDK's own webhook helper."""

    events: list = []
    arrived = threading.Condition()
    client: SonioxClient | None = None

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        event = self.client.webhooks.unwrap(body, dict(self.headers), auth=WEBHOOK_AUTH)
        with self.arrived:
            self.events.append((self.path, event))
            self.arrived.notify_all()
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def advance(base_url: str) -> None:
    request = urllib.request.Request(
        f"{base_url}/_emulator/jobs/advance",
        method="POST",
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200


def expect(error_class: type, action) -> None:
    try:
        action()
    except error_class:
        return
    raise AssertionError(f"expected {error_class.__name__}")


def main() -> int:
    binary = os.environ["SONIOX_EMULATOR_BIN"]
    emulator = subprocess.Popen(
        [binary, "--addr", "127.0.0.1:0", "--api-key", API_KEY, "--processing", "manual",
         "--webhook-retry-schedule", "0s,100ms", "--log-level", "warn"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = emulator.stdout.readline().strip()
        assert line.startswith("listening on http://"), line
        base_url = line.removeprefix("listening on ")
        client = SonioxClient(api_key=API_KEY, api_base_url=f"{base_url}/v1")
        Receiver.client = client
        receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        hook = f"http://127.0.0.1:{receiver.server_port}/hooks/soniox?order=1234&note=a%20b"

        created = client.stt.transcribe_file_with_webhook(
            file=wav(2_000), filename="speech.wav", webhook_url=hook, webhook_auth=WEBHOOK_AUTH
        )
        assert created.status == "queued", created
        assert created.filename == "speech.wav"
        expect(SonioxConflictError, lambda: client.stt.get_transcript(created.id))
        expect(SonioxConflictError, lambda: client.stt.delete(created.id))
        advance(base_url)
        advance(base_url)
        done = client.stt.wait(created.id, interval_sec=0.05, timeout_sec=10)
        assert done.status == "completed", done
        assert done.audio_duration_ms == 2_000, done

        with Receiver.arrived:
            assert Receiver.arrived.wait_for(lambda: Receiver.events, timeout=10), "no webhook"
        path, event = Receiver.events[0]
        assert path == "/hooks/soniox?order=1234&note=a%20b", path
        assert event.id == created.id and event.status == "completed", event

        transcript = client.stt.get_transcript(created.id)
        assert transcript.text and transcript.tokens, transcript
        assert "".join(token.text for token in transcript.tokens) == transcript.text

        uploaded = client.files.upload(wav(500), filename="more.wav")
        ids = {created.id}
        for _ in range(4):
            ids.add(client.stt.create(file_id=uploaded.id).id)
        advance(base_url)
        advance(base_url)
        listed = {transcription.id for transcription in client.stt.list_all(limit=2)}
        assert listed == ids, (listed, ids)
        assert len(list(client.files.list_all(limit=1))) == 2
        assert client.stt.count().total == 5

        expect(SonioxInvalidRequestError, lambda: client.stt.create(model="stt-rt-v4", file_id=uploaded.id))
        expect(SonioxNotFoundError, lambda: client.stt.get("b6f6b6b2-4a34-4a25-9ef6-0d3f0b5f9c11"))
        wrong = SonioxClient(api_key="wrong-key", api_base_url=f"{base_url}/v1")
        expect(SonioxAuthenticationError, lambda: wrong.files.list())

        for transcription_id in ids:
            client.stt.delete(transcription_id)
        client.files.delete_all()
        assert client.stt.count().total == 0 and client.files.count().total == 0
        receiver.shutdown()
        print("python SDK compatibility: ok")
        return 0
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
