"""The chat-completions client against a fake model service speaking the protocol over real HTTP
on 127.0.0.1, including every way such a service fails."""

from __future__ import annotations

import base64
import io
import json
import logging
import socket
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx2
import pytest
from PIL import Image

from gridgov.ai.llm import (
    MAX_BODY_BYTES,
    ChatCompletionsAnalyzer,
    ChatCompletionsWriter,
    ModelAnswerInvalid,
    ModelServiceRejected,
    ModelServiceUnavailable,
    untraceable_figures,
)
from gridgov.ai.vision import AnalysisSource, CategoryChoice, HazardLevel
from gridgov.core.errors import InvalidInput
from tests.ai.photo_samples import LAT, LON, jpeg, scene
from tests.fake_chat import MODEL, FakeChatService, Reply, chat_service, completion, error

API_KEY = "sk-test-0001"
TAKEN = datetime(2026, 5, 4, 9, 30)
CATEGORIES = (
    CategoryChoice("C0101", "上水井盖"),
    CategoryChoice("C0102", "污水井盖"),
    CategoryChoice("E0101", "私搭乱建"),
)
GOOD = {
    "description": "人行道上的污水井盖缺失，形成空洞。",
    "category_code": "C0102",
    "hazard_level": "high",
}


@pytest.fixture
def service() -> Iterator[FakeChatService]:
    with chat_service(default=completion(json.dumps(GOOD))) as fake:
        yield fake


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def analyzer(service: FakeChatService, slept: list[float]) -> ChatCompletionsAnalyzer:
    return ChatCompletionsAnalyzer(
        service.url, MODEL, api_key=API_KEY, timeout=2.0, attempts=3, sleep=slept.append
    )


def photo() -> bytes:
    return jpeg(scene(1), gps=(LON, LAT), taken=TAKEN)


def analyze(analyzer: ChatCompletionsAnalyzer, text: str | None = "小区门口井盖没了") -> Any:
    return analyzer.analyze(photo(), text=text, categories=CATEGORIES)


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_valid_answer_becomes_a_description_an_allowed_category_and_a_hazard_level(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer
) -> None:
    analysis = analyze(analyzer)
    assert analysis.description_zh == GOOD["description"]
    assert analysis.category_code == "C0102"
    assert analysis.category_confidence is None
    assert analysis.hazard_level is HazardLevel.HIGH
    assert analysis.source is AnalysisSource.LLM
    assert analysis.warnings == ()
    assert analysis.facts.gps == pytest.approx((LON, LAT), abs=1e-6)
    assert analysis.facts.taken_at == TAKEN


def test_the_request_carries_the_model_the_key_the_text_the_category_list_and_the_image(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer
) -> None:
    analyze(analyzer)
    (request,) = service.requests
    assert request["model"] == MODEL
    assert request["response_format"] == {"type": "json_object"}
    assert service.headers[0]["Authorization"] == f"Bearer {API_KEY}"
    text, image = service.user_parts()
    assert "小区门口井盖没了" in text["text"]
    assert all(f"{c.code} {c.name_zh}" in text["text"] for c in CATEGORIES)
    assert image["type"] == "image_url"
    assert image["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_the_photo_sent_to_the_model_has_no_exif_so_no_gps_leaves_the_city(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer
) -> None:
    analyze(analyzer)
    url = service.user_parts()[1]["image_url"]["url"]
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (640, 480)
    assert dict(sent.getexif()) == {}


def test_a_service_without_json_mode_is_asked_without_a_response_format(
    service: FakeChatService, slept: list[float]
) -> None:
    analyzer = ChatCompletionsAnalyzer(service.url, MODEL, json_mode=False, sleep=slept.append)
    assert analyze(analyzer).category_code == "C0102"
    assert "response_format" not in service.requests[0]


def test_a_base_url_ending_in_v1_reaches_the_same_endpoint(
    service: FakeChatService, slept: list[float]
) -> None:
    analyzer = ChatCompletionsAnalyzer(f"{service.url}/v1/", MODEL, sleep=slept.append)
    assert analyze(analyzer).category_code == "C0102"
    assert "Authorization" not in service.headers[0]


def test_an_answer_inside_a_json_fence_after_some_prose_is_accepted(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer
) -> None:
    fenced = f"识别结果如下：\n```json\n{json.dumps(GOOD, ensure_ascii=False)}\n```"
    service.replies.append(completion(fenced))
    assert analyze(analyzer).category_code == "C0102"


def test_a_category_not_in_the_allowed_list_is_dropped_with_a_warning(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer
) -> None:
    service.replies.append(completion(json.dumps({**GOOD, "category_code": "X9999"})))
    analysis = analyze(analyzer)
    assert analysis.category_code is None
    assert analysis.description_zh == GOOD["description"]
    assert analysis.warnings == (
        "the model named category 'X9999', not in the allowed list; ignored",
    )


