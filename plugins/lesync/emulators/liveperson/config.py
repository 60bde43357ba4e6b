"""Settings of the LivePerson emulator: data volume and mix, account, API keys."""

from __future__ import annotations

from pydantic import BaseModel, Field


class KeySet(BaseModel):
    """One LivePerson API key ("the 4 strings") plus an OAuth 2.0 client, with or without the
    data permission for conversation history (Data Sources > API in LivePerson)."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str
    oauth2_client_id: str
    oauth2_client_secret: str
    history_permission: bool = True


NO_PERMISSION_KEYSET = KeySet(
    consumer_key="lp-emu-noperm-app-key",
    consumer_secret="lp-emu-noperm-app-secret",
    access_token="lp-emu-noperm-access-token",
    access_token_secret="lp-emu-noperm-token-secret",
    oauth2_client_id="lp-emu-noperm-client",
    oauth2_client_secret="lp-emu-noperm-client-secret",
    history_permission=False,
)


class LivePersonEmulatorConfig(BaseModel):
    """What the emulator serves. Same seed and clock -> byte-identical records."""

    seed: int = 7
    conversations: int = Field(2000, ge=0)
    messaging_share: float = Field(0.5, ge=0, le=1)
    days: float = Field(3, gt=0, description="Seeded conversations start in the `days` before now.")
    now_ms: int | None = Field(None, description="Emulator clock start; real time (minute) if empty.")
    account_id: str = "le12345678"
    consumer_key: str = "lp-emu-app-key-4f1c"
    consumer_secret: str = "lp-emu-app-secret-9b27"
    access_token: str = "lp-emu-access-token-61d0"
    access_token_secret: str = "lp-emu-token-secret-c3a8"
    oauth2_client_id: str = "lp-emu-client-2e5d"
    oauth2_client_secret: str = "lp-emu-client-secret-87f3"
    token_lifetime_s: int = Field(3600, gt=0, description="Bearer token lifetime, emulator clock.")
    partial_share: float = Field(0.02, ge=0, le=1)
    open_share: float = Field(0.05, ge=0, le=1)
    web_unauth_personal_share: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Share of web-site messaging visitors whose name, e-mail and phone come as an "
        "unauthenticated personalInfo SDE (under unAuthSdes, only with v=2).",
    )
    ignore_latest_update_time: bool = Field(
        False,
        description="Messaging search ignores the latestUpdateTime filter (the public docs do not "
        "show it clearly): one reading of an ambiguity; the client must work under both.",
    )
    alternative_enum_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of messaging records spelling enumerations the other documented way "
        "(sentBy agent/consumer, status close/open, audience lower case).",
    )
    timestamp_tolerance_s: int = Field(300, description="OAuth 1.0 timestamp skew allowed (real time).")
    no_permission_keyset: KeySet = NO_PERMISSION_KEYSET

    def main_keyset(self) -> KeySet:
        return KeySet(
            consumer_key=self.consumer_key,
            consumer_secret=self.consumer_secret,
            access_token=self.access_token,
            access_token_secret=self.access_token_secret,
            oauth2_client_id=self.oauth2_client_id,
            oauth2_client_secret=self.oauth2_client_secret,
        )

    def keysets(self) -> list[KeySet]:
        return [self.main_keyset(), self.no_permission_keyset]
