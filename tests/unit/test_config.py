from pathlib import Path

import pytest

from dbctl.config import load_settings
from dbctl.errors import ConfigError

pytestmark = pytest.mark.unit


def _project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.dbctl]\n{table}\n")
    nested = tmp_path / "src" / "deep"
    nested.mkdir(parents=True)
    return nested


def test_pyproject_is_found_from_a_subfolder(tmp_path: Path) -> None:
    cwd = _project(tmp_path, 'migrations = "db/migrations"\nmodels = "app.db:Base.metadata"')
    settings = load_settings(cwd=cwd, environ={})
    assert settings.project_root == tmp_path.resolve()
    assert settings.migrations_dir == tmp_path.resolve() / "db" / "migrations"
    assert settings.models == "app.db:Base.metadata"
    assert settings.state_path == tmp_path.resolve() / ".dbctl"
    assert settings.database_url is None


def test_flags_beat_environment_beat_pyproject(tmp_path: Path) -> None:
    cwd = _project(tmp_path, 'migrations = "from_toml"\nlock_timeout = "1s"')
    env = {"DBCTL_MIGRATIONS": "from_env", "DBCTL_LOCK_TIMEOUT": "2s"}
    settings = load_settings({"migrations": Path("from_flag")}, cwd=cwd, environ=env)
    assert settings.migrations == Path("from_flag")
    assert settings.lock_timeout == "2s"


def test_database_url_prefers_dbctl_variable_and_is_kept_as_given(tmp_path: Path) -> None:
    """The URL is checked but kept: the project's env.py gets it in the form it reads."""
    env = {"DATABASE_URL": "postgres://a@h/app", "DBCTL_DATABASE_URL": "postgres://b@h/app"}
    settings = load_settings(cwd=tmp_path, environ=env)
    assert settings.database_url == "postgres://b@h/app"
    settings = load_settings(cwd=tmp_path, environ={"DATABASE_URL": "postgres://a@h/app"})
    assert settings.database_url == "postgres://a@h/app"
    with pytest.raises(ConfigError):
        load_settings(cwd=tmp_path, environ={"DATABASE_URL": "mysql://a@h/app"})


def test_unset_flags_do_not_override(tmp_path: Path) -> None:
    settings = load_settings({"database_url": None}, cwd=tmp_path, environ={})
    assert settings.database_url is None


def test_unknown_setting_is_named(tmp_path: Path) -> None:
    cwd = _project(tmp_path, 'migrashuns = "x"')
    with pytest.raises(ConfigError, match="unknown setting 'migrashuns'"):
        load_settings(cwd=cwd, environ={})


def test_wrong_type_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DBCTL_LOCK_WAIT: lock_wait must be a float"):
        load_settings(cwd=tmp_path, environ={"DBCTL_LOCK_WAIT": "soon"})


def test_broken_toml_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.dbctl\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(cwd=tmp_path, environ={})


def test_lists_from_toml_and_from_comma_separated_environment(tmp_path: Path) -> None:
    cwd = _project(tmp_path, 'drift_ignore = ["public.legacy_*", "column-default:*"]')
    assert load_settings(cwd=cwd, environ={}).drift_ignore == (
        "public.legacy_*",
        "column-default:*",
    )
    env = {"DBCTL_DRIFT_IGNORE": "a.b, c.d"}
    assert load_settings(cwd=cwd, environ=env).drift_ignore == ("a.b", "c.d")
    (tmp_path / "x").mkdir()
    bad = _project(tmp_path / "x", "drift_ignore = 3")
    with pytest.raises(ConfigError, match="drift_ignore must be a list of strings"):
        load_settings(cwd=bad, environ={})


def test_slo_ms_from_toml_environment_and_flag(tmp_path: Path) -> None:
    assert load_settings(cwd=tmp_path, environ={}).slo_ms == 3.0
    cwd = _project(tmp_path, "slo-ms = 1")
    assert load_settings(cwd=cwd, environ={}).slo_ms == 1.0
    assert load_settings(cwd=cwd, environ={"DBCTL_SLO_MS": "2.5"}).slo_ms == 2.5
    assert load_settings({"slo_ms": 5.0}, cwd=cwd, environ={"DBCTL_SLO_MS": "2.5"}).slo_ms == 5.0
    with pytest.raises(ConfigError, match="DBCTL_SLO_MS: slo_ms must be a float, not 'fast'"):
        load_settings(cwd=cwd, environ={"DBCTL_SLO_MS": "fast"})


def test_a_libpq_keyword_string_is_a_database_url(tmp_path: Path) -> None:
    """psql takes 'host=... dbname=...': dbctl takes it from every source, as a URL."""
    env = {"DATABASE_URL": "host=db port=5433 user=app password='p w#' dbname=app"}
    settings = load_settings(cwd=tmp_path, environ=env)
    assert settings.database_url == "postgresql://app:p%20w%23@db:5433/app"


@pytest.mark.parametrize(
    "bad",
    [
        "postgresql://app:S3cr3t/pw@db/app",
        "postgresql://app:S3cr3t%zz@db/app",
        "postgresql://app:S3cr3t@db:notaport/app",
        "host=db password=S3cr3t port=x",
    ],
)
def test_a_bad_database_url_is_refused_without_its_password(tmp_path: Path, bad: str) -> None:
    for source in ({"DATABASE_URL": bad}, {"DBCTL_DATABASE_URL": bad}):
        with pytest.raises(ConfigError) as info:
            load_settings(cwd=tmp_path, environ=source)
        assert "S3cr3t" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_settings({"database_url": bad}, cwd=tmp_path, environ={})
    assert "S3cr3t" not in str(info.value)
