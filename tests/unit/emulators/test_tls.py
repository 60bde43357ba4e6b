"""The emulator CA and server certificate: verifiable, reused, and honoured by requests."""

from __future__ import annotations

import ssl

import requests
from fastapi import FastAPI

from lesync.emulators.server import serve_in_thread
from lesync.emulators.tls import ensure_certificates


def test_certificates_are_created_once_and_reused(tmp_path):
    first = ensure_certificates(tmp_path)
    pem = first.ca_file.read_bytes()
    second = ensure_certificates(tmp_path)
    assert second == first
    assert second.ca_file.read_bytes() == pem
    assert oct(first.key_file.stat().st_mode & 0o777) == "0o600"


def test_https_server_verifies_against_the_ca_only(tmp_path):
    certs = ensure_certificates(tmp_path)
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict:
        return {"pong": True}

    server = serve_in_thread(app, ssl_certfile=str(certs.cert_file), ssl_keyfile=str(certs.key_file))
    try:
        assert server.url.startswith("https://127.0.0.1:")
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
        session.verify = str(certs.ca_file)
        assert session.get(f"{server.url}/ping").json() == {"pong": True}
        ssl_context = ssl.create_default_context()  # system CAs: must not trust the emulator
        untrusting = requests.Session()
        untrusting.trust_env = False
        untrusting.verify = ssl.get_default_verify_paths().cafile or True
        try:
            untrusting.get(f"{server.url}/ping")
            raise AssertionError("a client without the emulator CA must not connect")
        except requests.exceptions.SSLError:
            pass
        assert ssl_context.verify_mode == ssl.CERT_REQUIRED
    finally:
        server.stop()


def test_a_public_host_goes_into_the_certificate_and_the_urls(tmp_path):
    from cryptography import x509

    from lesync.emulators.liveperson import LivePersonEmulatorConfig, start_liveperson
    from lesync.emulators.salesforce import start_salesforce

    ensure_certificates(tmp_path / "tls")  # made first without the name: must be made again
    liveperson = start_liveperson(
        LivePersonEmulatorConfig(conversations=10), data_dir=tmp_path, host="0.0.0.0", public_host="emulators"
    )
    salesforce = start_salesforce(data_dir=tmp_path, host="0.0.0.0", public_host="emulators")
    try:
        cert = x509.load_pem_x509_certificate((tmp_path / "tls" / "server.pem").read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "emulators" in names.get_values_for_type(x509.DNSName)
        assert liveperson.connection_info()["domain_api_url"] == f"https://emulators:{liveperson.server.port}"
        assert liveperson.state.public_domain == f"emulators:{liveperson.server.port}"
        assert salesforce.connection_info()["instance_url"].startswith("https://emulators:")
        session = requests.Session()
        session.trust_env, session.verify = False, str(tmp_path / "tls" / "ca.pem")
        assert session.get(
            f"https://127.0.0.1:{salesforce.server.port}/services/data/"
        ).ok  # loopback still valid
    finally:
        liveperson.stop()
        salesforce.stop()
