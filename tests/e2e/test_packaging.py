"""What a non-editable install (the container image's) carries: data files included, no dev-only imports."""

import subprocess
import sys
import zipfile

from tests.conftest import ROOT


def test_wheel_carries_the_secret_rules_and_type_marker(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("wardgate-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "wardgate/py.typed",
        "wardgate/scanners/data/gitleaks.toml",
        "wardgate/scanners/data/GITLEAKS_LICENSE",
    } <= names
