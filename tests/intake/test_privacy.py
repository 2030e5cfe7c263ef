"""Phone, ID and bank card numbers in free text are found and masked; look-alikes are left alone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gridgov.intake.model import IntakeReport, ReporterKind
from gridgov.intake.privacy import (
    PersonalDataKind,
    luhn_valid,
    mask,
    mask_name,
    mask_phone,
    resident_id_valid,
    visible_report,
    visible_text,
)

K = PersonalDataKind
# Made-up numbers whose check digits are right: the GB 11643 standard's own example, one computed
# for a Zhengzhou Jinshui district code, and Luhn-valid card numbers.
ID_STANDARD_EXAMPLE = "11010519491231002X"
ID_JINSHUI = "410105199003072830"
CARD_UNIONPAY = "6217001234567890122"
CARD_VISA = "4111111111111111"


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        ("请回电13812345678谢谢", "请回电138****5678谢谢", [K.MOBILE]),
        ("电话：138-1234-5678", "电话：138-****-5678", [K.MOBILE]),
        ("电话 138 1234 5678。", "电话 138 **** 5678。", [K.MOBILE]),
        ("联系+86 186-0371-2233", "联系+86 186-****-2233", [K.MOBILE]),
        ("联系+8613912345678", "联系+86139****5678", [K.MOBILE]),
        ("手机１３８１２３４５６７８", "手机１３８****５６７８", [K.MOBILE]),
        ("座机0371-67891234转前台", "座机0371-****1234转前台", [K.LANDLINE]),
        ("座机(0371)67891234", "座机(0371)****1234", [K.LANDLINE]),
        ("北京010-62345678", "北京010-****5678", [K.LANDLINE]),
        ("电话037167891234", "电话0371****1234", [K.LANDLINE]),
        (f"身份证号{ID_JINSHUI}", "身份证号410105********2830", [K.RESIDENT_ID]),
        (f"证件{ID_STANDARD_EXAMPLE.lower()}", "证件110105********002x", [K.RESIDENT_ID]),
        ("老身份证410105900307283", "老身份证410105******283", [K.RESIDENT_ID]),
        (f"退费到卡号{CARD_UNIONPAY}", "退费到卡号6217***********0122", [K.BANK_CARD]),
        ("卡号4111 1111 1111 1111", "卡号4111 **** **** 1111", [K.BANK_CARD]),
        (
            f"王女士13812345678，身份证{ID_JINSHUI}，备用0371-65432178",
            "王女士138****5678，身份证410105********2830，备用0371-****2178",
            [K.MOBILE, K.RESIDENT_ID, K.LANDLINE],
        ),
    ],
)
def test_personal_numbers_in_text_are_masked(text: str, masked: str, kinds: list[K]) -> None:
    result = mask(text)
    assert result.text_masked == masked
    assert [f.kind for f in result.findings] == kinds


@pytest.mark.parametrize(
    "text",
    [
        "工单编号20261127000123",
        "2026年11月27日 09:12:33",
        "金额12345元，退费3800.50元",
        "网格410105001002内",
        "警情编号J4101052026112700087",
        "部件编码4101050101000128",
        "案卷号202611270045612",
        "拨打12345热线，或110",
        "身份证号410105199003072831",
        "卡号6217001234567890123",
        "坐标113.6871,34.7745",
        "3号楼2单元501室，室温14.5度",
        "订单20261127138123456789",
    ],
)
def test_numbers_that_merely_look_personal_are_left_alone(text: str) -> None:
    result = mask(text)
    assert (result.text_masked, result.findings) == (text, ())


def test_findings_point_into_the_original_text_without_repeating_the_value() -> None:
    text = "请联系13812345678"
    (finding,) = mask(text).findings
    assert text[finding.start : finding.end] == "13812345678"
    assert finding.masked == "138****5678"
    assert "13812345678" not in repr(finding)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        (ID_STANDARD_EXAMPLE, True),
        (ID_JINSHUI, True),
        ("410105199003072831", False),
        ("410105199002302836", False),
        ("410105900307283", True),
        ("410105901307283", False),
        ("41010519900307283", False),
    ],
)
def test_resident_id_check_follows_gb_11643(number: str, valid: bool) -> None:
    assert resident_id_valid(number) is valid


@pytest.mark.parametrize(
    ("digits", "valid"), [(CARD_VISA, True), (CARD_UNIONPAY, True), ("4111111111111112", False)]
)
def test_card_numbers_are_checked_with_luhn(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("name", "masked"), [("王建国", "王**"), ("李四", "李*"), ("欧阳娜娜", "欧***"), ("王", "*")]
)
def test_names_keep_only_the_family_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13812345678", "138****5678"), ("0371-65432178", "0371-****2178"), ("12345", "****5")],
)
def test_phone_fields_are_masked_whatever_their_shape(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def _report() -> IntakeReport:
    at = datetime(2026, 11, 27, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    return IntakeReport(
        channel="hotline_12345",
        external_id="ZZ12345-20261127-000123",
        received_at=at,
        reported_at=at,
        title="回电13812345678",
        text="井盖破损，处理后请回电13812345678",
        reporter_kind=ReporterKind.CITIZEN,
        address="金水区纬五路3号院，联系人电话13812345678",
        reporter_name="王建国",
        reporter_phone="13812345678",
        raw={"caller": {"name": "王建国", "phone": "13812345678"}},
    )


def test_a_role_without_the_right_sees_the_text_masked_and_one_with_it_the_original() -> None:
    report = _report()
    assert (
        visible_text(report, role_may_see_personal_data=False)
        == "井盖破损，处理后请回电138****5678"
    )
    assert visible_text(report, role_may_see_personal_data=True) == report.text


def test_a_masked_report_shows_no_personal_data_anywhere() -> None:
    seen = visible_report(_report(), role_may_see_personal_data=False)
    assert "13812345678" not in repr(seen) + repr(seen.raw)
    assert "建国" not in repr(seen)
    assert (seen.reporter_name, seen.reporter_phone) == ("王**", "138****5678")
    assert visible_report(_report(), role_may_see_personal_data=True) == _report()
