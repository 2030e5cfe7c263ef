"""What the public and a case's own reporter may see and do, without an account.

Open311 and the resident pages read cases through here, so personal data is left out in one place:
no names, no phone numbers, descriptions and addresses masked, and only the steps of a case that a
resident should see (a return between departments or a supervision is the city's own business).

A resident proves a case is theirs with the last four digits of the phone they reported it from.
Four digits are guessable, so the front door limits failed attempts per case and per address.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from gridgov.core.clock import Clock
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.intake.channels import adapter
from gridgov.intake.privacy import mask
from gridgov.services.cases import CaseFilter, CaseService
from gridgov.services.intake import IntakeReceipt, IntakeService
from gridgov.workflow.categories import Category
from gridgov.workflow.events import CaseEvent
from gridgov.workflow.model import Action, Actor, Case, CaseState, EvaluateCase, Role, Satisfaction
from gridgov.workflow.replay import apply

PUBLIC = Actor("public", Role.REPORTER, "公众 / public")
RESIDENT_CHANNELS = frozenset({"citizen_app"})
MAX_COMMENT_CHARS = 500
MAX_IDS = 1000  # case numbers one list request may name
_LAST4 = re.compile(r"^[0-9]{4}$")

# The steps a resident sees, and those whose reason is theirs to read (why a report was not
# filed, how the case was closed). Every other reason is staff's working note.
PUBLIC_ACTIONS = frozenset(
    {
        Action.REPORT, Action.FILE, Action.REJECT, Action.DISPATCH, Action.ACCEPT, Action.HANDLE,
        Action.VERIFY_PASS, Action.CLOSE, Action.EVALUATE, Action.REOPEN, Action.MERGE,
        Action.APPROVE_EXTENSION, Action.REASSIGN,
    }
)  # fmt: skip
PUBLIC_REASONS = frozenset({Action.REJECT, Action.CLOSE})
# Open311's `closed`: nothing more will be done.
CLOSED_STATES = frozenset(
    {CaseState.REJECTED, CaseState.CLOSED, CaseState.EVALUATED, CaseState.MERGED}
)
_STATE_EN = {
    CaseState.REPORTED: "received",
    CaseState.FILED: "accepted for handling",
    CaseState.REJECTED: "not accepted",
    CaseState.DISPATCHED: "sent to the department",
    CaseState.ACCEPTED: "taken up by the department",
    CaseState.RETURNED: "being re-routed",
    CaseState.HANDLED: "handled, being checked",
    CaseState.VERIFIED: "checked on site",
    CaseState.REOPENED: "being handled again",
    CaseState.CLOSED: "closed",
    CaseState.EVALUATED: "closed and rated",
    CaseState.MERGED: "merged into another case",
}


class NotYourCase(NotFound):
    """No case with this number was reported from a phone ending in these digits."""

    def __init__(self, case_id: int) -> None:
        # The same answer whether the case is missing or the digits are wrong: nobody learns
        # which case numbers exist by guessing.
        super().__init__(
            "case 工单", f"{case_id} (或手机号后四位不符 / or the phone digits differ)"
        )


@dataclass(frozen=True, slots=True)
class PublicCase:
    """A case as anyone may see it."""

    id: int
    state: CaseState
    category: Category | None
    department_code: str | None
    department_name: str | None
    reported_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    handle_due: datetime | None
    merged_into: int | None
    satisfaction: Satisfaction | None
    description: str | None  # masked; only for residents' own channels
    address: str | None  # masked
    lon: float | None  # WGS84
    lat: float | None
    media_urls: tuple[str, ...]

    @property
    def is_open(self) -> bool:
        return self.state not in CLOSED_STATES

    @property
    def status_zh(self) -> str:
        text = self.state.label_zh
        if self.department_name and self.state in (CaseState.DISPATCHED, CaseState.ACCEPTED):
            text += f"（{self.department_name}）"
        if self.merged_into is not None:
            text += f"（并入工单 {self.merged_into}）"
        return text

    @property
    def status_en(self) -> str:
        text = _STATE_EN[self.state]
        if self.department_name and self.state in (CaseState.DISPATCHED, CaseState.ACCEPTED):
            text += f" ({self.department_name})"
        if self.merged_into is not None:
            text += f" (case {self.merged_into})"
        return text


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    action: Action
    state: CaseState
    department: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class Filters:
    """The public case list's filters; `ids` overrides the others, as in Open311."""

    ids: tuple[int, ...] = ()
    category_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    open: bool | None = None  # None: both
    offset: int = 0
    limit: int = 1000


