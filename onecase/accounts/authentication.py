"""API authentication: knox tokens sent as ``Authorization: Token <secret>``."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication


class ApiTokenAuthentication(TokenAuthentication):
    """Knox checks the secret against its stored digest and refuses expired or revoked tokens
    (401 with ``WWW-Authenticate: Token``); this also notes when each token was last used."""

    def validate_user(self, auth_token):
        user, token = super().validate_user(auth_token)
        token.mark_used()
        return user, token


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI description names the token scheme (as before the tokens were hashed)."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header(None)
        )
