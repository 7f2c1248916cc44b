"""Ledger settings, read from the environment (prefix `SHAREFAB_`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LedgerSettings(BaseSettings):
    """`SHAREFAB_PLATFORM_FEE_BPS`: the platform's fee on every release, in basis points."""

    model_config = SettingsConfigDict(env_prefix="SHAREFAB_", extra="ignore")

    platform_fee_bps: int = Field(
        default=500, ge=0, le=10_000, description="Fee kept from each release: 500 = 5 %"
    )


PLATFORM_FEE_BPS: int = LedgerSettings().platform_fee_bps
