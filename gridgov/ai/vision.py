"""Photo → description, category and hazard, behind one small protocol, with a fallback chain.

Three implementations of `ImageAnalyzer`, chosen from plain configuration values by
`choose_analyzer`:

    llm   ChatCompletionsAnalyzer (gridgov.ai.llm): an OpenAI-compatible chat-completions
          endpoint with vision — a city's private model, e.g. Qwen-VL on vLLM
    onnx  OnnxZeroShotAnalyzer: a local CLIP-style image encoder scored against category text
          embeddings computed offline
    exif  ExifAnalyzer: no model; the photo's EXIF time and GPS only, the text pipeline classifies

Errors a model raises on purpose:

GridGovError
└── ModelError              a configured model gave no usable answer; `reason` says why
    ├── ModelFileError      a model or embeddings file is missing, unreadable or the wrong shape
    └── ModelServiceError   (gridgov.ai.llm) the model service failed: timeout, refusal, bad answer

A bad photo is not a model failure: it raises `InvalidInput("photo", …)` whichever analyzer runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from PIL import Image, ImageOps

from gridgov.core.errors import GridGovError, InvalidInput
from gridgov.core.images import exif_gps, exif_time, open_image

if TYPE_CHECKING:
    from numpy.typing import NDArray

MAX_PHOTO_BYTES = 10 * 1024 * 1024
# The same limits as intake's photo check: a decompression bomb must not reach a model either.
MAX_PHOTO_PIXELS = 50_000_000
# CLIP's normalization; a deployment with another encoder passes its own.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# CLIP's learned logit scale is 100, i.e. a temperature of 0.01 over cosine similarities.
DEFAULT_TEMPERATURE = 0.01

_FIELD = "photo"

AnalyzerKind = Literal["llm", "onnx", "none"]


class HazardLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class AnalysisSource(StrEnum):
    LLM = "llm"
    ONNX = "onnx"
    EXIF = "exif"


@dataclass(frozen=True, slots=True)
class CategoryChoice:
    """One category the analyzer may answer with: a leaf code and its Chinese name."""

    code: str
    name_zh: str


@dataclass(frozen=True, slots=True)
class PhotoFacts:
    """What a photo's content and EXIF say: `gps` is (lon, lat) WGS84; a naive `taken_at` is
    the camera's local time (most cameras record no UTC offset)."""

    width: int
    height: int
    taken_at: datetime | None
    gps: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class Analysis:
    """A proposal for the grid worker to confirm; `category_code` is always one of the allowed
    codes or None, and `category_confidence` is None when the source gives no calibrated one."""

    description_zh: str
    category_code: str | None
    category_confidence: float | None
    hazard_level: HazardLevel | None
    source: AnalysisSource
    facts: PhotoFacts
    warnings: tuple[str, ...] = ()


class ImageAnalyzer(Protocol):
    name: str

    def analyze(
        self, image: bytes, *, text: str | None, categories: Sequence[CategoryChoice]
    ) -> Analysis:
        """Describe the photo and pick one of `categories`; raises ModelError when it cannot."""
        ...


class ModelError(GridGovError):
    def __init__(self, model: str, reason: str) -> None:
        self.model = model
        self.reason = reason
        super().__init__(f"{model}: {reason}")


class ModelFileError(ModelError):
    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        super().__init__(str(path), problem)


def open_photo(
    data: bytes, *, max_bytes: int = MAX_PHOTO_BYTES, max_pixels: int = MAX_PHOTO_PIXELS
) -> Image.Image:
    """The fully decoded photo, or InvalidInput("photo", why not); cheapest check first."""
    return open_image(data, max_bytes=max_bytes, max_pixels=max_pixels, field=_FIELD)


def photo_facts(image: Image.Image) -> PhotoFacts:
    """Size, EXIF time and EXIF GPS of a decoded photo (the same reading as intake's)."""
    exif = image.getexif()
    return PhotoFacts(image.width, image.height, exif_time(exif), exif_gps(exif))