class ResidentService:
    def __init__(self, cases: CaseService, intake: IntakeService, clock: Clock) -> None:
        self._cases = cases
        self._intake = intake
        self._clock = clock

    # Filing

    def file(self, channel: str, payload: Mapping[str, Any], category_code: str) -> IntakeReceipt:
        """A resident's report with the class they chose, through the one intake pipeline."""
        if channel not in RESIDENT_CHANNELS:
            raise InvalidInput("channel", f"{channel} is not a residents' channel")
        category = self.category(category_code)
        report = adapter(channel).parse(payload, received_at=self._clock.now())
        # The resident picked the class from our own list, so it is the report's class, not a
        # hint for the classifier to second-guess.
        return self._intake.submit(replace(report, category_code=category.code))

    def receipt(self, report_id: int) -> IntakeReceipt:
        return self._intake.receipt(report_id)

    def category(self, code: str) -> Category:
        """A leaf class residents may file under; NotFound otherwise."""
        taxonomy = self._cases.taxonomy
        category = taxonomy.get(code)
        if category is None or not taxonomy.is_leaf(code):
            raise NotFound("service_code", code)
        return category

    # Reading

    def case(self, case_id: int) -> PublicCase:
        return self._public(self._cases.case(case_id, PUBLIC))

    def cases(self, filters: Filters) -> list[PublicCase]:
        """The public list, found by the store: newest first, or in the order of `ids`."""
        if filters.ids:
            wanted = list(dict.fromkeys(filters.ids))[:MAX_IDS]
            found = self._cases.search(PUBLIC, CaseFilter(ids=tuple(wanted)), limit=len(wanted))
            by_id = {int(c.id): c for c in found.cases}
            chosen = [by_id[i] for i in wanted if i in by_id]
            return [
                self._public(c) for c in chosen[filters.offset : filters.offset + filters.limit]
            ]
        states = () if filters.open is None else _states(open_=filters.open)
        # Open311's end_date is inclusive; the case filter's end is not.
        end = None if filters.end is None else filters.end + timedelta(microseconds=1)
        wanted_filter = CaseFilter(
            category_codes=filters.category_codes,
            states=states,
            created_from=filters.start,
            created_to=end,
        )
        page = self._cases.search(PUBLIC, wanted_filter, limit=filters.limit, offset=filters.offset)
        return [self._public(c) for c in page.cases]

    def follow(self, case_id: int, phone_last4: str) -> tuple[PublicCase, list[TimelineEntry]]:
        """A reporter's view of their case: its public state and timeline."""
        case = self._own(case_id, phone_last4)
        events = self._cases.events(case_id, PUBLIC)
        return self._public(case), _timeline(events, self._department_name)

    def rate(
        self, case_id: int, phone_last4: str, satisfaction: str, comment: str | None = None
    ) -> PublicCase:
        """回访 by the reporter once the case is closed."""
        case = self._own(case_id, phone_last4)
        try:
            chosen = Satisfaction(satisfaction)
        except ValueError:
            allowed = ", ".join(s.value for s in Satisfaction)
            raise InvalidInput(
                "satisfaction", f"须为 {allowed} 之一 / must be one of {allowed}"
            ) from None
        note = (comment or "").strip()
        if len(note) > MAX_COMMENT_CHARS:
            raise InvalidInput(
                "comment", f"过长 / too long: at most {MAX_COMMENT_CHARS} characters"
            )
        actor = Actor(f"resident:case-{case.id}", Role.REPORTER, "市民回访 / resident")
        done = self._cases.perform(
            case_id, EvaluateCase(satisfaction=chosen.value, reason=note), actor
        )
        return self._public(done)

    def _own(self, case_id: int, phone_last4: str) -> Case:
        if not _LAST4.fullmatch(phone_last4 or ""):
            raise InvalidInput("phone_last4", "须为4位数字 / must be 4 digits")
        try:
            case = self._cases.case(case_id, PUBLIC)
        except NotFound:
            raise NotYourCase(case_id) from None
        phones = [_last4(p) for p in self._reporter_phones(case)]
        # Compare against every phone, without stopping at the first match, in constant time.
        matched = False
        for phone in phones:
            matched |= hmac.compare_digest(phone.encode(), phone_last4.encode())
        if not matched:
            raise NotYourCase(case_id)
        return case

    def _reporter_phones(self, case: Case) -> list[str]:
        ids = [int(case.id), *(int(c) for c in case.merged_from)]
        phones = []
        for case_id in ids:
            for report in self._cases.reports(case_id, PUBLIC):
                if report["reporter_phone"]:
                    phones.append(str(report["reporter_phone"]))
        return phones

    def _public(self, case: Case) -> PublicCase:
        reports = self._cases.reports(int(case.id), PUBLIC)
        first = reports[0] if reports else None
        projection = self._cases.projection(int(case.id))
        taxonomy = self._cases.taxonomy
        resident = first is not None and first["channel"] in RESIDENT_CHANNELS
        return PublicCase(
            id=int(case.id),
            state=case.state,
            category=taxonomy.get(case.category_code) if case.category_code else None,
            department_code=case.assignee_department,
            department_name=self._department_name(case.assignee_department),
            reported_at=case.reported_at,
            updated_at=case.updated_at,
            closed_at=case.closed_at or case.rejected_at or case.merged_at,
            handle_due=case.handle_due,
            merged_into=int(case.merged_into) if case.merged_into else None,
            satisfaction=case.satisfaction,
            description=_masked(first["text"], first["reporter_name"])
            if first and resident
            else None,
            address=mask(first["address"]).text_masked if first and first["address"] else None,
            lon=projection.get("lon"),
            lat=projection.get("lat"),
            media_urls=_photo_urls(first["payload"]) if first and resident else (),
        )

    def _department_name(self, code: str | None) -> str | None:
        if code is None:
            return None
        try:
            return self._cases.responsibilities.department(code).name_zh
        except NotFound:
            return code


