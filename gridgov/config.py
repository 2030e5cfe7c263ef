"""Settings are data: every field has a default and help text, read from `GRIDGOV_*` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "dev-only-not-a-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDGOV_", env_file=None, extra="ignore")

    env: Literal["dev", "test", "prod"] = Field(
        "dev", description="Deployment kind; `prod` refuses placeholder secrets."
    )
    data_dir: Path = Field(
        Path("var"), description="Folder for the SQLite database, built indexes and uploads."
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL of the store; empty means SQLite at DATA_DIR/gridgov.sqlite. "
        "Production: postgresql+psycopg://user@host/db with PostGIS installed.",
    )
    secret_key: str = Field(
        PLACEHOLDER_SECRET, description="Key that signs sessions and tokens; set it in prod."
    )
    locate_edge_tolerance_m: float = Field(
        100.0,
        ge=0,
        description="Points this far outside every grid (GPS error at the city edge) are answered "
        "with the nearest grid and flagged; farther ones are refused.",
    )
    locate_cell_size_deg: float = Field(
        0.0002, gt=0, description="Cell size of the point-in-grid raster index, in degrees."
    )
    intake_trusted_channels: str = Field(
        "city_management,grid_patrol,iot_sensor",
        description="Comma-separated channels whose reports are filed and dispatched "
        "automatically when their category is certain; others wait for an operator.",
    )
    intake_address_min_confidence: float = Field(
        0.6,
        ge=0,
        le=1,
        description="An address located by the gazetteer below this confidence waits for manual "
        "location instead.",
    )
    intake_auto_file_min_confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="A trusted channel's report is filed automatically only when its category "
        "came from the channel or the classifier is at least this sure. Unset: the classifier's "
        "own threshold, calibrated in training (hotline-linear: 0.95), or 0.8 for the keyword "
        "list, whose confidence was never measured.",
    )
    intake_classifier: str = Field(
        "keyword", description="Name of the registered text classifier intake asks."
    )
    intake_photo_max_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest photo accepted with a report, in bytes."
    )
    intake_batch_size: int = Field(
        500, gt=0, le=10_000, description="Reports stored per transaction by a batched push."
    )
    intake_places: str = Field(
        "gridgov.sim.places:generate_places",
        description="`module:function` giving the roads and POIs of the city for the address "
        "gazetteer, called with the layer's grids; empty for grid names only.",
    )
    gc_young_threshold: int = Field(
        20_000,
        ge=0,
        description="Allocations between young-generation garbage collections once a server has "
        "warmed up (`Runtime.warm_up`); Python's 700 makes a process holding a city's indexes "
        "spend a fifth of intake in the collector. The same warm-up takes middle-generation "
        "passes every 2 young ones and freezes what it built. 0 keeps Python's defaults.",
    )
    timezone: str = Field("Asia/Shanghai", description="Local time zone of the city.")
    host: str = Field("127.0.0.1", description="Address `gridgov serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `gridgov serve` listens on.")

    hotline_callback_url: str = Field(
        "",
        description="Base URL of the 12345 platform's status interface "
        "(POST {url}/orders/{order}/status); empty: no status is sent.",
    )
    hotline_callback_token: str = Field(
        "", description="Bearer token for the 12345 status interface."
    )

    open311_jurisdiction_id: str = Field(
        "gridgov", description="Open311 jurisdiction_id this deployment answers to."
    )
    open311_contact: str = Field(
        "12345 市民服务热线 / the 12345 citizen hotline",
        description="Contact shown in Open311 discovery.",
    )
    open311_reads_per_minute: int = Field(
        120, gt=0, description="Open311 GETs allowed per client address and route per minute."
    )
    open311_posts_per_10_minutes: int = Field(
        10, gt=0, description="Open311 reports allowed per client address per 10 minutes."
    )

    learning_promotion_margin: float = Field(
        0.005,
        ge=0,
        description="A retrained classifier is promoted only if it beats the current one by this "
        "much accuracy on the fixed evaluation set.",
    )
    learning_max_recall_drop: float = Field(
        0.05, ge=0, le=1, description="…and no class's recall drops by more than this."
    )
    learning_min_eval_examples: int = Field(
        50, gt=0, description="Fewest evaluation examples a promotion may be decided on."
    )
    learning_min_per_class: int = Field(
        20, gt=0, description="Labels per class needed before a first urban model is trained."
    )

    serve_workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes `gridgov serve` starts; more than one needs PostgreSQL.",
    )
    worker_sweep_seconds: float = Field(
        60.0, gt=0, description="Seconds between deadline sweeps, for the whole deployment."
    )
    worker_hotline_notify_seconds: float = Field(
        10.0, gt=0, description="Seconds between passes that send case status to 12345."
    )
    worker_retrain_hours: float = Field(
        24.0,
        ge=0,
        description="Hours between retrainings of the classifiers from operators' labels; "
        "0 turns retraining off in the worker.",
    )
    worker_rollup_seconds: float = Field(
        60.0,
        gt=0,
        description="Seconds between passes that bring the analytics rollups up to the event log "
        "and add the coming months' partitions of `cases` (PostgreSQL).",
    )
    worker_lease_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a worker's claim on a job lasts without renewal; a killed "
        "worker's jobs are taken over after this.",
    )
    worker_poll_seconds: float = Field(
        5.0, gt=0, description="Longest a worker sleeps before looking at the job schedule again."
    )

    # HTTP hardening (gridgov/api/hardening.py); rate limits count per worker process.
    api_max_body_bytes: int = Field(
        1024 * 1024,
        gt=0,
        description="Largest request body a JSON or form route accepts, in bytes; larger is 413.",
    )
    api_max_upload_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="Largest multipart upload or channel push (photos travel inline), in bytes.",
    )
    api_sign_in_per_minute: int = Field(
        60, gt=0, description="Sign-in and token requests per client address per minute."
    )
    api_public_reads_per_minute: int = Field(
        600,
        gt=0,
        description="Public grid requests (locate, layers) per client address per minute.",
    )

    # Map tiles: the grid layer as vector tiles, an optional raster base map under it.
    basemap_url: str = Field(
        "",
        description="XYZ or WMTS tile URL template of a base map drawn under the grids, with "
        "{z}, {x} and {y} (e.g. Tianditu's vec_w with your tk key); empty means no base map, "
        "so maps work on an offline network.",
    )
    basemap_attribution: str = Field(
        "", description="Attribution shown with the base map (e.g. 天地图 Tianditu)."
    )
    tiles_cache_tiles: int = Field(
        4096,
        ge=0,
        le=1_000_000,
        description="Encoded grid tiles kept in memory per process (LRU); 0 turns the cache off.",
    )

    # AI insights (docs/ai.md): photo analysis, smart dispatch, the daily briefing.
    ai_image_analyzer: Literal["none", "chat_completions", "onnx"] = Field(
        "none",
        description="What describes a report's photo: none (EXIF facts and the text pipeline), "
        "chat_completions (the vision model at AI_CHAT_URL) or onnx (a local CLIP-style model).",
    )
    ai_chat_url: str = Field(
        "",
        description="Base URL of an OpenAI-compatible chat-completions service with vision "
        "(e.g. Qwen-VL on vLLM: http://10.1.2.3:8000/v1).",
    )
    ai_chat_model: str = Field("", description="Model name asked for at AI_CHAT_URL.")
    ai_chat_api_key: str = Field(
        "", description="Bearer key of AI_CHAT_URL; required outside dev when it is used."
    )
    ai_chat_timeout_seconds: float = Field(
        30.0, gt=0, description="Seconds one model call may take before it is retried."
    )
    ai_onnx_model_path: str = Field(
        "", description="The ONNX image encoder (N×3×H×W float32 → N×D) for the onnx analyzer."
    )
    ai_onnx_embeddings_path: str = Field(
        "", description="The .npz of category codes and text embeddings the encoder is scored on."
    )
    ai_writer_url: str = Field(
        "",
        description="Chat-completions service that rewords the daily briefing; empty: the "
        "template text only.",
    )
    ai_writer_model: str = Field("", description="Model name asked for at AI_WRITER_URL.")
    ai_writer_api_key: str = Field(
        "", description="Bearer key of AI_WRITER_URL (default: AI_CHAT_API_KEY)."
    )
    ai_dispatch_learning: bool = Field(
        True,
        description="Propose departments learned from past dispatches and returns (smart "
        "dispatch); the responsibility list's rules decide where they apply either way.",
    )

    @model_validator(mode="after")
    def _check_ai(self) -> Settings:
        if self.ai_image_analyzer == "chat_completions" and not (
            self.ai_chat_url and self.ai_chat_model
        ):
            raise ValueError(
                "GRIDGOV_AI_CHAT_URL and GRIDGOV_AI_CHAT_MODEL must be set when "
                "GRIDGOV_AI_IMAGE_ANALYZER=chat_completions"
            )
        if self.ai_image_analyzer == "onnx" and not (
            self.ai_onnx_model_path and self.ai_onnx_embeddings_path
        ):
            raise ValueError(
                "GRIDGOV_AI_ONNX_MODEL_PATH and GRIDGOV_AI_ONNX_EMBEDDINGS_PATH must be set when "
                "GRIDGOV_AI_IMAGE_ANALYZER=onnx"
            )
        if self.ai_writer_url and not self.ai_writer_model:
            raise ValueError("GRIDGOV_AI_WRITER_MODEL must be set when GRIDGOV_AI_WRITER_URL is")
        # Photos of residents' streets and the city's figures go to these services: outside a
        # developer's machine they must be called with a real key.
        used = {
            "GRIDGOV_AI_CHAT_API_KEY": self.ai_image_analyzer == "chat_completions",
            "GRIDGOV_AI_WRITER_API_KEY": bool(self.ai_writer_url),
        }
        keys = {
            "GRIDGOV_AI_CHAT_API_KEY": self.ai_chat_api_key,
            "GRIDGOV_AI_WRITER_API_KEY": self.ai_writer_api_key or self.ai_chat_api_key,
        }
        for name, needed in used.items():
            if self.env != "dev" and needed and keys[name] in ("", PLACEHOLDER_SECRET):
                raise ValueError(f"{name} must be set to a real key when GRIDGOV_ENV={self.env}")
        return self

    @field_validator("intake_auto_file_min_confidence", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `GRIDGOV_INTAKE_AUTO_FILE_MIN_CONFIDENCE=` in an env file means "not set", as unset.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("basemap_url")
    @classmethod
    def _basemap_template(cls, value: str) -> str:
        value = value.strip()
        if value and (
            not value.startswith(("http://", "https://", "/"))
            or not all(part in value for part in ("{z}", "{x}", "{y}"))
        ):
            raise ValueError(
                "GRIDGOV_BASEMAP_URL must be an http(s) or /-relative tile URL template with "
                "{z}, {x} and {y}"
            )
        return value

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        # Only a developer's own machine may run on placeholder secrets: a test or production
        # deployment with one would sign with a key anyone can read in the source.
        if self.env != "dev" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError(
                f"GRIDGOV_SECRET_KEY must be set to a real secret when GRIDGOV_ENV={self.env}"
            )
        if self.env != "dev" and self.hotline_callback_url and not self.hotline_callback_token:
            raise ValueError(
                "GRIDGOV_HOTLINE_CALLBACK_TOKEN must be set when GRIDGOV_HOTLINE_CALLBACK_URL is"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gridgov.sqlite').resolve()}"

    @property
    def models_dir(self) -> Path:
        """Classifiers promoted from operators' labels; they win over the shipped ones."""
        return self.data_dir / "models"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def trusted_channels(self) -> frozenset[str]:
        return frozenset(c.strip() for c in self.intake_trusted_channels.split(",") if c.strip())


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
