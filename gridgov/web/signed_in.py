"""Who is looking at a page: the web session behind the cookie that `/api/v1/auth/sign-in` set.

Pages only read the session to decide what to render (or to send the visitor to sign in); every
figure and case on them comes from the JSON API, which checks the same session and the scope.
The page's own form endpoints (uploads, patrol reports) check the session's CSRF token like the
API does, since a browser attaches the cookie to a forged cross-site post.
"""

from __future__ import annotations

from fastapi import Request

from gridgov.services.accounts import Account, AccountService, NotAuthenticated, WebSession

# The names gridgov/api/auth.py gives the cookies and the header (the API layer sits above this
# one, so they are repeated here; tests/web check that both agree).
SESSION_COOKIE = "gridgov_session"
CSRF_HEADER = "X-CSRF-Token"


def page_account(request: Request, accounts: AccountService) -> Account | None:
    """The signed-in account, or None for a visitor without a live session."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    try:
        return accounts.authenticate_session(session_id).account
    except NotAuthenticated:
        return None


def form_session(request: Request, accounts: AccountService) -> WebSession:
    """The session of a page's unsafe request, CSRF token checked; 401/403 through the app's
    handlers otherwise."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise NotAuthenticated("请先登录", "sign in first")
    web_session = accounts.authenticate_session(session_id)
    accounts.check_csrf(web_session, request.headers.get(CSRF_HEADER))
    return web_session