def _masked(text: str, name: str | None) -> str:
    """Text with phone and ID numbers masked, and the reporter's own name where they wrote it."""
    masked = mask(text).text_masked
    if not name:
        return masked
    # Only the full name and parts of two characters or more: one character (a surname alone)
    # would blank ordinary words.
    parts = {name, name.replace(" ", ""), *(p for p in name.split() if len(p) >= 2)}
    for part in sorted(parts, key=len, reverse=True):
        masked = masked.replace(part, "*" * len(part))
    return masked


def _states(*, open_: bool) -> tuple[CaseState, ...]:
    return tuple(s for s in CaseState if (s not in CLOSED_STATES) is open_)


def _last4(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    # A phone with fewer than four digits can never match four digits (and is padded so the
    # comparison still takes the same time).
    return digits[-4:] if len(digits) >= 4 else "\0\0\0\0"


def _photo_urls(payload: Mapping[str, Any]) -> tuple[str, ...]:
    photos = payload.get("photos") or []
    return tuple(p["url"] for p in photos if isinstance(p, dict) and isinstance(p.get("url"), str))


def _timeline(
    events: Sequence[CaseEvent], department_name: Callable[[str | None], str | None]
) -> list[TimelineEntry]:
    entries = []
    case: Case | None = None
    for event in events:
        case = apply(case, event)
        if event.action not in PUBLIC_ACTIONS:
            continue
        department = event.payload.get("department")
        note = mask(event.reason).text_masked if event.action in PUBLIC_REASONS else None
        entries.append(
            TimelineEntry(
                at=event.at,
                action=event.action,
                state=case.state,
                department=department_name(department) if isinstance(department, str) else None,
                note=note or None,
            )
        )
    return entries
