"""The HTML report in a real browser: headless Chromium loads it, every image decodes, the sections are there.

Chromium is a Debian package (``apt-get install chromium``); without a Chromium binary the tests skip.
The report is written from real lm-eval output folders (see ``test_report.py``). A small script added to
a copy of the page records, after the load event, how many images it has and how many failed to
decode (``naturalWidth == 0``) and the section headings; ``--dump-dom`` prints the page with them. A
screenshot (``--screenshot``) must show a page that is not blank.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")
pytest.importorskip("matplotlib")

from test_report import EARLY, LATE, REPO_ROOT, TASK, _run_lm_eval  # noqa: E402

from medzero_eval.report import write_report  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !i.complete || i.naturalWidth === 0; });
  var headings = Array.prototype.map.call(document.querySelectorAll("h1,h2,h3"), function (h) { return h.textContent; });
  var probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({images: images.length, broken: broken.length, headings: headings});
  document.body.appendChild(probe);
});
</script>
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None:
        pytest.skip("no Chromium binary (Debian: apt-get install chromium)")
    return found


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _probe(chromium: str, html_path: Path, tmp: Path) -> dict:
    """Load a copy of ``html_path`` with the probe script; what the probe found after the load event."""
    import json

    probed = html_path.with_name("probed_" + html_path.name)
    probed.write_text(html_path.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = _browser(chromium, tmp / "profile-dom", "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found, f"no probe in the dumped DOM (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">"))


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report over two checkpoints of a real lm-eval run (statuses, reasons, worst and best cases)."""
    tmp = tmp_path_factory.mktemp("browser")
    include = REPO_ROOT / "tasks" / "rarebench"
    _run_lm_eval(tmp / "runs" / "checkpoint-100", "grpo/checkpoint-100", TASK, include, EARLY, tmp, chat=True)
    _run_lm_eval(tmp / "runs" / "checkpoint-200", "grpo/checkpoint-200", TASK, include, LATE, tmp, chat=True)
    out = tmp / "report"
    write_report([tmp / "runs" / "checkpoint-100", tmp / "runs" / "checkpoint-200"], out, title="GRPO run",
                 progress=False)
    return out


def test_every_image_loads_and_the_sections_are_there(chromium: str, report_dir: Path, tmp_path: Path) -> None:
    html_path = report_dir / "report.html"
    # standalone: the page names no file beside it
    assert not re.search(r'src="(?!data:)', html_path.read_text(encoding="utf-8"))
    moved = tmp_path / "alone" / "report.html"  # away from figures/
    moved.parent.mkdir()
    shutil.copy(html_path, moved)
    found = _probe(chromium, moved, tmp_path)
    assert found["images"] == 5 and found["broken"] == 0, found
    assert found["headings"] == [
        "GRPO run", "Checkpoints", f"Task: {TASK}", "Metrics per checkpoint", "Statuses", "Most common failure reasons",
        "Outputs at grpo/checkpoint-100", "Outputs at grpo/checkpoint-200",
    ]


def test_the_probe_sees_a_broken_image(chromium: str, report_dir: Path, tmp_path: Path) -> None:
    """The check can fail: one figure pointed at a missing file is reported broken."""
    broken = tmp_path / "report.html"
    text = (report_dir / "report.html").read_text(encoding="utf-8")
    broken.write_text(re.sub(r'src="data:image/png;base64,[^"]*"', 'src="figures/missing.png"', text, count=1),
                      encoding="utf-8")
    found = _probe(chromium, broken, tmp_path)
    assert found["images"] == 5 and found["broken"] == 1, found


def test_screenshot_shows_the_report(chromium: str, report_dir: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread

    png = report_dir / "report.png"
    done = _browser(chromium, tmp_path / "profile-shot", "--window-size=1280,3000", f"--screenshot={png}",
                    (report_dir / "report.html").as_uri())
    assert png.is_file(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    pixels = imread(str(png))  # RGB(A) floats in [0, 1]
    assert pixels.shape[:2] == (3000, 1280)
    ink = (pixels[..., :3].mean(axis=2) < 0.9).mean()  # share of pixels that are not (near) white
    colours = len({tuple(p) for p in (pixels[::17, ::17, :3] * 255).astype(int).reshape(-1, 3).tolist()})
    assert ink > 0.03 and colours > 50, (ink, colours)
