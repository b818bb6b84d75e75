"""Settings come from INDUNET_* variables and refuse bad values."""

from __future__ import annotations

import pydantic
import pytest

from indunet import core


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDUNET_PORT", "9123")
    monkeypatch.setenv("INDUNET_NEGATIVE_TTL", "7")
    settings = core.Settings()
    assert settings.port == 9123
    assert settings.negative_ttl == 7


def test_base_url_prefers_public_url_and_never_says_0_0_0_0() -> None:
    assert core.Settings(host="0.0.0.0", port=8123).base_url() == "http://127.0.0.1:8123"
    assert (
        core.Settings(public_url="https://ids.example.cn/").base_url() == "https://ids.example.cn"
    )


@pytest.mark.parametrize(
    ("field", "value"), [("cache_size", 1), ("site_timeout", 0), ("cache_max_ttl", -1)]
)
def test_out_of_range_values_are_refused(field: str, value: float) -> None:
    with pytest.raises(pydantic.ValidationError, match=field):
        core.Settings(**{field: value})


def test_a_toml_file_sets_fields_and_the_environment_wins(tmp_path, monkeypatch):
    from indunet.core import Settings

    cfg = tmp_path / "site.toml"
    cfg.write_text('port = 8123\ncache_max_ttl = 60\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("INDUNET_CONFIG", str(cfg))
    monkeypatch.setenv("INDUNET_PORT", "8124")
    s = Settings()
    assert (s.port, s.cache_max_ttl, s.host) == (8124, 60, "0.0.0.0")