def test_a_category_code_that_is_not_text_is_dropped_with_a_warning(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer
) -> None:
    service.replies.append(completion(json.dumps({**GOOD, "category_code": ["C0102"]})))
    analysis = analyze(analyzer)
    assert analysis.category_code is None
    assert len(analysis.warnings) == 1


def test_a_null_category_means_the_model_was_not_sure_and_is_no_warning(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer
) -> None:
    service.replies.append(completion(json.dumps({**GOOD, "category_code": None})))
    analysis = analyze(analyzer)
    assert analysis.category_code is None and analysis.warnings == ()


def test_a_hazard_level_outside_low_medium_high_is_dropped_with_a_warning(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer
) -> None:
    service.replies.append(completion(json.dumps({**GOOD, "hazard_level": "高"})))
    analysis = analyze(analyzer)
    assert analysis.hazard_level is None
    assert analysis.category_code == "C0102"
    assert analysis.warnings == ("the model gave hazard level '高', not low/medium/high",)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (json.dumps({"description": "井盖缺失"}), "lacks category_code, hazard_level"),
        (json.dumps({**GOOD, "description": ""}), "description is empty"),
        (json.dumps({**GOOD, "description": "很长" * 300}), "the description is 600 characters"),
        ("井盖缺失，属于污水井盖，危害高。", "not valid JSON"),
        ('{"description": "井盖缺失", "category_code": "C0102",', "not valid JSON"),
        ('["C0102"]', "JSON but not an object"),
    ],
)
def test_a_model_answer_that_is_not_the_json_asked_for_is_an_error_naming_the_reason(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer, content: str, reason: str
) -> None:
    service.replies.append(completion(content))
    with pytest.raises(ModelAnswerInvalid, match=reason):
        analyze(analyzer)
    assert len(service.requests) == 1


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(200, b"<html>Bad Gateway</html>"), "body that is not JSON"),
        (Reply(200, b'{"object": "chat.completion", "choices": []}'), "has no choices"),
        (Reply(200, b'{"error": {"message": "overloaded"}}'), "has no choices"),
        (
            Reply(200, b'{"choices": [{"message": {"role": "assistant", "content": null}}]}'),
            "no message text",
        ),
        (completion('{"description": "井盖', finish_reason="length"), "cut off at max_tokens"),
        (completion("好" * 5000), "5000 characters, over the limit of 4000"),
        (Reply(200, b"x" * (MAX_BODY_BYTES + 1)), f"over the limit of {MAX_BODY_BYTES} bytes"),
    ],
)
def test_an_unusable_answer_from_the_service_is_an_error_naming_the_reason(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer, reply: Reply, reason: str
) -> None:
    service.replies.append(reply)
    with pytest.raises(ModelAnswerInvalid, match=reason):
        analyze(analyzer)


def test_server_errors_are_retried_with_growing_backoff_until_an_answer_comes(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer, slept: list[float]
) -> None:
    service.replies.extend([error(503, "overloaded"), error(429, "rate limited")])
    assert analyze(analyzer).category_code == "C0102"
    assert len(service.requests) == 3
    assert slept == [0.5, 1.0]


def test_server_errors_on_every_attempt_make_the_service_unavailable(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer, slept: list[float]
) -> None:
    service.replies.extend([error(500), error(502), error(500, "CUDA out of memory")])
    with pytest.raises(ModelServiceUnavailable, match="after 3 attempts: HTTP 500") as caught:
        analyze(analyzer)
    assert "CUDA out of memory" in caught.value.reason
    assert len(service.requests) == 3
    assert slept == [0.5, 1.0]


@pytest.mark.parametrize("status", [400, 401, 404, 413, 422])
def test_a_client_error_is_refused_at_once_without_a_retry(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer, slept: list[float], status: int
) -> None:
    service.replies.append(error(status, "model not found"))
    with pytest.raises(ModelServiceRejected, match=f"HTTP {status}") as caught:
        analyze(analyzer)
    assert caught.value.status_code == status
    assert "model not found" in caught.value.body
    assert len(service.requests) == 1 and slept == []


def test_a_service_that_does_not_answer_in_time_times_out_on_every_attempt(
    service: FakeChatService, slept: list[float]
) -> None:
    service.replies.extend([Reply(delay=5.0), Reply(delay=5.0)])
    analyzer = ChatCompletionsAnalyzer(
        service.url, MODEL, timeout=0.2, attempts=2, sleep=slept.append
    )
    with pytest.raises(ModelServiceUnavailable, match=r"after 2 attempts: timed out after 0.2 s"):
        analyze(analyzer)
    assert len(service.requests) == 2
    assert slept == [0.5]


def test_a_slow_first_answer_is_retried_and_the_second_one_used(
    service: FakeChatService, slept: list[float]
) -> None:
    service.replies.append(Reply(delay=5.0))
    analyzer = ChatCompletionsAnalyzer(
        service.url, MODEL, timeout=0.2, attempts=2, sleep=slept.append
    )
    assert analyze(analyzer).category_code == "C0102"


