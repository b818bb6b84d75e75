"""Secure channels: the policy classes, and the client's identity taken from its certificate."""

from __future__ import annotations

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies, uacrypto
from cryptography import x509

from .config import OpcUaSettings

POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256_Sha256_RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}


async def apply_security(client: Client, settings: OpcUaSettings) -> None:
    """Set up signing/encryption on ``client`` before it connects (no-op for ``None``).

    The client's application URI becomes the one in its certificate (servers compare them);
    without a pinned ``server_certificate`` asyncua fetches the server's from its endpoints.
    """
    if not settings.secure or settings.certificate is None or settings.private_key is None:
        return
    uri = settings.application_uri or await certificate_uri(settings)
    if uri:
        client.application_uri = uri
    await client.set_security(
        POLICIES[settings.security_policy],
        str(settings.certificate),
        str(settings.private_key),
        settings.private_key_password,
        str(settings.server_certificate) if settings.server_certificate else None,
        mode=ua.MessageSecurityMode[settings.security_mode],
    )


async def certificate_uri(settings: OpcUaSettings) -> str | None:
    """The URI in the client certificate's subjectAltName, if it has one."""
    if settings.certificate is None:
        return None
    cert = await uacrypto.load_certificate(str(settings.certificate))
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None
