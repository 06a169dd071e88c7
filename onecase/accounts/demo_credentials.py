"""The published demo credentials (docs/demo.md). Local demos only: production refuses them."""

import base64
import hmac
import os

PASSWORD_ENV = "ONECASE_DEMO_PASSWORD"  # noqa: S105  # nosec B105
# A fixed, documented password for local demos; never for a system holding real data.
DEFAULT_PASSWORD = "onecase-demo-only"  # noqa: S105  # nosec B105
# Every demo account shares this documented authenticator key; local demos only.
DEMO_TOTP_SECRET = "ONECASEDEMOKEYFORLOCALUSEONLY234"  # noqa: S105  # nosec B105


def demo_device_key() -> str:
    """The demo authenticator's key, in the hex form django-otp stores."""
    return base64.b32decode(DEMO_TOTP_SECRET).hex()


def is_demo_password(password: str) -> bool:
    """Is ``password`` the published demo password, or this installation's ``ONECASE_DEMO_PASSWORD``?"""
    candidates = [DEFAULT_PASSWORD, os.environ.get(PASSWORD_ENV, "")]
    given = (password or "").encode()
    return any(c and hmac.compare_digest(given, c.encode()) for c in candidates)


def is_demo_device_key(key: str) -> bool:
    """Is ``key`` (hex, as django-otp stores it) the published demo authenticator key?"""
    return hmac.compare_digest((key or "").lower().encode(), demo_device_key().encode())
