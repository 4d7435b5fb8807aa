"""The app's counting texts have the language's plural forms: "1 device", "2 devices" (UX-5)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from portti.i18n import APP_TEXTS, app_texts

COUNTING = ("resends_left", "logged_out_all", "logged_out_all_bank", "wait_seconds")


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_every_counting_text_comes_in_both_forms(language: str) -> None:  # UX-5
    texts = app_texts(language)
    for key in COUNTING:
        assert key not in texts
        assert "{n}" in texts[f"{key}_one"] and "{n}" in texts[f"{key}_other"]


def test_english_and_swedish_say_one_device_and_two_devices() -> None:  # UX-5
    assert "{n} device." in app_texts("en")["logged_out_all_one"]
    assert "{n} devices." in app_texts("en")["logged_out_all_other"]
    assert "{n} enhet." in app_texts("sv")["logged_out_all_one"]
    assert "{n} enheter." in app_texts("sv")["logged_out_all_other"]
    # Finnish takes the singular after a numeral: "1 uuden koodin" / "2 uutta koodia".
    assert app_texts("fi")["resends_left_one"] == "Voit pyytää vielä {n} uuden koodin."


@pytest.mark.skipif(shutil.which("node") is None, reason="Node runs the app's own t()")
@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_the_apps_t_picks_the_form_for_the_count(language: str, tmp_path: Path) -> None:  # UX-5
    """The app's texts.js, run by Node with the server's texts for ``language``, as the phone
    runs it after loadLanguage()."""
    module = tmp_path / "texts.mjs"
    module.write_text(APP_TEXTS.read_text("utf-8"))
    script = tmp_path / "run.mjs"
    script.write_text(
        # The page's <html> element, whose lang setLanguage() sets.
        "globalThis.document = { documentElement: {} };\n"
        "const { CATALOGUES, setLanguage, t } = await import('./texts.mjs');\n"
        f"CATALOGUES[{json.dumps(language)}] = {{ ...CATALOGUES.en, ...{json.dumps(app_texts(language))} }};\n"
        f"setLanguage({json.dumps(language)});\n"
        "console.log(JSON.stringify([1, 2, 5].map((n) => t('logged_out_all', { n }))));\n"
    )
    out = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    one, two, five = json.loads(out)
    texts = app_texts(language)
    assert one == texts["logged_out_all_one"].replace("{n}", "1")
    assert two == texts["logged_out_all_other"].replace("{n}", "2")
    assert five == texts["logged_out_all_other"].replace("{n}", "5")