def test_a_refused_connection_makes_the_service_unavailable(slept: list[float]) -> None:
    analyzer = ChatCompletionsAnalyzer(
        f"http://127.0.0.1:{free_port()}", MODEL, attempts=2, sleep=slept.append
    )
    with pytest.raises(ModelServiceUnavailable, match="after 2 attempts: ConnectError"):
        analyze(analyzer)
    assert slept == [0.5]


def test_a_bad_photo_is_refused_before_the_service_is_asked(
    service: FakeChatService, analyzer: ChatCompletionsAnalyzer
) -> None:
    with pytest.raises(InvalidInput, match="photo: is not a JPEG, PNG or WebP"):
        analyzer.analyze(b"%PDF-1.7 not a photo", text=None, categories=CATEGORIES)
    assert service.requests == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_url": "127.0.0.1:8000"}, "base_url"),
        ({"model": ""}, "model"),
        ({"attempts": 0}, "attempts"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_a_misconfigured_client_is_refused_naming_the_value(
    kwargs: dict[str, Any], field: str
) -> None:
    values: dict[str, Any] = {"base_url": "http://127.0.0.1:8000", "model": MODEL, **kwargs}
    with pytest.raises(InvalidInput) as caught:
        ChatCompletionsAnalyzer(**values)
    assert caught.value.field == field


FACTS = {"date": "2026-05-04", "new_cases": 1234, "closed": 1180, "overdue": 7, "rate": 95.6}
TEMPLATE = "2026年5月4日，全市新增工单1,234件，结案1180件，超期7件，按期办结率95.6%。"


@pytest.fixture
def writer(service: FakeChatService, slept: list[float]) -> ChatCompletionsWriter:
    return ChatCompletionsWriter(service.url, MODEL, api_key=API_KEY, sleep=slept.append)


def test_a_rewrite_that_keeps_every_figure_replaces_the_template(
    service: FakeChatService, writer: ChatCompletionsWriter
) -> None:
    better = "5月4日，全市共受理新增工单１２３４件；已结案1180件，超期7件，按期办结率达95.60%。"
    service.replies.append(completion(better))
    assert writer.rewrite(TEMPLATE, FACTS) == better
    sent = service.requests[0]["messages"][-1]["content"]
    assert TEMPLATE in sent and '"new_cases": 1234' in sent
    assert "response_format" not in service.requests[0]


def test_a_rewrite_that_invents_a_figure_is_rejected_and_the_template_kept(
    service: FakeChatService, writer: ChatCompletionsWriter, caplog: pytest.LogCaptureFixture
) -> None:
    service.replies.append(completion("全市新增工单1234件，同比上升12%，结案1180件，超期7件。"))
    with caplog.at_level(logging.WARNING, logger="gridgov.ai.llm"):
        assert writer.rewrite(TEMPLATE, FACTS) == TEMPLATE
    assert "figures not in the data: 12" in caplog.text


def test_a_failed_rewrite_raises_so_the_caller_keeps_the_template(
    service: FakeChatService, writer: ChatCompletionsWriter
) -> None:
    service.replies.extend([error(503)] * 3)
    with pytest.raises(ModelServiceUnavailable):
        writer.rewrite(TEMPLATE, FACTS)
    service.replies.append(completion("   "))
    with pytest.raises(ModelAnswerInvalid, match="the rewrite is empty"):
        writer.rewrite(TEMPLATE, FACTS)


@pytest.mark.parametrize(
    ("text", "untraceable"),
    [
        ("新增1,234件，超期07件", []),
        ("新增１２３４件，办结率95.60%", []),
        ("2026年5月4日", []),
        ("新增1235件", ["1235"]),
        ("办结率95.7%，超期8件", ["8", "95.7"]),
        ("没有数字", []),
    ],
)
def test_figures_are_traced_to_the_data_however_they_are_written(
    text: str, untraceable: list[str]
) -> None:
    assert untraceable_figures(text, FACTS) == untraceable


def test_an_injected_transport_carries_the_request_so_no_socket_is_opened() -> None:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, content=completion(json.dumps(GOOD, ensure_ascii=False)).body)

    # A port nothing listens on: only the transport can have answered.
    analyzer = ChatCompletionsAnalyzer(
        f"http://127.0.0.1:{free_port()}/v1",
        MODEL,
        api_key=API_KEY,
        transport=httpx2.MockTransport(answer),
    )
    analysis = analyzer.analyze(photo(), text="井盖没了", categories=CATEGORIES)
    assert analysis.category_code == "C0102"
    assert seen[0].url.path == "/v1/chat/completions"
    assert seen[0].headers["Authorization"] == f"Bearer {API_KEY}"
    writer = ChatCompletionsWriter(
        "http://model.invalid", MODEL, transport=httpx2.MockTransport(answer), attempts=1
    )
    assert writer.draft("日报草稿：上报3件。", {"reports": 3}) == json.dumps(
        GOOD, ensure_ascii=False
    )
    assert writer.label == f"model {MODEL} at http://model.invalid"
