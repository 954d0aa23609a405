"""allauth's OpenID Connect provider with our adapter, under its own id ("oidc").

allauth loads ``provider_classes`` from every installed app's provider.py;
its own openid_connect app is not installed, so this is the only OIDC
provider and its URLs are ours (urls.py).
"""

from __future__ import annotations

from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider

from identity.config import PROVIDER

from .views import VerifyingOIDCAdapter


class VerifyingOIDCProvider(OpenIDConnectProvider):
    id = PROVIDER
    name = "OpenID Connect"
    oauth2_adapter_class = VerifyingOIDCAdapter
    # No sign-in by handing an ID token to an API (allauth's headless mode,
    # not used here): only the browser flow, whose token we fetch ourselves.
    supports_token_authentication = False


provider_classes = [VerifyingOIDCProvider]
