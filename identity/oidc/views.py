"""The OpenID Connect adapter that verifies every ID token, and its two views.

allauth's adapter skips the ID token's signature when it fetched the token
itself over TLS (OpenID Connect Core 3.1.3.7 allows it). We verify it
always: the token endpoint's TLS may end at a proxy we do not control, a
misconfigured issuer URL may be plain HTTP, and a signature check costs one
cached key look-up. Verified are the signature (only an asymmetric
algorithm the discovery document lists, with a key from its JWKS; never
"none" nor HS*, which would make the client secret a signing key), the
issuer (the configured one, as the discovery document must repeat it), the
audience (our client id; azp too when there are several), and the expiry.
"""

from __future__ import annotations

import json

import jwt
import requests
from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from allauth.utils import build_absolute_uri
from django.http import Http404, HttpRequest
from django.urls import reverse

from identity.config import PROVIDER

# Asymmetric signatures only: with HS* the client secret would sign.
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# Clock skew between us and the identity provider, in seconds.
LEEWAY = 30
DISCOVERY_PATH = "/.well-known/openid-configuration"


class VerifyingOIDCAdapter(OpenIDConnectOAuth2Adapter):
    @property
    def openid_config(self) -> dict:
        """The discovery document, refused unless it names the configured issuer.

        (OpenID Connect Discovery 4.3: otherwise a document could send the
        ID token checks to another issuer's keys.) Fetched with allauth's
        requests session, which has SOCIALACCOUNT_REQUESTS_TIMEOUT.
        """
        if not hasattr(self, "_openid_config"):
            issuer = self.get_provider().app.settings["server_url"]
            url = issuer.rstrip("/") + DISCOVERY_PATH
            try:
                with get_adapter().get_requests_session() as session:
                    response = session.get(url)
                    response.raise_for_status()
                    config = response.json()
            except (requests.RequestException, ValueError) as error:
                raise OAuth2Error(f"discovery document unavailable: {error}") from error
            if config.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
                raise OAuth2Error("the discovery document names another issuer")
            self._openid_config = config
        return self._openid_config

    def signing_algorithms(self) -> list[str]:
        """The asymmetric algorithms the provider says it signs ID tokens with."""
        listed = self.openid_config.get("id_token_signing_alg_values_supported") or ["RS256"]
        return [alg for alg in listed if alg in ALLOWED_ALGORITHMS]

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict:
        """The verified claims of ``id_token``; OAuth2Error for any fault."""
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as error:
            raise OAuth2Error("ID token is not a JWT") from error
        alg = header.get("alg")
        algorithms = self.signing_algorithms()
        if alg not in algorithms:
            raise OAuth2Error(f"ID token signed with {alg!r}, not one of {algorithms}")
        key = self._signing_key(header, alg)
        try:
            claims = jwt.decode(
                id_token,
                key=key,
                algorithms=[alg],
                audience=app.client_id,
                issuer=self.openid_config["issuer"],
                leeway=LEEWAY,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise OAuth2Error(f"ID token refused: {error}") from error
        # Core 3.1.3.7 (4, 5): with several audiences, azp must be us.
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != app.client_id:
            raise OAuth2Error("ID token has several audiences and was not issued to us")
        # A token seen before (same issuer and jti) is a replay.
        jwtkit.verify_jti(claims)
        return claims

    def _signing_key(self, header: dict, alg: str):
        """The JWKS key the header names (by kid; the one key if it names none)."""
        try:
            with get_adapter().get_requests_session() as session:
                response = session.get(self.openid_config["jwks_uri"])
                response.raise_for_status()
                keys = response.json().get("keys", [])
        except (requests.RequestException, ValueError, KeyError, AttributeError) as error:
            raise OAuth2Error(f"signing keys unavailable: {error}") from error
        kid = header.get("kid")
        candidates = [
            key
            for key in keys
            if isinstance(key, dict)
            and (key.get("kid") == kid if kid else True)
            and key.get("use", "sig") == "sig"
        ]
        if len(candidates) != 1:
            raise OAuth2Error(f"no single signing key for kid {kid!r}")
        if candidates[0].get("alg", alg) != alg:
            raise OAuth2Error(f"key {kid!r} is for {candidates[0]['alg']}, not {alg}")
        try:
            return jwt.PyJWK.from_json(json.dumps(candidates[0]), algorithm=alg).key
        except jwt.PyJWTError as error:
            raise OAuth2Error(f"signing key unusable for {alg}: {error}") from error

    def get_callback_url(self, request: HttpRequest, app) -> str:
        url = reverse(f"{PROVIDER}_callback", kwargs={"provider_id": self.provider_id})
        return build_absolute_uri(request, url, self.redirect_uri_protocol)


@login_not_required
def login(request: HttpRequest, provider_id: str):
    try:
        view = OAuth2LoginView.adapter_view(VerifyingOIDCAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404("No such sign-in.") from None


@login_not_required
def callback(request: HttpRequest, provider_id: str):
    try:
        view = OAuth2CallbackView.adapter_view(VerifyingOIDCAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404("No such sign-in.") from None
