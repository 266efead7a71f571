"""The interception CA carries Wardgate's name; one already in the confdir is kept; mitmproxy signs with it."""

from cryptography import x509
from cryptography.x509.oid import NameOID
from mitmproxy.certs import CertStore

from wardgate.intercept.ca import CA_COMMON_NAME, CA_ORGANIZATION, ensure_ca


def names(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in certificate.subject.get_attributes_for_oid(oid)]


def test_a_new_ca_is_named_after_wardgate_and_mitmproxy_signs_with_it(tmp_path):
    path = ensure_ca(tmp_path / "ca")
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    assert names(certificate, NameOID.COMMON_NAME) == [CA_COMMON_NAME] == ["Wardgate interception CA"]
    assert names(certificate, NameOID.ORGANIZATION_NAME) == [CA_ORGANIZATION] == ["Wardgate"]
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # What mitmproxy's TLS addon does with the confdir: load this CA (not create its own) and sign leaves with it.
    store = CertStore.from_store(tmp_path / "ca", "mitmproxy", 2048)
    leaf = store.get_cert("api.openai.com", [x509.DNSName("api.openai.com")]).cert
    assert leaf.issuer == store.default_ca.subject
    assert store.default_ca.cn == CA_COMMON_NAME
    assert store.default_ca.organization == CA_ORGANIZATION


def test_an_existing_ca_is_kept(tmp_path):
    CertStore.from_store(tmp_path, "mitmproxy", 2048)  # created by mitmproxy, e.g. before this change
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    path = ensure_ca(tmp_path)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before
    assert names(x509.load_pem_x509_certificate(path.read_bytes()), NameOID.COMMON_NAME) == ["mitmproxy"]
