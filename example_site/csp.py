"""The example site's Content-Security-Policy.

A stand-in for Django 6.0's ``ContentSecurityPolicyMiddleware`` that also runs
on Django 5.2: ``EXAMPLE_CSP`` lists ``(regex, policy)`` pairs, and the first
regex that matches the request's path and query string gives the policy of the
response (``None``: no header). ``{nonce}`` in a policy stands for a nonce new
with each response, which templates read as ``request.csp_nonce``
(django-csp's name); a request whose policy has none gets no nonce.
"""

import re
import secrets

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.rules = [(re.compile(regex), policy) for regex, policy in settings.EXAMPLE_CSP]
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        policy = self._before(request)
        return self._after(request, self.get_response(request), policy)

    async def _acall(self, request):
        policy = self._before(request)
        return self._after(request, await self.get_response(request), policy)

    def _before(self, request):
        target = request.get_full_path()
        policy = next((policy for regex, policy in self.rules if regex.search(target)), None)
        if policy and "{nonce}" in policy:
            request.csp_nonce = secrets.token_urlsafe(16)
        return policy

    def _after(self, request, response, policy):
        if settings.DEBUG and response.status_code in (404, 500):
            return response  # Django's debug pages are styled inline
        if policy and HEADER not in response:
            response[HEADER] = policy.replace("{nonce}", getattr(request, "csp_nonce", ""))
        return response
