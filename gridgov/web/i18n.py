"""The pages' one message catalogue, zh-CN first and English second, and the language choice.

Every string a page shows comes from here, by key; the templates call `t(key)` and the page
scripts get the chosen language's catalogue as JSON. Names the domain already has in Chinese
(case states, actions, roles, grid levels, channels) take their Chinese from the domain's own
labels, so a renamed state is renamed on the pages too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from gridgov.grids.model import GridLevel
from gridgov.intake.channels import adapters
from gridgov.workflow.model import Action, CaseState, EscalationReason, Role, Satisfaction

ZH = "zh-CN"
EN = "en"
LANGUAGES = (ZH, EN)
DEFAULT_LANGUAGE = ZH
LANGUAGE_COOKIE = "gridgov_lang"

_STATE_EN = {
    CaseState.REPORTED: "reported",
    CaseState.FILED: "filed",
    CaseState.REJECTED: "not filed",
    CaseState.DISPATCHED: "dispatched",
    CaseState.ACCEPTED: "accepted",
    CaseState.RETURNED: "returned",
    CaseState.HANDLED: "handled",
    CaseState.VERIFIED: "verified",
    CaseState.REOPENED: "reopened",
    CaseState.CLOSED: "closed",
    CaseState.EVALUATED: "evaluated",
    CaseState.MERGED: "merged",
}
_ACTION_EN = {
    Action.REPORT: "Report",
    Action.FILE: "File",
    Action.REJECT: "Reject",
    Action.DISPATCH: "Dispatch",
    Action.ACCEPT: "Accept",
    Action.RETURN: "Return",
    Action.HANDLE: "Handle",
    Action.VERIFY_PASS: "Verify: passed",
    Action.VERIFY_FAIL: "Verify: failed",
    Action.CLOSE: "Close",
    Action.EVALUATE: "Evaluate",
    Action.REOPEN: "Reopen",
    Action.REQUEST_EXTENSION: "Ask for an extension",
    Action.APPROVE_EXTENSION: "Approve the extension",
    Action.DENY_EXTENSION: "Deny the extension",
    Action.ESCALATE: "Escalate",
    Action.SUPERVISE: "Supervise",
    Action.MERGE: "Merge",
    Action.ABSORB: "Take in a duplicate",
    Action.REASSIGN: "Reassign",
}
_ROLE_EN = {
    Role.REPORTER: "reporter",
    Role.INTAKE_OPERATOR: "intake operator",
    Role.SHIFT_LEADER: "shift leader",
    Role.DISPATCHER: "dispatcher",
    Role.HANDLER: "handler",
    Role.DEPARTMENT_HEAD: "department head",
    Role.GRID_WORKER: "grid worker",
    Role.SUPERVISOR: "supervisor",
    Role.CENTRE_LEADER: "centre leader",
    Role.SYSTEM: "system",
}
_LEVEL_EN = {
    GridLevel.CITY: "city",
    GridLevel.DISTRICT: "district",
    GridLevel.STREET: "street",
    GridLevel.COMMUNITY: "community",
    GridLevel.COMPOUND: "compound",
    GridLevel.MICRO: "micro-grid",
    GridLevel.SPECIAL: "special grid",
}
_CHANNEL_EN = {
    "hotline_12345": "12345 hotline",
    "police_110": "110 transfers",
    "city_management": "urban management",
    "civilization": "civilisation inspection",
    "heating": "heating complaints",
    "citizen_app": "residents' photo reports",
    "grid_patrol": "grid patrols",
    "iot_sensor": "IoT sensors",
}
_SATISFACTION_EN = {
    Satisfaction.SATISFIED: "satisfied",
    Satisfaction.BASICALLY_SATISFIED: "basically satisfied",
    Satisfaction.DISSATISFIED: "dissatisfied",
}
_GROUNDS_EN = {
    EscalationReason.OVERDUE: "overdue",
    EscalationReason.RETURNED_TWICE: "returned twice",
    EscalationReason.BEYOND_AUTHORITY: "beyond this level's authority",
}

# key → (zh-CN, English). `{name}` marks a value the page fills in.
_MESSAGES: dict[str, tuple[str, str]] = {
    "app.name": ("gridgov 网格化治理", "gridgov grid governance"),
    "app.tagline": ("一网统管", "one grid, one platform"),
    "lang.switch": ("English", "中文"),
    "nav.label": ("页面", "Pages"),
    "nav.home": ("首页", "Home"),
    "nav.dashboard": ("指挥大屏", "Dashboard"),
    "nav.console": ("工单受理", "Console"),
    "nav.worker": ("我的任务", "My tasks"),
    "nav.resident": ("市民随手拍", "Report a problem"),
    "nav.signin": ("登录", "Sign in"),
    "nav.signout": ("退出", "Sign out"),
    "banner.lost": ("连接中断，正在重试…", "Connection lost, retrying…"),
    "footer.text": (
        "gridgov · 开源城市网格化治理平台 · 本页不依赖任何外部网址",
        "gridgov · open-source city grid governance · this page uses no outside address",
    ),
    "title.home": ("首页", "Home"),
    "title.signin": ("登录", "Sign in"),
    "title.dashboard": ("城运指挥大屏", "Operation-centre dashboard"),
    "title.console": ("工单受理台", "Operator console"),
    "title.case": ("工单详情", "Case"),
    "title.worker": ("网格员任务", "Field tasks"),
    "title.resident": ("市民随手拍", "Report a problem"),
    "common.loading": ("加载中…", "Loading…"),
    "common.unavailable": (
        "暂无数据（服务未提供）",
        "Not available (the server does not provide it)",
    ),
    "common.no_data": ("暂无数据", "No data yet"),
    "common.cancel": ("取消", "Cancel"),
    "error.offline": ("无法连接服务器，请稍后重试", "Cannot reach the server; try again shortly"),
    "error.http": ("服务器返回错误 {status}", "The server answered with error {status}"),
    "error.signed_out": ("登录已失效，请重新登录", "Your session has ended; sign in again"),
    "form.required": ("必须填写", "Required"),
    "form.photo": ("照片", "Photo"),
    "form.choose_photo": ("拍照或选择照片", "Take or choose a photo"),
    "form.choose_photos": ("拍照或选择照片（可多张）", "Take or choose photos"),
    "form.no_file": ("未选择", "None chosen"),
    "form.location": ("位置", "Location"),
    "form.lon": ("经度", "Longitude"),
    "form.lat": ("纬度", "Latitude"),
    "form.use_my_location": ("使用我的位置", "Use my location"),
    "form.locating": ("正在定位…", "Finding your location…"),
    "form.no_geolocation": (
        "此设备不支持定位，请在地图上选点",
        "This device cannot locate; pick a point on the map",
    ),
    "form.geolocation_refused": (
        "未能获取位置，请在地图上选点或填写经纬度",
        "Could not get your location; pick a point on the map or type it",
    ),
    "map.label": ("地图", "Map"),
    "map.unavailable": (
        "地图不可用（地图组件或图形支持缺失）",
        "Map unavailable (the map library or graphics support is missing)",
    ),
    "map.grids_unavailable": ("网格图层不可用", "Grid layer not available"),
    "chart.unavailable": (
        "图表不可用（图表组件缺失）",
        "Chart unavailable (the chart library is missing)",
    ),
    # home
    "home.title": ("城市网格化治理平台", "City grid governance"),
    "home.lead": (
        "一格管全面、一网统全局：上报、立案、派遣、处置、核查、结案、回访，一个平台闭环管理。",
        "One grid covers everything, one platform runs it all: report, file, dispatch, handle, "
        "verify, close and evaluate in one closed loop.",
    ),
    "home.pages": ("可用页面", "Pages"),
    "home.staff_signin": ("工作人员请先登录。", "Staff: please sign in first."),
    "page.dashboard": ("城运指挥大屏", "Operation-centre dashboard"),
    "page.dashboard.about": (
        "网格地图、案件分布、今日数据、趋势、考核排名、预警与每日简报",
        "Grid map, cases, today's figures, trends, rankings, early warnings and the daily briefing",
    ),
    "page.console": ("工单受理台", "Operator console"),
    "page.console.about": (
        "工单队列、AI 分类建议、派遣、核查、结案",
        "The queue, AI suggestions, dispatch, verification and closure",
    ),
    "page.worker": ("网格员任务", "Field tasks"),
    "page.worker.about": (
        "我的网格、我的任务、巡查上报、处置拍照",
        "My grid, my tasks, patrol reports, handling with photos",
    ),
    "page.resident": ("市民随手拍", "Report a problem"),
    "page.resident.about": (
        "拍照上报身边的问题，查看进度并评价",
        "Report a problem with a photo, follow it and rate the outcome",
    ),
    # sign in
    "signin.title": ("工作人员登录", "Staff sign-in"),
    "signin.username": ("用户名", "Username"),
    "signin.password": ("密码", "Password"),
    "signin.totp": ("动态口令", "One-time code"),
    "signin.submit": ("登录", "Sign in"),
    "signin.resident_hint": ("市民无需登录即可上报问题：", "Residents report without an account:"),
    # dashboard
    "dashboard.title": ("城运指挥大屏", "Operation-centre dashboard"),
    "dashboard.title_city": ("全市", "The whole city"),
    "dashboard.breadcrumb": ("所在层级", "Where you are"),
    "dashboard.scope_refused": (
        "该区域不存在，或不在您的管辖范围内。",
        "No such area, or it is outside your area.",
    ),
    "dashboard.today": ("今日数据", "Today"),
    "dashboard.live_on": ("实时更新中", "Live"),
    "dashboard.live_connecting": ("正在连接实时推送…", "Connecting to live updates…"),
    "dashboard.live_off": ("实时推送不可用", "Live updates not available"),
    "dashboard.map": ("网格与案件分布", "Grids and cases"),
    "dashboard.map_count": ("地图上 {count} 件", "{count} cases on the map"),
    "dashboard.map_cases_unavailable": ("案件分布暂无数据", "Case map not available"),
    "dashboard.by_channel": ("今日各渠道上报", "Today by channel"),
    "dashboard.trend": ("近30天趋势", "Last 30 days"),
    "dashboard.by_state": ("案件状态分布", "Cases by state"),
    "dashboard.rank_children": ("区域评价排名（GB/T 30428）", "Area ranking (GB/T 30428)"),
    "dashboard.rank_departments": ("专业部门评价（GB/T 30428）", "Department ranking (GB/T 30428)"),
    "dashboard.warnings": ("预警", "Early warnings"),
    "dashboard.no_warnings": ("当前无预警", "No warnings now"),
    "dashboard.warning_count": ("{count} 件", "{count} cases"),
    "dashboard.party": ("党建引领", "Party building in the grids"),
    "dashboard.briefing": ("每日简报", "Daily briefing"),
    "dashboard.briefing_by_model": ("（由语言模型润色）", "(reworded by a language model)"),
    "dashboard.latest": ("最新工单", "Latest cases"),
    "kpi.today_reports": ("今日上报", "Reports today"),
    "kpi.today_cases": ("今日立案", "Cases today"),
    "kpi.open": ("在办", "Open"),
    "kpi.overdue": ("超期", "Overdue"),
    "kpi.on_time_close_rate": ("按期结案率", "Closed on time"),
    "kpi.close_rate": ("结案率", "Close rate"),
    "kpi.satisfaction_rate": ("满意率", "Satisfaction"),
    "layer.cases": ("案件", "Cases"),
    "layer.heatmap": ("热力图", "Heatmap"),
    "layer.special": ("专属网格", "Special grids"),
    "layer.micro": ("微网格", "Micro-grids"),
    "layer.staff": ("在岗人员", "Staff on duty"),
    "legend.open": ("在办", "open"),
    "legend.overdue": ("超期", "overdue"),
    "legend.closed": ("已结", "closed"),
    "legend.staff": ("在岗网格员", "grid worker on duty"),
    "trend.created": ("新增", "New"),
    "trend.closed": ("结案", "Closed"),
    "trend.closed_on_time": ("按期结案", "Closed on time"),
    "trend.overdue_open": ("超期在办", "Overdue, open"),
    "rank.name": ("区域", "Area"),
    "rank.department": ("部门", "Department"),
    "rank.filed": ("立案数", "Filed"),
    "rank.closed": ("结案数", "Closed"),
    "rank.close_rate": ("结案率", "Close rate"),
    "rank.on_time_close_rate": ("按期结案率", "On-time closure"),
    "rank.on_time_handle_rate": ("按期处置率", "On-time handling"),
    "rank.supervision_rate": ("督办率", "Supervision rate"),
    "rank.rework_rate": ("返工率", "Rework rate"),
    "rank.score": ("得分", "Score"),
    "rank.grade": ("等级", "Grade"),
    "rank.formula": ("评价公式", "How the score is computed"),
    "party.organisations": ("党组织", "Party organisations"),
    "party.members": ("报到党员", "Registered members"),
    "party.tasks_done": ("完成志愿任务", "Volunteer tasks done"),
    "party.tasks_open": ("进行中任务", "Tasks open"),
    # console and case
    "console.title": ("工单受理台", "Operator console"),
    "console.queue_all": ("工单队列", "Queue"),
    "console.queue_manual": ("待人工派单", "Awaiting manual dispatch"),
    "console.state": ("状态", "State"),
    "console.state_any": ("全部状态", "Any state"),
    "console.search": ("搜索", "Search"),
    "console.search_hint": ("工单号、分类、网格、部门", "Case number, category, grid, department"),
    "console.only_overdue": ("只看超期", "Overdue only"),
    "console.refresh": ("刷新", "Refresh"),
    "console.new_cases": ("有新工单，点击刷新", "New cases arrived; refresh"),
    "console.empty": ("没有符合条件的工单", "No cases match"),
    "pager.prev": ("上一页", "Previous"),
    "pager.next": ("下一页", "Next"),
    "pager.range": ("第 {from}–{to} 件", "Cases {from}–{to}"),
    "pager.count": ("共 {count} 件", "{count} cases"),
    "case.title": ("工单", "Case"),
    "case.number": ("工单 {id}", "Case {id}"),
    "case.back": ("返回队列", "Back to the queue"),
    "case.missing": (
        "工单不存在，或不在您的管辖范围内。",
        "No such case, or it is outside your area.",
    ),
    "case.id": ("工单号", "Case"),
    "case.state": ("状态", "State"),
    "case.category": ("分类", "Category"),
    "case.uncategorised": ("未分类", "Not classified"),
    "case.grid": ("网格", "Grid"),
    "case.department": ("处置部门", "Department"),
    "case.person": ("处置人", "Handled by"),
    "case.reported_at": ("上报时间", "Reported"),
    "case.accept_due": ("签收时限", "Accept by"),
    "case.handle_due": ("处置时限", "Handle by"),
    "case.owning_level": ("责任层级", "Owning level"),
    "case.pending_extension": ("待审批延期", "Extension asked"),
    "case.overdue": ("超期", "Overdue"),
    "case.supervised": ("督办", "Supervised"),
    "case.location": ("位置", "Location"),
    "case.reports": ("上报内容", "Reports"),
    "case.reporter": ("上报人", "Reporter"),
    "case.photos": ("照片", "Photos"),
    "case.photo_report": ("上报照片（{channel}）", "Reported photo ({channel})"),
    "case.photo_evidence": ("处置照片 {at}", "Handling photo {at}"),
    "case.photo_external": ("外部照片地址：", "Photo at an outside address:"),
    "case.no_photos": ("没有照片", "No photos"),
    "case.timeline": ("办理过程", "Timeline"),
    "case.actions": ("办理", "Actions"),
    "case.no_actions": ("您目前不能对此工单执行操作", "Nothing you can do on this case now"),
    "ai.title": ("智能辅助", "AI suggestions"),
    "ai.none": ("暂无智能建议", "No suggestions"),
    "ai.categories": ("分类建议（置信度）", "Categories (confidence)"),
    "ai.confirm": ("确认并立案", "Confirm and file"),
    "ai.choose": ("采用", "Use this"),
    "ai.auto_file": ("可自动立案", "sure enough to file"),
    "ai.auto_file_hint": (
        "置信度已达自动立案阈值：可信渠道的上报会直接立案",
        "Confidence reaches the auto-filing threshold: a trusted channel's report is filed unaided",
    ),
    "ai.correct_category": ("更正分类…", "Correct the category…"),
    "ai.description": ("生成的描述", "Generated description"),
    "ai.department": ("建议处置部门", "Proposed department"),
    "ai.dispatch": ("派遣", "Dispatch"),
    "ai.correct_department": ("改派其他部门…", "Another department…"),
    "ai.source_rule": ("（按权责清单）", "(by the responsibility list)"),
    "ai.source_learned": ("（按历史派遣学习）", "(learned from past dispatches)"),
    "ai.hazard": ("照片隐患等级：{level}", "Hazard in the photo: {level}"),
    "hazard.low": ("低", "low"),
    "hazard.medium": ("中", "medium"),
    "hazard.high": ("高", "high"),
    "ai.verification": ("处置照片核查", "Check of the handling photos"),
    "ai.verification_ok": (
        "前后照片比对未发现疑点",
        "Nothing suspicious in the before and after photos",
    ),
    "ai.from_intake": ("建议来自受理时的自动分类", "Suggestions from the classification at intake"),
    "action.confirm": ("确认{action}", "{action}"),
    "action.done": ("已{action}，当前状态：{state}", "Done: {action}. The case is now {state}."),
    "field.reason": ("理由/说明", "Reason or note"),
    "field.evidence": ("处置照片", "Photos of the result"),
    "field.category_code": ("分类", "Category"),
    "field.category_default": ("（按上报时的分类）", "(the category proposed at intake)"),
    "field.department": ("部门编码", "Department code"),
    "field.person": ("处置人", "Person"),
    "field.satisfaction": ("满意度", "Satisfaction"),
    "field.until": ("延期至", "Extend until"),
    "field.handle_due": ("处置时限", "Handle by"),
    "field.due": ("督办时限", "Due"),
    "field.grounds": ("上报理由", "Grounds"),
    "field.into": ("并入工单号", "Merge into case"),
    "field.choose": ("请选择", "Choose"),
    # worker
    "worker.my_grid": ("我的网格", "My grid"),
    "worker.department": ("部门 {department}", "Department {department}"),
    "worker.whole_city": ("全市", "The whole city"),
    "worker.on_duty": ("本网格在岗 {count} 人", "{count} on duty in this grid"),
    "worker.tasks": ("我的任务", "My tasks"),
    "worker.no_tasks": ("暂无待办任务", "Nothing to do now"),
    "worker.task": ("任务", "Task"),
    "worker.patrol": ("巡查上报", "Report from patrol"),
    "worker.patrol_text": ("发现的问题", "What you found"),
    "worker.patrol_category": ("分类", "Category"),
    "worker.category_auto": ("自动识别", "Let the system classify it"),
    "worker.urgent": ("紧急", "Urgent"),
    "worker.handled_on_site": ("已现场处置", "Handled on the spot"),
    "worker.patrol_submit": ("上报", "Report"),
    "worker.patrol_done": ("已上报，工单 {id}", "Reported: case {id}"),
    "worker.patrol_waiting": ("已收到，待人工定位", "Received; waiting to be located by hand"),
    # resident
    "resident.tab_report": ("我要上报", "Report"),
    "resident.tab_follow": ("查询进度", "Follow my report"),
    "resident.report_title": ("随手拍 · 上报问题", "Report a problem"),
    "resident.report_lead": (
        "拍下问题，在地图上标出位置，我们会派给负责的部门处理。",
        "Take a photo, mark the place on the map, and we send it to whoever must fix it.",
    ),
    "resident.category": ("问题类型", "Kind of problem"),
    "resident.category_choose": ("请选择问题类型", "Choose the kind of problem"),
    "resident.pin_hint": ("点击地图标出位置", "Tap the map to mark the place"),
    "resident.pinned": ("已选位置 {lon}, {lat}", "Marked at {lon}, {lat}"),
    "resident.nearby_title": (
        "附近已有这些上报，是您要报的问题吗？",
        "Already reported nearby: is it one of these?",
    ),
    "resident.metres": ("{metres} 米", "{metres} m away"),
    "resident.is_this_it": ("就是这个", "This is it"),
    "resident.already_reported": (
        "该问题已在处理（工单 {id}：{status}），无需重复上报。",
        "This problem is already being handled (case {id}: {status}); no need to report it again.",
    ),
    "resident.description": ("问题描述", "Describe the problem"),
    "resident.phone": ("手机号", "Mobile phone"),
    "resident.phone_hint": (
        "凭工单号和手机号后四位查询进度；号码不会公开。",
        "You follow the case with its number and the last 4 digits; the number is never published.",
    ),
    "resident.name": ("称呼（可不填）", "Your name (optional)"),
    "resident.submit": ("提交上报", "Send the report"),
    "resident.another": ("再报一件", "Report another"),
    "resident.reported": ("已受理，工单号 {id}", "Received: case {id}"),
    "resident.joined": (
        "已有人报过同一问题，您的上报已并入工单 {id}。",
        "Someone reported the same problem; your report joined case {id}.",
    ),
    "resident.follow_hint": (
        "请记下工单号，凭手机号后四位查询进度并评价。",
        "Keep the case number: follow and rate it with the last 4 digits of your phone.",
    ),
    "resident.waiting": (
        "已收到，定位后生成工单号（查询码 {token}）。",
        "Received; it gets a case number once located (reference {token}).",
    ),
    "resident.follow_title": ("查询进度", "Follow my report"),
    "resident.case_id": ("工单号", "Case number"),
    "resident.phone_last4": ("手机号后四位", "Last 4 digits of your phone"),
    "resident.follow_submit": ("查询", "Show progress"),
    "resident.rate_title": ("评价办理结果", "Rate the outcome"),
    "resident.satisfaction": ("您是否满意？", "Are you satisfied?"),
    "resident.comment": ("意见（可不填）", "Comment (optional)"),
    "resident.rate_submit": ("提交评价", "Send the rating"),
    "resident.rated": (
        "您的评价：{satisfaction}。谢谢！",
        "Your rating: {satisfaction}. Thank you!",
    ),
}


def _domain_labels() -> dict[str, tuple[str, str]]:
    labels: dict[str, tuple[str, str]] = {}
    for state in CaseState:
        labels[f"state.{state.value}"] = (state.label_zh, _STATE_EN[state])
    for action in Action:
        labels[f"action.{action.value}"] = (action.label_zh, _ACTION_EN[action])
    for role in Role:
        labels[f"role.{role.value}"] = (role.label_zh, _ROLE_EN[role])
    for level in GridLevel:
        labels[f"level.{level.value}"] = (level.label_zh, _LEVEL_EN[level])
    # A case owned by its grid (the owning level below community) is the grid level.
    labels["level.grid"] = ("网格", "grid")
    for channel in adapters():
        labels[f"channel.{channel.name}"] = (
            channel.label_zh,
            _CHANNEL_EN.get(channel.name, channel.name.replace("_", " ")),
        )
    for satisfaction in Satisfaction:
        labels[f"satisfaction.{satisfaction.value}"] = (
            satisfaction.label_zh,
            _SATISFACTION_EN[satisfaction],
        )
    for grounds in EscalationReason:
        labels[f"grounds.{grounds.value}"] = (grounds.label_zh, _GROUNDS_EN[grounds])
    return labels


@cache
def catalogue(language: str) -> Mapping[str, str]:
    """Every message in `language` (zh-CN or en), by key."""
    index = LANGUAGES.index(language)
    return {key: pair[index] for key, pair in {**_MESSAGES, **_domain_labels()}.items()}


def choose_language(cookie: str | None) -> str:
    """The language a visitor chose with the switch; zh-CN until they choose."""
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE


def other_language(language: str) -> str:
    return EN if language == ZH else ZH


@dataclass(frozen=True, slots=True)
class Translator:
    """`t(key, **values)` for one language; an unknown key is an error, not a blank."""

    language: str

    def __call__(self, key: str, **values: object) -> str:
        text = catalogue(self.language)[key]
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text
