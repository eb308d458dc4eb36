"""Settings of the reports part (`[edge.reports]`): SLAs, retention, PIN lock-out, the data-sharing table, and the
prosecution's endpoint."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from edge.reports.vocabulary import ReportState, ShareScope

DEFAULT_SLA_HOURS: dict[ReportState, float] = {
    ReportState.SUBMITTED: 4.0,
    ReportState.RECEIVED: 24.0,
    ReportState.UNDER_INVESTIGATION: 14 * 24.0,
    ReportState.RETURNED: 48.0,
    ReportState.REFERRED: 30 * 24.0,
}


class AgencyRule(BaseModel):
    """One row of the data-sharing table: which agency users belong to it and what a share lets them see."""

    model_config = ConfigDict(extra="forbid")

    name_ar: str = Field(default="", max_length=120)
    name_en: str = Field(default="", max_length=120)
    sees: ShareScope = ShareScope.PROCEDURE
    users: list[str] = Field(default_factory=list, description="agency_viewer user names of this agency")


class ProsecutionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None, description="the prosecution's referral endpoint (POST); none: referrals wait"
    )
    timeout_s: float = Field(default=10.0, gt=0)
    backoff_base_s: float = Field(default=5.0, gt=0, description="first retry after this; doubled each time")
    backoff_max_s: float = Field(default=900.0, gt=0)
    poll_interval_s: float = Field(
        default=2.0, gt=0, description="how often the delivery worker looks for due referrals"
    )


class ReportsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_code: str = Field(default="MKZ", pattern=r"^[A-Z]{2,5}$", description="first part of every reference")
    types_file: Path | None = Field(
        None, description="TOML catalogue of report types (sample types with --sample-data)"
    )
    sla_hours: dict[ReportState, float] = Field(default_factory=lambda: dict(DEFAULT_SLA_HOURS))
    sla_hours_by_type: dict[str, dict[ReportState, float]] = Field(
        default_factory=dict, description="per report type, overrides sla_hours state by state"
    )
    retention_days: float = Field(
        default=5 * 365.0, gt=0, description="a closed report's personal data is purged after this"
    )
    tick_interval_s: float = Field(default=30.0, gt=0, description="how often SLA breaches and retention are checked")
    pin_slow_after_failures: int = Field(default=3, ge=1)
    pin_lock_after_failures: int = Field(default=6, ge=2)
    pin_lock_minutes: float = Field(default=30.0, gt=0)
    kiosk_verification_window_s: float = Field(
        600.0, gt=0, description="a kiosk files only after a face match this recent"
    )
    max_share_days: int = Field(default=180, ge=1)
    agencies: dict[str, AgencyRule] = Field(
        default_factory=dict, description="the data-sharing table: agency code -> its users and what they see"
    )
    prosecution: ProsecutionSettings = Field(default_factory=lambda: ProsecutionSettings())

    def sla_for(self, report_type: str, state: ReportState) -> float | None:
        by_type = self.sla_hours_by_type.get(report_type, {})
        return by_type.get(state, self.sla_hours.get(state))

    def agency_of(self, username: str) -> tuple[str, AgencyRule] | None:
        for code, rule in self.agencies.items():
            if username in rule.users:
                return code, rule
        return None
