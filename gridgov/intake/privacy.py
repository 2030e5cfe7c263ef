"""Personal data in free text: find phone, resident ID and bank card numbers, and mask them.

Residents write their numbers into descriptions ("请回电13812345678"). Roles that may not see
personal data get the masked text; the original stays in the report for those that may.
Detection prefers a miss on a doubtful number to masking an order number, a date or an amount:
weak patterns (15-digit IDs, bank cards, landlines without a separator) need a checksum or a valid
date, and none of them is taken right after a label such as 工单编号 that names a non-personal
number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from gridgov.intake.model import IntakeReport

# Full-width digits and signs are common in Chinese text and map one to one onto ASCII, so the
# patterns run on a translated copy and every position still points into the original.
_ASCII = str.maketrans("０１２３４５６７８９＋－（）　", "0123456789+-() ")


class PersonalDataKind(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    RESIDENT_ID = "resident_id"
    BANK_CARD = "bank_card"


@dataclass(frozen=True)
class Finding:
    """Where personal data was found in the original text; the value itself is not repeated."""

    kind: PersonalDataKind
    start: int
    end: int
    masked: str


@dataclass(frozen=True)
class MaskedText:
    text_masked: str
    findings: tuple[Finding, ...]


_MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
_LANDLINE = re.compile(
    r"(?<![\d+])(?:\(0\d{2,3}\)[ -]?|0\d{2,3}[ -])[2-9]\d{6,7}(?!\d)"
    r"|(?<![\d+])0(?:10|2\d|[3-9]\d{2})[2-9]\d{6,7}(?!\d)"
)
_RESIDENT_ID_18 = re.compile(r"(?<![\dA-Za-z])[1-9]\d{16}[\dXx](?![\dA-Za-z])")
_RESIDENT_ID_15 = re.compile(r"(?<![\dA-Za-z])[1-9]\d{14}(?![\dA-Za-z])")
_BANK_CARD = re.compile(r"(?<![\dA-Za-z-])[3-6]\d{3}(?:[ -]?\d{4}){2}[ -]?\d{4,7}(?![\dA-Za-z-])")
# Labels of numbers that are not personal; a number right after one of them is left alone.
_NON_PERSONAL_LABEL = re.compile(
    r"(?:工单|订单|案卷|案件|警情|投诉|问题|设备|部件|网格|批次|编|单|流水|标识|订|批)"
    r"(?:编号|号码|编码|代码|标识码|号|码)?[:：\s#]*$"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def resident_id_valid(number: str) -> bool:
    """GB 11643: an 18-digit number with a valid birth date and check character, or a 15-digit one."""
    if len(number) == 15:
        return number.isdigit() and _valid_date("19" + number[6:12])
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper() and _valid_date(number[6:14])


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _valid_date(yyyymmdd: str) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date(2100, 1, 1)


def _mask_digits(number: str, keep_start: int, keep_end: int) -> str:
    """Replace digits by '*' except the first and last few; separators stay where they were."""
    positions = [i for i, ch in enumerate(number) if ch.isdigit() or ch in "Xx"]
    hidden = set(positions[keep_start : len(positions) - keep_end])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(number))


def _labelled_non_personal(text: str, start: int) -> bool:
    return _NON_PERSONAL_LABEL.search(text[max(0, start - 8) : start]) is not None


def find_personal_data(text: str) -> tuple[Finding, ...]:
    """Every personal number in the text, in order, none overlapping."""
    probe = text.translate(_ASCII)
    taken: list[Finding] = []

    def take(kind: PersonalDataKind, match: re.Match[str], masked: str) -> None:
        start, end = match.span()
        if any(f.start < end and start < f.end for f in taken):
            return
        taken.append(Finding(kind, start, end, masked))

    # Strongest evidence first, so that a checksum-valid ID is not taken for a bank card.
    for m in _RESIDENT_ID_18.finditer(probe):
        if resident_id_valid(m.group()) and not _labelled_non_personal(probe, m.start()):
            take(PersonalDataKind.RESIDENT_ID, m, _mask_digits(text[m.start() : m.end()], 6, 4))
    for m in _MOBILE.finditer(probe):
        national = m.group()
        prefix = len(national) - len(re.sub(r"^(?:\+|00)86[ -]?", "", national))
        masked = text[m.start() : m.start() + prefix] + _mask_digits(
            text[m.start() + prefix : m.end()], 3, 4
        )
        take(PersonalDataKind.MOBILE, m, masked)
    for m in _BANK_CARD.finditer(probe):
        digits = re.sub(r"\D", "", m.group())
        plausible = 16 <= len(digits) <= 19 and luhn_valid(digits)
        if plausible and not _labelled_non_personal(probe, m.start()):
            take(PersonalDataKind.BANK_CARD, m, _mask_digits(text[m.start() : m.end()], 4, 4))
    for m in _RESIDENT_ID_15.finditer(probe):
        if resident_id_valid(m.group()) and not _labelled_non_personal(probe, m.start()):
            take(PersonalDataKind.RESIDENT_ID, m, _mask_digits(text[m.start() : m.end()], 6, 3))
    for m in _LANDLINE.finditer(probe):
        if not _labelled_non_personal(probe, m.start()):
            area = 3 if m.group().lstrip("(").startswith(("010", "02")) else 4
            take(PersonalDataKind.LANDLINE, m, _mask_digits(text[m.start() : m.end()], area, 4))
    return tuple(sorted(taken, key=lambda f: f.start))


def mask(text: str) -> MaskedText:
    """The text with every personal number masked (138****5678, 410105********1234)."""
    findings = find_personal_data(text)
    parts: list[str] = []
    cursor = 0
    for finding in findings:
        parts.append(text[cursor : finding.start])
        parts.append(finding.masked)
        cursor = finding.end
    parts.append(text[cursor:])
    return MaskedText("".join(parts), findings)


def mask_name(name: str) -> str:
    """Keep the family name: 王建国 → 王**; a name of one character is hidden entirely."""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_phone(phone: str) -> str:
    """Mask a phone number field whatever its shape, keeping at most its last four digits."""
    found = find_personal_data(phone)
    if len(found) == 1 and (found[0].start, found[0].end) == (0, len(phone.strip())):
        return found[0].masked
    # Never show more than a third of the digits of a number in an unknown shape.
    return _mask_digits(phone, 0, min(4, sum(ch.isdigit() for ch in phone) // 3))


def visible_text(report: IntakeReport, role_may_see_personal_data: bool) -> str:
    """The report's text as a role may see it."""
    return report.text if role_may_see_personal_data else mask(report.text).text_masked


def visible_report(report: IntakeReport, role_may_see_personal_data: bool) -> IntakeReport:
    """The report as a role may see it: masked text, title, address and reporter, no raw payload."""
    if role_may_see_personal_data:
        return report
    return replace(
        report,
        title=mask(report.title).text_masked,
        text=mask(report.text).text_masked,
        address=None if report.address is None else mask(report.address).text_masked,
        reporter_name=None if report.reporter_name is None else mask_name(report.reporter_name),
        reporter_phone=None if report.reporter_phone is None else mask_phone(report.reporter_phone),
        # The raw payload repeats the caller's name and number in the channel's own fields.
        raw={},
    )
