"""allauth adapters: no self sign-up, SSO users made on first sign-in, our client address."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from advisor.clients import client_key

from .config import PROVIDER


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Local accounts are made by operators (createsuperuser, the admin).
        return False

    def get_client_ip(self, request: HttpRequest) -> str:
        """What the failed sign-in limits count a client by.

        The project's notion (advisor/clients.py): the peer, or the address
        a trusted proxy (DJANGO_TRUSTED_PROXIES) forwarded for, never a
        header any client can send; an IPv6 client counts by its /64, so a
        new address from the same subscriber gets no new allowance.
        """
        key = client_key(request)
        if not key:
            raise PermissionDenied("Unable to determine the client's address.")
        return key


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin) -> bool:
        # Whoever the identity provider vouches for gets an account on first
        # sign-in; what they may see comes from their groups (identity/groups.py).
        # (account.provider holds the app's provider_id, "sso"; the class is ours.)
        return sociallogin.account.get_provider(request).id == PROVIDER
