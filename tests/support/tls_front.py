"""The documented HTTPS exposure of the Cloud API webhook, for tests: nginx terminating TLS in
front of the daemon (docs/daemon-exposure.md), with a self-signed certificate made here for
`127.0.0.1`. `front.url` is the https base; `front.ssl_context()` trusts the certificate.

nginx is a Debian package of the bootstrap (`nginx-light`); the test that needs it fails
(rather than skips) when it is missing under SUPERPARTY_REQUIRE_TOOLS, like the other tools.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.certs import self_signed as self_signed_certificate
from tests.support.daemon import free_port

# The proxy block the docs show, verbatim in spirit: the body and the signature header pass
# untouched, the client address is forwarded for the logs.
CONF = """
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
        client_max_body_size 4m;
        # kept in memory: nginx's workers (nobody) cannot write into the test's private folder
        client_body_buffer_size 4m;
        location /webhooks/whatsapp-cloud/ {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
        }}
        location / {{ return 404; }}
    }}
}}
"""


def self_signed(root: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed_certificate(key, "127.0.0.1", ip="127.0.0.1", ca=True)
    cert_path = root / "cert.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path


@dataclass
class TlsFront:
    root: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.root / "cert.pem"))


def nginx_binary() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


def tls_front(root: Path, upstream_port: int, nginx: str) -> Iterator[TlsFront]:
    root.mkdir(parents=True, exist_ok=True)
    self_signed(root)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(CONF.format(root=root, port=port, upstream=upstream_port))
    proc = subprocess.Popen(
        [nginx, "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"nginx did not start: {err}") from None
                time.sleep(0.05)
        yield TlsFront(root, port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
