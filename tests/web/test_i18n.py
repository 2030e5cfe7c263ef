"""The message catalogue: both languages complete, every key the pages use present, every domain
name labelled."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gridgov.api import auth
from gridgov.grids.model import GridLevel
from gridgov.intake.channels import adapters
from gridgov.web import signed_in
from gridgov.web.i18n import EN, ZH, Translator, catalogue, choose_language
from gridgov.workflow.model import Action, CaseState, EscalationReason, Role, Satisfaction

WEB = Path(__file__).resolve().parents[2] / "gridgov" / "web"
# t("key") in scripts and templates, and the families scripts build keys of: t(`state.${…}`).
_LITERAL = re.compile(r"""\bt\(\s*["']([a-z_0-9.]+)["']""")
_FAMILY = re.compile(r"""\bt\(`([a-z_]+\.)\$\{""")
_TEMPLATE_FAMILY = re.compile(r"""\(\s*"([a-z_]+\.)"\s*~""")


def _sources() -> list[Path]:
    return [*WEB.glob("templates/*.html"), *WEB.glob("static/js/*.js"), WEB / "pages.py"]


def test_both_languages_have_every_message_and_none_is_blank() -> None:
    zh, en = catalogue(ZH), catalogue(EN)
    assert zh.keys() == en.keys()
    assert [k for k, v in {**zh, **en}.items() if not v.strip()] == []


def test_every_key_the_pages_use_is_in_the_catalogue() -> None:
    known = catalogue(ZH).keys()
    used: set[str] = set()
    families: set[str] = set()
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        # A literal ending in "." is a family the template completes: t("kpi." ~ name).
        used.update(k for k in _LITERAL.findall(text) if not k.endswith("."))
        families.update(_FAMILY.findall(text))
        families.update(_TEMPLATE_FAMILY.findall(text))
    assert used, "the scan found no keys; has the pattern gone stale?"
    assert sorted(used - known) == []
    assert sorted(f for f in families if not any(k.startswith(f) for k in known)) == []


def test_the_pages_keys_in_python_are_in_the_catalogue() -> None:
    text = (WEB / "pages.py").read_text(encoding="utf-8")
    keys = set(re.findall(r'"((?:nav|page|title)\.[a-z_]+)"', text))
    assert keys and sorted(keys - catalogue(ZH).keys()) == []


@pytest.mark.parametrize(
    ("family", "names"),
    [
        ("state", [s.value for s in CaseState]),
        ("action", [a.value for a in Action]),
        ("role", [r.value for r in Role]),
        ("level", [level.value for level in GridLevel]),
        ("channel", [c.name for c in adapters()]),
        ("satisfaction", [s.value for s in Satisfaction]),
        ("grounds", [g.value for g in EscalationReason]),
    ],
)
def test_every_domain_name_has_a_label_in_both_languages(family: str, names: list[str]) -> None:
    for language in (ZH, EN):
        messages = catalogue(language)
        assert [n for n in names if f"{family}.{n}" not in messages] == []


def test_chinese_labels_are_the_domains_own() -> None:
    assert catalogue(ZH)["state.dispatched"] == CaseState.DISPATCHED.label_zh
    assert catalogue(EN)["state.dispatched"] == "dispatched"


def test_a_visitor_who_never_chose_reads_chinese_and_an_unknown_choice_changes_nothing() -> None:
    assert choose_language(None) == ZH
    assert choose_language("fr") == ZH
    assert choose_language("en") == EN


def test_a_message_fills_in_its_values_and_an_unknown_key_is_an_error() -> None:
    assert Translator(EN)("case.number", id=12) == "Case 12"
    with pytest.raises(KeyError):
        Translator(ZH)("no.such.key")


def test_the_pages_read_the_cookie_and_header_the_api_sets() -> None:
    assert signed_in.SESSION_COOKIE == auth.SESSION_COOKIE
    assert signed_in.CSRF_HEADER == auth.CSRF_HEADER
    core = (WEB / "static" / "js" / "core.js").read_text(encoding="utf-8")
    assert f'"{auth.CSRF_COOKIE}"' in core
    assert f'"{auth.CSRF_HEADER}"' in core


def test_no_page_names_an_outside_address() -> None:
    outside = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|import\s*\(?\s*["']https?:""")
    found = [
        str(path.relative_to(WEB))
        for path in [
            *WEB.glob("templates/*.html"),
            *WEB.glob("static/js/*.js"),
            *WEB.glob("static/css/*.css"),
        ]
        if outside.search(path.read_text(encoding="utf-8"))
        or "url(http" in path.read_text(encoding="utf-8")
    ]
    assert found == []
