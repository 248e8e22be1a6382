"""Headers every answer carries, whoever built it: `X-Frame-Options: DENY` (with Django's
`SecurityMiddleware`'s `nosniff`), and for the admin's HTML pages a Content-Security-Policy.

It sits at the outside of the middleware stack (settings.MIDDLEWARE, right after
`SecurityMiddleware`): answers a middleware builds itself (`KibanaApiMiddleware`'s 400, 401 and JSON
404) never reach the inner ones, and Django's `XFrameOptionsMiddleware` used to be innermost.
"""

from django.middleware.clickjacking import XFrameOptionsMiddleware

from connectors.api.middleware import API_PATH

# The admin has no inline script, style element, style attribute or event handler: scripts and
# styles come from /static/ and JavaScript changes styles through the CSSOM only. docs/security.md.
ADMIN_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware(XFrameOptionsMiddleware):
    def process_response(self, request, response):
        response = super().process_response(request, response)  # X-Frame-Options, unless exempt
        if (
            "Content-Security-Policy" not in response  # a page's own (the OAuth callback's) stays
            and response.get("Content-Type", "").startswith("text/html")
            and not API_PATH.match(request.path_info)  # the API's HTML (its docs) is not the admin
        ):
            response["Content-Security-Policy"] = ADMIN_CONTENT_SECURITY_POLICY
        return response
