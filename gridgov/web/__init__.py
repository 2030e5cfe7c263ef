"""The pages: server-rendered shells with a little plain JavaScript each, over the JSON API.

    /                   home: what each role can open
    /signin             sign in (session cookie + CSRF token)
    /dashboard          operation-centre dashboard at the account's scope or a grid below it
    /console            operator console: the queue
    /console/cases/{id} one case: map, photos, timeline, AI suggestions, workflow actions
    /worker             grid worker's and department handler's phone page
    /resident           residents: report, follow, rate (no account)

Every visible string comes from `gridgov.web.i18n` (zh-CN first, English by a cookie).
"""
