"""Users' webhooks over TLS (issue 13): the POST goes to the address checked after DNS, yet the
certificate is verified against the URL's name, and a connection verified for one name is
never reused for another on the same address."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from services import webhook_http
from settings import Settings
from tests.serving import served

LOCAL_SETTINGS = Settings(webhooks_allow_private=True)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for the name `localhost` only (not for 127.0.0.1)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def echo_host(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"host={request.headers['host']}")


async def test_tls_is_verified_against_the_name_not_the_address(
    certificate: tuple[Path, Path],
) -> None:
    cert_file, key_file = certificate
    app = Starlette(routes=[Route("/hook", echo_host, methods=["POST"])])
    trust = ssl.create_default_context(cafile=str(cert_file))
    async with (
        served(app, ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as (base, _),
        webhook_http.clients(LOCAL_SETTINGS, trust) as clients,
    ):
        port = base.rsplit(":", 1)[1]
        by_name = await webhook_http.post(
            LOCAL_SETTINGS, clients, f"https://localhost:{port}/hook", b"{}", {}
        )
        assert (by_name.status_code, by_name.excerpt) == (200, f"host=localhost:{port}")
        # The same address under a name the certificate does not hold: refused, although a
        # connection to that address, verified for `localhost`, is open.
        with pytest.raises(
            aiohttp.ClientConnectorCertificateError, match="CERTIFICATE_VERIFY_FAILED"
        ):
            await webhook_http.post(
                LOCAL_SETTINGS, clients, f"https://127.0.0.1:{port}/hook", b"{}", {}
            )
