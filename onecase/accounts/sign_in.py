"""What a failed sign-in keeps of the typed username: a keyed hash, never the text.

Someone may type their password into the username box; the audit trail and the lockout
records must not keep it. The hash is an HMAC keyed by SECRET_KEY, so it cannot be
reversed by trying common passwords without the key, and the same username always gives
the same hash, so lockout by username still works.
"""

from django.utils.crypto import salted_hmac

HASH_SALT = "onecase.accounts.sign_in.typed_username"


def typed_username_hash(username: str) -> str:
    """HMAC-SHA256 of ``username`` keyed by SECRET_KEY, the first 32 hex digits."""
    return salted_hmac(HASH_SALT, str(username), algorithm="sha256").hexdigest()[:32]


def axes_username(request, credentials=None) -> str | None:
    """django-axes' AXES_USERNAME_CALLABLE: the hash of the typed username, or None if none was typed."""
    if credentials:
        username = credentials.get("username")
    else:
        username = getattr(request, "data", request.POST).get("username") if request is not None else None
    return None if username is None else typed_username_hash(username)
