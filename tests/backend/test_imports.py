"""What importing the application loads: heavy libraries stay out until a code path needs them."""

import json
import subprocess
import sys

# statsmodels alone is about 170 MiB resident, scipy.stats about 100, scipy.special about 50: the
# engine imports scipy.special where a figure first needs it, so an idle server holds none.
LEFT_OUT = ("statsmodels", "scipy", "sklearn", "pandas")


def test_importing_the_app_leaves_heavy_libraries_out() -> None:
    # A fresh interpreter: this test process has imported them for other tests' oracles.
    script = (
        "import json, sys\n"
        "import backend.app\n"
        f"print(json.dumps([m for m in {LEFT_OUT!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
