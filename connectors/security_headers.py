"""Headers every answer carries, whoever built it: `X-Frame-Options: DENY` (with Django's
`SecurityMiddleware`'s `nosniff`).

It sits at the outside of the middleware stack (settings.MIDDLEWARE, right after
`SecurityMiddleware`): answers a middleware builds itself (`KibanaApiMiddleware`'s 400, 401 and JSON
404) never reach the inner ones, and Django's `XFrameOptionsMiddleware` used to be innermost.
"""

from django.middleware.clickjacking import XFrameOptionsMiddleware


class SecurityHeadersMiddleware(XFrameOptionsMiddleware):
    pass