def upright_rgb(image: Image.Image) -> Image.Image:
    """The photo as a viewer shows it: EXIF orientation applied, RGB, transparency on white."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


class ExifAnalyzer:
    """No model: EXIF facts only; no description and no category, the text pipeline decides."""

    name = "exif"

    def analyze(
        self, image: bytes, *, text: str | None, categories: Sequence[CategoryChoice]
    ) -> Analysis:
        # `text` and `categories` are part of the protocol; without a model there is nothing to
        # weigh them against, and the text classifier reads the text anyway.
        facts = photo_facts(open_photo(image))
        return Analysis("", None, None, None, AnalysisSource.EXIF, facts)


class OnnxZeroShotAnalyzer:
    """A CLIP-style image encoder (ONNX) against category text embeddings made offline.

    The model takes one float32 input N×3×H×W (H and W fixed in the model; pixels scaled to 0..1
    then normalized with `mean`/`std`) and gives N×D embeddings. The embeddings file is an .npz
    with `codes` (K category codes) and `vectors` (K×D), typically the text encoder's output for
    a prompt like "一张关于{name_zh}的照片" per category. Everything is checked when loading, so a
    misconfigured deployment refuses to start instead of failing on the first photo.
    """

    name = "onnx"

    def __init__(
        self,
        model_path: Path | str,
        category_embeddings_path: Path | str,
        *,
        temperature: float = DEFAULT_TEMPERATURE,
        mean: Sequence[float] = CLIP_MEAN,
        std: Sequence[float] = CLIP_STD,
    ) -> None:
        if not temperature > 0:
            raise InvalidInput("temperature", f"must be positive, not {temperature}")
        self._temperature = temperature
        self._mean = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
        self._std = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
        self._codes, self._vectors = _load_embeddings(Path(category_embeddings_path))
        self._session, self._input, self._size = _load_encoder(Path(model_path))
        try:
            probe = self._encode(np.zeros((1, 3, *self._size), dtype=np.float32))
        except ModelError as exc:
            raise ModelFileError(model_path, exc.reason) from exc
        dimension = probe.shape[1]
        if dimension != self._vectors.shape[1]:
            raise ModelFileError(
                category_embeddings_path,
                f"vectors have {self._vectors.shape[1]} dimensions but the model {model_path} "
                f"gives {dimension}",
            )

    def analyze(
        self, image: bytes, *, text: str | None, categories: Sequence[CategoryChoice]
    ) -> Analysis:
        # `text` is part of the protocol; a zero-shot image encoder reads only the pixels.
        photo = open_photo(image)
        facts = photo_facts(photo)
        known = {code: row for row, code in enumerate(self._codes)}
        allowed = [c for c in categories if c.code in known]
        if not allowed:
            warning = "none of the allowed categories has an embedding; no category proposed"
            return Analysis("", None, None, None, AnalysisSource.ONNX, facts, (warning,))
        embedding = self._encode(self._pixels(photo))[0]
        norm = float(np.linalg.norm(embedding))
        if not math.isfinite(norm) or norm == 0:
            raise ModelError(self.name, "the image encoder gave a zero or non-finite embedding")
        rows = self._vectors[[known[c.code] for c in allowed]]
        cosine = rows @ (embedding / norm)
        logits = cosine / self._temperature
        weights = np.exp(logits - logits.max())
        probabilities = weights / weights.sum()
        best = int(np.argmax(probabilities))
        choice = allowed[best]
        return Analysis(
            description_zh=f"照片疑似：{choice.name_zh}",
            category_code=choice.code,
            category_confidence=round(float(probabilities[best]), 3),
            hazard_level=None,
            source=AnalysisSource.ONNX,
            facts=facts,
        )

    def _pixels(self, photo: Image.Image) -> NDArray[np.float32]:
        height, width = self._size
        # Centre crop to the model's aspect, then resize: what CLIP's own preprocessing does.
        fitted = ImageOps.fit(upright_rgb(photo), (width, height), Image.Resampling.BICUBIC)
        array = np.asarray(fitted, dtype=np.float32).transpose(2, 0, 1)[np.newaxis] / 255.0
        return ((array - self._mean) / self._std).astype(np.float32)

    def _encode(self, pixels: NDArray[np.float32]) -> NDArray[np.float32]:
        try:
            (out, *_) = self._session.run(None, {self._input: pixels})
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(self.name, f"the image encoder failed: {exc}") from exc
        result = np.asarray(out, dtype=np.float32)
        if result.ndim != 2 or result.shape[0] != 1:
            raise ModelError(self.name, f"the encoder gave shape {result.shape}, expected 1×D")
        return result


def _load_encoder(path: Path) -> tuple[Any, str, tuple[int, int]]:
    """An onnxruntime session, its input name and its (H, W); ModelFileError naming the path."""
    if not path.is_file():
        raise ModelFileError(path, "the ONNX model file does not exist")
    # Imported here: onnxruntime is heavy and only a deployment that configured ONNX needs it.
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ModelFileError(path, f"is not a loadable ONNX model ({exc})") from exc
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelFileError(path, f"the model has {len(inputs)} inputs; expected one image input")
    spec = inputs[0]
    shape = list(spec.shape)
    if spec.type != "tensor(float)":
        raise ModelFileError(path, f"the input {spec.name!r} is {spec.type}, expected float32")
    if len(shape) != 4 or shape[1] != 3:
        raise ModelFileError(path, f"the input {spec.name!r} has shape {shape}, expected N×3×H×W")
    height, width = shape[2], shape[3]
    if not (isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0):
        raise ModelFileError(path, f"the input {spec.name!r} needs a fixed H and W, not {shape}")
    return session, str(spec.name), (height, width)


def _load_embeddings(path: Path) -> tuple[list[str], NDArray[np.float32]]:
    """Category codes and unit-length vectors from an .npz; ModelFileError naming the problem."""
    if not path.is_file():
        raise ModelFileError(path, "the category embeddings file does not exist")
    try:
        # allow_pickle=False: an .npz may otherwise carry pickled objects that run code on load.
        with np.load(path, allow_pickle=False) as archive:
            missing = {"codes", "vectors"} - set(archive.files)
            if missing:
                raise ModelFileError(path, f"lacks the arrays {', '.join(sorted(missing))}")
            codes, vectors = archive["codes"], archive["vectors"]
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(path, f"is not a readable .npz of codes and vectors ({exc})") from exc
    if codes.ndim != 1 or codes.dtype.kind != "U":
        raise ModelFileError(path, "codes must be a 1-D array of strings")
    if vectors.ndim != 2 or vectors.shape[0] != codes.shape[0] or vectors.shape[0] == 0:
        raise ModelFileError(
            path, f"vectors have shape {vectors.shape}; expected {codes.shape[0]}×D"
        )
    code_list = [str(code) for code in codes]
    if len(set(code_list)) != len(code_list):
        raise ModelFileError(path, "codes are not unique")
    matrix = vectors.astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ModelFileError(path, "some vectors are zero or not finite")
    return code_list, matrix / norms


class FallbackAnalyzer:
    """Asks each analyzer in turn until one answers; the failures become warnings."""

    def __init__(self, analyzers: Sequence[ImageAnalyzer]) -> None:
        if not analyzers:
            raise InvalidInput("analyzers", "needs at least one analyzer")
        self._analyzers = tuple(analyzers)
        self.name = "→".join(a.name for a in self._analyzers)

    def analyze(
        self, image: bytes, *, text: str | None, categories: Sequence[CategoryChoice]
    ) -> Analysis:
        failures: list[str] = []
        for analyzer in self._analyzers:
            try:
                analysis = analyzer.analyze(image, text=text, categories=categories)
            except ModelError as exc:
                failures.append(f"{analyzer.name} failed, fell back: {exc.reason}")
                continue
            return replace(analysis, warnings=(*failures, *analysis.warnings))
        raise ModelError(self.name, "; ".join(failures))


def choose_analyzer(
    kind: AnalyzerKind | str,
    *,
    llm_base_url: str | None = None,
    llm_model: str | None = None,
    llm_api_key: str | None = None,
    llm_timeout: float = 30.0,
    llm_attempts: int = 3,
    llm_json_mode: bool = True,
    onnx_model_path: Path | str | None = None,
    onnx_embeddings_path: Path | str | None = None,
    onnx_temperature: float = DEFAULT_TEMPERATURE,
) -> ImageAnalyzer:
    """The configured analyzer, falling back LLM → ONNX (when configured) → EXIF on ModelError.

    A missing value for the chosen kind is InvalidInput naming it; an ONNX file that does not
    load is ModelFileError now, at start-up, not on the first photo.
    """
    if kind == "none":
        return ExifAnalyzer()
    if kind not in ("llm", "onnx"):
        raise InvalidInput("kind", f"{kind!r} is not one of llm, onnx, none")
    chain: list[ImageAnalyzer] = []
    if kind == "llm":
        if not llm_base_url:
            raise InvalidInput("llm_base_url", "is required when the analyzer is llm")
        if not llm_model:
            raise InvalidInput("llm_model", "is required when the analyzer is llm")
        # Imported here because gridgov.ai.llm imports this module's types.
        from gridgov.ai.llm import ChatCompletionsAnalyzer

        chain.append(
            ChatCompletionsAnalyzer(
                llm_base_url,
                llm_model,
                api_key=llm_api_key,
                timeout=llm_timeout,
                attempts=llm_attempts,
                json_mode=llm_json_mode,
            )
        )
    onnx_configured = onnx_model_path is not None or onnx_embeddings_path is not None
    if kind == "onnx" or onnx_configured:
        if onnx_model_path is None:
            raise InvalidInput("onnx_model_path", "is required when ONNX is configured")
        if onnx_embeddings_path is None:
            raise InvalidInput("onnx_embeddings_path", "is required when ONNX is configured")
        chain.append(
            OnnxZeroShotAnalyzer(
                onnx_model_path, onnx_embeddings_path, temperature=onnx_temperature
            )
        )
    chain.append(ExifAnalyzer())
    return FallbackAnalyzer(chain)
