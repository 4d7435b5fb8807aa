"""The floors are kept by ``make lint`` (docs/architecture.md): the import contract in
``.importlinter`` and ``scripts/structure_check.py``. These tests feed each a copy of the package
with one break in it and show that the break is reported."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

sys.path.insert(0, str(ROOT / "scripts"))
import structure_check  # noqa: E402


def copy_of_package(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "portti",
        src / "portti",
        ignore=shutil.ignore_patterns("static", "templates", "locale", "__pycache__"),
    )
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return src


def lint_imports(tmp_path: Path, src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tmp_path / ".importlinter")],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("floors")
    return tmp, copy_of_package(tmp)


def test_the_package_keeps_its_floors(package_copy: tuple[Path, Path]) -> None:
    tmp, src = package_copy
    result = lint_imports(tmp, src)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_a_lower_floor_importing_a_higher_one_breaks_the_contract(tmp_path: Path) -> None:
    src = copy_of_package(tmp_path)
    models = src / "portti" / "companies" / "models.py"
    models.write_text(
        models.read_text() + "\nfrom portti.oidc_provider.logins import end_client_logins\n"
    )
    result = lint_imports(tmp_path, src)
    assert result.returncode != 0
    assert "portti.companies.models -> portti.oidc_provider.logins" in result.stdout


def test_the_web_kit_importing_a_domain_breaks_the_contract(tmp_path: Path) -> None:
    src = copy_of_package(tmp_path)
    uow = src / "portti" / "web" / "uow.py"
    uow.write_text(uow.read_text() + "\nfrom portti.companies import policy\n")
    result = lint_imports(tmp_path, src)
    assert result.returncode != 0
    assert "portti.web.uow -> portti.companies.policy" in result.stdout


def test_a_domain_module_importing_a_route_module_breaks_the_contract(tmp_path: Path) -> None:
    src = copy_of_package(tmp_path)
    services = src / "portti" / "devices" / "services.py"
    services.write_text(services.read_text() + "\nimport portti.companies.views\n")
    result = lint_imports(tmp_path, src)
    assert result.returncode != 0
    assert "No domain module imports a route module BROKEN" in result.stdout
    assert "portti.devices.services -> portti.companies.views" in result.stdout


def test_two_packages_importing_each_other_break_the_contract(tmp_path: Path) -> None:
    src = copy_of_package(tmp_path)
    base = src / "portti" / "db" / "base.py"
    # infra imports db (the outbox's tables); db importing infra closes a circle.
    base.write_text(base.read_text() + "\nfrom portti.infra import clock\n")
    result = lint_imports(tmp_path, src)
    assert result.returncode != 0
    assert "No import cycle between packages" in result.stdout
    assert ".db -> .infra" in result.stdout


def test_the_package_has_no_long_module_and_no_hidden_import() -> None:
    assert structure_check.check() == []


def test_a_long_module_and_an_import_in_a_function_are_reported(tmp_path: Path) -> None:
    package = tmp_path / "portti"
    package.mkdir()
    (package / "long.py").write_text("x = 1\n" * 451)
    (package / "hidden.py").write_text(
        "def f():\n"
        "    import json\n"
        "    return json\n"
        "\n"
        "def g():\n"
        "    # Loaded only when asked for: the library is large.\n"
        "    import decimal\n"
        "    return decimal\n"
    )
    findings = structure_check.check(package)
    assert any(f.endswith("long.py: 451 lines (at most 450)") for f in findings)
    assert [f for f in findings if "hidden.py" in f] == [
        "portti/hidden.py:2: import inside a function (say why in a comment above, or move it "
        "to the top)"
    ]
