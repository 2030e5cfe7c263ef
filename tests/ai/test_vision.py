"""Image analyzers: a tiny ONNX image encoder built here and loaded through our ONNX path, the
EXIF-only analyzer, and the chooser with its fallback chain."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from gridgov.ai.vision import (
    CLIP_MEAN,
    CLIP_STD,
    AnalysisSource,
    CategoryChoice,
    ExifAnalyzer,
    FallbackAnalyzer,
    ModelError,
    ModelFileError,
    OnnxZeroShotAnalyzer,
    choose_analyzer,
)
from gridgov.core.errors import InvalidInput
from tests.ai.photo_samples import LAT, LON, jpeg

TAKEN = datetime(2026, 5, 4, 9, 30)
HEIGHT, WIDTH = 16, 24
# The tiny encoder averages each colour channel, then projects the three means to 4 dimensions.
PROJECTION = np.array(
    [[1.0, 0.0, 0.0, 0.5], [0.0, 1.0, 0.0, 0.5], [0.0, 0.0, 1.0, 0.5]], dtype=np.float32
)
# Each category's "text embedding" is where a photo of its colour lands: what a CLIP text encoder
# would give for the category's name, in a world where categories are colours.
COLOURS = {
    "C0101": ("上水井盖", (40, 60, 200)),
    "E0101": ("私搭乱建", (200, 40, 40)),
    "E0201": ("绿化带损坏", (40, 180, 60)),
}
CATEGORIES = tuple(CategoryChoice(code, name) for code, (name, _) in COLOURS.items())


def embedding_of(colour: tuple[int, int, int]) -> np.ndarray[Any, np.dtype[np.float32]]:
    pixel = (np.array(colour, dtype=np.float32) / 255 - CLIP_MEAN) / CLIP_STD
    return (pixel @ PROJECTION).astype(np.float32)


def encoder(
    shape: list[int | str] | None = None, elem_type: int = TensorProto.FLOAT
) -> onnx.ModelProto:
    """GlobalAveragePool → Flatten → MatMul: an image encoder small enough to read."""
    shape = shape or ["N", 3, HEIGHT, WIDTH]
    channels = shape[1] if isinstance(shape[1], int) else 3
    projection = PROJECTION if channels == 3 else np.ones((channels, 4), np.float32)
    # Cast first: a model taking another input type is then still valid, only its input is odd.
    nodes = [helper.make_node("Cast", ["pixels"], ["floats"], to=TensorProto.FLOAT)]
    graph = helper.make_graph(
        [
            *nodes,
            helper.make_node("GlobalAveragePool", ["floats"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["means"], axis=1),
            helper.make_node("MatMul", ["means", "projection"], ["embedding"]),
        ],
        "tiny_image_encoder",
        [helper.make_tensor_value_info("pixels", elem_type, shape)],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(projection, "projection")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    path = tmp_path / "encoder.onnx"
    onnx.save(encoder(), path)
    return path


@pytest.fixture
def embeddings_path(tmp_path: Path) -> Path:
    path = tmp_path / "categories.npz"
    codes = np.array(list(COLOURS))
    vectors = np.stack([embedding_of(colour) for _, colour in COLOURS.values()])
    np.savez(path, codes=codes, vectors=vectors)
    return path


@pytest.fixture
def analyzer(model_path: Path, embeddings_path: Path) -> OnnxZeroShotAnalyzer:
    return OnnxZeroShotAnalyzer(model_path, embeddings_path)


def photo(colour: tuple[int, int, int], size: tuple[int, int] = (640, 480)) -> bytes:
    return jpeg(Image.new("RGB", size, colour), gps=(LON, LAT), taken=TAKEN)


def test_a_photo_gets_the_category_whose_embedding_it_is_closest_to(
    analyzer: OnnxZeroShotAnalyzer,
) -> None:
    analysis = analyzer.analyze(photo((190, 50, 45)), text=None, categories=CATEGORIES)
    assert analysis.category_code == "E0101"
    assert analysis.category_confidence is not None and analysis.category_confidence > 0.9
    assert analysis.description_zh == "照片疑似：私搭乱建"
    assert analysis.hazard_level is None
    assert analysis.source is AnalysisSource.ONNX
    assert analysis.facts.gps == pytest.approx((LON, LAT), abs=1e-6)
    assert analysis.facts.taken_at == TAKEN


def test_only_an_allowed_category_is_ever_proposed(analyzer: OnnxZeroShotAnalyzer) -> None:
    allowed = [c for c in CATEGORIES if c.code != "E0101"]
    analysis = analyzer.analyze(photo((190, 50, 45)), text=None, categories=allowed)
    assert analysis.category_code in {c.code for c in allowed}


def test_allowed_categories_without_embeddings_give_no_category_and_a_warning(
    analyzer: OnnxZeroShotAnalyzer,
) -> None:
    analysis = analyzer.analyze(
        photo((190, 50, 45)), text=None, categories=[CategoryChoice("H0101", "城乡建设")]
    )
    assert analysis.category_code is None and analysis.category_confidence is None
    assert analysis.warnings == (
        "none of the allowed categories has an embedding; no category proposed",
    )


def test_a_higher_temperature_spreads_the_confidence(
    model_path: Path, embeddings_path: Path
) -> None:
    image = photo((150, 90, 120))
    sharp = OnnxZeroShotAnalyzer(model_path, embeddings_path, temperature=0.01)
    soft = OnnxZeroShotAnalyzer(model_path, embeddings_path, temperature=1.0)
    a = sharp.analyze(image, text=None, categories=CATEGORIES)
    b = soft.analyze(image, text=None, categories=CATEGORIES)
    assert a.category_code == b.category_code
    assert a.category_confidence is not None and b.category_confidence is not None
    assert b.category_confidence < a.category_confidence
    assert 1 / 3 < b.category_confidence < 0.6


def test_a_photo_of_any_size_and_mode_is_fitted_to_the_models_input(
    analyzer: OnnxZeroShotAnalyzer,
) -> None:
    import io

    out = io.BytesIO()
    Image.new("RGBA", (37, 301), (40, 180, 60, 255)).save(out, "PNG")
    analysis = analyzer.analyze(out.getvalue(), text=None, categories=CATEGORIES)
    assert analysis.category_code == "E0201"
    assert analysis.facts.gps is None and analysis.facts.taken_at is None


def test_a_missing_model_file_is_refused_at_load_naming_the_path(
    tmp_path: Path, embeddings_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "clip.onnx"
    with pytest.raises(ModelFileError, match="the ONNX model file does not exist") as caught:
        OnnxZeroShotAnalyzer(missing, embeddings_path)
    assert caught.value.path == missing
    assert str(missing) in str(caught.value)


def test_a_file_that_is_not_an_onnx_model_is_refused_at_load(
    tmp_path: Path, embeddings_path: Path
) -> None:
    bad = tmp_path / "clip.onnx"
    bad.write_bytes(b"this is not a protobuf at all")
    with pytest.raises(ModelFileError, match="is not a loadable ONNX model") as caught:
        OnnxZeroShotAnalyzer(bad, embeddings_path)
    assert caught.value.path == bad


@pytest.mark.parametrize(
    ("shape", "elem_type", "problem"),
    [
        (["N", 1, HEIGHT, WIDTH], TensorProto.FLOAT, "expected N×3×H×W"),
        (["N", 3, HEIGHT * WIDTH], TensorProto.FLOAT, "expected N×3×H×W"),
        (["N", 3, "H", "W"], TensorProto.FLOAT, "needs a fixed H and W"),
        (["N", 3, HEIGHT, WIDTH], TensorProto.DOUBLE, "expected float32"),
    ],
)
def test_a_model_with_the_wrong_input_is_refused_at_load(
    tmp_path: Path, embeddings_path: Path, shape: list[int | str], elem_type: int, problem: str
) -> None:
    path = tmp_path / "encoder.onnx"
    onnx.save(encoder(shape, elem_type), path)
    with pytest.raises(ModelFileError, match=problem):
        OnnxZeroShotAnalyzer(path, embeddings_path)


def test_embeddings_of_another_dimension_than_the_model_are_refused_at_load(
    tmp_path: Path, model_path: Path
) -> None:
    path = tmp_path / "categories.npz"
    np.savez(path, codes=np.array(["C0101", "E0101"]), vectors=np.ones((2, 5), np.float32))
    with pytest.raises(ModelFileError, match=r"vectors have 5 dimensions but the model .* gives 4"):
        OnnxZeroShotAnalyzer(model_path, path)


@pytest.mark.parametrize(
    ("arrays", "problem"),
    [
        ({"vectors": np.ones((2, 4))}, "lacks the arrays codes"),
        (
            {"codes": np.array(["a", "b"]), "vectors": np.ones((3, 4))},
            r"shape \(3, 4\); expected 2×D",
        ),
        ({"codes": np.array(["a", "a"]), "vectors": np.ones((2, 4))}, "codes are not unique"),
        ({"codes": np.array([1, 2]), "vectors": np.ones((2, 4))}, "1-D array of strings"),
        ({"codes": np.array(["a", "b"]), "vectors": np.zeros((2, 4))}, "zero or not finite"),
        (
            {"codes": np.array(["a", "b"], dtype=object), "vectors": np.ones((2, 4))},
            "not a readable .npz",
        ),
    ],
)
def test_a_bad_embeddings_file_is_refused_at_load_naming_the_problem(
    tmp_path: Path, model_path: Path, arrays: dict[str, Any], problem: str
) -> None:
    path = tmp_path / "categories.npz"
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match=problem) as caught:
        OnnxZeroShotAnalyzer(model_path, path)
    assert caught.value.path == path


def test_a_missing_embeddings_file_is_refused_at_load(tmp_path: Path, model_path: Path) -> None:
    with pytest.raises(ModelFileError, match="category embeddings file does not exist"):
        OnnxZeroShotAnalyzer(model_path, tmp_path / "categories.npz")


def test_without_a_model_the_photo_gives_its_exif_facts_and_no_category() -> None:
    analysis = ExifAnalyzer().analyze(photo((190, 50, 45)), text="井盖没了", categories=CATEGORIES)
    assert analysis.source is AnalysisSource.EXIF
    assert analysis.category_code is None and analysis.description_zh == ""
    assert analysis.facts.gps == pytest.approx((LON, LAT), abs=1e-6)
    assert analysis.facts.taken_at == TAKEN
    assert (analysis.facts.width, analysis.facts.height) == (640, 480)


def test_none_chooses_the_exif_analyzer() -> None:
    assert isinstance(choose_analyzer("none"), ExifAnalyzer)


def test_onnx_chooses_the_onnx_analyzer_with_exif_behind_it(
    model_path: Path, embeddings_path: Path
) -> None:
    chosen = choose_analyzer(
        "onnx", onnx_model_path=model_path, onnx_embeddings_path=embeddings_path
    )
    assert chosen.name == "onnx→exif"
    analysis = chosen.analyze(photo((40, 60, 200)), text=None, categories=CATEGORIES)
    assert analysis.category_code == "C0101" and analysis.warnings == ()


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_failing_language_model_falls_back_to_onnx_with_the_reason_recorded(
    model_path: Path, embeddings_path: Path
) -> None:
    chosen = choose_analyzer(
        "llm",
        llm_base_url=closed_port_url(),
        llm_model="qwen-vl",
        llm_attempts=1,
        onnx_model_path=model_path,
        onnx_embeddings_path=embeddings_path,
    )
    assert chosen.name == "llm→onnx→exif"
    analysis = chosen.analyze(photo((40, 60, 200)), text=None, categories=CATEGORIES)
    assert analysis.source is AnalysisSource.ONNX
    assert analysis.category_code == "C0101"
    (warning,) = analysis.warnings
    assert warning.startswith("llm failed, fell back: no answer after 1 attempts: ConnectError")


def test_a_failing_language_model_without_onnx_falls_back_to_exif() -> None:
    chosen = choose_analyzer(
        "llm", llm_base_url=closed_port_url(), llm_model="qwen-vl", llm_attempts=1
    )
    analysis = chosen.analyze(photo((40, 60, 200)), text=None, categories=CATEGORIES)
    assert analysis.source is AnalysisSource.EXIF
    assert analysis.facts.taken_at == TAKEN
    assert len(analysis.warnings) == 1 and "llm failed" in analysis.warnings[0]


def test_a_bad_photo_is_refused_not_passed_down_the_fallback_chain() -> None:
    chosen = choose_analyzer(
        "llm", llm_base_url=closed_port_url(), llm_model="qwen-vl", llm_attempts=1
    )
    with pytest.raises(InvalidInput, match="photo: is empty"):
        chosen.analyze(b"", text=None, categories=CATEGORIES)


class _Broken:
    name = "broken"

    def analyze(self, image: bytes, *, text: str | None, categories: Any) -> Any:
        raise ModelError(self.name, "it always fails")


def test_a_chain_where_every_analyzer_fails_raises_with_every_reason() -> None:
    chain = FallbackAnalyzer([_Broken(), _Broken()])
    with pytest.raises(ModelError, match="broken failed, fell back: it always fails; broken"):
        chain.analyze(photo((1, 2, 3)), text=None, categories=CATEGORIES)


@pytest.mark.parametrize(
    ("kind", "values", "field"),
    [
        ("gpt", {}, "kind"),
        ("llm", {"llm_model": "qwen-vl"}, "llm_base_url"),
        ("llm", {"llm_base_url": "http://127.0.0.1:9"}, "llm_model"),
        ("onnx", {}, "onnx_model_path"),
        ("onnx", {"onnx_model_path": "m.onnx"}, "onnx_embeddings_path"),
        ("llm", {"llm_base_url": "ftp://x", "llm_model": "m"}, "base_url"),
    ],
)
def test_a_chooser_missing_a_value_names_it(kind: str, values: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        choose_analyzer(kind, **values)
    assert caught.value.field == field


def test_a_configured_onnx_model_that_does_not_load_stops_the_chooser_at_start_up(
    tmp_path: Path, embeddings_path: Path
) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        choose_analyzer(
            "llm",
            llm_base_url="http://127.0.0.1:9",
            llm_model="qwen-vl",
            onnx_model_path=tmp_path / "missing.onnx",
            onnx_embeddings_path=embeddings_path,
        )


def test_importing_the_ai_modules_loads_no_onnxruntime() -> None:
    code = (
        "import sys, gridgov.ai.vision, gridgov.ai.llm, gridgov.ai.verification; "
        "print('onnxruntime' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
