"""Settings are data: every field has a default and help text, read from `GRIDGOV_*` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
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
    intake_auto_file_min_confidence: float = Field(
        0.8,
        ge=0,
        le=1,
        description="A trusted channel's report is filed automatically only when its category "
        "came from the channel or the classifier is at least this sure.",
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

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.env == "prod" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError(
                "GRIDGOV_SECRET_KEY must be set to a real secret when GRIDGOV_ENV=prod"
            )
        if self.env == "prod" and self.hotline_callback_url and not self.hotline_callback_token:
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
