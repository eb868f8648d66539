"""Who calls the server: a bearer token from the config's `[[serve.tokens]]`, each bound to
an agent whose role decides what the token may do.

The config holds a token's SHA-256 only, so whoever reads the config cannot call the server
with it; the token itself is shown once, when `cxdesk serve token` mints it. A presented
token is hashed and compared with every known hash in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cxdesk.config import ServeToken
from cxdesk.i18n import say
from cxdesk.web.answers import HttpError

TOKEN_PREFIX = "cxd_"  # tells a cxdesk token apart where one turns up (a log, a paste)
TOKEN_BYTES = 32
_CHALLENGE = 'Bearer realm="cxdesk"'


def mint_token() -> tuple[str, str]:
    """A new random token and the SHA-256 (hex) the config keeps of it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class Tokens:
    """The configured tokens: a presented one's login, if it is one of them."""

    def __init__(self, tokens: list[ServeToken]) -> None:
        self._known = [(bytes.fromhex(t.sha256), t.login) for t in tokens]

    def login_of(self, authorization: str | None) -> tuple[str, str]:
        """The login and token hash of an `Authorization: Bearer …` header; 401 without one,
        or for a token that is none of these. Every hash is compared, each in constant
        time, so the time taken tells nothing of which came close."""
        token = _bearer(authorization)
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found = None
        for known, login in self._known:
            if hmac.compare_digest(digest, known):
                found = login
        if found is None:
            raise HttpError(
                401,
                "invalid_token",
                say("the bearer token is not one this server knows"),
                where="Authorization",
                headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
            )
        return found, digest.hex()


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HttpError(
            401,
            "token_required",
            say("a bearer token is required: Authorization: Bearer TOKEN"),
            where="Authorization",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    return token
